"""Staffing a queue that also makes outbound calls (blending, :mod:`openwfm.queueing.blend`).

A queue with ``outbound_per_hour > 0`` staffs, in every open interval, the least agents that
meet the inbound target (under the threshold policy: an outbound call starts whenever more
than ``outbound_threshold`` agents are idle) AND complete ``outbound_per_hour`` outbound calls
an hour (mean ``outbound_aht_s``, the queue's ``aht_s`` when not given). With
``outbound_threshold`` unset the threshold is the least one meeting the inbound target for
those agents (:func:`openwfm.queueing.blend.blend_staffing`: the most outbound); given, it is
kept and only the agents are searched. Closed intervals (the scenario grid) ask no outbound.
The requirement is never below the inbound-only one (other targets: occupancy, ASA, segments,
redials), and where it is above the blending answer the threshold is the least for it.

Columns added to the requirements table: ``outbound_threshold`` (agents kept idle for
inbound), ``outbound_per_interval`` (asked) and ``expected_outbound_per_interval`` (the
model's outbound calls completed at ``required_agents``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from openwfm.errors import ParameterError
from openwfm.model import Queue, Scenario
from openwfm.queueing.blend import blend_metrics, blend_staffing, least_threshold

OUTBOUND_COLUMNS = ["outbound_threshold", "outbound_per_interval", "expected_outbound_per_interval"]
MAX_AGENTS = 2_000


def with_outbound(
    out: pd.DataFrame, n: np.ndarray, queue: Queue, scenario: Scenario, interval_s: float
) -> pd.DataFrame:
    """``out`` (rows of one queue, ``arrival_rate_per_s`` / ``aht_s`` / ``target_*`` filled)
    with ``required_agents`` raised for the outbound work and the blending model's metrics."""
    lam = out["arrival_rate_per_s"].to_numpy(float)
    aht = out["aht_s"].to_numpy(float)
    target = queue.target
    h_out = queue.outbound_aht_s or queue.aht_s
    patience = np.inf if queue.patience_s is None else queue.patience_s
    starts = pd.to_datetime(out["interval_start"])
    is_open = np.array([scenario.grid.is_open(ts.to_pydatetime()) for ts in starts], dtype=bool)
    asked_per_s = np.where(is_open, queue.outbound_per_hour / 3600.0, 0.0)
    n = np.asarray(n, dtype=np.int64).copy()
    threshold = np.zeros(n.size, dtype=np.int64)
    rows = np.flatnonzero(asked_per_s > 0)
    for i in rows:
        n[i], threshold[i] = _one_interval(
            lam[i], aht[i], h_out, target.within_s, target.service_level, asked_per_s[i],
            patience, int(n[i]), queue.outbound_threshold,
        )  # fmt: skip
    out = out.copy()
    out["outbound_threshold"] = np.where(asked_per_s > 0, threshold, pd.NA)
    out["outbound_per_interval"] = asked_per_s * interval_s
    out["expected_outbound_per_interval"] = 0.0
    out["required_agents"] = n
    if rows.size:
        metrics = blend_metrics(
            lam[rows], aht[rows], h_out, n[rows], threshold[rows], target.within_s,
            patience_s=patience,
        )  # fmt: skip
        key = "service_level_answered" if target.definition.value == "answered" else "service_level"
        model = out["model"].to_numpy(object)
        model[rows] = "blend"
        out["model"] = model
        for column, value in (
            ("expected_service_level", metrics[key]),
            ("expected_asa_s", metrics["asa_s"]),
            ("expected_abandon", metrics["p_abandon"]),
            ("expected_occupancy", metrics["occupancy"]),
        ):
            values = out[column].to_numpy(float).copy()
            values[rows] = value
            out[column] = values
        expected = out["expected_outbound_per_interval"].to_numpy(float).copy()
        expected[rows] = metrics["outbound_per_s"] * interval_s
        out["expected_outbound_per_interval"] = expected
    return out


def _one_interval(lam, aht, h_out, within_s, level, asked_per_s, patience, floor, fixed):
    """(agents, threshold) of one interval: the least agents >= ``floor`` meeting both."""
    if fixed is None:
        agents, threshold = blend_staffing(
            lam, aht, h_out, within_s, level, asked_per_s, patience_s=patience,
            max_agents=MAX_AGENTS,
        )  # fmt: skip
        agents, threshold = int(agents), int(threshold)
        if floor > agents:
            agents = floor
            threshold = least_threshold(lam, aht, h_out, agents, within_s, level, patience)
        return agents, threshold
    agents = max(floor, fixed, 1)
    while agents <= MAX_AGENTS:
        try:
            got = blend_metrics(lam, aht, h_out, agents, fixed, within_s, patience_s=patience)
        except ParameterError:  # no steady state yet: too few agents
            got = None
        if (
            got is not None
            and got["service_level"] >= level - 1e-12
            and got["outbound_per_s"] >= asked_per_s - 1e-12
        ):
            return agents, fixed
        agents += 1
    raise ParameterError(
        f"no staffing up to {MAX_AGENTS} agents meets the inbound target and "
        f"{asked_per_s * 3600:g} outbound calls an hour with threshold {fixed}",
        field="outbound_per_hour",
    )

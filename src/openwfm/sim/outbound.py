"""Outbound work in a simulation (blending): calls made vs the scenario's ask.

The engine (:mod:`openwfm.sim.engine`) starts an outbound call whenever an agent skilled for a
queue with ``outbound_per_hour > 0`` frees up with more than ``outbound_threshold`` such agents
idle; :mod:`openwfm.sim.metrics` counts them (``outbound``: calls started after the warm-up).
The ask is ``outbound_per_hour`` over the open hours of the scenario grid in the measured part
of the horizon.

A queue without a declared ``outbound_threshold`` gets one per interval
(:func:`interval_thresholds`): the least threshold with which the blending model meets the
queue's inbound target for that interval's arrival rate and agents on duty (available
agent-seconds over the interval, an agent split over its skills, rounded down), the rule the
staffing stage uses for its requirement (:mod:`openwfm.staffing.blending`). Where no threshold
meets the target it is the agents on duty: no outbound call starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from openwfm.queueing.blend import least_threshold

if TYPE_CHECKING:
    from openwfm.sim.agents import AvailableSpans
    from openwfm.sim.arrivals import CompiledRates
    from openwfm.sim.build import SimulationModel
    from openwfm.sim.run import PreparedSimulation, SimulationResult

__all__ = ["asked_by_boundary", "interval_thresholds", "outbound_report"]


def asked_by_boundary(
    model: SimulationModel, origin: pd.Timestamp, interval_s: float, n_intervals: int
) -> np.ndarray:
    """float64[n_queues, n_intervals + 1]: outbound calls asked from the start of the horizon
    to each interval boundary, ``outbound_per_hour`` through the open intervals of the grid."""
    grid = model.scenario.grid
    is_open = np.array(
        [
            grid.is_open((origin + pd.Timedelta(seconds=k * interval_s)).to_pydatetime())
            for k in range(n_intervals)
        ],
        dtype=float,
    )
    per_hour = np.array([q.outbound_per_hour for q in model.scenario.queues])
    asked = np.zeros((model.n_queues, n_intervals + 1))
    asked[:, 1:] = np.cumsum(per_hour[:, None] * is_open[None, :] * interval_s / 3600.0, axis=1)
    return asked


def interval_thresholds(
    model: SimulationModel,
    rates: CompiledRates | None,
    availability: AvailableSpans,
    interval_s: float,
    n_intervals: int,
) -> np.ndarray | None:
    """int64[n_queues, n_intervals] thresholds (the declared ones kept), or None when every
    queue with outbound work declares its threshold."""
    from openwfm.errors import ScenarioError
    from openwfm.sim.metrics import available_seconds

    queues = model.scenario.queues
    undeclared = [
        q for q, queue in enumerate(queues)
        if queue.outbound_per_hour > 0 and queue.outbound_threshold is None
    ]  # fmt: skip
    if not undeclared:
        return None
    if rates is None:
        raise ScenarioError(
            "a replayed trace has no arrival rates to choose the threshold from: declare it",
            field=f"queues[{undeclared[0]}].outbound_threshold",
        )
    expected = np.zeros((model.n_queues, n_intervals))
    column = np.clip((rates.start_s // interval_s).astype(np.int64), 0, n_intervals - 1)
    np.add.at(expected, (rates.queue, column), rates.expected)
    edges = np.arange(n_intervals + 1) * interval_s
    on_duty = np.floor(available_seconds(model, availability, edges) / interval_s + 1e-9)
    table = np.repeat(model.queues.outbound_threshold[:, :1], n_intervals, axis=1)
    for q in undeclared:
        queue = queues[q]
        aht = float(model.queues.aht_by_load[q, 0])
        h_out = float(model.queues.outbound_aht_s[q])
        patience = float(model.queues.patience_mean_s[q])
        target = queue.target
        found: dict[tuple[float, int], int] = {}
        for k in range(n_intervals):
            lam, agents = expected[q, k] / interval_s, int(on_duty[q, k])
            if agents == 0:
                table[q, k] = 0
                continue
            key = (round(lam, 12), agents)
            if key not in found:
                least = least_threshold(
                    lam, aht, h_out, agents, target.within_s, target.service_level, patience
                )
                found[key] = agents if least is None else least
            table[q, k] = found[key]
    return table


def outbound_report(prepared: PreparedSimulation, result: SimulationResult) -> pd.DataFrame:
    """One row per queue with outbound work: ``asked`` (calls over the measured open hours),
    ``delivered`` (mean calls started over the replications) with its 95% CI
    (``delivered_ci_low`` / ``_high``); empty without outbound work."""
    scenario = prepared.model.scenario
    grid = scenario.grid
    open_s = 0.0
    for i in range(prepared.n_intervals):
        begin = i * prepared.interval_s
        if begin + prepared.interval_s <= prepared.warmup_s:
            continue
        when = prepared.origin + pd.Timedelta(seconds=begin)
        if grid.is_open(when.to_pydatetime()):
            open_s += prepared.interval_s - max(0.0, prepared.warmup_s - begin)
    rows = []
    summary = result.summary
    for queue in scenario.queues:
        if queue.outbound_per_hour <= 0 or "outbound" not in summary.columns:
            continue
        row = summary[(summary["queue"] == queue.name) & (summary["segment"] == "all")]
        if row.empty:
            continue
        row = row.iloc[0]
        rows.append(
            {
                "queue": queue.name,
                "asked": queue.outbound_per_hour * open_s / 3600.0,
                "delivered": row["outbound"],
                "delivered_ci_low": row["outbound_ci_low"],
                "delivered_ci_high": row["outbound_ci_high"],
            }
        )
    columns = ["queue", "asked", "delivered", "delivered_ci_low", "delivered_ci_high"]
    return pd.DataFrame(rows, columns=columns)

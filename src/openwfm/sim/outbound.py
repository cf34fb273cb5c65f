"""Outbound work in a simulation (blending): calls made vs the scenario's ask.

The engine (:mod:`openwfm.sim.engine`) starts an outbound call whenever an agent skilled for a
queue with ``outbound_per_hour > 0`` frees up with more than ``outbound_threshold`` such agents
idle; :mod:`openwfm.sim.metrics` counts them (``outbound``: calls started after the warm-up).
The ask is ``outbound_per_hour`` over the open hours of the scenario grid in the measured part
of the horizon.
"""

from __future__ import annotations

import pandas as pd

from openwfm.sim.run import PreparedSimulation, SimulationResult

__all__ = ["outbound_report"]


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

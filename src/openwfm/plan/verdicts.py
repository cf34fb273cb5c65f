"""One verdict per queue x block: the plan's coverage verdict beside the simulated verdict.

The coverage verdict of a queue in a block (``block_hours``, blocks from midnight) is *met*
when in every interval of the block the agents scheduled on the queue reach its requirement
and, with skill-set requirements (pools of queues sharing agents, named ``a+b``), every pool
holding the queue reaches the pool's requirement too: under the routing policy's
first-come-first-served order across a pool's queues, a pool short of agents makes all its
queues wait. The simulated verdict is *met* when the block's service level (the mean over the
replications, weighted by offered contacts) reaches the target less ``tolerance`` (simulation
noise over a block), and its abandonment stays within ``max_abandon`` plus ``tolerance``.

Where the two differ, ``why`` says why: the coverage is short but the simulated center meets
the target (``pooled agents carry it``: blended agents take whichever contact waits; or the
requirement has slack), or the coverage meets the requirement but the simulated center misses
(:class:`openwfm.plan.findings.MissCause` ``routing / model gap``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from openwfm.model import Scenario
from openwfm.plan.findings import MissCause

POOL_SEPARATOR = "+"
SHORT_BUT_MET = "coverage short, simulated met: pooled agents carry it"


def _block(times: pd.Series, block_hours: int) -> pd.Series:
    return pd.to_datetime(times).dt.floor(f"{block_hours}h")


def coverage_verdicts(coverage: pd.DataFrame, block_hours: int = 2) -> pd.DataFrame:
    """Per queue x block: ``covered`` (bool) from a schedule's coverage table (``interval_start,
    queue, required, scheduled, under``; pool rows named ``a+b`` apply to each member)."""
    table = coverage.copy()
    table["short"] = table["under"] > 0
    names = table["queue"].astype(str)
    rows = []
    for name, part in table.groupby(names):
        for queue in str(name).split(POOL_SEPARATOR):
            rows.append(part.assign(queue=queue, pool=str(name)))
    table = pd.concat(rows, ignore_index=True) if rows else table.assign(pool=[])
    table["block"] = _block(table["interval_start"], block_hours)
    grouped = table.groupby(["queue", "block"]).agg(
        required=("required", "max"), short=("short", "any")
    )
    grouped["covered"] = ~grouped["short"]
    return grouped.reset_index()[["queue", "block", "required", "covered"]]


def simulated_verdicts(
    scenario: Scenario, intervals: pd.DataFrame, block_hours: int = 2, tolerance: float = 0.02
) -> pd.DataFrame:
    """Per queue x block: ``met`` (bool), ``service_level`` and ``offered`` from the simulated
    interval KPIs (queue-level rows; blocks without offered contacts are left out)."""
    kpis = intervals[intervals["queue"].astype(str) != "all"]
    if "segment" in kpis.columns:  # the queue's row over all its segments
        kpis = kpis[kpis["segment"].astype(str) == "all"]
    kpis = kpis.assign(
        block=_block(kpis["interval_start"], block_hours),
        weight=kpis["offered"].fillna(0.0),
    )
    kpis = kpis[kpis["weight"] > 0]
    rows = []
    for (queue, block), part in kpis.groupby(["queue", "block"]):
        target = scenario.queue(str(queue)).target
        weight = part["weight"].to_numpy(float)
        level = float(np.average(part["service_level"].fillna(0.0), weights=weight))
        met = level >= target.service_level - tolerance
        if target.max_abandon is not None and "abandon_rate" in part.columns:
            abandon = float(np.average(part["abandon_rate"].fillna(0.0), weights=weight))
            met &= abandon <= target.max_abandon + tolerance
        rows.append(
            {
                "queue": str(queue),
                "block": block,
                "service_level": level,
                "offered": float(weight.sum()),
                "met": bool(met),
            }
        )
    return pd.DataFrame(rows, columns=["queue", "block", "service_level", "offered", "met"])


def verdict_table(
    scenario: Scenario,
    coverage: pd.DataFrame,
    intervals: pd.DataFrame,
    block_hours: int = 2,
    tolerance: float = 0.02,
) -> pd.DataFrame:
    """Per queue x block with contacts: the coverage verdict, the simulated verdict, whether
    they agree and, where not, why."""
    plan = coverage_verdicts(coverage, block_hours)
    simulated = simulated_verdicts(scenario, intervals, block_hours, tolerance)
    table = simulated.merge(plan, on=["queue", "block"], how="left")
    table["covered"] = table["covered"].fillna(False).astype(bool)
    table["agree"] = table["covered"] == table["met"]
    table["why"] = np.where(
        table["agree"],
        "",
        np.where(table["covered"], str(MissCause.ROUTING_GAP), SHORT_BUT_MET),
    )
    return table


def agreement(table: pd.DataFrame) -> float:
    """Share of queue x blocks whose coverage and simulated verdicts agree (1.0 when none)."""
    return float(table["agree"].mean()) if len(table) else 1.0

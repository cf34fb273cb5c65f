"""One verdict per queue x block: the plan's coverage verdict beside the simulated verdict.

The coverage verdict of a queue in a block (``block_hours``, blocks from midnight) is *met*
when the agents scheduled on the queue carry its target over the block and, with skill-set
requirements (pools of queues sharing agents, named ``a+b``), every pool holding the queue
carries it too: under the routing policy's first-come-first-served order across a pool's
queues, a pool short of agents makes all its queues wait. "Carry" is judged with the model the
requirement came from when the requirement rows give ``arrival_rate_per_s`` and ``aht_s``:
the service level of the scheduled agents (Erlang A with the queue's patience, Erlang C
without; a pool as its merged queue against its strictest member's target; chat and deferred
queues, which no Erlang model describes, by the counts), weighted by the
contacts of each interval, reaches the target less ``tolerance`` -- the same measure as the
simulated verdict, so one interval one agent short inside a block of surplus is not a miss.
Without rates: every interval of the block reaches its requirement.

The simulated verdict is *met* when the block's service level (the mean over the
replications, weighted by offered contacts) reaches the target, or its 95% confidence interval
does (at least ``tolerance``): as :mod:`openwfm.plan.findings` has it, a shortfall within the
interval is simulation noise and forecast uncertainty, not a miss; abandonment likewise against
``max_abandon``.

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
from openwfm.staffing.skill_sets import poolable

POOL_SEPARATOR = "+"
SHORT_BUT_MET = "coverage short, simulated met: pooled agents carry it"


def _block(times: pd.Series, block_hours: int) -> pd.Series:
    return pd.to_datetime(times).dt.floor(f"{block_hours}h")


def coverage_verdicts(
    coverage: pd.DataFrame,
    block_hours: int = 2,
    *,
    scenario: Scenario | None = None,
    requirements: pd.DataFrame | None = None,
    tolerance: float = 0.02,
) -> pd.DataFrame:
    """Per queue x block: ``covered`` (bool) from a schedule's coverage table (``interval_start,
    queue, required, scheduled, under``; pool rows named ``a+b`` apply to each member).
    ``requirements`` (``interval_start, queue, arrival_rate_per_s, aht_s``; pools as queues):
    judge by the service level of the scheduled agents (module doc)."""
    table = coverage.copy()
    table["short"] = table["under"] > 0
    if scenario is not None and requirements is not None:
        table = _modelled(table, scenario, requirements)
        table["weight"] = table["weight"].fillna(0.0)
    else:
        table["level"], table["weight"], table["goal"] = np.nan, 0.0, np.nan
    names = table["queue"].astype(str)
    rows = []
    for name, part in table.groupby(names):
        for queue in str(name).split(POOL_SEPARATOR):
            rows.append(part.assign(queue=queue, pool=str(name)))
    table = pd.concat(rows, ignore_index=True)
    table["block"] = _block(table["interval_start"], block_hours)
    out = []
    for (queue, block), part in table.groupby(["queue", "block"]):
        covered = True
        for _, one in part.groupby("pool"):
            weight = one["weight"].to_numpy(float)
            if weight.sum() > 0:
                level = float(np.average(one["level"].fillna(0.0), weights=weight))
                covered &= level >= float(one["goal"].max()) - tolerance
            else:
                covered &= not bool(one["short"].any())
        out.append(
            {
                "queue": queue,
                "block": block,
                "required": int(part["required"].max()),
                "covered": bool(covered),
            }
        )
    return pd.DataFrame(out, columns=["queue", "block", "required", "covered"])


def _modelled(table: pd.DataFrame, scenario: Scenario, requirements: pd.DataFrame):
    """``level``: the service level of the scheduled agents per row; ``weight``: contacts per
    second; ``goal``: the service-level target (a pool: its strictest member's)."""
    from openwfm.queueing import erlang_a

    rows = requirements
    if "pool" in rows.columns:  # per-queue rows and pool rows in one table
        names = rows["pool"] if "queue" not in rows.columns else rows["queue"]
        rows = rows.assign(queue=names.fillna(rows["pool"])).drop(columns="pool")
    rows = rows.assign(interval_start=pd.to_datetime(rows["interval_start"]))
    keep = rows[["interval_start", "queue", "arrival_rate_per_s", "aht_s"]]
    keep = keep.drop_duplicates(["interval_start", "queue"])
    table = table.assign(interval_start=pd.to_datetime(table["interval_start"]))
    table = table.merge(keep, on=["interval_start", "queue"], how="left")
    table["weight"] = table["arrival_rate_per_s"]
    levels = np.full(len(table), np.nan)
    goals = np.full(len(table), np.nan)
    for name, index in table.groupby(table["queue"].astype(str)).groups.items():
        members = [scenario.queue(q) for q in name.split(POOL_SEPARATOR)]
        if not all(poolable(q) for q in members):
            table.loc[index, "weight"] = np.nan  # chat, deferred: judged by the counts
            continue
        patience = [q.patience_s for q in members]
        mean_patience = np.inf if None in patience else float(np.mean(patience))
        within = min(q.target.within_s for q in members)
        part = table.loc[index]
        lam = part["arrival_rate_per_s"].fillna(0.0).to_numpy(float)
        aht = part["aht_s"].fillna(members[0].aht_s).to_numpy(float)
        agents = part["scheduled"].to_numpy(float)
        with np.errstate(all="ignore"):
            metrics = erlang_a(lam, aht, mean_patience, agents, within)
        position = table.index.get_indexer(index)
        levels[position] = np.nan_to_num(np.atleast_1d(metrics.service_level))
        goals[position] = max(q.target.service_level for q in members)
    table["level"], table["goal"] = levels, goals
    return table


def _block_mean(
    part: pd.DataFrame, metric: str, weight: np.ndarray, within_ci: bool = True
) -> tuple[float, float]:
    """A block's mean of ``metric`` weighted by contacts, and its 95% half-width from the
    intervals' (independent intervals: ``sqrt(sum (w h)^2) / sum w``; 0 without CI columns)."""
    values = part[metric].fillna(0.0).to_numpy(float)
    mean = float(np.average(values, weights=weight))
    high, low = f"{metric}_ci_high", f"{metric}_ci_low"
    if not within_ci or high not in part.columns or low not in part.columns:
        return mean, 0.0
    halves = np.nan_to_num((part[high] - part[low]).to_numpy(float) / 2.0)
    return mean, float(np.sqrt(np.sum((weight * halves) ** 2)) / weight.sum())


def simulated_verdicts(
    scenario: Scenario,
    intervals: pd.DataFrame,
    block_hours: int = 2,
    tolerance: float = 0.02,
    within_ci: bool = True,
) -> pd.DataFrame:
    """Per queue x block: ``met`` (bool), ``service_level`` and ``offered`` from the simulated
    interval KPIs (queue-level rows; blocks without offered contacts are left out).
    ``within_ci=False``: the mean alone against the target less ``tolerance`` (stricter)."""
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
        level, half = _block_mean(part, "service_level", weight, within_ci)
        met = level + max(tolerance, half) >= target.service_level
        if target.max_abandon is not None and "abandon_rate" in part.columns:
            abandon, half = _block_mean(part, "abandon_rate", weight, within_ci)
            met &= abandon - max(tolerance, half) <= target.max_abandon
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
    requirements: pd.DataFrame | None = None,
    within_ci: bool = True,
) -> pd.DataFrame:
    """Per queue x block with contacts: the coverage verdict, the simulated verdict, whether
    they agree and, where not, why. ``requirements``: see :func:`coverage_verdicts`;
    ``within_ci``: see :func:`simulated_verdicts`."""
    plan = coverage_verdicts(
        coverage, block_hours, scenario=scenario, requirements=requirements, tolerance=tolerance
    )
    simulated = simulated_verdicts(scenario, intervals, block_hours, tolerance, within_ci)
    table = simulated.merge(plan, on=["queue", "block"], how="left")
    table["covered"] = table["covered"].eq(True)
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

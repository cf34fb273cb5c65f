"""One verdict per queue x block: the plan's coverage verdict beside the simulated verdict.

The coverage verdict of a queue in a block (``block_hours``, blocks from midnight) is *met*
when the agents scheduled on the queue carry its target over the block and, with skill-set
requirements (pools of queues sharing agents, named ``a+b``), every pool holding the queue
carries it too: under the routing policy's first-come-first-served order across a pool's
queues, a pool short of agents makes all its queues wait. "Carry" is judged with the model the
requirement came from (:mod:`openwfm.staffing.skill_sets`) when the requirement rows give
``arrival_rate_per_s`` and ``aht_s``: the service level of the scheduled agents (less the
shrinkage the schedule planned for), weighted by the contacts of each interval, reaches the
target less ``tolerance`` -- the same measure as the simulated verdict, so one interval one
agent short inside a block of surplus is not a miss. A queue or pool with live one-at-a-time
members: Erlang A (Erlang C without patience) of its merged queue (deferred members' contacts
included) against its strictest live member's target, on the agents its chat members' own
requirements leave; else with chat members: the chat model on the agents its deferred members'
own requirements leave. Deferred work alone, and any row without rates, is judged by the
counts over the block: the agent-intervals scheduled reach those required (deferred work
moves within its deadline).

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

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from openwfm.model import Scenario
from openwfm.plan.findings import MissCause
from openwfm.staffing.skill_sets import poolable

if TYPE_CHECKING:
    from openwfm.plan.pipeline import PlanResult

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
    shrinkage: float = 0.0,
) -> pd.DataFrame:
    """Per queue x block: ``covered`` (bool) from a schedule's coverage table (``interval_start,
    queue, required, scheduled, under``; pool rows named ``a+b`` apply to each member).
    ``requirements`` (``interval_start, queue, arrival_rate_per_s, aht_s``; pools as queues):
    judge by the service level of the scheduled agents (module doc), of whom ``shrinkage``
    (0..1, the share the schedule planned for: its requirement was grossed up by ``1 / (1 -
    shrinkage)``) is away."""
    table = coverage.copy()
    table["short"] = table["under"] > 0
    if scenario is not None and requirements is not None:
        table = _modelled(table, scenario, requirements, shrinkage)
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
            else:  # the block's agent-intervals carry its requirement (module doc)
                covered &= bool(one["scheduled"].sum() >= one["required"].sum())
        out.append(
            {
                "queue": queue,
                "block": block,
                "required": int(part["required"].max()),
                "covered": bool(covered),
            }
        )
    return pd.DataFrame(out, columns=["queue", "block", "required", "covered"])


def _modelled(
    table: pd.DataFrame, scenario: Scenario, requirements: pd.DataFrame, shrinkage: float = 0.0
):
    """``level``: the service level of the scheduled agents per row; ``weight``: contacts per
    second; ``goal``: the service-level target (a pool: its strictest live member's). Rows
    with no live model (deferred work alone) get no weight: judged by the counts."""
    rows = requirements
    if "pool" in rows.columns:  # per-queue rows and pool rows in one table
        names = rows["pool"] if "queue" not in rows.columns else rows["queue"]
        rows = rows.assign(queue=names.fillna(rows["pool"])).drop(columns="pool")
    rows = rows.assign(interval_start=pd.to_datetime(rows["interval_start"]))
    rows = rows.drop_duplicates(["interval_start", "queue"])
    keep = rows[["interval_start", "queue", "arrival_rate_per_s", "aht_s"]]
    table = table.assign(interval_start=pd.to_datetime(table["interval_start"]))
    table = table.merge(keep, on=["interval_start", "queue"], how="left")
    table["weight"] = table["arrival_rate_per_s"]
    if "required_agents" in rows.columns:
        own = rows.pivot(index="interval_start", columns="queue", values="required_agents")
    else:  # no requirements to leave to other members
        own = pd.DataFrame(index=pd.DatetimeIndex([], name="interval_start"))
    levels = np.full(len(table), np.nan)
    goals = np.full(len(table), np.nan)
    for name, index in table.groupby(table["queue"].astype(str)).groups.items():
        part = table.loc[index]
        judged = _pool_level(part, str(name), scenario, own, rows, shrinkage)
        if judged is None:
            table.loc[index, "weight"] = np.nan  # deferred work alone: judged by the counts
            continue
        position = table.index.get_indexer(index)
        levels[position], goals[position], weight = judged
        table.loc[index, "weight"] = weight
    table["level"], table["goal"] = levels, goals
    return table


def _pool_level(part, name, scenario, own, rows, shrinkage):
    """(service level per row, goal, contacts per second) of one queue or pool on the model
    its requirement came from (:mod:`openwfm.staffing.skill_sets`): the merged queue of its
    live one-at-a-time and deferred members on the agents its chat members' own requirements
    leave; else the chat model on the agents its deferred members' own requirements leave;
    None for deferred work alone."""
    from openwfm.staffing.skill_sets import is_deferred

    members = [scenario.queue(q) for q in name.split(POOL_SEPARATOR)]
    single = [q for q in members if poolable(q)]
    deferred = [q for q in members if is_deferred(q)]
    chats = [q for q in members if q not in single and q not in deferred]
    starts = pd.DatetimeIndex(part["interval_start"])
    agents = part["scheduled"].to_numpy(float) * (1.0 - shrinkage)

    def others(queues) -> np.ndarray:
        names = [q.name for q in queues if q.name in own.columns]
        return own.reindex(index=starts, columns=names).fillna(0.0).to_numpy(float).sum(axis=1)

    if single:
        lam = part["arrival_rate_per_s"].fillna(0.0).to_numpy(float)
        aht = part["aht_s"].fillna(single[0].aht_s).to_numpy(float)
        left = np.maximum(agents - others(chats), 0.0)
        return (
            _erlang_level(single, lam, aht, left),
            max(q.target.service_level for q in single),
            lam,
        )
    if chats:  # live first: chat on every agent; deferred work on what chat leaves
        level, goal, lam = _chat_level(chats, starts, rows, agents)
        if deferred:  # chats stacked to full concurrency; the deferred work by its deadline
            level = np.where(
                _late(part, agents - _stacked_chat(chats, starts, rows), others(deferred)),
                0.0,
                level,
            )
        return level, goal, lam
    return None


def _late(part: pd.DataFrame, capacity: np.ndarray, due: np.ndarray) -> np.ndarray:
    """Per row: has the deferred work due so far (its own requirement, the deadline model's
    latest schedule, summed from the horizon's start) outgrown the capacity so far (agents
    the live work leaves)? Work done earlier than its latest schedule is on time too."""
    order = np.argsort(part["interval_start"].to_numpy(), kind="stable")
    behind = np.empty(len(order), dtype=bool)
    behind[order] = np.cumsum((capacity - due)[order]) < -1e-9
    return behind


def _erlangs(queues, starts, rows) -> np.ndarray:
    """The offered load (Erlangs: arrival rate x handle time) of ``queues`` per start."""
    names = [q.name for q in queues]
    mine = rows[rows["queue"].astype(str).isin(names)]
    load = mine.assign(load=mine["arrival_rate_per_s"] * mine["aht_s"])
    wide = load.pivot(index="interval_start", columns="queue", values="load")
    return wide.reindex(starts).fillna(0.0).to_numpy(float).sum(axis=1)


def _stacked_chat(chats, starts, rows) -> np.ndarray:
    """Agents the chats occupy when stacked to full concurrency (chats in progress / lines):
    with a deferred backlog every agent free of chats takes deferred work, so new chats go to
    the agents already chatting (the least loaded of those with a free line)."""
    return sum(_erlangs([q], starts, rows) / q.max_concurrency for q in chats)


def _erlang_level(single, lam, aht, agents) -> np.ndarray:
    from openwfm.queueing import erlang_a

    patience = [q.patience_s for q in single]
    mean_patience = np.inf if None in patience else float(np.mean(patience))
    within = min(q.target.within_s for q in single)
    with np.errstate(all="ignore"):
        metrics = erlang_a(lam, aht, mean_patience, agents, within)
    return np.nan_to_num(np.atleast_1d(metrics.service_level))


def _chat_level(chats, starts, rows, agents):
    """The chat model (:func:`openwfm.queueing.birthdeath.chat_metrics`) of the chat members'
    contacts on ``agents`` (rounded), their handle times scaled as staffing scales them."""
    from openwfm.queueing.birthdeath import chat_metrics
    from openwfm.staffing.single_skill import recorded_aht_s

    queue = chats[0]
    names = [q.name for q in chats]
    mine = rows[rows["queue"].astype(str).isin(names)]
    lam = mine.pivot(index="interval_start", columns="queue", values="arrival_rate_per_s")
    lam = lam.reindex(starts).fillna(0.0).to_numpy(float).sum(axis=1)
    aht = mine[mine["queue"].astype(str) == queue.name].set_index("interval_start")["aht_s"]
    scale = aht.reindex(starts).fillna(recorded_aht_s(queue)).to_numpy(float)
    scale = scale / recorded_aht_s(queue)
    levels = queue.aht_s_by_concurrency or [queue.aht_s] * queue.max_concurrency
    out = np.ones(len(starts))
    whole = np.floor(agents + 0.5).astype(np.int64)
    for factor in np.unique(scale):
        at = np.flatnonzero(scale == factor)
        with np.errstate(all="ignore"):  # an overloaded interval's level is 0
            metrics = chat_metrics(
                lam[at],
                np.asarray(levels) * factor,
                whole[at],
                queue.target.within_s,
                queue.patience_s,
            )
        out[at] = np.nan_to_num(metrics["service_level"])
    return out, max(q.target.service_level for q in chats), lam


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
    shrinkage: float = 0.0,
) -> pd.DataFrame:
    """Per queue x block with contacts: the coverage verdict, the simulated verdict, whether
    they agree and, where not, why. ``requirements``, ``shrinkage``: see
    :func:`coverage_verdicts`; ``within_ci``: see :func:`simulated_verdicts`."""
    plan = coverage_verdicts(
        coverage,
        block_hours,
        scenario=scenario,
        requirements=requirements,
        tolerance=tolerance,
        shrinkage=shrinkage,
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


def plan_verdicts(scenario: Scenario, result: PlanResult, block_hours: int = 2) -> pd.DataFrame:
    """The verdict table (:func:`verdict_table`) of a simulated plan: its coverage against its
    per-queue and pool requirements, judged with the shrinkage its schedule planned for."""
    needs = result.requirements
    pools = result.pool_requirements
    if pools is not None and len(pools):
        needs = pd.concat([needs, pools.rename(columns={"pool": "queue"})], ignore_index=True)
    shrinkage = result.shrinkage.schedule if result.shrinkage is not None else 0.0
    return verdict_table(
        scenario,
        result.schedule.coverage,
        result.simulation,
        block_hours,
        requirements=needs,
        shrinkage=shrinkage,
    )


def coverage_by_queue_and_pool(coverage: pd.DataFrame) -> pd.DataFrame:
    """Per queue and per pool (``a+b``) of a coverage table: required and scheduled
    agent-intervals, those under and over, and the intervals short."""
    names = coverage["queue"].astype(str)
    table = coverage.assign(
        kind=np.where(names.str.contains(POOL_SEPARATOR, regex=False), "pool", "queue"),
        short=coverage["under"] > 0,
    )
    out = table.groupby(["kind", "queue"], as_index=False, sort=False).agg(
        required=("required", "sum"),
        scheduled=("scheduled", "sum"),
        under=("under", "sum"),
        over=("over", "sum") if "over" in table.columns else ("under", "size"),
        intervals_short=("short", "sum"),
    )
    if "over" not in table.columns:
        out = out.drop(columns="over")
    return out.sort_values(["kind", "queue"], ascending=[False, True], ignore_index=True)

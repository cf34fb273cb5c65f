"""The simulation-based correction of skill-set requirements (Cezik & L'Ecuyer 2008's loop).

The analytic pool requirements of :mod:`openwfm.staffing.skill_sets` are approximations (a
merged queue, channel blending as work conservation). :func:`correct_by_simulation` checks each
pool alone with the simulator and raises it where a member misses; :func:`raise_where_missed`
does the same on a whole simulated schedule (re-schedule against the result).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from openwfm.model import Scenario
from openwfm.staffing.skill_sets import POOL_COLUMNS, pool_members


def correct_by_simulation(
    pools: pd.DataFrame,
    per_queue: pd.DataFrame,
    scenario: Scenario,
    *,
    rounds: int = 3,
    replications: int = 10,
    seed: int = 0,
    tolerance: float = 0.03,
) -> pd.DataFrame:
    """``pools`` with each pool's requirement raised where the simulated pool misses a member's
    service-level target (module doc); ``correction`` counts the agents added per interval."""
    out = []
    for name, rows in pools.groupby("pool", sort=False):
        rows = rows.sort_values("interval_start").reset_index(drop=True)
        members = pool_members(str(name))
        for round_index in range(rounds):
            missed = simulated_misses(
                rows, per_queue, scenario, members, replications, seed, tolerance
            )
            if not missed.any():
                break
            rows.loc[missed, "required_agents"] += 1
            rows.loc[missed, "correction"] += 1
            seed += round_index + 1
        rows["scheduled_agents"] = np.ceil(
            rows["required_agents"] / (1.0 - scenario.shrinkage) - 1e-9
        ).astype(np.int64)
        out.append(rows)
    if not out:
        return pools.copy()
    return pd.concat(out, ignore_index=True)[POOL_COLUMNS]


def pool_scenario(scenario: Scenario, members: tuple[str, ...], size: int) -> Scenario:
    """The pool alone: its member queues, ``size`` agents skilled for every member."""
    from openwfm.model import AgentGroup

    queues = [scenario.queue(q).model_copy(update={"demand": None}) for q in members]
    group = AgentGroup(name="pool", count=max(size, 1), skills=dict.fromkeys(members, 1.0))
    # without segments every contact has one priority: best_skilled is first come, first
    # served, as longest_idle (which needs no a-team segments)
    routing = scenario.routing.model_copy(
        update={"policy": "longest_idle", "a_team_segments": [], "escalation": []}
    )
    return scenario.model_copy(
        update={
            "queues": queues,
            "segments": [],
            "agents": [],
            "agent_groups": [group],
            "routing": routing,
            "schedule": None,
            "shrinkage": 0.0,
        }
    )


def simulated_misses(
    rows: pd.DataFrame,
    per_queue: pd.DataFrame,
    scenario: Scenario,
    members: tuple[str, ...],
    replications: int = 10,
    seed: int = 0,
    tolerance: float = 0.03,
) -> np.ndarray:
    """Per row of ``rows`` (one pool, by interval): does some member's simulated service level
    (mean over the replications) miss its target by more than ``tolerance`` with
    ``required_agents`` agents?"""
    from openwfm.sim import simulate

    starts = pd.DatetimeIndex(rows["interval_start"])
    rates = per_queue[per_queue["queue"].astype(str).isin(members)][
        ["interval_start", "queue", "arrival_rate_per_s"]
    ]
    counts = pd.DataFrame({"interval_start": starts, "agents": rows["required_agents"]})
    sub = pool_scenario(scenario, members, int(rows["required_agents"].max()))
    result = simulate(
        sub,
        rates=rates.reset_index(drop=True),
        schedule=counts,
        replications=replications,
        seed=seed,
        scheduler="sync",
    )
    kpis = result.intervals.drop_duplicates(["queue", "interval_start"])
    missed = np.zeros(len(rows), dtype=bool)
    position = {ts: i for i, ts in enumerate(starts)}
    for record in kpis.itertuples(index=False):
        queue = str(record.queue)
        if queue not in members or record.interval_start not in position:
            continue
        target = scenario.queue(queue).target.service_level
        level = float(record.service_level)
        if record.offered > 0 and np.isfinite(level) and level < target - tolerance:
            missed[position[record.interval_start]] = True
    return missed


def raise_where_missed(
    table: pd.DataFrame,
    intervals: pd.DataFrame,
    scenario: Scenario,
    tolerance: float = 0.02,
    summary: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, int]:
    """The simulation-based correction on a whole schedule (Cezik & L'Ecuyer's loop): one
    more agent in each interval where the simulated schedule (``intervals``:
    :func:`openwfm.sim.simulate`'s KPIs) clearly misses a queue's service level or its
    ``max_abandon`` (the 95% interval beyond the target; without intervals in the table, the
    mean beyond it by more than ``tolerance``; a segment with its own target is judged against
    it), for that queue's own row (a per-queue table, column
    ``queue``) or every pool holding it (a pool table, column ``pool``); re-schedule against
    the result. ``summary`` (the simulation's summary, per queue x segment over the whole
    horizon): a queue or segment that clearly misses over the horizon (its 95% interval beyond
    the target) is raised in every interval where its simulated mean misses, clearly or not (a
    small deficit spread over many intervals, each too noisy to call, still misses the week).
    Raising the pools too matters: a blended agent counts fully toward its
    queue's own row, so that row alone rarely buys the missing capacity. Returns the raised
    table and the number of agent-intervals added."""
    missed = _missed(intervals, scenario, tolerance, _weekly_misses(summary, scenario))
    out = table.copy()
    key = "pool" if "pool" in out.columns else "queue"
    names = out[key].astype(str).map(pool_members)
    keys = zip(names, pd.to_datetime(out["interval_start"]), strict=True)
    hit = np.array([any((q, ts) in missed for q in qs) for qs, ts in keys], dtype=bool)
    out.loc[hit, "required_agents"] = out.loc[hit, "required_agents"] + 1
    if "correction" in out.columns:
        out.loc[hit, "correction"] = out.loc[hit, "correction"] + 1
    if "scheduled_agents" in out.columns:
        out["scheduled_agents"] = np.ceil(
            out["required_agents"] / (1.0 - scenario.shrinkage) - 1e-9
        ).astype(np.int64)
    return out, int(hit.sum())


def _own_target(scenario: Scenario, queue: str, segment: str):
    """The target a KPI row of ``queue`` x ``segment`` is judged by: the queue's for ``all``, a
    segment's own where it has one; None for a segment without one (its queue's row judges)."""
    if segment == "all":
        return scenario.queue(queue).target
    if any(s.name == segment and queue in s.targets for s in scenario.segments):
        return scenario.target_for(queue, segment)
    return None


def _short(record, target, tolerance: float, clearly: bool) -> bool:
    """Does a KPI row miss ``target``: clearly (its whole 95% interval beyond the target when
    the KPIs have one, else the mean beyond it by more than ``tolerance``), or by its mean?"""
    if clearly:
        level = getattr(record, "service_level_ci_high", record.service_level + tolerance)
        abandon = getattr(record, "abandon_rate_ci_low", record.abandon_rate - tolerance)
    else:
        level, abandon = record.service_level, record.abandon_rate
    short = bool(level < target.service_level)
    if target.max_abandon is not None:
        short |= bool(abandon > target.max_abandon)
    return short


def _weekly_misses(summary: pd.DataFrame | None, scenario: Scenario) -> set:
    """(queue, segment) whose horizon-wide KPIs clearly miss their target."""
    if summary is None:
        return set()
    found = set()
    for record in summary[summary["queue"].astype(str) != "all"].itertuples(index=False):
        queue, segment = str(record.queue), str(getattr(record, "segment", "all"))
        target = _own_target(scenario, queue, segment)
        if target is not None and record.offered > 0 and _short(record, target, 0.0, True):
            found.add((queue, segment))
    return found


def _missed(
    intervals: pd.DataFrame, scenario: Scenario, tolerance: float, weekly: set | None = None
) -> set:
    """(queue, interval start) where the simulated KPIs clearly miss: the queue's row, and each
    segment's row against the segment's own target (a priority segment with a tighter target
    can miss where the queue as a whole meets its own); for the (queue, segment) in
    ``weekly``, wherever the mean misses (:func:`raise_where_missed`)."""
    kpis = intervals[intervals["queue"].astype(str) != "all"]
    weekly = weekly or set()
    missed = set()
    for record in kpis.itertuples(index=False):
        if not record.offered > 0:
            continue
        queue, segment = str(record.queue), str(getattr(record, "segment", "all"))
        target = _own_target(scenario, queue, segment)
        if target is None:
            continue
        # clearly: an interval's noise over a few replications would otherwise buy agents
        if _short(record, target, tolerance, (queue, segment) not in weekly):
            missed.add((queue, pd.Timestamp(record.interval_start)))
    return missed

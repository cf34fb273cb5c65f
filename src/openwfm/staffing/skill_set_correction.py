"""The simulation-based correction of skill-set requirements (Cezik & L'Ecuyer 2008's loop).

The analytic pool requirements of :mod:`openwfm.staffing.skill_sets` are approximations (a
merged queue, channel blending as work conservation). :func:`correct_by_simulation` checks each
pool alone with the simulator and raises it where a member misses; :func:`raise_where_missed`
does the same on a whole simulated schedule (re-schedule against the result). Given the checked
schedule's activities, its steps are sized from the simulated gap on the agents the schedule
had (:mod:`openwfm.staffing.shortfall`): what the pool models miss is mostly not a missing
agent on the requirement but agents the schedule already has who spend their time on other
queues (a small queue served only by agents who also serve a large one), and one more on a
requirement that the schedule exceeds many times over buys nothing.
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
    activities: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, int]:
    """The simulation-based correction on a whole schedule (Cezik & L'Ecuyer's loop): more
    agents in each interval where the simulated schedule (``intervals``:
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
    queue's own row, so that row alone rarely buys the missing capacity.

    How much: without ``activities``, one agent on the requirement. With ``activities`` (the
    checked schedule's ``agent, interval_start, activity``), the step is sized from the gap
    and taken from what the schedule had (:mod:`openwfm.staffing.shortfall`): the agents at
    work who can serve the missed queue (less the scenario's shrinkage) are calibrated by
    Erlang C to the simulated level (the missed row's mean, the segment's own target and
    handle time), the step is what that curve needs to reach the target (1 to a quarter of
    those agents, plus one), and each row holding the queue asks for the agents at work who
    can serve any of its queues plus the step (at least its requirement plus one): a
    cross-trained center covers a queue's row many times over with agents who spend their
    time elsewhere, so one more on the requirement would buy nothing. Returns the raised
    table and the number of agent-intervals added."""
    missed = _missed(intervals, scenario, tolerance, _weekly_misses(summary, scenario))
    out = table.copy()
    key = "pool" if "pool" in out.columns else "queue"
    names = out[key].astype(str).map(pool_members)
    starts = pd.to_datetime(out["interval_start"])
    hit = np.array(
        [any((q, ts) in missed for q in qs) for qs, ts in zip(names, starts, strict=True)],
        dtype=bool,
    )
    before = out["required_agents"].to_numpy(np.int64).copy()
    raised = before + hit
    if activities is not None and hit.any():
        raised = np.maximum(
            raised, _sized(names[hit], starts[hit], missed, activities, scenario, hit, before)
        )
    out["required_agents"] = np.where(hit, raised, before)
    if "correction" in out.columns:
        out["correction"] = out["correction"] + (out["required_agents"] - before)
    if "scheduled_agents" in out.columns:
        out["scheduled_agents"] = np.ceil(
            out["required_agents"] / (1.0 - scenario.shrinkage) - 1e-9
        ).astype(np.int64)
    return out, int((out["required_agents"].to_numpy(np.int64) - before).sum())


def _sized(names, starts, missed, activities, scenario, hit, before) -> np.ndarray:
    """Per table row (full length; only ``hit`` rows computed): the agents at work who can
    serve any queue of the row, less shrinkage, plus the step of its missed queues."""
    working = _at_work(activities, scenario)
    kept = 1.0 - scenario.shrinkage
    steps = _steps(missed, working, scenario)
    out = before.copy()
    rows = np.flatnonzero(hit)
    for row, queues, ts in zip(rows, names, starts, strict=True):
        step = max(steps.get((q, ts), 0) for q in queues)
        have = sum(1 for skills in working.get(ts, []) if skills & set(queues)) * kept
        out[row] = int(np.ceil(have + step - 1e-9))
    return out


def _at_work(activities: pd.DataFrame, scenario: Scenario) -> dict:
    """Interval start -> the skill sets (queues) of the agents at work then."""
    skills = {
        a.name: frozenset(q for q, p in a.skills.items() if p > 0) for a in scenario.all_agents()
    }
    queues = set(scenario.queue_names)
    working: dict = {}
    for agent, start, activity in zip(
        activities["agent"],
        pd.to_datetime(activities["interval_start"]),
        activities["activity"],
        strict=True,
    ):
        parts = set(str(activity).split("+"))
        if parts <= queues and str(agent) in skills:
            working.setdefault(start, []).append(skills[str(agent)])
    return working


def _steps(missed: dict, working: dict, scenario: Scenario) -> dict:
    """(queue, interval start) -> the step its misses need (:mod:`openwfm.staffing.shortfall`):
    the largest over the missed rows (the queue, its segments)."""
    from openwfm.staffing.shortfall import agents_short

    keys, rows = [], []
    for (queue, ts), records in missed.items():
        have = sum(1 for skills in working.get(ts, []) if queue in skills)
        agents = have * (1.0 - scenario.shrinkage)
        for level, goal, aht, within in records:
            keys.append((queue, ts))
            rows.append((level, goal, agents, aht, within))
    if not rows:
        return {}
    level, goal, agents, aht, within = np.array(rows, dtype=float).T
    cap = np.ceil(agents / 4.0).astype(np.int64) + 1
    found = agents_short(level, goal, agents, aht, within, cap)
    steps: dict = {}
    for k, step in zip(keys, found.tolist(), strict=True):
        steps[k] = max(steps.get(k, 0), int(step))
    return steps


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
) -> dict:
    """(queue, interval start) -> the misses there, each ``(level, goal, aht_s, within_s)``
    (the simulated mean service level, its target, the queue's handle time and target time),
    where the simulated KPIs clearly miss: the queue's row, and each segment's row against
    the segment's own target (a priority segment with a tighter target can miss where the
    queue as a whole meets its own); for the (queue, segment) in ``weekly``, wherever the
    mean misses (:func:`raise_where_missed`)."""
    kpis = intervals[intervals["queue"].astype(str) != "all"]
    weekly = weekly or set()
    missed: dict = {}
    for record in kpis.itertuples(index=False):
        if not record.offered > 0:
            continue
        queue, segment = str(record.queue), str(getattr(record, "segment", "all"))
        target = _own_target(scenario, queue, segment)
        if target is None:
            continue
        # clearly: an interval's noise over a few replications would otherwise buy agents
        if _short(record, target, tolerance, (queue, segment) not in weekly):
            aht = getattr(record, "aht_s", np.nan)
            if not (np.isfinite(aht) and aht > 0):
                aht = scenario.queue(queue).aht_s
            level = float(record.service_level) if np.isfinite(record.service_level) else 0.0
            missed.setdefault((queue, pd.Timestamp(record.interval_start)), []).append(
                (level, target.service_level, float(aht), float(target.within_s))
            )
    return missed

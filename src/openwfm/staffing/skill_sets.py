"""Requirements for skill sets: what each set of queues that shares agents needs as a pool.

Per-queue staffing (:mod:`openwfm.staffing.single_skill`) computes each queue alone. A
cross-trained agent serves whichever queue of its skills has a contact waiting (the routing
policy, :mod:`openwfm.routing.policy`), so the agents able to serve *some* queue of a set ``S``
form a pool, and that pool carries at most what one merged queue of ``S`` can carry. A staffing
that an agent mix can really satisfy therefore meets, for every set ``S`` of queues that share
agents, ``N(S) >= r(S)``: the agents who can serve any queue of ``S`` at least the merged
queue's requirement (a Hall-type condition over skill sets). This is the skill-set staffing of
Pot, Bhulai & Koole (2008, "A simple staffing method for multiskill call centers", M&SOM 10(3)),
the constraint family of Cezik & L'Ecuyer (2008, "Staffing multiskill call centers via linear
programming and simulation", Management Science 54(2)), who add a simulation-based correction
where the analytic constraints are off; and Wallace & Whitt (2005, "A staffing algorithm for
call centers with skill-based routing", M&SOM 7(4)) show that with a little cross-training the
center behaves almost like one pooled queue, which is why the merged queue is the right model.

The merged queue of a set (method, and why):

- arrival rate: the sum of the members' rates (contacts/s per interval);
- handle time: the members' handle times weighted by their rates (the mean of the mixture);
- patience: the members' abandonment rates ``1/patience_s`` weighted by arrival rate (Erlang A);
  Erlang C when a member never abandons (fewer abandons mean longer waits: conservative);
- target: the **strictest** member's. Under the routing policy's first-come-first-served order
  across the queues an agent serves (``longest_idle``; ``best_skilled``/``priority_aging``
  between contacts of equal priority), every member of a pool sees the same wait, so the pool
  meets each member's target only if the merged queue meets every member's target: the
  requirement is the largest over the members' targets (``binding_queue`` names it). A
  rate-weighted target would let a small queue with a tight target miss.

The pool requirement is kept between the largest member's own requirement (the agents of a set
include those of each member) and the members' sum (separate teams always suffice). Only live,
one-contact-at-a-time queues of one channel pool (voice, callback, messaging without
concurrency): chat and deferred work are not one merged M/M/n queue, and an agent works one
channel at a time.

:func:`correct_by_simulation` checks each pool with the simulator (:func:`openwfm.sim.simulate`:
the pool's agents skilled for every member, the members' arrival rates) and raises the pool's
requirement by one agent in the intervals where a member's simulated service level misses its
target by more than ``tolerance`` (mean over the replications), for a few rounds.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from openwfm.model import Channel, Queue, Scenario
from openwfm.queueing.inversion import required_agents

POOL_SEPARATOR = "+"
POOL_COLUMNS = [
    "interval_start",
    "pool",
    "arrival_rate_per_s",
    "aht_s",
    "required_agents",
    "scheduled_agents",
    "target_s",
    "binding_queue",
    "model",
    "correction",
]
MAX_ENUMERATED_QUEUES = 12  # all connected subsets up to this many poolable queues


def pool_name(queues: tuple[str, ...] | list[str]) -> str:
    """The name of the pool of ``queues`` (``"a+b"``, in the given order)."""
    return POOL_SEPARATOR.join(queues)


def pool_members(name: str) -> tuple[str, ...]:
    """The queues of a pool named by :func:`pool_name`."""
    return tuple(name.split(POOL_SEPARATOR))


def poolable(queue: Queue) -> bool:
    """Live queues served one contact at a time (the merged M/M/n(+M) model holds)."""
    if queue.channel == Channel.CHAT or queue.max_concurrency > 1:
        return False
    return queue.channel.is_live or queue.channel == Channel.CALLBACK


def skill_sets(scenario: Scenario, queues: list[str] | None = None) -> list[tuple[str, ...]]:
    """Sets of two or more queues that share agents: every set of poolable queues of one
    channel that is connected through the agents' skills (two queues are linked when an agent
    serves both), in the scenario's queue order. Sets that are not connected need no pool
    constraint of their own: their parts share no agent, so their parts' constraints imply it.
    """
    names = [q for q in scenario.queue_names if queues is None or q in queues]
    usable = {q for q in names if poolable(scenario.queue(q))}
    links: set[frozenset[str]] = set()
    for agent in scenario.all_agents():
        served = [q for q in names if q in usable and agent.skills.get(q, 0) > 0]
        for first, second in itertools.combinations(served, 2):
            if scenario.queue(first).channel == scenario.queue(second).channel:
                links.add(frozenset((first, second)))
    linked = [q for q in names if any(q in link for link in links)]
    if len(linked) > MAX_ENUMERATED_QUEUES:  # only the components, then
        return [c for c in _components(linked, links) if len(c) > 1]
    found = []
    for size in range(2, len(linked) + 1):
        for subset in itertools.combinations(linked, size):
            if _connected(subset, links):
                found.append(subset)
    return found


def _connected(subset: tuple[str, ...], links: set[frozenset[str]]) -> bool:
    return len(_components(list(subset), links)) == 1


def _components(nodes: list[str], links: set[frozenset[str]]) -> list[tuple[str, ...]]:
    left, parts = list(nodes), []
    while left:
        part, frontier = {left[0]}, [left[0]]
        while frontier:
            node = frontier.pop()
            for other in left:
                if other not in part and frozenset((node, other)) in links:
                    part.add(other)
                    frontier.append(other)
        parts.append(tuple(q for q in nodes if q in part))
        left = [q for q in left if q not in part]
    return parts


def skill_set_requirements(
    forecast: pd.DataFrame,
    scenario: Scenario,
    *,
    interval_minutes: int | None = None,
    per_queue: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Required agents per pool (set of queues sharing agents) x interval (``POOL_COLUMNS``).

    ``per_queue``: the per-queue requirements table (:func:`openwfm.staffing.requirements`) if
    already computed (its rates, handle times and requirements are used); else computed from
    ``forecast``. ``correction`` is 0 here (see :func:`correct_by_simulation`)."""
    if per_queue is None:
        from openwfm.staffing.single_skill import requirements

        per_queue = requirements(forecast, scenario, interval_minutes=interval_minutes)
    parts = [pool_requirements(per_queue, scenario, members) for members in skill_sets(scenario)]
    if not parts:
        return pd.DataFrame(columns=POOL_COLUMNS)
    return pd.concat(parts, ignore_index=True)[POOL_COLUMNS]


def _wide(per_queue: pd.DataFrame, column: str, members: tuple[str, ...]) -> pd.DataFrame:
    rows = per_queue[per_queue["queue"].astype(str).isin(members)]
    wide = rows.pivot_table(index="interval_start", columns="queue", values=column, aggfunc="sum")
    return wide.reindex(columns=list(members)).fillna(0.0)


def pool_requirements(
    per_queue: pd.DataFrame, scenario: Scenario, members: tuple[str, ...]
) -> pd.DataFrame:
    """The merged queue of ``members`` per interval (module doc): its rate, handle time, the
    agents it needs for the strictest member target, clamped to [largest member, sum]."""
    rates = _wide(per_queue, "arrival_rate_per_s", members)
    own = _wide(per_queue, "required_agents", members).reindex(rates.index).fillna(0)
    aht = _wide(per_queue, "aht_s", members).reindex(rates.index)
    for q in members:
        aht[q] = aht[q].where(aht[q] > 0, scenario.queue(q).aht_s)
    lam = rates.to_numpy(float)
    lam[lam < 1e-12] = 0.0  # below a contact a million years: none (no Erlang inversion)
    total = lam.sum(axis=1)
    safe = np.where(total > 0, total, 1.0)
    mixed_aht = np.where(
        total > 0,
        (lam * aht.to_numpy(float)).sum(axis=1) / safe,
        np.mean([scenario.queue(q).aht_s for q in members]),
    )
    patience = _merged_patience(scenario, members, lam, safe)
    need = np.zeros(total.size, dtype=np.int64)
    binding = np.full(total.size, members[0], dtype=object)
    for q in members:
        target = scenario.queue(q).target
        n = np.atleast_1d(
            required_agents(
                total,
                mixed_aht,
                target.within_s,
                target.service_level,
                patience_s=patience,
                max_occupancy=target.max_occupancy,
                max_abandon=target.max_abandon if patience is not None else None,
                max_asa_s=target.max_asa_s,
                definition=target.definition.value,
            )
        ).astype(np.int64)
        binding = np.where(n > need, q, binding)
        need = np.maximum(need, n)
    within = np.array([scenario.queue(str(q)).target.within_s for q in binding], dtype=float)
    own_values = own.to_numpy(float)
    need = np.clip(need, own_values.max(axis=1), own_values.sum(axis=1)).astype(np.int64)
    need = np.where(total > 0, need, 0)
    return pd.DataFrame(
        {
            "interval_start": rates.index,
            "pool": pool_name(members),
            "arrival_rate_per_s": total,
            "aht_s": mixed_aht,
            "required_agents": need,
            "scheduled_agents": np.ceil(need / (1.0 - scenario.shrinkage) - 1e-9).astype(np.int64),
            "target_s": within,
            "binding_queue": binding,
            "model": "merged_erlang_c" if patience is None else "merged_erlang_a",
            "correction": 0,
        }
    )


def _merged_patience(scenario: Scenario, members, lam: np.ndarray, safe: np.ndarray):
    patience = [scenario.queue(q).patience_s for q in members]
    if any(p is None for p in patience):
        return None
    theta = (lam / np.asarray(patience, float)).sum(axis=1) / safe
    mean_theta = float(np.mean(1.0 / np.asarray(patience, float)))
    return 1.0 / np.where(theta > 0, theta, mean_theta)


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
    routing = scenario.routing.model_copy(update={"a_team_segments": [], "escalation": []})
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
) -> tuple[pd.DataFrame, int]:
    """The simulation-based correction on a whole schedule (Cezik & L'Ecuyer's loop): one
    more agent in each interval where the simulated schedule (``intervals``:
    :func:`openwfm.sim.simulate`'s KPIs) clearly misses a queue's service level or its
    ``max_abandon`` (the 95% interval beyond the target; without intervals in the table, the
    mean beyond it by more than ``tolerance``), for that queue's own row (a per-queue table, column
    ``queue``) or every pool holding it (a pool table, column ``pool``); re-schedule against
    the result. Raising the pools too matters: a blended agent counts fully toward its
    queue's own row, so that row alone rarely buys the missing capacity. Returns the raised
    table and the number of agent-intervals added."""
    missed = _missed(intervals, scenario, tolerance)
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


def _missed(intervals: pd.DataFrame, scenario: Scenario, tolerance: float) -> set:
    kpis = intervals[intervals["queue"].astype(str) != "all"]
    if "segment" in kpis.columns:
        kpis = kpis[kpis["segment"].astype(str) == "all"]
    missed = set()
    for record in kpis.itertuples(index=False):
        if not record.offered > 0:
            continue
        target = scenario.queue(str(record.queue)).target
        # a clear miss: the whole 95% interval on the wrong side when the KPIs have one (an
        # interval's noise over a few replications would otherwise buy agents), else the mean
        # beyond the tolerance
        level = getattr(record, "service_level_ci_high", record.service_level + tolerance)
        short = level < target.service_level
        if target.max_abandon is not None:
            abandon = getattr(record, "abandon_rate_ci_low", record.abandon_rate - tolerance)
            short |= abandon > target.max_abandon
        if short:
            missed.add((str(record.queue), pd.Timestamp(record.interval_start)))
    return missed

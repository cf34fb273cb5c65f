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
where the analytic constraints are off (:mod:`openwfm.staffing.skill_set_correction`); and
Wallace & Whitt (2005, "A staffing algorithm for call centers with skill-based routing",
M&SOM 7(4)) show that with a little cross-training the center behaves almost like one pooled
queue, which is why the merged queue is the right model.

Sets are linked through the agents' skills across channels too: a voice agent who also takes
chat and email (a blended agent) links the three. The pool of a set follows what the routing
policy does with such an agent (:mod:`openwfm.routing.policy`): live contacts before deferred
work; one channel at a time (an agent holding chats takes no call until they are done); chats
go to the least-loaded agent, so a blended agent with a free line takes a chat alone before a
chat agent takes a second one. Per interval, the pool needs (method, and why):

- **live one-at-a-time members** (voice, callback, messaging without concurrency): one merged
  queue. Arrival rate: the members' sum; handle time: their rate-weighted mean (the mean of
  the mixture); patience: the members' abandonment rates ``1/patience_s`` weighted by arrival
  rate (Erlang A; Erlang C when a member never abandons: fewer abandons mean longer waits,
  conservative); target: the **strictest** member's. Under the policy's first-come-first-served
  order across the queues an agent serves (``longest_idle``; ``best_skilled``/
  ``priority_aging`` between contacts of equal priority) every member sees the same wait, so
  the pool meets each member's target only if the merged queue meets every member's target
  (``binding_queue`` names it). A rate-weighted target would let a small queue with a tight
  target miss. Segments with their own targets (priority customers) are priority classes of
  the merged queue, as the policy serves them (:mod:`openwfm.staffing.pool_priority`:
  non-preemptive priority M/M/n over the members, the higher classes' load first); the pool
  needs the larger of the two, and ``binding_queue`` / ``target_s`` name the member and the
  target time that bound.
- **chat members** (several contacts at once): their own requirements (the chat model), added
  on top. An agent holding a chat takes no call, and the chat model is not an M/M/n queue that
  merges with calls, so chat gets no pooling gain with other channels (conservative).
- **deferred members** (email, social): worked whenever no live contact waits, and not
  preempted. With live one-at-a-time members the policy therefore takes deferred work as it
  arrives, and an agent on an email is not free for the next call: the deferred members join
  the merged queue with their arrival rates and handle times (they never abandon; the target
  stays the live members'). A pool simulated with calls and an email backlog shows why: staffed
  for the calls alone it misses them (service level 50-70% for 80% in 20 s), staffed for the
  merged queue it meets them. Without such members the deferred work only needs doing within
  its deadline (the members' own requirements: the deadline model's latest schedule). With chat
  members, chat goes first on every agent, and with a deferred backlog every agent free of chats
  takes deferred work, so new chats go to the agents already chatting: chats stack to full
  concurrency (``max_concurrency`` lines an agent). The pool needs chat's own requirement, and
  the agents the stacked chats occupy (chats in progress / lines) plus the deferred work due.
  The example center's chat and email agents as its plan schedules them, simulated alone for a
  week day (30% shrinkage), meet chat at 95% and email at 99.8% where "chat's own requirement
  plus email's" calls them 10-20% short.

Outbound work (``outbound_per_hour``, blending) is left out of the merged queue: the threshold
policy makes outbound calls only with more than ``outbound_threshold`` agents idle, so inbound
service is what the merged queue models, and a member's own requirement (which the blending
model sizes to complete the asked calls, :mod:`openwfm.staffing.blending`) is the pool's floor.
Two members of a pool with outbound work compete for the same idle agents; the floor does not
see that (the plan's simulation does, and its summary prints the calls made vs asked).

The pool requirement is kept between the largest member's own requirement (the agents of a set
include those of each member) and the members' sum (separate teams always suffice). The
blending rules are approximations; :func:`openwfm.staffing.correct_by_simulation` checks a pool
with the simulator and raises it where a member misses.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from openwfm.model import Channel, Queue, Scenario
from openwfm.queueing.inversion import required_agents
from openwfm.staffing.pool_priority import has_segment_targets, priority_class_requirement

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


def is_deferred(queue: Queue) -> bool:
    """Deferred work (email, social): worked when no live contact waits."""
    return not (queue.channel.is_live or queue.channel == Channel.CALLBACK)


def skill_sets(scenario: Scenario, queues: list[str] | None = None) -> list[tuple[str, ...]]:
    """Sets of two or more queues that share agents: every set of queues connected through the
    agents' skills (two queues are linked when an agent serves both, of any channels), in the
    scenario's queue order. Sets that are not connected need no pool constraint of their own:
    their parts share no agent, so their parts' constraints imply it."""
    names = [q for q in scenario.queue_names if queues is None or q in queues]
    links: set[frozenset[str]] = set()
    for agent in scenario.all_agents():
        served = [q for q in names if agent.skills.get(q, 0) > 0]
        links.update(frozenset(pair) for pair in itertools.combinations(served, 2))
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
    """The pool of ``members`` per interval (module doc): the merged queue of its live
    one-at-a-time and deferred members for the strictest live target, chat on top, clamped to
    [largest member, sum]. ``arrival_rate_per_s`` and ``aht_s`` are the merged queue's."""
    single = [q for q in members if poolable(scenario.queue(q))]
    deferred = [q for q in members if is_deferred(scenario.queue(q))]
    chats = [q for q in members if q not in single and q not in deferred]
    own = _wide(per_queue, "required_agents", members).fillna(0)
    rates = _wide(per_queue, "arrival_rate_per_s", members).reindex(own.index).fillna(0.0)
    aht = _wide(per_queue, "aht_s", members).reindex(own.index)
    for q in members:
        aht[q] = aht[q].where(aht[q] > 0, scenario.queue(q).aht_s)
    merged = single + deferred
    total, mixed_aht, need, binding, patience = _merged_queue(
        rates[merged], aht[merged], scenario, single
    )
    # deferred work as it arrives (the policy takes it whenever no live contact waits)
    work = (rates[deferred].to_numpy(float) * aht[deferred].to_numpy(float)).sum(axis=1)
    chat_need = own[chats].to_numpy(float).sum(axis=1)
    within = np.array([scenario.queue(str(q)).target.within_s for q in binding], dtype=float)
    if single and has_segment_targets(scenario, single):  # priority classes (pool_priority)
        live = {q: rates[q].to_numpy(float) for q in single}
        by_class, queue, seconds = priority_class_requirement(
            scenario, live, total, mixed_aht, patience
        )
        raised = by_class > need
        binding, within = np.where(raised, queue, binding), np.where(raised, seconds, within)
        need = np.maximum(need, np.where(total > 0, by_class, 0))
    if single:
        need = np.maximum(need, own[single].to_numpy(float).max(axis=1))
        need = np.ceil(need + chat_need - 1e-9)
    else:  # chat first on every agent, the deferred work on what chats stacked leave
        stacked = sum(
            (rates[q] * aht[q] / scenario.queue(q).max_concurrency).to_numpy(float) for q in chats
        )
        due = own[deferred].to_numpy(float).sum(axis=1)
        need = np.maximum(chat_need, np.ceil(stacked + due - 1e-9))
    most = own.to_numpy(float).sum(axis=1) + np.ceil(work - 1e-9)
    need = np.clip(need, own.to_numpy(float).max(axis=1), most).astype(np.int64)
    if chats or deferred:
        model = "blended"
    else:
        model = "merged_erlang_c" if patience is None else "merged_erlang_a"
    return pd.DataFrame(
        {
            "interval_start": own.index,
            "pool": pool_name(members),
            "arrival_rate_per_s": total,
            "aht_s": mixed_aht,
            "required_agents": need,
            "scheduled_agents": np.ceil(need / (1.0 - scenario.shrinkage) - 1e-9).astype(np.int64),
            "target_s": within,
            "binding_queue": binding,
            "model": model,
            "correction": 0,
        }
    )


def _merged_queue(rates: pd.DataFrame, aht: pd.DataFrame, scenario: Scenario, targets: list):
    """The merged queue of the columns of ``rates`` per interval: total rate, mixed handle
    time, the agents it needs for the strictest target of ``targets`` (0 without contacts or
    targets), the binding member and the merged patience (None: Erlang C)."""
    members = list(rates.columns)
    lam = rates.to_numpy(float)
    lam[lam < 1e-12] = 0.0  # below a contact a million years: none (no Erlang inversion)
    total = lam.sum(axis=1)
    safe = np.where(total > 0, total, 1.0)
    mixed_aht = np.where(
        total > 0,
        (lam * aht.to_numpy(float)).sum(axis=1) / safe,
        np.mean([scenario.queue(q).aht_s for q in members]),
    )
    patience = _merged_patience(scenario, members, targets, lam, safe)
    need = np.zeros(total.size, dtype=np.int64)
    binding = np.full(total.size, (targets or members)[0], dtype=object)
    for q in targets:
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
    return total, mixed_aht, np.where(total > 0, need, 0), binding, patience


def _merged_patience(scenario: Scenario, members, live, lam: np.ndarray, safe: np.ndarray):
    """The merged mean patience: the live members' abandonment rates ``1/patience_s`` weighted
    by arrival rate over all members (deferred work never abandons); None (Erlang C) when a
    live member never abandons."""
    patience = [scenario.queue(q).patience_s for q in live]
    if not live or any(p is None for p in patience):
        return None
    index = [members.index(q) for q in live]
    theta = (lam[:, index] / np.asarray(patience, float)).sum(axis=1) / safe
    mean_theta = float(np.mean(1.0 / np.asarray(patience, float)))
    return 1.0 / np.where(theta > 0, theta, mean_theta)

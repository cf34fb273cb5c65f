"""The routing policy: who takes which waiting contact. Pure code, no I/O, no clock of its own.

One implementation serves both the simulator and the live router. The decisions are small
functions over NumPy arrays compiled with numba (``@njit``): the simulator's compiled event
core calls them directly at every decision point, and the router calls the very same
functions from plain Python through :meth:`RoutingPolicy.decide`.

Semantics (the same in both places):

- **Eligibility.** An agent may take a contact of queue ``q`` when it is available, has free
  capacity on the queue's channel (an agent works one channel at a time; chat agents hold up to
  ``k`` chats at once) and its proficiency for ``q`` is at least the current minimum
  proficiency. The minimum starts at ``RoutingConfig.min_proficiency``; every escalation step
  whose ``after_s`` the contact has waited lowers it to the step's ``min_proficiency`` and adds
  agents skilled for the step's ``extra_queues`` (their best proficiency there counts). Steps
  only widen, so a contact that waited longer is eligible for at least the same agents.
- **Which contact** an agent takes: live channels (voice, chat, messaging) before deferred work
  (email); then, by policy: ``longest_idle`` first come first served; ``best_skilled`` higher
  segment priority first, then the oldest; ``priority_aging`` highest ``priority + aging_per_s *
  wait_s`` first, then the oldest. Remaining ties: the lower index (deterministic).
- **Which agent** takes a contact: ``best_skilled`` for a segment in ``a_team_segments``: the
  highest proficiency; otherwise (and to break ties) the least loaded, then the longest idle
  (earliest ``idle_since_s``), then the lower index.

Proficiency is a fraction in 0..1; an absent skill is stored as ``-1``. Times are seconds on
any clock shared by the caller's contacts and ``now``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from numba import njit

from openwfm.errors import ParameterError
from openwfm.model import Channel, RoutingConfig, Scenario

POLICY_CODES = {"longest_idle": 0, "best_skilled": 1, "priority_aging": 2}
LONGEST_IDLE, BEST_SKILLED, PRIORITY_AGING = 0, 1, 2
CHANNELS = [channel.value for channel in Channel]
NOT_SKILLED = -1.0


class PolicyTables(NamedTuple):
    """A routing configuration compiled to arrays (the form the numba functions take).

    ``step_extra[k, q]`` is true when escalation step ``k`` lets agents of queue ``q`` help.
    """

    policy: int
    a_team: np.ndarray  # bool[n_segments]
    segment_priority: np.ndarray  # float64[n_segments]
    aging_per_s: float
    min_proficiency: float
    step_after_s: np.ndarray  # float64[n_steps]
    step_min_proficiency: np.ndarray  # float64[n_steps]
    step_extra: np.ndarray  # bool[n_steps, n_queues]
    queue_channel: np.ndarray  # int64[n_queues], index into CHANNELS
    queue_is_live: np.ndarray  # bool[n_queues]


def compile_tables(
    config: RoutingConfig,
    queue_names: Sequence[str],
    queue_channels: Sequence[str],
    segment_names: Sequence[str],
    segment_priorities: Sequence[float],
) -> PolicyTables:
    """Arrays for the numba policy functions; queues and segments are referred to by index."""
    queue_index = {name: i for i, name in enumerate(queue_names)}
    steps = config.escalation
    step_extra = np.zeros((len(steps), len(queue_names)), dtype=np.bool_)
    for k, step in enumerate(steps):
        for name in step.extra_queues:
            if name not in queue_index:
                raise ParameterError(f"unknown queue {name!r}", field=f"escalation[{k}]")
            step_extra[k, queue_index[name]] = True
    channel_codes = np.array([CHANNELS.index(str(c)) for c in queue_channels], dtype=np.int64)
    return PolicyTables(
        policy=POLICY_CODES[config.policy],
        a_team=np.array([s in config.a_team_segments for s in segment_names], dtype=np.bool_),
        segment_priority=np.asarray(segment_priorities, dtype=np.float64),
        aging_per_s=float(config.aging_per_s),
        min_proficiency=float(config.min_proficiency),
        step_after_s=np.array([s.after_s for s in steps], dtype=np.float64),
        step_min_proficiency=np.array([s.min_proficiency for s in steps], dtype=np.float64),
        step_extra=step_extra,
        queue_channel=channel_codes,
        queue_is_live=np.array([Channel(c).is_live for c in queue_channels], dtype=np.bool_),
    )


# --- the decisions: pure functions over arrays, shared by simulator and router ---------------
# ``inline="always"`` inlines them into the engine's event loop (40% faster there); called from
# Python they are ordinary compiled functions.


@njit(cache=True, nogil=True, inline="always")
def effective_proficiency(
    tables: PolicyTables,
    proficiency: np.ndarray,
    agent: int,
    queue: int,
    wait_s: float,
) -> float:
    """The agent's proficiency for a contact of ``queue`` that has waited ``wait_s``.

    Returns -1.0 when the agent is not eligible (no skill, or below the current minimum).
    """
    best = proficiency[agent, queue]
    minimum = tables.min_proficiency
    for k in range(tables.step_after_s.shape[0]):
        if wait_s >= tables.step_after_s[k]:
            minimum = min(minimum, tables.step_min_proficiency[k])
            for other in range(tables.step_extra.shape[1]):
                if tables.step_extra[k, other] and proficiency[agent, other] > best:
                    best = proficiency[agent, other]
    if best < 0.0 or best < minimum:
        return -1.0
    return best


@njit(cache=True, nogil=True, inline="always")
def has_capacity(
    capacity: np.ndarray,
    load: np.ndarray,
    channel: np.ndarray,
    available: np.ndarray,
    agent: int,
    wanted_channel: int,
) -> bool:
    """True when ``agent`` can start one more contact of ``wanted_channel``."""
    if not available[agent]:
        return False
    if load[agent] == 0:
        return capacity[agent, wanted_channel] > 0
    return channel[agent] == wanted_channel and load[agent] < capacity[agent, wanted_channel]


@njit(cache=True, nogil=True, inline="always")
def contact_priority(tables: PolicyTables, segment: int, wait_s: float) -> float:
    """Rank of a waiting contact within its channel class (higher is served first)."""
    if tables.policy == BEST_SKILLED:
        return tables.segment_priority[segment]
    if tables.policy == PRIORITY_AGING:
        return tables.segment_priority[segment] + tables.aging_per_s * wait_s
    return 0.0  # longest_idle: first come, first served


@njit(cache=True, nogil=True, inline="always")
def select_agent(
    tables: PolicyTables,
    proficiency: np.ndarray,
    capacity: np.ndarray,
    load: np.ndarray,
    channel: np.ndarray,
    available: np.ndarray,
    idle_since_s: np.ndarray,
    candidates: np.ndarray,
    queue: int,
    segment: int,
    wait_s: float,
) -> int:
    """Index of the agent (among ``candidates``) who takes this contact now, or -1."""
    wanted = tables.queue_channel[queue]
    by_skill = tables.policy == BEST_SKILLED and tables.a_team[segment]
    chosen = -1
    chosen_skill = 0.0
    for i in range(candidates.shape[0]):
        agent = candidates[i]
        if not has_capacity(capacity, load, channel, available, agent, wanted):
            continue
        skill = effective_proficiency(tables, proficiency, agent, queue, wait_s)
        if skill < 0.0:
            continue
        if chosen < 0:
            better = True
        elif by_skill and skill != chosen_skill:
            better = skill > chosen_skill
        elif load[agent] != load[chosen]:
            better = load[agent] < load[chosen]
        elif idle_since_s[agent] != idle_since_s[chosen]:
            better = idle_since_s[agent] < idle_since_s[chosen]
        else:
            better = agent < chosen
        if better:
            chosen = agent
            chosen_skill = skill
    return chosen


@njit(cache=True, nogil=True, inline="always")
def contact_before(
    tables: PolicyTables,
    queue_a: int,
    segment_a: int,
    arrival_a: float,
    queue_b: int,
    segment_b: int,
    arrival_b: float,
    now: float,
) -> bool:
    """True when contact a is served before contact b (live first, priority, then oldest)."""
    live_a = tables.queue_is_live[queue_a]
    live_b = tables.queue_is_live[queue_b]
    if live_a != live_b:
        return live_a
    rank_a = contact_priority(tables, segment_a, now - arrival_a)
    rank_b = contact_priority(tables, segment_b, now - arrival_b)
    if rank_a != rank_b:
        return rank_a > rank_b
    return arrival_a < arrival_b


@njit(cache=True, nogil=True, inline="always")
def select_contact(
    tables: PolicyTables,
    proficiency: np.ndarray,
    capacity: np.ndarray,
    load: np.ndarray,
    channel: np.ndarray,
    available: np.ndarray,
    agent: int,
    contact_queue: np.ndarray,
    contact_segment: np.ndarray,
    contact_arrival_s: np.ndarray,
    contact_waiting: np.ndarray,
    now: float,
) -> int:
    """Index of the waiting contact ``agent`` takes now (``contact_waiting`` masks), or -1."""
    chosen = -1
    for i in range(contact_queue.shape[0]):
        if not contact_waiting[i]:
            continue
        queue = contact_queue[i]
        if not has_capacity(capacity, load, channel, available, agent, tables.queue_channel[queue]):
            continue
        wait_s = now - contact_arrival_s[i]
        if effective_proficiency(tables, proficiency, agent, queue, wait_s) < 0.0:
            continue
        if chosen < 0 or contact_before(
            tables,
            queue,
            contact_segment[i],
            contact_arrival_s[i],
            contact_queue[chosen],
            contact_segment[chosen],
            contact_arrival_s[chosen],
            now,
        ):
            chosen = i
    return chosen


@njit(cache=True, nogil=True)
def contact_order(
    tables: PolicyTables,
    contact_queue: np.ndarray,
    contact_segment: np.ndarray,
    contact_arrival_s: np.ndarray,
    now: float,
) -> np.ndarray:
    """Indices of the contacts in service order (insertion sort: waiting lists are short)."""
    order = np.arange(contact_queue.shape[0])
    for i in range(1, order.shape[0]):
        item = order[i]
        j = i - 1
        while j >= 0 and contact_before(
            tables,
            contact_queue[item],
            contact_segment[item],
            contact_arrival_s[item],
            contact_queue[order[j]],
            contact_segment[order[j]],
            contact_arrival_s[order[j]],
            now,
        ):
            order[j + 1] = order[j]
            j -= 1
        order[j + 1] = item
    return order


@njit(cache=True, nogil=True)
def assign_all(
    tables: PolicyTables,
    proficiency: np.ndarray,
    capacity: np.ndarray,
    load: np.ndarray,
    channel: np.ndarray,
    available: np.ndarray,
    idle_since_s: np.ndarray,
    contact_queue: np.ndarray,
    contact_segment: np.ndarray,
    contact_arrival_s: np.ndarray,
    now: float,
) -> np.ndarray:
    """Match waiting contacts to agents in service order; returns the agent per contact (-1).

    ``load`` and ``channel`` are updated in place as contacts are assigned.
    """
    everyone = np.arange(proficiency.shape[0])
    chosen = np.full(contact_queue.shape[0], -1, dtype=np.int64)
    for i in contact_order(tables, contact_queue, contact_segment, contact_arrival_s, now):
        queue = contact_queue[i]
        agent = select_agent(
            tables,
            proficiency,
            capacity,
            load,
            channel,
            available,
            idle_since_s,
            everyone,
            queue,
            contact_segment[i],
            now - contact_arrival_s[i],
        )
        if agent >= 0:
            chosen[i] = agent
            load[agent] += 1
            channel[agent] = tables.queue_channel[queue]
    return chosen


# --- the readable API the live router calls -------------------------------------------------


@dataclass(frozen=True)
class WaitingContact:
    """A contact waiting for an agent. ``arrival_s`` is on the caller's clock (seconds).

    ``queue`` is the skill the contact requires (its channel is the queue's). ``segment``
    defaults to ``default``; ``priority``, when given, replaces the segment's priority.
    """

    contact_id: str
    queue: str
    arrival_s: float
    segment: str = "default"
    priority: float | None = None  # overrides the segment's priority for this contact


@dataclass(frozen=True)
class AgentState:
    """An agent as the router sees it now.

    ``skills``: queue -> proficiency (0..1). ``capacity``: channel -> simultaneous contacts
    (missing channels take the queue's ``max_concurrency``). ``load``: contacts in hand, all of
    ``channel``. ``idle_since_s``: when the agent last finished a contact (seconds).
    """

    agent_id: str
    skills: dict[str, float]
    capacity: dict[str, int] = field(default_factory=dict)
    load: int = 0
    channel: str | None = None
    idle_since_s: float = 0.0
    available: bool = True


@dataclass(frozen=True)
class Assignment:
    contact_id: str
    agent_id: str
    proficiency: float


class RoutingPolicy:
    """A routing configuration bound to a scenario's queues and segments.

    ``RoutingPolicy.from_scenario(scenario).decide(waiting, agents, now)`` returns the
    assignments to make now; the simulator runs the same compiled functions.
    """

    def __init__(
        self,
        config: RoutingConfig,
        queue_names: Sequence[str],
        queue_channels: Sequence[str],
        queue_max_concurrency: Sequence[int],
        segment_names: Sequence[str],
        segment_priorities: Sequence[float],
    ) -> None:
        self.config = config
        self.queue_names = list(queue_names)
        self.queue_channels = [str(c) for c in queue_channels]
        self.queue_max_concurrency = list(queue_max_concurrency)
        self.segment_names = list(segment_names)
        self.segment_priorities = list(segment_priorities)
        self.tables = compile_tables(
            config, queue_names, self.queue_channels, segment_names, segment_priorities
        )

    @classmethod
    def from_scenario(
        cls, scenario: Scenario, config: RoutingConfig | None = None
    ) -> RoutingPolicy:
        segments = [s.name for s in scenario.segments]
        priorities = [float(s.priority) for s in scenario.segments]
        if "default" not in segments:
            segments.append("default")
            priorities.append(0.0)
        return cls(
            config or scenario.routing,
            scenario.queue_names,
            [q.channel.value for q in scenario.queues],
            [q.max_concurrency for q in scenario.queues],
            segments,
            priorities,
        )

    def agent_arrays(self, agents: Sequence[AgentState]) -> tuple[np.ndarray, np.ndarray]:
        """(proficiency, capacity) arrays of ``agents`` (unknown skills are ignored)."""
        proficiency = np.full((len(agents), len(self.queue_names)), NOT_SKILLED)
        capacity = np.zeros((len(agents), len(CHANNELS)), dtype=np.int64)
        queue_index = {name: i for i, name in enumerate(self.queue_names)}
        for a, agent in enumerate(agents):
            for name, value in agent.skills.items():
                if name in queue_index:
                    q = queue_index[name]
                    proficiency[a, q] = value
                    channel_code = self.tables.queue_channel[q]
                    capacity[a, channel_code] = max(
                        capacity[a, channel_code], self.queue_max_concurrency[q]
                    )
            for channel_name, limit in agent.capacity.items():
                capacity[a, CHANNELS.index(str(channel_name))] = limit
        return proficiency, capacity

    def decide(
        self, waiting_contacts: Sequence[WaitingContact], agents: Sequence[AgentState], now: float
    ) -> list[Assignment]:
        """Assignments to make at time ``now`` (seconds), in service order."""
        queue_index = {name: i for i, name in enumerate(self.queue_names)}
        segment_index = {name: i for i, name in enumerate(self.segment_names)}
        for contact in waiting_contacts:
            if contact.queue not in queue_index:
                raise ParameterError(
                    f"unknown queue {contact.queue!r} of contact {contact.contact_id!r}",
                    field="waiting_contacts",
                )
            if contact.segment not in segment_index:
                raise ParameterError(
                    f"unknown segment {contact.segment!r} of contact {contact.contact_id!r}",
                    field="waiting_contacts",
                )
        if not waiting_contacts or not agents:
            return []
        proficiency, capacity = self.agent_arrays(agents)
        load = np.array([a.load for a in agents], dtype=np.int64)
        channel = np.array(
            [-1 if a.channel is None else CHANNELS.index(str(a.channel)) for a in agents],
            dtype=np.int64,
        )
        available = np.array([a.available for a in agents], dtype=np.bool_)
        idle_since = np.array([a.idle_since_s for a in agents], dtype=np.float64)
        contact_queue = np.array([queue_index[c.queue] for c in waiting_contacts], dtype=np.int64)
        contact_segment = np.array(
            [segment_index[c.segment] for c in waiting_contacts], dtype=np.int64
        )
        tables = self.tables
        overrides = [i for i, c in enumerate(waiting_contacts) if c.priority is not None]
        if overrides:
            # a contact with its own priority gets a private copy of its segment's row
            priority = list(tables.segment_priority)
            a_team = list(tables.a_team)
            for i in overrides:
                a_team.append(tables.a_team[contact_segment[i]])
                priority.append(float(waiting_contacts[i].priority))
                contact_segment[i] = len(priority) - 1
            tables = tables._replace(
                segment_priority=np.array(priority, dtype=np.float64),
                a_team=np.array(a_team, dtype=np.bool_),
            )
        arrival = np.array([c.arrival_s for c in waiting_contacts], dtype=np.float64)
        order = contact_order(tables, contact_queue, contact_segment, arrival, float(now))
        chosen = assign_all(
            tables,
            proficiency,
            capacity,
            load,
            channel,
            available,
            idle_since,
            contact_queue,
            contact_segment,
            arrival,
            float(now),
        )
        result = []
        for i in order:
            agent = chosen[i]
            if agent >= 0:
                skill = effective_proficiency(
                    tables, proficiency, agent, contact_queue[i], now - arrival[i]
                )
                result.append(
                    Assignment(waiting_contacts[i].contact_id, agents[agent].agent_id, skill)
                )
        return result

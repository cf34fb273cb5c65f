"""The event engine: one replication of a contact center, compiled with numba.

Semantics, in one place:

- Time is seconds from the start of the horizon. Arrivals come pre-sampled and sorted (a
  non-homogeneous Poisson stream or a replayed trace) and are merged with a binary heap of the
  other events; redials go through the heap. Equal times are processed in insertion order.
- An arriving contact is offered to the agents through :func:`openwfm.routing.policy.select_agent`.
  If nobody can take it, it waits in the FIFO of its (queue, segment) class, with an
  abandonment event at its patience and one event per escalation step.
- Whenever an agent gains capacity (end of a contact after wrap-up, shift start, end of a
  break), it takes waiting contacts through :func:`openwfm.routing.policy.select_contact`,
  which sees only the head of each class: heads are the oldest of their class, so they have the
  highest aged priority and (escalation only widens) the widest eligibility.
- An escalation event re-offers a contact that is still waiting to the widened set of agents.
- A contact still waiting at its patience abandons, and redials with the queue's redial
  probability after an exponential delay (counted as a new offered contact, ``attempt`` + 1).
- Handle time: the given one (trace replay) or a draw from the queue's distribution with mean
  ``aht_by_load[q, load - 1] * (1 + proficiency_slope * (1 - proficiency))``, ``load`` counting
  this contact (chat concurrency). Wrap-up keeps the agent's slot after the contact ends.
- An agent going off shift or on a break finishes its contacts but takes no new ones.

The loop runs until no event is left; contacts still waiting then are reported ``unserved``.

Design (measured in ``bench/sim.py``): a bare pure-Python heapq loop reaches about 7x SimPy
on the M/M/n+M benchmark, short of the 10x target, and calling the policy from Python at each
decision would cost more. So the whole loop is compiled with numba (``nogil``: Dask's threaded
scheduler runs replications in parallel), and the routing decisions are numba functions of
:mod:`openwfm.routing.policy` inlined into it: the live router calls the same compiled
functions from Python through ``RoutingPolicy.decide``, so there is one implementation.
Arrivals are sampled in NumPy beforehand and merged with the heap (batched: no heap traffic
for them); only agents with spare capacity are offered a contact (a free list), and only the
head of each (queue, segment) FIFO is offered to a freed agent. The heap is sized from the
contact tables (each contact posts at most 2 + steps events), so pushes never reallocate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numba import njit

from openwfm.routing.policy import effective_proficiency, select_agent, select_contact

if TYPE_CHECKING:
    from openwfm.routing.policy import PolicyTables

EXPONENTIAL, LOGNORMAL, EMPIRICAL = 0, 1, 2

# contact states (column STATE of the int table)
FUTURE, WAITING, IN_SERVICE, ANSWERED, ABANDONED = 0, 1, 2, 3, 4
# float table columns
ARRIVAL, ANSWER, END, ABANDON, PATIENCE, HANDLE = 0, 1, 2, 3, 4, 5
# int table columns
QUEUE, SEGMENT, STATE, AGENT, NEXT, ATTEMPT = 0, 1, 2, 3, 4, 5
# event kinds
EV_ARRIVAL, EV_ABANDON, EV_END, EV_ESCALATE, EV_AGENT_ON, EV_AGENT_OFF = 0, 1, 2, 3, 4, 5
KIND_SHIFT = 40  # item = kind << KIND_SHIFT | id


class QueueTables(NamedTuple):
    """Per-queue parameters as arrays (index = queue)."""

    distribution: np.ndarray  # int64: EXPONENTIAL, LOGNORMAL, EMPIRICAL
    lognormal_sigma: np.ndarray  # float64
    aht_by_load: np.ndarray  # float64[n_queues, max_load]: mean handle time (s) at load k+1
    proficiency_slope: np.ndarray  # float64
    wrap_up_s: np.ndarray  # float64
    patience_mean_s: np.ndarray  # float64, inf = never abandons
    redial_probability: np.ndarray  # float64
    redial_delay_s: np.ndarray  # float64 mean delay before a redial
    empirical_start: np.ndarray  # int64[n_queues + 1] offsets into empirical_s
    empirical_s: np.ndarray  # float64 observed handle times (empirical distribution)
    empirical_mean_s: np.ndarray  # float64 mean of each queue's empirical sample


@njit(cache=True, nogil=True, inline="always")
def _heap_push(times, seqs, items, size, t, seq, item):
    """Insert; the caller guarantees room (see ``_grow``: capacity is sized from contacts)."""
    i = size
    while i > 0:
        parent = (i - 1) >> 1
        if times[parent] < t or (times[parent] == t and seqs[parent] < seq):
            break
        times[i] = times[parent]
        seqs[i] = seqs[parent]
        items[i] = items[parent]
        i = parent
    times[i] = t
    seqs[i] = seq
    items[i] = item


@njit(cache=True, nogil=True)
def _grow(floats, ints, heap_t, heap_seq, heap_item, n_contacts, heap_extra, per_contact):
    """Double the contact tables; size the heap for every event those contacts can post."""
    size = 2 * n_contacts + 16
    floats2 = np.full((size, 6), np.nan)
    ints2 = np.full((size, 6), -1, dtype=np.int64)
    floats2[:n_contacts] = floats[:n_contacts]
    ints2[:n_contacts] = ints[:n_contacts]
    room = heap_extra + size * per_contact
    heap_t2 = np.empty(room, dtype=np.float64)
    heap_seq2 = np.empty(room, dtype=np.int64)
    heap_item2 = np.empty(room, dtype=np.int64)
    n = heap_t.shape[0]
    heap_t2[:n] = heap_t
    heap_seq2[:n] = heap_seq
    heap_item2[:n] = heap_item
    return floats2, ints2, heap_t2, heap_seq2, heap_item2


@njit(cache=True, nogil=True, inline="always")
def _heap_pop(times, seqs, items, size):
    """Remove the top (caller read it at index 0); ``size`` is the size before the pop."""
    size -= 1
    t = times[size]
    seq = seqs[size]
    item = items[size]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and (
            times[child + 1] < times[child]
            or (times[child + 1] == times[child] and seqs[child + 1] < seqs[child])
        ):
            child += 1
        if t < times[child] or (t == times[child] and seq < seqs[child]):
            break
        times[i] = times[child]
        seqs[i] = seqs[child]
        items[i] = items[child]
        i = child
    times[i] = t
    seqs[i] = seq
    items[i] = item


@njit(cache=True, nogil=True, inline="always")
def _handle_time(queues, queue, load, proficiency):
    mean = queues.aht_by_load[queue, min(load, queues.aht_by_load.shape[1]) - 1]
    mean *= 1.0 + queues.proficiency_slope[queue] * (1.0 - proficiency)
    kind = queues.distribution[queue]
    if kind == LOGNORMAL:
        sigma = queues.lognormal_sigma[queue]
        return np.exp(np.log(mean) - 0.5 * sigma * sigma + sigma * np.random.standard_normal())
    if kind == EMPIRICAL:
        start = queues.empirical_start[queue]
        stop = queues.empirical_start[queue + 1]
        value = queues.empirical_s[start + np.random.randint(0, stop - start)]
        return value * mean / queues.empirical_mean_s[queue]
    return np.random.exponential(mean)


@njit(cache=True, nogil=True, inline="always")
def _refresh_head(c, class_head, floats, ints, head_waiting, head_arrival):
    """Drop contacts that left class ``c`` from its front; update the head arrays."""
    i = class_head[c]
    while i >= 0 and ints[i, STATE] != WAITING:
        i = ints[i, NEXT]
    class_head[c] = i
    if i >= 0:
        head_waiting[c] = True
        head_arrival[c] = floats[i, ARRIVAL]
    else:
        head_waiting[c] = False


@njit(cache=True, nogil=True, inline="always")
def _update_free(agent, capacity, load, channel, available, free_agents, free_pos, n_free):
    """Keep ``free_agents[:n_free]`` = the agents with spare capacity; returns the new n_free."""
    if not available[agent]:
        spare = False
    elif load[agent] == 0:
        spare = False
        for code in range(capacity.shape[1]):
            if capacity[agent, code] > 0:
                spare = True
    else:
        spare = load[agent] < capacity[agent, channel[agent]]
    position = free_pos[agent]
    if spare and position < 0:
        free_agents[n_free] = agent
        free_pos[agent] = n_free
        return n_free + 1
    if not spare and position >= 0:
        last = free_agents[n_free - 1]
        free_agents[position] = last
        free_pos[last] = position
        free_pos[agent] = -1
        return n_free - 1
    return n_free


@njit(cache=True, nogil=True, inline="always")
def _draw_patience(queues, queue):
    mean = queues.patience_mean_s[queue]
    return np.inf if np.isinf(mean) else np.random.exponential(mean)


@njit(cache=True, nogil=True, inline="always")
def _next_event(arrival_s, next_arrival, heap_t, heap_seq, heap_item, heap_size):
    """(time, kind, id, heap size) of the next event: the next arrival of the stream when it
    is not later than the heap's top, else the heap's top (popped); kind -1 when none is left."""
    if next_arrival < arrival_s.shape[0] and (
        heap_size == 0 or arrival_s[next_arrival] <= heap_t[0]
    ):
        return arrival_s[next_arrival], EV_ARRIVAL, -1, heap_size
    if heap_size == 0:
        return 0.0, -1, -1, heap_size
    now = heap_t[0]
    item = heap_item[0]
    _heap_pop(heap_t, heap_seq, heap_item, heap_size)
    return now, item >> KIND_SHIFT, item & ((1 << KIND_SHIFT) - 1), heap_size - 1


@njit(cache=True, nogil=True, inline="always")
def _start_service(
    contact, agent, q, now, wait, tables, queues, proficiency, capacity, load, channel,
    available, free_agents, free_pos, n_free, floats, ints, heap_t, heap_seq, heap_item,
    heap_size, seq,
):  # fmt: skip
    """``agent`` takes ``contact`` of queue ``q`` at ``now``: load, handle time, its end event.
    Returns (n_free, heap_size, seq)."""
    skill = effective_proficiency(tables, proficiency, agent, q, wait)
    load[agent] += 1
    channel[agent] = tables.queue_channel[q]
    n_free = _update_free(agent, capacity, load, channel, available, free_agents, free_pos, n_free)
    floats[contact, ANSWER] = now
    ints[contact, AGENT] = agent
    handle = floats[contact, HANDLE]
    if not handle >= 0.0:
        handle = _handle_time(queues, q, load[agent], skill)
        floats[contact, HANDLE] = handle
    floats[contact, END] = now + handle
    _heap_push(
        heap_t, heap_seq, heap_item, heap_size, now + handle + queues.wrap_up_s[q], seq,
        (EV_END << KIND_SHIFT) | contact,
    )  # fmt: skip
    return n_free, heap_size + 1, seq + 1


@njit(cache=True, nogil=True, inline="always")
def _enqueue(
    offer, c, wait, tables, floats, ints, class_head, class_tail, head_waiting, head_arrival,
    heap_t, heap_seq, heap_item, heap_size, seq,
):  # fmt: skip
    """A new contact nobody took waits in the FIFO of its class ``c``, with its abandonment
    and escalation events. Returns (heap_size, seq)."""
    ints[offer, NEXT] = -1
    if class_tail[c] >= 0 and class_head[c] >= 0:
        ints[class_tail[c], NEXT] = offer
    else:
        class_head[c] = offer
        head_waiting[c] = True
        head_arrival[c] = floats[offer, ARRIVAL]
    class_tail[c] = offer
    patience = floats[offer, PATIENCE]
    arrived = floats[offer, ARRIVAL]
    if patience < np.inf:
        _heap_push(
            heap_t, heap_seq, heap_item, heap_size, arrived + patience, seq,
            (EV_ABANDON << KIND_SHIFT) | offer,
        )  # fmt: skip
        heap_size += 1
        seq += 1
    for k in range(tables.step_after_s.shape[0]):
        after = tables.step_after_s[k]
        if after > wait and after < patience:
            _heap_push(
                heap_t, heap_seq, heap_item, heap_size, arrived + after, seq,
                (EV_ESCALATE << KIND_SHIFT) | offer,
            )  # fmt: skip
            heap_size += 1
            seq += 1
    return heap_size, seq


@njit(cache=True, nogil=True, inline="always")
def _redial(
    ident, now, q, queues, floats, ints, n_contacts, heap_t, heap_seq, heap_item, heap_size, seq
):
    """Contact ``n_contacts`` (room for it made by the caller): ``ident``'s redial, arriving
    after an exponential delay. Returns (heap_size, seq)."""
    redial = n_contacts
    when = now + np.random.exponential(queues.redial_delay_s[q])
    floats[redial, ARRIVAL] = when
    floats[redial, HANDLE] = -1.0
    floats[redial, PATIENCE] = _draw_patience(queues, q)
    ints[redial, QUEUE] = q
    ints[redial, SEGMENT] = ints[ident, SEGMENT]
    ints[redial, STATE] = FUTURE
    ints[redial, ATTEMPT] = ints[ident, ATTEMPT] + 1
    _heap_push(
        heap_t, heap_seq, heap_item, heap_size, when, seq, (EV_ARRIVAL << KIND_SHIFT) | redial
    )
    return heap_size + 1, seq + 1


@njit(cache=True, nogil=True, inline="always")
def _new_arrival(
    ident, now, j, arrival_queue, arrival_segment, arrival_handle_s, arrival_patience_s,
    queues, floats, ints,
):  # fmt: skip
    """Contact ``ident`` from arrival ``j`` of the stream (its own handle time and patience,
    or -1: draw the patience now, the handle time at the answer)."""
    q = arrival_queue[j]
    floats[ident, ARRIVAL] = now
    floats[ident, HANDLE] = arrival_handle_s[j]
    ints[ident, QUEUE] = q
    ints[ident, SEGMENT] = arrival_segment[j]
    ints[ident, ATTEMPT] = 0
    patience = arrival_patience_s[j]
    if patience < 0.0:
        patience = _draw_patience(queues, q)
    floats[ident, PATIENCE] = patience


@njit(cache=True, nogil=True, inline="always")
def _push_shifts(shift_s, shift_agent, shift_on, heap_t, heap_seq, heap_item):
    """The agents' on/off changes into the empty heap; returns its size (= the next seq)."""
    for j in range(shift_s.shape[0]):
        kind = EV_AGENT_ON if shift_on[j] else EV_AGENT_OFF
        _heap_push(
            heap_t, heap_seq, heap_item, j, shift_s[j], j, (kind << KIND_SHIFT) | shift_agent[j]
        )
    return shift_s.shape[0]


@njit(cache=True, nogil=True, inline="always")
def _stale(kind, ident, ints):
    """True for an abandonment or escalation event of a contact no longer waiting."""
    return (kind == EV_ABANDON or kind == EV_ESCALATE) and ints[ident, STATE] != WAITING


@njit(cache=True, nogil=True, inline="always")
def _agent_event(
    kind, ident, now, ints, capacity, load, channel, available, idle_since, free_agents,
    free_pos, n_free,
):  # fmt: skip
    """Contact ``ident`` ends (``EV_END``: answered, its agent frees a slot after wrap-up), or
    agent ``ident``'s shift starts or ends. Returns (n_free, agent who gained capacity or -1)."""
    if kind == EV_AGENT_OFF:
        available[ident] = False
        n_free = _update_free(
            ident, capacity, load, channel, available, free_agents, free_pos, n_free
        )
        return n_free, -1
    agent = ident
    if kind == EV_END:
        ints[ident, STATE] = ANSWERED
        agent = ints[ident, AGENT]
        load[agent] -= 1
        if load[agent] == 0:
            channel[agent] = -1
        idle_since[agent] = now
    elif not available[agent]:  # EV_AGENT_ON
        available[agent] = True
        if load[agent] == 0:
            idle_since[agent] = now
    n_free = _update_free(agent, capacity, load, channel, available, free_agents, free_pos, n_free)
    return n_free, agent


@njit(cache=True, nogil=True, inline="always")
def _room(kind, floats, ints, heap_t, heap_seq, heap_item, n_contacts, heap_extra, per_contact):
    """The tables, grown when an event that may add a contact (an arrival, an abandonment that
    may redial) finds them full."""
    if (kind == EV_ARRIVAL or kind == EV_ABANDON) and n_contacts == floats.shape[0]:
        return _grow(floats, ints, heap_t, heap_seq, heap_item, n_contacts, heap_extra, per_contact)
    return floats, ints, heap_t, heap_seq, heap_item


@njit(cache=True, nogil=True, inline="always")
def _abandon(
    ident, now, n_segments, queues, floats, ints, n_contacts, class_head, head_waiting,
    head_arrival, heap_t, heap_seq, heap_item, heap_size, seq,
):  # fmt: skip
    """Waiting contact ``ident`` abandons at ``now`` and redials with its queue's probability
    (a new contact). Returns (heap_size, seq, n_contacts)."""
    ints[ident, STATE] = ABANDONED
    floats[ident, ABANDON] = now
    q = ints[ident, QUEUE]
    c = q * n_segments + ints[ident, SEGMENT]
    if class_head[c] == ident:
        _refresh_head(c, class_head, floats, ints, head_waiting, head_arrival)
    if queues.redial_probability[q] > 0.0 and (np.random.random() < queues.redial_probability[q]):
        heap_size, seq = _redial(
            ident, now, q, queues, floats, ints, n_contacts, heap_t, heap_seq, heap_item,
            heap_size, seq,
        )  # fmt: skip
        n_contacts += 1
    return heap_size, seq, n_contacts


@njit(cache=True, nogil=True)
def run_replication(
    seed: int,
    tables: PolicyTables,
    queues: QueueTables,
    proficiency: np.ndarray,
    capacity: np.ndarray,
    n_segments: int,
    arrival_s: np.ndarray,
    arrival_queue: np.ndarray,
    arrival_segment: np.ndarray,
    arrival_handle_s: np.ndarray,
    arrival_patience_s: np.ndarray,
    shift_s: np.ndarray,
    shift_agent: np.ndarray,
    shift_on: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Simulate one replication. Returns (floats, ints, n_contacts, n_events).

    ``arrival_*`` are sorted by time; ``arrival_handle_s`` / ``arrival_patience_s`` give a
    contact's own handle time / patience (trace replay) or -1 to draw one. ``shift_*`` are the
    agents' on/off changes (``shift_on`` true: becomes available). Agents start unavailable.
    """
    np.random.seed(seed)
    n_queues = proficiency.shape[1]
    n_agents = proficiency.shape[0]
    n_classes = n_queues * n_segments
    # contacts: pre-sized for the arrivals, grown when redials need room
    size = arrival_s.shape[0] + 16
    floats = np.full((size, 6), np.nan)
    ints = np.full((size, 6), -1, dtype=np.int64)
    n_contacts = 0
    # agents
    load = np.zeros(n_agents, dtype=np.int64)
    channel = np.full(n_agents, -1, dtype=np.int64)
    available = np.zeros(n_agents, dtype=np.bool_)
    idle_since = np.zeros(n_agents, dtype=np.float64)
    # agents with spare capacity: the only candidates worth offering a contact to
    free_agents = np.empty(n_agents, dtype=np.int64)
    free_pos = np.full(n_agents, -1, dtype=np.int64)
    n_free = 0
    # waiting contacts: one FIFO per (queue, segment) class, removals are lazy
    class_head = np.full(n_classes, -1, dtype=np.int64)
    class_tail = np.full(n_classes, -1, dtype=np.int64)
    head_queue = np.arange(n_classes) // n_segments
    head_segment = np.arange(n_classes) % n_segments
    head_waiting = np.zeros(n_classes, dtype=np.bool_)
    head_arrival = np.zeros(n_classes, dtype=np.float64)
    # event heap
    # every contact posts at most one end, one abandonment and one event per escalation step
    # over its life, so sizing the heap from the contact tables means a push never overflows
    per_contact = 2 + tables.step_after_s.shape[0]
    heap_extra = shift_s.shape[0] + 16
    heap_t = np.empty(heap_extra + size * per_contact, dtype=np.float64)
    heap_seq = np.empty(heap_t.shape[0], dtype=np.int64)
    heap_item = np.empty(heap_t.shape[0], dtype=np.int64)
    heap_size = _push_shifts(shift_s, shift_agent, shift_on, heap_t, heap_seq, heap_item)
    seq = heap_size
    next_arrival = 0
    n_events = 0
    while True:
        now, kind, ident, heap_size = _next_event(
            arrival_s, next_arrival, heap_t, heap_seq, heap_item, heap_size
        )
        if kind < 0:
            break
        if _stale(kind, ident, ints):
            continue  # an abandonment or escalation of a contact answered or gone before
        n_events += 1
        # contacts are added (an arrival, a redial): make room first
        floats, ints, heap_t, heap_seq, heap_item = _room(
            kind, floats, ints, heap_t, heap_seq, heap_item, n_contacts, heap_extra, per_contact
        )
        offer = -1  # contact to offer to the agents
        fill = -1  # agent who gained capacity
        if kind == EV_ARRIVAL:
            if ident < 0:  # from the arrival stream: create the contact
                ident = n_contacts
                n_contacts += 1
                _new_arrival(
                    ident, now, next_arrival, arrival_queue, arrival_segment, arrival_handle_s,
                    arrival_patience_s, queues, floats, ints,
                )  # fmt: skip
                next_arrival += 1
            ints[ident, STATE] = WAITING
            offer = ident
        elif kind == EV_ABANDON:
            heap_size, seq, n_contacts = _abandon(
                ident, now, n_segments, queues, floats, ints, n_contacts, class_head,
                head_waiting, head_arrival, heap_t, heap_seq, heap_item, heap_size, seq,
            )  # fmt: skip
            continue
        elif kind == EV_ESCALATE:
            offer = ident
        else:  # an agent's contact ends, or its shift starts or ends
            n_free, fill = _agent_event(
                kind, ident, now, ints, capacity, load, channel, available, idle_since,
                free_agents, free_pos, n_free,
            )  # fmt: skip

        if offer >= 0:
            q = ints[offer, QUEUE]
            s = ints[offer, SEGMENT]
            c = q * n_segments + s
            wait = now - floats[offer, ARRIVAL]
            agent = select_agent(
                tables, proficiency, capacity, load, channel, available, idle_since,
                free_agents[:n_free], q, s, wait,
            )  # fmt: skip
            if agent >= 0:
                # start service; a waiting contact stays in its FIFO, lazily dropped
                ints[offer, STATE] = IN_SERVICE
                if class_head[c] == offer:
                    _refresh_head(c, class_head, floats, ints, head_waiting, head_arrival)
                n_free, heap_size, seq = _start_service(
                    offer, agent, q, now, wait, tables, queues, proficiency, capacity, load,
                    channel, available, free_agents, free_pos, n_free, floats, ints, heap_t,
                    heap_seq, heap_item, heap_size, seq,
                )  # fmt: skip
                # a chat agent may take more of the waiting work after this one
                if load[agent] < capacity[agent, tables.queue_channel[q]]:
                    fill = agent
            elif kind == EV_ARRIVAL:
                heap_size, seq = _enqueue(
                    offer, c, wait, tables, floats, ints, class_head, class_tail, head_waiting,
                    head_arrival, heap_t, heap_seq, heap_item, heap_size, seq,
                )  # fmt: skip

        while fill >= 0:
            c = select_contact(
                tables, proficiency, capacity, load, channel, available, fill,
                head_queue, head_segment, head_arrival, head_waiting, now,
            )  # fmt: skip
            if c < 0:
                break
            contact = class_head[c]
            ints[contact, STATE] = IN_SERVICE
            _refresh_head(c, class_head, floats, ints, head_waiting, head_arrival)
            n_free, heap_size, seq = _start_service(
                contact, fill, head_queue[c], now, now - floats[contact, ARRIVAL], tables, queues,
                proficiency, capacity, load, channel, available, free_agents, free_pos, n_free,
                floats, ints, heap_t, heap_seq, heap_item, heap_size, seq,
            )  # fmt: skip
    return floats[:n_contacts], ints[:n_contacts], n_contacts, n_events

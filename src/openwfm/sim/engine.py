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
- Outbound work (blending, :mod:`openwfm.queueing.blend`): a queue with ``outbound_aht_s > 0``
  has outbound calls to make, ``outbound_asked`` of them by each interval boundary (linear
  within an interval; ``inf``: an unlimited backlog, the model's case). An agent skilled for
  it who gains capacity and finds no waiting contact starts one (exponential, mean
  ``outbound_aht_s``, no wrap-up) when a call is due and more than ``outbound_threshold``
  agents skilled for the queue are idle, counting itself.
  An outbound call is a contact row with ``ATTEMPT = -1`` (:data:`OUTBOUND`), its ARRIVAL and
  ANSWER at its start. Centers without outbound work never enter that branch.

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
OUTBOUND = -1  # ATTEMPT of an outbound call (blending)


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
    outbound_aht_s: np.ndarray  # float64 mean outbound handle time, 0 = no outbound work
    outbound_threshold: np.ndarray  # int64[n_queues, k]: idle agents kept for inbound, per
    # interval of outbound_interval_s[0] seconds (column k - 1 from then on)
    outbound_asked: np.ndarray  # float64[n_queues, m + 1]: calls asked by boundary j (inf: all)
    outbound_interval_s: np.ndarray  # float64[1]


@njit(cache=True, nogil=True, inline="always")
def _outbound_queue(queues, proficiency, load, free_agents, n_free, agent, now, started):
    """The first queue with outbound work ``agent`` is skilled for with a call due (``started``
    calls so far) whose idle agents (``agent`` included) outnumber its threshold at ``now``,
    or -1."""
    position = now / queues.outbound_interval_s[0]
    column = min(int(position), queues.outbound_threshold.shape[1] - 1)
    boundary = min(int(position), queues.outbound_asked.shape[1] - 2)
    within = min(max(position - boundary, 0.0), 1.0)
    for q in range(queues.outbound_aht_s.shape[0]):
        if queues.outbound_aht_s[q] <= 0.0 or proficiency[agent, q] < 0.0:
            continue
        low = queues.outbound_asked[q, boundary]
        high = queues.outbound_asked[q, boundary + 1]
        if high < np.inf and low + (high - low) * within < started[q] + 1.0:
            continue  # no call due yet
        idle = 0
        for k in range(n_free):
            other = free_agents[k]
            if load[other] == 0 and proficiency[other, q] >= 0.0:
                idle += 1
        if idle > queues.outbound_threshold[q, column]:
            return q
    return -1


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
def _room_for_a_contact(
    floats, ints, heap_t, heap_seq, heap_item, n_contacts, heap_extra, per_contact
):
    """The contact tables and the heap, grown (:func:`_grow`) when contact number
    ``n_contacts`` (a new arrival, redial or outbound call) would not fit."""
    if n_contacts < floats.shape[0]:
        return floats, ints, heap_t, heap_seq, heap_item
    return _grow(floats, ints, heap_t, heap_seq, heap_item, n_contacts, heap_extra, per_contact)


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


# The event loop stays one function, over the issue-13 complexity bar (C901, 35 > 15): split
# into inlined numba helpers (next event, abandonment + redial, agent events, start of service,
# enqueue) the same figures came out but the M/M/n+M kernel ran 25-40% slower (bench/sim.py
# and 20 sync replications timed old/new alternately: 0.42 s vs 0.55-0.64 s), the helpers'
# tuple returns and argument lists cost more than the loop's branches. The loop's parts are
# marked by event kind below; the module docstring states the semantics.
@njit(cache=True, nogil=True)
def run_replication(  # noqa: C901
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
    n_arrivals = arrival_s.shape[0]
    # contacts: pre-sized for the arrivals, grown when redials need room
    size = n_arrivals + 16
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
    head_queue = np.empty(n_classes, dtype=np.int64)
    head_segment = np.empty(n_classes, dtype=np.int64)
    for c in range(n_classes):
        head_queue[c] = c // n_segments
        head_segment[c] = c % n_segments
    head_waiting = np.zeros(n_classes, dtype=np.bool_)
    head_arrival = np.zeros(n_classes, dtype=np.float64)
    n_steps = tables.step_after_s.shape[0]
    # event heap
    # every contact posts at most one end, one abandonment and one event per escalation step
    # over its life, so sizing the heap from the contact tables means a push never overflows
    per_contact = 2 + tables.step_after_s.shape[0]
    heap_extra = shift_s.shape[0] + 16
    heap_t = np.empty(heap_extra + size * per_contact, dtype=np.float64)
    heap_seq = np.empty(heap_t.shape[0], dtype=np.int64)
    heap_item = np.empty(heap_t.shape[0], dtype=np.int64)
    heap_size = 0
    seq = 0
    for j in range(shift_s.shape[0]):
        kind = EV_AGENT_ON if shift_on[j] else EV_AGENT_OFF
        _heap_push(
            heap_t, heap_seq, heap_item, heap_size, shift_s[j], seq,
            (kind << KIND_SHIFT) | shift_agent[j],
        )  # fmt: skip
        heap_size += 1
        seq += 1
    next_arrival = 0
    n_events = 0
    has_outbound = False
    outbound_started = np.zeros(n_queues, dtype=np.float64)
    for q in range(n_queues):
        if queues.outbound_aht_s[q] > 0.0:
            has_outbound = True
    while True:
        if next_arrival < n_arrivals and (heap_size == 0 or arrival_s[next_arrival] <= heap_t[0]):
            now = arrival_s[next_arrival]
            kind = EV_ARRIVAL
            ident = -1
        elif heap_size > 0:
            now = heap_t[0]
            item = heap_item[0]
            _heap_pop(heap_t, heap_seq, heap_item, heap_size)
            heap_size -= 1
            kind = item >> KIND_SHIFT
            ident = item & ((1 << KIND_SHIFT) - 1)
        else:
            break
        offer = -1  # contact to offer to the agents
        fill = -1  # agent who gained capacity
        if kind == EV_ARRIVAL:
            if ident < 0:  # from the arrival stream: create the contact
                floats, ints, heap_t, heap_seq, heap_item = _room_for_a_contact(
                    floats, ints, heap_t, heap_seq, heap_item, n_contacts, heap_extra, per_contact
                )
                ident = n_contacts
                n_contacts += 1
                q = arrival_queue[next_arrival]
                floats[ident, ARRIVAL] = now
                floats[ident, HANDLE] = arrival_handle_s[next_arrival]
                ints[ident, QUEUE] = q
                ints[ident, SEGMENT] = arrival_segment[next_arrival]
                ints[ident, ATTEMPT] = 0
                patience = arrival_patience_s[next_arrival]
                if patience < 0.0:
                    mean = queues.patience_mean_s[q]
                    patience = np.inf if np.isinf(mean) else np.random.exponential(mean)
                floats[ident, PATIENCE] = patience
                next_arrival += 1
            ints[ident, STATE] = WAITING
            n_events += 1
            offer = ident
        elif kind == EV_ABANDON:
            if ints[ident, STATE] != WAITING:
                continue
            n_events += 1
            ints[ident, STATE] = ABANDONED
            floats[ident, ABANDON] = now
            c = ints[ident, QUEUE] * n_segments + ints[ident, SEGMENT]
            if class_head[c] == ident:
                _refresh_head(c, class_head, floats, ints, head_waiting, head_arrival)
            q = ints[ident, QUEUE]
            if queues.redial_probability[q] > 0.0 and (
                np.random.random() < queues.redial_probability[q]
            ):
                floats, ints, heap_t, heap_seq, heap_item = _room_for_a_contact(
                    floats, ints, heap_t, heap_seq, heap_item, n_contacts, heap_extra, per_contact
                )
                redial = n_contacts
                n_contacts += 1
                when = now + np.random.exponential(queues.redial_delay_s[q])
                floats[redial, ARRIVAL] = when
                floats[redial, HANDLE] = -1.0
                mean = queues.patience_mean_s[q]
                floats[redial, PATIENCE] = np.inf if np.isinf(mean) else np.random.exponential(mean)
                ints[redial, QUEUE] = q
                ints[redial, SEGMENT] = ints[ident, SEGMENT]
                ints[redial, STATE] = FUTURE
                ints[redial, ATTEMPT] = ints[ident, ATTEMPT] + 1
                _heap_push(
                    heap_t, heap_seq, heap_item, heap_size, when, seq,
                    (EV_ARRIVAL << KIND_SHIFT) | redial,
                )  # fmt: skip
                heap_size += 1
                seq += 1
            continue
        elif kind == EV_END:
            n_events += 1
            ints[ident, STATE] = ANSWERED
            agent = ints[ident, AGENT]
            load[agent] -= 1
            if load[agent] == 0:
                channel[agent] = -1
            idle_since[agent] = now
            n_free = _update_free(
                agent, capacity, load, channel, available, free_agents, free_pos, n_free
            )
            fill = agent
        elif kind == EV_ESCALATE:
            if ints[ident, STATE] != WAITING:
                continue
            n_events += 1
            offer = ident
        elif kind == EV_AGENT_ON:
            n_events += 1
            if not available[ident]:
                available[ident] = True
                if load[ident] == 0:
                    idle_since[ident] = now
                n_free = _update_free(
                    ident, capacity, load, channel, available, free_agents, free_pos, n_free
                )
            fill = ident
        else:  # EV_AGENT_OFF
            n_events += 1
            available[ident] = False
            n_free = _update_free(
                ident, capacity, load, channel, available, free_agents, free_pos, n_free
            )
            continue

        if offer >= 0:
            q = ints[offer, QUEUE]
            s = ints[offer, SEGMENT]
            wait = now - floats[offer, ARRIVAL]
            agent = select_agent(
                tables, proficiency, capacity, load, channel, available, idle_since,
                free_agents[:n_free], q, s, wait,
            )  # fmt: skip
            if agent >= 0:
                fill = -1
                # start service (below); a waiting contact stays in its FIFO, lazily dropped
                ints[offer, STATE] = IN_SERVICE
                c = q * n_segments + s
                if class_head[c] == offer:
                    _refresh_head(c, class_head, floats, ints, head_waiting, head_arrival)
                skill = effective_proficiency(tables, proficiency, agent, q, wait)
                load[agent] += 1
                channel[agent] = tables.queue_channel[q]
                n_free = _update_free(
                    agent, capacity, load, channel, available, free_agents, free_pos, n_free
                )
                floats[offer, ANSWER] = now
                ints[offer, AGENT] = agent
                handle = floats[offer, HANDLE]
                if not handle >= 0.0:
                    handle = _handle_time(queues, q, load[agent], skill)
                    floats[offer, HANDLE] = handle
                floats[offer, END] = now + handle
                _heap_push(
                    heap_t, heap_seq, heap_item, heap_size, now + handle + queues.wrap_up_s[q],
                    seq, (EV_END << KIND_SHIFT) | offer,
                )  # fmt: skip
                heap_size += 1
                seq += 1
                # a chat agent may take more of the waiting work after this one
                if load[agent] < capacity[agent, tables.queue_channel[q]]:
                    fill = agent
            elif kind == EV_ARRIVAL:
                c = q * n_segments + s
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
                for k in range(n_steps):
                    after = tables.step_after_s[k]
                    if after > wait and after < patience:
                        _heap_push(
                            heap_t, heap_seq, heap_item, heap_size, arrived + after, seq,
                            (EV_ESCALATE << KIND_SHIFT) | offer,
                        )  # fmt: skip
                        heap_size += 1
                        seq += 1

        while fill >= 0:
            c = select_contact(
                tables, proficiency, capacity, load, channel, available, fill,
                head_queue, head_segment, head_arrival, head_waiting, now,
            )  # fmt: skip
            if c < 0:
                break
            contact = class_head[c]
            q = head_queue[c]
            ints[contact, STATE] = IN_SERVICE
            _refresh_head(c, class_head, floats, ints, head_waiting, head_arrival)
            wait = now - floats[contact, ARRIVAL]
            skill = effective_proficiency(tables, proficiency, fill, q, wait)
            load[fill] += 1
            channel[fill] = tables.queue_channel[q]
            n_free = _update_free(
                fill, capacity, load, channel, available, free_agents, free_pos, n_free
            )
            floats[contact, ANSWER] = now
            ints[contact, AGENT] = fill
            handle = floats[contact, HANDLE]
            if not handle >= 0.0:
                handle = _handle_time(queues, q, load[fill], skill)
                floats[contact, HANDLE] = handle
            floats[contact, END] = now + handle
            _heap_push(
                heap_t, heap_seq, heap_item, heap_size, now + handle + queues.wrap_up_s[q],
                seq, (EV_END << KIND_SHIFT) | contact,
            )  # fmt: skip
            heap_size += 1
            seq += 1
        if has_outbound and fill >= 0 and load[fill] == 0 and available[fill]:
            q = _outbound_queue(
                queues, proficiency, load, free_agents, n_free, fill, now, outbound_started
            )
            if q >= 0:  # start an outbound call (blending)
                outbound_started[q] += 1.0
                floats, ints, heap_t, heap_seq, heap_item = _room_for_a_contact(
                    floats, ints, heap_t, heap_seq, heap_item, n_contacts, heap_extra, per_contact
                )
                call = n_contacts
                n_contacts += 1
                handle = np.random.exponential(queues.outbound_aht_s[q])
                floats[call, ARRIVAL] = now
                floats[call, ANSWER] = now
                floats[call, HANDLE] = handle
                floats[call, END] = now + handle
                floats[call, PATIENCE] = np.inf
                ints[call, QUEUE] = q
                ints[call, SEGMENT] = 0
                ints[call, STATE] = IN_SERVICE
                ints[call, AGENT] = fill
                ints[call, ATTEMPT] = OUTBOUND
                load[fill] += 1
                channel[fill] = tables.queue_channel[q]
                n_free = _update_free(
                    fill, capacity, load, channel, available, free_agents, free_pos, n_free
                )
                _heap_push(
                    heap_t, heap_seq, heap_item, heap_size, now + handle, seq,
                    (EV_END << KIND_SHIFT) | call,
                )  # fmt: skip
                heap_size += 1
                seq += 1
    return floats[:n_contacts], ints[:n_contacts], n_contacts, n_events

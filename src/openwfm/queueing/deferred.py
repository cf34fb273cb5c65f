"""Deferred work (email, social, back office): least agents per interval meeting a deadline.

Model: items are worked first-in first-out as a fluid; ``volume[i]`` items arrive during open
interval ``i`` (of ``interval_s`` seconds), each takes ``aht_s`` of work, so ``N`` agents
finish ``N interval_s / aht_s`` items in an interval; backlog carries over (across days too).

Deadlines: the cohort arriving in interval ``j`` must have ``service_level`` of its items done
by ``start_j + within_s`` and all of them by ``start_j + all_within_s``, measured in the clock
given by ``clock_s`` (open-time seconds for business-hours targets, so nights do not count).
We check at the end of the last interval that ends by the deadline (at least interval ``j``
itself): conservative, since the items arriving later in ``j`` get more time than required.
Deadlines after the horizon's last interval are not due within the horizon (their items stay
in the closing backlog).

"Least": the greedy schedule works in each interval exactly what has fallen due (rounded up to
whole agents). Feasibility of any schedule requires its cumulative capacity to reach the
work due by every interval's end, ``D_i``; greedy's cumulative capacity is
``max_{l <= i} ceil(D_l)`` agent-intervals - the least possible - so greedy's cumulative
agent-intervals never exceed those of any feasible schedule (it defers work as late as the
targets allow). In that sense it is least: no feasible schedule has fewer agent-intervals up
to any interval.
"""

from __future__ import annotations

import numpy as np

from openwfm.queueing._types import ArrayLike
from openwfm.queueing.erlang import as_param


def deferred_requirements(
    volume: ArrayLike,
    aht_s: float,
    interval_s: float,
    within_s: float,
    service_level: float,
    *,
    all_within_s: float | None = None,
    clock_s: ArrayLike | None = None,
    initial_backlog: float = 0.0,
) -> dict[str, np.ndarray]:
    """Greedy least agents per interval (see module doc). Returns arrays per interval:
    ``agents`` (int), ``backlog`` (items open at the interval's end), ``on_time`` (fraction of
    the interval's own arrivals done within ``within_s``) and ``occupancy``."""
    v = as_param("volume", volume)
    aht = float(as_param("aht_s", aht_s, positive=True))
    length = float(as_param("interval_s", interval_s, positive=True))
    within = float(as_param("within_s", within_s, positive=True))
    p = float(as_param("service_level", service_level, upper=1.0))
    backlog0 = float(as_param("initial_backlog", initial_backlog))
    size = v.size
    clock = np.arange(size) * length if clock_s is None else np.asarray(clock_s, dtype=float)
    ends = clock + length
    arrived_before = backlog0 + np.concatenate([[0.0], np.cumsum(v)[:-1]])
    arrived = arrived_before + v
    due = np.zeros(size)

    # cohort j (and the initial backlog, due first) -> the interval its deadline falls in
    def deadline_index(offset: float) -> np.ndarray:
        deadline = clock + offset
        idx = np.maximum(np.searchsorted(ends, deadline, side="right") - 1, np.arange(size))
        # deadlines after the horizon's end are not due within it (the backlog stays open)
        return np.where(deadline > ends[-1], size, idx)

    for offset, amount in ((within, arrived_before + p * v),) + (
        ((float(all_within_s), arrived),) if all_within_s is not None else ()
    ):
        idx = deadline_index(offset)
        keep = idx < size
        np.maximum.at(due, idx[keep], amount[keep])
    due = np.maximum.accumulate(due)
    per_agent = length / aht
    agents = np.zeros(size, dtype=np.int64)
    done = 0.0
    done_by = np.zeros(size)
    for i in range(size):
        need = max(0.0, due[i] - done)
        agents[i] = int(np.ceil(need / per_agent - 1e-9))
        done = min(done + agents[i] * per_agent, arrived[i])
        done_by[i] = done
    # fraction of cohort j finished by its (checked) deadline, or by the horizon's end
    idx = np.minimum(deadline_index(within), size - 1)
    finished = np.clip(done_by[idx] - arrived_before, 0.0, v)
    on_time = np.where(v > 0, finished / np.where(v > 0, v, 1.0), 1.0)
    work = np.diff(np.concatenate([[0.0], done_by]))
    occupancy = np.where(agents > 0, work / np.maximum(agents * per_agent, 1e-300), 0.0)
    return {
        "agents": agents,
        "backlog": arrived - done_by,
        "on_time": on_time,
        "occupancy": occupancy,
    }

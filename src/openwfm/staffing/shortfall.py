"""How many agents a simulated shortfall needs: the Erlang inverse of the gap.

The simulation-based correction (:func:`openwfm.staffing.raise_where_missed`) sees, per queue
(or segment) and interval, the simulated service level ``level`` reached with the agents the
schedule had there who can serve the queue, against the target ``goal``. Adding one agent to a
requirement that the schedule already exceeds adds nothing (a cross-trained center's queue
rows are covered many times over by agents who spend their time elsewhere), and one agent more
may be far from enough where the level is well short. So the step is sized from the gap, by
the Erlang C model of the queue as the simulation saw it: the *effective traffic* ``a`` that
makes Erlang C with the scheduled agents reach exactly the simulated level (the queue's own
load plus whatever other queues' contacts those agents also took, and the shrinkage, folded
into one figure), then the least number of agents that reaches the goal with that traffic.
The difference is the step (at least one, at most ``cap``): a small miss near a steep part of
the curve asks for one agent, a large one for several. Why Erlang C and not a rule of thumb
such as a fixed percentage: the curve's steepness depends on the size of the group and on the
ratio of the target time to the handle time, which the model carries and a percentage does
not.
"""

from __future__ import annotations

import numpy as np

from openwfm.queueing import service_level

BISECTION_STEPS = 40


def effective_traffic(
    level: np.ndarray, agents: np.ndarray, aht_s: np.ndarray, within_s: np.ndarray
) -> np.ndarray:
    """Erlangs ``a`` with Erlang C ``service_level(a, agents, aht_s, within_s) == level``
    (bisection on ``[0, agents]``; the service level falls as the traffic grows). ``agents``
    may be fractional (agents at work less shrinkage)."""
    agents = np.asarray(agents, float)
    low, high = np.zeros_like(agents), agents.copy()
    for _ in range(BISECTION_STEPS):
        middle = (low + high) / 2.0
        reached = np.asarray(service_level(middle, agents, aht_s, within_s), float)
        too_good = reached > level
        low = np.where(too_good, middle, low)
        high = np.where(too_good, high, middle)
    return (low + high) / 2.0


def agents_short(
    level: np.ndarray,
    goal: np.ndarray,
    agents: np.ndarray,
    aht_s: np.ndarray,
    within_s: np.ndarray,
    cap: np.ndarray | int,
) -> np.ndarray:
    """Agents to add so that the effective Erlang C queue (module doc) with ``agents`` agents
    at ``level`` reaches ``goal``: an integer in ``[1, cap]`` per element (``cap`` where no
    agent was there or the level is 0: the model has nothing to calibrate on)."""
    level = np.clip(np.asarray(level, float), 0.0, 1.0)
    goal = np.asarray(goal, float)
    agents = np.maximum(np.asarray(agents, float), 0.0)
    aht_s = np.broadcast_to(np.asarray(aht_s, float), level.shape)
    within_s = np.broadcast_to(np.asarray(within_s, float), level.shape)
    cap = np.broadcast_to(np.asarray(cap, np.int64), level.shape)
    steps = cap.copy()
    known = (agents > 0) & (level > 0)
    if not known.any():
        return np.maximum(steps, 1)
    traffic = effective_traffic(level[known], agents[known], aht_s[known], within_s[known])
    found = cap[known].copy()
    open_ = np.ones(found.size, dtype=bool)
    for extra in range(1, int(cap[known].max()) + 1):
        reached = np.asarray(
            service_level(traffic, agents[known] + extra, aht_s[known], within_s[known]), float
        )
        hit = open_ & (reached >= goal[known]) & (extra <= cap[known])
        found[hit] = extra
        open_ &= ~hit
    steps[known] = found
    return np.maximum(steps, 1)

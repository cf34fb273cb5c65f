"""Cost of under- and over-coverage per queue x interval.

Under-coverage is weighted by its service impact: the ``k``-th missing agent costs
``under_weight * (1 + loss_k / mean first-agent loss)`` where ``loss_k`` is the number of contacts
in the interval that the k-th missing agent would have answered within the target
(``SL(n) - SL(n - 1)`` from Erlang C, times the interval's contacts). Service level is concave in
the agents, so the marginal cost grows with every missing agent (a convex penalty the solver
can express as a maximum of lines). Over-coverage costs ``over_weight`` per surplus agent and
interval; ``under_weight > over_weight`` makes the first missing agent dearer than any surplus
one. Without arrival rates or handle times (or without the queueing module) the fallback is a
convex piecewise penalty ``under_weight * (1 + 0.25 (k - 1))``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# breakpoints of the piecewise-linear under-coverage cost (not customer segments)
COST_BREAKPOINTS = 8


def _convex_fallback(required: np.ndarray, under_weight: float) -> np.ndarray:
    steps = np.arange(COST_BREAKPOINTS, dtype=float)
    return np.broadcast_to(
        under_weight * (1.0 + 0.25 * steps), (len(required), COST_BREAKPOINTS)
    ).copy()


def under_marginal_costs(
    requirements: pd.DataFrame,
    required: np.ndarray,
    interval_s: float,
    under_weight: float = 1.0,
    weighting: str = "service",
) -> tuple[np.ndarray, str]:
    """Marginal cost of the 1st..8th missing agent per requirement row (beyond: the 8th's).

    ``requirements`` may hold ``arrival_rate_per_s`` (contacts/s), ``aht_s`` (s) and ``target_s``
    (s); ``weighting`` is ``service`` (Erlang C when those columns exist), ``convex`` (the
    fallback) or ``linear`` (``under_weight`` for every agent: plain absolute deviation).
    Returns the (rows x 8) marginals and the method used.
    """
    n = len(required)
    if weighting == "linear":
        return np.full((n, COST_BREAKPOINTS), under_weight), "linear"
    columns = {"arrival_rate_per_s", "aht_s", "target_s"}
    if weighting == "convex" or not columns <= set(requirements.columns):
        return _convex_fallback(required, under_weight), "convex"
    try:
        from openwfm.queueing import service_level
    except Exception:  # noqa: BLE001 - no usable queueing module: the documented fallback
        return _convex_fallback(required, under_weight), "convex"
    rate = requirements["arrival_rate_per_s"].to_numpy(float)
    aht = requirements["aht_s"].to_numpy(float)
    target = requirements["target_s"].to_numpy(float)
    traffic = rate * aht
    contacts = rate * interval_s
    levels = []
    for k in range(COST_BREAKPOINTS + 1):
        agents = np.maximum(required - k, 0)
        with np.errstate(all="ignore"):
            sl = np.asarray(service_level(traffic, agents, aht, target), dtype=float)
        levels.append(np.where(agents > traffic, np.nan_to_num(sl), 0.0))
    levels = np.array(levels)  # (k, rows)
    loss = np.clip(levels[:-1] - levels[1:], 0.0, None).T * contacts[:, None]
    # once the queue is unstable every further agent loses the same: keep the curve convex
    loss = np.maximum.accumulate(loss, axis=1)
    first = loss[:, 0][required > 0]
    reference = float(np.mean(first)) if first.size and np.mean(first) > 0 else 1.0
    return under_weight * (1.0 + loss / reference), "service"

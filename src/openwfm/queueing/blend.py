"""Call blending: inbound calls and outbound work on one team, with a threshold policy.

Model (Bhulai & Koole's blending model): ``agents`` agents answer inbound calls (Poisson,
``arrival_rate_per_s``, exponential handle time ``aht_s``, exponential patience
``patience_s``, ``inf``: none) and make outbound calls (exponential handle time
``outbound_aht_s``) from an unlimited backlog. Policy: whenever more than ``threshold`` agents
are idle, one of them starts an outbound call at once; a freed agent takes the head of the
inbound queue first. So at most ``threshold`` agents are ever idle (reserved for inbound),
and ``threshold = 0`` lets outbound take every idle agent (then every inbound call waits).

State: ``o`` outbound calls in progress and ``k = x - (agents - o)`` for ``x`` inbound calls in
the system (``-k`` idle agents when ``k <= 0``, ``k`` waiting when ``k > 0``), ``-threshold <=
k``. The chain is solved exactly (one sparse LU solve); the waiting queue is truncated where
its mass is below 1e-15 of the total (checked; infinite-patience loads at or above the
agents' capacity raise). An inbound call that waits behind ``j`` others is answered when the
``(j+1)``-th agent frees up, at rate ``(agents - o) / aht + o / outbound_aht`` (outbound
agents finishing take the queue), so its waiting law is that of a small absorbing chain in
``(o, j)``: P(answered) and the mean wait by exact recursions over ``j``, P(answered within
the target) by uniformization (:mod:`openwfm.queueing.blend_wait`).

Metrics (inbound, per offered call): ``p_wait``, ``p_abandon``, ``service_level`` (answered
within ``target_s`` / offered), ``service_level_answered``, ``asa_s`` (mean wait of answered);
``outbound_per_s`` (outbound calls completed per second), ``occupancy`` (busy fraction of
the agents) and ``p_idle_reserved`` (probability that some agent is idle).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse import linalg as sparse_linalg

from openwfm.errors import ParameterError
from openwfm.queueing import blend_wait
from openwfm.queueing._types import ArrayLike, Values
from openwfm.queueing.erlang import as_param

__all__ = ["BLEND_KEYS", "blend_metrics", "blend_staffing", "least_threshold"]

NO_INBOUND_BELOW_PER_S = 1e-12
"""Inbound arrival rates below this (per second) count as no inbound work."""

BLEND_KEYS = (
    "p_wait",
    "p_abandon",
    "service_level",
    "service_level_answered",
    "asa_s",
    "outbound_per_s",
    "occupancy",
    "p_idle_reserved",
)
_TAIL = 1e-15


def blend_metrics(
    arrival_rate_per_s: ArrayLike,
    aht_s: ArrayLike,
    outbound_aht_s: ArrayLike,
    agents: ArrayLike,
    threshold: ArrayLike,
    target_s: ArrayLike,
    *,
    patience_s: ArrayLike = np.inf,
) -> dict[str, np.ndarray]:
    """Blending metrics (see the module doc); every argument broadcasts, ``agents`` and
    ``threshold`` integers with ``0 <= threshold <= agents``."""
    lam = as_param("arrival_rate_per_s", arrival_rate_per_s)
    h = as_param("aht_s", aht_s, positive=True)
    h_out = as_param("outbound_aht_s", outbound_aht_s, positive=True)
    n = as_param("agents", agents, integer=True)
    s = as_param("threshold", threshold, integer=True)
    t = as_param("target_s", target_s, allow_inf=True)
    pat = as_param("patience_s", patience_s, positive=True, allow_inf=True)
    arrays = np.broadcast_arrays(lam, h, h_out, n, s, t, pat)
    shape = arrays[0].shape
    lam, h, h_out, n, s, t, pat = (np.ravel(v) for v in arrays)
    if np.any(s > n):
        bad = int(np.flatnonzero(s > n)[0])
        raise ParameterError(
            f"expected threshold <= agents, got {s[bad]:g} > {n[bad]:g}", field="threshold"
        )
    out = {key: np.empty(lam.size) for key in BLEND_KEYS}
    for i in range(lam.size):
        one = _blend_one(lam[i], h[i], h_out[i], int(n[i]), int(s[i]), t[i], pat[i])
        for key in BLEND_KEYS:
            out[key][i] = one[key]
    return {k: (v.reshape(shape)[()] if not shape else v.reshape(shape)) for k, v in out.items()}


def _queue_top(lam, mu, theta, n) -> int:
    """Waiting places kept: where the queue's mass (all agents on inbound, the fastest it can
    empty) falls below ``_TAIL``; a generous bound for any outbound mix."""
    if theta == 0.0 and lam >= n * mu:
        return -1
    w, total, k = 1.0, 1.0, 0
    while True:
        k += 1
        ratio = lam / (n * mu + k * theta)
        w *= ratio
        total += w
        if ratio < 1.0 and w < 1e-3 * _TAIL * total:
            return k + 5


def _states(n, s, top, o_low, o_high):
    """Valid (o, k): ``o_low <= o <= o_high``, ``max(-s, o - n) <= k <= top``."""
    o_list, k_list = [], []
    for o in range(o_low, o_high + 1):
        k = np.arange(max(-s, o - n), top + 1)
        o_list.append(np.full(k.size, o))
        k_list.append(k)
    return np.concatenate(o_list), np.concatenate(k_list)


def _generator(lam, mu, mu_out, theta, n, s, top, o_low, o_high):
    """Generator of the chain on the window ``o_low <= o <= o_high`` (a move of ``o`` out of
    it is censored to its edge; the edges' mass is checked by the caller)."""
    o, k = _states(n, s, top, o_low, o_high)
    k_min = np.maximum(-s, np.arange(o_low, o_high + 1) - n)
    start = np.concatenate([[0], np.cumsum(top + 1 - k_min)])

    def index(o2, k2):
        """State index of (o2, k2) (``o2`` censored to the window), or -1: not a state."""
        row = np.clip(o2, o_low, o_high) - o_low
        inside = (k2 >= k_min[row]) & (k2 <= top)
        return np.where(inside, start[row] + k2 - k_min[row], -1)

    source = np.arange(o.size)
    rows, cols, vals = [], [], []

    def add(mask, o2, k2, rate):
        target = index(o2, k2)
        rate = np.broadcast_to(rate, o.shape)
        keep = mask & (target >= 0) & (rate > 0) & (target != source)
        rows.append(source[keep])
        cols.append(target[keep])
        vals.append(rate[keep])

    add(k < top, o, k + 1, lam)  # inbound arrival
    inbound_busy = n - o + np.minimum(k, 0)
    starts_outbound = (k == -s) & (s < n - o)  # an agent frees with too many idle
    add((inbound_busy > 0) & starts_outbound, o + 1, k, inbound_busy * mu)
    add((inbound_busy > 0) & ~starts_outbound, o, k - 1, inbound_busy * mu)
    add(k > 0, o, k - 1, np.maximum(k, 0) * theta)  # abandonment
    # an outbound call ends; at k = -s the freed agent restarts outbound (no change)
    add((o > 0) & (k > -s), o - 1, k - 1, o * mu_out)
    rows, cols, vals = (np.concatenate(v) for v in (rows, cols, vals))
    size = o.size
    q = sparse.coo_matrix((vals, (rows, cols)), shape=(size, size)).tocsr()
    q = q - sparse.diags(np.asarray(q.sum(axis=1)).ravel())
    return q, o, k


def _stationary(q, anchor: int) -> np.ndarray:
    """pi Q = 0, sum pi = 1: the balance equations without the ``anchor`` state's, with
    ``pi[anchor] = 1`` (keeps the system sparse, unlike a row of ones), then normalised."""
    a = q.T.tocsc()
    keep = np.ones(q.shape[0], dtype=bool)
    keep[anchor] = False
    rhs = -np.asarray(a[:, anchor].todense()).ravel()[keep]
    reduced = a[keep][:, keep]
    solution = sparse_linalg.spsolve(reduced.tocsc(), rhs, permc_spec="MMD_AT_PLUS_A")
    pi = np.insert(solution, anchor, 1.0)
    pi = np.maximum(pi, 0.0)
    return pi / pi.sum()


def _widen(pi, o, k, window, n, s) -> bool:
    """Move out the cut edges of ``window = [lowest o, highest o, queue top]`` (the queue's
    top, a raised lowest or a lowered highest ``o``) holding more than ``_TAIL``; False when
    none does."""
    moved = False
    if pi[k == window[2]].sum() > _TAIL:
        if window[2] > 100_000:
            raise ParameterError("the inbound queue did not fit the truncation", field="agents")
        window[2] *= 2
        moved = True
    width = window[1] - window[0] + 1
    if window[0] > 0 and pi[o == window[0]].sum() > _TAIL:
        window[0] = max(0, window[0] - width)
        moved = True
    if window[1] < n - s and pi[o == window[1]].sum() > _TAIL:
        window[1] = min(n - s, window[1] + width)
        moved = True
    return moved


def _anchor(o: np.ndarray, k: np.ndarray, busy_out: int) -> int:
    """Index of the state with ``busy_out`` outbound calls and the fewest idle agents
    allowed (k closest to 0 from below, or 0)."""
    rows = np.flatnonzero(o == busy_out)
    return int(rows[np.argmin(np.abs(k[rows]))])


def _blend_one(lam, h, h_out, n, s, t, patience) -> dict[str, float]:
    mu, mu_out = 1.0 / h, 1.0 / h_out
    theta = 0.0 if np.isinf(patience) else 1.0 / patience
    # below one contact in 30,000 years the chain's weights underflow (a 1e-300/s rate found
    # no staffing at all): such a queue has no inbound work
    if lam < NO_INBOUND_BELOW_PER_S:
        out_busy = n - s
        return {
            "p_wait": 0.0,
            "p_abandon": 0.0,
            "service_level": 1.0,
            "service_level_answered": 1.0,
            "asa_s": 0.0,
            "outbound_per_s": out_busy * mu_out,
            "occupancy": out_busy / n if n else 0.0,
            "p_idle_reserved": 1.0 if s > 0 else 0.0,
        }
    # while calls wait, agents finishing outbound take them: the queue empties at the rate of
    # all agents on inbound, so that queue's tail (with slack, checked below) bounds it
    top = _queue_top(lam, mu, theta, n) if n > 0 else _queue_top(lam, 0.0, theta, 1)
    if top < 0:
        raise ParameterError(
            f"no steady state: {lam * h:g} Erlangs of inbound work on {n} agents without "
            "abandonment",
            field="agents",
        )
    top = int(top * 1.5) + 10
    # outbound calls in progress: about agents - threshold - load, spread like the load
    load = lam * h
    spread = int(12.0 * np.sqrt(load + 1.0)) + 10
    # (an outbound call starts only with more than `threshold` idle: at most n - s of them)
    window = [max(0, int(n - s - load) - spread), min(n - s, int(n - load) + spread), top]
    while True:
        q, o, k = _generator(lam, mu, mu_out, theta, n, s, window[2], window[0], window[1])
        # anchor: inbound agents near the load, no queue (a state with much of the mass)
        busy_out = int(np.clip(n - s - round(load), window[0], window[1]))
        anchor = _anchor(o, k, busy_out)
        pi = _stationary(q, anchor)
        if not _widen(pi, o, k, window, n, s):
            break
    top = window[2]
    waits = k >= 0
    p_wait = float(pi[waits].sum())
    # the waiting call's law, mixed over the states it finds (PASTA)
    start = np.zeros((n + 1, top + 1))
    np.add.at(start, (o[waits], k[waits]), pi[waits])
    answered_wait_mass, answered_wait_time = blend_wait.answered_laws(start, mu, mu_out, theta, n)
    if np.isfinite(t) and t > 0:
        within = blend_wait.answered_within(start, mu, mu_out, theta, n, t)
    elif np.isinf(t):
        within = answered_wait_mass
    else:
        within = 0.0
    p_answered = (1.0 - p_wait) + answered_wait_mass
    sl = (1.0 - p_wait) + within
    busy_in = lam * p_answered * h
    out_mean = float(np.dot(pi, o))
    return {
        "p_wait": p_wait,
        "p_abandon": 1.0 - p_answered,
        "service_level": min(sl, 1.0),
        "service_level_answered": min(sl / p_answered, 1.0) if p_answered > 0 else 0.0,
        "asa_s": answered_wait_time / p_answered if p_answered > 0 else np.inf,
        "outbound_per_s": out_mean * mu_out,
        "occupancy": min((busy_in + out_mean) / n, 1.0) if n else 0.0,
        "p_idle_reserved": float(pi[k < 0].sum()),
    }


def blend_staffing(
    arrival_rate_per_s: ArrayLike,
    aht_s: ArrayLike,
    outbound_aht_s: ArrayLike,
    target_s: ArrayLike,
    service_level: ArrayLike,
    outbound_per_s: ArrayLike,
    *,
    patience_s: ArrayLike = np.inf,
    max_agents: int = 2_000,
) -> tuple[Values, Values]:
    """Least agents, and for them the smallest threshold (the most outbound), such that the
    inbound service level reaches ``service_level`` and at least ``outbound_per_s`` outbound
    calls complete per second. Returns ``(agents, threshold)`` as int64 arrays.

    For given agents the service level rises and the outbound rate falls with the threshold,
    so the smallest threshold meeting the service level is the best one; more agents never
    hurt either target at their best thresholds, so the first agents that pass are least."""
    from openwfm.queueing.inversion import required_agents

    lam = as_param("arrival_rate_per_s", arrival_rate_per_s)
    h = as_param("aht_s", aht_s, positive=True)
    h_out = as_param("outbound_aht_s", outbound_aht_s, positive=True)
    t = as_param("target_s", target_s, allow_inf=True)
    sl = as_param("service_level", service_level, upper=1.0)
    volume = as_param("outbound_per_s", outbound_per_s)
    pat = as_param("patience_s", patience_s, positive=True, allow_inf=True)
    arrays = np.broadcast_arrays(lam, h, h_out, t, sl, volume, pat)
    shape = arrays[0].shape
    lam, h, h_out, t, sl, volume, pat = (np.ravel(v) for v in arrays)
    agents = np.empty(lam.size, dtype=np.int64)
    thresholds = np.empty(lam.size, dtype=np.int64)
    for i in range(lam.size):
        patience = None if np.isinf(pat[i]) else pat[i]
        inbound_only = int(required_agents(lam[i], h[i], t[i], sl[i], patience_s=patience))
        n = max(inbound_only, 1)  # outbound only takes from inbound: a lower bound
        while True:
            if n > max_agents:
                raise ParameterError(
                    f"no staffing up to {max_agents} agents meets both targets at element {i}",
                    field="outbound_per_s",
                )
            threshold = least_threshold(lam[i], h[i], h_out[i], n, t[i], sl[i], pat[i])
            if threshold is not None:
                got = _blend_one(lam[i], h[i], h_out[i], n, threshold, t[i], pat[i])
                if got["outbound_per_s"] >= volume[i] - 1e-12:
                    break
            n += 1
        agents[i], thresholds[i] = n, threshold
    agents, thresholds = agents.reshape(shape), thresholds.reshape(shape)
    if not shape:
        return agents[()], thresholds[()]
    return agents, thresholds


def least_threshold(
    arrival_rate_per_s: float,
    aht_s: float,
    outbound_aht_s: float,
    agents: int,
    target_s: float,
    service_level: float,
    patience_s: float,
) -> int | None:
    """Smallest threshold (idle agents kept free for inbound, ``0..agents``) whose inbound
    service level within ``target_s`` seconds reaches ``service_level`` (bisection: the
    service level rises with the threshold); None if even ``agents`` does not. Rates per
    second, times in seconds. Staffing and the simulator pick a threshold with it."""

    def passes(s):
        try:
            metrics = _blend_one(
                arrival_rate_per_s, aht_s, outbound_aht_s, agents, s, target_s, patience_s
            )
        except ParameterError:
            return False
        return metrics["service_level"] >= service_level - 1e-12

    if not passes(agents):
        return None
    lo, hi = -1, agents
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if passes(mid):
            hi = mid
        else:
            lo = mid
    return hi

"""Birth-death queues in log space: the chat model (agents holding up to k chats at once).

Chat: ``agents`` agents each hold up to ``k`` chats; a new chat goes to the least-loaded
agent, so with ``m`` chats in progress the agents hold ``floor(m/N)`` or ``ceil(m/N)``
chats. ``aht_s_by_concurrency[c-1]`` is the mean handle time of one chat while its agent holds
``c`` (practitioners measure it per level), so an agent holding ``c`` chats completes them at
rate ``c / aht_c``. Beyond ``N k`` chats arrivals queue (FCFS) and abandon at rate
``1/patience_s`` each; the queue then empties at the constant rate ``r = N k / aht_k`` plus
abandonments - an Erlang A tail, summed in closed form (``_core.queue_sums``), so there is no
truncation error; without patience the tail is geometric (requires ``lambda < r``).
"""

from __future__ import annotations

import numpy as np
from scipy import special

from openwfm.errors import ParameterError
from openwfm.queueing import _core
from openwfm.queueing._types import ArrayLike
from openwfm.queueing.erlang import as_param


def stationary_log_weights(birth: np.ndarray, death: np.ndarray) -> np.ndarray:
    """log pi_m - log pi_0 of a finite birth-death chain (``birth[m]``: rate m -> m+1,
    ``death[m]``: rate m -> m-1, ``death[0]`` unused); arrays (..., states)."""
    with np.errstate(divide="ignore"):
        steps = np.log(birth[..., :-1]) - np.log(death[..., 1:])
    zeros = np.zeros(birth.shape[:-1] + (1,))
    return np.concatenate([zeros, np.cumsum(steps, axis=-1)], axis=-1)


def chat_metrics(
    arrival_rate_per_s: ArrayLike,
    aht_s_by_concurrency: ArrayLike,
    agents: ArrayLike,
    target_s: ArrayLike,
    patience_s: ArrayLike | None = None,
) -> dict[str, np.ndarray]:
    """P(wait), P(abandon), service level (answered within ``target_s`` / offered), occupancy
    (busy chat slots / all slots) of the chat model, per element of ``arrival_rate_per_s`` x
    ``agents`` (1-d arrays of the same length; ``agents`` integers)."""
    lam = np.atleast_1d(as_param("arrival_rate_per_s", arrival_rate_per_s))
    n = np.atleast_1d(as_param("agents", agents, integer=True))
    lam, n = np.broadcast_arrays(lam, n)
    aht = np.atleast_1d(as_param("aht_s_by_concurrency", aht_s_by_concurrency, positive=True))
    if aht.ndim != 1:
        raise ParameterError("expected one handle time per concurrency level", field="aht")
    k = aht.size
    t = float(as_param("target_s", target_s, allow_inf=True))
    theta = (
        0.0
        if patience_s is None
        else 1.0 / float(as_param("patience_s", patience_s, positive=True, allow_inf=True))
    )
    size = lam.size
    max_states = int(n.max()) * k + 1 if size else 1
    m = np.arange(max_states)[None, :]
    nn = n[:, None]
    # chats per agent: r = m mod N agents hold q+1, the others q (q = m // N)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(nn > 0, m // np.maximum(nn, 1), 0)
        r = m - q * nn
    levels = np.concatenate([[0.0], np.arange(1, k + 1) / aht])  # rate of an agent at level c
    q_idx = np.clip(q, 0, k).astype(int)
    q1_idx = np.clip(q + 1, 0, k).astype(int)
    death = (nn - r) * levels[q_idx] + r * levels[q1_idx]
    valid = m <= nn * k
    birth = np.where(valid, lam[:, None], 1.0)
    death = np.where(valid, death, 1.0)
    log_w = stationary_log_weights(birth, np.where(death > 0, death, 1.0))
    log_w = np.where(valid, log_w, -np.inf)
    full = (n * k).astype(int)
    log_w_full = log_w[np.arange(size), np.minimum(full, max_states - 1)]
    log_below = special.logsumexp(np.where(m < nn * k, log_w, -np.inf), axis=1)
    busy_slots = np.where(m < nn * k, m, 0)  # state N k is counted in p_wait below
    rate_full = n * k / aht[-1]
    p_wait = np.ones(size)
    p_ab = np.zeros(size)
    sl = np.zeros(size)
    occ = np.ones(size)
    zero = lam == 0
    p_wait[zero], sl[zero], occ[zero] = 0.0, 1.0, 0.0
    ok = ~zero & (n > 0)
    if theta > 0:
        x = rate_full / theta
        y = lam / theta
        log_s = np.full(size, np.nan)
        ab_w = np.zeros(size)
        if np.any(ok):
            log_s[ok], ab_w[ok] = _core.queue_sums(x[ok], y[ok])
        u = np.exp(-theta * t) if np.isfinite(t) else 0.0
        tail = np.zeros(size)
        if np.any(ok) and u > 0:
            ls_u, _ = _core.queue_sums(x[ok] + 1, np.maximum(y[ok] * u, 1e-300))
            ls_1, _ = _core.queue_sums(x[ok] + 1, y[ok])
            tail[ok] = np.exp(-(x[ok] + 1) * theta * t - y[ok] * np.expm1(-theta * t) + ls_u - ls_1)
        answered_within_q = (1 - ab_w) * (1 - tail)
    else:
        ratio = np.where(rate_full > 0, lam / np.maximum(rate_full, 1e-300), np.inf)
        stable = ok & (ratio < 1)
        log_s = np.where(stable, -np.log1p(-np.minimum(ratio, 0.999999999999)), np.inf)
        ab_w = np.zeros(size)
        answered_within_q = np.where(stable, -np.expm1(-(rate_full - lam) * t), 0.0)
    log_queue = log_w_full + log_s
    with np.errstate(invalid="ignore"):
        total = np.logaddexp(log_below, log_queue)
    pw = np.exp(log_queue - total)
    p_wait[ok] = pw[ok]
    p_ab[ok] = (pw * ab_w)[ok]
    sl[ok] = ((1 - pw) + pw * answered_within_q)[ok]
    probs = np.exp(log_w - total[:, None])
    busy = (probs * busy_slots).sum(axis=1) + pw * n * k
    occ[ok] = np.minimum(busy / np.maximum(n * k, 1), 1.0)[ok]
    return {"p_wait": p_wait, "p_abandon": p_ab, "service_level": sl, "occupancy": occ}


def erlang_x(
    arrival_rate_per_s: ArrayLike,
    aht_s: ArrayLike,
    patience_s: ArrayLike,
    agents: ArrayLike,
    lines: ArrayLike,
    target_s: ArrayLike,
) -> dict[str, np.ndarray]:
    """Erlang X style M/M/n/L+M: ``lines`` places in total (agents + waiting), exponential
    patience (``inf``: none). Arrivals finding every line busy are blocked (busy tone).

    The chain is finite (states 0..L), so it is solved exactly in log space, no truncation.
    Given ``j`` contacts ahead, the offered wait is the (j+1)-th death among ``x + j``
    exponential lifetimes (``x = n mu / theta``), so P(answered within t | j) =
    ``x/(x+j+1) I_{1-u}(j+1, x+1)`` (regularised incomplete beta, ``u = exp(-theta t)``);
    without patience it is the Erlang distribution ``P(Gamma(j+1, n mu) <= t)``.
    Returns ``p_block, p_wait, p_abandon, service_level`` (answered within t / offered,
    blocked contacts count as not answered) and ``occupancy``; arrays of the broadcast shape.
    """
    lam = as_param("arrival_rate_per_s", arrival_rate_per_s)
    h = as_param("aht_s", aht_s, positive=True)
    pat = as_param("patience_s", patience_s, positive=True, allow_inf=True)
    n = as_param("agents", agents, integer=True)
    lines_ = as_param("lines", lines, integer=True)
    t = as_param("target_s", target_s)
    lam, h, pat, n, lines_, t = np.broadcast_arrays(lam, h, pat, n, lines_, t)
    if np.any(lines_ < n):
        raise ParameterError("expected lines >= agents", field="lines")
    shape = lam.shape
    lam, h, pat, n, lines_, t = (np.ravel(v) for v in (lam, h, pat, n, lines_, t))
    size_states = int(lines_.max()) + 1 if lam.size else 1
    m = np.arange(size_states)[None, :].astype(float)
    mu, theta = 1.0 / h[:, None], np.where(np.isinf(pat), 0.0, 1.0 / pat)[:, None]
    nn, ll = n[:, None], lines_[:, None]
    valid = m <= ll
    death = np.minimum(m, nn) * mu + np.maximum(m - nn, 0.0) * theta
    birth = np.broadcast_to(np.maximum(lam[:, None], 1e-300), (lam.size, size_states))
    log_w = stationary_log_weights(birth, np.where(death > 0, death, 1.0))
    log_w = np.where(valid, log_w, -np.inf)
    probs = np.exp(log_w - special.logsumexp(log_w, axis=1, keepdims=True))
    blocked = probs[np.arange(lam.size), lines_.astype(int)]
    waits = valid & (m >= nn) & (m < ll)
    j = np.maximum(m - nn, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(theta > 0, nn * mu / np.where(theta > 0, theta, 1.0), np.inf)
        u = np.exp(-theta * t[:, None])
        impatient = special.betainc(j + 1.0, x + 1.0, 1.0 - u) * x / (x + j + 1.0)
        patient = special.gammainc(j + 1.0, nn * mu * t[:, None])
    answered_in_t = np.where(theta > 0, impatient, patient)
    answered_in_t = np.where(nn > 0, answered_in_t, 0.0)
    with np.errstate(invalid="ignore"):
        ans_prob = np.where(theta > 0, x / (x + j + 1.0), 1.0)
    ans_prob = np.where(nn > 0, ans_prob, 0.0)
    no_wait = valid & (m < nn)
    p_wait = np.where(waits, probs, 0.0).sum(axis=1)
    p_ab = np.where(waits, probs * (1.0 - ans_prob), 0.0).sum(axis=1)
    sl = np.where(no_wait, probs, 0.0).sum(axis=1) + np.where(
        waits, probs * answered_in_t, 0.0
    ).sum(axis=1)
    busy = (np.minimum(m, nn) * probs).sum(axis=1)
    zero = lam == 0
    out = {
        "p_block": np.where(zero, 0.0, blocked),
        "p_wait": np.where(zero, 0.0, p_wait),
        "p_abandon": np.where(zero, 0.0, p_ab),
        "service_level": np.where(zero, 1.0, np.clip(sl, 0.0, 1.0)),
        "occupancy": np.where(n > 0, busy / np.maximum(n, 1), 0.0),
    }
    return {k: (v.reshape(shape)[()] if not shape else v.reshape(shape)) for k, v in out.items()}

"""Compiled Erlang A kernel: one element's metrics in microseconds (scalar calls and arrays).

Erlang A reduces to ``1/B - 1`` and to sums over the queue (see :mod:`openwfm.queueing._core`);
here both are summed directly with positive terms, which keeps full relative accuracy where
they are short. Elements outside that range are flagged for the general vectorised path.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from openwfm.queueing._core import _inverse_b_minus_one, _kernel_eligible

# ------------------------------------------------------------------ compiled Erlang A kernel
#
# Erlang A reduces to 1/B - 1 and to sums over the queue, s_j = y**j / ((x+1)...(x+j)): their
# terms rise while j < y - x, then fall faster than geometrically. Summed directly (positive
# terms, full relative accuracy) they cost ~(y - x) + 10 sqrt(y) steps; a scalar call then
# takes microseconds instead of the general path's dozens of NumPy passes.

_A_MAX_QUEUE_LOAD = 50_000.0  # y = lambda * patience; beyond it the sums grow long
# One Erlang A element costs the general path ~20 us, so the 1/B sum pays off to high loads.
_A_MAX_TRAFFIC = 200_000.0
_A_OUTPUTS = 9  # metrics per element, in the order of ``_erlang_a_one``


@njit(cache=True, nogil=True, inline="always")
def _queue_sums_ok(x: float, y: float) -> bool:
    """The sums take about (y - x) + 10 sqrt(y) steps: keep them short enough."""
    return y <= _A_MAX_QUEUE_LOAD


_RESCALE = 1e250


@njit(cache=True, nogil=True)
def _queue_series(x: float, y: float, with_wait: bool):
    """``(log S, T / S, W / S)``: ``S = sum_j s_j``, ``T = sum_j j s_j`` and ``W = sum_j s_j
    x/(x+j+1) H_j`` with ``H_j = sum_{m<=j} 1/(x+m+1)`` (see ``queue_sums`` and
    ``answered_wait_series``). The running sums are rescaled when they grow past 1e250, so
    long queues (terms up to e**(y - x) and beyond) do not overflow.
    """
    term = 1.0
    total = 1.0
    weighted = 0.0
    log_scale = 0.0
    harmonic = 1.0 / (x + 1.0)
    wait = x / (x + 1.0) * harmonic if with_wait else 0.0
    j = 0.0
    while True:
        j += 1.0
        term *= y / (x + j)
        total += term
        weighted += j * term
        piece = 0.0
        if with_wait:
            harmonic += 1.0 / (x + j + 1.0)
            piece = term * x / (x + j + 1.0) * harmonic
            wait += piece
        if j > y - x and j * term <= 1e-17 * weighted and piece <= 1e-17 * wait:
            return np.log(total) + log_scale, weighted / total, wait / total
        if total > _RESCALE:
            term /= _RESCALE
            total /= _RESCALE
            weighted /= _RESCALE
            wait /= _RESCALE
            log_scale += np.log(_RESCALE)


@njit(cache=True, nogil=True)
def _log_tail(x: float, y: float, theta: float, t_s: float, shift: float) -> float:
    """log(u**(x+shift) e**(y(1-u)) S(x+shift, y u) / S(x+shift, y)), u = exp(-theta t)."""
    if np.isinf(t_s):
        return -np.inf
    u = np.exp(-theta * t_s)
    log_s_u = _queue_series(x + shift, y * u, False)[0]
    log_s_1 = _queue_series(x + shift, y, False)[0]
    value = -(x + shift) * theta * t_s - y * np.expm1(-theta * t_s)
    return min(value + log_s_u - log_s_1, 0.0)


_GL32_X, _GL32_W = np.polynomial.legendre.leggauss(32)
_MAX_PANELS = 64


@njit(cache=True, nogil=True)
def _answered_within_ratio(x: float, y: float, theta: float, t_s: float) -> float:
    """``E[exp(-theta V); V <= t | wait] / E[exp(-theta V) | wait]`` (V: the offered wait).

    As ``1 - exp(log_tail)`` it cancels when the ratio is small (short targets, long queues):
    a ratio of 1e-6 keeps only ~1e-9 of relative accuracy, 1e-14 none. It equals
    ``(x+1) / S(x+1, y) * int_0^L (1-z)**x e**(y z) dz`` with ``L = 1 - exp(-theta t)``
    (substitute w = exp(-theta v) in the wait density), so small ratios are integrated
    directly: the log-integrand ``phi`` is concave, its variation over [0, L] is at most
    ``max |phi'| L`` at the ends, and panels of 32-point Gauss-Legendre with a variation of
    at most 8 each integrate it to rounding.
    """
    log_tail = _log_tail(x, y, theta, t_s, 1.0)
    if log_tail < -0.5 or np.isinf(t_s):
        return -np.expm1(log_tail)
    length = -np.expm1(-theta * t_s)
    if length <= 0.0:
        return 0.0
    if length >= 1.0:
        return -np.expm1(log_tail)
    slope_start = y - x
    slope_end = y - x / (1.0 - length)
    variation = max(abs(slope_start), abs(slope_end)) * length
    panels = int(np.ceil(variation / 8.0)) if variation > 8.0 else 1
    if panels > _MAX_PANELS:
        return -np.expm1(log_tail)
    # the maximum of phi on [0, L] (concave: its stationary point, clipped), factored out
    peak = min(max(1.0 - x / y, 0.0), length) if y > 0.0 else 0.0
    phi_max = x * np.log1p(-peak) + y * peak
    width = length / panels
    half = 0.5 * width
    integral = 0.0
    for panel in range(panels):
        centre = (panel + 0.5) * width
        for k in range(_GL32_X.size):
            z = centre + half * _GL32_X[k]
            integral += _GL32_W[k] * np.exp(x * np.log1p(-z) + y * z - phi_max)
    integral *= half
    log_ratio = np.log((x + 1.0) * integral) + phi_max - _queue_series(x + 1.0, y, False)[0]
    return min(np.exp(log_ratio), 1.0)


@njit(cache=True, nogil=True)
def _erlang_a_one(lam, h, pat, n, t, short, with_asa, out) -> bool:
    """Erlang A for one element (lam > 0, n > 0, finite patience) into ``out[:9]`` (p_wait,
    p_ab, asa, sl, sl_ans, sl_short, ab_short, occ, lq); False where the sums do not apply."""
    theta = 1.0 / pat
    a = lam * h
    x = n / (h * theta)
    y = lam / theta
    if not (_kernel_eligible(a, n, _A_MAX_TRAFFIC) and _queue_sums_ok(x, y)):
        return False
    # relative to P(n in system): P(< n) = 1/B - 1 and P(>= n) = S
    log_below = np.log(_inverse_b_minus_one(a, n))
    log_queue, weighted_per_queue, wait_per_queue = _queue_series(x, y, with_asa)
    p_wait = 1.0 / (1.0 + np.exp(log_below - log_queue))
    p_no_wait = 1.0 / (1.0 + np.exp(log_queue - log_below))
    ab_given_wait = min(weighted_per_queue / y, 1.0)
    p_ab = p_wait * ab_given_wait
    answered_within_q = (1.0 - ab_given_wait) * _answered_within_ratio(x, y, theta, t)
    sl = min(max(p_no_wait + p_wait * answered_within_q, 0.0), 1.0)
    tail_short = np.exp(_log_tail(x, y, theta, short, 0.0))
    answered_short = (1.0 - ab_given_wait) * -np.expm1(_log_tail(x, y, theta, short, 1.0))
    u_short = 0.0 if np.isinf(short) else np.exp(-theta * short)
    ab_short = p_wait * min(max(1.0 - answered_short - u_short * tail_short, 0.0), 1.0)
    answered = p_no_wait + p_wait * (1.0 - ab_given_wait)
    out[0] = p_wait
    out[1] = p_ab
    if not with_asa:
        out[2] = np.nan
    elif answered > 0.0:
        out[2] = p_wait * wait_per_queue / theta / answered
    else:
        out[2] = np.inf
    out[3] = sl
    out[4] = sl / answered if answered > 0.0 else 0.0
    out[5] = min(sl / max(1.0 - ab_short, 1e-300), 1.0)
    out[6] = ab_short
    out[7] = min(lam * (1.0 - p_ab) * h / n, 1.0)
    out[8] = p_ab * y
    return True


@njit(cache=True, nogil=True)
def erlang_a_kernel(lam, h, pat, n, t, short, with_asa, out, fallback) -> None:
    """``_erlang_a_one`` over 1-d arrays; ``out`` is (9, size); ``fallback`` marks the rest."""
    row = np.empty(_A_OUTPUTS)
    for i in range(lam.size):
        if _erlang_a_one(lam[i], h[i], pat[i], n[i], t[i], short[i], with_asa, row):
            for k in range(_A_OUTPUTS):
                out[k, i] = row[k]
        else:
            fallback[i] = True


@njit(cache=True, nogil=True)
def erlang_a_scalar(lam, h, pat, n, t, short, with_asa):
    """``_erlang_a_one`` for plain numbers: ``(handled, p_wait, ..., lq)`` as a tuple."""
    row = np.empty(_A_OUTPUTS)
    handled = _erlang_a_one(lam, h, pat, n, t, short, with_asa, row)
    return handled, row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8]

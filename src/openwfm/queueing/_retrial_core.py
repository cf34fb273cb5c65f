"""Compiled kernels of the M/M/n/L+M queue seen by an arriving call (Erlang X building blocks).

Two pieces, each for one element with an integer number of agents ``n``:

- :func:`birth_death_view`: the stationary distribution of the number in system ``x`` of the
  one-dimensional chain (Poisson arrivals ``lam``, ``min(x, n) mu`` services, ``(x - n)+
  theta`` abandonments, ``lines`` places in all or infinitely many), truncated where the
  remaining mass is below ``1e-17`` of the total (infinite lines only);
- :func:`call_metrics`: every metric of a call that arrives to find ``x`` in system with
  probability ``view[x]``.

Waiting-time laws: a call that finds ``j`` waiting ahead (``x = n + j``) and waits is answered
when the ``(j+1)``-th of the departures ahead of it happens; the departure rate with ``m``
ahead is ``n mu + m theta``. With ``c = n mu / theta`` and ``u = exp(-theta t)``:

- P(answered) = ``c / (c + j + 1)``;
- P(answered within t) = ``c / (c + j + 1) P(NB(c + 1, u) > j)``;
- P(virtual wait <= t) (the wait of a call that never abandons) = ``P(NB(c, u) > j)``;

``NB(r, p)`` the negative binomial number of failures before the ``r``-th success (real ``r``),
so these are the incomplete beta functions ``I_{1-u}(j+1, c+1)`` and ``I_{1-u}(j+1, c)``.
Without abandonment (``theta = 0``) the wait is Erlang(j+1, n mu): ``P(Poisson(n mu t) > j)``.
The tails are accumulated along ``j`` in log space (one recursion per law), so each state
costs a few flops.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# outputs of call_metrics, in order
METRIC_KEYS = (
    "p_block",
    "p_wait",
    "p_abandon",
    "service_level",
    "service_level_answered",
    "service_level_virtual",
    "asa_s",
    "queue_length",
)
N_METRICS = len(METRIC_KEYS)
_RESCALE = 1e200
_NEGLIGIBLE = 1e-17
MAX_STATES = 5_000_000
TINY_TRAFFIC = 1e-250


@njit(cache=True, nogil=True)
def _weights_below_agents(lam, mu, n, out):
    """Relative weights of ``x = 0..n`` into ``out`` (``w_n = 1`` before rescaling),
    downwards, rescaled when they grow; returns the scale of ``w_n`` in the result."""
    out[n] = 1.0
    scale = 1.0
    for x in range(n, 0, -1):
        factor = (x * mu) / lam
        w = out[x] * factor
        while w > _RESCALE:  # (also when the product overflowed: a tiny lam)
            for k in range(x, n + 1):
                out[k] /= _RESCALE
            scale /= _RESCALE
            w = out[x] * factor
        out[x - 1] = w
    return scale


@njit(cache=True, nogil=True)
def _weights_in_queue(lam, mu, theta, n, lines, out, w, total):
    """Weights of the queue states ``x > n`` appended to ``out`` (``w``: the weight of ``x =
    n``, ``total``: the sum so far); returns the number of states kept, or ``-2`` when ``out``
    is too short. Stops at ``lines``, or for infinite lines (``lines < 0``) where the weight
    is below ``_NEGLIGIBLE`` of the total."""
    capacity = out.size
    x = n
    while not (lines >= 0 and x >= lines):
        if x + 1 >= capacity:
            return -2
        ratio = lam / (n * mu + (x + 1 - n) * theta)
        w *= ratio
        x += 1
        if w > _RESCALE:  # a long overloaded queue: keep the weights in range
            for k in range(x):
                out[k] /= _RESCALE
            total /= _RESCALE
            w /= _RESCALE
        out[x] = w
        total += w
        if lines < 0 and ratio < 1.0 and w < _NEGLIGIBLE * total:
            break
    size = x + 1
    for k in range(size):
        out[k] /= total
    return size


@njit(cache=True, nogil=True)
def birth_death_view(lam, mu, theta, n, lines, out):
    """Stationary distribution of the 1-d chain into ``out[: size]``; returns ``size`` (the
    number of states kept), or ``-1`` when there is no steady state (no abandonment, infinite
    lines and ``lam >= n mu``), or ``-2`` when ``out`` is too short. ``lines < 0``: infinite.
    """
    capacity = out.size
    if n == 0 and theta == 0.0:  # nobody leaves: every line fills and stays full
        if lines < 0 or lines + 1 > capacity:
            return -1 if lines < 0 else -2
        out[: lines + 1] = 0.0
        out[lines] = 1.0
        return lines + 1
    if (lines >= 0 and lines + 1 > capacity) or n + 1 > capacity:
        return -2
    scale = _weights_below_agents(lam, mu, n, out)
    if lines < 0 and theta == 0.0 and lam >= n * mu:
        return -1
    total = 0.0
    for x in range(n + 1):
        total += out[x]
    return _weights_in_queue(lam, mu, theta, n, lines, out, scale, total)


@njit(cache=True, nogil=True, inline="always")
def _log_add(a, b):
    if a == -np.inf:
        return b
    if b == -np.inf:
        return a
    if a > b:
        return a + math.log1p(math.exp(b - a))
    return b + math.log1p(math.exp(a - b))


@njit(cache=True, nogil=True)
def call_metrics(view, size, n, mu, theta, lines, t, out):
    """Metrics of an arriving call from ``view[:size]`` (P(finds x in system)); ``out`` gets
    ``METRIC_KEYS`` in order. ``lines < 0``: infinite (nobody blocked)."""
    p_block = view[lines] if (lines >= 0 and lines < size) else 0.0
    no_wait = 0.0
    for x in range(min(n, size)):
        no_wait += view[x]
    p_wait = 0.0
    p_ab = 0.0
    within = 0.0
    virtual = 0.0
    wait_answered = 0.0
    queue = 0.0
    rate_n = n * mu
    finite_t = t < np.inf
    # log-space recursions of the two negative binomial (or Poisson) cdfs along j
    if theta > 0.0:
        c = rate_n / theta
        u = math.exp(-theta * t) if finite_t else 0.0
        log_u = math.log(u) if u > 0.0 else -np.inf
        log_1mu = math.log1p(-u) if u < 1.0 else -np.inf
    else:
        c = np.inf
        m = rate_n * t if finite_t else np.inf
        log_m = math.log(m) if m > 0.0 else -np.inf
    log_pmf_a = 0.0  # NB(c+1, u) (answered within t) or Poisson(m)
    log_pmf_v = 0.0  # NB(c, u) (virtual wait)
    log_cdf_a = -np.inf
    log_cdf_v = -np.inf
    harmonic = 0.0
    last = size - 1 if (lines >= 0 and lines < size) else size
    for x in range(n, last):
        j = x - n
        q = view[x]
        p_wait += q
        # recursions up to index j
        if theta > 0.0:
            if j == 0:
                log_pmf_a = (c + 1.0) * log_u
                log_pmf_v = c * log_u if c > 0.0 else 0.0
            else:
                log_pmf_a += log_1mu + math.log((j + c) / j)
                log_pmf_v += log_1mu + math.log((j + c - 1.0) / j) if c > 0.0 else -np.inf
            answered = c / (c + j + 1.0)
            harmonic += 1.0 / (rate_n + (j + 1.0) * theta)
        else:
            if j == 0:
                log_pmf_a = -m if finite_t else -np.inf
            else:
                log_pmf_a += log_m - math.log(j)
            log_pmf_v = log_pmf_a
            answered = 1.0
            harmonic += 1.0 / rate_n if rate_n > 0.0 else np.inf
        log_cdf_a = _log_add(log_cdf_a, log_pmf_a)
        log_cdf_v = _log_add(log_cdf_v, log_pmf_v)
        if finite_t:
            tail_a = -math.expm1(min(log_cdf_a, 0.0))
            tail_v = -math.expm1(min(log_cdf_v, 0.0))
        else:
            tail_a = 1.0
            tail_v = 1.0
        if n == 0:
            answered = 0.0
            tail_v = 0.0
        p_ab += q * (1.0 - answered)
        within += q * answered * tail_a
        virtual += q * tail_v
        if answered > 0.0:
            wait_answered += q * answered * harmonic
        queue += q * j
    served = 1.0 - p_block - p_ab
    out[0] = p_block
    out[1] = p_wait
    out[2] = p_ab
    out[3] = min(no_wait + within, 1.0)
    out[4] = min((no_wait + within) / served, 1.0) if served > 0.0 else 0.0
    out[5] = min(no_wait + virtual, 1.0)
    out[6] = wait_answered / served if served > 0.0 else np.inf
    out[7] = queue


@njit(cache=True, nogil=True)
def needed_states(lam, mu, theta, n, lines):
    """How many states :func:`birth_death_view` keeps (``-1``: no steady state)."""
    if lines >= 0:
        return lines + 1
    if theta == 0.0 and lam >= n * mu:
        return -1
    # the queue's weights relative to state n; stop where birth_death_view stops (its total
    # includes the states below n, so it never stops later than this)
    w = 1.0
    total = 1.0
    x = n
    while True:
        ratio = lam / (n * mu + (x + 1 - n) * theta)
        w *= ratio
        x += 1
        if w > _RESCALE:
            total /= _RESCALE
            w /= _RESCALE
        total += w
        if ratio < 1.0 and w < _NEGLIGIBLE * total:
            break
        if x > MAX_STATES:
            return -1
    return x + 1


@njit(cache=True, nogil=True, inline="always")
def _negligible_traffic(lam, mu, n):
    """Traffic below 1e-250 Erlangs with an agent: every call is answered at once to within
    1e-250 (the weights ``x mu / lam`` of the chain would overflow)."""
    return n >= 1 and lam <= TINY_TRAFFIC * mu


@njit(cache=True, nogil=True)
def one_dimensional(lam, mu, theta, n, lines, t, out):
    """Metrics of the 1-d chain for one element; False when it has no steady state.
    ``out[7]`` is the time-average queue length (PASTA)."""
    if lam <= 0.0 or _negligible_traffic(lam, mu, n):
        for k in range(N_METRICS):
            out[k] = 0.0
        out[3] = 1.0
        out[4] = 1.0
        out[5] = 1.0
        return True
    need = needed_states(lam, mu, theta, n, lines)
    if need < 0:
        return False
    work = np.empty(max(need, n + 1) + 1)
    size = birth_death_view(lam, mu, theta, n, lines, work)
    if size < 0:
        return False
    call_metrics(work, size, n, mu, theta, lines, t, out)
    return True


@njit(cache=True, nogil=True)
def loss_probability(lam, mu, theta, n, lines):
    """P(an arriving call is blocked or abandons) of the 1-d chain (NaN: no steady state);
    the cheap part of :func:`call_metrics` that the fixed point iterates on."""
    if _negligible_traffic(lam, mu, n):
        return 0.0
    need = needed_states(lam, mu, theta, n, lines)
    if need < 0:
        return np.nan
    work = np.empty(max(need, n + 1) + 1)
    size = birth_death_view(lam, mu, theta, n, lines, work)
    if size < 0:
        return np.nan
    loss = work[lines] if (lines >= 0 and lines < size) else 0.0
    if theta > 0.0:
        c = n * mu / theta
        last = size - 1 if (lines >= 0 and lines < size) else size
        for x in range(n, last):
            j = x - n
            loss += work[x] * (j + 1.0) / (c + j + 1.0)
    return loss


@njit(cache=True, nogil=True)
def _excess(rate, lam, mu, theta, n, lines, retrial):
    """``rate (1 - retrial L(rate)) - lam`` (NaN: no steady state at ``rate``)."""
    loss = loss_probability(rate, mu, theta, n, lines)
    if loss != loss:
        return np.nan
    return rate * (1.0 - retrial * loss) - lam


@njit(cache=True, nogil=True)
def _root_in_bracket(lo, f_lo, hi, f_hi, lam, mu, theta, n, lines, retrial):
    """Regula falsi with the Illinois modification, kept inside ``[lo, hi]`` (``f_lo < 0 <=
    f_hi``), to 1e-15 relative; returns the root (NaN: no steady state on the way)."""
    side = 0
    best, best_f = hi, f_hi
    for _ in range(200):
        mid = (lo * f_hi - hi * f_lo) / (f_hi - f_lo)
        if not (lo < mid < hi):
            mid = 0.5 * (lo + hi)
        f_mid = _excess(mid, lam, mu, theta, n, lines, retrial)
        if f_mid != f_mid:
            return np.nan
        if abs(f_mid) < abs(best_f):
            best, best_f = mid, f_mid
        if f_mid >= 0.0:
            hi, f_hi = mid, f_mid
            if side == 1:
                f_lo *= 0.5
            side = 1
        else:
            lo, f_lo = mid, f_mid
            if side == -1:
                f_hi *= 0.5
            side = -1
        if hi - lo <= 1e-15 * hi or abs(f_mid) <= 1e-16 * lam:
            break
    return best


@njit(cache=True, nogil=True)
def _attempt_rate(lam, mu, theta, n, lines, retrial):
    """The root of ``r (1 - retrial L(r)) = lam`` (NaN: no steady state)."""
    loss_0 = loss_probability(lam, mu, theta, n, lines)
    if loss_0 != loss_0:
        return np.nan
    if loss_0 == 0.0:
        return lam
    # the loss rises with the rate, so lam / (1 - p L(lam)) is still below the root
    lo = lam / (1.0 - retrial * loss_0)
    f_lo = _excess(lo, lam, mu, theta, n, lines, retrial)
    if not f_lo < 0.0:
        return lo if f_lo == f_lo else np.nan
    hi = lam / (1.0 - retrial) if retrial < 1.0 else 2.0 * lam
    f_hi = _excess(hi, lam, mu, theta, n, lines, retrial)
    grow = 0
    while not (f_hi >= 0.0):  # NaN (unstable) or below: only possible with retrial == 1
        if grow > 60:
            return np.nan
        hi *= 2.0
        f_hi = _excess(hi, lam, mu, theta, n, lines, retrial)
        grow += 1
    return _root_in_bracket(lo, f_lo, hi, f_hi, lam, mu, theta, n, lines, retrial)


@njit(cache=True, nogil=True)
def loss_fixed_point(lam, mu, theta, n, lines, t, retrial, out):
    """Long-retry-time limit of Erlang X: the redials form a Poisson stream, so the attempt
    rate ``r`` solves ``r = lam + retrial r L(r)`` (``L``: P(blocked or abandons) at attempt
    rate ``r``). ``r (1 - retrial L(r))`` is increasing (each extra attempt adds at most one
    loss), so the root is bracketed and found by bisection-secant steps to 1e-15 relative.
    Returns the attempt rate (NaN when no steady state); ``out`` gets the metrics there."""
    rate = lam if retrial == 0.0 else _attempt_rate(lam, mu, theta, n, lines, retrial)
    if rate != rate or not one_dimensional(rate, mu, theta, n, lines, t, out):
        return np.nan
    return rate


@njit(cache=True, nogil=True)
def fixed_point_many(lam, mu, theta, n, lines, t, retrial, out, rate):
    """``loss_fixed_point`` over 1-d arrays (``retrial = 0``: the plain 1-d chain);
    ``out`` is (N_METRICS, size), ``rate`` gets the attempt rates (NaN: no steady state)."""
    row = np.empty(N_METRICS)
    for i in range(lam.size):
        if lam[i] <= 0.0:
            rate[i] = 0.0
            one_dimensional(0.0, mu[i], theta[i], n[i], lines[i], t[i], row)
        else:
            rate[i] = loss_fixed_point(
                lam[i], mu[i], theta[i], n[i], lines[i], t[i], retrial[i], row
            )
        for k in range(N_METRICS):
            out[k, i] = row[k] if rate[i] == rate[i] else np.nan

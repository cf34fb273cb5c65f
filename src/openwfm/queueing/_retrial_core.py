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
        for k in range(lines + 1):
            out[k] = 0.0
        out[lines] = 1.0
        return lines + 1
    if lines >= 0 and lines + 1 > capacity:
        return -2
    if n + 1 > capacity:
        return -2
    # below n, downwards from w_n = 1 (rescaled when the weights grow)
    out[n] = 1.0
    scale = 1.0
    for x in range(n, 0, -1):
        w = out[x] * (x * mu) / lam
        if w > _RESCALE:
            for k in range(x, n + 1):
                out[k] /= _RESCALE
            scale /= _RESCALE
            w /= _RESCALE
        out[x - 1] = w
    top = n if lines < 0 else lines
    if lines < 0 and theta == 0.0 and lam >= n * mu:
        return -1
    total = 0.0
    for x in range(n + 1):
        total += out[x]
    w = scale  # w_n in the current scale
    x = n
    while True:
        if lines >= 0 and x >= top:
            break
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


@njit(cache=True, nogil=True)
def one_dimensional(lam, mu, theta, n, lines, t, out):
    """Metrics of the 1-d chain for one element; False when it has no steady state.
    ``out[7]`` is the time-average queue length (PASTA)."""
    if lam <= 0.0:
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
def loss_fixed_point(lam, mu, theta, n, lines, t, retrial, out):
    """Long-retry-time limit of Erlang X: the redials form a Poisson stream, so the attempt
    rate ``r`` solves ``r = lam + retrial r L(r)`` (``L``: P(blocked or abandons) at attempt
    rate ``r``). ``r (1 - retrial L(r))`` is increasing (each extra attempt adds at most one
    loss), so the root is bracketed and found by bisection-secant steps to 1e-15 relative.
    Returns the attempt rate (NaN when no steady state); ``out`` gets the metrics there."""

    def excess(rate):
        loss = loss_probability(rate, mu, theta, n, lines)
        if loss != loss:
            return np.nan
        return rate * (1.0 - retrial * loss) - lam

    if retrial == 0.0:
        one_dimensional(lam, mu, theta, n, lines, t, out)
        return lam
    loss_0 = loss_probability(lam, mu, theta, n, lines)
    if loss_0 != loss_0:
        return np.nan
    if loss_0 == 0.0:
        one_dimensional(lam, mu, theta, n, lines, t, out)
        return lam
    # the loss rises with the rate, so lam / (1 - p L(lam)) is still below the root
    lo = lam / (1.0 - retrial * loss_0)
    f_lo = excess(lo)
    if f_lo != f_lo:
        return np.nan
    if f_lo >= 0.0:
        one_dimensional(lo, mu, theta, n, lines, t, out)
        return lo
    hi = lam / (1.0 - retrial) if retrial < 1.0 else 2.0 * lam
    f_hi = excess(hi)
    grow = 0
    while not (f_hi >= 0.0):  # NaN (unstable) or below: only possible with retrial == 1
        if grow > 60:
            return np.nan
        hi *= 2.0
        f_hi = excess(hi)
        grow += 1
    side = 0
    best, best_f = hi, f_hi
    for _ in range(200):
        # regula falsi with the Illinois modification, kept inside the bracket
        mid = (lo * f_hi - hi * f_lo) / (f_hi - f_lo)
        if not (lo < mid < hi):
            mid = 0.5 * (lo + hi)
        f_mid = excess(mid)
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
    rate = best
    one_dimensional(rate, mu, theta, n, lines, t, out)
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


@njit(cache=True, nogil=True)
def _level_rates(x, y, top, orbit_top, blocking, lam, mu, theta, n, retrial, gamma):
    """(within-level outflow to x-1, to orbit level y+1, to y-1, total outflow) of (x, y)."""
    waiting = max(x - n, 0) * theta
    down_x = min(x, n) * mu + waiting * (1.0 - retrial)
    up_y = waiting * retrial if y < orbit_top else 0.0
    down_y = 0.0
    total = down_x + up_y
    if x < top:
        total += lam + y * gamma  # fresh (same level) and redials (to y-1) enter
        down_y += y * gamma
    elif blocking:
        if y < orbit_top:
            up_y += lam * retrial
            total += lam * retrial
        down_y += y * gamma * (1.0 - retrial)
        total += y * gamma * (1.0 - retrial)
    return down_x, up_y, down_y, total


@njit(cache=True, nogil=True, error_model="numpy")
def orbit_chain(lam, mu, theta, n, top, blocking, retrial, gamma, orbit_top, tol, max_sweeps):
    """Stationary distribution ``pi[y, x]`` of the Erlang X chain (``x`` in system, ``y``
    waiting to redial), by iterative aggregation-disaggregation (Koury-McAllister-Stewart):
    start from the quasi-static guess (given ``y``, the 1-d chain at rate ``lam + y gamma``),
    then repeat (1) the orbit's aggregated birth-death chain solved exactly, (2) one block
    Gauss-Seidel sweep over the orbit levels, each level a tridiagonal solve (column
    diagonally dominant, so no pivoting is needed), until the L1 change is below ``tol``.
    Returns ``(pi, sweeps)``; ``sweeps = -1``: not converged within ``max_sweeps``."""
    height = orbit_top + 1
    width = top + 1
    pi = np.zeros((height, width))
    work = np.empty(width + 1)
    for y in range(height):
        size = birth_death_view(lam + y * gamma, mu, theta, n, top, work)
        if size < 0:
            size = 0
        for x in range(min(size, width)):
            pi[y, x] = work[x]
    # every state's rates, once (the sweeps only read them)
    rate_up = np.empty((height, width))
    rate_down = np.empty((height, width))
    rate_out = np.empty((height, width))
    for y in range(height):
        for x in range(width):
            _, u_y, d_y, total_out = _level_rates(
                x, y, top, orbit_top, blocking, lam, mu, theta, n, retrial, gamma
            )
            rate_up[y, x] = u_y
            rate_down[y, x] = d_y
            rate_out[y, x] = total_out
    weight = np.empty(height)
    up = np.empty(height)
    down = np.empty(height)
    sub = np.empty(width)
    diag = np.empty(width)
    sup = np.empty(width)
    rhs = np.empty(width)
    old = np.empty(width)
    sweeps = -1
    previous = 0.0
    for sweep in range(max_sweeps):
        # (1) aggregation: the orbit level's birth-death chain under the current shapes
        for y in range(height):
            mass = 0.0
            a_up = 0.0
            a_down = 0.0
            for x in range(width):
                p = pi[y, x]
                mass += p
                a_up += p * rate_up[y, x]
                a_down += p * rate_down[y, x]
            if mass > 0.0:
                for x in range(width):
                    pi[y, x] /= mass
                up[y] = a_up / mass
                down[y] = a_down / mass
            else:
                up[y] = 0.0
                down[y] = 1.0
        weight[0] = 1.0
        total = 1.0
        for y in range(1, height):
            weight[y] = weight[y - 1] * up[y - 1] / down[y] if down[y] > 0.0 else 0.0
            if weight[y] > 1e250:
                for k in range(y + 1):
                    weight[k] *= 1e-250
                total *= 1e-250
            total += weight[y]
        for y in range(height):
            w = weight[y] / total
            for x in range(width):
                pi[y, x] *= w
        # (2) one Gauss-Seidel sweep by levels
        change = 0.0
        for y in range(height):
            for x in range(width):
                diag[x] = rate_out[y, x]
                # inflow from the levels around
                inflow = 0.0
                if y + 1 < height:
                    g = (y + 1) * gamma
                    if x >= 1:
                        inflow += pi[y + 1, x - 1] * g  # redial enters: (x-1, y+1) -> (x, y)
                    if x == top and blocking:
                        inflow += pi[y + 1, x] * g * (1.0 - retrial)  # blocked redial quits
                if y >= 1:
                    if x + 1 <= top and x + 1 > n:
                        inflow += pi[y - 1, x + 1] * (x + 1 - n) * theta * retrial
                    if x == top and blocking:
                        inflow += pi[y - 1, x] * lam * retrial
                rhs[x] = inflow
                sub[x] = -lam if x >= 1 else 0.0  # from (x-1, y) at lam
                if x + 1 <= top:
                    sup[x] = -(min(x + 1, n) * mu + max(x + 1 - n, 0) * theta * (1.0 - retrial))
                else:
                    sup[x] = 0.0
                old[x] = pi[y, x]
            # Thomas algorithm on the column diagonally dominant tridiagonal system
            for x in range(1, width):
                factor = sub[x] / diag[x - 1]
                diag[x] -= factor * sup[x - 1]
                rhs[x] -= factor * rhs[x - 1]
            pi[y, width - 1] = rhs[width - 1] / diag[width - 1]
            for x in range(width - 2, -1, -1):
                pi[y, x] = (rhs[x] - sup[x] * pi[y, x + 1]) / diag[x]
            for x in range(width):
                if pi[y, x] < 0.0:
                    pi[y, x] = 0.0
                change += abs(pi[y, x] - old[x])
        mass = pi.sum()
        if not mass > 0.0:
            return pi, -1
        pi /= mass
        change /= mass
        # linear convergence: the error left is about change * rate / (1 - rate)
        rate = min(change / previous, 0.9999) if previous > 0.0 else 0.9999
        previous = change
        # (an L1 change below 1e-13 is rounding noise: the iteration has settled)
        if change * rate / (1.0 - rate) < tol or change < 1e-13:
            sweeps = sweep + 1
            break
    return pi, sweeps

"""Numerical building blocks shared by the queueing models (log space, vectorised).

Everything here works on NumPy arrays that already broadcast together; validation happens in
the public functions. The two workhorses are

- ``log_poisson_pmf(k, m)``: log of ``m**k e**-m / Gamma(k+1)`` for real ``k >= 0``, written
  with Loader's saddle-point form (``stirlerr`` + ``bd0``) so that it keeps full relative
  accuracy for ``k, m`` up to millions, where the naive ``k log m - m - lgamma(k+1)`` loses
  about ``1e-10`` to cancellation;
- the two ratios every Erlang formula reduces to: ``1 / B = Q(n+1, a) / pmf(n; a)`` (Erlang B,
  the continuous extension through the regularised upper incomplete gamma ``Q``) and
  ``S(x, y) = sum_j y**j / ((x+1)...(x+j)) = P(x, y) / pmf(x; y)`` (the Erlang A queue sum).

Where the incomplete gamma function underflows (far from its transition point) the ratios are
summed directly; there the terms shrink geometrically, so the sums are short.
"""

from __future__ import annotations

import threading

import numpy as np
from numba import njit, prange
from scipy import special

_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)
# Incomplete-gamma values below this are treated as lost (underflow / relative accuracy) and
# the corresponding ratio is summed directly instead.
_TINY = 1e-280
# Poisson means at or below this take the direct log pmf (see log_poisson_pmf)
TINY_MEAN = 1e-250


def _stirlerr(k: np.ndarray) -> np.ndarray:
    """``lgamma(k+1) - (k+1/2) log k + k - log sqrt(2 pi)`` for ``k > 0``."""
    k = np.asarray(k, dtype=float)
    if k.size and k.min() >= 15.0:
        k2 = 1.0 / (k * k)
        return (
            1.0 / 12.0
            - k2 * (1.0 / 360.0 - k2 * (1.0 / 1260.0 - k2 * (1.0 / 1680.0 - k2 / 1188.0)))
        ) / k
    out = np.empty_like(k)
    big = k >= 15.0
    kb = k[big]
    k2 = 1.0 / (kb * kb)
    out[big] = (
        1.0 / 12.0 - k2 * (1.0 / 360.0 - k2 * (1.0 / 1260.0 - k2 * (1.0 / 1680.0 - k2 / 1188.0)))
    ) / kb
    ks = k[~big]
    out[~big] = special.gammaln(ks + 1.0) - (ks + 0.5) * np.log(ks) + ks - _LOG_SQRT_2PI
    return out


def _bd0(k: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``k log(k/m) + m - k`` (>= 0) for ``k > 0, m > 0``.

    As ``m ((1+d) log1p(d) - d)`` with ``d = (k - m)/m`` its absolute error is about
    ``eps |k - m|`` (< 3e-11 for loads up to 200,000), which is all that matters after exp.
    """
    d = (k - m) / m
    return m * ((1.0 + d) * np.log1p(d) - d)


def log_poisson_pmf(k: np.ndarray, m: np.ndarray) -> np.ndarray:
    """log(m**k exp(-m) / Gamma(k+1)) for real ``k >= 0`` and ``m >= 0`` (broadcast)."""
    k, m = np.broadcast_arrays(np.asarray(k, dtype=float), np.asarray(m, dtype=float))
    if k.size and k.min() >= 15.0 and m.min() > TINY_MEAN:  # the common case, without masks
        return -_stirlerr(k) - _bd0(k, m) - 0.5 * np.log(2.0 * np.pi * k)
    out = np.empty(k.shape)
    zero_k = k == 0.0
    zero_m = (m == 0.0) & ~zero_k
    # a mean this far below k: the direct form has nothing to cancel (and (k - m) / m in
    # _bd0 would overflow)
    small = (k > 0.0) & ((k < 1.0) | (m <= TINY_MEAN)) & (m > 0.0)
    regular = (k >= 1.0) & (m > TINY_MEAN)
    out[zero_k] = -m[zero_k]
    out[zero_m] = -np.inf
    ks, ms = k[small], m[small]
    out[small] = ks * np.log(ms) - ms - special.gammaln(ks + 1.0)
    kr, mr = k[regular], m[regular]
    out[regular] = -_stirlerr(kr) - _bd0(kr, mr) - 0.5 * np.log(2.0 * np.pi * kr)
    return out


def inverse_erlang_b_series(a: np.ndarray, n: np.ndarray) -> np.ndarray:
    """``1/B(a, n) = sum_{k>=0} n (n-1) ... (n-k+1) / a**k`` for ``a`` well above ``n``.

    Exact for integer ``n`` (the sum stops at ``k = n``); for real ``n`` it is the asymptotic
    expansion of ``a * int_0^inf exp(-a t) (1+t)**n dt``, whose error is below the first
    omitted term, far below 1e-17 in the region where it is used (``a > n + 30 sqrt(a)``).
    """
    total = np.ones_like(a)
    term = np.ones_like(a)
    active = np.arange(a.size)
    af, nf = a.ravel(), n.ravel()
    total_f, term_f = total.ravel(), term.ravel()
    k = 0
    while active.size:
        term_f[active] *= (nf[active] - k) / af[active]
        total_f[active] += term_f[active]
        k += 1
        # integer n: the terms are exactly 0 from k = n + 1 on
        done = np.abs(term_f[active]) <= 1e-17 * total_f[active]
        active = active[~done]
    return total_f.reshape(a.shape)


def queue_sum_series(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``S - 1 = sum_{j>=1} s_j`` and ``T = sum_{j>=1} j s_j``, ``s_j = y**j / prod (x+i)``.

    Used where ``y`` is well below ``x`` (the terms fall at least geometrically). Summing
    ``S - 1`` and ``T`` directly keeps their relative accuracy where ``S ~ 1``.
    """
    xf, yf = x.ravel(), y.ravel()
    s_minus_1 = np.zeros_like(xf)
    t_sum = np.zeros_like(xf)
    term = np.ones_like(xf)
    active = np.arange(xf.size)
    j = 0
    while active.size:
        j += 1
        term[active] *= yf[active] / (xf[active] + j)
        s_minus_1[active] += term[active]
        t_sum[active] += j * term[active]
        done = term[active] * j <= 1e-17 * t_sum[active]
        active = active[done == 0]
    return s_minus_1.reshape(x.shape), t_sum.reshape(x.shape)


def log_inverse_erlang_b(a: np.ndarray, n: np.ndarray) -> np.ndarray:
    """``log(1/B(a, n))`` for ``a > 0``, ``n >= 0`` (continuous in ``n``)."""
    a, n = np.broadcast_arrays(np.asarray(a, float), np.asarray(n, float))
    shape = a.shape
    a_flat, n_flat = np.ascontiguousarray(a).ravel(), np.ascontiguousarray(n).ravel()
    out = np.empty(a_flat.size)
    fallback = np.zeros(a_flat.size, dtype=np.bool_)
    _log_inverse_b_kernel(a_flat, n_flat, out, fallback)
    if np.any(fallback):
        out[fallback] = _log_inverse_erlang_b_general(a_flat[fallback], n_flat[fallback])
    return out.reshape(shape)


def _log_inverse_erlang_b_general(a: np.ndarray, n: np.ndarray) -> np.ndarray:
    """``log(1/B(a, n))`` through the incomplete gamma function (any real ``n >= 0``)."""
    q = special.gammaincc(n + 1.0, a)
    with np.errstate(divide="ignore"):
        out = np.log(q) - log_poisson_pmf(n, a)
    lost = q < _TINY
    if np.any(lost):
        out[lost] = np.log(inverse_erlang_b_series(a[lost], n[lost]))
    return out


def queue_sums(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(log S, T / (y S))`` for the Erlang A queue (``x, y > 0``, broadcast).

    ``S = sum_{j>=0} y**j / ((x+1)...(x+j)) = P(x, y) / pmf(x; y)`` (P: regularised lower
    incomplete gamma) is, relative to the probability of ``n`` in system, the probability of
    finding ``n + j`` in system; ``T = sum j s_j`` is the mean queue length on the same scale,
    so ``T / (y S)`` is P(abandon | wait). Where ``P`` underflows (``y`` far below ``x``) both
    are summed directly.
    """
    x, y = np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float))
    log_s = np.empty(x.shape)
    ab_given_wait = np.empty(x.shape)
    p = special.gammainc(x, y)
    closed = (p >= _TINY) & (y > TINY_MEAN)  # (x / y overflows below; the series is short)
    xc, yc = x[closed], y[closed]
    log_s[closed] = np.log(p[closed]) - log_poisson_pmf(xc, yc)
    # T/(yS) = 1 - x/y + x/(y S): for y >= x all terms are >= 0; where P is not tiny
    # y > x - 37 sqrt(x), so the cancellation costs at most ~37**2 eps.
    ab_given_wait[closed] = 1.0 - xc / yc + (xc / yc) * np.exp(-log_s[closed])
    series = ~closed
    if np.any(series):
        s1, t = queue_sum_series(x[series], y[series])
        log_s[series] = np.log1p(s1)
        ab_given_wait[series] = t / (y[series] * (1.0 + s1))
    return log_s, np.clip(ab_given_wait, 0.0, 1.0)


# Gauss-Legendre nodes for the Erlang A mean-wait integral (two panels of 64).
_GL_X, _GL_W = np.polynomial.legendre.leggauss(64)


def integral_p_over_z(k: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``int_0^y P(k, z) / z dz`` for ``k > 0, y > 0`` (P: regularised lower inc. gamma).

    In ``s = log z`` the integrand is a smooth sigmoid from 0 to 1 around ``log k``; we
    integrate it on a window where it is neither below 1e-18 nor above 1 - 1e-18 with
    Gauss-Legendre (two panels split at the centre) and add the exact part above the window.
    """
    k, y = np.broadcast_arrays(np.asarray(k, float), np.asarray(y, float))
    log_y = np.log(y)
    centre = np.log(k)
    s_hi = np.log(k + 12.0 * np.sqrt(k) + 45.0)
    s_top = np.minimum(s_hi, log_y)
    s_lo = np.minimum(centre - np.maximum(45.0 / k, 12.0 / np.sqrt(k)), s_top - 45.0 / k)
    s_mid = np.clip(centre, s_lo, s_top)
    total = np.where(log_y > s_hi, log_y - s_hi, 0.0)
    for lo, hi in ((s_lo, s_mid), (s_mid, s_top)):
        half = 0.5 * (hi - lo)
        nodes = (0.5 * (hi + lo))[..., None] + half[..., None] * _GL_X
        values = special.gammainc(k[..., None], np.exp(nodes))
        total = total + half * (values @ _GL_W)
    return total


def answered_wait_series(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``sum_j s_j x/(x+j+1) sum_{m=0}^{j} 1/(x+m+1)`` (``s_0 = 1``), for ``y`` below ``x``.

    Given ``j`` contacts ahead, the offered wait is a sum of exponentials with rates
    ``theta (x + m)``, m = 0..j, so ``E[V exp(-theta V) | j] = x/(theta (x+j+1)) *
    sum_m 1/(x+m+1)``; weighting by ``s_j`` gives ``theta S E[V exp(-theta V) | wait]``.
    """
    xf, yf = x.ravel(), y.ravel()
    harmonic = 1.0 / (xf + 1.0)
    total = xf / (xf + 1.0) * harmonic
    term = np.ones_like(xf)
    active = np.arange(xf.size)
    j = 0
    while active.size:
        j += 1
        xa = xf[active]
        term[active] *= yf[active] / (xa + j)
        harmonic[active] += 1.0 / (xa + j + 1.0)
        piece = term[active] * xa / (xa + j + 1.0) * harmonic[active]
        total[active] += piece
        active = active[piece > 1e-17 * total[active]]
    return total.reshape(x.shape)


# --------------------------------------------------------------------------- compiled kernels
#
# The incomplete gamma function costs scipy ~140 ns per value, plus a dozen NumPy passes around
# it. For integer servers and moderate loads (the daily case of contact-center staffing) the
# textbook top-down sum for 1/B is exact, needs ~(n - a) + 9 sqrt(a) terms of one multiply and
# one add each, and compiles to a tight loop; elements outside that region go the general way.

_KERNEL_MAX_TRAFFIC = 1_500.0  # above this the sum is longer than scipy's asymptotic expansion
_KERNEL_MAX_LOG_PEAK = 600.0  # the largest term, e**600, stays far below the float maximum
_PARALLEL_MIN_SIZE = 20_000  # below this, thread start-up costs more than it saves
_parallel_lock = threading.Lock()


@njit(cache=True, nogil=True, inline="always")
def _kernel_eligible(a: float, n: float, max_traffic: float = _KERNEL_MAX_TRAFFIC) -> bool:
    """Whether ``_inverse_b_minus_one`` handles (a, n): integer n >= 1, 0 < a <= max, and the
    largest term stays below e**600: its log is at most ``(n - a) log(n / a) <= (n - a)**2 / a``
    (checked without the logarithm, which would cost more than the test saves)."""
    if not (a > 0.0 and a <= max_traffic and n >= 1.0 and n == np.floor(n)):
        return False
    excess = n - a
    return excess <= 0.0 or excess * excess < _KERNEL_MAX_LOG_PEAK * a


@njit(cache=True, nogil=True, inline="always")
def _four_terms(k: float, inv_a: float, term: float, total: float):
    """Four more terms of the top-down sum for 1/B: ``t_{j+i} = t_j f_i``, ``f_i`` the product
    of ``(k - m) / a`` for m < i. The factors do not depend on the running term, so the four
    products overlap in the CPU instead of waiting on each other."""
    f1 = k * inv_a
    f2 = f1 * ((k - 1.0) * inv_a)
    f3 = f2 * ((k - 2.0) * inv_a)
    f4 = f3 * ((k - 3.0) * inv_a)
    total += (term * f1 + term * f2) + (term * f3 + term * f4)
    return k - 4.0, term * f4, total


@njit(cache=True, nogil=True, inline="always")
def _inverse_b_minus_one(a: float, n: float) -> float:
    """``1/B(a, n) - 1 = sum_{k=1}^{n} n (n-1) ... (n-k+1) / a**k`` for integer ``n >= 1``.

    For integer ``n`` a factor hits exactly 0 at ``k = n + 1`` (so no term changes sign and
    the sum is exact); after the peak (``k ~ n - a``) the terms shrink like a Gaussian and the
    sum stops at 1e-17 of the total.
    """
    inv_a = 1.0 / a
    k, term, total = n, 1.0, 0.0
    while True:
        k, term, total = _four_terms(k, inv_a, term, total)
        if term <= 1e-17 * total:
            return total


_LANES = 16


@njit(cache=True, nogil=True, error_model="numpy")
def _inverse_b_minus_one_lanes(inv_a, k, term, total) -> None:
    """``_inverse_b_minus_one`` for ``_LANES`` elements at once, in place (the caller sets
    ``inv_a = 1/a``, ``k = n``, ``term = 1``, ``total = 0``; the sums end in ``total``).

    A fixed-length inner loop over the lanes is what LLVM's loop vectoriser turns into SIMD
    instructions; every lane runs until all are done (finished lanes only add exact zeros or
    terms below 1e-17 of their total, so the extra steps do not change the results)."""
    while True:
        busy = False
        for j in range(_LANES):
            kj = k[j]
            inv = inv_a[j]
            f1 = kj * inv
            f2 = f1 * ((kj - 1.0) * inv)
            f3 = f2 * ((kj - 2.0) * inv)
            f4 = f3 * ((kj - 3.0) * inv)
            tj = term[j]
            last = tj * f4
            total[j] += (tj * f1 + tj * f2) + (tj * f3 + last)
            term[j] = last
            k[j] = kj - 4.0
            busy |= last > 1e-17 * total[j]
        if not busy:
            return


@njit(cache=True, nogil=True, error_model="numpy")
def _inverse_b_minus_one_many(a, n, index, count, out) -> None:
    """``out[j] = 1/B(a, n) - 1`` at ``i = index[j]`` for ``j < count``, ``_LANES`` at a time.

    (Gathering the lanes in a loop of their own, apart from the classification, is what lets
    LLVM keep the lane loop vectorised: interleaved, the same code ran at half the speed.)"""
    inv_a = np.empty(_LANES)
    k = np.empty(_LANES)
    term = np.empty(_LANES)
    total = np.empty(_LANES)
    blocks = count // _LANES
    for block in range(blocks):
        first = block * _LANES
        for j in range(_LANES):
            i = index[first + j]
            inv_a[j] = 1.0 / a[i]
            k[j] = n[i]
            term[j] = 1.0
            total[j] = 0.0
        _inverse_b_minus_one_lanes(inv_a, k, term, total)
        for j in range(_LANES):
            out[first + j] = total[j]
    for j in range(blocks * _LANES, count):
        out[j] = _inverse_b_minus_one(a[index[j]], n[index[j]])


@njit(cache=True, nogil=True, inline="always")
def _classify_erlang_c(a, n, c, not_c, fallback, i) -> bool:
    """Fill the closed cases of element i; True when it needs the sum. (``not_c`` is written
    before ``c`` everywhere, so a caller that wants only C may pass the same array twice.)"""
    ai = a[i]
    ni = n[i]
    if ai == 0.0:
        not_c[i] = 1.0
        c[i] = 0.0
    elif ni <= ai:
        not_c[i] = 0.0
        c[i] = 1.0
    elif _kernel_eligible(ai, ni):
        return True
    else:
        fallback[i] = True
    return False


@njit(cache=True, nogil=True, inline="always")
def _finish_erlang_c(a, n, c, not_c, i, s1):
    # C = n B / (n - a + a B) with 1/B = 1 + s1; 1 - C keeps its accuracy through s1
    ai = a[i]
    ni = n[i]
    denominator = (1.0 + s1) * (ni - ai) + ai
    not_c[i] = (ni - ai) * s1 / denominator
    c[i] = ni / denominator


@njit(cache=True, nogil=True, error_model="numpy")
def _erlang_c_chunk(a, n, c, not_c, fallback, start, stop):
    """Elements ``start:stop``: closed cases first, then the sums ``_LANES`` at a time."""
    index = np.empty(stop - start, dtype=np.int64)
    count = 0
    for i in range(start, stop):
        if _classify_erlang_c(a, n, c, not_c, fallback, i):
            index[count] = i
            count += 1
    sums = np.empty(count)
    _inverse_b_minus_one_many(a, n, index, count, sums)
    for j in range(count):
        _finish_erlang_c(a, n, c, not_c, index[j], sums[j])


_CHUNK = 8_192


@njit(cache=True, nogil=True)
def _erlang_c_kernel_serial(a, n, c, not_c, fallback):
    chunks = (a.size + _CHUNK - 1) // _CHUNK
    for chunk in range(chunks):
        start = chunk * _CHUNK
        _erlang_c_chunk(a, n, c, not_c, fallback, start, min(start + _CHUNK, a.size))


@njit(cache=True, nogil=True, parallel=True)
def _erlang_c_kernel_parallel(a, n, c, not_c, fallback):
    chunks = (a.size + _CHUNK - 1) // _CHUNK
    for chunk in prange(chunks):
        start = chunk * _CHUNK
        _erlang_c_chunk(a, n, c, not_c, fallback, start, min(start + _CHUNK, a.size))


@njit(cache=True, nogil=True, error_model="numpy")
def _log_inverse_b_kernel(a, n, out, fallback):
    index = np.empty(a.size, dtype=np.int64)
    count = 0
    for i in range(a.size):
        if _kernel_eligible(a[i], n[i]):
            index[count] = i
            count += 1
        else:
            fallback[i] = True
    sums = np.empty(count)
    _inverse_b_minus_one_many(a, n, index, count, sums)
    for j in range(count):
        out[index[j]] = np.log1p(sums[j])


def _run_kernel(serial, parallel, size: int, *arrays) -> None:
    """Both cores for large arrays; one at a time (other callers run serially meanwhile)."""
    if size >= _PARALLEL_MIN_SIZE and _parallel_lock.acquire(blocking=False):
        try:
            parallel(*arrays)
        finally:
            _parallel_lock.release()
    else:
        serial(*arrays)


def erlang_c_parts(
    a: np.ndarray, n: np.ndarray, with_complement: bool = True
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """``(C, 1 - C, fallback)`` for validated, broadcast ``a >= 0, n >= 0`` (any shape).

    C is 0 with zero traffic and 1 when ``n <= a``. ``fallback`` marks the elements the
    compiled sum does not cover (fractional agents, very large loads): the caller fills them.
    ``with_complement=False`` returns None for ``1 - C`` and spares its array (on large inputs
    the page faults of a fresh output array cost as much as the arithmetic).
    """
    shape = a.shape
    a_flat = np.ascontiguousarray(a, dtype=float).ravel()
    n_flat = np.ascontiguousarray(n, dtype=float).ravel()
    c = np.empty(a_flat.size)
    not_c = np.empty(a_flat.size) if with_complement else c
    fallback = np.zeros(a_flat.size, dtype=np.bool_)
    _run_kernel(
        _erlang_c_kernel_serial,
        _erlang_c_kernel_parallel,
        a_flat.size,
        a_flat,
        n_flat,
        c,
        not_c,
        fallback,
    )
    complement = not_c.reshape(shape) if with_complement else None
    return c.reshape(shape), complement, fallback.reshape(shape)


@njit(cache=True, nogil=True)
def first_invalid(values, upper: float):
    """First index (or -1) of: NaN, +-infinity, value <= 0, value < 0, value > ``upper``,
    finite non-integer -- one pass without the boolean temporaries of six NumPy tests
    (fresh megabytes cost page faults: on a million values they took longer than Erlang C)."""
    found = np.full(6, -1, dtype=np.int64)
    for i in range(values.size):
        value = values[i]
        if np.isnan(value):
            if found[0] < 0:
                found[0] = i
            continue
        if np.isinf(value) and found[1] < 0:
            found[1] = i
        if value <= 0.0 and found[2] < 0:
            found[2] = i
        if value < 0.0 and found[3] < 0:
            found[3] = i
        if value > upper and found[4] < 0:
            found[4] = i
        if np.isfinite(value) and value != np.floor(value) and found[5] < 0:
            found[5] = i
    return found

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

import numpy as np
from scipy import special

_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)
# Incomplete-gamma values below this are treated as lost (underflow / relative accuracy) and
# the corresponding ratio is summed directly instead.
_TINY = 1e-280


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
    if k.size and k.min() >= 15.0 and m.min() > 0.0:  # the common case, without masks
        return -_stirlerr(k) - _bd0(k, m) - 0.5 * np.log(2.0 * np.pi * k)
    out = np.empty(k.shape)
    zero_k = k == 0.0
    zero_m = (m == 0.0) & ~zero_k
    small = (k > 0.0) & (k < 1.0) & (m > 0.0)
    regular = (k >= 1.0) & (m > 0.0)
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
    closed = p >= _TINY
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

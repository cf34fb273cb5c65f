"""Uncertain arrival rates: service level and staffing when the forecast itself is uncertain.

A forecast gives the mean arrival rate ``m`` (per second) and its variance ``v`` (per second
squared; e.g. from the forecast's error dispersion). The rate of the interval is taken as
gamma distributed with that mean and variance, so the interval's count is negative binomial
(a Poisson mixture) with variance ``m T + v T**2`` over ``T`` seconds, above Poisson's
``m T``. ``v = 0`` is the plain Poisson model.

Two targets:

- **on average**: the expected service level, weighted by calls (the fraction of all calls,
  over many intervals like this one, answered within the target):
  ``E[L SL(L)] / E[L]``; with ``L ~ Gamma(k, s)`` (``k = m**2 / v``, ``s = v / m``) this is
  ``E[SL(L')]`` with ``L' ~ Gamma(k + 1, s)`` (the size-biased gamma);
- **with a probability**: ``P(SL(L) >= target) >= p``; the service level falls as the rate
  rises, so this is the service level at the ``p``-quantile of the rate.

The expectation is integrated in probability space, ``E[f(L')] = int_0^1 f(Q(u)) du``, by
composite 16-point Gauss-Legendre on pieces graded geometrically towards both ends (the
quantile function is singular there) and split at the Erlang C stability edge ``n / AHT`` (a
kink of the service level); 1e-9 relative against a 50-digit adaptive quadrature in the tests.
The service level is Erlang A (``patience_s``) or Erlang C (``patience_s`` None / ``inf``).
"""

from __future__ import annotations

import numpy as np
from scipy import special

from openwfm.errors import ParameterError
from openwfm.queueing._types import ArrayLike, Values
from openwfm.queueing.erlang import as_param, erlang_a
from openwfm.queueing.inversion import least_integer, required_agents

__all__ = ["expected_service_level", "rate_quantile", "uncertain_required_agents"]

_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(16)
_GRADES = 10.0 ** -np.arange(1, 17)  # 0.1 .. 1e-16
_MIDDLE = np.linspace(0.1, 0.9, 9)


def _pieces(kink: float | None) -> np.ndarray:
    # the last 1e-16 of probability is left out: a service level is at most 1, so the
    # expectation changes by less than 1e-16
    edges = np.concatenate([[0.0], _GRADES[::-1], _MIDDLE, 1.0 - _GRADES[:-1]])
    if kink is not None and 0.0 < kink < 1.0:
        edges = np.union1d(edges, [kink])
    return np.unique(edges)


def _check_variance(rate_variance) -> np.ndarray:
    return as_param("rate_variance", rate_variance)


def rate_quantile(
    arrival_rate_per_s: ArrayLike, rate_variance: ArrayLike, probability: ArrayLike
) -> Values:
    """The ``probability``-quantile of the gamma rate with that mean and variance (the mean
    itself when the variance is 0)."""
    m = as_param("arrival_rate_per_s", arrival_rate_per_s)
    v = _check_variance(rate_variance)
    p = as_param("probability", probability, upper=1.0)
    m, v, p = np.broadcast_arrays(m, v, p)
    with np.errstate(divide="ignore", invalid="ignore"):
        shape = m * m / v
        scale = v / m
        q = special.gammaincinv(shape, p) * scale
    out = np.where((v == 0) | (m == 0), m, q)
    return out[()] if out.ndim == 0 else out


def expected_service_level(
    arrival_rate_per_s: ArrayLike,
    rate_variance: ArrayLike,
    aht_s: ArrayLike,
    agents: ArrayLike,
    target_s: ArrayLike,
    *,
    patience_s: ArrayLike | None = None,
    weighting: str = "calls",
) -> Values:
    """Expected service level (answered within ``target_s`` / offered) over the gamma rate.

    ``weighting="calls"`` (default): weighted by the calls of each rate, ``E[L SL(L)]/E[L]``;
    ``"intervals"``: the plain mean of the intervals' service levels, ``E[SL(L)]``.
    Every argument broadcasts; 1-d or scalar results.
    """
    if weighting not in ("calls", "intervals"):
        raise ParameterError(
            f"unknown weighting {weighting!r} (expected calls or intervals)", field="weighting"
        )
    m = as_param("arrival_rate_per_s", arrival_rate_per_s)
    v = _check_variance(rate_variance)
    h = as_param("aht_s", aht_s, positive=True)
    n = as_param("agents", agents)
    t = as_param("target_s", target_s, allow_inf=True)
    pat = (
        np.full((), np.inf)
        if patience_s is None
        else as_param("patience_s", patience_s, positive=True, allow_inf=True)
    )
    arrays = np.broadcast_arrays(m, v, h, n, t, pat)
    shape = arrays[0].shape
    m, v, h, n, t, pat = (np.ravel(x) for x in arrays)
    out = np.empty(m.size)
    point = (v == 0) | (m == 0)
    if np.any(point):
        i = np.flatnonzero(point)
        out[i] = np.atleast_1d(
            erlang_a(m[i], h[i], pat[i], n[i], t[i], with_asa=False).service_level
        )
    for i in np.flatnonzero(~point):
        out[i] = _expected_one(m[i], v[i], h[i], n[i], t[i], pat[i], weighting == "calls")
    out = out.reshape(shape)
    return out[()] if out.ndim == 0 else out


def _expected_one(m, v, h, n, t, pat, by_calls) -> float:
    k = m * m / v + (1.0 if by_calls else 0.0)
    scale = v / m
    kink = float(special.gammainc(k, n / h / scale)) if np.isinf(pat) else None
    edges = _pieces(kink)
    lo, hi = edges[:-1], edges[1:]
    half = 0.5 * (hi - lo)
    u = (lo + hi)[:, None] * 0.5 + half[:, None] * _NODES[None, :]
    weights = (half[:, None] * _WEIGHTS[None, :]).ravel()
    rates = special.gammaincinv(k, u.ravel()) * scale
    sl = np.atleast_1d(erlang_a(rates, h, pat, n, t, with_asa=False).service_level)
    return float(np.dot(weights, sl))


def uncertain_required_agents(
    arrival_rate_per_s: ArrayLike,
    rate_variance: ArrayLike,
    aht_s: ArrayLike,
    target_s: ArrayLike,
    service_level: ArrayLike,
    *,
    patience_s: ArrayLike | None = None,
    probability: ArrayLike | None = None,
    weighting: str = "calls",
) -> Values:
    """Least integer agents for a service-level target under an uncertain rate.

    ``probability`` None: the expected service level (``weighting`` as in
    :func:`expected_service_level`) reaches ``service_level``; else the target is met with
    that probability (staffing for the rate's ``probability``-quantile). Vectorised; int64.
    """
    m = as_param("arrival_rate_per_s", arrival_rate_per_s)
    v = _check_variance(rate_variance)
    if probability is not None:
        p = as_param("probability", probability, upper=1.0)
        if np.any(p >= 1.0):
            raise ParameterError(
                "expected < 1 (the rate has no finite maximum)", field="probability"
            )
        rate = rate_quantile(m, v, p)
        return required_agents(rate, aht_s, target_s, service_level, patience_s=patience_s)
    h = as_param("aht_s", aht_s, positive=True)
    t = as_param("target_s", target_s, allow_inf=True)
    sl = as_param("service_level", service_level, upper=1.0)
    pat = (
        np.full((), np.inf)
        if patience_s is None
        else as_param("patience_s", patience_s, positive=True, allow_inf=True)
    )
    if np.any(sl >= 1.0) and np.any(np.isfinite(t)):
        raise ParameterError("expected < 1 within a finite target time", field="service_level")
    arrays = np.broadcast_arrays(m, v, h, t, sl, pat)
    shape = arrays[0].shape
    m, v, h, t, sl, pat = (np.ravel(x) for x in arrays)
    patience = None if np.all(np.isinf(pat)) else pat
    guess = np.atleast_1d(required_agents(m, h, t, sl, patience_s=patience))
    high = np.atleast_1d(
        required_agents(
            rate_quantile(m, v, 1.0 - 1e-9), h, t, np.minimum(sl, 0.9999), patience_s=patience
        )
    )
    upper = np.maximum(high, guess) * 2 + 10

    def meets(index, n):
        got = expected_service_level(
            m[index],
            v[index],
            h[index],
            n.astype(float),
            t[index],
            patience_s=pat[index],
            weighting=weighting,
        )
        return np.atleast_1d(got) >= sl[index] - 1e-12

    answer = least_integer(meets, np.zeros(m.size, dtype=np.int64), guess, upper)
    if np.any(answer < 0):
        bad = int(np.flatnonzero(answer < 0)[0])
        raise ParameterError(
            f"expected service level {sl[bad]:g} unattainable at element {bad}",
            field="service_level",
        )
    answer = answer.reshape(shape)
    return answer[()] if answer.ndim == 0 else answer

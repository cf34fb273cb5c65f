"""Erlang X: M/M/n/L+M with redials (retrials), finite lines and fractional agents.

The model (Koole's Erlang X): calls arrive as a Poisson stream (``arrival_rate_per_s``, fresh
calls), ``agents`` answer them with exponential handle times (mean ``aht_s``); a call that
finds every one of the ``lines`` places busy (agents + waiting places; ``inf``: no busy
signal) is blocked; a waiting call abandons after an exponential patience (mean
``patience_s``; ``inf``: nobody abandons). A blocked or abandoning call redials with
probability ``retrial_probability`` after an exponential time with mean ``retry_mean_s``.

The state is two-dimensional: ``x`` calls in the system and ``y`` callers waiting to redial
(the orbit). :func:`erlang_x` solves it exactly:

- ``retry_mean_s`` finite: the chain on a window of ``(x, y)`` that holds all but ~1e-12 of
  the probability on each cut edge (checked after the solve, widened otherwise: the stated
  truncation bound) is solved by aggregation-disaggregation to an L1 error of ~1e-13 (see
  :mod:`openwfm.queueing.redial_chain`);
- ``retry_mean_s = inf`` (the default) is the long-retry model: the redials form a Poisson
  stream of constant rate, so the attempt rate ``R`` solves ``R = lam + p R L(R)`` with ``L``
  the loss (blocked + abandoned) probability of the one-dimensional chain at rate ``R``, solved
  to 1e-15 relative (~5x an Erlang A evaluation). Why it is the limit of the chain as ``T =
  retry_mean_s`` grows (the argument): with ``gamma = 1/T``, the redial rate ``r = gamma y``
  moves by ``gamma`` per event, while the queue relaxes in a time of the order of ``aht_s`` and
  ``patience_s``; so as ``gamma -> 0`` the queue sees, over its own relaxation time, a Poisson
  stream of constant rate ``lam + r`` and its law given ``r`` is the one-dimensional chain's
  (the averaging principle for fast-slow Markov chains, Khasminskii; for retrial queues, Falin
  and Templeton's low-retrial-rate limit theorem). On the slow clock ``s = gamma t``, ``R = lam
  + r`` follows ``dR/ds = lam - R (1 - p L(R))`` (the orbit gains ``p`` times the loss rate and
  loses the redials). ``R L(R)``, the loss rate, grows by at most one loss per extra attempt
  (couple the queues with and without one extra call: their numbers in system differ by at most
  one at all times, and a difference ends with at most one extra loss), so ``R (1 - p L(R))``
  grows with slope at least ``1 - p > 0`` (``p < 1``): the equation has one equilibrium, the
  fixed point, which attracts every start; the orbit's law concentrates there (fluctuations of
  order ``sqrt(gamma)``) and every metric tends to the one-dimensional chain's at the fixed
  point. For a finite ``T`` this model is NOT what :func:`erlang_x` computes (the exact chain
  above is); read as an approximation of a finite ``T`` (:func:`long_retry_error_bound`): its
  service levels (all three), abandonment and blocking probabilities were within ``0.25 p tau /
  (tau + T)`` (``tau = max(aht_s, patience_s)``) of the exact chain's, and its attempt rate
  within that bound relative, on a grid of 2 to 100 Erlangs, under- to overstaffed, patience 60
  to 960 s, ``p`` 0.3 to 0.7, ``T`` one to 16 handle times (largest error 0.15 p tau / (tau +
  T); the tests check it; NaN above ``p`` = 0.7, where small loss systems break it). That
  bound is validated on that grid, not proven. The error is the redials' correlation with the
  congestion that caused them: a caller who abandons a long queue redials into a queue that has
  not yet recovered, which the Poisson limit misses.
- ``method="orbit_mean"`` (finite ``retry_mean_s``): the fast approximation of that chain
  (:mod:`openwfm.queueing.redial_mean`: the number in system as a birth-death chain driven by
  the mean orbit given the number in system, with the orbit's spread closed by one dispersion
  that keeps the orbit's second-moment balance exact; Newton's method, ~5-15x an Erlang A
  evaluation at 100 Erlangs), within :func:`orbit_mean_error_bound` = ``0.01 p tau / (tau +
  T)`` of the exact chain (validated on a grid by the tests, not proven), 25 times tighter
  than the long-retry limit's;
- ``retrial_probability = 0``: the one-dimensional chain (Erlang A with lines; ``lines =
  inf``: Erlang A itself; no patience as well: Erlang C).

Metrics are per call attempt (fresh calls and redials, as an ACD counts them): ``p_block``,
``p_wait`` (queued, not blocked), ``p_abandon``, ``service_level`` (answered within
``target_s`` / offered attempts; blocked attempts count as not answered),
``service_level_answered`` (/ answered), ``service_level_virtual`` (P(the wait a call would
have if it never abandoned <= target_s); blocked attempts count as failures), ``asa_s`` (mean
wait of answered calls), ``mean_wait_s`` (mean time in queue over all attempts),
``queue_length``, ``occupancy``, ``attempt_rate_per_s``, ``retrial_rate_per_s`` and
``p_customer_lost`` (a fresh caller is never answered).

Fractional agents: every metric is interpolated linearly between ``floor(agents)`` and
``floor(agents) + 1`` (exact at integers, continuous and monotone between them); ``lines`` must
be at least ``ceil(agents)``.
"""

from __future__ import annotations

import numpy as np

from openwfm.errors import ParameterError
from openwfm.queueing import _retrial_core as core
from openwfm.queueing import redial_chain, redial_mean
from openwfm.queueing._types import ArrayLike, Values
from openwfm.queueing.erlang import as_param

__all__ = ["ERLANG_X_KEYS", "ERLANG_X_METHODS", "erlang_x", "long_retry_error_bound"]

ERLANG_X_METHODS = ("exact", "orbit_mean")
"""How a finite ``retry_mean_s`` is solved: the truncated two-dimensional chain, or the
orbit-mean approximation (see the module doc)."""

ERLANG_X_KEYS = (
    *core.METRIC_KEYS,
    "mean_wait_s",
    "occupancy",
    "attempt_rate_per_s",
    "retrial_rate_per_s",
    "p_customer_lost",
)


def _check_retrial(retrial_probability, retry_mean_s) -> tuple[np.ndarray, np.ndarray]:
    p = as_param("retrial_probability", retrial_probability, upper=1.0)
    retry = as_param("retry_mean_s", retry_mean_s, positive=True, allow_inf=True)
    return p, retry


def erlang_x(
    arrival_rate_per_s: ArrayLike,
    aht_s: ArrayLike,
    patience_s: ArrayLike,
    agents: ArrayLike,
    lines: ArrayLike = np.inf,
    target_s: ArrayLike = 20.0,
    *,
    retrial_probability: ArrayLike = 0.0,
    retry_mean_s: ArrayLike = np.inf,
    method: str = "exact",
) -> dict[str, np.ndarray]:
    """Erlang X metrics (see the module doc), arrays of the broadcast shape (NumPy scalars
    for scalar input).

    ``arrival_rate_per_s``: fresh calls per second; ``aht_s``, ``patience_s`` (``inf``: none)
    and ``retry_mean_s`` in seconds; ``agents`` >= 0 (may be fractional); ``lines``: places in
    all, an integer >= ``ceil(agents)`` or ``inf``; ``retrial_probability`` in [0, 1];
    ``method`` (finite ``retry_mean_s`` only): ``"exact"`` (the two-dimensional chain) or
    ``"orbit_mean"`` (the fast approximation, within :func:`orbit_mean_error_bound`).
    """
    if method not in ERLANG_X_METHODS:
        raise ParameterError(
            f"expected method one of {', '.join(ERLANG_X_METHODS)}, got {method!r}",
            field="method",
        )
    fast = _one_number(
        arrival_rate_per_s,
        aht_s,
        patience_s,
        agents,
        lines,
        target_s,
        retrial_probability,
        retry_mean_s,
        method,
    )
    if fast is not None:
        return fast
    lam = as_param("arrival_rate_per_s", arrival_rate_per_s)
    h = as_param("aht_s", aht_s, positive=True)
    pat = as_param("patience_s", patience_s, positive=True, allow_inf=True)
    n = as_param("agents", agents)
    lines_ = as_param("lines", lines, allow_inf=True, integer=True)
    t = as_param("target_s", target_s, allow_inf=True)
    p, retry = _check_retrial(retrial_probability, retry_mean_s)
    arrays = np.broadcast_arrays(lam, h, pat, n, lines_, t, p, retry)
    shape = arrays[0].shape
    lam, h, pat, n, lines_, t, p, retry = (np.ravel(v) for v in arrays)
    if np.any(lines_ < np.ceil(n)):
        bad = np.flatnonzero(lines_ < np.ceil(n))[0]
        raise ParameterError(
            f"expected lines >= agents (rounded up), got {lines_[bad]:g} lines for "
            f"{n[bad]:g} agents",
            field="lines",
        )
    low = np.floor(n)
    frac = n - low
    values = _integer_agents(lam, h, pat, low, lines_, t, p, retry, method)
    upper = frac > 0
    if np.any(upper):
        idx = np.flatnonzero(upper)
        high = _integer_agents(
            *(v[idx] for v in (lam, h, pat)),
            low[idx] + 1,
            *(v[idx] for v in (lines_, t, p, retry)),
            method,
        )
        f = frac[idx]
        for key in ERLANG_X_KEYS:
            a, b = values[key][idx], high[key]
            with np.errstate(invalid="ignore"):
                mixed = (1.0 - f) * a + f * b
            values[key][idx] = np.where(np.isinf(a) | np.isinf(b), np.maximum(a, b), mixed)
    return {k: (v.reshape(shape)[()] if not shape else v.reshape(shape)) for k, v in values.items()}


def long_retry_error_bound(
    aht_s: ArrayLike,
    patience_s: ArrayLike,
    retrial_probability: ArrayLike,
    retry_mean_s: ArrayLike,
) -> Values:
    """Validated (on a grid, not proven) bound on how far the long-retry model
    (``retry_mean_s=inf``) is from the exact chain with a finite ``retry_mean_s``: ``0.25 p
    tau / (tau + T)``, ``tau = max(aht_s, patience_s)`` (see the module doc: absolute for the
    probabilities and service levels, relative for the attempt rate); 0 for ``T = inf``; NaN
    for ``p`` above ``redial_mean.BOUND_VALIDATED_MAX_P`` = 0.7 (no validated bound there: at
    0.8 a one-agent loss system with a 12 s retry is 1.12 times the formula away)."""
    h = as_param("aht_s", aht_s, positive=True)
    pat = as_param("patience_s", patience_s, positive=True, allow_inf=True)
    p, retry = _check_retrial(retrial_probability, retry_mean_s)
    tau = np.maximum(h, np.where(np.isinf(pat), h, pat))
    with np.errstate(invalid="ignore"):
        bound = np.where(np.isinf(retry), 0.0, 0.25 * p * tau / (tau + retry))
    bound = np.where(p > redial_mean.BOUND_VALIDATED_MAX_P, np.nan, bound)
    return bound[()] if bound.ndim == 0 else bound


_PLAIN = (float, int)


def _one_number(lam, h, pat, n, lines, t, p, retry, method):
    """The common one-number call (a what-if, a search step) without the array machinery:
    plain numbers, integer agents, the 1-d chain, the long-retry limit or the orbit-mean
    model; else None (the array path validates and handles the rest)."""
    values = (lam, h, pat, n, lines, t, p, retry)
    if not all(type(v) in _PLAIN for v in values):
        return None
    lam, h, pat, n, lines, t, p, retry = (float(v) for v in values)
    if not (lam > 0.0 and 0.0 < h < np.inf and pat > 0.0 and t >= 0.0 and 0.0 <= p <= 1.0):
        return None
    finite_retry = not (retry == np.inf or p == 0.0)
    if finite_retry and not (method == "orbit_mean" and 0.0 < retry < np.inf):
        return None
    if not (0.0 <= n < 1e9 and n == int(n)):
        return None
    if not (lines == np.inf or (n <= lines < 1e9 and lines == int(lines))):
        return None
    out = np.empty((core.N_METRICS, 1))
    rate = np.empty(1)
    theta = 0.0 if pat == np.inf else 1.0 / pat
    lines_int = -1 if lines == np.inf else int(lines)
    if finite_retry:
        rate[0] = redial_mean.orbit_mean(
            lam, 1.0 / h, theta, int(n), lines_int, t, p, retry, out[:, 0]
        )
    else:
        core.fixed_point_many(
            np.array([lam]),
            np.array([1.0 / h]),
            np.array([theta]),
            np.array([int(n)]),
            np.array([lines_int]),
            np.array([t]),
            np.array([p]),
            out,
            rate,
        )
    r = float(rate[0])
    if not np.isfinite(r):
        return None
    values = {key: np.float64(out[k, 0]) for k, key in enumerate(core.METRIC_KEYS)}
    loss = values["p_block"] + values["p_abandon"]
    values["mean_wait_s"] = np.float64(values["queue_length"] / r)
    values["occupancy"] = np.float64(min(r * (1.0 - loss) * h / n, 1.0) if n > 0 else 0.0)
    values["attempt_rate_per_s"] = np.float64(r)
    values["retrial_rate_per_s"] = np.float64(r - lam)
    values["p_customer_lost"] = np.float64(r * loss * (1.0 - p) / lam)
    return values


def _integer_agents(lam, h, pat, n, lines, t, p, retry, method) -> dict[str, np.ndarray]:
    """Erlang X for integer agents (1-d arrays)."""
    size = lam.size
    mu = 1.0 / h
    theta = np.where(np.isinf(pat), 0.0, 1.0 / pat)
    n_int = n.astype(np.int64)
    lines_int = np.where(np.isinf(lines), -1, lines).astype(np.int64)
    out = np.empty((core.N_METRICS, size))
    rate = np.empty(size)
    # the 1-d chain, or the long-retry limit, for every element (the start of the exact solve)
    limit_p = np.where(np.isinf(retry), p, 0.0)
    core.fixed_point_many(lam, mu, theta, n_int, lines_int, t, limit_p, out, rate)
    exact = np.flatnonzero(np.isfinite(retry) & (p > 0) & (lam > 0))
    solve = redial_chain.two_dimensional if method == "exact" else redial_mean.orbit_mean
    for i in exact:
        rate[i] = solve(
            lam[i],
            mu[i],
            theta[i],
            int(n_int[i]),
            int(lines_int[i]),
            t[i],
            p[i],
            retry[i],
            out[:, i],
        )
    values = dict(zip(core.METRIC_KEYS, out, strict=True))
    unstable = ~np.isfinite(rate)
    loss = values["p_block"] + values["p_abandon"]
    with np.errstate(invalid="ignore", divide="ignore"):
        values["mean_wait_s"] = np.where(rate > 0, values["queue_length"] / rate, 0.0)
        values["occupancy"] = np.where(
            n > 0, np.minimum(rate * (1.0 - loss) * h / np.maximum(n, 1.0), 1.0), 0.0
        )
        values["attempt_rate_per_s"] = rate
        values["retrial_rate_per_s"] = np.where(rate > 0, rate - lam, 0.0)
        values["p_customer_lost"] = np.where(lam > 0, rate * loss * (1.0 - p) / lam, 0.0)
    if np.any(unstable):
        # no steady state (no abandonment and too few agents): everyone waits forever
        fill = {
            "p_block": 0.0,
            "p_wait": 1.0,
            "p_abandon": 0.0,
            "service_level": 0.0,
            "service_level_answered": 0.0,
            "service_level_virtual": 0.0,
            "asa_s": np.inf,
            "queue_length": np.inf,
            "mean_wait_s": np.inf,
            "occupancy": 1.0,
            "attempt_rate_per_s": np.nan,
            "retrial_rate_per_s": np.nan,
            "p_customer_lost": np.nan,
        }
        for key, value in fill.items():
            values[key][unstable] = value
    return values

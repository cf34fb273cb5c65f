"""Erlang X with a finite retry time, fast: the orbit-mean model (``method="orbit_mean"``).

The exact chain (:mod:`openwfm.queueing.redial_chain`) has ``x`` calls in the system and
``y`` callers waiting to redial; at 100 Erlangs it needs ~10^4 states and ~90 sweeps (tens of
milliseconds), some thousands of times an Erlang A evaluation. Its metrics need far less: a
call finds ``x`` in the system with probability proportional to ``(lam + gamma E[y | x])
P(x)``, and ``x`` moves by one at a time, so ``P(x)`` is a birth-death law with births ``lam
+ gamma m[x]``, ``m[x] = E[y | x]`` (exactly: the cut between ``x`` and ``x + 1`` balances).
So everything follows from the conditional orbit means ``m``, and their own balance (the
orbit's first moment in every column ``x``) involves only ``m`` and ``E[y^2 | x]``.

The approximation (a moment closure): the orbit's spread given ``x`` is taken as
``Var(y | x) = kappa m[x]`` with one dispersion ``kappa`` for all ``x`` (``kappa = 1``: Poisson,
exact for an infinite-server orbit fed by a Poisson stream; at 100 Erlangs the exact chain's
conditional variance is 2-4 times the mean). ``kappa`` is not guessed: it is the value at which
the orbit's second-moment balance holds (summed over ``x``, that balance involves only first and
second moments, so the closure can satisfy it exactly). So the model satisfies, exactly, the
balance of every column's probability (the birth-death law), of every column's orbit mean, and
of the orbit's second moment; it approximates only how the orbit's spread is shared among the
columns. The equations for ``m`` are quadratic with a tridiagonal Jacobian: Newton's method
from the orbit of a cheap attempt-rate guess (to 1e-14), inside a secant search on ``kappa``
(each step continued from the last solution, the step halved until Newton settles); see
:mod:`openwfm.queueing._orbit_mean_core`. If it does not settle (not seen on the validation
grid), the exact chain is solved instead. Cost: tens of tridiagonal solves of a few hundred
unknowns at 100 Erlangs, ~5-15x an Erlang A evaluation (bench/queueing.py).

Why: the long-retry limit (``retry_mean_s = inf`` read as an approximation) replaces ``m[x]``
by one constant (the redials as a Poisson stream independent of the queue) and misses the
redials' correlation with the congestion that caused them (a long queue feeds the orbit, so the
orbit is larger while the queue is long: ``m`` runs from ~2 to ~37 across ``x`` at 100
Erlangs, retry 600 s). Keeping ``m[x]`` alone (``kappa = 1``) cut that error 2-8 times on the
validation grid; with the self-consistent ``kappa`` the largest error found there was 0.006 p
tau / (tau + T) (the limit's: 0.16 p tau / (tau + T)).

Error (validated on a grid, NOT proven: no error bound is known for this closure): its service
levels (all three definitions), abandonment and blocking probabilities are within
:func:`orbit_mean_error_bound` = ``0.01 p tau / (tau + T)`` (``tau = max(aht_s,
patience_s)``, ``T = retry_mean_s``) of the exact chain's, and its attempt rate within that
bound relative. It was set at 1.7 times the largest error found (0.0059 p tau / (tau + T): 100
Erlangs on 90 agents, patience 240 s, p 0.7, T two handle times) on 600 random cases of 2 to
100 Erlangs, 0.8 to 1.25 times the load in agents, patience 60 to 960 s, ``p`` 0.3 to 0.7,
``T`` one to 16 handle times, infinite and finite lines; the tests check it with hypothesis
against the exact chain on that grid up to 50 Erlangs and 480 s (and at 100 Erlangs). The
long-retry limit needs ``0.25 p tau / (tau + T)`` on the same grid. Beyond the grid, 74 random
cases of 150 to 500 Erlangs (same ranges otherwise) stay below 0.26 times the bound, and 540
small cases (1 to 30 Erlangs, no or 2 to 5 waiting places, ``T`` 0.05 to 4 handle times, ``p``
0.3 to 0.7) below 0.50 times. Above ``p`` = 0.7 the bound is NaN: small loss systems break it
(:data:`BOUND_VALIDATED_MAX_P`).

Why no proven bound at this cost (looked for, not found; measured at 100 Erlangs, patience 120
s, p 0.5, T 600 s, where an Erlang A evaluation costs ~5.5 us, so 20x is ~110 us):

- the exact chain needs 6,048 to 19,110 states at 95 to 110 agents and 54 to 130 sweeps (14 to
  100 ms). A sparse LU solve (SuperLU) of the same window takes 17 to 80 ms, a start from this
  model's own law (``P(x)`` times a negative binomial orbit of mean ``m[x]``, dispersion
  ``kappa``) saves 1 to 8 sweeps, and an extra exact aggregation over ``x`` (the cut balance)
  makes the iteration cycle: no exact solve comes near 110 us;
- a sandwich by monotone bounding chains: the chain is stochastically monotone in the
  componentwise order of ``(x, y)`` (a coupling: every rate that lowers a coordinate grows
  with it, every rate that raises one is constant or grows with the other), but a redial
  raises ``x`` and lowers ``y`` at once, so neither faster nor slower redials (nor the limits
  ``T -> 0``, ``T -> inf``, both one-dimensional and cheap) give an ordered, i.e. bounding,
  chain; no cheaper bounding chain was found;
- an a-posteriori bound from this model's residual in the two-dimensional chain needs a bound
  on the chain's Poisson equation (a coupling or hitting time, ~``T`` times the orbit's
  spread in seconds), which with the closure's residual gives bounds of order one; the bounds
  on ``m[x] = E[y | x]`` that would carry through the birth-death law (its metrics are
  monotone in the births) need the conditional law of ``y``, i.e. the chain itself.

So the choice stays: the exact chain (a stated truncation bound, 1e-12) at thousands of times
Erlang A's cost, or this model (a validated bound) within 20x.
"""

from __future__ import annotations

import numpy as np

from openwfm.queueing import _orbit_mean_core as kernel
from openwfm.queueing import _retrial_core as core
from openwfm.queueing._types import ArrayLike, Values
from openwfm.queueing.erlang import as_param

__all__ = [
    "BOUND_VALIDATED_MAX_P",
    "ORBIT_MEAN_BOUND_FACTOR",
    "orbit_mean",
    "orbit_mean_error_bound",
]

ORBIT_MEAN_BOUND_FACTOR = 0.01
"""The stated (validated) bound's factor: ``factor * p * tau / (tau + T)``."""

BOUND_VALIDATED_MAX_P = 0.7
"""The largest redial probability the stated bounds (this model's and the long-retry limit's)
were validated for; above it they are NaN. Small loss systems (1 or 2 agents, no waiting
places, retry 0.05 to 1 handle time) break them there: at ``p`` 0.9 the orbit-mean model's
error reaches 1.9 times its formula and the long-retry limit's 1.7 times its own, at 0.8 the
long-retry limit's 1.12 times (at 0.7: 0.50 and 0.91 of them, 540 such cases)."""


def orbit_mean(
    lam: float,
    mu: float,
    theta: float,
    n: int,
    lines: int,
    t: float,
    retrial: float,
    retry_mean_s: float,
    out: np.ndarray,
) -> float:
    """The orbit-mean model for one element (rates per second, ``lines < 0``: infinite);
    fills ``out`` (``core.METRIC_KEYS``) and returns the attempt rate (NaN: no steady
    state)."""
    loss = float(core.loss_probability(lam, mu, theta, n, lines))
    if not retrial * loss > 1e-13 or retrial * loss >= 1.0:
        # no steady state (NaN), redials below 1e-13 of the traffic (the orbit is empty to
        # that accuracy: the 1-d chain), or p L >= 1: the long-retry solver decides
        limit_rate = float(core.loss_fixed_point(lam, mu, theta, n, lines, t, retrial, out))
        if not np.isfinite(limit_rate) or limit_rate - lam <= 1e-13 * lam:
            return limit_rate
        starts = [limit_rate]
    else:
        # the attempt rate if every attempt were lost with the fresh calls' chance (cheap;
        # Newton corrects it), then the long-retry fixed point's if that start fails
        starts = [lam / (1.0 - retrial * loss), np.nan]
    gamma = 1.0 / retry_mean_s
    for rate_guess in starts:
        if not np.isfinite(rate_guess):
            rate_guess = float(core.loss_fixed_point(lam, mu, theta, n, lines, t, retrial, out))
        start = (rate_guess - lam) / gamma
        rate = float(
            kernel.orbit_mean_metrics(lam, mu, theta, n, lines, t, retrial, gamma, start, out)
        )
        if np.isfinite(rate):
            return rate
    # the closure's equations did not settle (never seen on the validation grid): the exact
    # chain answers instead, so a failure costs time, never accuracy
    from openwfm.queueing.redial_chain import two_dimensional

    return two_dimensional(lam, mu, theta, n, lines, t, retrial, retry_mean_s, out)


def orbit_mean_error_bound(
    aht_s: ArrayLike,
    patience_s: ArrayLike,
    retrial_probability: ArrayLike,
    retry_mean_s: ArrayLike,
) -> Values:
    """Validated (on a grid, not proven) bound on how far ``erlang_x(...,
    method="orbit_mean")`` is from the exact chain: ``0.01 p tau / (tau + T)``, ``tau =
    max(aht_s, patience_s)`` (absolute for the probabilities and service levels, relative for
    the attempt rate); 0 for ``T = inf`` (both are the long-retry model then); NaN for ``p``
    above ``BOUND_VALIDATED_MAX_P`` = 0.7 (no validated bound there)."""
    h = as_param("aht_s", aht_s, positive=True)
    pat = as_param("patience_s", patience_s, positive=True, allow_inf=True)
    p = as_param("retrial_probability", retrial_probability, upper=1.0)
    retry = as_param("retry_mean_s", retry_mean_s, positive=True, allow_inf=True)
    tau = np.maximum(h, np.where(np.isinf(pat), h, pat))
    with np.errstate(invalid="ignore"):
        bound = np.where(np.isinf(retry), 0.0, ORBIT_MEAN_BOUND_FACTOR * p * tau / (tau + retry))
    bound = np.where(p > BOUND_VALIDATED_MAX_P, np.nan, bound)
    return bound[()] if bound.ndim == 0 else bound

"""Compiled kernel of the orbit-mean model of Erlang X (see :mod:`openwfm.queueing.redial_mean`).

Unknowns: ``m[x]``, the mean orbit size given ``x`` calls in the system, on ``0 <= x <= top``,
and one dispersion ``kappa`` (``Var(y | x) = kappa m[x]``). Given ``m``, the number in system
is a birth-death chain (births ``B[x] = lam + gamma m[x]``, deaths ``d[x] = min(x, n) mu +
(x - n)+ theta``). The orbit's first-moment balance in column ``x``, divided by the column's
probability (the ratios of neighbouring columns' probabilities are the birth-death ratios), is

``F[x] = d[x] (m[x-1] (1 + gamma (kappa - 1) / B[x-1]) - m[x])
       + B[x] (m[x+1] - m[x] + rho[x+1]) - gamma kappa m[x]``

for ``x < top`` (``rho[x] = p (x - n)+ theta / d[x]``: the chance that a departure from ``x``
is an abandonment that will redial); at ``x = top`` the second line is replaced by, with
finite lines (a blocked call joins the orbit with probability ``p``; a blocked redial leaves it
with ``1 - p``), ``lam p - gamma (1 - p) m[top]`` (nothing for an infinite queue's
truncation). ``F`` is quadratic in ``m`` with a tridiagonal Jacobian: Newton's method with
Thomas solves. ``kappa`` is the root of the orbit's second-moment balance (every column
summed), found by secant steps.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from openwfm.queueing import _retrial_core as core

GAP_TOL = 1e-10
"""The second-moment balance is solved to this, relative: a change of ``kappa`` moves the
metrics by ~1e-4 per unit at 100 Erlangs, far below the closure's own error (~1e-4)."""


@njit(cache=True, nogil=True)
def _residual_and_jacobian(
    m, lam, mu, theta, n, top, blocking, retrial, gamma, kappa, f, lo, di, up
):
    """``F`` (see the module doc) into ``f`` and its Jacobian's three diagonals; returns
    ``max |F|`` relative to the column's flow."""
    worst = 0.0
    for x in range(top + 1):
        d = min(x, n) * mu + max(x - n, 0) * theta
        value = 0.0
        diag = 0.0
        lo[x] = 0.0
        scale = 1e-300
        if x > 0:
            left = m[x - 1]
            birth_left = lam + gamma * left
            spread = gamma * (kappa - 1.0) / birth_left
            value = d * (left * (1.0 + spread) - m[x])
            lo[x] = d * (1.0 + gamma * (kappa - 1.0) * lam / (birth_left * birth_left))
            diag = -d
            scale = d * (abs(left) * (1.0 + abs(spread)) + abs(m[x]))
        if x < top:
            d_next = min(x + 1, n) * mu + max(x + 1 - n, 0) * theta
            rho = retrial * max(x + 1 - n, 0) * theta / d_next
            birth = lam + gamma * m[x]
            gap = m[x + 1] - m[x] + rho
            value += birth * gap - gamma * kappa * m[x]
            up[x] = birth
            diag += gamma * gap - birth - gamma * kappa
            scale += birth * (abs(m[x + 1]) + abs(m[x]) + rho) + gamma * kappa * abs(m[x])
        else:
            up[x] = 0.0
            if blocking:
                value += lam * retrial - gamma * (1.0 - retrial) * m[x]
                diag -= gamma * (1.0 - retrial)
                scale += lam * retrial + gamma * abs(m[x])
        f[x] = value
        di[x] = diag
        worst = max(worst, abs(value) / (scale + 1e-300))
    return worst


@njit(cache=True, nogil=True)
def _thomas(lo, di, up, rhs, size, work):
    """Solves the tridiagonal system in place into ``rhs`` (``work``: scratch)."""
    work[0] = up[0] / di[0]
    rhs[0] = rhs[0] / di[0]
    for x in range(1, size):
        pivot = di[x] - lo[x] * work[x - 1]
        work[x] = up[x] / pivot
        rhs[x] = (rhs[x] - lo[x] * rhs[x - 1]) / pivot


@njit(cache=True, nogil=True)
def _back(rhs, work, size):
    for x in range(size - 2, -1, -1):
        rhs[x] -= work[x] * rhs[x + 1]


@njit(cache=True, nogil=True)
def solve_orbit_means(m, lam, mu, theta, n, top, blocking, retrial, gamma, kappa, max_steps):
    """Newton's method on ``F(m) = 0`` from ``m`` (updated in place, ``top + 1`` values);
    returns the steps taken, or -1 when it did not settle (or left ``m >= 0``)."""
    size = top + 1
    f = np.empty(size)
    lo = np.empty(size)
    di = np.empty(size)
    up = np.empty(size)
    work = np.empty(size)
    for step in range(max_steps):
        worst = _residual_and_jacobian(
            m, lam, mu, theta, n, top, blocking, retrial, gamma, kappa, f, lo, di, up
        )
        if worst < 1e-14:
            return step
        _thomas(lo, di, up, f, size, work)
        _back(f, work, size)
        for x in range(size):
            m[x] -= f[x]
            if not m[x] >= -1e-9 * (1.0 + abs(m[x])):
                return -1
            m[x] = max(m[x], 0.0)
    return -1


@njit(cache=True, nogil=True)
def column_law(m, lam, mu, theta, n, top, gamma, out):
    """P(x in system) given the orbit means (births ``lam + gamma m[x]``) into ``out``."""
    out[0] = 1.0
    total = 1.0
    for x in range(top):
        d = min(x + 1, n) * mu + max(x + 1 - n, 0) * theta
        out[x + 1] = out[x] * (lam + gamma * m[x]) / d
        if out[x + 1] > 1e200:
            for k in range(x + 2):
                out[k] *= 1e-200
            total *= 1e-200
        total += out[x + 1]
    for x in range(top + 1):
        out[x] /= total


@njit(cache=True, nogil=True)
def _variance_gap(m, law, lam, mu, theta, n, top, blocking, retrial, gamma, kappa):
    """The orbit's second-moment balance (``d E[y^2] / dt``, every column summed, so only
    first and second moments appear) under the closure ``E[y^2 | x] = m^2 + kappa m``,
    relative to its largest term: zero at the self-consistent ``kappa``. Returns ``(gap, the
    kappa that would zero it with these m and law)`` (the balance is linear in ``kappa``)."""
    gain = 0.0
    loss = 0.0
    loss_per_kappa = 0.0
    for x in range(top + 1):
        second = m[x] * m[x] + kappa * m[x]
        leave = gamma if x < top else (gamma * (1.0 - retrial) if blocking else 0.0)
        # redials enter (y -> y - 1 at rate gamma y), or give up when blocked at the top
        loss += law[x] * leave * (2.0 * second - m[x])
        loss_per_kappa += law[x] * leave * 2.0 * m[x]
        if x == top and blocking:  # blocked fresh calls join the orbit
            gain += law[x] * lam * retrial * (2.0 * m[x] + 1.0)
        abandon_redial = retrial * max(x - n, 0) * theta
        gain += law[x] * abandon_redial * (2.0 * m[x] + 1.0)
    implied = kappa + (gain - loss) / loss_per_kappa if loss_per_kappa > 0.0 else np.nan
    return (loss - gain) / max(loss, gain, 1e-300), implied


@njit(cache=True, nogil=True)
def _solve_at(m, law, lam, mu, theta, n, top, blocking, retrial, gamma, kappa):
    """Orbit means (``m`` updated in place) and the column law (into ``law``) at ``kappa``;
    returns the variance gap and the implied kappa (NaN: Newton did not settle)."""
    if solve_orbit_means(m, lam, mu, theta, n, top, blocking, retrial, gamma, kappa, 60) < 0:
        return np.nan, np.nan
    column_law(m, lam, mu, theta, n, top, gamma, law)
    return _variance_gap(m, law, lam, mu, theta, n, top, blocking, retrial, gamma, kappa)


@njit(cache=True, nogil=True)
def _solve_toward(m, law, backup, lam, mu, theta, n, top, blocking, retrial, gamma, k_from, k_to):
    """From the solution ``m`` at ``k_from`` to ``k_to``, or as far toward it as Newton
    settles (continuation: the step is halved until it does); returns ``(kappa reached,
    gap)`` (NaN: not even a tiny step settles)."""
    backup[:] = m
    kappa = k_to
    for _ in range(40):
        gap, _ = _solve_at(m, law, lam, mu, theta, n, top, blocking, retrial, gamma, kappa)
        if gap == gap:
            return kappa, gap
        m[:] = backup
        kappa = k_from + 0.5 * (kappa - k_from)
    return np.nan, np.nan


@njit(cache=True, nogil=True)
def solve_dispersion(m, law, lam, mu, theta, n, top, blocking, retrial, gamma):
    """The self-consistent dispersion ``kappa`` (secant steps, kept inside a bracket once one
    is found, else bisection; each step by continuation from the last solution) with its
    orbit means and column law; NaN: none found."""
    low, high = 0.0, np.inf  # bracket: gap < 0 at low, > 0 at high
    backup = np.empty(m.size)
    k0 = 1.0
    g0, implied = _solve_at(m, law, lam, mu, theta, n, top, blocking, retrial, gamma, k0)
    if g0 != g0:
        return np.nan
    # first step: the kappa that balances with the Poisson closure's means (then secant)
    k1 = implied if 0.0 < implied < np.inf else (2.0 if g0 < 0.0 else 0.5)
    for _ in range(80):
        if g0 < 0.0:
            low = max(low, k0)
        else:
            high = min(high, k0)
        if abs(g0) < GAP_TOL:
            return k0
        k1, g1 = _solve_toward(
            m, law, backup, lam, mu, theta, n, top, blocking, retrial, gamma, k0, k1
        )
        if g1 != g1:
            return np.nan
        step = k1 - g1 * (k1 - k0) / (g1 - g0) if g1 != g0 else np.nan
        k0, g0 = k1, g1
        if g1 < 0.0:
            low = max(low, k1)
        else:
            high = min(high, k1)
        if not (low < step < high):
            step = 0.5 * (low + high) if high < np.inf else 2.0 * max(low, 1.0)
        k1 = step
    return np.nan


@njit(cache=True, nogil=True)
def orbit_mean_metrics(lam, mu, theta, n, lines, t, retrial, gamma, start_orbit, out):
    """Metrics of the orbit-mean model into ``out`` (``core.METRIC_KEYS``; ``out[7]`` the
    time-average queue length); returns the attempt rate (NaN: no steady state or no
    convergence). ``start_orbit``: the long-retry fixed point's mean orbit (the start)."""
    blocking = lines >= 0
    if blocking:
        top = lines
    else:
        # where the chain at the fixed point's attempt rate plus its orbit's spread is below
        # 1e-17; the top column's mass is checked below and the window widened if needed
        busy = lam + gamma * (start_orbit + 8.0 * np.sqrt(start_orbit + 1.0))
        top = core.needed_states(busy, mu, theta, n, -1)
        if top < 0:
            return np.nan
        top = max(top, n + 2)
    m = np.full(top + 1, start_orbit)
    while True:
        law = np.empty(top + 1)
        kappa = solve_dispersion(m, law, lam, mu, theta, n, top, blocking, retrial, gamma)
        if kappa != kappa:
            return np.nan
        if blocking or law[top] < 1e-17:
            break
        wider = top + top // 2 + 10
        if wider > core.MAX_STATES:
            return np.nan
        grown = np.empty(wider + 1)
        grown[: top + 1] = m
        grown[top + 1 :] = m[top]
        m = grown
        top = wider
    view = np.empty(top + 1)
    rate = 0.0
    queue = 0.0
    for x in range(top + 1):
        view[x] = law[x] * (lam + gamma * m[x])
        rate += view[x]
        queue += law[x] * max(x - n, 0)
    for x in range(top + 1):
        view[x] /= rate
    core.call_metrics(view, top + 1, n, mu, theta, lines, t, out)
    out[7] = queue
    return rate

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
_LOW_TAIL = 1e-18  # columns below the window hold less than this (see orbit_mean_metrics)


@njit(cache=True, nogil=True)
def column_rates(lam, mu, theta, n, x_low, top, retrial):
    """Per column ``c`` (``x = x_low + c``): ``(d, redial_out)``: the death rate ``min(x, n) mu
    + (x - n)+ theta`` (0 in the first column: the window is censored there, nothing leaves
    it downwards) and the rate of abandonments that will redial ``p (x - n)+ theta``."""
    size = top - x_low + 1
    death = np.empty(size)
    redial_out = np.empty(size)
    for c in range(size):
        x = x_low + c
        death[c] = min(x, n) * mu + max(x - n, 0) * theta if c > 0 else 0.0
        redial_out[c] = retrial * max(x - n, 0) * theta
    return death, redial_out


@njit(cache=True, nogil=True)
def _residual_and_jacobian(m, rates, lam, blocking, retrial, gamma, kappa, f, lo, di, up):
    """``F`` (see the module doc) into ``f`` and its Jacobian's three diagonals; returns
    ``max |F|`` relative to the column's flow."""
    death, redial_out = rates
    last = m.size - 1
    worst = 0.0
    for c in range(last + 1):
        d = death[c]
        value = 0.0
        diag = 0.0
        lo[c] = 0.0
        scale = 1e-300
        if c > 0:
            left = m[c - 1]
            birth_left = lam + gamma * left
            spread = gamma * (kappa - 1.0) / birth_left
            value = d * (left * (1.0 + spread) - m[c])
            lo[c] = d * (1.0 + gamma * (kappa - 1.0) * lam / (birth_left * birth_left))
            diag = -d
            scale = d * (abs(left) * (1.0 + abs(spread)) + abs(m[c]))
        if c < last:
            rho = redial_out[c + 1] / death[c + 1]
            birth = lam + gamma * m[c]
            gap = m[c + 1] - m[c] + rho
            value += birth * gap - gamma * kappa * m[c]
            up[c] = birth
            diag += gamma * gap - birth - gamma * kappa
            scale += birth * (abs(m[c + 1]) + abs(m[c]) + rho) + gamma * kappa * abs(m[c])
        else:
            up[c] = 0.0
            if blocking:
                value += lam * retrial - gamma * (1.0 - retrial) * m[c]
                diag -= gamma * (1.0 - retrial)
                scale += lam * retrial + gamma * abs(m[c])
        f[c] = value
        di[c] = diag
        worst = max(worst, abs(value) / (scale + 1e-300))
    return worst


@njit(cache=True, nogil=True)
def _thomas(lo, di, up, rhs, work):
    """Solves the tridiagonal system in place into ``rhs`` (``work``: scratch)."""
    size = rhs.size
    work[0] = up[0] / di[0]
    rhs[0] = rhs[0] / di[0]
    for c in range(1, size):
        pivot = di[c] - lo[c] * work[c - 1]
        work[c] = up[c] / pivot
        rhs[c] = (rhs[c] - lo[c] * rhs[c - 1]) / pivot
    for c in range(size - 2, -1, -1):
        rhs[c] -= work[c] * rhs[c + 1]


@njit(cache=True, nogil=True)
def solve_orbit_means(m, rates, lam, blocking, retrial, gamma, kappa, max_steps):
    """Newton's method on ``F(m) = 0`` from ``m`` (updated in place, one value per column);
    returns the steps taken, or -1 when it did not settle (or left ``m >= 0``)."""
    size = m.size
    f = np.empty(size)
    lo = np.empty(size)
    di = np.empty(size)
    up = np.empty(size)
    work = np.empty(size)
    for step in range(max_steps):
        worst = _residual_and_jacobian(
            m, rates, lam, blocking, retrial, gamma, kappa, f, lo, di, up
        )
        if worst < 1e-14:
            return step
        _thomas(lo, di, up, f, work)
        for c in range(size):
            m[c] -= f[c]
            if not m[c] >= -1e-9 * (1.0 + abs(m[c])):
                return -1
            m[c] = max(m[c], 0.0)
    return -1


@njit(cache=True, nogil=True)
def column_law(m, death, lam, gamma, out):
    """P(column) given the orbit means (births ``lam + gamma m``) into ``out``."""
    out[0] = 1.0
    total = 1.0
    for c in range(m.size - 1):
        out[c + 1] = out[c] * (lam + gamma * m[c]) / death[c + 1]
        if out[c + 1] > 1e200:
            for k in range(c + 2):
                out[k] *= 1e-200
            total *= 1e-200
        total += out[c + 1]
    for c in range(m.size):
        out[c] /= total


@njit(cache=True, nogil=True)
def _variance_gap(m, law, rates, lam, blocking, retrial, gamma, kappa):
    """The orbit's second-moment balance (``d E[y^2] / dt``, every column summed, so only
    first and second moments appear) under the closure ``E[y^2 | x] = m^2 + kappa m``,
    relative to its largest term: zero at the self-consistent ``kappa``. Returns ``(gap, the
    kappa that would zero it with these m and law)`` (the balance is linear in ``kappa``)."""
    redial_out = rates[1]
    last = m.size - 1
    gain = 0.0
    loss = 0.0
    loss_per_kappa = 0.0
    for c in range(last + 1):
        second = m[c] * m[c] + kappa * m[c]
        leave = gamma if c < last else (gamma * (1.0 - retrial) if blocking else 0.0)
        # redials enter (y -> y - 1 at rate gamma y), or give up when blocked at the top
        loss += law[c] * leave * (2.0 * second - m[c])
        loss_per_kappa += law[c] * leave * 2.0 * m[c]
        if c == last and blocking:  # blocked fresh calls join the orbit
            gain += law[c] * lam * retrial * (2.0 * m[c] + 1.0)
        gain += law[c] * redial_out[c] * (2.0 * m[c] + 1.0)
    implied = kappa + (gain - loss) / loss_per_kappa if loss_per_kappa > 0.0 else np.nan
    return (loss - gain) / max(loss, gain, 1e-300), implied


@njit(cache=True, nogil=True)
def _solve_at(m, law, rates, lam, blocking, retrial, gamma, kappa):
    """Orbit means (``m`` updated in place) and the column law (into ``law``) at ``kappa``;
    returns the variance gap and the implied kappa (NaN: Newton did not settle)."""
    if solve_orbit_means(m, rates, lam, blocking, retrial, gamma, kappa, 60) < 0:
        return np.nan, np.nan
    column_law(m, rates[0], lam, gamma, law)
    return _variance_gap(m, law, rates, lam, blocking, retrial, gamma, kappa)


@njit(cache=True, nogil=True)
def _solve_toward(m, law, backup, rates, lam, blocking, retrial, gamma, k_from, k_to):
    """From the solution ``m`` at ``k_from`` to ``k_to``, or as far toward it as Newton
    settles (continuation: the step is halved until it does); returns ``(kappa reached,
    gap)`` (NaN: not even a tiny step settles)."""
    backup[:] = m
    kappa = k_to
    for _ in range(40):
        gap, _ = _solve_at(m, law, rates, lam, blocking, retrial, gamma, kappa)
        if gap == gap:
            return kappa, gap
        m[:] = backup
        kappa = k_from + 0.5 * (kappa - k_from)
    return np.nan, np.nan


@njit(cache=True, nogil=True)
def solve_dispersion(m, law, rates, lam, blocking, retrial, gamma):
    """The self-consistent dispersion ``kappa`` (secant steps, kept inside a bracket once one
    is found, else bisection; each step by continuation from the last solution) with its
    orbit means and column law; NaN: none found."""
    low, high = 0.0, np.inf  # bracket: gap < 0 at low, > 0 at high
    backup = np.empty(m.size)
    k0 = 1.0
    g0, implied = _solve_at(m, law, rates, lam, blocking, retrial, gamma, k0)
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
        k1, g1 = _solve_toward(m, law, backup, rates, lam, blocking, retrial, gamma, k0, k1)
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
def _lowest_column(lam, mu, theta, n, lines):
    """The window's lowest ``x``: below it the chain at the fresh rate alone (the least
    congested the queue can be) holds less than ``_LOW_TAIL``."""
    if n < 8:
        return 0
    work = np.empty(n + 2)
    size = core.birth_death_view(lam, mu, theta, n, n, work)  # (the states up to n)
    if size <= 0:
        return 0
    below = 0.0
    for x in range(size):
        below += work[x]
        if below >= _LOW_TAIL:
            return max(x - 1, 0)
    return 0


@njit(cache=True, nogil=True)
def orbit_mean_metrics(lam, mu, theta, n, lines, t, retrial, gamma, start_orbit, out):
    """Metrics of the orbit-mean model into ``out`` (``core.METRIC_KEYS``; ``out[7]`` the
    time-average queue length); returns the attempt rate (NaN: no steady state or no
    convergence). ``start_orbit``: a mean orbit to start from."""
    blocking = lines >= 0
    x_low = min(_lowest_column(lam, mu, theta, n, lines), max(n - 1, 0))
    if blocking:
        top = lines
    else:
        # where the chain at the start's attempt rate plus its orbit's spread is below 1e-17;
        # the top column's mass is checked below and the window widened if needed
        busy = lam + gamma * (start_orbit + 8.0 * np.sqrt(start_orbit + 1.0))
        top = core.needed_states(busy, mu, theta, n, -1)
        if top < 0:
            return np.nan
        top = max(top, n + 2)
    x_low = min(x_low, top - 1)
    m = np.full(top - x_low + 1, start_orbit)
    while True:
        rates = column_rates(lam, mu, theta, n, x_low, top, retrial)
        law = np.empty(m.size)
        kappa = solve_dispersion(m, law, rates, lam, blocking, retrial, gamma)
        if kappa != kappa:
            return np.nan
        if blocking or law[-1] < 1e-17:
            break
        wider = top + top // 2 + 10
        if wider > core.MAX_STATES:
            return np.nan
        grown = np.empty(wider - x_low + 1)
        grown[: m.size] = m
        grown[m.size :] = m[-1]
        m = grown
        top = wider
    view = np.zeros(top + 1)
    rate = 0.0
    queue = 0.0
    for c in range(m.size):
        x = x_low + c
        view[x] = law[c] * (lam + gamma * m[c])
        rate += view[x]
        queue += law[c] * max(x - n, 0)
    for x in range(x_low, top + 1):
        view[x] /= rate
    core.call_metrics(view, top + 1, n, mu, theta, lines, t, out)
    out[7] = queue
    return rate

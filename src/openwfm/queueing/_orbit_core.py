"""Compiled solver of the Erlang X chain: ``x`` calls in the system, ``y`` callers waiting to
redial (the orbit), on a window ``x_low <= x <= top``, ``y_low <= y <= y_top``.

Moves of a state (rates; a move that would leave the window is censored to its edge, a move
that then goes nowhere is dropped):

- a fresh call (``lam``) enters (``x + 1``); at ``x = top`` with ``blocking`` (finite lines)
  it is blocked and joins the orbit with probability ``retrial`` (``y + 1``);
- a redial (``y gamma``) enters (``x + 1, y - 1``); blocked at ``x = top``, it gives up with
  probability ``1 - retrial`` (``y - 1``) or stays in the orbit;
- a service (``min(x, n) mu``) and an abandonment for good (``(x - n)+ theta (1 - retrial)``)
  (``x - 1``); an abandonment that will redial (``(x - n)+ theta retrial``: ``x - 1, y + 1``).

Without ``blocking`` the top is the truncation of an infinite queue (its mass is below
1e-17), arrivals there are lost to it.

The stationary distribution is found by iterative aggregation-disaggregation (Koury,
McAllister and Stewart): every sweep (1) rescales the orbit levels to the exact solution of
their aggregated birth-death chain (``y`` moves by one), (2) solves every orbit level's
tridiagonal balance equations given its neighbours (block Gauss-Seidel, the flows between
levels kept in at most ``CROSS`` moves per state). The aggregation removes the slow mode along
the orbit, so the sweeps needed stay in the tens (~90 at 100 Erlangs). It stops when the
estimated L1 error (``change * rate / (1 - rate)``, the change per sweep shrinking
geometrically at ``rate``) is below ``tol``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

MOVES = 5  # move slots per state


@njit(cache=True, nogil=True)
def _move_table(lam, mu, theta, n, x_low, top, blocking, retrial, gamma, y_low, y_top):
    """Every state's moves: ``(target x, target y, rate)`` in ``MOVES`` slots (rate 0: unused),
    arrays of shape ``(height, width, MOVES)``, state ``(x, y)`` at ``[y - y_low, x - x_low]``."""
    height, width = y_top - y_low + 1, top - x_low + 1
    to_x = np.zeros((height, width, MOVES), dtype=np.int64)
    to_y = np.zeros((height, width, MOVES), dtype=np.int64)
    rate = np.zeros((height, width, MOVES))
    for row in range(height):
        y = y_low + row
        for col in range(width):
            x = x_low + col
            waiting = max(x - n, 0) * theta
            down = max(x - 1, x_low)
            moves = (
                (x + 1, y, lam) if x < top else (x, min(y + 1, y_top), lam * retrial * blocking),
                (x + 1, max(y - 1, y_low), y * gamma)
                if x < top
                else (x, max(y - 1, y_low), y * gamma * (1.0 - retrial) * blocking),
                (down, y, min(x, n) * mu),
                (down, y, waiting * (1.0 - retrial)),
                (down, min(y + 1, y_top), waiting * retrial),
            )
            for k in range(MOVES):
                tx, ty, r = moves[k]
                if (tx != x or ty != y) and r > 0.0:
                    to_x[row, col, k] = tx - x_low
                    to_y[row, col, k] = ty - y_low
                    rate[row, col, k] = r
    return to_x, to_y, rate


CROSS = 3  # moves to another orbit level per state, at most (see _cross_moves)


@njit(cache=True, nogil=True)
def _cross_moves(to_x, to_y, rate):
    """Every state's moves to the other orbit levels in ``CROSS`` slots (``(level, column,
    rate)``; rate 0: unused, its level and column those of the state) and its total rates up
    and down the orbit, from the move table."""
    height, width, _ = rate.shape
    level = np.zeros((height, width, CROSS), dtype=np.int64)
    column = np.zeros((height, width, CROSS), dtype=np.int64)
    cross = np.zeros((height, width, CROSS))
    up = np.zeros((height, width))
    down = np.zeros((height, width))
    for row in range(height):
        for col in range(width):
            slot = 0
            for k in range(CROSS):
                level[row, col, k] = row
                column[row, col, k] = col
            for k in range(MOVES):
                r = rate[row, col, k]
                ty = to_y[row, col, k]
                if r == 0.0 or ty == row:
                    continue
                level[row, col, slot] = ty
                column[row, col, slot] = to_x[row, col, k]
                cross[row, col, slot] = r
                slot += 1
                if ty > row:
                    up[row, col] += r
                else:
                    down[row, col] += r
    return level, column, cross, up, down


@njit(cache=True, nogil=True)
def _aggregate_levels(pi, up, down):
    """Rescale ``pi`` so that its orbit-level marginal is the stationary law of the
    aggregated birth-death chain on the levels (the orbit moves by one), keeping every
    level's conditional shape."""
    height, width = pi.shape
    mass = np.zeros(height)
    rise = np.zeros(height)
    fall = np.zeros(height)
    for row in range(height):
        m = 0.0
        u = 0.0
        d = 0.0
        for col in range(width):
            p = pi[row, col]
            m += p
            u += p * up[row, col]
            d += p * down[row, col]
        mass[row] = m
        rise[row] = u
        fall[row] = d
    weight = np.zeros(height)
    weight[0] = 1.0
    for i in range(1, height):
        ratio_up = rise[i - 1] / mass[i - 1] if mass[i - 1] > 0.0 else 0.0
        ratio_down = fall[i] / mass[i] if mass[i] > 0.0 else 0.0
        weight[i] = weight[i - 1] * ratio_up / ratio_down if ratio_down > 0.0 else 0.0
        if weight[i] > 1e250:
            weight[: i + 1] *= 1e-250
    weight /= weight.sum()
    for row in range(height):
        if mass[row] > 0.0:
            factor = weight[row] / mass[row]
            for col in range(width):
                pi[row, col] *= factor


@njit(cache=True, nogil=True)
def _level_factors(to_x, to_y, rate):
    """Every orbit level's balance equations among its own states, ``sub[c] pi[c-1] + diag[c]
    pi[c] + sup[c] pi[c+1]`` (outflow on the diagonal, inflow off it), LU-factored once
    (Thomas; no pivoting: the matrix is column diagonally dominant): returns ``(factor,
    inverse pivot, sup)`` with ``factor[c] = sub[c] / pivot[c-1]``."""
    height, width, _ = rate.shape
    sub = np.zeros((height, width))
    pivot = np.zeros((height, width))
    sup = np.zeros((height, width))
    for row in range(height):
        for col in range(width):
            for k in range(MOVES):
                r = rate[row, col, k]
                pivot[row, col] += r
                if r == 0.0 or to_y[row, col, k] != row:
                    continue
                target = to_x[row, col, k]
                if target == col + 1:
                    sub[row, target] -= r
                else:
                    sup[row, target] -= r
        for col in range(1, width):
            sub[row, col] /= pivot[row, col - 1]
            pivot[row, col] -= sub[row, col] * sup[row, col - 1]
    return sub, 1.0 / pivot, sup


@njit(cache=True, nogil=True)
def _cross_inflow(pi, moves, inflow):
    """``inflow[row, col]``: probability flow into each state from the other orbit levels."""
    level, column, cross = moves
    height, width = pi.shape
    inflow[:, :] = 0.0
    for row in range(height):
        for col in range(width):
            p = pi[row, col]
            for k in range(CROSS):
                inflow[level[row, col, k], column[row, col, k]] += p * cross[row, col, k]


@njit(cache=True, nogil=True)
def _gauss_seidel(pi, moves, factors, inflow, new):
    """One block Gauss-Seidel sweep over the orbit levels (each level's tridiagonal system
    solved with its factors; the inflow to the neighbours updated as each level changes);
    returns the L1 change."""
    level, column, cross = moves
    height, width = pi.shape
    factor, inverse_pivot, sup = factors
    change = 0.0
    for row in range(height):
        # forward elimination of the right-hand side, then back substitution
        new[0] = inflow[row, 0]
        for c in range(1, width):
            new[c] = inflow[row, c] - factor[row, c] * new[c - 1]
        new[width - 1] *= inverse_pivot[row, width - 1]
        for c in range(width - 2, -1, -1):
            new[c] = (new[c] - sup[row, c] * new[c + 1]) * inverse_pivot[row, c]
        for col in range(width):
            value = max(new[col], 0.0)
            delta = value - pi[row, col]
            change += abs(delta)
            pi[row, col] = value
            for k in range(CROSS):
                inflow[level[row, col, k], column[row, col, k]] += delta * cross[row, col, k]
    return change


STALL_SWEEPS = 400
"""The iteration gives up when its change per sweep has not reached a new low for this many
sweeps (a converging solve lowers it every few sweeps; ~400 sweeps in all at worst seen)."""


@njit(cache=True, nogil=True, error_model="numpy")
def orbit_chain(start, to_x, to_y, rate, tol, max_sweeps):
    """Stationary distribution of the windowed chain from the move table of
    :func:`_move_table`, iterated from ``start`` (any positive guess); returns ``(pi,
    sweeps)`` with ``sweeps = -1`` when not settled within ``max_sweeps`` or stalled (no new
    low of the change per sweep in ``STALL_SWEEPS``)."""
    pi = start.copy()
    pi /= pi.sum()
    factors = _level_factors(to_x, to_y, rate)
    level, column, cross, up, down = _cross_moves(to_x, to_y, rate)
    moves = (level, column, cross)
    inflow = np.empty(pi.shape)
    new = np.empty(pi.shape[1])
    previous = 0.0
    best, best_sweep = np.inf, 0
    for sweep in range(max_sweeps):
        _aggregate_levels(pi, up, down)
        _cross_inflow(pi, moves, inflow)
        change = _gauss_seidel(pi, moves, factors, inflow, new)
        mass = pi.sum()
        if not mass > 0.0:
            return pi, -1
        pi /= mass
        change /= mass
        if change < best:
            best, best_sweep = change, sweep
        elif sweep - best_sweep > STALL_SWEEPS:
            return pi, -1  # stalled (a limit cycle, seen at ~1e-7 on large loss windows)
        shrink = min(change / previous, 0.9999) if previous > 0.0 else 0.9999
        previous = change
        # (an L1 change below 1e-13 is rounding noise: the iteration has settled)
        if change * shrink / (1.0 - shrink) < tol or change < 1e-13:
            return pi, sweep + 1
    return pi, -1


@njit(cache=True, nogil=True)
def residual(pi, to_x, to_y, rate):
    """L1 norm of ``pi Q`` (the balance residual) relative to the total flow ``sum pi out``."""
    height, width = pi.shape
    net = np.zeros((height, width))
    flow = 0.0
    for row in range(height):
        for col in range(width):
            p = pi[row, col]
            for k in range(MOVES):
                r = rate[row, col, k]
                if r > 0.0:
                    net[row, col] -= p * r
                    net[to_y[row, col, k], to_x[row, col, k]] += p * r
                    flow += p * r
    return np.abs(net).sum() / flow if flow > 0.0 else 0.0


def move_table(lam, mu, theta, n, x_low, top, blocking, retrial, gamma, y_low, y_top):
    """Python entry of :func:`_move_table` (types normalised for the compiled kernel)."""
    return _move_table(
        float(lam),
        float(mu),
        float(theta),
        int(n),
        int(x_low),
        int(top),
        float(bool(blocking)),
        float(retrial),
        float(gamma),
        int(y_low),
        int(y_top),
    )

"""Blending against references beyond the sizes a dense 50-digit solve takes (test_queueing_blend
has those, up to 1.5 Erlangs): 16 and 90 Erlangs of inbound work.

The reference is built here from the model's rules, independently of the code (which solves
the chain by sparse LU and the waiting call's law by a matrix-exponential action):

- the stationary law of ``(o outbound, k = inbound - (agents - o))`` by one banded LU solve
  in double precision, refined (``refine``) with residuals computed exactly in integer
  arithmetic on a 2**-400 fixed-point grid from the 50-digit rates, until the balance
  residual is below 1e-40 of the flow, or that double solve alone with its residual checked;
- P(a waiting call is answered) by its exact recursion over the calls ahead (each event takes
  one call ahead away): ``h(o, j) = ((n - o) mu + j theta) h(o, j-1) + o nu h(o-1, j-1)``
  over ``(n - o) mu + o nu + (j + 1) theta``;
- P(answered within t) by uniformization of the waiting call's chain (Poisson weights past
  the mean until they fall below 1e-30), on the same integer grid for the 50-digit
  reference (both at 16 and 90 Erlangs).
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
from scipy.linalg import lapack
from threadpoolctl import threadpool_limits

from openwfm.queueing import blend_metrics, erlang_a

mp.mp.dps = 50
REL = 1e-9


def _states(n, s, top):
    return [(o, k) for o in range(n + 1) for k in range(max(-s, o - n), top + 1)]


def _moves(o, k, n, s, top, lam, mu, nu, th):
    """The blending chain's moves from (o, k): ``((o', k'), rate)``."""
    out = []
    if k < top:
        out.append(((o, k + 1), lam))  # an inbound call arrives
    busy_in = n - o + min(k, 0)
    if busy_in > 0:  # an inbound call ends; with more than s idle an outbound call starts
        out.append((((o + 1, k) if (k == -s and s < n - o) else (o, k - 1)), busy_in * mu))
    if k > 0:
        out.append(((o, k - 1), k * th))  # a waiting call abandons
    if o > 0 and k > -s:  # an outbound call ends (at k = -s its agent restarts outbound)
        out.append(((o - 1, k - 1), o * nu))
    return [(t, r) for t, r in out if r != 0]


_BITS = 400  # fixed-point grid of the 50-digit refinement: 2**-400 ~ 1e-120


_SCALE = mp.mpf(2) ** _BITS


def _fixed(value):
    """``value`` (50-digit) on the fixed-point grid, as an integer."""
    return int(mp.nint(value * _SCALE))


def _stationary(states, moves, number, refine, anchor_weight):
    """Stationary law: one banded LU solve in double precision; ``refine``: refined with
    residuals computed exactly in integer arithmetic on the 2**-400 grid (the 50-digit rates
    rounded to it) until the balance residual is below 1e-40 of the flow; else that double
    solve with its residual checked."""
    index = {state: i for i, state in enumerate(states)}
    size = len(states)
    source, target, rates = [], [], []
    for i, (o, k) in enumerate(states):
        for state, rate in moves(o, k):
            source.append(i)
            target.append(index[state])
            rates.append(rate)
    source, target = np.array(source), np.array(target)
    width = int(np.max(np.abs(target - source))) + 1
    as_float = np.array([float(r) for r in rates])
    outflow = np.bincount(source, weights=as_float, minlength=size)
    band = np.zeros((2 * width + 1, size))
    band[width] = outflow
    np.add.at(band, (width + target - source, source), -as_float)
    anchor = int(np.argmax([float(v) for v in anchor_weight]))
    solve = _band_solver(_drop_row_col(band, anchor, width), width)
    keep = np.arange(size) != anchor
    if refine:
        fixed = [_fixed(r) for r in rates]
        out_fixed = [0] * size
        for s_, r in zip(source.tolist(), fixed, strict=True):
            out_fixed[s_] += r
        pairs = list(zip(source.tolist(), target.tolist(), fixed, strict=True))
    else:
        out_fixed, pairs = outflow.tolist(), list(zip(source, target, as_float, strict=True))

    def residual(p):
        res = [o * v for o, v in zip(out_fixed, p, strict=True)]
        for s_, t_, r in pairs:
            res[t_] -= r * p[s_]
        return res

    unit = (1 << _BITS) if refine else 1.0
    p = [0 if refine else 0.0] * size
    p[anchor] = unit
    for step_number in range(8):
        res = residual(p)
        flow = sum(o * abs(v) for o, v in zip(out_fixed, p, strict=True))
        worst = max(abs(v) for i, v in enumerate(res) if i != anchor)
        if step_number > 0:
            if not refine:
                assert worst < 1e-13 * flow
                break
            if worst * 10**40 < flow:
                break
        rhs = -np.array([v / (unit * unit) if refine else v for v in res])[keep]
        step = np.insert(solve(rhs), anchor, 0.0)
        p = [
            v + (int(d * float(unit)) if refine else d)
            for v, d in zip(p, step.tolist(), strict=True)
        ]
    else:
        raise AssertionError("iterative refinement did not reach the 50-digit residual")
    if refine:
        p = [mp.mpf(v) / unit for v in p]
    total = mp.fsum(p) if refine else sum(p)
    return [v / total for v in p]


def _band_solver(band, width):
    """Solves with the banded matrix (LAPACK band storage, ``width`` diagonals on each side),
    factored once (gbtrf, partial pivoting)."""
    storage = np.zeros((3 * width + 1, band.shape[1]))
    storage[width:] = band
    with threadpool_limits(1):  # (two BLAS threads on a busy machine: ten times slower)
        factors, pivots, info = lapack.dgbtrf(storage, width, width)
    assert info == 0

    def solve(rhs):
        solution, info = lapack.dgbtrs(factors, width, width, rhs, pivots)
        assert info == 0
        return solution

    return solve


def _drop_row_col(band, k, width):
    """Band storage without row and column ``k`` (entry (i, j) at ``[width + i - j, j]``)."""
    diagonals, size = band.shape
    d, j = np.meshgrid(np.arange(diagonals), np.arange(size), indexing="ij")
    i = j + d - width
    ok = (i >= 0) & (i < size) & (i != k) & (j != k)
    ii, jj = i[ok] - (i[ok] > k), j[ok] - (j[ok] > k)
    out = np.zeros((diagonals, size - 1))
    np.add.at(out, (width + ii - jj, jj), band[d[ok], j[ok]])
    return out


def _answered(start, n, top, mu, nu, th, t, number, rows=None):
    """(P(waits and is answered eventually), P(waits and is answered within t)) from the
    waiting call's start law ``start[(o, j)]``; ``rows``: only ``o < rows`` are kept (the start
    law has no mass above; ``o`` only falls), default every ``o`` up to ``n``."""
    rows = n + 1 if rows is None else rows
    # eventually: the exact recursion over the calls ahead
    h = {}
    for j in range(top + 1):
        for o in range(rows):
            free_in, free_out = (n - o) * mu, o * nu
            total = free_in + free_out + (j + 1) * th
            if j == 0:
                h[o, j] = (free_in + free_out) / total
            else:
                h[o, j] = ((free_in + j * th) * h[o, j - 1]) / total
                if o > 0:
                    h[o, j] += free_out * h[o - 1, j - 1] / total
    eventually = sum(p * h[state] for state, p in start.items())
    # within t: uniformization of the transient chain (arrays [o, j]; on the fixed-point grid
    # in integers for the 50-digit reference)
    rate = max(float((n - v) * mu + v * nu) for v in range(rows)) + (top + 1) * float(th)
    rate = number(rate)
    free_in = np.array([[(n - v) * mu] for v in range(rows)], dtype=object)
    free_out = np.array([[v * nu] for v in range(rows)], dtype=object)
    ahead = np.array([[v * th for v in range(top + 1)]], dtype=object)
    parts = {
        "stay": 1 - (free_in + free_out + ahead + th) / rate,
        "down": (free_in + ahead) / rate,
        "across": free_out / rate + 0 * ahead,
        "done": (free_in[:, 0] + free_out[:, 0]) / rate,
    }
    mass = np.zeros((rows, top + 1), dtype=object)
    for (ob, jb), p in start.items():
        mass[ob, jb] = p
    if number is mp.mpf:
        to_grid = np.vectorize(_fixed, otypes=[object])
        parts = {key: to_grid(value) for key, value in parts.items()}
        mass, unit = to_grid(mass), 1 << _BITS
    else:
        parts = {key: value.astype(float) for key, value in parts.items()}
        mass, unit = mass.astype(float), 1.0
    weight = (mp.exp if number is mp.mpf else np.exp)(-rate * t)
    answered, within, remaining, step = number(0), number(0), 1 - weight, 0
    answered_grid = 0
    while step <= rate * t or weight > 1e-30:  # the Poisson tail beyond is below 1e-30
        answered_grid += _scaled(np.sum(mass[:, 0] * parts["done"]), unit)
        answered = answered_grid / unit if unit == 1.0 else mp.mpf(answered_grid) / unit
        new = _scaled(mass * parts["stay"], unit)
        new[:, :-1] += _scaled(mass[:, 1:] * parts["down"][:, 1:], unit)
        new[:-1, :-1] += _scaled(mass[1:, 1:] * parts["across"][1:, 1:], unit)
        mass = new
        step += 1
        weight *= rate * t / step
        within += weight * answered
        remaining -= weight
    # the answered mass grows with the steps: the tail adds at most ``remaining`` (< 1e-29)
    return eventually, within + max(remaining, 0) * answered


def _scaled(product, unit):
    """A product of two grid values back on the grid (floats: as is)."""
    return product >> _BITS if unit != 1.0 else product


def ref_blend_range(lam, aht, aht_out, n, s, t, patience, top, refine):
    number = mp.mpf if refine else float
    lam, t = number(lam), number(t)
    mu, nu, th = 1 / number(aht), 1 / number(aht_out), 1 / number(patience)
    states = _states(n, s, top)
    # anchor: inbound agents near the load, nobody waiting (a state with much of the mass)
    busy_out = min(max(n - s - round(float(lam / mu)), 0), n)
    near = [-(abs(o - busy_out) + abs(k) + (k > 0)) for o, k in states]
    pi = _stationary(
        states, lambda o, k: _moves(o, k, n, s, top, lam, mu, nu, th), number, refine, near
    )
    start = {(o, k): p for (o, k), p in zip(states, pi, strict=True) if k >= 0}
    p_wait = sum(start.values())
    eventually, within = _answered(start, n, top, mu, nu, th, t, number)
    out = sum(p * o for (o, _), p in zip(states, pi, strict=True))
    top_mass = sum(p for (_, k), p in zip(states, pi, strict=True) if k == top)
    return {
        "p_wait": p_wait,
        "p_abandon": p_wait - eventually,
        "service_level": 1 - p_wait + within,
        "outbound_per_s": out * nu,
        "p_idle_reserved": sum(p for (_, k), p in zip(states, pi, strict=True) if k < 0),
    }, top_mass


@pytest.mark.parametrize(
    ("a", "aht", "aht_out", "n", "s", "patience", "top", "refine"),
    [
        (16.0, 200.0, 300.0, 18, 2, 120.0, 48, True),
        (90.0, 240.0, 180.0, 100, 3, 150.0, 90, True),
    ],
)
def test_blend_matches_independent_reference(a, aht, aht_out, n, s, patience, top, refine):
    lam, t = a / aht, 20.0
    ref, top_mass = ref_blend_range(lam, aht, aht_out, n, s, t, patience, top, refine)
    # the reference's queue cut is far below the tolerance (a double solve: its noise level)
    assert top_mass < (1e-20 if refine else 1e-13)
    got = blend_metrics(lam, aht, aht_out, n, s, t, patience_s=patience)
    for key, value in ref.items():
        assert abs(float(got[key]) - float(value)) <= REL * abs(float(value)) + 1e-15, key


@pytest.mark.parametrize(("a", "n"), [(1_000.0, 1_030), (5_000.0, 5_060)])
def test_no_outbound_at_thousands_of_erlangs_is_erlang_a(a, n):
    """Threshold = agents: nobody goes outbound, the inbound side is Erlang A (itself checked
    against 50-digit references up to 5,000 Erlangs)."""
    lam, aht, patience = a / 200.0, 200.0, 120.0
    got = blend_metrics(lam, aht, 300.0, n, n, 20.0, patience_s=patience)
    ref = erlang_a(lam, aht, patience, n, 20.0)
    assert float(got["outbound_per_s"]) == 0.0
    for key in ("service_level", "p_abandon", "asa_s"):
        assert float(got[key]) == pytest.approx(float(getattr(ref, key)), rel=1e-9), key

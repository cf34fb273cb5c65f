"""Blending with unequal inbound and outbound handle times past 90 Erlangs (300 and 500), against
50-digit references built level by level.

test_queueing_blend_range solves the whole two-dimensional chain (``o`` outbound calls, ``k =
inbound - (agents - o)``) with an iteratively refined banded LU; its cost grows with the
square of the agents (6.8 s at 90 Erlangs), so it stops there. This reference uses the
threshold policy's structure instead: the chain moves up a level ``o`` only from ``k =
-threshold`` (an inbound agent frees with too many idle and starts an outbound call), so the
level-up block has one nonzero entry and the matrix-geometric recursion ``pi[o + 1] = pi[o]
R[o]`` (linear level reduction, from the top level down to 0) has rank-one ``R[o] = r[o] e
v[o + 1]``, ``v[o] = e M[o]^-1``, ``M[o] = -A1[o] - R[o] A2[o + 1]`` (a tridiagonal matrix with
one changed row). Each level costs two tridiagonal solves in 50 digits (Sherman-Morrison); the
bottom level's balance ``pi[0] M[0] = 0`` is solved the same way and its consistency (the solved
``pi[0]`` reproduces its own first entry) is checked to 1e-30 (~1e-38 seen: the recursion
loses a dozen of the 50 digits at 500 Erlangs). The levels above ``levels`` and
the queue above ``top`` are cut (moves there censored); both edges hold less than 1e-20
(checked), far below the 1e-9 tolerance.

The waiting call's laws use the exact recursion over the calls ahead (P(answered)) and
uniformization on the 2**-400 fixed-point grid (P(answered within t)), as in
test_queueing_blend_range, from the start law without its states below 1e-26. The code solves
the chain by sparse LU on a window of levels and the wait by uniformization in double
precision.

The limit: the level reduction costs ~(levels x queue places) 50-digit operations (1.5 s at 500
Erlangs: 240 levels x 97 places) and the uniformization ~(levels x places x Poisson steps)
integer operations (~6 s at 500 Erlangs); both grow with the load (the levels with its square
root, the places and steps with the queue's spread and the target), so a case at 1,000 Erlangs
would take ~20 s (estimated from those scalings) and the tests stop at 500. Equal handle times
reach 5,000 Erlangs (test_queueing_blend_large: the outbound count drops out there).
"""

from __future__ import annotations

import mpmath as mp
import pytest

from openwfm.queueing import blend_metrics
from test_queueing_blend_range import _answered, ref_blend_range

mp.mp.dps = 50
REL = 1e-9
_CUT_MASS = mp.mpf(10) ** -20
_START_CUT = mp.mpf(10) ** -26


def _factor(sub, diag, sup):
    """Thomas factors of a tridiagonal matrix (rows: ``sub[i] x[i-1] + diag[i] x[i] + sup[i]
    x[i+1]``); no pivoting (the matrices here are diagonally dominant by columns)."""
    size = len(diag)
    pivot, ratio = [diag[0]], [mp.mpf(0)]
    for i in range(1, size):
        ratio.append(sub[i] / pivot[i - 1])
        pivot.append(diag[i] - ratio[i] * sup[i - 1])
    return pivot, ratio, sup


def _solve(factors, rhs):
    pivot, ratio, sup = factors
    size = len(pivot)
    y = list(rhs)
    for i in range(1, size):
        y[i] -= ratio[i] * y[i - 1]
    x = [mp.mpf(0)] * size
    x[-1] = y[-1] / pivot[-1]
    for i in range(size - 2, -1, -1):
        x[i] = (y[i] - sup[i] * x[i + 1]) / pivot[i]
    return x


def _level_transposed(o, n, s, top, lam, mu, nu, th, censored):
    """``-A1[o]`` transposed as three diagonals over ``i = k + s`` (``k = -s .. top``);
    ``censored``: the top level of a window (its move up a level stays put)."""
    size = s + top + 1
    sub, diag, sup = [mp.mpf(0)] * size, [mp.mpf(0)] * size, [mp.mpf(0)] * size
    for i in range(size):
        k = i - s
        busy_in = n - o + min(k, 0)
        frees = busy_in * mu if (k > -s or not censored) else 0
        diag[i] = (lam if k < top else 0) + frees + max(k, 0) * th + (o * nu if k > -s else 0)
        if k < top:  # (o, k) -> (o, k + 1) at lam: entry [i, i+1] of A1, [i+1, i] transposed
            sub[i + 1] = -lam
        if k > -s:  # (o, k) -> (o, k - 1): an inbound agent frees or a waiting call abandons
            sup[i - 1] = -(busy_in * mu + max(k, 0) * th)
    return sub, diag, sup


def stationary_by_levels(lam, mu, nu, th, n, s, top, levels):
    """``pi[o][k + s]`` of the blending chain, ``0 <= o <= levels <= n - s``, ``-s <= k <=
    top``, by the rank-one linear level reduction of the module doc (50 digits); below ``n -
    s`` the top level's move up is censored (its mass is checked by the caller)."""
    size = s + top + 1
    up_rate = [(n - o - s) * mu for o in range(levels + 1)]  # (o, -s) -> (o + 1, -s)
    v = [None] * (levels + 1)
    b_bottom = None
    for o in range(levels, -1, -1):
        censored = o == levels < n - s
        factors = _factor(*_level_transposed(o, n, s, top, lam, mu, nu, th, censored))
        if o == levels:
            u = [mp.mpf(0)] * size
        else:  # u[i - 1] = r[o] v[o + 1][i] (o + 1) nu: R[o] A2[o + 1] = e_0 u^T
            u = [up_rate[o] * v[o + 1][i + 1] * (o + 1) * nu for i in range(size - 1)]
            u.append(mp.mpf(0))
        b = _solve(factors, u)
        if o == 0:
            b_bottom = b
            break
        a = _solve(factors, [mp.mpf(1)] + [mp.mpf(0)] * (size - 1))
        first = a[0] / (1 - b[0])
        v[o] = [a[i] + b[i] * first for i in range(size)]
    # bottom: pi[0] M[0] = 0 -> pi[0] = pi[0][0] T^-T u; its first entry must come back as 1
    assert abs(b_bottom[0] - 1) < mp.mpf(10) ** -30, b_bottom[0]
    pi = [b_bottom]
    for o in range(levels):
        scale = pi[o][0] * up_rate[o]
        pi.append([scale * value for value in v[o + 1]])
    total = mp.fsum(mp.fsum(level) for level in pi)
    return [[value / total for value in level] for level in pi]


def ref_blend_levels(lam, aht, aht_out, n, s, t, patience, top, levels=None, start_cut=None):
    """50-digit blending metrics (the keys the code reports, but ASA) and the largest mass of
    a cut edge (the queue's top, the top level ``levels`` below ``n - s``); ``start_cut``:
    the waiting call's start states below it are dropped (default 1e-26)."""
    start_cut = _START_CUT if start_cut is None else start_cut
    lam, t = mp.mpf(lam), mp.mpf(t)
    mu, nu, th = 1 / mp.mpf(aht), 1 / mp.mpf(aht_out), 1 / mp.mpf(patience)
    levels = n - s if levels is None else levels
    pi = stationary_by_levels(lam, mu, nu, th, n, s, top, levels)
    waiting = [(o, i - s, p) for o, level in enumerate(pi) for i, p in enumerate(level) if i >= s]
    p_wait = mp.fsum(p for _, _, p in waiting)
    # the waiting call's start law without its states below 1e-26 (their sum is < 1e-21)
    start = {(o, j): p for o, j, p in waiting if p >= start_cut}
    deepest = max(j for _, j in start)
    eventually, within = _answered(start, n, deepest, mu, nu, th, t, mp.mpf, rows=levels + 1)
    outbound = mp.fsum(o * mp.fsum(level) for o, level in enumerate(pi))
    p_answered = 1 - p_wait + eventually
    return {
        "p_wait": p_wait,
        "p_abandon": p_wait - eventually,
        "service_level": 1 - p_wait + within,
        "service_level_answered": (1 - p_wait + within) / p_answered,
        "outbound_per_s": outbound * nu,
        "occupancy": (lam * p_answered / mu + outbound) / n,
        "p_idle_reserved": mp.fsum(mp.fsum(level[:s]) for level in pi),
    }, max(mp.fsum(level[-1] for level in pi), mp.fsum(pi[-1]) if levels < n - s else 0)


def test_level_reference_is_the_refined_two_dimensional_solve():
    """Where the whole chain can be solved (test_queueing_blend_range's refined banded LU),
    the level reduction gives the same metrics to 1e-30."""
    lam, aht, aht_out, n, s, t, patience, top = 16.0 / 200.0, 200.0, 300.0, 18, 2, 20.0, 120.0, 48
    full, _ = ref_blend_range(lam, aht, aht_out, n, s, t, patience, top, True)
    levels, top_mass = ref_blend_levels(lam, aht, aht_out, n, s, t, patience, top, start_cut=0)
    assert top_mass < _CUT_MASS
    for key, value in full.items():
        assert abs(value - levels[key]) <= mp.mpf(10) ** -30 * abs(value), key


@pytest.mark.parametrize(
    ("a", "aht", "aht_out", "n", "s", "patience", "top", "levels"),
    [
        (300.0, 240.0, 180.0, 312, 4, 60.0, 95, 170),  # shorter outbound calls
        (500.0, 200.0, 360.0, 515, 0, 30.0, 96, 240),  # threshold 0, longer outbound calls
    ],
)
def test_unequal_handle_times_match_50_digit_reference(
    a, aht, aht_out, n, s, patience, top, levels
):
    lam, t = a / aht, 20.0
    ref, cut_mass = ref_blend_levels(lam, aht, aht_out, n, s, t, patience, top, levels)
    assert cut_mass < _CUT_MASS
    assert float(ref["outbound_per_s"]) > 0.01 * n / aht_out  # real outbound work
    got = blend_metrics(lam, aht, aht_out, n, s, t, patience_s=patience)
    for key, value in ref.items():
        assert abs(float(got[key]) - float(value)) <= REL * abs(float(value)) + 1e-15, key

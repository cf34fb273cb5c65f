"""Erlang X with a finite retry time (the exact redial chain) against 50-digit references from
20 to 5,000 Erlangs, beyond the sizes a dense 50-digit solve takes (test_queueing_retrial has
those, up to 3 Erlangs).

The reference is built here from the model's rules, independently of the code: the chain on a
window much wider than the code's (every cut edge below ~1e-25), solved once in double
precision by a banded LU (LAPACK) and then refined with residuals computed in 50-digit
arithmetic (mixed-precision iterative refinement) until the 50-digit balance residual is below
1e-40 of the flow; the metrics of the arrivals' view then come from the 50-digit laws of
``ref_metrics``. The code's own solver is a different method (aggregation-disaggregation on a
window cut at 1e-12 per edge)."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
from scipy.linalg import solve_banded

from openwfm.queueing import erlang_x
from test_queueing_retrial import KEYS, ref_metrics

mp.mp.dps = 50
REL = 1e-9


def _moves(x, y, rules):
    """The chain's moves from (x, y) as ``(x', y', rate)`` (mpmath rates)."""
    lam, mu, th, g, p, n, x_low, lines, y_top = rules
    out = []
    if x < lines:
        out.append((x + 1, y, lam))
        if y > 0:
            out.append((x + 1, y - 1, y * g))
    else:  # blocked: joins the orbit, or a blocked redial gives up
        if y < y_top:
            out.append((x, y + 1, lam * p))
        if y > 0:
            out.append((x, y - 1, y * g * (1 - p)))
    if x > x_low:
        out.append((x - 1, y, min(x, n) * mu))
        if x > n:
            out.append((x - 1, y, (x - n) * th * (1 - p)))
            out.append((x - 1, min(y + 1, y_top), (x - n) * th * p))
    return [(a, b, r) for a, b, r in out if r != 0 and (a, b) != (x, y)]


def ref_redial_view(lam, aht, patience, n, lines, retrial, retry, x_low, y_top, refine=True):
    """View of an arriving attempt (P(finds x), x = 0..lines), the attempt rate and the
    largest mass on a cut edge: refined to 50 digits, or (``refine=False``, large chains) the
    double-precision banded solve alone, its residual checked."""
    number = mp.mpf if refine else float
    rules = (
        number(lam),
        1 / number(aht),
        1 / number(patience),
        1 / number(retry),
        number(retrial),
        n,
        x_low,
        lines,
        y_top,
    )
    height = y_top + 1
    size = (lines - x_low + 1) * height
    source, target, rates = [], [], []
    for x in range(x_low, lines + 1):
        for y in range(height):
            for x2, y2, rate in _moves(x, y, rules):
                source.append((x - x_low) * height + y)
                target.append((x2 - x_low) * height + y2)
                rates.append(rate)
    source, target = np.array(source), np.array(target)
    outflow = [number(0)] * size
    for s, r in zip(source, rates, strict=True):
        outflow[s] += r
    anchor = (n - x_low) * height
    keep = np.arange(size) != anchor

    # B p = 0 (B = diag(outflow) - inflow), p[anchor] = 1: the other equations, banded
    width = height + 1
    band = np.zeros((2 * width + 1, size))
    band[width] = [float(v) for v in outflow]
    np.add.at(band, (width + target - source, source), -np.array([float(r) for r in rates]))
    reduced = _drop_row_col(band, anchor, width)

    def residual(p):
        res = [outflow[i] * p[i] for i in range(size)]
        for s, t, r in zip(source, target, rates, strict=True):
            res[t] -= r * p[s]
        return res

    if not refine:
        rhs = np.zeros(size)
        column = band[:, anchor]
        rows = anchor + np.arange(2 * width + 1) - width
        ok = (rows >= 0) & (rows < size)
        rhs[rows[ok]] = -column[ok]
        p = np.insert(solve_banded((width, width), reduced, rhs[keep]), anchor, 1.0)
        balance = np.bincount(source, weights=np.array(rates) * p[source], minlength=size)
        balance -= np.bincount(target, weights=np.array(rates) * p[source], minlength=size)
        flow = np.array(outflow) @ np.abs(p)
        assert np.abs(np.delete(balance, anchor)).max() < 1e-14 * flow
        return _view(p, x_low, lines, height, rules)
    p = [mp.mpf(0)] * size
    p[anchor] = mp.mpf(1)
    flow = None
    for step_number in range(8):
        res = residual(p)
        if step_number > 0:
            worst = max(abs(v) for i, v in enumerate(res) if i != anchor)
            if worst < mp.mpf(10) ** -40 * flow:
                break
        rhs = -np.array([float(v) for v in res])[keep]
        step = np.insert(solve_banded((width, width), reduced, rhs), anchor, 0.0)
        p = [p[i] + mp.mpf(step[i]) for i in range(size)]
        flow = mp.fsum(outflow[i] * abs(p[i]) for i in range(size))
    else:
        raise AssertionError("iterative refinement did not reach the 50-digit residual")
    return _view(p, x_low, lines, height, rules)


def _view(p, x_low, lines, height, rules):
    lam, g = (mp.mpf(v) for v in (rules[0], rules[3]))
    p = [mp.mpf(v) for v in p]
    total = mp.fsum(p)
    arrivals = [mp.mpf(0)] * (lines + 1)
    for x in range(x_low, lines + 1):
        start = (x - x_low) * height
        arrivals[x] = mp.fsum(p[start + y] * (lam + y * g) for y in range(height)) / total
    attempts = mp.fsum(arrivals)
    view = [v / attempts for v in arrivals]
    top_level = mp.fsum(p[height - 1 :: height]) / total
    low_column = mp.fsum(p[:height]) / total if x_low > 0 else mp.mpf(0)
    return view, attempts, (top_level, low_column)


def _drop_row_col(band, k, width):
    """Band storage (``(2 width + 1, size)``, entry (i, j) at ``[width + i - j, j]``) of the
    matrix without row and column ``k``."""
    diagonals, size = band.shape
    d, j = np.meshgrid(np.arange(diagonals), np.arange(size), indexing="ij")
    i = j + d - width
    ok = (i >= 0) & (i < size) & (i != k) & (j != k)
    ii, jj = i[ok] - (i[ok] > k), j[ok] - (j[ok] > k)
    out = np.zeros((diagonals, size - 1))
    np.add.at(out, (width + ii - jj, jj), band[d[ok], j[ok]])
    return out


# (Erlangs, agents, lines, AHT s, patience s, redial probability, retry s, reference window)
GRID = [
    (20.0, 20, 26, 200.0, 100.0, 0.5, 100.0, 0, 60, True),
    (100.0, 100, 108, 240.0, 120.0, 0.5, 20.0, 15, 45, True),
    (1_000.0, 1_000, 1_040, 300.0, 200.0, 0.3, 20.0, 690, 58, False),
    (5_000.0, 5_000, 5_060, 240.0, 300.0, 0.2, 10.0, 4_250, 60, False),
    # no line limit: the reference's lines so many that a busy signal has mass < 1e-20
    (300.0, 300, None, 180.0, 150.0, 0.6, 30.0, 130, 60, False),
]


@pytest.mark.parametrize(
    ("a", "n", "lines", "aht", "patience", "p", "retry", "x_low", "y_top", "refine"), GRID
)
def test_exact_redials_match_independent_reference(
    a, n, lines, aht, patience, p, retry, x_low, y_top, refine
):
    lam = a / aht
    model_lines = np.inf if lines is None else lines
    got = erlang_x(
        lam, aht, patience, n, model_lines, 20.0, retrial_probability=p, retry_mean_s=retry
    )
    ref_lines = n + 200 if lines is None else lines
    view, attempts, edge = ref_redial_view(
        lam, aht, patience, n, ref_lines, p, retry, x_low, y_top, refine
    )
    if lines is None:
        assert view[-1] < 1e-13  # (rounding noise of the double solve)
    # the reference's own cuts are far below the tolerance (a double solve: its noise level)
    assert max(edge) < (1e-20 if refine else 1e-13), edge
    assert abs(float(got["attempt_rate_per_s"]) - float(attempts)) <= REL * float(attempts)
    ref = ref_metrics(view, aht, patience, n, ref_lines, 20.0)
    for key in KEYS:
        expected = float(ref[key])
        assert abs(float(got[key]) - expected) <= REL * abs(expected) + 1e-15, key

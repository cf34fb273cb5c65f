"""Erlang X with a finite retry time (the exact redial chain) against 50-digit references from
20 to 5,000 Erlangs, beyond the sizes a dense 50-digit solve takes (test_queueing_retrial has
those, up to 3 Erlangs).

The reference is built here from the model's rules, independently of the code: the chain on a
window much wider than the code's (every cut edge below ~1e-25), solved once in double
precision by a banded LU (LAPACK) and then refined with residuals computed exactly in integer
arithmetic on a 2**-400 fixed-point grid, from the 50-digit rates (mixed-precision iterative
refinement), until the balance residual is below 1e-40 of the flow, at every size; the
metrics of the arrivals' view then come from the 50-digit laws of ``ref_metrics``. The code's
own solver is a different method (aggregation-disaggregation on a window cut at 1e-12 per edge)."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

from openwfm.queueing import erlang_x
from test_queueing_blend_range import _band_solver
from test_queueing_retrial import KEYS, ref_metrics

mp.mp.dps = 50
REL = 1e-9


_BITS = 400  # fixed-point scale of the refinement: 2**-400 ~ 1e-120


def _moves(x, y, rules):
    """The chain's moves from (x, y) as ``(x', y', count, kind)``: the rate is ``count`` times
    the base rate ``kind`` (see ``_base_rates``)."""
    n, x_low, lines, y_top = rules
    out = []
    if x < lines:
        out.append((x + 1, y, 1, "lam"))
        out.append((x + 1, y - 1, y, "retry"))
    else:  # blocked: joins the orbit, or a blocked redial gives up
        if y < y_top:
            out.append((x, y + 1, 1, "lam_p"))
        out.append((x, y - 1, y, "retry_give_up"))
    if x > x_low:
        out.append((x - 1, y, min(x, n), "mu"))
        if x > n:
            out.append((x - 1, y, x - n, "abandon_for_good"))
            out.append((x - 1, min(y + 1, y_top), x - n, "abandon_redial"))
    return [(a, b, c, k) for a, b, c, k in out if c > 0 and (a, b) != (x, y)]


def _base_rates(lam, aht, patience, retrial, retry):
    """The chain's base rates, 50-digit."""
    lam, mu, th, g, p = (
        mp.mpf(lam),
        1 / mp.mpf(aht),
        1 / mp.mpf(patience),
        1 / mp.mpf(retry),
        mp.mpf(retrial),
    )
    return {
        "lam": lam,
        "lam_p": lam * p,
        "retry": g,
        "retry_give_up": g * (1 - p),
        "mu": mu,
        "abandon_for_good": th * (1 - p),
        "abandon_redial": th * p,
    }


def ref_redial_view(lam, aht, patience, n, lines, retrial, retry, x_low, y_top):
    """View of an arriving attempt (P(finds x), x = 0..lines), the attempt rate and the
    masses on the cut edges, to 50 digits: one banded LU solve in double precision, refined
    with residuals computed exactly on a fixed-point grid of 2**-400 (integer arithmetic on
    the 50-digit rates rounded to that grid) until the balance residual is below 1e-40 of the
    flow."""
    base = _base_rates(lam, aht, patience, retrial, retry)
    scale = mp.mpf(2) ** _BITS
    fixed = {k: int(mp.nint(v * scale)) for k, v in base.items()}
    rules = (n, x_low, lines, y_top)
    height = y_top + 1
    size = (lines - x_low + 1) * height
    source, target, counts, kinds = [], [], [], []
    for x in range(x_low, lines + 1):
        for y in range(height):
            for x2, y2, count, kind in _moves(x, y, rules):
                source.append((x - x_low) * height + y)
                target.append((x2 - x_low) * height + y2)
                counts.append(count)
                kinds.append(kind)
    rates_fixed = [c * fixed[k] for c, k in zip(counts, kinds, strict=True)]
    rates = np.array([c * float(base[k]) for c, k in zip(counts, kinds, strict=True)])
    source, target = np.array(source), np.array(target)
    outflow_fixed = [0] * size
    for s_, r in zip(source.tolist(), rates_fixed, strict=True):
        outflow_fixed[s_] += r
    outflow = np.bincount(source, weights=rates, minlength=size)
    anchor = (n - x_low) * height
    keep = np.arange(size) != anchor

    # B p = 0 (B = diag(outflow) - inflow), p[anchor] = 1: the other equations, banded
    width = height + 1
    band = np.zeros((2 * width + 1, size))
    band[width] = outflow
    np.add.at(band, (width + target - source, source), -rates)
    solve = _band_solver(_drop_row_col(band, anchor, width), width)
    pairs = list(zip(source.tolist(), target.tolist(), rates_fixed, strict=True))

    def residual(p):  # exact on the grid: scaled by 2**(2 _BITS)
        res = [o * v for o, v in zip(outflow_fixed, p, strict=True)]
        for s_, t_, r in pairs:
            res[t_] -= r * p[s_]
        return res

    p = [0] * size
    p[anchor] = 1 << _BITS
    unit = 2.0**_BITS
    for step_number in range(8):
        res = residual(p)
        if step_number > 0:
            worst = max(abs(v) for i, v in enumerate(res) if i != anchor)
            flow = sum(o * abs(v) for o, v in zip(outflow_fixed, p, strict=True))
            if worst * 10**40 < flow:
                break
        rhs = -np.array([v / (1 << 2 * _BITS) for v in res])[keep]
        step = np.insert(solve(rhs), anchor, 0.0)
        p = [v + int(d * unit) for v, d in zip(p, step.tolist(), strict=True)]
    else:
        raise AssertionError("iterative refinement did not reach the 50-digit residual")
    return _view([mp.mpf(v) / scale for v in p], x_low, lines, height, base)


def _view(p, x_low, lines, height, base):
    lam, g = base["lam"], base["retry"]
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
    (20.0, 20, 26, 200.0, 100.0, 0.5, 100.0, 0, 60),
    (100.0, 100, 108, 240.0, 120.0, 0.5, 20.0, 15, 45),
    (1_000.0, 1_000, 1_040, 300.0, 200.0, 0.3, 20.0, 690, 58),
    (5_000.0, 5_000, 5_060, 240.0, 300.0, 0.2, 10.0, 4_250, 60),
    # no line limit: the reference's lines so many that a busy signal has mass < 1e-14
    (300.0, 300, None, 180.0, 150.0, 0.6, 30.0, 130, 60),
]


@pytest.mark.parametrize(
    ("a", "n", "lines", "aht", "patience", "p", "retry", "x_low", "y_top"), GRID
)
def test_exact_redials_match_independent_reference(
    a, n, lines, aht, patience, p, retry, x_low, y_top
):
    lam = a / aht
    model_lines = np.inf if lines is None else lines
    got = erlang_x(
        lam, aht, patience, n, model_lines, 20.0, retrial_probability=p, retry_mean_s=retry
    )
    ref_lines = n + 200 if lines is None else lines
    view, attempts, edge = ref_redial_view(lam, aht, patience, n, ref_lines, p, retry, x_low, y_top)
    if lines is None:
        assert view[-1] < 1e-14  # (a busy signal that rare moves no metric by 1e-13)
    # the reference's own cuts are far below the tolerance
    assert max(edge) < 1e-20, edge
    assert abs(float(got["attempt_rate_per_s"]) - float(attempts)) <= REL * float(attempts)
    ref = ref_metrics(view, aht, patience, n, ref_lines, 20.0)
    for key in KEYS:
        expected = float(ref[key])
        assert abs(float(got[key]) - expected) <= REL * abs(expected) + 1e-15, key

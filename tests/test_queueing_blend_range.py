"""Blending against references beyond the sizes a dense 50-digit solve takes (test_queueing_blend
has those, up to 1.5 Erlangs): 16 and 90 Erlangs of inbound work.

The reference is built here from the model's rules, independently of the code (which solves
the chain by sparse LU and the waiting call's law by a matrix-exponential action):

- the stationary law of ``(o outbound, k = inbound - (agents - o))`` by one banded LU solve
  in double precision, refined with residuals in 50-digit arithmetic until the balance
  residual is below 1e-40 of the flow (``refine``), or that double solve alone with its
  residual checked (the largest chain);
- P(a waiting call is answered) by its exact recursion over the calls ahead (each event takes
  one call ahead away): ``h(o, j) = ((n - o) mu + j theta) h(o, j-1) + o nu h(o-1, j-1)``
  over ``(n - o) mu + o nu + (j + 1) theta``;
- P(answered within t) by uniformization of the waiting call's chain (Poisson weights past
  the mean until they fall below 1e-30), in the reference's number type.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
from scipy.linalg import solve_banded

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


def _stationary(states, moves, number, refine, anchor_weight):
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
    outflow = [number(0)] * size
    for s, r in zip(source, rates, strict=True):
        outflow[s] += r
    band = np.zeros((2 * width + 1, size))
    band[width] = [float(v) for v in outflow]
    np.add.at(band, (width + target - source, source), -np.array([float(r) for r in rates]))
    anchor = int(np.argmax([float(v) for v in anchor_weight]))
    reduced = _drop_row_col(band, anchor, width)
    keep = np.arange(size) != anchor

    def residual(p):
        res = [outflow[i] * p[i] for i in range(size)]
        for s, t, r in zip(source, target, rates, strict=True):
            res[t] -= r * p[s]
        return res

    p = [number(0)] * size
    p[anchor] = number(1)
    for step_number in range(8):
        res = residual(p)
        flow = sum(outflow[i] * abs(p[i]) for i in range(size))
        worst = max(abs(v) for i, v in enumerate(res) if i != anchor)
        if step_number > 0:
            if not refine:
                assert worst < 1e-13 * flow
                break
            if worst < mp.mpf(10) ** -40 * flow:
                break
        rhs = -np.array([float(v) for v in res])[keep]
        step = np.insert(solve_banded((width, width), reduced, rhs), anchor, 0.0)
        p = [p[i] + number(step[i]) for i in range(size)]
    else:
        raise AssertionError("iterative refinement did not reach the 50-digit residual")
    total = sum(p)
    return [v / total for v in p]


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


def _answered(start, n, top, mu, nu, th, t, number):
    """(P(waits and is answered eventually), P(waits and is answered within t)) from the
    waiting call's start law ``start[(o, j)]``."""
    # eventually: the exact recursion over the calls ahead
    h = {}
    for j in range(top + 1):
        for o in range(n + 1):
            free_in, free_out = (n - o) * mu, o * nu
            total = free_in + free_out + (j + 1) * th
            if j == 0:
                h[o, j] = (free_in + free_out) / total
            else:
                h[o, j] = ((free_in + j * th) * h[o, j - 1]) / total
                if o > 0:
                    h[o, j] += free_out * h[o - 1, j - 1] / total
    eventually = sum(p * h[state] for state, p in start.items())
    # within t: uniformization of the transient chain (arrays [o, j]; object arrays in mpmath)
    dtype = object if number is mp.mpf else float
    o = np.arange(n + 1)[:, None]
    j = np.arange(top + 1)[None, :]
    free_in = np.array([[(n - v) * mu] for v in range(n + 1)], dtype=dtype)
    free_out = np.array([[v * nu] for v in range(n + 1)], dtype=dtype)
    ahead = np.array([[v * th for v in range(top + 1)]], dtype=dtype)
    rate = max(float((n - v) * mu + v * nu) for v in range(n + 1)) + (top + 1) * float(th)
    rate = number(rate)
    stay = 1 - (free_in + free_out + ahead + th) / rate
    down = (free_in + ahead) / rate
    across = free_out / rate
    mass = np.zeros((n + 1, top + 1), dtype=dtype)
    for (ob, jb), p in start.items():
        mass[ob, jb] = p
    weight = (mp.exp if number is mp.mpf else np.exp)(-rate * t)
    answered, within, remaining, step = number(0), number(0), 1 - weight, 0
    while step <= rate * t or weight > 1e-30:  # the Poisson tail beyond is below 1e-30
        answered += np.sum(mass[:, 0] * (free_in[:, 0] + free_out[:, 0])) / rate
        new = mass * stay
        new[:, :-1] += mass[:, 1:] * down[:, 1:]
        new[:-1, :-1] += mass[1:, 1:] * across[1:]
        mass = new
        step += 1
        weight *= rate * t / step
        within += weight * answered
        remaining -= weight
    del o, j
    # the answered mass grows with the steps: the tail adds at most ``remaining`` (< 1e-29)
    return eventually, within + max(remaining, 0) * answered


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
        (90.0, 240.0, 180.0, 100, 3, 150.0, 60, False),
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

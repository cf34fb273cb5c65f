"""Erlang X (redials, finite lines, fractional agents, three service levels) against 50-digit
mpmath references, limits and properties, and typed errors."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openwfm.errors import ParameterError
from openwfm.queueing import _orbit_core, erlang_a, erlang_x
from openwfm.queueing.redial_chain import orbit_transitions, stationary_banded, stationary_sparse

mp.mp.dps = 50
REL = 1e-9
KEYS = (
    "p_block",
    "p_wait",
    "p_abandon",
    "service_level",
    "service_level_answered",
    "service_level_virtual",
    "asa_s",
)


# ----------------------------------------------------------------- 50-digit references


def ref_view(lam, aht, patience, n, lines):
    """Stationary distribution of M/M/n/L+M (``lines`` None: infinite) by direct products."""
    lam, mu = mp.mpf(lam), 1 / mp.mpf(aht)
    th = mp.mpf(0) if patience == np.inf else 1 / mp.mpf(patience)
    w = [mp.mpf(1)]
    x = 0
    largest = w[0]
    tiny = mp.mpf(10) ** -45
    while True:
        if lines is not None and x >= lines:
            break
        x += 1
        w.append(w[-1] * lam / (min(x, n) * mu + max(x - n, 0) * th))
        largest = max(largest, w[-1])
        if lines is None and x > n + 5 and w[-1] < tiny * largest:
            break
    total = mp.fsum(w)
    return [v / total for v in w]


class _NegativeBinomialTails:
    """P(NB(r, u) > j) = I_{1-u}(j + 1, r) for r = c, c + 1, by 50-digit pmf sums."""

    def __init__(self, c, u):
        self.u = u
        self.cdf = {}

    def tail(self, r, j):
        pmf, total, k = self.cdf.get(r, (self.u**r, self.u**r, 0))
        while k < j:
            k += 1
            pmf = pmf * (1 - self.u) * (k + r - 1) / k
            total += pmf
        self.cdf[r] = (pmf, total, k)
        return 1 - total


def ref_metrics(q, aht, patience, n, lines, t):
    """Metrics of a call that finds x in system with probability q[x] (incomplete beta /
    gamma laws of the wait, independent of the code's negative binomial recursions)."""
    mu = 1 / mp.mpf(aht)
    th = mp.mpf(0) if patience == np.inf else 1 / mp.mpf(patience)
    t = mp.mpf(t)
    top = len(q) - 1
    p_block = q[top] if lines is not None else mp.mpf(0)
    last = top if lines is not None else top + 1
    no_wait = mp.fsum(q[:n])
    p_wait = p_ab = within = virtual = answered_wait = mp.mpf(0)
    harmonic = mp.mpf(0)
    big = max(q)
    nb = _NegativeBinomialTails(n * mu / th, mp.exp(-th * t)) if th > 0 else None
    for x in range(n, last):
        j = x - n
        if q[x] < mp.mpf(10) ** -30 * big:  # beyond any double's reach in the sums
            continue
        if th > 0:
            c = n * mu / th
            u = mp.exp(-th * t)
            answered = c / (c + j + 1)
            if c < 200:
                a_in = answered * mp.betainc(j + 1, c + 1, 0, 1 - u, regularized=True)
                v_in = mp.betainc(j + 1, c, 0, 1 - u, regularized=True)
            else:  # the same laws as negative binomial tails (mpmath's betainc is slow here)
                a_in = answered * nb.tail(c + 1, j)
                v_in = nb.tail(c, j)
            harmonic += 1 / (n * mu + (j + 1) * th)
        else:
            answered = mp.mpf(1)
            a_in = v_in = mp.gammainc(j + 1, 0, n * mu * t, regularized=True)
            harmonic += 1 / (n * mu)
        p_wait += q[x]
        p_ab += q[x] * (1 - answered)
        within += q[x] * a_in
        virtual += q[x] * v_in
        answered_wait += q[x] * answered * harmonic
    served = 1 - p_block - p_ab
    return {
        "p_block": p_block,
        "p_wait": p_wait,
        "p_abandon": p_ab,
        "service_level": no_wait + within,
        "service_level_answered": (no_wait + within) / served,
        "service_level_virtual": no_wait + virtual,
        "asa_s": answered_wait / served,
    }


def ref_loss(rate, aht, patience, n, lines):
    """P(blocked or abandons) of M/M/n/L+M at attempt rate ``rate``, in 50 digits."""
    q = ref_view(rate, aht, patience, n, lines)
    loss = q[-1] if lines is not None else mp.mpf(0)
    if patience != np.inf:
        c = n / mp.mpf(aht) * mp.mpf(patience)
        last = len(q) - 1 if lines is not None else len(q)
        loss += mp.fsum(q[x] * (1 - c / (c + x - n + 1)) for x in range(n, last))
    return loss


def ref_orbit_view(lam, aht, patience, n, lines, retrial, retry, orbit_top):
    """The exact two-dimensional chain solved densely in 50 digits (small sizes only)."""
    source, target, rate, x, y = orbit_transitions(
        1.0, 1.0, 1.0, n, lines, True, 0.5, 1.0, orbit_top
    )  # only the sparsity pattern; the rates are rebuilt below in mpmath
    mu, th, g, lam, p = (
        1 / mp.mpf(aht),
        1 / mp.mpf(patience),
        1 / mp.mpf(retry),
        mp.mpf(lam),
        mp.mpf(retrial),
    )
    size = x.size
    q = mp.zeros(size, size)
    for s in range(size):
        xs, ys = int(x[s]), int(y[s])

        def add(dx, dy, value, xs=xs, ys=ys, s=s):
            if value != 0:
                q[s, (xs + dx) * (orbit_top + 1) + ys + dy] += value

        if xs < lines:
            add(1, 0, lam)
            if ys > 0:
                add(1, -1, ys * g)
        else:
            if ys < orbit_top:
                add(0, 1, lam * p)
            if ys > 0:
                add(0, -1, ys * g * (1 - p))
        if xs > 0:
            add(-1, 0, min(xs, n) * mu)
        if xs > n:
            add(-1, 0, (xs - n) * th * (1 - p))
            if ys < orbit_top:
                add(-1, 1, (xs - n) * th * p)
    a = mp.zeros(size, size)
    for i in range(size):
        out = mp.fsum(q[i, j] for j in range(size))
        for j in range(size):
            a[j, i] = q[i, j]
        a[i, i] -= out
    for j in range(size):
        a[0, j] = 1
    b = mp.zeros(size, 1)
    b[0] = 1
    pi = mp.lu_solve(a, b)
    arrivals = [pi[s] * (lam + int(y[s]) * g) for s in range(size)]
    total = mp.fsum(arrivals)
    view = [
        mp.fsum(arrivals[s] for s in range(size) if x[s] == k) / total for k in range(lines + 1)
    ]
    return view, total


def assert_close(got, ref, keys=KEYS):
    for key in keys:
        expected = ref[key]
        value = float(got[key])
        if expected == 0:
            assert value == 0.0, key
        else:
            assert abs(value - float(expected)) <= REL * abs(float(expected)), (
                key,
                value,
                expected,
            )


# Loads 0.1 .. 5,000 Erlangs; agents below, near and above the load; finite and infinite
# lines; with and without patience.
GRID_1D = [
    (0.1, 180.0, 90.0, 1, 3),
    (0.1, 180.0, np.inf, 2, None),
    (1.0, 240.0, 60.0, 1, None),
    (4.0, 300.0, np.inf, 5, 9),
    (12.0, 200.0, 400.0, 10, None),
    (95.0, 240.0, 120.0, 100, 120),
    (95.0, 240.0, 180.0, 90, None),
    (800.0, 300.0, 240.0, 810, 830),
    (300.0, 180.0, np.inf, 318, None),
    (5_000.0, 240.0, 150.0, 5_100, None),
    (5_000.0, 240.0, 300.0, 5_060, 5_100),
]


@pytest.mark.parametrize(("a", "aht", "patience", "n", "lines"), GRID_1D)
def test_erlang_x_without_redials_matches_50_digit_reference(a, aht, patience, n, lines):
    lam = a / aht
    got = erlang_x(lam, aht, patience, n, np.inf if lines is None else lines, 20.0)
    ref = ref_metrics(ref_view(lam, aht, patience, n, lines), aht, patience, n, lines, 20.0)
    assert_close(got, ref)


GRID_LIMIT = [
    (0.1, 180.0, 90.0, 1, 2, 0.6),
    (3.0, 240.0, 120.0, 3, None, 0.5),
    (95.0, 240.0, 120.0, 95, 110, 0.7),
    (1_000.0, 300.0, 200.0, 990, None, 0.4),
    (5_000.0, 240.0, 150.0, 5_000, None, 0.5),
]


@pytest.mark.parametrize(("a", "aht", "patience", "n", "lines", "retrial"), GRID_LIMIT)
def test_erlang_x_long_retry_limit_matches_50_digit_reference(a, aht, patience, n, lines, retrial):
    lam = a / aht
    got = erlang_x(
        lam,
        aht,
        patience,
        n,
        np.inf if lines is None else lines,
        30.0,
        retrial_probability=retrial,
    )
    # R (1 - p L(R)) - lam is increasing with slope >= 1 - p, so a residual below
    # 1e-9 (1 - p) lam puts R within 1e-9 relative of the root
    rate = mp.mpf(float(got["attempt_rate_per_s"]))
    residual = rate * (1 - retrial * ref_loss(rate, aht, patience, n, lines)) - lam
    assert abs(residual) <= REL * (1 - retrial) * lam
    ref = ref_metrics(ref_view(rate, aht, patience, n, lines), aht, patience, n, lines, 30.0)
    assert_close(got, ref)


@pytest.mark.parametrize(
    ("a", "aht", "patience", "n", "lines", "retrial", "retry", "orbit_top"),
    [
        (0.1, 100.0, 50.0, 1, 3, 0.5, 300.0, 14),
        (1.5, 100.0, 80.0, 2, 4, 0.6, 120.0, 22),
        (3.0, 60.0, 30.0, 3, 5, 0.4, 60.0, 14),
    ],
)
def test_erlang_x_with_redials_matches_50_digit_dense_solve(
    a, aht, patience, n, lines, retrial, retry, orbit_top
):
    lam = a / aht
    got = erlang_x(
        lam, aht, patience, n, lines, 10.0, retrial_probability=retrial, retry_mean_s=retry
    )
    view, attempts = ref_orbit_view(lam, aht, patience, n, lines, retrial, retry, orbit_top)
    assert abs(float(got["attempt_rate_per_s"]) - float(attempts)) <= REL * float(attempts)
    assert_close(got, ref_metrics(view, aht, patience, n, lines, 10.0))


@pytest.mark.parametrize(
    ("lam", "n", "lines", "retry"), [(0.4, 95, 105, 300.0), (0.05, 11, None, 60.0)]
)
def test_iterative_and_banded_solves_agree_and_match_the_reference_metrics(lam, n, lines, retry):
    """Larger chains than a 50-digit dense solve can take: the aggregation-disaggregation
    iteration (used for many orbit levels) against one banded LU solve (used for few) of the
    same truncated chain, and the public metrics against the 50-digit metrics of that view."""
    aht, patience, retrial = 240.0, 120.0, 0.6
    top = lines if lines is not None else n + 120
    orbit_top = 120  # the top level's mass is ~1e-21 here
    source, target, rate, x, y = orbit_transitions(
        lam, 1 / aht, 1 / patience, n, top, lines is not None, retrial, 1 / retry, orbit_top
    )
    pi = stationary_banded(source, target, rate, x.size, orbit_top + 2, n * (orbit_top + 1))
    table = _orbit_core.move_table(
        lam, 1 / aht, 1 / patience, n, 0, top, lines is not None, retrial, 1 / retry, 0, orbit_top
    )
    start = np.ones((orbit_top + 1, top + 1))
    iterated, sweeps = _orbit_core.orbit_chain(start, *table, 1e-14, 5_000)
    assert sweeps > 0
    assert np.abs(iterated.T.ravel() - pi).sum() <= 1e-10
    # the sparse LU solve (the iteration's fallback) of the same transitions
    sparse = stationary_sparse(source, target, rate, x.size, n * (orbit_top + 1))
    assert np.abs(sparse - pi).sum() <= 1e-10
    got = erlang_x(
        lam,
        aht,
        patience,
        n,
        np.inf if lines is None else lines,
        20.0,
        retrial_probability=retrial,
        retry_mean_s=retry,
    )
    arrivals = pi * (lam + y / retry)
    view = np.bincount(x, weights=arrivals) / arrivals.sum()
    assert float(got["attempt_rate_per_s"]) == pytest.approx(arrivals.sum(), rel=1e-9)
    ref = ref_metrics([mp.mpf(v) for v in view], aht, patience, n, lines, 20.0)
    for key in KEYS:
        assert float(got[key]) == pytest.approx(float(ref[key]), rel=1e-8, abs=1e-13), key


def test_a_stalled_iteration_falls_back_to_the_sparse_solve(monkeypatch):
    """When the iteration does not settle (it stalls on some large windows at 150-500 Erlangs
    with long retries), one sparse LU solve of the window answers; here forced by allowing two
    sweeps: the same metrics as the settled iteration."""
    from openwfm.queueing import redial_chain

    args = (100.0 / 240.0, 240.0, 120.0, 100, np.inf, 20.0)
    options = {"retrial_probability": 0.5, "retry_mean_s": 600.0}
    settled = erlang_x(*args, **options)
    solves = []
    real = redial_chain.stationary_sparse

    def counted(*solve_args):
        solves.append(solve_args[3])
        return real(*solve_args)

    monkeypatch.setattr(redial_chain, "_MAX_SWEEPS", 2)
    monkeypatch.setattr(redial_chain, "stationary_sparse", counted)
    direct = erlang_x(*args, **options)
    assert solves  # the fallback ran (on every window the widening tried)
    for key in (*KEYS, "attempt_rate_per_s"):
        assert float(direct[key]) == pytest.approx(float(settled[key]), rel=1e-9, abs=1e-13), key


# ----------------------------------------------------------------- limits and properties


@settings(max_examples=40, deadline=None)
@given(
    a=st.floats(0.2, 400.0),
    ratio=st.floats(0.6, 1.4),
    aht=st.floats(30.0, 600.0),
    patience=st.floats(10.0, 900.0),
    target=st.floats(0.0, 120.0),
)
def test_no_redials_and_infinite_lines_is_erlang_a(a, ratio, aht, patience, target):
    n = max(1, int(round(a * ratio)))
    x = erlang_x(a / aht, aht, patience, n, np.inf, target, retrial_probability=0.0)
    ea = erlang_a(a / aht, aht, patience, n, target)
    assert float(x["p_block"]) == 0.0
    for key in ("p_wait", "p_abandon", "service_level", "service_level_answered"):
        # (tiny service levels deep in overload: absolute 1e-12)
        assert float(x[key]) == pytest.approx(float(getattr(ea, key)), rel=1e-9, abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(
    a=st.floats(0.5, 200.0),
    n_extra=st.integers(0, 30),
    retrial=st.floats(0.0, 0.95),
    patience=st.floats(30.0, 600.0),
)
def test_many_lines_is_infinite_lines_and_more_lines_block_less(a, n_extra, retrial, patience):
    aht = 200.0
    n = max(1, int(a) + n_extra - 10)
    lines = np.array([n, n + 1, n + 5, n + 2_000, np.inf])
    r = erlang_x(a / aht, aht, patience, n, lines, 20.0, retrial_probability=retrial)
    block = np.asarray(r["p_block"])
    assert np.all(np.diff(block) <= 1e-12)
    assert block[-1] == 0.0
    assert float(r["service_level"][-2]) == pytest.approx(float(r["service_level"][-1]), abs=1e-9)


@settings(max_examples=15, deadline=None)
@given(
    a=st.floats(0.5, 300.0),
    retrial=st.floats(0.0, 0.9),
    patience=st.floats(30.0, 600.0),
)
def test_monotone_in_fractional_agents(a, retrial, patience):
    aht = 240.0
    agents = np.linspace(max(0.0, a - 3 * np.sqrt(a) - 2), a + 3 * np.sqrt(a) + 2, 25)
    r = erlang_x(a / aht, aht, patience, agents, np.inf, 20.0, retrial_probability=retrial)
    for key in ("service_level", "service_level_answered", "service_level_virtual"):
        assert np.all(np.diff(np.asarray(r[key])) >= -1e-12), key
    for key in ("p_abandon", "attempt_rate_per_s", "p_customer_lost"):
        assert np.all(np.diff(np.asarray(r[key])) <= 1e-12), key


@settings(max_examples=15, deadline=None)
@given(
    a=st.floats(0.5, 100.0),
    retrial=st.floats(0.0, 0.9),
    waiting_places=st.integers(0, 15),
)
def test_monotone_in_agents_with_a_fixed_waiting_room(a, retrial, waiting_places):
    aht = 240.0
    agents = np.arange(max(0, int(a - 3 * np.sqrt(a) - 2)), int(a + 3 * np.sqrt(a) + 3))
    r = erlang_x(
        a / aht, aht, 180.0, agents, agents + waiting_places, 20.0, retrial_probability=retrial
    )
    for key in ("service_level", "service_level_virtual"):
        assert np.all(np.diff(np.asarray(r[key])) >= -1e-12), key
    # (abandonment alone may rise with the agents: fewer calls are blocked instead)
    loss = np.asarray(r["p_block"]) + np.asarray(r["p_abandon"])
    assert np.all(np.diff(loss) <= 1e-12)
    for key in ("p_block", "p_customer_lost"):
        assert np.all(np.diff(np.asarray(r[key])) <= 1e-12), key


def test_redials_raise_the_attempt_rate_and_hurt_the_service_level():
    lam, aht, patience, n = 100 / 240, 240.0, 120.0, 95
    plain = erlang_x(lam, aht, patience, n, np.inf, 20.0)
    limit = erlang_x(lam, aht, patience, n, np.inf, 20.0, retrial_probability=0.5)
    exact = erlang_x(
        lam, aht, patience, n, np.inf, 20.0, retrial_probability=0.5, retry_mean_s=600.0
    )
    assert float(plain["attempt_rate_per_s"]) == pytest.approx(lam)
    for r in (limit, exact):
        assert r["attempt_rate_per_s"] > lam
        assert r["service_level"] < plain["service_level"]
        # flow balance: redials = retrial probability x lost attempts
        lost = r["attempt_rate_per_s"] * (r["p_block"] + r["p_abandon"])
        assert float(r["retrial_rate_per_s"]) == pytest.approx(0.5 * float(lost), rel=1e-9)
    # short retry times cluster the redials into busy periods: worse than the Poisson limit
    assert exact["service_level"] < limit["service_level"]
    assert float(exact["service_level"]) == pytest.approx(float(limit["service_level"]), abs=0.02)


def test_fractional_agents_interpolate_between_integers():
    r = erlang_x(0.3, 200.0, 100.0, [60.0, 60.25, 61.0], 70, 20.0, retrial_probability=0.3)
    sl = np.asarray(r["service_level"])
    assert sl[1] == pytest.approx(0.75 * sl[0] + 0.25 * sl[2], rel=1e-12)


# ----------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"retrial_probability": 1.2}, "retrial_probability"),
        ({"retrial_probability": -0.1}, "retrial_probability"),
        ({"retry_mean_s": 0.0}, "retry_mean_s"),
        ({"lines": 9}, "lines"),
        ({"lines": 12.5}, "lines"),
        ({"agents": -1}, "agents"),
    ],
)
def test_bad_input_names_the_argument(kwargs, field):
    args = {"agents": 10, "lines": 20, "retrial_probability": 0.3, "retry_mean_s": 60.0}
    args.update(kwargs)
    with pytest.raises(ParameterError, match=field):
        erlang_x(
            0.05,
            200.0,
            120.0,
            args["agents"],
            args["lines"],
            20.0,
            retrial_probability=args["retrial_probability"],
            retry_mean_s=args["retry_mean_s"],
        )


@pytest.mark.parametrize("lines", [np.inf, 110, 95])
@pytest.mark.parametrize("retrial", [0.0, 0.5])
@pytest.mark.parametrize("patience", [120.0, np.inf])
def test_one_number_calls_match_the_array_path(lines, retrial, patience):
    args = (0.4, 240.0, patience, 105 if patience == np.inf else 95, lines, 20.0)
    if args[3] > lines:
        args = (*args[:4], float(args[3]), 20.0)
    one = erlang_x(*args, retrial_probability=retrial)
    many = erlang_x(*(np.array([v]) for v in args), retrial_probability=np.array([retrial]))
    assert set(one) == set(many)
    for key in one:
        assert float(one[key]) == pytest.approx(float(many[key][0]), rel=1e-14, abs=0), key


@pytest.mark.parametrize("retrial", [0.0, 0.5])
def test_no_steady_state_is_reported_not_computed(retrial):
    """50 agents, 100 Erlangs, nobody abandons, no line limit: every caller waits forever
    (without redials the kernel once returned the stale numbers of an unfinished solve)."""
    for arrival in (1.0, np.array([1.0, 1.0])):
        got = erlang_x(arrival, 100.0, np.inf, 50, np.inf, 20.0, retrial_probability=retrial)
        assert np.all(got["p_wait"] == 1.0)
        assert np.all(got["service_level"] == 0.0)
        assert np.all(np.isinf(got["asa_s"]))
        assert np.all(np.isnan(got["attempt_rate_per_s"]))

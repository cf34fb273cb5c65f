"""Erlang B / C / A against a 50-digit mpmath reference, textbook examples, limits, errors."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from openwfm.errors import ParameterError
from openwfm.queueing import (
    asa,
    erlang_a,
    erlang_b,
    erlang_c,
    required_agents,
    service_level,
)

mp.mp.dps = 50
REL = 1e-9


# ----------------------------------------------------------------- 50-digit references


def ref_erlang_b(a, n):
    a, n = mp.mpf(a), mp.mpf(n)
    # continuous extension: B = a^n e^-a / Gamma(n+1, a)
    return a**n * mp.exp(-a) / mp.gammainc(n + 1, a)


def ref_erlang_c(a, n, aht, t):
    b = ref_erlang_b(a, n)
    a, n = mp.mpf(a), mp.mpf(n)
    c = n * b / (n - a + a * b)
    sl = 1 - c * mp.exp(-(n - a) * mp.mpf(t) / aht)
    return c, sl, c * aht / (n - a)


def ref_erlang_a(lam, aht, patience, n, t):
    """Direct birth-death sums; the waiting-time law through incomplete beta functions.

    Given j waiting ahead, the offered wait is the (j+1)-th death among x + j exponential
    lifetimes (x = n mu / theta), so P(answered within t | j) = x/(x+j+1) I_{1-u}(j+1, x+1).
    """
    lam, mu, th, t = mp.mpf(lam), 1 / mp.mpf(aht), 1 / mp.mpf(patience), mp.mpf(t)
    x = n * mu / th
    pis = [mp.mpf(1)]
    for k in range(1, n + 1):
        pis.append(pis[-1] * lam / (k * mu))
    below = mp.fsum(pis[:-1])
    w = [pis[-1]]
    j = 0
    while True:
        j += 1
        w.append(w[-1] * lam / (n * mu + j * th))
        if j > lam / th and w[-1] < mp.mpf(10) ** -40 * w[0]:
            break
    total = below + mp.fsum(w)
    u = mp.exp(-th * t)
    p_wait = mp.fsum(w) / total
    p_ab = mp.fsum(wj * (1 - x / (x + j + 1)) for j, wj in enumerate(w)) / total
    sl = (
        below / total
        + mp.fsum(
            wj * x / (x + j + 1) * mp.betainc(j + 1, x + 1, 0, 1 - u, regularized=True)
            for j, wj in enumerate(w)
        )
        / total
    )
    harmonic, acc = [], mp.mpf(0)
    for j in range(len(w)):
        acc += 1 / (th * (x + j + 1))
        harmonic.append(acc)
    answered_wait = mp.fsum(wj * x / (x + j + 1) * harmonic[j] for j, wj in enumerate(w))
    return {
        "p_wait": p_wait,
        "p_abandon": p_ab,
        "service_level": sl,
        "service_level_answered": sl / (1 - p_ab),
        "asa_s": answered_wait / total / (1 - p_ab),
    }


def rel_err(got, ref):
    ref = float(ref)
    return abs(float(got) - ref) / abs(ref)


# Traffic 0.01 .. 100,000 Erlangs, agents below, near and above the load (fractional too).
GRID_B = [
    (a, n)
    for a in (0.01, 0.7, 3.0, 25.0, 180.0, 1_000.0, 12_000.0, 100_000.0)
    for n in sorted({max(0.5, round(a * f + d, 2)) for f, d in ((0.5, 0), (1, 1), (1, 7.5))})
]


@pytest.mark.parametrize(("a", "n"), GRID_B)
def test_erlang_b_matches_50_digit_reference(a, n):
    assert rel_err(erlang_b(a, n), ref_erlang_b(a, n)) <= REL


GRID_C = [
    (a, n, aht)
    for a in (0.01, 0.9, 4.2, 60.0, 850.0, 9_000.0, 100_000.0)
    for n, aht in (
        (np.floor(a) + 1, 180.0),
        (np.ceil(a + 0.5 * np.sqrt(a) + 1), 240.0),
        (np.ceil(a + 3 * np.sqrt(a) + 2), 30.0),
    )
]


@pytest.mark.parametrize(("a", "n", "aht"), GRID_C)
def test_erlang_c_metrics_match_50_digit_reference(a, n, aht):
    c, sl, mean_wait = ref_erlang_c(a, n, aht, 20.0)
    assert rel_err(erlang_c(a, n), c) <= REL
    assert rel_err(service_level(a, n, aht, 20.0), sl) <= REL
    assert rel_err(asa(a, n, aht), mean_wait) <= REL


@settings(max_examples=80, deadline=None)
@given(
    a=st.floats(0.05, 2_000.0),
    excess=st.floats(-0.9, 3.0),
    spread=st.sampled_from([0.0, 1.0, 4.0, 30.0]),
)
def test_erlang_b_and_c_match_reference_across_the_compiled_region(a, excess, spread):
    """Integer agents from below the load to far above it, across the compiled sum's edges
    (loads up to 1,500 Erlangs, largest term up to e**600) and the general path beyond."""
    n = max(1.0, float(np.floor(a + excess * np.sqrt(a) * spread + excess)))
    blocking = ref_erlang_b(a, n)
    assume(blocking > 1e-290)  # a double holds it with full relative precision
    assert rel_err(erlang_b(a, n), blocking) <= REL
    if n > a:
        c, _, mean_wait = ref_erlang_c(a, n, 200.0, 20.0)
        assert rel_err(erlang_c(a, n), c) <= REL
        assert rel_err(asa(a, n, 200.0), mean_wait) <= REL


def test_large_arrays_equal_one_at_a_time():
    """Arrays big enough for the two-core path give the same values as scalar calls."""
    rng = np.random.default_rng(3)
    a = rng.uniform(0.2, 3_000.0, 50_000)
    n = np.floor(a) + rng.integers(-5, 60, a.size).clip(-np.floor(a))
    n[::7] += 0.5  # fractional agents go the general way, mixed in
    together = erlang_c(a, n)
    for i in rng.choice(a.size, 300, replace=False):
        assert together[i] == erlang_c(a[i], n[i])
    assert np.all((together >= 0) & (together <= 1))


def test_vectorised_equals_elementwise():
    a = np.array([[0.5], [40.0], [900.0]])
    n = np.array([1.0, 45.0, 950.0])
    grid = erlang_c(a, n)
    assert grid.shape == (3, 3)
    for i in range(3):
        for j in range(3):
            assert grid[i, j] == erlang_c(a[i, 0], n[j])


GRID_A = [
    # arrival rate /s, AHT s, patience s, agents, target s
    (1 / 30, 180.0, 60.0, 5, 20.0),
    (0.5, 200.0, 300.0, 90, 20.0),  # below the offered load (100 Erlangs)
    (0.5, 200.0, 300.0, 110, 20.0),
    (0.2, 100.0, 1000.0, 30, 10.0),
    (0.1, 240.0, 30.0, 10, 20.0),  # impatient, understaffed
    (0.01, 100.0, 5000.0, 3, 60.0),
]


@pytest.mark.parametrize("case", GRID_A)
def test_erlang_a_matches_birth_death_reference(case):
    ref = ref_erlang_a(*case)
    got = erlang_a(*case)
    for name, value in ref.items():
        assert rel_err(getattr(got, name), value) <= REL, name


@settings(max_examples=25, deadline=None)
@given(
    traffic=st.floats(0.05, 120.0),
    aht=st.floats(20.0, 900.0),
    patience=st.floats(5.0, 3_000.0),
    staffing=st.floats(0.3, 1.6),
    target=st.floats(0.0, 120.0),
)
def test_erlang_a_matches_birth_death_reference_at_random(traffic, aht, patience, staffing, target):
    n = max(1, int(traffic * staffing))
    case = (traffic / aht, aht, patience, n, target)
    ref = ref_erlang_a(*case)
    got = erlang_a(*case)
    for name, value in ref.items():
        if value > 1e-290:
            assert rel_err(getattr(got, name), value) <= REL, name


def test_erlang_a_one_number_equals_the_array_path():
    """Plain numbers take a shortcut; arrays of the same cases give the same values, and the
    shortcut's edge cases (no agents, fractional agents, infinite patience) match too."""
    cases = [
        (100 / 240, 240.0, 120.0, 95, 20.0),
        (0.5, 200.0, 300.0, 90.0, 0.0),
        (0.5, 200.0, 300.0, 90.5, 15.0),  # fractional agents: the general path
        (0.2, 100.0, np.inf, 30, 10.0),  # Erlang C
        (0.2, 100.0, 60.0, 0, 10.0),  # nobody to answer
        (900 / 200, 200.0, 45.0, 800, 20.0),
    ]
    columns = [np.array(column, dtype=float) for column in zip(*cases, strict=True)]
    together = erlang_a(*columns)
    for i, case in enumerate(cases):
        alone = erlang_a(*case)
        for name in ("p_wait", "p_abandon", "asa_s", "service_level", "abandon_within_s"):
            assert getattr(alone, name) == pytest.approx(getattr(together, name)[i], rel=1e-12)


def ref_erlang_a_closed(lam, aht, patience, n, t, with_asa):
    """Mandelbaum & Zeltyn's closed form at 50 digits (for loads where sums are too long):
    S = x e^y y^-x gamma(x, y), answered within t from gamma(x+1, .), ASA by quadrature."""
    lam, mu, th, t = mp.mpf(lam), 1 / mp.mpf(aht), 1 / mp.mpf(patience), mp.mpf(t)
    a, x, y, u = lam / mu, n * mu / th, lam / th, mp.exp(-th * t)
    inv_b = mp.gammainc(n + 1, a) * mp.exp(a - n * mp.log(a))
    scale = mp.exp(y - x * mp.log(y))
    s = x * scale * mp.gammainc(x, 0, y)
    d = inv_b - 1 + s
    p_ab = (s - (x / y) * (s - 1)) / d
    answered_within = x * scale / y * (mp.gammainc(x + 1, 0, y) - mp.gammainc(x + 1, 0, y * u))
    out = {
        "p_wait": s / d,
        "p_abandon": p_ab,
        "service_level": (inv_b - 1 + answered_within) / d,
    }
    if with_asa:
        c, w = x + 1, 12 * mp.sqrt(x + 1) + 40
        points = sorted({p for p in (0, max(c - w, 0), c, min(c + w, y), y) if 0 <= p <= y})
        integral = mp.quad(lambda z: mp.gammainc(x + 1, 0, z) / z, points)
        out["asa_s"] = x / (y * th) * scale * integral / d / (1 - p_ab)
    return out


@pytest.mark.parametrize(
    "case",
    [
        (1000 / 300, 300.0, 120.0, 1000, 20.0, True),
        (20000 / 240, 240.0, 180.0, 19800, 10.0, False),  # below the load
        (100000 / 300, 300.0, 600.0, 100300, 20.0, False),
        (100000 / 300, 300.0, 60.0, 95000, 20.0, False),
    ],
)
def test_erlang_a_large_loads_match_closed_form_reference(case):
    ref = ref_erlang_a_closed(*case)
    got = erlang_a(*case[:5])
    for name, value in ref.items():
        assert rel_err(getattr(got, name), value) <= REL, name


# ----------------------------------------------------------------- textbook examples


def test_call_centre_helper_worked_example():
    # "Erlang C formula - made simple with an easy worked example" (callcentrehelper.com):
    # 100 calls in 30 min, AHT 3 min -> 10 Erlangs; with 11 agents P(wait) = 68.21%,
    # service level 39.0% in 20 s, ASA 122.8 s; 14 agents are needed for 80/20.
    assert erlang_c(10, 11) == pytest.approx(0.6821, abs=5e-5)
    assert service_level(10, 11, 180, 20) == pytest.approx(0.390, abs=5e-4)
    assert asa(10, 11, 180) == pytest.approx(122.8, abs=0.05)
    assert required_agents(100 / 1800, 180, 20, 0.8) == 14


def test_erlang_b_table_values():
    # Standard Erlang B table (e.g. Kleinrock, Queueing Systems vol. 1; any teletraffic
    # table): 10 servers at 5.08 Erlangs block 2%, 20 servers at 13.18 Erlangs block 2%.
    assert erlang_b(5.08, 10) == pytest.approx(0.02, abs=1e-4)
    assert erlang_b(13.18, 20) == pytest.approx(0.02, abs=1e-4)


def test_erlang_a_literature_example():
    # Mandelbaum & Zeltyn (2007): Erlang A staffs below the offered load when customers are
    # impatient; with 100 Erlangs and patience equal to the AHT, fewer than 100 agents give
    # 80% of offered answered within 20 s? No: but abandonment keeps the queue stable below
    # the load, which Erlang C cannot express (P(wait) = 1).
    below = erlang_a(0.5, 200.0, 200.0, 95, 20.0)
    assert 0.0 < below.p_wait < 1.0
    assert 0.0 < below.p_abandon < 0.1
    assert erlang_c(100.0, 95) == 1.0


# ----------------------------------------------------------------- edge cases and limits


def test_edge_cases_are_defined():
    assert erlang_c(10, 10) == 1.0 and erlang_c(10, 3.5) == 1.0
    assert service_level(10, 9, 180, 20) == 0.0
    assert asa(10, 10, 180) == np.inf
    assert erlang_c(10, 0) == 1.0 and erlang_b(10, 0) == 1.0
    assert erlang_c(0, 0) == 0.0 and service_level(0, 0, 180, 20) == 1.0 and asa(0, 5, 180) == 0
    none = erlang_a(0.1, 180, 60, 0, 20)
    assert none.p_abandon == 1.0 and none.service_level == 0.0
    idle = erlang_a(0.0, 180, 60, 3, 20)
    assert idle.p_wait == 0.0 and idle.service_level == 1.0
    assert required_agents(0.0, 180, 20, 0.8) == 0


def test_fractional_agents_interpolate_monotonically():
    values = erlang_c(20.0, np.linspace(20.5, 30, 40))
    assert np.all(np.diff(values) < 0)
    assert erlang_c(20.0, 25) > erlang_c(20.0, 25.5) > erlang_c(20.0, 26)


@settings(max_examples=60, deadline=None)
@given(
    a=st.floats(0.01, 5_000.0),
    extra=st.floats(0.01, 200.0),
    aht=st.floats(5.0, 2_000.0),
    target=st.floats(0.0, 300.0),
)
def test_more_agents_never_worse_erlang_c(a, extra, aht, target):
    n = np.array([a + extra, a + extra + 1, a + extra + 5])
    c = erlang_c(a, n)
    sl = service_level(a, n, aht, target)
    w = asa(a, n, aht)
    assert np.all(np.diff(c) <= 1e-15) and np.all((c >= 0) & (c <= 1))
    assert np.all(np.diff(sl) >= -1e-15) and np.all((sl >= 0) & (sl <= 1))
    assert np.all(np.diff(w) <= 1e-12)


@settings(max_examples=40, deadline=None)
@given(
    lam=st.floats(0.001, 2.0),
    aht=st.floats(10.0, 900.0),
    patience=st.floats(5.0, 3_000.0),
    n=st.integers(1, 400),
)
def test_more_agents_never_worse_erlang_a(lam, aht, patience, n):
    r = erlang_a(lam, aht, patience, np.array([n, n + 1, n + 3]), 20.0)
    for name in ("p_wait", "p_abandon", "asa_s"):
        values = getattr(r, name)
        assert np.all(np.diff(values) <= 1e-12 * np.maximum(values[:-1], 1e-300)), name
    assert np.all(np.diff(r.service_level) >= -1e-12)
    assert np.all((r.p_abandon >= 0) & (r.p_abandon <= r.p_wait + 1e-15) & (r.p_wait <= 1))


@settings(max_examples=15, deadline=None)
@given(a=st.floats(0.5, 300.0), extra=st.floats(0.5, 30.0), aht=st.floats(30.0, 600.0))
def test_erlang_a_tends_to_erlang_c(a, extra, aht):
    n = np.ceil(a + extra + np.sqrt(a))
    patience = aht * np.array([1e2, 1e4, 1e6])
    r = erlang_a(a / aht, aht, patience, n, 20.0)
    gap = np.abs(r.p_wait - erlang_c(a, n))
    assert np.all(np.diff(gap) <= 1e-15)  # the gap to Erlang C closes as patience grows
    assert r.p_wait[-1] == pytest.approx(erlang_c(a, n), rel=1e-4)
    assert r.service_level[-1] == pytest.approx(service_level(a, n, aht, 20.0), rel=1e-4)
    assert r.p_abandon[-1] < 1e-5
    infinite = erlang_a(a / aht, aht, np.inf, n, 20.0)
    assert infinite.p_wait == pytest.approx(erlang_c(a, n), rel=1e-14)
    assert infinite.p_abandon == 0.0


# ----------------------------------------------------------------- staffing inversion


def test_required_agents_is_least():
    lam = np.array([0.01, 0.2, 1.5, 20.0])
    n = required_agents(lam, 240.0, 20.0, 0.8)
    a = lam * 240.0
    assert np.all(service_level(a, n, 240.0, 20.0) >= 0.8)
    assert np.all(service_level(a, n - 1, 240.0, 20.0) < 0.8)


def test_erlang_a_staffing_goes_below_the_load():
    # 100 Erlangs, very impatient customers (30 s) and a lenient target: fewer than 100 agents
    n = required_agents(0.5, 200.0, 60.0, 0.5, patience_s=30.0, max_abandon=0.2)
    assert n < 100
    r = erlang_a(0.5, 200.0, 30.0, [n - 1, n], 60.0)
    ok = (r.service_level >= 0.5) & (r.p_abandon <= 0.2)
    assert list(ok) == [False, True]


def test_required_agents_every_target_binds():
    base = required_agents(0.3, 300.0, 20.0, 0.8, patience_s=120.0)
    assert required_agents(0.3, 300.0, 20.0, 0.8, patience_s=120.0, max_abandon=0.001) > base
    assert required_agents(0.3, 300.0, 20.0, 0.8, patience_s=120.0, max_asa_s=0.5) > base
    assert required_agents(0.3, 300.0, 20.0, 0.8, max_occupancy=0.6) >= np.ceil(90 / 0.6)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: erlang_c(-1.0, 3), "traffic"),
        (lambda: erlang_b(1.0, float("nan")), "servers"),
        (lambda: service_level(1.0, 3, 0.0, 20), "aht_s"),
        (lambda: erlang_a(0.1, 100, -5, 3, 20), "patience_s"),
        (lambda: required_agents(0.1, 100, 20, 1.5), "service_level"),
        (lambda: required_agents(0.1, 100, 20, 0.8, definition="weird"), "definition"),
        (lambda: required_agents(0.1, 100, 20, 0.8, max_occupancy=0), "max_occupancy"),
        (lambda: erlang_c("many", 3), "traffic"),
    ],
)
def test_bad_input_names_the_argument(call, field):
    with pytest.raises(ParameterError) as info:
        call()
    assert info.value.field == field


@pytest.mark.parametrize(
    ("bad_value", "kwargs", "message"),
    [
        (np.nan, {}, "expected numbers, got NaN"),
        (np.inf, {}, "expected finite numbers, got infinity"),
        (0.0, {"positive": True}, "expected > 0, got 0"),
        (-2.5, {"allow_inf": True}, "expected >= 0, got -2.5"),
        (7.0, {"upper": 5.0}, "expected <= 5, got 7"),
        (3.5, {"integer": True}, "expected an integer, got 3.5"),
    ],
)
def test_large_arrays_are_validated_like_small_ones(bad_value, kwargs, message):
    """Arrays of thousands go through one compiled pass: same checks, same words."""
    from openwfm.queueing.erlang import as_param

    for size in (5, 50_000):
        values = np.full(size, 2.0)
        values[size // 2] = bad_value
        with pytest.raises(ParameterError, match=message) as info:
            as_param("agents", values, **kwargs)
        assert info.value.field == "agents"
    assert as_param("agents", np.full(50_000, 2.0), **kwargs).shape == (50_000,)


def test_erlang_a_wait_percentile_agrees_with_service_level():
    # P(W <= w) = answered within w + abandoned within w: two routes to the same number
    from openwfm.queueing import erlang_a_wait_percentile_s, wait_percentile_s

    q = np.array([0.5, 0.8, 0.9, 0.99])
    w = erlang_a_wait_percentile_s(0.5, 200.0, 300.0, 100, q)
    r = erlang_a(0.5, 200.0, 300.0, 100, w, short_abandon_s=w)
    np.testing.assert_allclose(r.service_level + r.abandon_within_s, q, rtol=1e-9)
    patient = erlang_a_wait_percentile_s(0.5, 200.0, 1e9, 105, 0.95)
    assert patient == pytest.approx(wait_percentile_s(100.0, 105, 200.0, 0.95), rel=1e-5)


@settings(max_examples=30, deadline=None)
@given(
    a=st.floats(0.05, 3_000.0),
    sl=st.floats(0.05, 0.99),
    target=st.floats(1.0, 120.0),
    asa_cap=st.floats(0.5, 60.0),
    occupancy=st.floats(0.5, 1.0),
)
def test_required_agents_least_under_all_caps(a, sl, target, asa_cap, occupancy):
    n = required_agents(a / 200.0, 200.0, target, sl, max_occupancy=occupancy, max_asa_s=asa_cap)

    def ok(k):
        return (
            service_level(a, k, 200.0, target) >= sl - 1e-12
            and asa(a, k, 200.0) <= asa_cap
            and a / k <= occupancy + 1e-12
        )

    assert ok(n) and not ok(n - 1)

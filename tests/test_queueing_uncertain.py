"""Uncertain arrival rates (gamma-mixed Poisson): 50-digit references, limits, staffing."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openwfm.errors import ParameterError
from openwfm.queueing import (
    erlang_a,
    expected_service_level,
    rate_quantile,
    required_agents,
    service_level,
    uncertain_required_agents,
)

mp.mp.dps = 50
REL = 1e-9


def ref_erlang_c_sl(rate, aht, n, t):
    a = rate * aht
    if a >= n:
        return mp.mpf(0)
    b = a**n * mp.exp(-a) / mp.gammainc(n + 1, a)
    c = n * b / (n - a + a * b)
    return 1 - c * mp.exp(-(n - a) * t / aht)


def ref_expected(m, v, aht, n, t, by_calls=True):
    """Adaptive 50-digit quadrature over the gamma density, split at the stability edge."""
    m, v, aht, t = (mp.mpf(x) for x in (m, v, aht, t))
    k = m * m / v + (1 if by_calls else 0)
    s = v / m

    def integrand(rate):
        pdf = mp.exp((k - 1) * mp.log(rate) - rate / s - mp.loggamma(k) - k * mp.log(s))
        return ref_erlang_c_sl(rate, aht, n, t) * pdf

    return mp.quad(integrand, [0, n / aht / 2, n / aht, 2 * n / aht, mp.inf])


# loads 0.1 .. 5,000 Erlangs (mean rate x AHT), coefficients of variation 2% .. 50%
GRID = [
    (0.1 / 200, (0.5 * 0.1 / 200) ** 2, 200.0, 2, 20.0),
    (3.0 / 240, (0.3 * 3.0 / 240) ** 2, 240.0, 6, 30.0),
    (0.5, 0.01, 200.0, 110, 20.0),
    (1_000 / 300, (0.05 * 1_000 / 300) ** 2, 300.0, 1_060, 20.0),
    (5_000 / 240, (0.02 * 5_000 / 240) ** 2, 240.0, 5_150, 20.0),
]


@pytest.mark.parametrize(("m", "v", "aht", "n", "t"), GRID)
def test_expected_service_level_matches_50_digit_quadrature(m, v, aht, n, t):
    ref = ref_expected(m, v, aht, n, t)
    got = expected_service_level(m, v, aht, n, t)
    assert abs(float(got) - float(ref)) <= REL * float(ref)


def test_interval_weighting_against_reference():
    m, v, aht, n, t = 0.5, 0.01, 200.0, 110, 20.0
    ref = ref_expected(m, v, aht, n, t, by_calls=False)
    got = expected_service_level(m, v, aht, n, t, weighting="intervals")
    assert abs(float(got) - float(ref)) <= REL * float(ref)
    # busy intervals weigh more by calls, and they have the worse service
    assert expected_service_level(m, v, aht, n, t) < got


@settings(max_examples=25, deadline=None)
@given(
    a=st.floats(0.5, 500.0),
    extra=st.floats(0.5, 4.0),
    aht=st.floats(60.0, 600.0),
    patience=st.sampled_from([None, 60.0, 300.0]),
)
def test_zero_variance_is_poisson_and_variance_lowers_the_mean_target_staffing(
    a, extra, aht, patience
):
    m = a / aht
    n = float(np.ceil(a + extra * np.sqrt(a)))
    pat = np.inf if patience is None else patience
    plain = erlang_a(m, aht, pat, n, 20.0).service_level
    assert float(expected_service_level(m, 0.0, aht, n, 20.0, patience_s=patience)) == float(plain)
    tiny = expected_service_level(m, (1e-4 * m) ** 2, aht, n, 20.0, patience_s=patience)
    assert float(tiny) == pytest.approx(float(plain), abs=1e-5)
    need = uncertain_required_agents(m, 0.0, aht, 20.0, 0.8, patience_s=patience)
    assert need == required_agents(m, aht, 20.0, 0.8, patience_s=patience)
    more = uncertain_required_agents(m, (0.2 * m) ** 2, aht, 20.0, 0.8, patience_s=patience)
    assert more >= need


def test_probability_target_staffs_for_the_rate_quantile():
    m, v = 0.5, 0.01
    rate = rate_quantile(m, v, 0.9)
    assert float(mp.gammainc(m * m / v, 0, rate / (v / m), regularized=True)) == pytest.approx(0.9)
    n = uncertain_required_agents(m, v, 200.0, 20.0, 0.8, probability=0.9)
    assert n == required_agents(rate, 200.0, 20.0, 0.8)
    assert service_level(rate * 200.0, n, 200.0, 20.0) >= 0.8
    assert service_level(rate * 200.0, n - 1, 200.0, 20.0) < 0.8
    # the mean target with this much spread needs more than the mean rate alone
    mean_need = uncertain_required_agents(m, v, 200.0, 20.0, 0.8)
    assert expected_service_level(m, v, 200.0, mean_need, 20.0) >= 0.8
    assert expected_service_level(m, v, 200.0, mean_need - 1, 20.0) < 0.8
    assert mean_need > required_agents(m, 200.0, 20.0, 0.8)


def test_vectorised_staffing_matches_one_at_a_time():
    m = np.array([0.1, 0.4, 1.2])
    v = (0.15 * m) ** 2
    many = uncertain_required_agents(m, v, 240.0, 20.0, 0.8, patience_s=180.0)
    one = [
        uncertain_required_agents(x, y, 240.0, 20.0, 0.8, patience_s=180.0)
        for x, y in zip(m, v, strict=True)
    ]
    assert list(many) == one


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: expected_service_level(0.5, -0.1, 200.0, 110, 20.0), "rate_variance"),
        (lambda: rate_quantile(0.5, -1e-3, 0.5), "rate_variance"),
        (
            lambda: uncertain_required_agents(0.5, 0.01, 200.0, 20.0, 0.8, probability=1.0),
            "probability",
        ),
        (lambda: expected_service_level(0.5, 0.01, 200.0, 110, 20.0, weighting="x"), "weighting"),
    ],
)
def test_bad_input_names_the_argument(call, field):
    with pytest.raises(ParameterError, match=field):
        call()

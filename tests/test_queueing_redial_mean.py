"""Erlang X's fast finite-retry model (``method="orbit_mean"``) against the exact chain.

The orbit-mean model is an approximation (a moment closure, see openwfm.queueing.redial_mean);
its stated error bound ``orbit_mean_error_bound`` is validated here: hypothesis draws cases
from a grid of loads, staffing, patience, redial probabilities, retry times and lines, and the
model must be within the bound of the exact two-dimensional chain (itself checked against
50-digit references in test_queueing_retrial / test_queueing_redial_range), and closer than
the long-retry limit's bound. Then its limits: no redials, a long retry time, many lines.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from openwfm.errors import ParameterError
from openwfm.queueing import (
    erlang_a,
    erlang_x,
    long_retry_error_bound,
    orbit_mean_error_bound,
)

AHT = 240.0
KEYS = ("service_level", "service_level_answered", "service_level_virtual", "p_abandon")


def _distance(approx, exact, finite_lines):
    keys = (*KEYS, "p_block") if finite_lines else KEYS
    gap = max(abs(float(approx[k]) - float(exact[k])) for k in keys)
    rate = float(exact["attempt_rate_per_s"])
    return max(gap, abs(float(approx["attempt_rate_per_s"]) - rate) / rate)


@settings(max_examples=20, deadline=None)
@given(
    a=st.sampled_from([2.0, 5.0, 10.0, 30.0, 50.0]),
    ratio=st.sampled_from([0.8, 0.9, 1.0, 1.1, 1.25]),
    patience=st.sampled_from([60.0, 120.0, 240.0, 480.0]),
    p=st.sampled_from([0.3, 0.5, 0.7]),
    retry_in_aht=st.sampled_from([1.0, 2.0, 4.0, 16.0]),
    extra_lines=st.sampled_from([None, 0, 2, 5]),
)
@example(a=100.0, ratio=1.0, patience=120.0, p=0.5, retry_in_aht=2.5, extra_lines=None)
@example(a=100.0, ratio=1.0, patience=240.0, p=0.7, retry_in_aht=1.0, extra_lines=None)
@example(a=100.0, ratio=0.9, patience=240.0, p=0.7, retry_in_aht=2.0, extra_lines=None)  # worst
@example(a=10.0, ratio=1.1, patience=240.0, p=0.7, retry_in_aht=1.0, extra_lines=None)
# the largest of 74 random cases at 150-500 Erlangs: 0.26 of the bound
@example(a=200.0, ratio=1.0, patience=480.0, p=0.7, retry_in_aht=1.0, extra_lines=None)
# the largest of 540 small cases with retries of 0.05 to 4 handle times: 0.50 of the bound
@example(a=1.0, ratio=1.0, patience=240.0, p=0.7, retry_in_aht=0.25, extra_lines=0)
def test_orbit_mean_is_within_its_stated_bound_of_the_exact_chain(
    a, ratio, patience, p, retry_in_aht, extra_lines
):
    lam, n, retry = a / AHT, max(1, round(a * ratio)), retry_in_aht * AHT
    lines = np.inf if extra_lines is None else n + extra_lines
    args = (lam, AHT, patience, n, lines, 20.0)
    exact = erlang_x(*args, retrial_probability=p, retry_mean_s=retry)
    fast = erlang_x(*args, retrial_probability=p, retry_mean_s=retry, method="orbit_mean")
    bound = float(orbit_mean_error_bound(AHT, patience, p, retry))
    assert 0.0 < bound <= float(long_retry_error_bound(AHT, patience, p, retry)) / 5.0
    assert _distance(fast, exact, np.isfinite(lines)) <= bound


def test_orbit_mean_beats_the_long_retry_limit_where_redials_matter():
    """bench/queueing.py's case (100 Erlangs, patience 120 s, p 0.5, retry 600 s): the
    long-retry limit misses the redials' correlation with congestion, the orbit mean keeps it."""
    args = (100.0 / AHT, AHT, 120.0, [95, 100, 105, 110], np.inf, 20.0)
    exact = erlang_x(*args, retrial_probability=0.5, retry_mean_s=600.0)
    fast = erlang_x(*args, retrial_probability=0.5, retry_mean_s=600.0, method="orbit_mean")
    limit = erlang_x(*args, retrial_probability=0.5)
    for key in KEYS:
        fast_gap = np.max(np.abs(fast[key] - exact[key]))
        assert fast_gap < 0.25 * np.max(np.abs(limit[key] - exact[key])), key


@pytest.mark.parametrize("patience", [120.0, np.inf])
def test_no_redials_is_erlang_a(patience):
    n = 12 if patience == np.inf else 10
    got = erlang_x(
        10.0 / AHT, AHT, patience, n, np.inf, 20.0, retrial_probability=0.0,
        retry_mean_s=300.0, method="orbit_mean",
    )  # fmt: skip
    ref = erlang_a(10.0 / AHT, AHT, patience, n, 20.0)
    for key in ("service_level", "p_abandon", "asa_s"):
        assert float(got[key]) == pytest.approx(float(getattr(ref, key)), rel=1e-12), key


def test_long_retry_time_tends_to_the_long_retry_model():
    """As the retry time grows the orbit mean flattens to the long-retry limit's constant
    orbit: the distance falls like 1 / T."""
    args = (10.0 / AHT, AHT, 240.0, 10, np.inf, 20.0)
    limit = erlang_x(*args, retrial_probability=0.7)
    gaps = []
    for retry in (2_400.0, 24_000.0, 96_000.0):
        fast = erlang_x(*args, retrial_probability=0.7, retry_mean_s=retry, method="orbit_mean")
        gaps.append(max(abs(float(fast[k]) - float(limit[k])) for k in KEYS))
    assert gaps[0] > 5.0 * gaps[1] > 0.0
    assert 3.0 < gaps[1] / gaps[2] < 5.0


def test_many_lines_is_infinite_lines_and_one_number_matches_arrays():
    args = (30.0 / AHT, AHT, 120.0, 30)
    options = {"retrial_probability": 0.6, "retry_mean_s": 480.0, "method": "orbit_mean"}
    endless = erlang_x(*args, np.inf, 20.0, **options)
    many = erlang_x(*args, 400, 20.0, **options)
    arrays = erlang_x(*(np.array([v]) for v in (*args, np.inf, 20.0)), **options)
    assert float(many["p_block"]) < 1e-15
    for key in KEYS:
        assert float(many[key]) == pytest.approx(float(endless[key]), rel=1e-9, abs=1e-12), key
        assert float(arrays[key][0]) == pytest.approx(float(endless[key]), rel=1e-13), key


def test_fewer_agents_serve_worse():
    options = {"retrial_probability": 0.5, "retry_mean_s": 600.0, "method": "orbit_mean"}
    got = erlang_x(100.0 / AHT, AHT, 120.0, np.arange(80, 121), np.inf, 20.0, **options)
    assert np.all(np.diff(got["service_level"]) > 0)
    assert np.all(np.diff(got["p_abandon"]) < 0)
    assert np.all(np.diff(got["attempt_rate_per_s"]) < 0)


def test_bad_method_names_the_argument():
    with pytest.raises(ParameterError, match="method") as caught:
        erlang_x(0.4, AHT, 120.0, 100, np.inf, 20.0, retrial_probability=0.5, method="fast")
    assert caught.value.field == "method"

"""Intraday shape smoothing and the Poisson noise floor of a forecast's WAPE."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.stats import poisson

from openwfm.errors import ParameterError
from openwfm.forecast import (
    DailyProfile,
    poisson_floor_wape,
    poisson_mean_abs_deviation,
    to_series,
    validate_history,
)
from openwfm.forecast.base import smooth_shares

SLOTS = 12


shares_and_open = st.tuples(
    hnp.arrays(np.float64, (3, SLOTS), elements=st.floats(0.0, 10.0)),
    hnp.arrays(np.bool_, (3, SLOTS)),
    st.floats(0.0, 0.5),
)


def _energy(values: np.ndarray, open_slots: np.ndarray) -> float:
    """Sum of squared differences between neighbouring intervals that are both open."""
    both = open_slots[:, 1:] & open_slots[:, :-1]
    return float((np.diff(values, axis=1) ** 2 * both).sum())


@settings(max_examples=150, deadline=None)
@given(shares_and_open)
def test_smoothing_keeps_each_days_total_and_closed_slots_and_never_roughens(case):
    raw, open_slots, weight = case
    shares = np.where(open_slots, raw, 0.0)
    out = smooth_shares(shares, open_slots, weight)
    assert (out >= 0).all()
    assert (out[~open_slots] == 0).all()
    np.testing.assert_allclose(out.sum(axis=1), shares.sum(axis=1), rtol=1e-9, atol=1e-12)
    assert _energy(out, open_slots) <= _energy(shares, open_slots) * (1 + 1e-9) + 1e-12


@settings(max_examples=50, deadline=None)
@given(hnp.arrays(np.bool_, (2, SLOTS)), st.floats(0.0, 0.5))
def test_a_flat_shape_is_unchanged_and_weight_zero_is_the_identity(open_slots, weight):
    flat = np.where(open_slots, 1.0 / max(int(open_slots.sum(axis=1).max()), 1), 0.0)
    np.testing.assert_allclose(smooth_shares(flat, open_slots, weight), flat, atol=1e-12)
    rng = np.random.default_rng(0)
    shares = np.where(open_slots, rng.random(open_slots.shape), 0.0)
    np.testing.assert_array_equal(smooth_shares(shares, open_slots, 0.0), shares)


def test_smoothing_weight_outside_its_range_is_refused():
    with pytest.raises(ParameterError, match="smoothing weight"):
        smooth_shares(np.ones((1, 3)) / 3, np.ones((1, 3), dtype=bool), 0.6)


def test_smoothed_profile_is_closer_to_a_smooth_true_shape_on_sparse_counts():
    """15-minute counts, about 250 contacts a day over 10 hours: each interval's share is noisy,
    the true shape smooth; the smoothed weekday profile is nearer the truth than the raw one."""
    slots = np.arange(40)  # 08:00-18:00 in 15-minute intervals
    true = 1.0 + 0.5 * np.sin(slots / 40 * 2 * np.pi) + 0.2 * np.cos(slots / 40 * 6 * np.pi)
    true = true / true.sum()
    days = pd.date_range("2024-01-01", periods=8 * 7, freq="D")
    gaps = []
    for seed in range(3):
        rng = np.random.default_rng(seed)
        counts = rng.poisson(250.0 * true[None, :], size=(len(days), len(slots)))
        starts = (
            days.values[:, None]
            + (np.timedelta64(8, "h") + slots * np.timedelta64(15, "m"))[None, :]
        )
        frame = pd.DataFrame(
            {
                "interval_start": starts.ravel(),
                "queue": "q",
                "offered": counts.ravel().astype(float),
            }
        )
        series = next(iter(to_series(validate_history(frame)).values()))
        open_ = series.open_slots[0]
        errors = []
        for weight in (0.0, 0.2):
            model = DailyProfile(smooth_slots=weight, ets_weight=0.0).fit(series)
            errors.append(float(np.abs(model.profiles_[0][open_] - true).sum()))
        gaps.append(errors[0] - errors[1])
    assert min(gaps) > 0


@settings(max_examples=100, deadline=None)
@given(st.floats(0.01, 300.0))
def test_poisson_mean_abs_deviation_matches_the_direct_sum(rate):
    k = np.arange(0, int(rate + 40 * math.sqrt(rate) + 60))
    direct = float((np.abs(k - rate) * poisson.pmf(k, rate)).sum())
    assert float(poisson_mean_abs_deviation(rate)) == pytest.approx(direct, rel=1e-7, abs=1e-12)


def test_poisson_floor_reference_values():
    # rate 1: E|N - 1| = 2 / e (Ramasubban 1958); large rates: sqrt(2 rate / pi)
    assert float(poisson_mean_abs_deviation(1.0)) == pytest.approx(2 / math.e)
    assert poisson_floor_wape(np.array([1e4])) == pytest.approx(
        math.sqrt(2 / (math.pi * 1e4)), rel=1e-3
    )
    # a quarter of the rate per interval: the floor doubles
    assert poisson_floor_wape(np.full(4, 25.0)) > 1.9 * poisson_floor_wape(np.full(4, 100.0))
    with pytest.raises(ParameterError):
        poisson_floor_wape(np.zeros(3))
    with pytest.raises(ParameterError):
        poisson_mean_abs_deviation(-1.0)


def test_a_zero_rate_has_no_deviation_and_no_warning():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = poisson_mean_abs_deviation(np.array([0.0, 2.0]))
    assert out[0] == 0.0 and out[1] == pytest.approx(8 * math.exp(-2))  # 2 * 2 * P(N=2)

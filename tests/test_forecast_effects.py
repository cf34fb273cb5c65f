"""Calendar effects and pooled profiles of the day-ahead models: bridge days, day-of-month
multipliers, empirical-Bayes pooling of weekday shapes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from openwfm.forecast import DailyProfile, EventCalendar, to_series
from openwfm.forecast.base import pool_profiles
from openwfm.forecast.factor import FactorModel
from openwfm.forecast.profile import month_day_effect


def test_bridge_day_after_a_thursday_holiday_is_tagged() -> None:
    calendar = EventCalendar("BR")
    days = pd.date_range("2016-04-20", "2016-04-26")
    tags = dict(zip(days.strftime("%Y-%m-%d"), calendar.tags(days), strict=True))
    assert tags["2016-04-21"] == "holiday"  # Tiradentes, a Thursday
    assert tags["2016-04-22"] == "holiday_bridge"  # Friday before the weekend
    assert tags["2016-04-25"] == ""  # an ordinary Monday
    # Brazil's 7 September 2016 is a Wednesday: the Thursday after it is no bridge
    sept = pd.date_range("2016-09-06", "2016-09-09")
    assert calendar.tags(sept)[2] == ""


def month_effect_history(effect: float, days: int = 180, seed: int = 3) -> pd.DataFrame:
    """Poisson counts, 12 hourly slots a day, days 1-5 of each month ``1 + effect`` busier."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01")
    rows = []
    for d in range(days):
        day = start + pd.Timedelta(days=d)
        mean = 40.0 * (1 + effect * (day.day <= 5)) * (0.6 if day.dayofweek >= 5 else 1.0)
        for slot, count in enumerate(rng.poisson(mean, 12)):
            rows.append((day + pd.Timedelta(hours=8 + slot), "q", float(count)))
    return pd.DataFrame(rows, columns=["interval_start", "queue", "offered"])


def test_month_day_effect_is_recovered_and_absent_effect_shrinks_to_none() -> None:
    for effect, low, high in ((0.3, 0.18, 0.36), (0.0, -0.03, 0.03)):
        series = to_series(month_effect_history(effect))["q"]
        daily = np.nansum(series.values, axis=1)
        got = month_day_effect(daily, series.days, np.ones(series.n_days, dtype=bool))
        assert low <= got[1:6].mean() <= high, (effect, got[1:6])
        assert abs(got[10:29].mean()) < 0.05


def test_models_forecast_a_busy_start_of_month() -> None:
    # history ends on 29 June 2024 (a Saturday): the forecast reaches into July
    series = to_series(month_effect_history(0.3, days=181))["q"]
    for model in (DailyProfile(), FactorModel()):
        fc = model.fit(series).predict(9)
        days = pd.date_range(series.days[-1] + pd.Timedelta(days=1), periods=9)
        total = pd.Series(np.nansum(fc, axis=1), index=days)
        # Tuesday 2 July (inside days 1-5) against Tuesday 25 June's history level
        assert total[pd.Timestamp("2024-07-02")] > 1.15 * 480, type(model).__name__
        assert total[pd.Timestamp("2024-07-08")] < 1.1 * 480, type(model).__name__
    plain = DailyProfile(day_of_month=False).fit(series).predict(9)
    assert np.nansum(plain[2]) < 1.15 * 480


def test_pooling_borrows_from_noisy_weekdays_and_keeps_distinct_shapes() -> None:
    rng = np.random.default_rng(0)
    slots = 10
    truth = np.linspace(1, 2, slots)
    truth /= truth.sum()
    shapes = np.tile(truth, (7, 1))
    shapes[6] = truth[::-1]  # one weekday has a genuinely different shape
    noise = np.full((7, slots), 2e-4)
    profiles = shapes + rng.normal(0, np.sqrt(2e-4), (7, slots))
    groups = np.zeros(7, dtype=int)
    pooled = pool_profiles(profiles, noise, groups)
    err_before = np.abs(profiles[:6] - truth).mean()
    err_after = np.abs(pooled[:6] - truth).mean()
    assert err_after < 0.7 * err_before
    # the distinct weekday keeps (nearly) its own shape
    assert np.abs(pooled[6] - profiles[6]).max() < 0.2 * np.abs(profiles[6] - truth).max()

"""Day-ahead robustness: weekdays only, no closed hours, 5-minute data, level shifts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from openwfm.forecast import Forecaster
from openwfm.forecast.factor import FactorModel
from openwfm.forecast.history import to_series


def five_minute_weekdays(n_weeks=8, shift_at_week=6, shift=1.6, seed=4):
    """Weekdays only, every 5-minute slot of the day open (a few contacts at night)."""
    rng = np.random.default_rng(seed)
    days = pd.date_range("2024-01-01", periods=7 * n_weeks, freq="D")
    days = days[days.dayofweek < 5]
    slots = np.arange(288)
    hour = slots / 12
    shape = (
        0.2 + 3.0 * np.exp(-(((hour - 10.5) / 2.5) ** 2)) + 2.0 * np.exp(-(((hour - 15) / 2) ** 2))
    )
    frames = []
    for day in days:
        level = shift if (day - days[0]).days >= 7 * shift_at_week else 1.0
        counts = rng.poisson(shape * level)
        starts = day + pd.to_timedelta(slots * 5, unit="min")
        frames.append(pd.DataFrame({"interval_start": starts, "queue": "q", "offered": counts}))
    return pd.concat(frames, ignore_index=True), shape


@pytest.mark.parametrize("method", ["auto", "factor"])
def test_weekdays_only_five_minute_series_with_a_level_shift(method):
    history, shape = five_minute_weekdays()
    model = Forecaster(method=method, horizon_days=3, backtest_origins=4, backtest_step_days=1)
    model = model.fit(history)
    fc = model.predict(3)
    starts = pd.to_datetime(fc["interval_start"])
    # the history ends on a Friday: the weekend is closed, Monday is forecast in full
    assert set(starts.dt.dayofweek) == {0}
    assert len(fc) == 288 and np.isfinite(fc["forecast"]).all() and (fc["forecast"] >= 0).all()
    # two weeks after a 60% rise the forecast follows the new level, not the old average
    total = fc["forecast"].sum()
    assert total > 1.35 * shape.sum()
    assert total < 1.8 * shape.sum()


def test_factor_model_on_a_series_with_no_closed_hours_has_finite_day_scores():
    history, _ = five_minute_weekdays(n_weeks=5, shift_at_week=99)
    series = to_series(history)["q"]
    assert series.open_slots[:5].all() and not series.open_slots[5:].any()
    model = FactorModel().fit(series)
    assert np.isfinite(model.last_scores_).all() and (0 <= model.ar_).all()
    assert (model.ar_ <= model.max_ar).all()

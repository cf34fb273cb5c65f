"""Day-ahead models on series with known structure: holidays on a weekend, correlated days."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from openwfm.forecast import (
    METHODS,
    AutoPick,
    DailyProfile,
    EventCalendar,
    backtest_series,
    to_series,
    validate_history,
)
from openwfm.forecast.factor import FactorModel

SHAPE = np.array([0.2, 0.5, 1.0, 1.4, 1.2, 0.8, 1.1, 1.3, 1.0, 0.6, 0.3, 0.2])  # 12 hours, 07-19h
WEEKDAY_LEVEL = np.array([1.3, 1.0, 1.0, 1.0, 0.9, 0.15, 0.12])  # Monday .. Sunday


def history_frame(days: pd.DatetimeIndex, daily: np.ndarray, rng: np.random.Generator):
    """Poisson counts per hour (07:00-19:00) around ``daily`` x the intraday shape."""
    share = SHAPE / SHAPE.sum()
    counts = rng.poisson(daily[:, None] * share[None, :])
    starts = days.values[:, None] + ((7 + np.arange(len(SHAPE))) * np.timedelta64(1, "h"))[None, :]
    return pd.DataFrame(
        {"interval_start": starts.ravel(), "queue": "q", "offered": counts.ravel().astype(float)}
    )


def series_of(frame: pd.DataFrame):
    return next(iter(to_series(validate_history(frame)).values()))


def test_a_public_holiday_on_a_sunday_is_forecast_like_a_sunday():
    """Brazil 2016: Good Friday and Tiradentes fall on business days (a tenth of the volume);
    1 May is a Sunday. A holiday makes a business day look like a weekend day, so the ratio
    learned on business days must not be applied to a Sunday (which would give a fraction of
    an already quiet day)."""
    calendar = EventCalendar("BR")
    days = pd.date_range("2016-03-01", "2016-05-01", freq="D")
    tags = np.array(calendar.tags(days))
    base = 2000.0 * WEEKDAY_LEVEL[days.dayofweek]
    daily = np.where(tags == "holiday", 0.1 * 2000.0, base)
    frame = history_frame(days, daily, np.random.default_rng(1))
    history = frame[frame["interval_start"] < pd.Timestamp("2016-05-01")]
    model = DailyProfile().fit(series_of(history), calendar)
    sunday = 2000.0 * WEEKDAY_LEVEL[6]
    assert calendar.tags(pd.DatetimeIndex(["2016-05-01"])) == ["holiday"]
    assert model.event_ratio_["holiday"][0] < 0.2  # learned on the business-day holidays
    assert np.nansum(model.predict(1)) == pytest.approx(sunday, rel=0.25)


def correlated_days(n_days: int, ar: float, seed: int, sd: float = 0.1) -> pd.DataFrame:
    """Daily level with AR(1) log deviations: a busy day makes the next one busy."""
    rng = np.random.default_rng(seed)
    days = pd.date_range("2024-01-01", periods=n_days, freq="D")
    deviation = np.zeros(n_days)
    for t in range(1, n_days):
        deviation[t] = ar * deviation[t - 1] + rng.normal(0, sd)
    daily = 1500.0 * WEEKDAY_LEVEL[days.dayofweek] * np.exp(deviation)
    return history_frame(days, daily, rng)


def wape(frame: pd.DataFrame) -> float:
    return float((frame["forecast"] - frame["actual"]).abs().sum() / frame["actual"].sum())


@settings(max_examples=2, deadline=None, phases=[Phase.generate])
@given(ar=st.floats(0.7, 0.9), seed=st.integers(0, 10_000))
def test_auto_pick_is_not_worse_than_the_baselines_on_correlated_days(ar, seed):
    """On a series whose days are correlated (AR(1) log deviations of the daily level), the auto
    pick's day-ahead WAPE over 16 origins is within noise (10%) of the best classic baseline
    (last week's interval, mean of the last 4 same weekdays) or better."""
    series = series_of(correlated_days(56, ar, seed, sd=0.1))
    origins = list(range(series.n_days - 16, series.n_days))
    factories = {
        "seasonal_naive": METHODS["seasonal_naive"],
        "classic": METHODS["classic"],
        "auto": lambda: AutoPick(horizon_days=1, n_origins=3, step_days=1),
    }
    table = backtest_series(series, factories, 1, origins=origins)
    scores = {name: wape(part) for name, part in table.groupby("method")}
    assert scores["auto"] <= 1.1 * min(scores["seasonal_naive"], scores["classic"])


@settings(max_examples=5, deadline=None)
@given(ar=st.floats(0.3, 0.9), seed=st.integers(0, 10_000))
def test_factor_model_recovers_the_day_to_day_correlation_of_its_scores(ar, seed):
    """Root-scale counts = weekday mean + one intraday factor whose day scores follow an AR(1):
    the fitted factor spans the true one and its AR coefficient is the true one within noise
    (112 days, standard error about 0.06), and the next day's score forecast follows it."""
    rng = np.random.default_rng(seed)
    n_days, slots = 112, 24
    days = pd.date_range("2024-01-01", periods=n_days, freq="D")
    factor = np.sin(np.pi * (np.arange(slots) + 0.5) / slots)
    factor /= np.linalg.norm(factor)
    scores = np.zeros(n_days)
    for t in range(1, n_days):
        scores[t] = ar * scores[t - 1] + rng.normal(0, 3.0)
    root = 6.0 + 0.5 * np.asarray(days.dayofweek)[:, None] + scores[:, None] * factor[None, :]
    counts = np.maximum(root + rng.normal(0, 0.2, root.shape), 0.0) ** 2
    starts = days.values[:, None] + (np.arange(slots) * np.timedelta64(1, "h"))[None, :]
    frame = pd.DataFrame(
        {"interval_start": starts.ravel(), "queue": "q", "offered": counts.ravel()}
    )
    model = FactorModel(n_factors=1, train_weeks=16, level_half_life_weeks=1e6).fit(
        series_of(frame)
    )
    assert abs(float(model.factors_[0] @ factor)) > 0.98
    assert model.ar_[0] == pytest.approx(ar, abs=0.2)
    mean, _ = model.score_forecast(pd.DatetimeIndex([days[-1] + pd.Timedelta(days=1)]))
    sign = np.sign(model.factors_[0] @ factor)
    assert sign * mean[0, 0] == pytest.approx(model.ar_[0] * sign * model.last_scores_[0])

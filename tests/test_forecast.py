"""openwfm.forecast: models on synthetic series with known structure, gaps, events, errors."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openwfm.errors import DataError, ParameterError
from openwfm.forecast import (
    DailyProfile,
    Event,
    EventCalendar,
    Forecaster,
    SeasonalNaive,
    StatsForecastModel,
    TopDown,
    WeekdayAverage,
    accuracy,
    backtest_series,
    infer_interval_minutes,
    to_series,
    validate_history,
)
from openwfm.forecast.forecaster import calibrate_phi, interval_bounds

START = pd.Timestamp("2024-01-07")  # a Sunday


def weekly_pattern(slots: int) -> np.ndarray:
    """A distinct, deterministic volume per (weekday, slot): 7 x slots."""
    w = np.arange(7)[:, None]
    s = np.arange(slots)[None, :]
    return 5 + 3 * w + 10 * np.sin(np.pi * (s + 0.5) / slots) ** 2 + (s % 3)


def make_history(
    days: int,
    interval_minutes: int = 30,
    pattern: np.ndarray | None = None,
    open_hours: tuple[int, int] = (0, 24),
    closed_weekdays: tuple[int, ...] = (),
    scale_days: dict[pd.Timestamp, float] | None = None,
    drop_days: tuple[pd.Timestamp, ...] = (),
    queue: str = "q1",
) -> pd.DataFrame:
    slots = 1440 // interval_minutes
    pattern = weekly_pattern(slots) if pattern is None else pattern
    rows = []
    for d in range(days):
        day = START + pd.Timedelta(days=d)
        if day.dayofweek in closed_weekdays or day in drop_days:
            continue
        factor = (scale_days or {}).get(day, 1.0)
        for s in range(slots):
            t = day + pd.Timedelta(minutes=s * interval_minutes)
            if not open_hours[0] <= t.hour < open_hours[1]:
                continue
            rows.append((t, queue, float(pattern[day.dayofweek, s] * factor)))
    return pd.DataFrame(rows, columns=["interval_start", "queue", "offered"])


def series_of(history: pd.DataFrame):
    return next(iter(to_series(validate_history(history)).values()))


# -- structure recovered exactly --------------------------------------------------------------
def test_pure_weekly_pattern_is_forecast_exactly_by_seasonal_naive_and_classic():
    history = make_history(35)
    series = series_of(history)
    truth = weekly_pattern(48)
    future = pd.date_range(series.days[-1] + pd.Timedelta(days=1), periods=14)
    expected = truth[future.dayofweek]
    for model in (
        SeasonalNaive(),
        WeekdayAverage(),
        DailyProfile(ets_weight=0.0, shrink=0.0, smooth_slots=0.0),
    ):
        forecast = model.fit(series).predict(14)
        np.testing.assert_allclose(forecast, expected, rtol=1e-9, err_msg=model.name)


def test_statsforecast_seasonal_naive_matches_own_on_weekly_pattern():
    series = series_of(make_history(28, interval_minutes=60))
    ours = SeasonalNaive().fit(series).predict(7)
    theirs = StatsForecastModel("seasonal_naive").fit(series).predict(7)
    np.testing.assert_allclose(theirs, ours, rtol=1e-9)


def test_topdown_and_profile_close_on_weekly_pattern():
    series = series_of(make_history(42, interval_minutes=60))
    expected = weekly_pattern(24)[
        pd.date_range(series.days[-1] + pd.Timedelta(days=1), periods=7).dayofweek
    ]
    for model in (TopDown(), DailyProfile()):
        forecast = model.fit(series).predict(7)
        # the profile's shrinkage toward similar weekdays costs a little exactness here
        assert np.abs(forecast - expected).sum() / expected.sum() < 0.05, model.name


def test_classic_trend_follows_growth():
    pattern = weekly_pattern(24)
    history = make_history(56, interval_minutes=60, pattern=pattern)
    growth = 1.02 ** (np.arange(len(history)) / (24 * 7))  # +2% a week
    history["offered"] = history["offered"] * growth
    series = series_of(history)
    flat = WeekdayAverage().fit(series).predict(7).sum()
    trend = WeekdayAverage(trend=True).fit(series).predict(7).sum()
    assert trend > flat
    assert WeekdayAverage(trend=True).fit(series).weekly_growth_ == pytest.approx(1.02, abs=2e-3)


# -- gaps -------------------------------------------------------------------------------------
def test_closed_hours_and_days_are_not_forecast_and_missing_days_do_not_bias():
    missing = (START + pd.Timedelta(days=22), START + pd.Timedelta(days=23))
    history = make_history(
        35, interval_minutes=30, open_hours=(8, 18), closed_weekdays=(5,), drop_days=missing
    )
    series = series_of(history)
    assert series.open_slots.sum() == 6 * 20  # Saturday closed, 8-18 on the other days
    assert np.isnan(series.values[22]).all()  # the missing days stay missing (not zero)
    exact = DailyProfile(ets_weight=0.0, shrink=0.0, smooth_slots=0.0)
    result = Forecaster(models=[exact]).fit(history).predict(7)
    assert len(result) == 6 * 20
    assert (result["interval_start"].dt.dayofweek != 5).all()
    hours = result["interval_start"].dt.hour
    assert hours.between(8, 17).all()
    truth = weekly_pattern(48)
    starts = result["interval_start"]
    expected = truth[starts.dt.dayofweek, starts.dt.hour * 2 + starts.dt.minute // 30]
    np.testing.assert_allclose(result["forecast"], expected, rtol=1e-9)


def test_missing_intervals_inside_open_hours_are_ignored_by_the_classic():
    history = make_history(28, interval_minutes=60)
    last_monday = history["interval_start"].dt.dayofweek.eq(0) & history[
        "interval_start"
    ].dt.normalize().eq(history["interval_start"].max().normalize() - pd.Timedelta(days=6))
    holes = history[last_monday & history["interval_start"].dt.hour.between(10, 12)].index
    history = history.drop(holes)
    forecast = WeekdayAverage().fit(series_of(history)).predict(7)
    expected = weekly_pattern(24)[
        pd.date_range(history["interval_start"].max().normalize(), periods=8)[1:].dayofweek
    ]
    np.testing.assert_allclose(forecast, expected, rtol=1e-9)


@pytest.mark.parametrize("minutes", [5, 6, 15, 30, 60])
def test_interval_length_is_inferred(minutes):
    history = make_history(15, interval_minutes=minutes, open_hours=(9, 17))
    assert infer_interval_minutes(validate_history(history)) == minutes


# -- events -----------------------------------------------------------------------------------
def test_israeli_holiday_effect_is_recovered():
    """Public holidays at 20% of normal volume: the model learns it and applies it ahead."""
    calendar = EventCalendar("IL")
    days = pd.date_range(START, periods=400)
    tags = dict(zip(days, calendar.tags(days), strict=True))
    holidays = {d: 0.2 for d, t in tags.items() if t == "holiday"}
    history = make_history(400, interval_minutes=60, scale_days=holidays)
    # origin: the day before Rosh Hashanah 2024 (3 October), learned from the year before
    cut = pd.Timestamp("2024-10-02")
    history = history[history["interval_start"] < cut + pd.Timedelta(days=1)]
    series = series_of(history)
    model = DailyProfile(ets_weight=0.0).fit(series, calendar)
    forecast = model.predict(2).sum(axis=1)  # 3 Oct (Thursday, holiday), 4 Oct (Friday)
    normal = weekly_pattern(24)[[3, 4]].sum(axis=1)  # Thursday, Friday
    ratio = forecast / normal
    assert tags[pd.Timestamp("2024-10-03")] == "holiday"
    assert ratio[0] == pytest.approx(0.2, abs=0.1)
    learned = model.event_ratio_["holiday"]
    assert learned[0] == pytest.approx(0.2, abs=0.02) and learned[1] >= 4
    # the classic does not know holidays
    classic = WeekdayAverage().fit(series).predict(1).sum()
    assert classic == pytest.approx(normal[0], rel=1e-9)


def test_user_event_learned_from_past_tagged_dates_and_given_uplift():
    promo_days = [START + pd.Timedelta(days=d) for d in (15, 29, 43)]
    history = make_history(56, interval_minutes=60, scale_days=dict.fromkeys(promo_days, 1.5))
    future = START + pd.Timedelta(days=57)  # the second day after the history
    events = [Event("promo", d.date(), d.date()) for d in [*promo_days, future]]
    series = series_of(history)
    model = DailyProfile(ets_weight=0.0).fit(series, EventCalendar(None, events))
    assert model.event_ratio_["event:promo"][0] == pytest.approx(1.5, rel=1e-6)
    daily = model.predict(2).sum(axis=1)
    base = weekly_pattern(24)[future.dayofweek].sum()
    shrunk = (3 * 1.5 + 0.5 * 1.0) / 3.5  # three examples shrunk toward "no effect"
    assert daily[1] == pytest.approx(shrunk * base, rel=1e-6)
    given = [Event("launch", future.date(), future.date(), queues=("q1",), uplift=2.0)]
    plain = series_of(make_history(56, interval_minutes=60))
    model = DailyProfile(ets_weight=0.0).fit(plain, EventCalendar(None, given))
    assert model.predict(2).sum(axis=1)[1] == pytest.approx(2.0 * base, rel=1e-6)


def test_event_validation():
    with pytest.raises(ParameterError, match="ends before"):
        Event("x", dt.date(2024, 1, 2), dt.date(2024, 1, 1))
    with pytest.raises(ParameterError, match="country"):
        EventCalendar("XX")


# -- bad history: one-line errors -------------------------------------------------------------
def _one_line(error) -> str:
    text = str(error.value)
    assert "\n" not in text
    return text


def test_duplicate_interval_error_names_lines():
    history = make_history(15)
    history = pd.concat([history, history.iloc[[5]]], ignore_index=True)
    with pytest.raises(DataError) as error:
        validate_history(history, source="h.csv")
    text = _one_line(error)
    assert "duplicate interval" in text and "h.csv:" in text and "line 7" in text


def test_negative_volume_error():
    history = make_history(15)
    history.loc[3, "offered"] = -1
    with pytest.raises(DataError) as error:
        validate_history(history, source="h.csv")
    assert "h.csv:5: offered: negative value -1" in _one_line(error)


def test_unparseable_time_error():
    history = make_history(15)
    history["interval_start"] = history["interval_start"].astype(str)
    history.loc[2, "interval_start"] = "yesterday at noon"
    with pytest.raises(DataError) as error:
        validate_history(history, source="h.csv")
    text = _one_line(error)
    assert "h.csv:4: interval_start: unparseable time 'yesterday at noon'" in text


def test_missing_column_error():
    with pytest.raises(DataError, match="missing column"):
        validate_history(make_history(15).drop(columns="offered"))


def test_too_short_history_says_what_is_needed():
    with pytest.raises(DataError) as error:
        Forecaster().fit(make_history(10))
    text = _one_line(error)
    assert "10 days of history" in text and "at least 14 days (2 weeks)" in text
    with pytest.raises(DataError, match="at least 14 days"):
        SeasonalNaive().fit(series_of(make_history(9)))


def test_unknown_method_error():
    with pytest.raises(ParameterError, match="unknown method 'prophet'"):
        Forecaster(method="prophet").fit(make_history(21))


# -- Forecaster, backtest, intervals, handle time -------------------------------------------
def noisy_history(days: int = 70, seed: int = 3, queues=("a", "b")) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for i, q in enumerate(queues):
        frame = make_history(days, interval_minutes=60, open_hours=(7, 22), queue=q)
        frame["offered"] = rng.poisson(frame["offered"] * (1 + i)).astype(float)
        frame["aht_s"] = 180.0 + 60 * i
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def test_forecaster_auto_pick_intervals_and_aht():
    history = noisy_history()
    model = Forecaster(method="auto", horizon_days=7, backtest_origins=6).fit(history)
    result = model.predict(7)
    assert set(result["queue"]) == {"a", "b"}
    assert len(result) == 2 * 7 * 15
    assert set(model.chosen_.values()) <= set(model.scores_["a"])
    for q in ("a", "b"):
        assert model.scores_[q][model.chosen_[q]] == min(model.scores_[q].values())
    assert (result["lower_95"] <= result["lower_80"]).all()
    assert (result["lower_80"] <= result["forecast"]).all()
    assert (result["forecast"] <= result["upper_80"]).all()
    assert (result["upper_80"] <= result["upper_95"]).all()
    np.testing.assert_allclose(result.groupby("queue")["aht_s"].mean(), [180.0, 240.0])
    assert result["interval_start"].min() == history["interval_start"].max().normalize() + (
        pd.Timedelta(days=1, hours=7)
    )


def test_backtest_accuracy_table_and_profile_beats_naive_on_noisy_data():
    series = series_of(noisy_history(queues=("a",)))
    results = backtest_series(
        series,
        {"seasonal_naive": SeasonalNaive, "profile": DailyProfile},
        horizon_days=7,
        n_origins=8,
    )
    assert results["origin"].nunique() == 8
    assert set(results["lead_day"]) == set(range(1, 8))
    table = accuracy(results, by=("method",), scale=2.0).set_index("method")
    assert table.loc["profile", "wape"] < table.loc["seasonal_naive", "wape"]
    by_lead = accuracy(results, by=("method", "lead_day"))
    assert len(by_lead) == 14


def test_accuracy_measures_by_hand():
    results = pd.DataFrame(
        {
            "queue": "q",
            "method": "m",
            "actual": [10.0, 20.0, 30.0],
            "forecast": [12.0, 18.0, 33.0],
        }
    )
    row = accuracy(results, scale=2.0).iloc[0]
    assert row["wape"] == pytest.approx(7 / 60)
    assert row["bias"] == pytest.approx(3 / 60)
    assert row["rmse"] == pytest.approx(np.sqrt((4 + 4 + 9) / 3))
    assert row["mase"] == pytest.approx((7 / 3) / 2.0)


@settings(max_examples=40, deadline=None)
@given(
    forecast=st.lists(st.floats(0, 500), min_size=1, max_size=30),
    phi=st.floats(0, 2),
)
def test_interval_bounds_are_ordered_and_non_negative(forecast, phi):
    f = np.array(forecast)
    lo80, hi80 = interval_bounds(f, phi, 80)
    lo95, hi95 = interval_bounds(f, phi, 95)
    assert (lo95 >= 0).all()
    assert (lo95 <= lo80 + 1e-9).all() and (lo80 <= f + 1e-9).all()
    assert (f <= hi80 + 1e-9).all() and (hi80 <= hi95 + 1e-9).all()


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), level=st.sampled_from([80, 95]))
def test_calibrated_phi_reaches_the_coverage(seed, level):
    rng = np.random.default_rng(seed)
    mean = rng.uniform(1, 50, 400)
    actual = rng.negative_binomial(5, 5 / (5 + mean)).astype(float)
    phi = calibrate_phi(actual, mean, level)
    lo, hi = interval_bounds(mean, phi, level)
    assert np.mean((actual >= lo) & (actual <= hi)) >= level / 100


def test_outlier_day_does_not_move_the_profile_level():
    """A one-off surge (x5 on one Wednesday) barely moves the next Wednesday's forecast."""
    surge = START + pd.Timedelta(days=31)  # a Wednesday, two weeks before the end
    history = make_history(42, interval_minutes=60, scale_days={surge: 5.0})
    series = series_of(history)
    expected = weekly_pattern(24)[2].sum()
    robust = DailyProfile(ets_weight=0.0, shrink=0.0).fit(series).predict(7)
    wednesday = int(
        np.flatnonzero(
            pd.date_range(series.days[-1] + pd.Timedelta(days=1), periods=7).dayofweek == 2
        )[0]
    )
    assert robust[wednesday].sum() == pytest.approx(expected, rel=0.05)
    naive = DailyProfile(ets_weight=0.0, shrink=0.0, outlier_mad=None).fit(series).predict(7)
    assert naive[wednesday].sum() > 1.3 * expected
    assert WeekdayAverage().fit(series).predict(7)[wednesday].sum() == pytest.approx(2 * expected)

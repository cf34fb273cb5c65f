"""Long-term weekly / monthly totals: seasonality, trend, events, intervals, CLI."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import PROJECT_ROOT, require_shared_data
from openwfm.errors import ParameterError
from openwfm.forecast import Event
from openwfm.forecast.longterm import LongTermForecaster


def daily_history(start="2021-01-04", n_days=3 * 364, seed=2, yearly=0.25, growth=0.15):
    """Two hourly intervals a day; weekends at 30%; a yearly wave and yearly growth."""
    rng = np.random.default_rng(seed)
    days = pd.date_range(start, periods=n_days, freq="D")
    t = np.arange(n_days) / 365.25
    level = 400 * (1 + growth) ** t * np.exp(yearly * np.sin(2 * np.pi * days.dayofyear / 365.25))
    level = level * np.where(days.dayofweek >= 5, 0.3, 1.0)
    rows = []
    for day, lam in zip(days, level, strict=True):
        for hour in (8, 9):
            rows.append((day + pd.Timedelta(hours=hour), "q", rng.poisson(lam / 2)))
    frame = pd.DataFrame(rows, columns=["interval_start", "queue", "offered"])
    return frame, days, level


def test_weekly_totals_follow_yearly_season_and_trend():
    frame, days, level = daily_history(n_days=3 * 364 + 182)
    cut = days[3 * 364]
    model = LongTermForecaster("week").fit(frame[frame["interval_start"] < cut])
    fc = model.predict(182)
    assert (fc["lower_80"] <= fc["forecast"]).all() and (fc["forecast"] <= fc["upper_80"]).all()
    assert (fc["lower_95"] <= fc["lower_80"]).all() and (fc["upper_80"] <= fc["upper_95"]).all()
    truth = pd.Series(level, index=days)[days >= cut]
    weekly = truth.groupby(truth.index.to_period("W-SUN").start_time).sum()
    got = fc.set_index("period_start")["forecast"].reindex(weekly.index)
    full = fc.set_index("period_start")["days"].reindex(weekly.index) == 7
    wape = float((got[full] - weekly[full]).abs().sum() / weekly[full].sum())
    assert wape < 0.06
    # a flat forecast (the last 8 weeks' mean) misses the yearly wave by much more
    flat = (
        frame[frame["interval_start"] < cut]
        .groupby(frame["interval_start"].dt.to_period("W-SUN").dt.start_time)["offered"]
        .sum()
        .iloc[-9:-1]
        .mean()
    )
    assert wape < 0.5 * float((flat - weekly[full]).abs().sum() / weekly[full].sum())


def test_a_campaign_adds_its_uplift_and_months_sum_days():
    frame, days, _ = daily_history(n_days=364, yearly=0.0, growth=0.0)
    campaign = Event("spring", dt.date(2022, 3, 1), dt.date(2022, 3, 31), uplift=1.2)
    plain = LongTermForecaster("month").fit(frame).predict(120)
    lifted = LongTermForecaster("month", events=[campaign]).fit(frame).predict(120)
    march = pd.Timestamp("2022-03-01")
    ratio = (
        lifted.set_index("period_start").loc[march, "forecast"]
        / plain.set_index("period_start").loc[march, "forecast"]
    )
    assert ratio == pytest.approx(1.2, rel=1e-6)
    others = plain["period_start"] != march
    np.testing.assert_allclose(lifted.loc[others, "forecast"], plain.loc[others, "forecast"])
    assert plain["days"].sum() == 120


def test_granularity_is_checked():
    frame, _, _ = daily_history(n_days=70)
    with pytest.raises(ParameterError, match="granularity"):
        LongTermForecaster("quarter").fit(frame)


def test_bank_weekly_totals_beat_statsforecast():
    """Acceptance: fit to 1999-06-30, weekly totals to year end vs AutoETS / AutoARIMA."""
    import warnings

    from statsforecast.models import AutoARIMA, AutoETS

    path = require_shared_data("anonymous-bank/interval-6min/arrivals-6min-1999.csv.gz")
    raw = pd.read_csv(path)
    starts = pd.to_datetime(raw["date"]) + pd.to_timedelta(raw["start"])
    history = pd.DataFrame({"interval_start": starts, "queue": "bank", "offered": raw["calls"]})
    cut = pd.Timestamp("1999-07-01")
    fc = LongTermForecaster("week", country="IL").fit(history[starts < cut]).predict(184)
    daily = history.groupby(starts.dt.normalize())["offered"].sum()
    weekly = daily.groupby(daily.index.to_period("W-SUN").start_time).agg(["sum", "count"])
    weekly = weekly[weekly["count"] == 7]["sum"]
    train = weekly[(weekly.index + pd.Timedelta(days=6)) < cut]
    test = weekly[(weekly.index >= cut) & (weekly.index <= pd.Timestamp("1999-12-20"))]
    ours = fc.set_index("period_start")["forecast"].reindex(test.index).to_numpy()
    h = int((test.index[-1] - train.index[-1]).days // 7)
    steps = ((test.index - train.index[-1]).days // 7).to_numpy() - 1

    def wape(values):
        return float(np.abs(values - test.to_numpy()).sum() / test.sum())

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peers = [
            wape(np.asarray(m.fit(y=train.to_numpy(float)).predict(h=h)["mean"])[steps])
            for m in (AutoETS(season_length=1), AutoARIMA())
        ]
    assert wape(ours) <= min(peers)


def test_cli_granularity_month(tmp_path):
    frame, _, _ = daily_history(n_days=140)
    frame["interval_start"] = frame["interval_start"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    path = tmp_path / "history.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "monthly.csv"
    run = subprocess.run(
        [sys.executable, "-m", "openwfm", "forecast", "--history", str(path), "--horizon-days",
         "120", "--granularity", "month", "--out", str(out)],
        capture_output=True, text=True, cwd=PROJECT_ROOT,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    table = pd.read_csv(out)
    assert list(table.columns) == [
        "period_start", "queue", "days", "forecast", "lower_80", "upper_80", "lower_95",
        "upper_95",
    ]  # fmt: skip
    assert table["days"].sum() == 120 and (table["forecast"] > 0).all()
    bad = subprocess.run(
        [sys.executable, "-m", "openwfm", "forecast", "--history", str(path), "--horizon-days",
         "120", "--granularity", "year", "--out", str(tmp_path / "x.csv")],
        capture_output=True, text=True, cwd=PROJECT_ROOT,
    )  # fmt: skip
    assert bad.returncode == 2 and "--granularity" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1

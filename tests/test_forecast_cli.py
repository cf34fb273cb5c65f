"""``openwfm forecast`` / ``openwfm backtest`` end to end, and the Anonymous Bank holidays."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import PROJECT_ROOT, require_shared_data
from test_forecast import make_history


def openwfm(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "openwfm", *args],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
    )


@pytest.fixture
def history_csv(tmp_path: Path) -> Path:
    rng = np.random.default_rng(7)
    frames = []
    for queue, factor in (("sales", 1.0), ("support", 2.0)):
        frame = make_history(
            28, interval_minutes=30, open_hours=(8, 20), closed_weekdays=(5,), queue=queue
        )
        frame["offered"] = rng.poisson(frame["offered"] * factor)
        frames.append(frame)
    history = pd.concat(frames, ignore_index=True)
    history["interval_start"] = history["interval_start"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    path = tmp_path / "history.csv"
    history[["interval_start", "queue", "offered"]].to_csv(path, index=False)
    return path


def test_forecast_cli_contract(history_csv: Path, tmp_path: Path):
    out = tmp_path / "forecast.csv"
    run = openwfm(
        "forecast",
        "--history",
        str(history_csv),
        "--horizon-days",
        "3",
        "--out",
        str(out),
        "--country",
        "IL",
    )
    assert run.returncode == 0, run.stderr
    table = pd.read_csv(out)
    assert list(table.columns)[:5] == [
        "interval_start",
        "queue",
        "forecast",
        "lower_80",
        "upper_80",
    ]
    assert list(table.columns)[5:] == ["lower_95", "upper_95"]
    starts = pd.to_datetime(table["interval_start"], format="ISO8601")
    history = pd.read_csv(history_csv, parse_dates=["interval_start"])
    last_day = history["interval_start"].max().normalize()
    # the 3 calendar days after the history, open intervals only (Saturday closed, 08:00-20:00)
    assert starts.dt.normalize().min() > last_day
    assert starts.dt.normalize().max() == last_day + pd.Timedelta(days=3)
    assert (starts.dt.dayofweek != 5).all() and starts.dt.hour.between(8, 19).all()
    open_days = sum((last_day + pd.Timedelta(days=d)).dayofweek != 5 for d in (1, 2, 3))
    assert len(table) == 2 * open_days * 24
    assert (table["lower_80"] <= table["forecast"]).all()
    assert (table["forecast"] <= table["upper_80"]).all()
    assert (
        table.groupby("queue")["forecast"].sum()["support"]
        > table.groupby("queue")["forecast"].sum()["sales"]
    )


def test_forecast_cli_named_method_and_one_line_errors(history_csv: Path, tmp_path: Path):
    out = tmp_path / "f.csv"
    run = openwfm(
        "forecast",
        "--history",
        str(history_csv),
        "--horizon-days",
        "2",
        "--out",
        str(out),
        "--method",
        "seasonal_naive",
    )
    assert run.returncode == 0, run.stderr
    assert len(pd.read_csv(out)) > 0

    bad = tmp_path / "bad.csv"
    text = history_csv.read_text().splitlines()
    bad.write_text("\n".join([*text, text[3]]) + "\n")  # a duplicate interval
    run = openwfm("forecast", "--history", str(bad), "--horizon-days", "1", "--out", str(out))
    assert run.returncode == 2
    assert len(run.stderr.strip().splitlines()) == 1
    assert "duplicate interval" in run.stderr and f"{bad}:{len(text) + 1}" in run.stderr

    short = tmp_path / "short.csv"
    short.write_text("\n".join(text[:200]) + "\n")
    out2 = tmp_path / "never.csv"
    run = openwfm("forecast", "--history", str(short), "--horizon-days", "1", "--out", str(out2))
    assert run.returncode == 2 and "needs at least 14 days" in run.stderr
    assert not out2.exists()  # nothing half-written

    run = openwfm(
        "forecast",
        "--history",
        str(history_csv),
        "--horizon-days",
        "1",
        "--out",
        str(out2),
        "--method",
        "nope",
    )
    assert run.returncode == 2 and "--method: unknown method 'nope'" in run.stderr


def test_backtest_cli_table_and_report(history_csv: Path, tmp_path: Path):
    report = tmp_path / "backtest.html"
    run = openwfm(
        "backtest",
        "--history",
        str(history_csv),
        "--horizon-days",
        "2",
        "--origins",
        "3",
        "--methods",
        "classic,profile,auto",
        "--report",
        str(report),
    )
    assert run.returncode == 0, run.stderr
    for word in ("WAPE", "MASE", "RMSE", "bias", "classic", "profile", "auto", "coverage"):
        assert word in run.stdout
    html = report.read_text()
    assert "WAPE by lead time" in html and "plotly" in html.lower()


def test_forecast_from_the_store(tmp_path: Path):
    from openwfm.data.store import InteractionStore
    from openwfm.data.synthetic import generate_interactions
    from openwfm.scenario import load_scenario

    scenario = load_scenario(PROJECT_ROOT / "examples" / "center.yaml")
    interactions = generate_interactions(scenario, dt.date(2024, 1, 1), 3, 1)
    store = tmp_path / "s.duckdb"
    with InteractionStore(store) as db:
        db.ingest(interactions)
    out = tmp_path / "f.csv"
    run = openwfm(
        "forecast",
        "--store",
        str(store),
        "--horizon-days",
        "2",
        "--out",
        str(out),
        "--interval-minutes",
        "15",
    )
    assert run.returncode == 0, run.stderr
    table = pd.read_csv(out)
    assert list(table.columns) == [
        "interval_start",
        "queue",
        "forecast",
        "lower_80",
        "upper_80",
        "lower_95",
        "upper_95",
        "aht_s",
    ]
    assert set(table["queue"]) == set(interactions["queue"])
    assert (table["aht_s"] > 0).all()


def test_anonymous_bank_1999_yom_kippur_is_handled():
    """Day-ahead forecast for Yom Kippur (Monday 20 Sep 1999): the holiday-aware model is near
    the actual, the classic (mean of 4 Mondays) is many times too high."""
    from openwfm.forecast import DailyProfile, EventCalendar, WeekdayAverage, to_series

    path = require_shared_data("anonymous-bank/interval-6min/arrivals-6min-1999.csv.gz")
    raw = pd.read_csv(path)
    start = pd.to_datetime(raw["date"]) + pd.to_timedelta(raw["start"])
    counts = pd.Series(raw["calls"].to_numpy(float), index=start).resample("30min").sum()
    counts = counts[counts.index.normalize().isin(pd.to_datetime(raw["date"].unique()))]
    history = pd.DataFrame(
        {"interval_start": counts.index, "queue": "bank", "offered": counts.to_numpy()}
    )
    actual = history.loc[history["interval_start"].dt.normalize() == "1999-09-20", "offered"]
    history = history[history["interval_start"] < "1999-09-20"]
    series = to_series(history)["bank"]
    profile = DailyProfile().fit(series, EventCalendar("IL")).predict(1).sum()
    classic = WeekdayAverage().fit(series).predict(1).sum()
    assert actual.sum() == 161
    assert classic > 5 * actual.sum()
    assert abs(profile - actual.sum()) < 0.5 * actual.sum()


def test_events_csv_given_uplift_through_the_cli(history_csv: Path, tmp_path: Path):
    history = pd.read_csv(history_csv, parse_dates=["interval_start"])
    day = history["interval_start"].max().normalize() + pd.Timedelta(days=2)  # a Sunday
    events = tmp_path / "events.csv"
    events.write_text(f"name,start,end,queues,uplift\nlaunch,{day.date()},{day.date()},sales,3\n")
    plain, boosted = tmp_path / "plain.csv", tmp_path / "boosted.csv"
    for out, extra in ((plain, []), (boosted, ["--events", str(events)])):
        run = openwfm(
            "forecast",
            "--history",
            str(history_csv),
            "--horizon-days",
            "2",
            "--out",
            str(out),
            "--method",
            "profile_ew",
            *extra,
        )
        assert run.returncode == 0, run.stderr
    a = pd.read_csv(plain).groupby("queue")["forecast"].sum()
    b = pd.read_csv(boosted).groupby("queue")["forecast"].sum()
    assert b["sales"] == pytest.approx(3 * a["sales"], rel=1e-3)
    assert b["support"] == pytest.approx(a["support"], rel=1e-9)

    events.write_text("name,start,end\nx,someday,2024-01-01\n")
    run = openwfm(
        "forecast",
        "--history",
        str(history_csv),
        "--horizon-days",
        "2",
        "--out",
        str(tmp_path / "never.csv"),
        "--events",
        str(events),
    )
    assert run.returncode == 2 and f"{events}:2: start: unparseable date" in run.stderr

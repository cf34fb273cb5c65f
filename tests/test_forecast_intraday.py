"""Factor model, intraday update (``Forecaster.update``) and ``openwfm reforecast``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import PROJECT_ROOT
from openwfm.errors import DataError
from openwfm.forecast import Forecaster
from openwfm.forecast.factor import ROOT_SHIFT, FactorModel
from openwfm.forecast.history import to_series
from openwfm.forecast.intraday import (
    UPDATE_METHODS,
    learn_shrinkage,
    learn_shrinkage_by_hour,
    update_queue_day,
)
from openwfm.forecast.level_update import MIN_LEARNING_DAYS, LevelRule, learn_level_rule
from openwfm.forecast.versions import ForecastVersions


def factor_history(n_days=84, slots=24, ar=0.7, seed=3, noise=0.05):
    """Root-scale series with a known structure: weekday mean + 2 factors with AR(1) scores."""
    rng = np.random.default_rng(seed)
    t = np.arange(slots) / slots
    mean = 4 + 3 * np.sin(np.pi * t)
    true_factors = np.vstack([np.ones(slots), np.cos(2 * np.pi * t)])
    true_factors /= np.linalg.norm(true_factors, axis=1, keepdims=True)
    scores = np.zeros((n_days, 2))
    for d in range(1, n_days):
        scores[d] = ar * scores[d - 1] + rng.normal(0, [1.5, 0.8])
    root = mean + scores @ true_factors + rng.normal(0, noise, (n_days, slots))
    counts = np.maximum(root, 0) ** 2 - ROOT_SHIFT
    days = pd.date_range("2024-01-01", periods=n_days, freq="D")
    starts = (days.values[:, None] + np.arange(slots) * np.timedelta64(60, "m")).ravel()
    frame = pd.DataFrame({"interval_start": starts, "queue": "q", "offered": counts.ravel()})
    return frame, true_factors, scores


def test_factor_model_recovers_a_known_structure():
    frame, true_factors, _ = factor_history()
    series = to_series(frame)["q"]
    model = FactorModel(n_factors=2, train_weeks=12, level_half_life_weeks=1e6).fit(series)
    # the fitted factors span the true ones: principal angles near zero
    q_true, _ = np.linalg.qr(true_factors.T)
    q_fit, _ = np.linalg.qr(model.factors_.T)
    cosines = np.linalg.svd(q_true.T @ q_fit, compute_uv=False)
    assert cosines.min() > 0.97
    # day-to-day correlation of the scores is found (true AR(1) coefficient 0.7)
    assert 0.45 < model.ar_.max() < 0.9
    # and the day-ahead forecast beats the weekday mean when yesterday was far from average
    assert np.isfinite(model.predict(1)).all()


def test_factor_update_uses_the_morning():
    frame, true_factors, _ = factor_history(seed=5)
    series = to_series(frame)["q"]
    model = FactorModel(n_factors=2).fit(series)
    day = series.days[-1] + pd.Timedelta(days=1)
    expected = model.predict(1)[0]
    busy = np.full(24, np.nan)
    busy[:8] = expected[:8] * 1.5
    updated = model.update_day(day, busy, expected)
    assert updated[8:].sum() > expected[8:].sum() * 1.1
    same = expected.copy()
    same[8:] = np.nan
    np.testing.assert_allclose(model.update_day(day, same, expected), expected)


def bank_like_history(n_days=40, seed=1):
    rng = np.random.default_rng(seed)
    days = pd.date_range("2024-03-04", periods=n_days, freq="D")
    slots = np.arange(16, 40)  # 08:00-20:00, 30-minute intervals
    level = 40 * np.exp(np.cumsum(rng.normal(0, 0.08, n_days)))
    shape = np.sin(np.pi * (slots - 15) / 25)
    rows = []
    for d, day in enumerate(days):
        if day.dayofweek == 6:
            continue  # closed on Sundays
        for s, w in zip(slots, shape, strict=True):
            rows.append(
                (day + pd.Timedelta(minutes=30 * int(s)), "sales", rng.poisson(level[d] * w))
            )
    return pd.DataFrame(rows, columns=["interval_start", "queue", "offered"])


@pytest.fixture(scope="module")
def fitted():
    history = bank_like_history()
    return history, Forecaster(horizon_days=1, backtest_step_days=1).fit(history)


@pytest.mark.parametrize(
    "method",
    [
        "auto",
        "ratio",
        "ratio_half",
        "ratio_shrunk",
        "ratio_window",
        "learned",
        "factor",
        "learned_factor",
    ],
)
def test_update_on_a_day_running_at_forecast_changes_nothing(fitted, method):
    history, model = fitted
    forecast = model.predict(1)
    as_of = forecast["interval_start"].iloc[0].normalize() + pd.Timedelta(hours=12)
    done = forecast[forecast["interval_start"] < as_of]
    actuals = done[["interval_start", "queue"]].assign(offered=done["forecast"])
    rest = model.update(actuals, as_of, forecast=forecast, method=method)
    original = forecast[forecast["interval_start"] >= as_of]
    assert len(rest) == len(original) > 0
    np.testing.assert_allclose(rest["forecast"].to_numpy(), original["forecast"].to_numpy())
    assert (rest["interval_start"] >= as_of).all()


def test_update_follows_a_busy_morning_and_ratio_is_exact(fitted):
    history, model = fitted
    forecast = model.predict(1)
    as_of = forecast["interval_start"].iloc[0].normalize() + pd.Timedelta(hours=12)
    done = forecast[forecast["interval_start"] < as_of]
    actuals = done[["interval_start", "queue"]].assign(offered=2 * done["forecast"])
    original = forecast[forecast["interval_start"] >= as_of]["forecast"].to_numpy()
    ratio = model.update(actuals, as_of, forecast=forecast, method="ratio")
    np.testing.assert_allclose(ratio["forecast"].to_numpy(), 2 * original)
    auto = model.update(actuals, as_of)  # default forecast: the forecaster's own
    assert original.sum() < auto["forecast"].sum() < 2 * original.sum()
    assert set(auto["method"]) == {"learned"}  # 40 days of history to learn from


def test_update_rejects_bad_actuals(fitted):
    history, model = fitted
    forecast = model.predict(1)
    as_of = forecast["interval_start"].iloc[0].normalize() + pd.Timedelta(hours=12)
    late = pd.DataFrame({"interval_start": [as_of], "queue": ["sales"], "offered": [3.0]})
    with pytest.raises(DataError, match="after as_of"):
        model.update(late, as_of)


def test_learned_shrinkage_prefers_the_ratio_when_days_drift_and_not_when_noise():
    rng = np.random.default_rng(0)
    days = pd.date_range("2024-01-01", periods=40, freq="D")
    hours = np.arange(8, 20)
    rows_drift, rows_noise = [], []
    for day in days:
        level = rng.lognormal(0, 0.3)
        for h in hours:
            t = day + pd.Timedelta(hours=int(h))
            rows_drift.append((t, rng.poisson(100 * level), 100.0))
            rows_noise.append((t, rng.poisson(2), 2.0))
    columns = ["interval_start", "actual", "forecast"]
    k_drift = learn_shrinkage(pd.DataFrame(rows_drift, columns=columns))
    k_noise = learn_shrinkage(pd.DataFrame(rows_noise, columns=columns))
    assert k_drift < 50 < k_noise


def test_shrinkage_per_hour_ignores_an_uninformative_first_hour():
    """Days whose first hour (08h) is pure noise around the forecast, the rest following the
    day's level: at 09:00 the learned k is large (trust the forecast), at 12:00 small."""
    rng = np.random.default_rng(1)
    rows = []
    for day in pd.date_range("2024-01-01", periods=40, freq="D"):
        level = rng.lognormal(0, 0.3)
        for h in range(8, 20):
            mean = 100.0 * (rng.lognormal(0, 0.3) if h == 8 else level)
            rows.append((day + pd.Timedelta(hours=h), rng.poisson(mean), 100.0))
    k = learn_shrinkage_by_hour(
        pd.DataFrame(rows, columns=["interval_start", "actual", "forecast"])
    )
    assert set(k) == set(range(24))
    assert k[9] > 4 * k[12]


def past_days(n_days, morning_sd, carry, seed=2):
    """Past day-ahead forecasts (100 per hour, 08-20h) against actuals whose morning (08-12h)
    level is off by ``exp(N(0, morning_sd))`` and the afternoon by that to the power ``carry``
    (times its own small noise)."""
    rng = np.random.default_rng(seed)
    rows = []
    for day in pd.date_range("2024-01-01", periods=n_days, freq="D"):
        morning = rng.normal(0, morning_sd)
        afternoon = carry * morning + rng.normal(0, 0.02)
        for h in range(8, 20):
            level = np.exp(morning if h < 12 else afternoon)
            rows.append((day + pd.Timedelta(hours=h), rng.poisson(100 * level), 100.0))
    return pd.DataFrame(rows, columns=["interval_start", "actual", "forecast"])


def test_learned_level_rule_follows_what_the_morning_says_about_the_afternoon():
    noon = pd.Timedelta(hours=12)
    carried = learn_level_rule(past_days(60, 0.2, 1.0), noon, 60)
    halfway = learn_level_rule(past_days(60, 0.2, 0.5), noon, 60)
    unrelated = learn_level_rule(past_days(60, 0.2, 0.0), noon, 60)
    assert carried.beta >= 0.85 and carried.days == 60
    assert 0.3 <= halfway.beta <= 0.7
    assert unrelated.beta <= 0.1
    # too few past days: no rule (the caller falls back to the shrunk ratio)
    assert learn_level_rule(past_days(MIN_LEARNING_DAYS - 1, 0.2, 1.0), noon, 60) is None
    # a day at its forecast stays there; a busy morning moves the rest by ratio ** beta
    starts = pd.date_range("2024-06-03 08:00", periods=4, freq="h").to_numpy()
    as_of = pd.Timestamp("2024-06-03 12:00")
    rule = LevelRule(None, 0.5, 60)
    assert rule.multiplier(starts, np.full(4, 100.0), np.full(4, 100.0), as_of) == 1.0
    busy = rule.multiplier(starts, np.full(4, 144.0), np.full(4, 100.0), as_of)
    assert busy == pytest.approx(np.sqrt(577 / 401))


@settings(max_examples=60, deadline=None)
@given(
    forecast=st.lists(st.floats(0.0, 500.0), min_size=4, max_size=24),
    scale=st.floats(0.0, 4.0),
    beta=st.floats(0.0, 1.0),
    window=st.sampled_from([None, 60, 120]),
    cut=st.integers(1, 3),
)
def test_level_update_properties(forecast, scale, beta, window, cut):
    """On any day: actuals equal to the forecast change nothing (every ratio method and the
    learned rule); the learned rule moves the rest between no update and the window's ratio
    (beta in [0, 1]), more when the morning is busier; nothing turns negative."""
    starts = pd.date_range("2024-06-03 08:00", periods=len(forecast), freq="h")
    fc = pd.DataFrame({"interval_start": starts, "forecast": forecast})
    fc["lower_80"], fc["upper_80"] = 0.5 * fc["forecast"], 2.0 * fc["forecast"]
    as_of = starts[0] + pd.Timedelta(hours=cut)
    seen = fc[fc["interval_start"] < as_of]
    at_forecast = seen[["interval_start"]].assign(offered=seen["forecast"])
    rule = LevelRule(window, beta, 60)
    for method in [m for m in UPDATE_METHODS if m not in ("factor", "learned_factor")]:
        out = update_queue_day(fc, at_forecast, as_of, 60, method, level_rule=rule)
        np.testing.assert_allclose(out["forecast"], fc["forecast"].iloc[cut:], rtol=1e-12)
    fallback = update_queue_day(fc, at_forecast, as_of, 60, "auto")  # nothing learned
    np.testing.assert_allclose(fallback["forecast"], fc["forecast"].iloc[cut:], rtol=1e-12)
    mult = []
    for factor in (scale, scale + 0.5):
        busy = seen[["interval_start"]].assign(offered=np.round(factor * seen["forecast"]))
        out = update_queue_day(fc, busy, as_of, 60, "learned", level_rule=rule)
        assert (out[["forecast", "lower_80", "upper_80"]].to_numpy() >= 0).all()
        m = rule.multiplier(
            busy["interval_start"].to_numpy(),
            busy["offered"].to_numpy(),
            seen["forecast"].to_numpy(),
            as_of,
        )
        kept = seen["interval_start"] >= (as_of - pd.Timedelta(minutes=window or 10**6))
        ratio = (busy["offered"][kept].sum() + 1) / (seen["forecast"][kept].sum() + 1)
        assert min(1.0, ratio) - 1e-9 <= m <= max(1.0, ratio) + 1e-9
        np.testing.assert_allclose(out["forecast"], m * fc["forecast"].iloc[cut:], rtol=1e-9)
        mult.append(m)
    assert mult[1] >= mult[0] - 1e-12


# -- CLI ---------------------------------------------------------------------------------------
def openwfm(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "openwfm", *args], capture_output=True, text=True, cwd=PROJECT_ROOT
    )


@pytest.fixture(scope="module")
def cli_files(tmp_path_factory, fitted):
    history, model = fitted
    folder = tmp_path_factory.mktemp("reforecast")
    forecast = model.predict(1)
    written = forecast.drop(columns=["method"]).copy()
    written["interval_start"] = written["interval_start"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    f_path = folder / "F.csv"
    written.to_csv(f_path, index=False)
    as_of = forecast["interval_start"].iloc[0].normalize() + pd.Timedelta(hours=12)
    done = forecast[forecast["interval_start"] < as_of]
    today = done[["interval_start", "queue"]].assign(offered=np.round(1.3 * done["forecast"]))
    actuals = pd.concat([history, today], ignore_index=True)
    actuals["interval_start"] = pd.to_datetime(actuals["interval_start"]).dt.strftime(
        "%Y-%m-%dT%H:%M:%S"
    )
    a_path = folder / "A.csv"
    actuals.to_csv(a_path, index=False)
    return folder, f_path, a_path, as_of, len(history)


def test_reforecast_cli_writes_the_rest_of_the_day(cli_files):
    folder, f_path, a_path, as_of, _ = cli_files
    out = folder / "F2.csv"
    store = folder / "versions.duckdb"
    run = openwfm(
        "reforecast", "--forecast", str(f_path), "--actuals", str(a_path),
        "--as-of", as_of.isoformat(), "--out", str(out), "--versions", str(store),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "method learned" in run.stdout  # the default learns from the history in A.csv
    with ForecastVersions(store) as versions:
        listed = versions.list()
        parent = versions.find(pd.read_csv(f_path))
        child = versions.find(pd.read_csv(out))
    assert len(listed) == 2 and parent is not None and child is not None
    assert listed.set_index("id").loc[child, "parent"] == parent
    original = pd.read_csv(f_path)
    updated = pd.read_csv(out)
    assert list(updated.columns) == list(original.columns)
    starts = pd.to_datetime(updated["interval_start"])
    assert (starts >= as_of).all() and (starts < as_of.normalize() + pd.Timedelta(days=1)).all()
    before = original[pd.to_datetime(original["interval_start"]) >= as_of]["forecast"].sum()
    assert before < updated["forecast"].sum() < 1.3 * before  # a busy morning, shrunk


def _bad(a_path: Path, folder: Path, name: str, edit) -> Path:
    frame = pd.read_csv(a_path)
    frame = edit(frame)
    path = folder / name
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("case", "field", "words"),
    [
        ("after", "interval_start", "after as_of"),
        ("queue", "queue", "unknown queue"),
        ("closed", "interval_start", "closed"),
        ("duplicate", "interval_start", "duplicate"),
    ],
)
def test_reforecast_cli_bad_actuals_one_line_error(cli_files, case, field, words):
    folder, f_path, a_path, as_of, n_history = cli_files
    line = n_history + 3  # header is line 1, the first row of the day is line n_history + 2

    def edit(frame):
        frame = frame.copy()
        row = n_history + 1
        if case == "after":
            frame.loc[row, "interval_start"] = (as_of + pd.Timedelta(hours=1)).isoformat()
        elif case == "queue":
            frame.loc[row, "queue"] = "nobody"
        elif case == "closed":
            frame.loc[row, "interval_start"] = (
                as_of.normalize() + pd.Timedelta(hours=3)
            ).isoformat()
        else:
            frame.loc[row, "interval_start"] = frame.loc[row - 1, "interval_start"]
        return frame

    bad = _bad(a_path, folder, f"A_{case}.csv", edit)
    out = folder / f"F2_{case}.csv"
    run = openwfm(
        "reforecast", "--forecast", str(f_path), "--actuals", str(bad),
        "--as-of", as_of.isoformat(), "--out", str(out),
    )  # fmt: skip
    assert run.returncode == 2
    message = run.stderr.strip()
    assert len(message.splitlines()) == 1, message
    assert f"{bad}:{line}" in message and field in message and words in message, message
    assert not out.exists()


def test_reforecast_cli_learned_without_history_is_a_one_line_error(cli_files):
    folder, f_path, a_path, as_of, n_history = cli_files
    today = pd.read_csv(a_path).iloc[n_history:]
    path = folder / "A_today.csv"
    today.to_csv(path, index=False)
    out = folder / "F2_today.csv"
    args = ["reforecast", "--forecast", str(f_path), "--actuals", str(path)]
    args += ["--as-of", as_of.isoformat(), "--out", str(out)]
    run = openwfm(*args, "--method", "learned")
    assert run.returncode == 2
    assert len(run.stderr.strip().splitlines()) == 1 and "--method" in run.stderr, run.stderr
    assert not out.exists()
    fallback = openwfm(*args)  # auto without history: the default shrunk ratio
    assert fallback.returncode == 0, fallback.stderr
    assert "ratio_shrunk+window" in fallback.stdout

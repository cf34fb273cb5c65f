"""Staffing requirements and the erlang / staff commands, at the user's level."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from openwfm.errors import DataError
from openwfm.queueing import erlang_a, erlang_c, required_agents
from openwfm.queueing.birthdeath import chat_metrics
from openwfm.queueing.deferred import deferred_requirements
from openwfm.scenario import load_scenario
from openwfm.staffing import COLUMNS, requirements


@pytest.fixture
def scenario(example_scenario_path):
    return load_scenario(example_scenario_path)


def _forecast() -> pd.DataFrame:
    starts = pd.date_range("2024-03-04 07:00", "2024-03-05 21:00", freq="15min")
    rows = []
    for queue, base in (("voice", 40.0), ("chat", 15.0), ("email", 12.0)):
        for ts in starts:
            volume = base * (1 + np.sin(ts.hour / 3)) if 8 <= ts.hour < 20 else 0.0
            rows.append((ts, queue, volume))
    return pd.DataFrame(rows, columns=["interval_start", "queue", "forecast"])


def test_requirements_table(scenario):
    table = requirements(_forecast(), scenario, interval_minutes=15)
    assert list(table.columns) == COLUMNS
    assert set(table["model"]) == {"erlang_a", "chat", "deferred"}
    assert table["required_agents"].dtype == np.int64
    ratio = 1 - scenario.shrinkage
    assert np.all(table["scheduled_agents"] == np.ceil(table["required_agents"] / ratio - 1e-9))
    voice = table[(table["queue"] == "voice") & (table["arrival_rate_per_s"] > 0)]
    # every voice row meets the queue target at the required staffing, not one agent less
    assert np.all(voice["expected_service_level"] >= 0.8)
    assert np.all(voice["expected_abandon"] <= 0.05)
    closed = table[table["arrival_rate_per_s"] == 0]
    assert np.all(closed["required_agents"] == 0)


def test_gold_segment_binds_and_is_met(scenario):
    table = requirements(_forecast(), scenario, interval_minutes=15)
    voice = table[(table["queue"] == "voice") & (table["arrival_rate_per_s"] > 0)]
    assert "gold" in set(voice["binding_segment"])
    plain = required_agents(
        voice["arrival_rate_per_s"].to_numpy(),
        240.0,
        20.0,
        0.8,
        patience_s=180.0,
        max_abandon=0.05,
    )
    assert np.all(voice["required_agents"].to_numpy() >= plain)
    # gold (25%, top priority): P(W > 10 s) = C exp(-(n mu - lambda_gold) 10) <= 10%
    lam = voice["arrival_rate_per_s"].to_numpy()
    n = voice["required_agents"].to_numpy()
    c = erlang_c(lam * 240.0, n)
    gold_sl = 1 - c * np.exp(-(n / 240.0 - 0.25 * lam) * 10.0)
    assert np.all(gold_sl >= 0.9)


def test_chat_model_reduces_to_erlang_a_for_one_chat():
    m = chat_metrics([0.05, 0.05], [200.0], [11, 12], 20.0, 120.0)
    ref = erlang_a(0.05, 200.0, 120.0, [11, 12], 20.0)
    np.testing.assert_allclose(m["service_level"], ref.service_level, rtol=1e-12)
    np.testing.assert_allclose(m["p_abandon"], ref.p_abandon, rtol=1e-12)
    np.testing.assert_allclose(m["occupancy"], ref.occupancy, rtol=1e-12)


def test_chat_concurrency_needs_fewer_agents():
    one = chat_metrics([0.05] * 3, [420.0], [8, 9, 10], 60.0, 240.0)["service_level"]
    three = chat_metrics([0.05] * 3, [420.0, 510.0, 630.0], [8, 9, 10], 60.0, 240.0)
    assert np.all(three["service_level"] >= one)
    assert np.all(np.diff(three["service_level"]) >= 0)


def test_deferred_meets_deadlines_and_is_least():
    volume = np.array([10, 20, 30, 20, 10, 0, 0, 5] * 3, dtype=float)
    result = deferred_requirements(volume, 360.0, 900.0, 1800.0, 0.9, all_within_s=3600.0)
    on_time = result["on_time"][:-2]  # the last cohorts' deadlines lie past the horizon
    assert np.all(on_time >= 0.9 - 1e-12)
    # one agent less in any busy interval breaks a deadline: re-simulate FIFO fluid
    agents = result["agents"]
    for i in np.flatnonzero(agents > 0)[:6]:
        fewer = agents.copy()
        fewer[i] -= 1
        assert not _meets(volume, fewer, 360.0, 900.0, 2, 0.9, 4)


def _meets(volume, agents, aht, length, due_after, p, all_after):
    done, ok = 0.0, True
    done_by = []
    arrived = np.cumsum(volume)
    for i, n in enumerate(agents):
        done = min(done + n * length / aht, arrived[i])
        done_by.append(done)
    for j in range(len(volume)):
        before = arrived[j] - volume[j]
        if j + due_after - 1 < len(volume):
            ok &= done_by[j + due_after - 1] >= before + p * volume[j] - 1e-9
        if j + all_after - 1 < len(volume):
            ok &= done_by[j + all_after - 1] >= arrived[j] - 1e-9
    return ok


def test_bad_forecast_names_the_column(scenario):
    bad = _forecast().rename(columns={"forecast": "volume"})
    with pytest.raises(DataError, match="forecast"):
        requirements(bad, scenario)
    negative = _forecast()
    negative.loc[3, "forecast"] = -1
    with pytest.raises(DataError) as info:
        requirements(negative, scenario)
    assert info.value.field == "forecast"


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "openwfm", *args], capture_output=True, text=True, check=False
    )


def test_erlang_command_solves_and_evaluates():
    solved = _cli(
        "erlang",
        "--calls-per-interval",
        "100",
        "--interval-minutes",
        "30",
        "--aht-s",
        "180",
        "--json",
    )
    assert solved.returncode == 0, solved.stderr
    data = json.loads(solved.stdout)
    assert data["agents"] == 14 and data["service_level"] >= 0.8
    fixed = _cli(
        "erlang",
        "--arrival-rate-per-s",
        "0.5",
        "--aht-s",
        "200",
        "--agents",
        "90",
        "--patience-s",
        "60",
        "--json",
    )
    assert json.loads(fixed.stdout)["p_abandon"] > 0
    bad = _cli("erlang", "--arrival-rate-per-s", "-1", "--aht-s", "200", "--agents", "5")
    assert bad.returncode == 2 and "--arrival-rate-per-s" in bad.stderr


def test_staff_command_writes_table(tmp_path, example_scenario_path):
    forecast = tmp_path / "f.csv"
    kpi = _forecast().rename(columns={"forecast": "offered"})
    kpi.to_csv(forecast, index=False)
    out = tmp_path / "req.parquet"
    run = _cli("staff", str(example_scenario_path), "--forecast", str(forecast), "--out", str(out))
    assert run.returncode == 0, run.stderr
    table = pd.read_parquet(out)
    assert list(table.columns) == COLUMNS and len(table) == len(kpi)
    missing = _cli("staff", str(example_scenario_path), "--forecast", str(tmp_path / "no.csv"))
    assert missing.returncode == 2 and "no.csv" in missing.stderr


def test_segment_rows_and_partial_aht_forecast(scenario):
    # a forecast per segment, with a handle-time forecast for one segment only: volumes add
    # up, the AHT is volume-weighted with the queue's AHT standing in where it is missing
    base = _forecast()
    gold = base.assign(segment="gold", forecast=base["forecast"] * 0.25, aht_s=300.0)
    rest = base.assign(segment="standard", forecast=base["forecast"] * 0.75, aht_s=np.nan)
    table = requirements(pd.concat([gold, rest]), scenario, interval_minutes=15)
    voice = table[(table["queue"] == "voice") & (table["arrival_rate_per_s"] > 0)]
    np.testing.assert_allclose(voice["aht_s"], 0.25 * 300.0 + 0.75 * 240.0)
    whole = requirements(base, scenario, interval_minutes=15)
    np.testing.assert_allclose(table["arrival_rate_per_s"], whole["arrival_rate_per_s"])
    assert np.all(voice["required_agents"].to_numpy() >= whole.loc[voice.index, "required_agents"])


@pytest.mark.parametrize("aht", ["0", "fast"])
def test_staff_command_bad_handle_time_is_one_line(aht, tmp_path, example_scenario_path):
    forecast = tmp_path / "f.csv"
    table = _forecast().assign(aht_s=300.0).astype({"aht_s": object})
    table.loc[3, "aht_s"] = aht
    table.loc[4, "aht_s"] = ""  # an empty cell takes the queue's aht_s
    table.to_csv(forecast, index=False)
    run = _cli("staff", str(example_scenario_path), "--forecast", str(forecast))
    assert run.returncode == 2
    assert run.stderr.startswith("openwfm: error: ") and run.stderr.count("\n") == 1
    assert "f.csv:5: aht_s: expected a handle time > 0 seconds" in run.stderr
    assert ("got 0.0" if aht == "0" else "got 'fast'") in run.stderr  # as the reader read it

"""Model fidelity (openwfm.validate): estimation known by hand, Erlang A vs a naive baseline on a
synthetic history, the error tables, and ``openwfm validate`` on a real month."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import PROJECT_ROOT, require_shared_data
from openwfm.data.readers import empty_interactions
from openwfm.data.schema import INTERACTION_COLUMNS
from openwfm.errors import DataError, ParameterError
from openwfm.scenario import load_scenario
from openwfm.validate import estimate_hours, fidelity_errors, model_fidelity, predict_hours

DAY = pd.Timestamp("2024-03-04")


def contact(queue, arrive, wait_s, outcome, handle_s=0.0, agent=None, segment="default"):
    """One interactions row; ``arrive`` is 'HH:MM:SS' on DAY."""
    arrival = DAY + pd.Timedelta(arrive)
    answered = outcome == "answered"
    return {
        "interaction_id": f"{queue}-{arrive}",
        "queue": queue,
        "channel": "voice",
        "segment": segment,
        "arrival_time": arrival,
        "answer_time": arrival + pd.Timedelta(seconds=wait_s) if answered else pd.NaT,
        "end_time": arrival + pd.Timedelta(seconds=wait_s + handle_s) if answered else pd.NaT,
        "abandon_time": arrival + pd.Timedelta(seconds=wait_s) if not answered else pd.NaT,
        "wait_s": float(wait_s),
        "handle_s": float(handle_s) if answered else 0.0,
        "agent": agent,
        "outcome": outcome,
        "source": "hand",
    }


def table(rows) -> pd.DataFrame:
    return pd.DataFrame(rows).astype(INTERACTION_COLUMNS)[list(INTERACTION_COLUMNS)]


@pytest.fixture
def hand_made() -> pd.DataFrame:
    return table(
        [
            # queue A, 10:00 hour: X serves two calls (900 busy s), Y one that runs to 11:01:30
            contact("A", "10:00:00", 0, "answered", 600, "X"),
            contact("A", "10:10:00", 30, "answered", 300, "X"),
            contact("A", "10:20:00", 60, "abandoned"),
            contact("A", "10:30:00", 90, "answered", 1800, "Y"),
            # queue B, 10:00 hour: Y also serves a B call (600 busy s); B never abandons
            contact("B", "10:05:00", 0, "answered", 600, "Y"),
            # queue A, 12:00 hour: no abandon -> pooled patience
            contact("A", "12:00:00", 20, "answered", 100, "X"),
            # never offered: ignored
            contact("A", "10:50:00", 0, "ivr_only"),
        ]
    )


def test_estimation_by_hand(hand_made):
    est = estimate_hours(hand_made, target_s=30, occupancy_bound=0.9)
    a10 = est[(est["queue"] == "A") & (est["interval_start"] == DAY + pd.Timedelta("10h"))].iloc[0]
    assert a10["offered"] == 4 and a10["answered"] == 3 and a10["abandoned"] == 1
    assert a10["arrival_rate_per_s"] == pytest.approx(4 / 3600)
    assert a10["aht_s"] == pytest.approx((600 + 300 + 1800) / 3)
    # exponential MLE from censored waits: (0 + 30 + 60 + 90) s waited / 1 abandon
    assert a10["patience_s"] == pytest.approx(180.0) and a10["patience_source"] == "hour"
    # X: all 900 busy s on A -> 1; Y: 1710 s on A (to 11:00) and 600 s on B
    assert a10["agents_split"] == pytest.approx(1 + 1710 / 2310)
    assert a10["busy_s"] == pytest.approx(600 + 300 + 1710)
    assert a10["agents_busy"] == pytest.approx(2610 / 3600 / 0.9)
    assert a10["agents"] == 2  # split is the default, rounded
    # actuals: answered within 30 s (0 and 30) over 4 offered; ASA over answered
    assert a10["service_level"] == pytest.approx(0.5)
    assert a10["asa_s"] == pytest.approx(40.0)
    assert a10["abandon_rate"] == pytest.approx(0.25)

    b10 = est[est["queue"] == "B"].iloc[0]
    assert b10["agents_split"] == pytest.approx(600 / 2310)
    assert b10["agents"] == 1  # an hour with offered calls has at least one agent
    assert math.isinf(b10["patience_s"]) and b10["patience_source"] == "queue"

    a12 = est[(est["queue"] == "A") & (est["interval_start"] == DAY + pd.Timedelta("12h"))].iloc[0]
    # pooled over queue A: (180 + 20) s waited / 1 abandon
    assert a12["patience_s"] == pytest.approx(200.0) and a12["patience_source"] == "queue"
    assert a12["agents_split"] == pytest.approx(1.0)

    busy = estimate_hours(hand_made, target_s=30, agents="busy")
    assert busy.loc[0, "agents"] == round(2610 / 3600 / 0.9)


def test_per_segment_and_per_queue_targets(hand_made):
    rows = hand_made.copy()
    rows.loc[rows["interaction_id"] == "A-10:10:00", "segment"] = "vip"
    est = estimate_hours(rows, by=("queue", "segment"), target_s={("A", "vip"): 10, "*": 60})
    vip = est[est["segment"] == "vip"].iloc[0]
    assert vip["target_s"] == 10 and vip["service_level"] == 0.0  # waited 30 s > 10 s
    default = est[(est["segment"] == "default") & (est["queue"] == "A")].iloc[0]
    # answered after 0 s and 90 s, one abandon: one of three offered within 60 s
    assert default["service_level"] == pytest.approx(1 / 3)


def test_bad_input_is_a_named_error(hand_made):
    with pytest.raises(ParameterError, match="agents"):
        estimate_hours(hand_made, agents="logged_in")
    with pytest.raises(DataError, match="no offered"):
        estimate_hours(empty_interactions())
    with pytest.raises(DataError, match="wait_s"):
        estimate_hours(hand_made.drop(columns=["wait_s"]))
    with pytest.raises(ParameterError, match="target"):
        estimate_hours(hand_made, target_s={"B": 20})
    with pytest.raises(ParameterError, match="models"):
        predict_hours(estimate_hours(hand_made), models=["erlang_z"])


def test_erlang_c_is_compared_without_abandonment(hand_made):
    predictions = predict_hours(estimate_hours(hand_made, target_s=30))
    erlang_c = predictions[predictions["model"] == "erlang_c"]
    assert set(erlang_c["metric"]) == {"service_level", "asa_s"}
    erlang_a = predictions[predictions["model"] == "erlang_a"]
    assert set(erlang_a["metric"]) == {"service_level", "asa_s", "abandon_rate"}
    assert np.allclose(predictions["error"], predictions["predicted"] - predictions["actual"])


def test_error_tables_by_hand():
    predictions = pd.DataFrame(
        {
            "interval_start": pd.to_datetime(["2024-01-01 09:00", "2024-01-01 10:00"] * 2),
            "queue": ["A"] * 4,
            "hour": [9, 10, 9, 10],
            "model": ["erlang_c", "erlang_c", "erlang_a", "erlang_a"],
            "metric": ["asa_s"] * 4,
            "predicted": [10.0, np.inf, 30.0, 50.0],
            "actual": [20.0, 40.0, 20.0, 40.0],
            "error": [-10.0, np.inf, 10.0, 10.0],
            "offered": [50, 50, 50, 50],
        }
    )
    errors = fidelity_errors(predictions).set_index("model")
    # the 10:00 hour is left out for every model (Erlang C is unstable there) and counted
    assert errors.loc["erlang_c", "hours"] == 1 and errors.loc["erlang_c", "unstable_hours"] == 1
    assert errors.loc["erlang_a", "hours"] == 1 and errors.loc["erlang_a", "mae"] == 10.0
    assert errors.loc["erlang_c", "bias"] == -10.0
    assert fidelity_errors(predictions, min_offered=51).empty


@pytest.fixture(scope="module")
def synthetic_voice():
    from openwfm.data.synthetic import generate_interactions

    scenario = load_scenario(PROJECT_ROOT / "examples" / "center.yaml")
    history = generate_interactions(scenario, pd.Timestamp("2024-01-01").date(), 2, seed=3)
    return scenario, history[history["queue"] == "voice"].reset_index(drop=True)


def test_erlang_a_predicts_abandonment_better_than_naive_baselines(synthetic_voice):
    scenario, voice = synthetic_voice
    result = model_fidelity(
        voice,
        scenario=scenario,
        queues=["voice"],
        models=("erlang_c", "erlang_a", "simulation", "queue_mean"),
        replications=3,
        seed=5,
    )
    errors = result.errors.set_index(["model", "metric"])
    erlang_a = errors.loc[("erlang_a", "abandon_rate"), "mae"]
    baseline = errors.loc[("queue_mean", "abandon_rate"), "mae"]
    scored = result.predictions[
        (result.predictions["metric"] == "abandon_rate")
        & (result.predictions["model"] == "erlang_a")
        & (result.predictions["offered"] >= 10)
    ]
    predict_none = scored["actual"].abs().mean()  # what Erlang C implies: no abandonment
    assert errors.loc[("erlang_a", "abandon_rate"), "hours"] > 100
    assert erlang_a < baseline, (erlang_a, baseline)
    assert erlang_a < predict_none, (erlang_a, predict_none)
    # the generator's patience is exponential with the scenario's mean: the pooled MLE finds it
    pooled = result.estimates.attrs["queue_patience_s"]["voice"]
    assert pooled == pytest.approx(scenario.queue("voice").patience_s, rel=0.15)
    # the simulator replays the same hours: close to Erlang A, also better than the baseline
    simulated = errors.loc[("simulation", "abandon_rate"), "mae"]
    assert simulated < baseline and abs(simulated - erlang_a) < 0.02
    assert (
        errors.loc[("simulation", "abandon_rate"), "hours"]
        == errors.loc[("erlang_a", "abandon_rate"), "hours"]
    )
    figures = result.figures()
    assert len(figures) == 3 and all(len(f.data) for f in figures)


def test_cli_reads_a_store_and_scores_per_segment(synthetic_voice, tmp_path: Path):
    from openwfm.data.store import InteractionStore

    _, voice = synthetic_voice
    store_path = tmp_path / "history.duckdb"
    with InteractionStore(store_path) as store:
        store.ingest(voice)
    run = openwfm(
        "validate", "--history", str(store_path), "--target-s", "20", "--by-segment", "--json"
    )
    assert run.returncode == 0, run.stderr
    payload = json.loads(run.stdout)
    assert payload["info"]["rows"] > len({r["hour"] for r in payload["by_hour"]})
    per_queue = {(r["model"], r["metric"], r["queue"]) for r in payload["by_queue"]}
    assert ("erlang_a", "abandon_rate", "voice") in per_queue
    bad = openwfm("validate", "--history", str(store_path), "--agents", "guess")
    assert bad.returncode == 2 and "agents" in bad.stderr


@settings(max_examples=25, deadline=None)
@given(
    waits=st.lists(st.floats(0, 600), min_size=1, max_size=30),
    abandon_flags=st.lists(st.booleans(), min_size=30, max_size=30),
)
def test_patience_is_total_wait_over_abandons(waits, abandon_flags):
    rows = []
    for i, wait in enumerate(waits):
        outcome = "abandoned" if abandon_flags[i] else "answered"
        rows.append(contact("A", f"10:{i:02d}:00", wait, outcome, 60.0, f"agent{i % 3}"))
    rows.append(contact("A", "10:59:00", 0.0, "answered", 60.0, "agent0"))
    frame = table(rows)
    est = estimate_hours(frame, target_s=20)
    abandons = sum(abandon_flags[: len(waits)])
    assert est["offered"].sum() == len(waits) + 1
    if abandons:
        assert est.loc[0, "patience_s"] == pytest.approx(sum(waits) / abandons)
    else:
        assert math.isinf(est.loc[0, "patience_s"])
    # every agent's hour is split between queues, so the split count never exceeds the agents
    assert est["agents_split"].sum() <= frame["agent"].nunique() + 1e-9


def openwfm(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "openwfm", *args], capture_output=True, text=True, cwd=PROJECT_ROOT
    )


def test_cli_errors_are_one_line(tmp_path: Path):
    missing = openwfm("validate", "--history", str(tmp_path / "nope.txt"))
    assert missing.returncode == 2
    assert "nope.txt" in missing.stderr and len(missing.stderr.strip().splitlines()) == 1
    empty_dir = openwfm("validate", "--history", str(tmp_path))
    assert empty_dir.returncode == 2 and "no history file" in empty_dir.stderr


def test_cli_on_one_real_month(tmp_path: Path):
    march = require_shared_data("anonymous-bank/raw/03_March.txt")
    report = tmp_path / "validate.html"
    scenario = PROJECT_ROOT / "examples" / "anonymous-bank.yaml"
    run = openwfm(
        "validate", "--history", str(march), "--scenario", str(scenario),
        "--report", str(report), "--json",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    payload = json.loads(run.stdout)
    errors = {(row["model"], row["metric"]): row for row in payload["errors"]}
    assert ("erlang_c", "abandon_rate") not in errors  # Erlang C predicts no abandonment
    for key in [("erlang_a", "abandon_rate"), ("erlang_c", "service_level"), ("erlang_a", "asa_s")]:
        assert errors[key]["hours"] > 500 and 0 <= errors[key]["mae"] < math.inf
    abandon_by_hour = [
        r for r in payload["by_hour"] if r["model"] == "erlang_a" and r["metric"] == "abandon_rate"
    ]
    assert {r["hour"] for r in abandon_by_hour} >= set(range(8, 23))
    assert report.exists() and "plotly" in report.read_text()

    table_run = openwfm(
        "validate", "--history", str(march), "--target-s", "20", "--queues", "PS,NE"
    )
    assert table_run.returncode == 0, table_run.stderr
    assert "erlang_a" in table_run.stdout and "abandon_rate" in table_run.stdout


def mmn_plus_m_history(hours, rate_per_s, aht_s, patience_s, agents, seed):
    """A stationary M/M/n+M history played by the synthetic generator's FIFO queue."""
    from openwfm.data.synthetic import fifo_queue

    rng = np.random.default_rng(seed)
    arrival = np.cumsum(rng.exponential(1 / rate_per_s, int(hours * 3600 * rate_per_s * 1.2)))
    arrival = arrival[arrival < hours * 3600]
    patience = rng.exponential(patience_s, len(arrival))
    handle = rng.exponential(aht_s, len(arrival))
    start, server = fifo_queue(arrival, patience, handle, np.full(hours + 5, agents), 3600.0)
    answered = np.isfinite(start)
    origin = pd.Timestamp("2024-01-01")

    def stamp(seconds):
        return origin + pd.to_timedelta(seconds, unit="s")

    frame = pd.DataFrame(
        {
            "interaction_id": [f"c{i}" for i in range(len(arrival))],
            "queue": "q",
            "channel": "voice",
            "segment": "default",
            "arrival_time": stamp(arrival),
            "answer_time": stamp(np.where(answered, start, np.nan)),
            "end_time": stamp(np.where(answered, start + handle, np.nan)),
            "abandon_time": stamp(np.where(answered, np.nan, arrival + patience)),
            "wait_s": np.where(answered, start - arrival, patience),
            "handle_s": np.where(answered, handle, 0.0),
            "agent": pd.array(
                np.where(answered, np.char.add("s", server.astype(str)), None), dtype="string"
            ),
            "outcome": np.where(answered, "answered", "abandoned"),
            "source": "mmn+m",
        }
    )
    return frame.astype(INTERACTION_COLUMNS)


def test_stationary_mmn_plus_m_history_is_recovered_and_erlang_a_fits_it():
    from openwfm import queueing

    rate, aht, patience, agents = 1 / 30, 150.0, 200.0, 6  # 5 Erlangs on 6 agents
    history = mmn_plus_m_history(200, rate, aht, patience, agents, seed=1)
    est = estimate_hours(history, target_s=20)
    assert est["arrival_rate_per_s"].mean() == pytest.approx(rate, rel=0.05)
    assert np.average(est["aht_s"], weights=est["answered"]) == pytest.approx(aht, rel=0.05)
    assert est.attrs["queue_patience_s"]["q"] == pytest.approx(patience, rel=0.1)
    # every server takes calls every hour at this load: the split count is exactly the staffing
    assert (est["agents"] == agents).all()

    exact = queueing.erlang_a(rate, aht, patience, agents, 20.0)
    actual_abandon = est["abandoned"].sum() / est["offered"].sum()
    assert actual_abandon == pytest.approx(float(exact.p_abandon), abs=0.015)

    predictions = predict_hours(est, models=("erlang_c", "erlang_a", "queue_mean"))
    errors = fidelity_errors(predictions).set_index(["model", "metric"])
    for metric in ("service_level", "asa_s", "abandon_rate"):
        assert errors.loc[("erlang_a", metric), "mae"] < errors.loc[("queue_mean", metric), "mae"]
    # without abandonment Erlang C sees a far worse queue than the one the callers left
    assert errors.loc[("erlang_c", "service_level"), "bias"] < -0.15
    assert abs(errors.loc[("erlang_a", "service_level"), "bias"]) < 0.04
    assert abs(errors.loc[("erlang_a", "abandon_rate"), "bias"]) < 0.02

"""The simulator runs outbound work with the threshold policy (blending) and agrees with the
blending model of :mod:`openwfm.queueing.blend`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import openwfm
from _cli import one_error_line, run
from openwfm.model import Scenario
from openwfm.queueing import blend_metrics
from openwfm.queueing.blend import least_threshold
from openwfm.sim import prepare, run_prepared
from openwfm.sim.metrics import mean_ci

EXAMPLE = Path(openwfm.__file__).parent / "examples" / "center.yaml"
AHT_S, PATIENCE_S, AGENTS, THRESHOLD, OUT_AHT_S, TARGET_S = 240.0, 180.0, 11, 2, 300.0, 20.0
RATE_PER_S = 8.0 / AHT_S
HORIZON_S, WARMUP_S = 8 * 3600.0, 3600.0


def _center(**queue) -> Scenario:
    return Scenario.model_validate(
        {
            "queues": [
                {"name": "q", "aht_s": AHT_S, "patience_s": PATIENCE_S,
                 "target": {"within_s": TARGET_S}, **queue}
            ],
            "agent_groups": [{"name": "g", "count": AGENTS, "skills": {"q": 1.0}}],
            "grid": {"opening_hours": {"mon": {"open": "00:00", "close": "24:00"}}},
        }
    )  # fmt: skip


def _prepared(scenario: Scenario):
    starts = pd.date_range("2024-01-01", periods=int(HORIZON_S // 900), freq="900s")
    rates = pd.DataFrame({"interval_start": starts, "queue": "q", "arrival_rate_per_s": RATE_PER_S})
    return prepare(scenario, rates=rates, always_on_s=HORIZON_S, interval_s=900, warmup_s=WARMUP_S)


def _run(scenario: Scenario, replications: int):
    prepared = _prepared(scenario)
    return run_prepared(prepared, replications, seed=11, scheduler="sync", progress=False)


def _check_against_model(result, threshold):
    exact = blend_metrics(
        RATE_PER_S, AHT_S, OUT_AHT_S, AGENTS, threshold, TARGET_S, patience_s=PATIENCE_S
    )
    reps = result.replications[result.replications["segment"] == "all"]
    measured = {
        "service_level": reps["service_level"],
        "p_abandon": reps["abandon_rate"],
        "p_wait": reps["p_wait"],
        "outbound_per_s": reps["outbound"] / (HORIZON_S - WARMUP_S),
    }
    for key, values in measured.items():
        _, low, high = mean_ci(values.to_numpy(float))
        assert low <= float(exact[key]) <= high, (key, low, float(exact[key]), high)


def test_simulated_blending_agrees_with_the_model():
    # an ask far above what the agents can make: the model's unlimited backlog
    blended = _center(outbound_per_hour=1e6, outbound_aht_s=OUT_AHT_S, outbound_threshold=THRESHOLD)
    result = _run(blended, 16)
    _check_against_model(result, THRESHOLD)
    # outbound work takes agents from inbound: the same center without it does better
    plain = _run(_center(), 4)
    assert "outbound" not in plain.summary.columns
    assert plain.metric("service_level")[0] > result.metric("service_level")[0]


def test_an_undeclared_threshold_is_the_least_meeting_the_target_per_interval():
    blended = _center(outbound_per_hour=1e6, outbound_aht_s=OUT_AHT_S)
    prepared = _prepared(blended)
    table = prepared.model.queues.outbound_threshold
    least = least_threshold(RATE_PER_S, AHT_S, OUT_AHT_S, AGENTS, TARGET_S, 0.8, PATIENCE_S)
    assert least is not None and 0 < least < AGENTS
    assert set(table[0, : int(HORIZON_S // 900)]) == {least}
    result = run_prepared(prepared, 16, seed=5, scheduler="sync", progress=False)
    _check_against_model(result, least)
    assert result.metric("service_level")[2] >= 0.8  # the target, within the interval


def test_a_finite_ask_is_made_and_not_more():
    """10 calls an hour, well below the 35 an hour the agents could make: all of them are made
    (but those asked in the last minutes), never more than asked, and inbound does better."""
    finite = _run(_center(outbound_per_hour=10.0, outbound_aht_s=OUT_AHT_S), 6)
    saturated = _run(_center(outbound_per_hour=1e6, outbound_aht_s=OUT_AHT_S), 6)
    asked = 10.0 * HORIZON_S / 3600.0
    reps = finite.replications[finite.replications["segment"] == "all"]
    made = reps["outbound"].to_numpy() + 0.0
    assert np.all(made <= asked)  # counted after the warm-up: at most the ask
    assert np.all(made >= 10.0 * (HORIZON_S - WARMUP_S) / 3600.0 - 3)
    assert finite.metric("service_level")[0] > saturated.metric("service_level")[0]


def _yaml_with(tmp_path, lines: str) -> Path:
    text = EXAMPLE.read_text()
    anchor = "    patience_s: 180\n"
    path = tmp_path / "blend.yaml"
    path.write_text(text.replace(anchor, anchor + lines, 1))
    return path


def test_simulate_cli_shows_outbound_made_vs_asked(tmp_path, monkeypatch, capsys):
    lines = "    outbound_per_hour: 30\n    outbound_aht_s: 300\n"
    path = _yaml_with(tmp_path, lines)
    args = ("simulate", path, "--days", "1", "-r", "2", "--scheduler", "sync")
    code, stdout, stderr = run(monkeypatch, capsys, *args)
    assert code == 0, stderr
    assert "outbound voice:" in stdout and "asked" in stdout
    code, stdout, stderr = run(monkeypatch, capsys, *args, "--json")
    assert code == 0, stderr
    (row,) = json.loads(stdout)["outbound"]
    assert row["queue"] == "voice" and row["asked"] > 0 and row["delivered"] > 0
    assert row["delivered_ci_low"] <= row["delivered"] <= row["delivered_ci_high"]


@pytest.mark.parametrize(
    ("lines", "fragment"),
    [
        ("    outbound_per_hour: 30\n    outbound_threshold: 5000\n", "outbound_threshold"),
    ],
)
def test_simulate_rejects_a_threshold_it_cannot_run(tmp_path, monkeypatch, capsys, lines, fragment):
    path = _yaml_with(tmp_path, lines)
    code, _, stderr = run(monkeypatch, capsys, "simulate", path, "--days", "1", "-r", "1")
    one_error_line(code, stderr, str(path), fragment)

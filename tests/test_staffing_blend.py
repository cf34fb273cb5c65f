"""The staffing stage staffs a queue with outbound work (blending) by the threshold model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import openwfm
from _cli import one_error_line, run
from openwfm.queueing import blend_metrics
from openwfm.scenario import load_scenario
from openwfm.staffing import requirements

EXAMPLE = Path(openwfm.__file__).parent / "examples" / "center.yaml"


@pytest.fixture(scope="module")
def scenario():
    return load_scenario(EXAMPLE)


def _forecast(volumes) -> pd.DataFrame:
    starts = pd.date_range("2024-03-04 09:00", periods=len(volumes), freq="15min")
    return pd.DataFrame({"interval_start": starts, "queue": "voice", "forecast": volumes})


def _with(scenario, **fields):
    queues = [q.model_copy(update=fields) if q.name == "voice" else q for q in scenario.queues]
    return scenario.model_copy(update={"queues": queues})


def _plain_voice(scenario):
    """The example's voice queue with a target the blending model computes exactly (service
    level of offered, no abandonment cap)."""
    voice = scenario.queue("voice")
    target = voice.target.model_copy(update={"max_abandon": None})
    return _with(scenario, target=target)


def test_outbound_volume_is_delivered_and_inbound_target_met(scenario):
    base = _plain_voice(scenario)
    blended = _with(base, outbound_per_hour=60.0, outbound_aht_s=300.0)
    table = requirements(_forecast([10.0, 30.0, 60.0]), blended, interval_minutes=15)
    assert set(table["model"]) == {"blend"}
    voice = blended.queue("voice")
    n = table["required_agents"].to_numpy()
    threshold = table["outbound_threshold"].to_numpy(int)
    lam = table["arrival_rate_per_s"].to_numpy()
    at = blend_metrics(lam, voice.aht_s, 300.0, n, threshold, voice.target.within_s,
                       patience_s=voice.patience_s)  # fmt: skip
    asked = 60.0 / 3600.0
    assert np.all(at["service_level"] >= voice.target.service_level - 1e-12)
    assert np.all(at["outbound_per_s"] >= asked - 1e-12)
    np.testing.assert_allclose(table["outbound_per_interval"], asked * 900.0)
    np.testing.assert_allclose(table["expected_outbound_per_interval"], at["outbound_per_s"] * 900)
    # one agent less cannot do both at any threshold
    for i in range(n.size):
        fewer = blend_metrics(lam[i], voice.aht_s, 300.0, n[i] - 1, np.arange(n[i]),
                              voice.target.within_s, patience_s=voice.patience_s)  # fmt: skip
        both = (fewer["service_level"] >= voice.target.service_level - 1e-12) & (
            fewer["outbound_per_s"] >= asked - 1e-12
        )
        assert not both.any()


def test_a_declared_threshold_is_kept(scenario):
    blended = _with(_plain_voice(scenario), outbound_per_hour=30.0, outbound_threshold=3)
    table = requirements(_forecast([20.0, 40.0]), blended, interval_minutes=15)
    assert set(table["outbound_threshold"]) == {3}
    assert np.all(table["required_agents"] >= 3)


def test_queues_without_outbound_keep_their_table(scenario):
    table = requirements(_forecast([20.0, 40.0]), scenario, interval_minutes=15)
    assert "outbound_threshold" not in table.columns
    assert set(table["model"]) == {"erlang_a"}


@settings(max_examples=12, deadline=None)
@example(volume=1e-300, outbound_per_hour=0.5, threshold=None)  # underflowed: no staffing found
@example(volume=1e-300, outbound_per_hour=0.5, threshold=4)
@given(
    volume=st.floats(min_value=0.0, max_value=80.0),
    outbound_per_hour=st.floats(min_value=0.5, max_value=120.0),
    threshold=st.none() | st.integers(min_value=0, max_value=4),
)
def test_outbound_never_needs_fewer_agents(volume, outbound_per_hour, threshold):
    base = _plain_voice(load_scenario(EXAMPLE))
    plain = requirements(_forecast([volume]), base, interval_minutes=15)
    blended = _with(base, outbound_per_hour=outbound_per_hour, outbound_threshold=threshold)
    table = requirements(_forecast([volume]), blended, interval_minutes=15)
    assert int(table["required_agents"].iloc[0]) >= int(plain["required_agents"].iloc[0])
    assert table["expected_outbound_per_interval"].iloc[0] >= outbound_per_hour / 4 - 1e-9


def _yaml_with(example_scenario_path, tmp_path, lines: str):
    text = example_scenario_path.read_text()
    anchor = "    patience_s: 180\n"
    assert anchor in text
    path = tmp_path / "blend.yaml"
    path.write_text(text.replace(anchor, anchor + lines, 1))
    return path


def test_staff_cli_shows_outbound(example_scenario_path, tmp_path, monkeypatch, capsys):
    path = _yaml_with(
        example_scenario_path, tmp_path, "    outbound_per_hour: 40\n    outbound_aht_s: 300\n"
    )
    forecast = tmp_path / "forecast.csv"
    _forecast([20.0, 50.0]).to_csv(forecast, index=False)
    out = tmp_path / "req.csv"
    code, stdout, stderr = run(monkeypatch, capsys, "staff", path, "--forecast", forecast,
                               "--out", out, "--interval-minutes", "15")  # fmt: skip
    assert code == 0, stderr
    assert "blend" in stdout and "outbound" in stdout
    table = pd.read_csv(out)
    assert (table["expected_outbound_per_interval"] >= 10.0 - 1e-9).all()


@pytest.mark.parametrize(
    ("lines", "field"),
    [
        ("    outbound_per_hour: -5\n", "outbound_per_hour"),
        ("    outbound_per_hour: 5\n    outbound_threshold: -1\n", "outbound_threshold"),
    ],
)
def test_bad_outbound_is_one_line(
    example_scenario_path, tmp_path, monkeypatch, capsys, lines, field
):
    path = _yaml_with(example_scenario_path, tmp_path, lines)
    forecast = tmp_path / "forecast.csv"
    _forecast([20.0]).to_csv(forecast, index=False)
    code, _, stderr = run(monkeypatch, capsys, "staff", path, "--forecast", forecast)
    one_error_line(code, stderr, str(path), field)

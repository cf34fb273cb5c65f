"""`openwfm erlang` with redials, lines, uncertain forecasts, blending and solve-for options."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from openwfm.queueing import (
    blend_metrics,
    erlang_x,
    expected_service_level,
    max_arrival_rate,
    orbit_mean_error_bound,
    uncertain_required_agents,
)


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "openwfm", "erlang", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def _json(*args):
    done = _cli(*args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_erlang_x_with_redials_solves_for_agents():
    out = _json(
        "--calls-per-interval",
        "100",
        "--aht-s",
        "180",
        "--patience-s",
        "120",
        "--retrial-probability",
        "0.5",
        "--retry-mean-s",
        "600",
        "--sl-definition",
        "virtual",
    )
    assert out["model"] == "erlang_x" and out["solved_for"] == "agents"
    rate = 100 / 1800
    both = erlang_x(
        rate,
        180.0,
        120.0,
        [out["agents"] - 1, out["agents"]],
        float("inf"),
        20.0,
        retrial_probability=0.5,
        retry_mean_s=600.0,
    )["service_level_virtual"]
    assert both[1] >= 0.8 > both[0]
    assert out["service_level_virtual"] == pytest.approx(float(both[1]), rel=1e-12)


def test_redial_model_orbit_mean_is_the_fast_approximation():
    args = ["--calls-per-interval", "100", "--interval-minutes", "30", "--aht-s", "180"]
    args += ["--patience-s", "120", "--retrial-probability", "0.5", "--retry-mean-s", "600"]
    exact = _json(*args, "--agents", "10")
    fast = _json(*args, "--agents", "10", "--redial-model", "orbit-mean")
    options = {"retrial_probability": 0.5, "retry_mean_s": 600.0, "method": "orbit_mean"}
    direct = erlang_x(100 / 1800, 180.0, 120.0, 10, float("inf"), 20.0, **options)
    assert fast["service_level"] == pytest.approx(float(direct["service_level"]), rel=1e-12)
    bound = float(orbit_mean_error_bound(180.0, 120.0, 0.5, 600.0))
    assert 0 < abs(fast["service_level"] - exact["service_level"]) <= bound
    solved = _json(*args, "--redial-model", "orbit-mean")
    assert solved["solved_for"] == "agents" and solved["agents"] > 0


def test_largest_arrival_rate_for_given_agents_and_lines():
    out = _json(
        "--calls-per-interval",
        "100",
        "--aht-s",
        "180",
        "--patience-s",
        "120",
        "--agents",
        "12",
        "--lines",
        "20",
        "--solve-for",
        "arrival-rate",
    )
    expected = max_arrival_rate(12, 180.0, 20.0, 0.8, patience_s=120.0, lines=20)
    assert out["arrival_rate_per_s"] == pytest.approx(float(expected), rel=1e-9)
    assert out["calls_per_interval"] == pytest.approx(float(expected) * 1800, rel=1e-9)
    assert out["service_level"] == pytest.approx(0.8, abs=1e-9)


def test_uncertain_forecast_on_average_and_with_a_probability():
    mean = _json("--calls-per-interval", "100", "--aht-s", "180", "--forecast-sd", "15")
    rate, variance = 100 / 1800, (15 / 1800) ** 2
    assert mean["agents"] == uncertain_required_agents(rate, variance, 180.0, 20.0, 0.8)
    assert mean["expected_service_level"] == pytest.approx(
        float(expected_service_level(rate, variance, 180.0, mean["agents"], 20.0)), rel=1e-12
    )
    sure = _json(
        "--calls-per-interval",
        "100",
        "--aht-s",
        "180",
        "--forecast-sd",
        "15",
        "--probability",
        "0.9",
    )
    assert sure["agents"] == uncertain_required_agents(
        rate, variance, 180.0, 20.0, 0.8, probability=0.9
    )
    assert sure["service_level_at_quantile"] >= 0.8


def test_blending_solves_agents_and_threshold():
    out = _json(
        "--calls-per-interval",
        "60",
        "--aht-s",
        "240",
        "--patience-s",
        "120",
        "--outbound-aht-s",
        "300",
        "--outbound-per-hour",
        "30",
    )
    assert out["model"] == "blend"
    r = blend_metrics(
        60 / 1800, 240.0, 300.0, out["agents"], out["threshold"], 20.0, patience_s=120.0
    )
    assert out["service_level"] == pytest.approx(float(r["service_level"]), rel=1e-12)
    assert out["service_level"] >= 0.8 and out["outbound_per_hour"] >= 30
    fixed = _json(
        "--calls-per-interval",
        "60",
        "--aht-s",
        "240",
        "--patience-s",
        "120",
        "--outbound-aht-s",
        "300",
        "--agents",
        str(out["agents"]),
        "--threshold",
        "0",
    )
    assert fixed["p_idle_reserved"] == 0.0
    assert fixed["outbound_per_hour"] >= out["outbound_per_hour"]


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--retrial-probability", "1.5"], "--retrial-probability"),
        (["--agents", "10", "--lines", "5"], "--lines"),
        (["--forecast-sd", "-3"], "--forecast-sd"),
        (["--retry-mean-s", "60"], "--retry-mean-s"),
        (["--retrial-probability", "0.5", "--redial-model", "orbit-mean"], "--redial-model"),
        (["--retrial-probability", "0.5", "--retry-mean-s", "60", "--redial-model", "x"], "model"),
        (["--sl-definition", "short"], "--sl-definition"),
        (["--solve-for", "arrival-rate"], "--agents"),
        (["--outbound-aht-s", "300", "--agents", "12", "--threshold", "13"], "--threshold"),
    ],
)
def test_bad_options_are_one_line_errors_naming_the_flag(args, flag):
    done = _cli("--calls-per-interval", "100", "--aht-s", "180", *args)
    assert done.returncode == 2
    assert done.stderr.startswith("openwfm: error:") and flag in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1

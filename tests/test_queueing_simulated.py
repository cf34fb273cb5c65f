"""The call-by-call simulator agrees with Erlang X (redials, finite lines) and blending within
its 95% confidence intervals (fixed seeds: reproducible)."""

from __future__ import annotations

import math

import pytest

from openwfm.errors import ParameterError
from openwfm.queueing import blend_metrics, erlang_x
from openwfm.sim.retrials import simulate_queue


def assert_within(sim, model, keys):
    for key in keys:
        mean, half = sim[key]
        assert abs(mean - float(model[key])) <= half, (key, mean, half, float(model[key]))


@pytest.mark.parametrize(
    ("lam", "aht", "agents", "patience", "lines", "retrial", "retry", "seed"),
    [
        (0.035, 100.0, 4, 60.0, 7, 0.5, 200.0, 1),  # busy signals and redials
        (0.05, 120.0, 6, 90.0, math.inf, 0.7, 60.0, 3),  # quick redials, no busy signal
        (0.04, 100.0, 4, 80.0, 5, 0.0, 300.0, 5),  # finite lines alone
    ],
)
def test_simulator_agrees_with_erlang_x(lam, aht, agents, patience, lines, retrial, retry, seed):
    sim = simulate_queue(
        lam,
        aht,
        agents,
        20.0,
        patience_s=patience,
        lines=lines,
        retrial_probability=retrial,
        retry_mean_s=retry,
        seed=seed,
    )
    model = erlang_x(
        lam, aht, patience, agents, lines, 20.0, retrial_probability=retrial, retry_mean_s=retry
    )
    keys = ["p_abandon", "service_level", "asa_s", "attempt_rate_per_s"]
    if math.isfinite(lines):
        keys.append("p_block")
    assert_within(sim, model, keys)


def test_simulator_agrees_with_erlang_x_at_ten_erlangs():
    """Ten agents, busy signals at 14 lines, 60% of the lost redial after 150 s on average."""
    args = {"patience_s": 80.0, "lines": 14, "retrial_probability": 0.6, "retry_mean_s": 150.0}
    sim = simulate_queue(
        0.1, 100.0, 10, 20.0, **args, horizon_s=60_000.0, warmup_s=3_000.0, seed=11
    )
    model = erlang_x(0.1, 100.0, 80.0, 10, 14, 20.0, retrial_probability=0.6, retry_mean_s=150.0)
    keys = ["p_abandon", "p_block", "service_level", "asa_s", "attempt_rate_per_s"]
    assert_within(sim, model, keys)


@pytest.mark.parametrize(("threshold", "seed"), [(0, 2), (1, 4), (3, 6)])
def test_simulator_agrees_with_blending(threshold, seed):
    sim = simulate_queue(
        0.03,
        100.0,
        5,
        20.0,
        patience_s=80.0,
        outbound_aht_s=150.0,
        threshold=threshold,
        seed=seed,
    )
    model = blend_metrics(0.03, 100.0, 150.0, 5, threshold, 20.0, patience_s=80.0)
    assert_within(sim, model, ["p_abandon", "service_level", "asa_s", "outbound_per_s"])


def test_bad_simulation_input_is_named():
    with pytest.raises(ParameterError, match="retrial_probability"):
        simulate_queue(0.03, 100.0, 5, 20.0, retrial_probability=1.5)
    with pytest.raises(ParameterError, match="lines"):
        simulate_queue(0.03, 100.0, 5, 20.0, lines=3)


def test_simulator_agrees_with_blending_at_ten_erlangs():
    """Thirteen agents, outbound whenever more than two are idle."""
    sim = simulate_queue(
        0.1,
        100.0,
        13,
        20.0,
        patience_s=80.0,
        outbound_aht_s=150.0,
        threshold=2,
        horizon_s=60_000.0,
        warmup_s=3_000.0,
        seed=12,
    )
    model = blend_metrics(0.1, 100.0, 150.0, 13, 2, 20.0, patience_s=80.0)
    assert_within(sim, model, ["p_abandon", "service_level", "asa_s", "outbound_per_s"])

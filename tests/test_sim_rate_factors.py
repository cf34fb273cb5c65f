"""Per-replication rate factors (forecast uncertainty) through the simulator's own runner."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from openwfm.errors import ParameterError
from openwfm.sim import sample_rate_factors, simulate
from test_sim import flat_rates, one_queue


def _offered(result, replications: int) -> np.ndarray:
    """Contacts offered per replication (a replication without any has no row)."""
    reps = result.replications
    reps = reps[(reps["queue"] == "q") & (reps["segment"] == "all")]
    per = reps.groupby("replication")["offered"].sum()
    return per.reindex(range(replications), fill_value=0).to_numpy()


def test_each_replication_draws_from_its_own_scaled_rates():
    scenario = one_queue(agents=6, patience_s=120)
    rates = flat_rates("q", 0.05, 2)  # 360 contacts expected per replication
    factors = np.zeros((4, len(rates)))
    factors[1] = 1.0
    factors[2] = 2.0
    factors[3, : len(rates) // 2] = 1.0  # the first hour only
    result = simulate(
        scenario, rates=rates, rate_factors=factors, replications=4, seed=3, always_on_s=7200
    )
    offered = _offered(result, 4)
    assert offered[0] == 0
    assert offered[2] == pytest.approx(2 * 360, rel=0.15)
    assert offered[1] == pytest.approx(360, rel=0.2)
    assert offered[3] == pytest.approx(180, rel=0.25)
    # factors of one are the rates as given: the same draws as no factors at all
    ones = simulate(
        scenario,
        rates=rates,
        rate_factors=np.ones((2, len(rates))),
        replications=2,
        seed=3,
        always_on_s=7200,
    )
    plain = simulate(scenario, rates=rates, replications=2, seed=3, always_on_s=7200)
    pd.testing.assert_frame_equal(ones.summary, plain.summary)


def test_factors_follow_their_row_when_rates_are_split_into_segments():
    scenario = one_queue(agents=6, patience_s=120).model_copy(deep=True)
    scenario = type(scenario).model_validate(
        {
            **scenario.model_dump(),
            "segments": [{"name": "gold", "priority": 1, "share": {"q": 0.5}}],
        }
    )
    rates = flat_rates("q", 0.05, 2)
    factors = np.ones((2, len(rates)))
    factors[:, len(rates) // 2 :] = 0.0  # nothing in the second hour, in both segments
    result = simulate(
        scenario, rates=rates, rate_factors=factors, replications=2, seed=1, always_on_s=7200
    )
    intervals = result.intervals
    late = intervals[
        (intervals["queue"] == "q")
        & (pd.to_datetime(intervals["interval_start"]) >= "2024-01-01 01:00")
    ]
    assert late["offered"].sum() == 0
    assert set(intervals["segment"]) >= {"gold", "default"}


def test_bad_factors_are_one_parameter_error():
    scenario = one_queue()
    rates = flat_rates("q", 0.05, 1)
    for factors in (np.ones((3, len(rates))), np.ones((2, 1)), -np.ones((2, len(rates)))):
        with pytest.raises(ParameterError) as raised:
            simulate(scenario, rates=rates, rate_factors=factors, replications=2, always_on_s=3600)
        assert raised.value.field == "rate_factors"


def test_sampled_factors_move_whole_days_per_queue():
    forecast = pd.DataFrame(
        {
            "interval_start": pd.to_datetime(
                ["2024-01-01 09:00", "2024-01-01 10:00", "2024-01-02 09:00", "2024-01-01 09:00"]
            ),
            "queue": ["a", "a", "a", "b"],
            "forecast": [10.0, 20.0, 10.0, 5.0],
            "dispersion": [0.1, 0.1, 0.1, 0.0],
        }
    )
    factors = sample_rate_factors(forecast, 50, np.random.default_rng(0))
    assert factors.shape == (50, 4)
    np.testing.assert_array_equal(factors[:, 0], factors[:, 1])  # one factor per queue and day
    assert not np.array_equal(factors[:, 0], factors[:, 2])
    np.testing.assert_array_equal(factors[:, 3], 1.0)  # no dispersion: Poisson, factor one

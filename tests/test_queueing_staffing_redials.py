"""The staffing stage staffs queues whose callers redial with Erlang X."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from openwfm.queueing import erlang_x
from openwfm.scenario import load_scenario
from openwfm.staffing import requirements


@pytest.fixture
def scenario(example_scenario_path):
    return load_scenario(example_scenario_path)


def _voice_forecast() -> pd.DataFrame:
    starts = pd.date_range("2024-03-04 09:00", periods=8, freq="15min")
    volume = np.linspace(20.0, 90.0, starts.size)
    return pd.DataFrame({"interval_start": starts, "queue": "voice", "forecast": volume})


def test_redialling_callers_are_staffed_with_erlang_x(scenario):
    plain = requirements(_voice_forecast(), scenario, interval_minutes=15)
    voice = next(q for q in scenario.queues if q.name == "voice")
    redialling = scenario.model_copy(
        update={
            "queues": [
                q.model_copy(update={"redial_probability": 0.6, "redial_delay_s": 240.0})
                if q.name == "voice"
                else q
                for q in scenario.queues
            ]
        }
    )
    table = requirements(_voice_forecast(), redialling, interval_minutes=15)
    assert set(table["model"]) == {"erlang_x"}
    assert np.all(table["required_agents"].to_numpy() >= plain["required_agents"].to_numpy())
    lam = table["arrival_rate_per_s"].to_numpy()
    n = table["required_agents"].to_numpy()
    options = {"retrial_probability": 0.6, "retry_mean_s": 240.0}
    at = erlang_x(lam, voice.aht_s, voice.patience_s, n, np.inf, voice.target.within_s, **options)
    below = erlang_x(
        lam, voice.aht_s, voice.patience_s, n - 1, np.inf, voice.target.within_s, **options
    )
    target = voice.target.service_level
    assert np.all(at["service_level"] >= target)
    np.testing.assert_allclose(table["expected_service_level"], at["service_level"], rtol=1e-12)
    # one agent less misses the service level or a cap the plain Erlang A search enforced
    missed = below["service_level"] < target
    assert np.all(missed | (n == plain["required_agents"].to_numpy()))

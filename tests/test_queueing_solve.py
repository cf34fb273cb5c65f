"""Solving every model for agents, the largest arrival rate, or the target reached."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openwfm.errors import ParameterError
from openwfm.queueing import (
    erlang_x,
    erlang_x_required_agents,
    max_arrival_rate,
    required_agents,
    service_level,
    service_level_reached,
)


@settings(max_examples=15, deadline=None)
@given(
    a=st.floats(0.3, 300.0),
    patience=st.floats(30.0, 600.0),
    retrial=st.sampled_from([0.0, 0.3, 0.8]),
    definition=st.sampled_from(["offered", "answered", "virtual"]),
    sl=st.floats(0.5, 0.95),
)
def test_erlang_x_agents_is_the_least_meeting_the_target(a, patience, retrial, definition, sl):
    aht = 240.0
    key = {"offered": "service_level", "answered": "service_level_answered"}.get(
        definition, "service_level_virtual"
    )
    n = erlang_x_required_agents(
        a / aht, aht, patience, 20.0, sl, retrial_probability=retrial, definition=definition
    )
    both = erlang_x(
        a / aht, aht, patience, [max(n - 1, 0), n], np.inf, 20.0, retrial_probability=retrial
    )[key]
    assert both[1] >= sl - 1e-12
    assert n == 0 or both[0] < sl


@settings(max_examples=6, deadline=None)
@given(
    a=st.floats(0.5, 20.0),
    patience=st.floats(30.0, 600.0),
    retry=st.floats(60.0, 1_200.0),
    sl=st.floats(0.5, 0.95),
)
def test_erlang_x_agents_with_a_retry_time_is_the_least_for_the_exact_chain(a, patience, retry, sl):
    """The search starts from the long-retry model's answer; the answer is the exact chain's."""
    aht, options = 240.0, {"retrial_probability": 0.6, "retry_mean_s": retry}
    n = erlang_x_required_agents(a / aht, aht, patience, 20.0, sl, **options)
    both = erlang_x(a / aht, aht, patience, [max(n - 1, 0), n], np.inf, 20.0, **options)
    assert both["service_level"][1] >= sl - 1e-12
    assert n == 0 or both["service_level"][0] < sl


def test_erlang_x_agents_without_redials_is_erlang_a_staffing():
    lam = np.array([0.05, 0.4, 2.0])
    got = erlang_x_required_agents(lam, 200.0, 150.0, 20.0, 0.8)
    assert list(got) == list(required_agents(lam, 200.0, 20.0, 0.8, patience_s=150.0))
    # redials add load: never fewer agents; a busy signal at few lines caps what is possible
    more = erlang_x_required_agents(lam, 200.0, 150.0, 20.0, 0.8, retrial_probability=0.7)
    assert np.all(more >= got)
    with pytest.raises(ParameterError, match="service_level"):
        erlang_x_required_agents(0.4, 200.0, 150.0, 20.0, 0.99, lines=60)


@pytest.mark.parametrize(
    "model",
    [
        {},
        {"patience_s": 120.0},
        {"patience_s": 120.0, "lines": 40, "retrial_probability": 0.5},
        {"patience_s": 120.0, "retrial_probability": 0.5, "retry_mean_s": 300.0},
        {"rate_cv": 0.1},
        {"patience_s": 120.0, "outbound_aht_s": 300.0, "threshold": 2},
    ],
)
def test_max_arrival_rate_is_where_the_target_is_just_met(model):
    agents, aht, target, sl = np.array([12, 30]), 200.0, 20.0, 0.8
    rate = max_arrival_rate(agents, aht, target, sl, **model)
    at = service_level_reached(rate, aht, agents, target, **model)
    above = service_level_reached(rate * (1 + 1e-6), aht, agents, target, **model)
    assert np.all(at >= sl - 1e-12)
    assert np.all(above < sl)
    assert np.all(np.diff(rate) > 0)  # more agents carry more


def test_max_arrival_rate_matches_erlang_c_inversion():
    rate = max_arrival_rate(25, 180.0, 20.0, 0.8)
    assert service_level(rate * 180.0, 25, 180.0, 20.0) == pytest.approx(0.8, abs=1e-9)
    assert required_agents(rate * 0.999, 180.0, 20.0, 0.8) <= 25
    assert required_agents(rate * 1.001, 180.0, 20.0, 0.8) > 25


def test_unknown_definition_is_named():
    with pytest.raises(ParameterError, match="definition"):
        erlang_x_required_agents(0.1, 200.0, 100.0, 20.0, 0.8, definition="short")

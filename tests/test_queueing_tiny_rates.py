"""Vanishing (even subnormal) arrival rates: every model stays finite and every inversion
needs one agent (none for no traffic), as staffing tables with near-empty intervals need."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from openwfm.queueing import (
    erlang_a,
    erlang_b,
    erlang_c,
    erlang_x,
    erlang_x_required_agents,
    required_agents,
    service_level,
)

# from the smallest subnormal up to a contact every ~30 years
tiny_rates = st.floats(min_value=5e-324, max_value=1e-9, allow_subnormal=True)
ahts = st.floats(10.0, 900.0)
levels = st.floats(0.05, 0.99)


@settings(max_examples=60, deadline=None)
@given(rate=tiny_rates, aht=ahts, level=levels, patience=st.floats(5.0, 600.0))
def test_tiny_rates_need_one_agent(rate, aht, level, patience):
    assert required_agents(rate, aht, 20.0, level) == 1
    assert required_agents(rate, aht, 20.0, level, patience_s=patience, max_abandon=0.01) == 1
    assert required_agents(rate, aht, 20.0, level, patience_s=patience, max_asa_s=1.0) == 1
    need_x = erlang_x_required_agents(
        rate, aht, patience, 20.0, level, retrial_probability=0.5, max_abandon=0.01
    )
    assert need_x == 1
    assert required_agents(0.0, aht, 20.0, level) == 0


@settings(max_examples=60, deadline=None)
@given(rate=tiny_rates, aht=ahts, patience=st.floats(5.0, 600.0), agents=st.integers(1, 50))
def test_tiny_rates_give_finite_metrics(rate, aht, patience, agents):
    traffic = rate * aht
    low = 1.0 - 4.0 * traffic - 1e-12  # P(wait) is about the traffic (one agent: B(a, 1))
    for value in (erlang_b(traffic, agents), erlang_c(traffic, agents)):
        assert 0.0 <= value <= 2.0 * traffic + 1e-300
    assert low <= service_level(traffic, agents, aht, 20.0) <= 1.0
    result = erlang_a(rate, aht, patience, agents, 20.0, with_asa=True)
    assert low <= result.service_level <= 1.0
    assert 0.0 <= result.p_abandon <= 2.0 * traffic + 1e-300
    assert np.isfinite(result.asa_s) and result.asa_s <= 2.0 * traffic * aht + 1e-300
    for lines, retry in ((np.inf, np.inf), (agents + 2, 300.0)):
        metrics = erlang_x(
            rate, aht, patience, agents, lines, 20.0, retrial_probability=0.5, retry_mean_s=retry
        )
        assert all(np.isfinite(v) for v in metrics.values())
        assert low <= metrics["service_level"] <= 1.0
        assert metrics["p_abandon"] + metrics["p_block"] <= 2.0 * traffic + 1e-300

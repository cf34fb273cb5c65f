"""The birth-death engine: Erlang X (finite lines, patience) and the chat model."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openwfm.errors import ParameterError
from openwfm.queueing import erlang_a, erlang_b, erlang_c, service_level
from openwfm.queueing.birthdeath import chat_metrics, erlang_x


def test_erlang_x_limits():
    # many lines -> Erlang A; lines == agents -> Erlang B; no patience -> Erlang C
    x = erlang_x(0.05, 200.0, 120.0, [11, 12], 400, 20.0)
    a = erlang_a(0.05, 200.0, 120.0, [11, 12], 20.0)
    for name in ("p_wait", "p_abandon", "service_level", "occupancy"):
        np.testing.assert_allclose(x[name], getattr(a, name), rtol=1e-12)
    assert erlang_x(0.05, 200.0, 120.0, 11, 11, 20.0)["p_block"] == pytest.approx(
        erlang_b(10.0, 11), rel=1e-12
    )
    c = erlang_x(0.05, 200.0, np.inf, 12, 500, 20.0)
    assert c["p_wait"] == pytest.approx(erlang_c(10.0, 12), rel=1e-12)
    assert c["service_level"] == pytest.approx(service_level(10.0, 12, 200.0, 20.0), rel=1e-12)


@settings(max_examples=30, deadline=None)
@given(
    lam=st.floats(0.001, 0.5),
    aht=st.floats(30.0, 600.0),
    patience=st.floats(10.0, 1000.0),
    n=st.integers(1, 60),
    extra=st.integers(0, 40),
)
def test_erlang_x_more_lines_less_blocking(lam, aht, patience, n, extra):
    r = erlang_x(lam, aht, patience, n, np.array([n + extra, n + extra + 1]), 20.0)
    assert r["p_block"][1] <= r["p_block"][0] + 1e-15
    assert np.all((r["service_level"] >= 0) & (r["service_level"] <= 1))


def test_erlang_x_rejects_fewer_lines_than_agents():
    with pytest.raises(ParameterError) as info:
        erlang_x(0.1, 100.0, 60.0, 5, 4, 20.0)
    assert info.value.field == "lines"
    with pytest.raises(ParameterError) as info:
        erlang_x(0.1, 100.0, 60.0, 5.5, 10, 20.0)
    assert info.value.field == "agents"


@settings(max_examples=30, deadline=None)
@given(lam=st.floats(0.001, 0.2), n=st.integers(1, 30), patience=st.floats(30.0, 600.0))
def test_chat_more_agents_never_worse(lam, n, patience):
    r = chat_metrics(np.full(3, lam), [420.0, 510.0, 630.0], [n, n + 1, n + 2], 60.0, patience)
    assert np.all(np.diff(r["service_level"]) >= -1e-12)
    assert np.all(np.diff(r["p_abandon"]) <= 1e-12)

"""The compiled small-call path of the Erlang C service level agrees with the general path
and keeps its typed errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openwfm.errors import ParameterError
from openwfm.queueing import service_level
from openwfm.queueing.erlang import _erlang_c_sl


@settings(max_examples=40, deadline=None)
@given(
    size=st.integers(1, 400),
    seed=st.integers(0, 2**31 - 1),
    top=st.sampled_from([2.0, 50.0, 3_000.0]),
)
def test_small_calls_match_the_general_path(size, seed, top):
    rng = np.random.default_rng(seed)
    traffic = rng.uniform(0.0, top, size)
    traffic[rng.random(size) < 0.1] = 0.0
    agents = np.floor(traffic + rng.integers(-3, 30, size)).clip(0)
    agents[rng.random(size) < 0.1] += 0.5  # fractional agents take the general path
    aht = rng.uniform(10.0, 900.0, size)
    target = np.where(rng.random(size) < 0.1, np.inf, rng.uniform(0.0, 120.0, size))
    got = service_level(traffic, agents, aht, target)
    want = _erlang_c_sl(traffic, agents, aht, target)
    assert got.shape == traffic.shape
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-300)
    # broadcasting a scalar and a 2-d grid of a staffing table
    grid = service_level(traffic[:, None], np.arange(1, 9)[None, :] * 10.0, 240.0, 20.0)
    assert grid.shape == (size, 8)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((np.array([1.0, np.nan]), np.array([2.0, 3.0]), 200.0, 20.0), "traffic"),
        ((np.array([1.0, 2.0]), np.array([2.0, -3.0]), 200.0, 20.0), "agents"),
        ((np.array([1.0, 2.0]), np.array([2.0, 3.0]), 0.0, 20.0), "aht_s"),
        ((np.array([1.0, 2.0]), np.array([2.0, 3.0]), 200.0, -1.0), "target_s"),
    ],
)
def test_small_calls_keep_the_named_errors(args, field):
    with pytest.raises(ParameterError, match=field):
        service_level(*args)

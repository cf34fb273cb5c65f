"""Inbound/outbound blending with a threshold: 50-digit reference, limits, properties, staffing."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openwfm.errors import ParameterError
from openwfm.queueing import blend_metrics, blend_staffing, erlang_a

mp.mp.dps = 50
REL = 1e-9


def ref_blend(lam, aht, aht_out, n, s, t, patience, top):  # noqa: C901 (reference kept whole)
    """The blending chain and the waiting call's law, built and solved densely in 50 digits
    (matrix exponential for the wait). States (o, k): o outbound calls, k = inbound - (n - o)."""
    lam, mu, nu, th, t = (mp.mpf(v) for v in (lam, 1 / aht, 1 / aht_out, 1 / patience, t))
    states = [(o, k) for o in range(n + 1) for k in range(max(-s, o - n), top + 1)]
    index = {st_: i for i, st_ in enumerate(states)}
    size = len(states)
    q = mp.zeros(size, size)

    def move(i, target, rate):
        if rate != 0 and target in index and index[target] != i:
            q[i, index[target]] += rate

    for i, (o, k) in enumerate(states):
        if k < top:
            move(i, (o, k + 1), lam)
        busy_in = n - o + min(k, 0)
        if busy_in > 0:
            # an inbound call ends; with more than s idle an outbound call starts
            move(i, (o + 1, k) if (k == -s and s < n - o) else (o, k - 1), busy_in * mu)
        if k > 0:
            move(i, (o, k - 1), k * th)
        if o > 0 and k > -s:
            move(i, (o - 1, k - 1), o * nu)
    a = mp.zeros(size, size)
    for i in range(size):
        for j in range(size):
            a[j, i] = q[i, j]
        a[i, i] -= mp.fsum(q[i, j] for j in range(size))
    for j in range(size):
        a[0, j] = 1
    b = mp.zeros(size, 1)
    b[0] = 1
    pi = mp.lu_solve(a, b)
    # waiting call: (o, j ahead) -> answered / abandoned; absorbing states last
    width = top + 1
    tsize = (n + 1) * width + 2
    g = mp.zeros(tsize, tsize)
    for o in range(n + 1):
        for j in range(width):
            i = o * width + j
            free_in, free_out = (n - o) * mu, o * nu
            if j == 0:
                g[i, tsize - 2] += free_in + free_out
            else:
                g[i, i - 1] += free_in + j * th
                if o > 0:
                    g[i, i - width - 1] += free_out
            g[i, tsize - 1] += th
            g[i, i] -= free_in + free_out + j * th + th
    start = mp.zeros(1, tsize)
    for (o, k), p in zip(states, pi, strict=True):
        if k >= 0:
            start[0, o * width + k] += p
    p_wait = mp.fsum(start[0, i] for i in range(tsize))
    by_t = start * mp.expm(g * t)
    late = start * mp.expm(g * 200 * t)  # effectively absorbed
    answered_wait = late[0, tsize - 2]
    out = mp.fsum(pi[i] * o for i, (o, k) in enumerate(states))
    p_answered = 1 - p_wait + answered_wait
    return {
        "p_wait": p_wait,
        "p_abandon": 1 - p_answered,
        "service_level": 1 - p_wait + by_t[0, tsize - 2],
        "outbound_per_s": out * nu,
        "p_idle_reserved": mp.fsum(pi[i] for i, (o, k) in enumerate(states) if k < 0),
    }


@pytest.mark.parametrize(
    ("a", "aht", "aht_out", "n", "s", "patience"),
    [
        (0.1, 200.0, 300.0, 1, 0, 60.0),
        (0.8, 150.0, 100.0, 2, 1, 90.0),
        (1.5, 120.0, 240.0, 3, 1, 100.0),
    ],
)
def test_blend_matches_50_digit_dense_solve(a, aht, aht_out, n, s, patience):
    lam, t = a / aht, 20.0
    ref = ref_blend(lam, aht, aht_out, n, s, t, patience, top=14)
    got = blend_metrics(lam, aht, aht_out, n, s, t, patience_s=patience)
    for key, value in ref.items():
        assert abs(float(got[key]) - float(value)) <= REL * abs(float(value)) + 1e-15, key


@settings(max_examples=15, deadline=None)
@given(
    a=st.floats(0.2, 40.0),
    extra=st.floats(0.5, 3.0),
    patience=st.sampled_from([np.inf, 60.0, 300.0]),
    aht_out=st.floats(60.0, 600.0),
)
def test_threshold_at_agents_is_erlang_a_without_outbound(a, extra, patience, aht_out):
    aht = 200.0
    n = int(np.ceil(a + extra * np.sqrt(a) + 1))
    got = blend_metrics(a / aht, aht, aht_out, n, n, 20.0, patience_s=patience)
    ref = erlang_a(a / aht, aht, patience, n, 20.0)
    assert float(got["outbound_per_s"]) <= 1e-12
    assert float(got["service_level"]) == pytest.approx(float(ref.service_level), rel=1e-9)
    assert float(got["p_abandon"]) == pytest.approx(float(ref.p_abandon), rel=1e-9, abs=1e-15)
    assert float(got["asa_s"]) == pytest.approx(float(ref.asa_s), rel=1e-9, abs=1e-12)


@settings(max_examples=10, deadline=None)
@given(a=st.floats(0.5, 15.0), aht_out=st.floats(60.0, 600.0), patience=st.floats(30.0, 600.0))
def test_threshold_zero_outbound_takes_every_idle_agent_and_monotone(a, aht_out, patience):
    aht = 180.0
    n = int(np.ceil(a + 2 * np.sqrt(a) + 2))
    thresholds = np.arange(n + 1)
    got = blend_metrics(a / aht, aht, aht_out, n, thresholds, 20.0, patience_s=patience)
    assert float(got["p_idle_reserved"][0]) == 0.0
    assert float(got["p_wait"][0]) == pytest.approx(1.0, abs=1e-12)
    assert np.all(np.diff(got["service_level"]) >= -1e-12)
    assert np.all(np.diff(got["outbound_per_s"]) <= 1e-12)
    more = blend_metrics(a / aht, aht, aht_out, np.arange(n, n + 4), 1, 20.0, patience_s=patience)
    assert np.all(np.diff(more["service_level"]) >= -1e-12)


def test_staffing_meets_both_targets_with_the_least_agents():
    lam, aht, aht_out, t, sl, volume = 20 / 240, 240.0, 300.0, 20.0, 0.8, 0.01
    agents, threshold = blend_staffing(lam, aht, aht_out, t, sl, volume, patience_s=120.0)
    got = blend_metrics(lam, aht, aht_out, agents, threshold, t, patience_s=120.0)
    assert got["service_level"] >= sl and got["outbound_per_s"] >= volume
    if threshold > 0:  # the threshold is the least that meets the service level
        less = blend_metrics(lam, aht, aht_out, agents, threshold - 1, t, patience_s=120.0)
        assert less["service_level"] < sl
    fewer = blend_metrics(lam, aht, aht_out, agents - 1, np.arange(agents), t, patience_s=120.0)
    meets = (fewer["service_level"] >= sl) & (fewer["outbound_per_s"] >= volume)
    assert not np.any(meets)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"threshold": 6}, "threshold"),
        ({"threshold": -1}, "threshold"),
        ({"outbound_aht_s": 0.0}, "outbound_aht_s"),
        ({"agents": 2.5}, "agents"),
    ],
)
def test_bad_input_names_the_argument(kwargs, field):
    args = {"arrival_rate_per_s": 0.01, "aht_s": 200.0, "outbound_aht_s": 300.0, "agents": 5}
    args.update({"threshold": 1, "target_s": 20.0})
    args.update(kwargs)
    with pytest.raises(ParameterError, match=field):
        blend_metrics(**args)

"""Shrinkage estimators, calibration spread and proficiency derivation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from openwfm.quality.agents import agent_quality, beta_binomial_shrink, normal_shrink
from openwfm.quality.calibration import calibration_spread
from openwfm.quality.proficiency import derive_proficiency


def test_beta_binomial_method_of_moments_by_hand():
    # rates 0.2 (n=100), 0.5 (n=100), 0.8 (n=100): pooled m = 0.5; variance of the raw rates
    # = (0.09 + 0 + 0.09) / 2 = 0.09; binomial noise = 0.25 / 100 = 0.0025; between = 0.0875;
    # M = 0.25 / 0.0875 - 1 = 1.857...; agent 1: (20 + M/2) / (100 + M)
    rates, m, strength = beta_binomial_shrink([20, 50, 80], [100, 100, 100])
    assert m == pytest.approx(0.5)
    assert strength == pytest.approx(0.25 / 0.0875 - 1)
    assert rates[0] == pytest.approx((20 + strength * 0.5) / (100 + strength))


def test_agents_no_more_different_than_noise_get_the_pooled_rate():
    rates, m, strength = beta_binomial_shrink([5, 5, 5], [10, 10, 10])
    assert np.isinf(strength) and np.allclose(rates, 0.5)


@given(st.lists(st.tuples(st.integers(0, 50), st.integers(1, 50)), min_size=2, max_size=12))
def test_shrunk_rates_lie_between_raw_and_pooled(pairs):
    x = np.array([min(a, b) for a, b in pairs], dtype=float)
    n = np.array([b for _, b in pairs], dtype=float)
    rates, m, _ = beta_binomial_shrink(x, n)
    raw = x / n
    low, high = np.minimum(raw, m) - 1e-12, np.maximum(raw, m) + 1e-12
    assert ((rates >= low) & (rates <= high)).all()


def test_normal_shrink_pulls_small_samples_harder():
    shrunk, mu, between = normal_shrink([0.9, 0.9, 0.5, 0.5], [1, 50, 1, 50], 0.04)
    assert between > 0 and mu == pytest.approx(0.7)
    assert abs(shrunk[0] - mu) < abs(shrunk[1] - mu)  # n=1 is pulled more than n=50


def test_agent_quality_shrinks_toward_each_team():
    flags = pd.DataFrame({
        "agent": ["a"] * 4 + ["b"] * 40 + ["c"] * 40,
        "repeat_1d": [True] * 4 + [False] * 30 + [True] * 10 + [False] * 10 + [True] * 30,
    })  # fmt: skip
    table = agent_quality(fcr_flags=flags).set_index("agent")
    pooled = 40 / 84  # resolved contacts / contacts
    # a (4 contacts) moves from 0 toward the pooled rate far more than b (40 contacts) moves
    assert table.loc["a", "fcr_raw"] == 0.0 and 0.05 < table.loc["a", "fcr"] < pooled
    assert 0.7 < table.loc["b", "fcr"] < 0.75


def test_calibration_spread_against_reference():
    evaluations = pd.DataFrame({
        "evaluation_id": ["e1", "e2", "e3", "e4"], "calibration_id": ["s1", "s1", "s1", None],
        "evaluator": ["expert", "x", "y", "x"], "score": [0.8, 0.6, 0.9, 0.1],
    })  # fmt: skip
    answers = pd.DataFrame({
        "evaluation_id": ["e1", "e1", "e2", "e2", "e3", "e3"],
        "item": ["a", "b"] * 3, "answer": ["yes", "no", "yes", "yes", "yes", "no"],
    })  # fmt: skip
    sessions, evaluators = calibration_spread(evaluations, answers, reference="expert")
    row = sessions.iloc[0]
    assert row["evaluators"] == 3 and row["score_range"] == pytest.approx(0.3)
    assert row["item_disagreement"] == pytest.approx(0.5)  # item b differs, item a agrees
    bias = evaluators.set_index("evaluator")["bias"]
    assert bias["x"] == pytest.approx(-0.2) and bias["y"] == pytest.approx(0.1)


def test_proficiency_best_agent_is_one_and_a_team_is_top_share():
    quality = pd.DataFrame({
        "agent": ["a", "b", "c", "d"], "queue": ["q"] * 4,
        "score": [0.9, 0.8, 0.6, 0.7], "fcr": [0.7, 0.6, 0.4, 0.5],
    })  # fmt: skip
    handle = pd.DataFrame({"agent": list("abcd"), "queue": ["q"] * 4,
                           "aht_s": [200.0, 200.0, 300.0, 250.0]})  # fmt: skip
    table = derive_proficiency(quality, handle).set_index("agent")
    assert table.loc["a", "proficiency"] == 1.0
    assert table["proficiency"].is_monotonic_decreasing
    assert table["a_team"].sum() == 1 and bool(table.loc["a", "a_team"])


@given(
    sizes=st.lists(st.integers(1, 9), min_size=1, max_size=6),
    per_stratum=st.integers(1, 5),
    seed=st.integers(0, 2**16),
)
def test_stratified_sample_takes_min_of_k_and_stratum_size(sizes, per_stratum, seed):
    from openwfm.quality.sampling import stratified_sample

    rows = [
        {"interaction_id": f"{a}-{i}", "agent": f"a{a}", "queue": "q", "outcome": "answered"}
        for a, size in enumerate(sizes)
        for i in range(size)
    ]
    contacts = pd.DataFrame(rows)
    sample = stratified_sample(contacts, per_stratum, seed=seed)
    counts = sample.groupby("agent").size()
    assert counts.to_dict() == {f"a{a}": min(per_stratum, n) for a, n in enumerate(sizes)}
    assert sample["interaction_id"].is_unique
    shuffled = stratified_sample(contacts.sample(frac=1, random_state=1), per_stratum, seed=seed)
    assert shuffled["interaction_id"].tolist() == sample["interaction_id"].tolist()

"""The simulator against exact queueing results (openwfm.queueing), and honest intervals.

M/M/n is Erlang C; M/M/n+M (exponential patience) is Erlang A. The simulated figures are
means over replications of a long run after a warm-up; the exact steady-state values must lie
within their 95% confidence intervals. The seeds are fixed, so these tests are reproducible;
the coverage test checks that the intervals are honest over many seeds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from openwfm import queueing
from openwfm.model import Scenario
from openwfm.sim import prepare, run_prepared

TARGET_S = 20.0


def single_queue_plan(erlangs, agents, aht_s, patience_s, hours, warmup_s, definition="offered"):
    scenario = Scenario.model_validate(
        {
            "queues": [
                {
                    "name": "q",
                    "aht_s": aht_s,
                    "patience_s": patience_s,
                    "target": {"within_s": TARGET_S, "definition": definition},
                }
            ],
            "agent_groups": [{"name": "g", "count": agents, "skills": {"q": 1.0}}],
        }
    )
    starts = pd.date_range("2024-01-01", periods=int(hours * 4), freq="900s")
    rates = pd.DataFrame(
        {"interval_start": starts, "queue": "q", "arrival_rate_per_s": erlangs / aht_s}
    )
    horizon_s = hours * 3600
    # agents stay on after the last arrival so that every contact is served or abandons
    return prepare(
        scenario, rates=rates, always_on_s=horizon_s + 3 * 3600, warmup_s=warmup_s, days=1
    )


def assert_within(result, name, exact):
    mean, low, high = result.metric(name, "q")
    assert low <= exact <= high, f"{name}: exact {exact:.5f} outside [{low:.5f}, {high:.5f}]"


def test_mmn_reproduces_erlang_c():
    erlangs, agents, aht_s = 8.0, 10, 120.0
    plan = single_queue_plan(erlangs, agents, aht_s, None, hours=20, warmup_s=3600)
    result = run_prepared(plan, replications=10, seed=11)
    assert_within(result, "p_wait", float(queueing.erlang_c(erlangs, agents)))
    assert_within(
        result, "service_level", float(queueing.service_level(erlangs, agents, aht_s, TARGET_S))
    )
    assert_within(result, "asa_s", float(queueing.asa(erlangs, agents, aht_s)))
    assert result.metric("abandon_rate", "q")[0] == 0.0


def test_mmn_plus_m_reproduces_erlang_a():
    erlangs, agents, aht_s, patience_s = 10.0, 10, 120.0, 240.0
    plan = single_queue_plan(erlangs, agents, aht_s, patience_s, hours=20, warmup_s=3600)
    result = run_prepared(plan, replications=10, seed=12)
    exact = queueing.erlang_a(erlangs / aht_s, aht_s, patience_s, agents, TARGET_S)
    assert_within(result, "p_wait", float(exact.p_wait))
    assert_within(result, "abandon_rate", float(exact.p_abandon))
    assert_within(result, "service_level", float(exact.service_level))
    assert_within(result, "asa_s", float(exact.asa_s))
    # abandonment is real here: 10 Erlangs on 10 agents only works because callers leave
    assert result.metric("abandon_rate", "q")[0] > 0.03


def test_confidence_intervals_cover_the_truth_about_95_percent_of_the_time():
    erlangs, agents, aht_s = 3.5, 5, 100.0
    plan = single_queue_plan(erlangs, agents, aht_s, None, hours=3, warmup_s=1800)
    truth = float(queueing.erlang_c(erlangs, agents))
    covered = 0
    runs = 40
    for seed in range(runs):
        mean, low, high = run_prepared(plan, replications=5, seed=1000 + seed).metric("p_wait", "q")
        covered += low <= truth <= high
    # Binomial(40, 0.95): 34..40 holds with probability > 99%; too narrow intervals fail
    assert covered >= 34, f"covered {covered} of {runs}"
    assert np.isfinite(truth)

"""A pool's requirement for its priority segments, and correction steps sized from the gap.

Public API: :func:`openwfm.staffing.skill_set_requirements` (pools with priority classes),
:func:`openwfm.staffing.raise_where_missed` (with the checked schedule's activities) and
:mod:`openwfm.staffing.shortfall` (the Erlang inverse of a simulated gap).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from openwfm.model import Scenario
from openwfm.queueing import erlang_c, service_level
from openwfm.sim import simulate
from openwfm.staffing import raise_where_missed, requirements, skill_set_requirements
from openwfm.staffing.shortfall import agents_short

STARTS = pd.date_range("2024-01-01 08:00", periods=4, freq="30min")
VOLUMES = {"a": 120.0, "b": 80.0}  # contacts per 30 minutes, 240 s each: 26.7 Erlangs


def _center(vip_target: dict | None) -> Scenario:
    """Two voice queues served by one cross-trained team; a ``vip`` segment (30% of each
    queue, priority 2) with its own target when ``vip_target`` is given; the policy serves
    priority first (a step of aging per 1,000 s waited: never within these waits)."""
    queue = {"aht_s": 240, "target": {"service_level": 0.8, "within_s": 60}}
    vip: dict = {"name": "vip", "priority": 2, "share": {"a": 0.3, "b": 0.3}}
    if vip_target is not None:
        vip["targets"] = {"a": vip_target, "b": vip_target}
    return Scenario.model_validate(
        {
            "shrinkage": 0.0,
            "grid": {"interval_minutes": 30},
            "queues": [{"name": "a", **queue}, {"name": "b", **queue}],
            "segments": [vip, {"name": "std", "priority": 1, "share": {"a": 0.7, "b": 0.7}}],
            "routing": {"policy": "priority_aging", "aging_per_s": 0.001},
            "agent_groups": [{"name": "ab", "count": 60, "skills": {"a": 1.0, "b": 1.0}}],
        }
    )


def _forecast() -> pd.DataFrame:
    rows = [(ts, q, v) for ts in STARTS for q, v in VOLUMES.items()]
    return pd.DataFrame(rows, columns=["interval_start", "queue", "forecast"])


def _pool(scenario: Scenario) -> pd.DataFrame:
    forecast = _forecast()
    per_queue = requirements(forecast, scenario)
    return skill_set_requirements(forecast, scenario, per_queue=per_queue)


def _vip_level(scenario: Scenario, agents: int) -> float:
    """The vip segment's simulated service level (within 10 s) with ``agents`` on the pool."""
    rates = pd.DataFrame(
        [(ts, q, v / 1800.0) for ts in STARTS for q, v in VOLUMES.items()],
        columns=["interval_start", "queue", "arrival_rate_per_s"],
    )
    schedule = pd.DataFrame({"interval_start": STARTS, "agents": agents})
    result = simulate(
        scenario, rates=rates, schedule=schedule, replications=6, seed=3, scheduler="sync"
    )
    rows = result.summary
    vip = rows[(rows["queue"].astype(str) != "all") & (rows["segment"].astype(str) == "vip")]
    return float(np.average(vip["service_level"], weights=vip["offered"]))


def test_a_priority_segment_s_pool_requirement_exceeds_the_first_come_first_served_one():
    tight = {"service_level": 0.95, "within_s": 10}
    fcfs = _pool(_center(None))
    classes = _pool(_center(tight))
    assert set(classes["pool"]) == {"a+b"}
    # the queues' own 80% in 60 s: the merged queue first come, first served
    assert np.all(classes["required_agents"] > fcfs["required_agents"])
    # the top class waits iff all agents are busy, then for its own queue only:
    # P(W > t) = C exp(-(n mu - lambda_vip) t) -- the least such n meets 95% within 10 s
    n = classes["required_agents"].to_numpy()
    a, vip_rate = 200 / 1800 * 240, 0.3 * 200 / 1800
    level = 1 - erlang_c(a, n) * np.exp(-(n / 240 - vip_rate) * 10)
    below = 1 - erlang_c(a, n - 1) * np.exp(-((n - 1) / 240 - vip_rate) * 10)
    assert np.all(level >= 0.95) and np.all(below < 0.95)
    # as one queue of the vip customers alone with the tight target would be: far too many
    assert np.all(classes["binding_queue"].isin(["a", "b"]))
    assert np.all(classes["target_s"] == 10)
    # and the policy agrees: the first-come-first-served count misses the vip target in
    # simulation, the priority-class count meets it
    scenario = _center(tight)
    assert _vip_level(scenario, int(fcfs["required_agents"].max())) < 0.95
    assert _vip_level(scenario, int(classes["required_agents"].max())) >= 0.95


def test_segments_without_their_own_targets_leave_the_pool_first_come_first_served():
    plain = _pool(_center(None))
    no_segments = _center(None).model_copy(update={"segments": []})
    assert plain["required_agents"].tolist() == _pool(no_segments)["required_agents"].tolist()


@settings(max_examples=40, deadline=None)
@given(
    traffic=st.floats(2.0, 80.0),
    spare=st.integers(1, 6),
    extra=st.integers(1, 5),
    aht_s=st.floats(60.0, 600.0),
    within_s=st.floats(5.0, 120.0),
)
def test_the_step_is_the_erlang_inverse_of_the_gap(traffic, spare, extra, aht_s, within_s):
    agents = float(np.floor(traffic) + spare)
    level = float(service_level(traffic, agents, aht_s, within_s))
    goal = float(service_level(traffic, agents + extra, aht_s, within_s))
    fewer = float(service_level(traffic, agents + extra - 1, aht_s, within_s))
    if not (0.01 < level and goal - fewer > 1e-6 and goal < 1 - 1e-9):
        return  # a flat curve: no step is determined
    step = agents_short(
        np.array([level]), np.array([goal - 1e-9]), np.array([agents]), aht_s, within_s, 10
    )
    assert int(step[0]) == extra


def test_steps_are_bounded_and_at_least_one():
    steps = agents_short(
        np.array([0.0, 0.79, 0.2]),
        np.array([0.8, 0.8, 0.8]),
        np.array([10.0, 10.0, 0.0]),
        300.0,
        20.0,
        np.array([3, 3, 2]),
    )
    assert steps.tolist()[0] == 3 and steps.tolist()[1] == 1 and steps.tolist()[2] == 2


def test_a_miss_on_a_queue_covered_many_times_over_asks_for_more_than_one_agent():
    """Ten agents at work can serve ``a``; its requirement says 3; the simulation says 60%
    against 80% in 60 s: the step is taken from the ten, sized by the gap."""
    scenario = _center(None)
    per_queue = requirements(_forecast(), scenario)
    pools = skill_set_requirements(_forecast(), scenario, per_queue=per_queue)
    per_queue = per_queue.assign(required_agents=3)
    intervals = pd.DataFrame(
        [(ts, q, "all", 60.0, 0.6 if q == "a" and ts == STARTS[0] else 0.95, 0.0, 240.0)
         for ts in STARTS for q in "ab"],
        columns=["interval_start", "queue", "segment", "offered", "service_level",
                 "abandon_rate", "aht_s"],
    )  # fmt: skip
    activities = pd.DataFrame(
        [(f"ab-{i}", ts, "a") for i in range(1, 11) for ts in STARTS],
        columns=["agent", "interval_start", "activity"],
    )
    plain, plain_added = raise_where_missed(per_queue, intervals, scenario)
    sized, added = raise_where_missed(per_queue, intervals, scenario, activities=activities)
    assert plain_added == 1  # one on the requirement: still far below the ten at work
    first = sized["interval_start"] == STARTS[0]
    row = sized[first & (sized["queue"] == "a")]["required_agents"].iloc[0]
    level_ten = 0.6
    step = int(agents_short(np.array([level_ten]), np.array([0.8]), np.array([10.0]),
                            240.0, 60.0, 3)[0])  # fmt: skip
    assert row == 10 + step and step >= 1
    assert added == row - 3
    others = sized[~(first & (sized["queue"] == "a"))]
    assert np.all(others["required_agents"] == 3)
    raised_pools, pooled = raise_where_missed(pools, intervals, scenario, activities=activities)
    assert pooled > 0
    ab = raised_pools.set_index("interval_start")["required_agents"]
    before = pools.set_index("interval_start")["required_agents"]
    assert ab[STARTS[0]] == max(before[STARTS[0]] + 1, 10 + step)
    assert ab[STARTS[1]] == before[STARTS[1]]

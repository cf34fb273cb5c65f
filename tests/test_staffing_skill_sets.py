"""Requirements for skill sets (pools of queues that share agents), hand-checkable cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from openwfm.model import Scenario
from openwfm.queueing import erlang_c
from openwfm.queueing.inversion import required_agents
from openwfm.scenario import load_scenario
from openwfm.staffing import correct_by_simulation, raise_where_missed, requirements
from openwfm.staffing.skill_sets import skill_set_requirements, skill_sets

STARTS = pd.date_range("2024-01-01 08:00", periods=4, freq="30min")


def _scenario(queues: list[dict], agents: list[dict]) -> Scenario:
    return Scenario.model_validate(
        {"shrinkage": 0.0, "grid": {"interval_minutes": 30}, "queues": queues, "agents": agents}
    )


def _queue(name: str, aht_s: float = 300.0, level: float = 0.8, within_s: float = 20.0):
    return {"name": name, "aht_s": aht_s, "target": {"service_level": level, "within_s": within_s}}


def _forecast(volumes: dict[str, float]) -> pd.DataFrame:
    rows = [(ts, q, v) for ts in STARTS for q, v in volumes.items()]
    return pd.DataFrame(rows, columns=["interval_start", "queue", "forecast"])


def test_two_identical_queues_need_what_one_merged_queue_needs():
    scenario = _scenario([_queue("a"), _queue("b")], [{"name": "x", "skills": {"a": 1, "b": 1}}])
    pools = skill_set_requirements(_forecast({"a": 100.0, "b": 100.0}), scenario)
    assert set(pools["pool"]) == {"a+b"}
    # the merged queue: 200 calls per 30 min of 300 s = 33.3 Erlangs, Erlang C at 80/20
    merged = int(required_agents(200 / 1800, 300.0, 20.0, 0.8))
    one = int(required_agents(100 / 1800, 300.0, 20.0, 0.8))
    assert np.all(pools["required_agents"] == merged)
    assert one < merged < 2 * one  # pooling saves agents (39 vs 2 x 21)
    service = 1 - erlang_c(200 / 1800 * 300, merged) * np.exp(-(merged / 300 - 200 / 1800) * 20)
    assert service >= 0.8
    assert np.all(pools["model"] == "merged_erlang_c")


def test_the_strictest_member_target_binds():
    scenario = _scenario(
        [_queue("a"), _queue("b", level=0.9, within_s=10)],
        [{"name": "x", "skills": {"a": 1, "b": 1}}],
    )
    pools = skill_set_requirements(_forecast({"a": 150.0, "b": 30.0}), scenario)
    assert np.all(pools["binding_queue"] == "b")
    mixed = int(required_agents(180 / 1800, 300.0, 10.0, 0.9))
    assert np.all(pools["required_agents"] == mixed)


def test_sets_follow_the_agents_skills():
    chain = _scenario(
        [_queue("a"), _queue("b"), _queue("c"), {"name": "d", "channel": "chat", "aht_s": 300}],
        [
            {"name": "x", "skills": {"a": 1, "b": 1}},
            {"name": "y", "skills": {"b": 1, "c": 1}},
            {"name": "z", "skills": {"d": 1}},
        ],
    )
    # a and c share no agent: {a, c} needs no pool of its own; nobody serves d with another
    assert skill_sets(chain) == [("a", "b"), ("b", "c"), ("a", "b", "c")]
    blended = _scenario(
        [_queue("a"), {"name": "d", "channel": "chat", "aht_s": 300}],
        [{"name": "y", "skills": {"a": 1, "d": 1}}],
    )
    assert skill_sets(blended) == [("a", "d")]  # channels pool too: one agent serves both


def test_the_example_center_pools_its_blended_channels(example_scenario_path):
    sets = skill_sets(load_scenario(example_scenario_path))
    assert sets == [
        ("voice", "chat"),
        ("voice", "email"),
        ("chat", "email"),
        ("voice", "chat", "email"),
    ]


@settings(max_examples=30, deadline=None)
@given(
    volumes=st.lists(st.just(0.0) | st.floats(0.01, 400.0), min_size=3, max_size=3),
    ahts=st.lists(st.floats(60.0, 900.0), min_size=3, max_size=3),
    levels=st.lists(st.sampled_from([0.7, 0.8, 0.9]), min_size=3, max_size=3),
)
def test_a_set_needs_at_least_each_member_and_at_most_their_sum(volumes, ahts, levels):
    names = ["a", "b", "c"]
    queues = [_queue(q, aht_s=h, level=v) for q, h, v in zip(names, ahts, levels, strict=True)]
    scenario = _scenario(queues, [{"name": "x", "skills": {"a": 1, "b": 1, "c": 1}}])
    forecast = _forecast(dict(zip(names, volumes, strict=True)))
    per_queue = requirements(forecast, scenario)
    pools = skill_set_requirements(forecast, scenario, per_queue=per_queue)
    own = per_queue.pivot(index="interval_start", columns="queue", values="required_agents")
    for _, row in pools.iterrows():
        members = row["pool"].split("+")
        need = own.loc[row["interval_start"], members]
        assert need.max() <= row["required_agents"] <= need.sum()


def test_simulation_raises_a_pool_where_it_misses():
    scenario = _scenario([_queue("a"), _queue("b")], [{"name": "x", "skills": {"a": 1, "b": 1}}])
    forecast = _forecast({"a": 100.0, "b": 100.0})
    per_queue = requirements(forecast, scenario)
    pools = skill_set_requirements(forecast, scenario, per_queue=per_queue)
    short = pools.assign(required_agents=pools["required_agents"] - 3)  # 36 for 33.3 Erlangs
    corrected = correct_by_simulation(short, per_queue, scenario, rounds=2, seed=1)
    assert (corrected["correction"] > 0).any()
    assert np.all(
        corrected["required_agents"] == short["required_agents"] + corrected["correction"]
    )
    kept = correct_by_simulation(pools.assign(required_agents=45), per_queue, scenario, rounds=1)
    assert np.all(kept["correction"] == 0)  # 45 agents for 33.3 Erlangs miss nowhere


def test_a_simulated_miss_raises_the_queue_and_every_pool_holding_it():
    scenario = _scenario(
        [_queue("a"), _queue("b"), _queue("c")],
        [{"name": "x", "skills": {"a": 1, "b": 1}}, {"name": "y", "skills": {"b": 1, "c": 1}}],
    )
    forecast = _forecast({"a": 100.0, "b": 100.0, "c": 100.0})
    per_queue = requirements(forecast, scenario)
    pools = skill_set_requirements(forecast, scenario, per_queue=per_queue)
    # simulated: c misses in the first interval only
    intervals = pd.DataFrame(
        [
            (ts, q, "all", 50.0, 0.6 if (q == "c" and ts == STARTS[0]) else 0.9, 0.0)
            for ts in STARTS
            for q in "abc"
        ],
        columns=["interval_start", "queue", "segment", "offered", "service_level", "abandon_rate"],
    )
    raised, added = raise_where_missed(per_queue, intervals, scenario)
    assert added == 1
    diff = raised["required_agents"] - per_queue["required_agents"]
    assert set(raised.loc[diff == 1, "queue"]) == {"c"}
    raised_pools, added_pools = raise_where_missed(pools, intervals, scenario)
    diff = raised_pools.set_index(["pool", "interval_start"])["correction"]
    assert added_pools == 2  # b+c and a+b+c hold c; a+b does not
    assert diff[("b+c", STARTS[0])] == 1 and diff[("a+b+c", STARTS[0])] == 1
    assert diff[("a+b", STARTS[0])] == 0 and diff[("b+c", STARTS[1])] == 0


def _blended_center() -> Scenario:
    voice = {**_queue("voice", aht_s=240.0), "patience_s": 180.0}
    email = {
        "name": "email",
        "channel": "email",
        "aht_s": 360.0,
        "target": {"service_level": 0.9, "within_s": 28800},
    }
    return _scenario([voice, email], [{"name": "x", "skills": {"voice": 1, "email": 1}}])


def test_blended_email_is_carried_as_it_arrives_and_the_simulator_agrees():
    # the routing policy takes email whenever no call waits, so email work arrives with the
    # email: the pool needs more than voice alone although email's deadline would allow later
    scenario = _blended_center()
    forecast = _forecast({"voice": 150.0, "email": 40.0})
    per_queue = requirements(forecast, scenario)
    pools = skill_set_requirements(forecast, scenario, per_queue=per_queue)
    assert set(pools["pool"]) == {"voice+email"} and set(pools["model"]) == {"blended"}
    own = per_queue.pivot(index="interval_start", columns="queue", values="required_agents")
    voice_alone = own["voice"].to_numpy()
    need = pools.sort_values("interval_start")["required_agents"].to_numpy()
    email_erlangs = 40.0 * 360.0 / 1800.0  # 8 Erlangs of email work
    assert np.all(need >= voice_alone + email_erlangs - 2)
    # the simulator: the pool at its requirement meets voice's target, at voice's own misses
    kept = correct_by_simulation(pools, per_queue, scenario, rounds=1, replications=8, seed=3)
    assert kept["correction"].sum() <= 1
    alone = pools.assign(required_agents=voice_alone)
    raised = correct_by_simulation(alone, per_queue, scenario, rounds=1, replications=8, seed=3)
    assert np.all(raised["correction"] == 1)

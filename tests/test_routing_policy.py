"""The routing policy shared by the simulator and the live router."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openwfm.errors import ParameterError
from openwfm.model import EscalationStep, RoutingConfig, Scenario
from openwfm.routing import AgentState, RoutingPolicy, WaitingContact
from openwfm.routing import policy as policy_module
from openwfm.sim import engine


def _scenario(**routing) -> Scenario:
    return Scenario.model_validate(
        {
            "queues": [
                {"name": "sales", "aht_s": 200},
                {"name": "service", "aht_s": 200},
                {"name": "chat", "channel": "chat", "aht_s": 300, "max_concurrency": 3},
                {"name": "email", "channel": "email", "aht_s": 300},
            ],
            "segments": [
                {"name": "gold", "priority": 2, "share": {"sales": 0.2}},
                {"name": "standard", "priority": 1, "share": {"sales": 0.8}},
            ],
            "agent_groups": [{"name": "g", "count": 1, "skills": {"sales": 1.0}}],
            "routing": routing,
        }
    )


def _decide(routing: dict, contacts, agents, now=100.0):
    policy = RoutingPolicy.from_scenario(_scenario(**routing))
    return [(a.contact_id, a.agent_id) for a in policy.decide(contacts, agents, now)]


def test_simulator_runs_the_same_policy_functions():
    # one implementation: the engine imports the router's compiled decisions
    assert engine.select_agent is policy_module.select_agent
    assert engine.select_contact is policy_module.select_contact
    assert engine.effective_proficiency is policy_module.effective_proficiency


def test_longest_idle_agent_takes_the_oldest_contact():
    contacts = [
        WaitingContact("new", "sales", 90.0, "gold"),
        WaitingContact("old", "sales", 50.0, "standard"),
    ]
    agents = [
        AgentState("recent", {"sales": 1.0}, idle_since_s=80.0),
        AgentState("longest", {"sales": 0.5}, idle_since_s=10.0),
    ]
    assert _decide({}, contacts, agents) == [("old", "longest"), ("new", "recent")]


def test_ties_break_on_the_lower_index_deterministically():
    contacts = [WaitingContact("c", "sales", 0.0)]
    agents = [AgentState(name, {"sales": 1.0}, idle_since_s=5.0) for name in ("x", "y", "z")]
    assert _decide({}, contacts, agents) == [("c", "x")]


def test_best_skilled_routes_the_a_team_segment_to_the_most_proficient():
    contacts = [
        WaitingContact("std", "sales", 10.0, "standard"),
        WaitingContact("vip", "sales", 20.0, "gold"),
    ]
    agents = [
        AgentState("junior", {"sales": 0.5}, idle_since_s=0.0),
        AgentState("expert", {"sales": 1.0}, idle_since_s=50.0),
    ]
    routing = {"policy": "best_skilled", "a_team_segments": ["gold"]}
    # gold first (higher priority) and to the expert, although the junior idled longer
    assert _decide(routing, contacts, agents) == [("vip", "expert"), ("std", "junior")]
    # longest idle ignores both segment and skill
    assert _decide({}, contacts, agents) == [("std", "junior"), ("vip", "expert")]


def test_priority_aging_lets_a_long_wait_overtake_a_higher_priority():
    agents = [AgentState("a", {"sales": 1.0})]
    routing = {"policy": "priority_aging", "aging_per_s": 0.01}
    standard = WaitingContact("standard", "sales", 0.0, "standard")  # priority 1
    # gold (priority 2) arriving 95 s later: 0.95 of aged priority is not enough to overtake it
    gold_95 = WaitingContact("gold", "sales", 95.0, "gold")
    assert _decide(routing, [standard, gold_95], agents, now=300.0)[0][0] == "gold"
    # 150 s later: 1.5 of aged priority beats one step of segment priority
    gold_150 = WaitingContact("gold", "sales", 150.0, "gold")
    assert _decide(routing, [standard, gold_150], agents, now=300.0)[0][0] == "standard"


def test_escalation_widens_proficiency_then_other_queues():
    routing = {
        "min_proficiency": 0.8,
        "escalation": [
            {"after_s": 30, "min_proficiency": 0.3},
            {"after_s": 90, "extra_queues": ["service"]},
        ],
    }
    junior = AgentState("junior", {"sales": 0.4})
    helper = AgentState("helper", {"service": 0.9})
    waiting = [WaitingContact("c", "sales", 0.0)]
    assert _decide(routing, waiting, [junior, helper], now=10.0) == []
    assert _decide(routing, waiting, [helper], now=60.0) == []
    assert _decide(routing, waiting, [junior, helper], now=60.0) == [("c", "junior")]
    assert _decide(routing, waiting, [helper], now=95.0) == [("c", "helper")]


def test_chat_concurrency_and_one_channel_at_a_time():
    chatter = AgentState("c", {"chat": 1.0, "sales": 1.0}, load=1, channel="chat")
    contacts = [
        WaitingContact("call", "sales", 0.0),
        WaitingContact("chat1", "chat", 1.0),
        WaitingContact("chat2", "chat", 2.0),
        WaitingContact("chat3", "chat", 3.0),
    ]
    # holding one chat: no call, two more chats up to max_concurrency 3
    assert _decide({}, contacts, [chatter]) == [("chat1", "c"), ("chat2", "c")]


def test_live_contacts_before_deferred_email():
    contacts = [WaitingContact("mail", "email", 0.0), WaitingContact("call", "sales", 50.0)]
    agents = [AgentState("a", {"email": 1.0, "sales": 1.0})]
    assert _decide({}, contacts, agents) == [("call", "a")]


def test_unknown_queue_of_a_contact_is_a_parameter_error():
    policy = RoutingPolicy.from_scenario(_scenario())
    with pytest.raises(ParameterError, match="unknown queue 'nope'"):
        policy.decide([WaitingContact("c", "nope", 0.0)], [AgentState("a", {"sales": 1})], 1.0)


def test_policy_configured_from_the_scenario_file(example_scenario_path):
    from openwfm.scenario import load_scenario

    scenario = load_scenario(example_scenario_path)
    policy = RoutingPolicy.from_scenario(scenario)
    assert policy.config.policy == "best_skilled"
    assert list(policy.tables.a_team) == [s in ("gold",) for s in policy.segment_names]
    assert policy.tables.step_after_s.tolist() == [30.0, 90.0]


QUEUES = ["sales", "service", "chat", "email"]


@settings(max_examples=60, deadline=None)
@given(
    contacts=st.lists(
        st.tuples(
            st.sampled_from(QUEUES), st.floats(0, 100), st.sampled_from(["gold", "standard"])
        ),
        max_size=12,
    ),
    agents=st.lists(
        st.tuples(
            st.dictionaries(st.sampled_from(QUEUES), st.floats(0, 1), min_size=1),
            st.floats(0, 100),
            st.booleans(),
        ),
        max_size=8,
    ),
    policy_name=st.sampled_from(["longest_idle", "best_skilled", "priority_aging"]),
    min_proficiency=st.floats(0, 1),
)
def test_decisions_respect_capacity_and_eligibility(contacts, agents, policy_name, min_proficiency):
    routing = RoutingConfig(
        policy=policy_name,
        a_team_segments=["gold"],
        aging_per_s=0.01,
        min_proficiency=min_proficiency,
        escalation=[EscalationStep(after_s=50, min_proficiency=min_proficiency / 2)],
    )
    policy = RoutingPolicy.from_scenario(_scenario(), routing)
    waiting = [WaitingContact(f"c{i}", q, t, s) for i, (q, t, s) in enumerate(contacts)]
    states = [
        AgentState(f"a{i}", skills, idle_since_s=idle, available=up)
        for i, (skills, idle, up) in enumerate(agents)
    ]
    now = 120.0
    first = policy.decide(waiting, states, now)
    assert first == policy.decide(waiting, states, now)  # deterministic
    by_id = {c.contact_id: c for c in waiting}
    per_agent: dict[str, list[str]] = {}
    for assignment in first:
        contact = by_id[assignment.contact_id]
        agent = next(a for a in states if a.agent_id == assignment.agent_id)
        assert agent.available
        threshold = min_proficiency if now - contact.arrival_s < 50 else min_proficiency / 2
        assert agent.skills[contact.queue] >= threshold
        per_agent.setdefault(agent.agent_id, []).append(contact.queue)
    for queues in per_agent.values():
        channels = {"chat" if q == "chat" else "email" if q == "email" else "voice" for q in queues}
        assert len(channels) == 1
        assert len(queues) <= (3 if channels == {"chat"} else 1)
    # no assignable pair is left: every unassigned contact has no free eligible agent
    assigned = {a.contact_id for a in first}
    busy = {a.agent_id for a in first}
    for contact in waiting:
        if contact.contact_id in assigned or contact.queue == "chat":
            continue
        for agent in states:
            threshold = min_proficiency if now - contact.arrival_s < 50 else min_proficiency / 2
            free = agent.available and agent.agent_id not in busy
            if free and agent.skills.get(contact.queue, -1) >= threshold:
                pytest.fail(f"{contact} left waiting while {agent.agent_id} is free")


def test_a_contacts_own_priority_overrides_its_segment():
    agents = [AgentState("a", {"sales": 1.0})]
    routing = {"policy": "priority_aging"}
    old = WaitingContact("old", "sales", 0.0, "gold")  # segment priority 2
    urgent = WaitingContact("urgent", "sales", 50.0, "standard", priority=5.0)
    assert _decide(routing, [old, urgent], agents) == [("urgent", "a")]
    assert _decide(
        routing, [old, urgent.__class__("plain", "sales", 50.0, "standard")], agents
    ) == [("old", "a")]

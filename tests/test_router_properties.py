"""Random sequences of API calls never break the router's invariants (hypothesis, stateful).

Invariants, checked after every call against the store and the event log:

- an agent's load equals its pending offers plus its assigned and wrapping contacts, and never
  exceeds its capacity on that channel;
- a contact has at most one active offer (pending, or accepted while assigned/wrapping), and an
  assigned or wrapping contact has exactly one, accepted, for its agent;
- the event sequence is gap-free (1, 2, 3, ...);
- a contact that reached a terminal state never leaves it, and its history holds exactly one
  terminal event;
- no call answers 5xx.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sqlalchemy import select

from openwfm.routing import store as S
from router_support import Api, client_for, make_router

AGENTS = ["ann", "bob", "cat", "dan"]
SKILLS = {
    "ann": {"voice": 1.0, "chat": 0.5},
    "bob": {"voice": 0.6},
    "cat": {"chat": 0.9, "email": 0.8},
    "dan": {"voice": 0.3},
}
TERMINAL_EVENTS = {f"contact.{s}" for s in S.TERMINAL_STATES}


class RouterMachine(RuleBasedStateMachine):
    @initialize()
    def start(self):
        self.folder = Path(tempfile.mkdtemp(prefix="router-prop-"))
        self.router = make_router(self.folder, offer_timeout_s=15.0, max_missed_offers=2)
        self.client = client_for(self.router, background=False).__enter__()
        self.api = Api(self.client)
        self.contacts: list[str] = []
        self.terminal: dict[str, str] = {}
        self.clock = 0.0

    def teardown(self):
        if hasattr(self, "client"):
            self.client.__exit__(None, None, None)
            self.router.store.dispose()
            shutil.rmtree(self.folder, ignore_errors=True)

    def check(self, response, allowed=(200, 201, 409)):
        assert response.status_code in allowed, response.text

    @rule(
        queue=st.sampled_from(["voice", "chat", "email"]),
        segment=st.sampled_from([None, "gold", "standard"]),
        ttl=st.sampled_from([None, 20.0]),
    )
    def create(self, queue, segment, ttl):
        body = {"queue": queue}
        if segment:
            body["segment"] = segment
        if ttl:
            body["ttl_s"] = ttl
        response = self.api.create(**body)
        self.check(response, (201,))
        self.contacts.append(response.json()["id"])

    @rule(agent=st.sampled_from(AGENTS), status=st.sampled_from(["available", "away", "offline"]))
    def presence(self, agent, status):
        self.check(self.api.post(f"/v1/agents/{agent}/presence", status=status))

    @rule(agent=st.sampled_from(AGENTS), accept=st.booleans(), pick=st.integers(0, 3))
    def answer_offer(self, agent, accept, pick):
        offers = self.api.offers(agent)
        if offers:
            offer = offers[pick % len(offers)]
            verb = "accept" if accept else "reject"
            self.check(self.api.post(f"/v1/offers/{offer['id']}/{verb}"))

    @rule(
        pick=st.integers(0, 1000),
        action=st.sampled_from(["wrapup", "complete", "cancel", "abandon"]),
    )
    def act_on_contact(self, pick, action):
        if self.contacts:
            contact_id = self.contacts[pick % len(self.contacts)]
            self.check(self.api.post(f"/v1/contacts/{contact_id}/{action}"))

    @rule(agent=st.sampled_from(AGENTS), chat=st.integers(0, 3))
    def change_capacity(self, agent, chat):
        body = {"skills": SKILLS[agent], "capacity": {"chat": chat}}
        response = self.client.put(f"/v1/agents/{agent}", json=body, headers=self.api.headers())
        self.check(response)  # 409 when it would go below the chats the agent holds

    @rule(seconds=st.sampled_from([0.5, 5.0, 16.0, 31.0]))
    def advance(self, seconds):
        self.clock += seconds
        self.api.advance(self.clock)

    @invariant()
    def store_is_consistent(self):
        if not hasattr(self, "router"):
            return
        with self.router.store.read() as connection:
            agents = connection.execute(select(S.agents)).all()
            contacts = connection.execute(select(S.contacts)).all()
            offers = connection.execute(select(S.offers)).all()
            events = connection.execute(select(S.events).order_by(S.events.c.seq)).all()
        held = Counter(o.agent_id for o in offers if o.state == "pending")
        held.update(c.agent_id for c in contacts if c.state in ("assigned", "wrapping"))
        for agent in agents:
            assert agent.load == held[agent.agent_id], agent
            if agent.load:
                assert agent.load <= agent.capacity[agent.channel]
        active = Counter(o.contact_id for o in offers if o.active)
        assert all(count == 1 for count in active.values())
        by_id = {o.offer_id: o for o in offers}
        for contact in contacts:
            if contact.state in ("assigned", "wrapping"):
                offer = by_id[contact.offer_id]
                assert offer.state == "accepted" and offer.active
                assert offer.agent_id == contact.agent_id
            elif contact.state == "offered":
                assert by_id[contact.offer_id].state == "pending"
            else:
                assert active[contact.contact_id] == 0
            if contact.contact_id in self.terminal:
                assert contact.state == self.terminal[contact.contact_id]
            elif contact.state in S.TERMINAL_STATES:
                self.terminal[contact.contact_id] = contact.state
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        ends = Counter(e.contact_id for e in events if e.type in TERMINAL_EVENTS)
        for contact in contacts:
            assert ends[contact.contact_id] == (contact.state in S.TERMINAL_STATES)


RouterMachine.TestCase.settings = settings(
    max_examples=15,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_router_invariants = RouterMachine.TestCase

"""The routing loop on PostgreSQL (wall clock): API transactions only record the change, one
loop per center decides in passes, and a write still answers after the pass that saw it."""

from __future__ import annotations

import random
import threading
import time

from openwfm.routing.loop import RoutingLoop, start_routing
from router_support import Api, client_for, make_router, metric_samples, replay_events


def _wait_for(condition, timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_api_transactions_record_and_the_loop_routes_them(tmp_path, postgres_url):
    router = make_router(tmp_path, url=postgres_url, virtual=False, route_wait_s=0.0)
    with client_for(router) as client:
        api = Api(client)
        assert isinstance(router.loop, RoutingLoop)
        router.loop.stop()  # no loop: a change is recorded, nothing routes it
        api.presence("bob")
        contact_id = api.create(queue="voice").json()["id"]
        assert api.contact(contact_id)["state"] == "queued"
        assert api.offers("bob") == []
        assert api.events() == []  # the events wait in the inbox for a routing pass
        start_routing(router)  # the loop takes the lease and routes what was recorded
        assert _wait_for(lambda: api.contact(contact_id)["state"] == "offered")
        events = api.events()
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        assert [e["type"] for e in events] == ["agent.presence", "contact.created", "offer.created"]
        # the loop's thread counts a pass after its COMMIT, so the offer can be seen before
        # the counters move: wait for them (a slow machine once read passes_total 0 here)
        assert _wait_for(lambda: min(_counted(api)) >= 1)  # a pass and its offer counted
        assert _counted(api)[1] == 1  # one offer made, by one pass or more
        router.loop.stop()
    router.store.dispose()


def _counted(api: Api) -> tuple[float, float]:
    """(routing passes committed, offers made) as ``GET /metrics`` reports them."""
    samples = metric_samples(api.get("/metrics").text)
    return (
        samples["openwfm_router_routing_passes_total"],
        samples["openwfm_router_decisions_total"],
    )


def test_a_write_answers_after_the_pass_that_saw_it_in_any_process(tmp_path, postgres_url):
    # route_wait_s is the longest a write waits for its pass: a hang guard here, so a pass
    # slowed by a loaded machine is waited for (the write answers once that pass committed)
    first = make_router(tmp_path, url=postgres_url, virtual=False, route_wait_s=60.0)
    second = make_router(tmp_path, url=postgres_url, virtual=False, route_wait_s=60.0)
    with client_for(first) as one, client_for(second) as two:
        assert _wait_for(lambda: len(first.lease.held() | second.lease.held()) == 1)
        # through the lease holder's process and through the other one
        for client, agent, queue in ((one, "cat", "chat"), (two, "bob", "voice")):
            api = Api(client)
            api.presence(agent)
            created = api.create(key=queue, queue=queue, segment="standard").json()
            assert created["state"] == "queued"  # the answer is the contact as recorded
            assert [o["contact_id"] for o in api.offers(agent)] == [created["id"]]
            assert api.contact(created["id"])["state"] == "offered"
    first.store.dispose()
    second.store.dispose()


def test_concurrent_writers_never_double_assign_or_exceed_capacity(tmp_path, postgres_url):
    """Two router processes' worth of writers at once (presence, creates, accept, reject,
    complete, cancel) with the loop deciding: the event history replays without a double
    offer or a capacity violation, gap-free."""
    routers = [
        make_router(tmp_path, url=postgres_url, virtual=False, route_wait_s=0.0) for _ in "ab"
    ]
    with client_for(routers[0]) as one, client_for(routers[1]) as two:
        apis = [Api(one), Api(two)]
        agents = ["ann", "bob", "cat", "dan"]
        capacity = {a: apis[0].get(f"/v1/agents/{a}").json()["capacity"] for a in agents}
        stop = time.monotonic() + 3.0

        def agent_work(agent: str, seed: int) -> None:
            rng = random.Random(seed)
            while time.monotonic() < stop:
                api = rng.choice(apis)
                api.presence(agent, rng.choice(["available", "available", "away"]))
                for offer in api.offers(agent):
                    if rng.random() < 0.3:
                        api.post(f"/v1/offers/{offer['id']}/reject")
                    elif api.post(f"/v1/offers/{offer['id']}/accept").status_code == 200:
                        api.post(f"/v1/contacts/{offer['contact_id']}/complete")

        def customer_work(seed: int) -> None:
            rng = random.Random(seed)
            while time.monotonic() < stop:
                api = rng.choice(apis)
                created = api.create(queue=rng.choice(["voice", "chat", "email"]))
                if created.status_code == 201 and rng.random() < 0.2:
                    api.post(f"/v1/contacts/{created.json()['id']}/cancel")

        threads = [threading.Thread(target=agent_work, args=(a, k)) for k, a in enumerate(agents)]
        threads += [threading.Thread(target=customer_work, args=(9,))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for agent in agents:
            apis[0].presence(agent, "away")  # settle: every pending offer rescinded
        assert _wait_for(lambda: _inbox_empty(routers[0]))  # every event numbered
        events = apis[0].get("/v1/events", limit=10000).json()
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert sum(e["type"] == "offer.created" for e in events) > 0
    assert replay_events(events, capacity) == (0, 0)
    for router in routers:
        router.store.dispose()


def _inbox_empty(router) -> bool:
    from openwfm.routing import outbox

    with router.store.read() as connection:
        return not outbox.inbox_waiting(connection, "tiny")


def test_offers_whose_guard_fails_at_commit_write_nothing(tmp_path, postgres_url):
    """The offers of a pass go with its COMMIT in one round trip; when a planned offer is no
    longer possible the guard fails the whole transaction (GuardFailed, nothing written)."""
    import pytest

    from openwfm.routing import operations as O
    from openwfm.routing import transitions as T

    router = make_router(tmp_path, url=postgres_url)
    router.setup()
    O.set_presence(router, "tiny", "cat", "available")
    _, created = O.create_contact(router, "tiny", "k1", {"queue": "email"}, None)
    events = len(_events(router))
    with pytest.raises(T.GuardFailed):  # offered already: the plan no longer holds
        with router.store.write("tiny") as connection:
            tx = T.Tx(connection, "tiny", router.now(), lock=False)
            contact = T.contact_row(tx, created["id"])
            T.make_offers(tx, [T.PlannedOffer(contact, "cat", 0.8, "email", 1)], 30.0)
            tx.commit()
    assert len(O.agent_offers(router, "tiny", "cat")) == 1 and len(_events(router)) == events
    O.set_presence(router, "tiny", "cat", "away")  # the store is usable after the failure
    assert O.get_contact(router, "tiny", created["id"])["state"] == "queued"
    router.store.dispose()


def _events(router):
    from openwfm.routing import events as E

    return E.list_events(router.store, "tiny", 0)


def test_a_pass_runs_again_when_the_state_moved_under_it():
    import psycopg.errors
    from sqlalchemy.exc import OperationalError

    from openwfm.routing import transitions as T
    from openwfm.routing.loop import retried

    moved = psycopg.errors.SerializationFailure("could not serialize access")
    assert retried(moved)  # raised by the COMMIT's pipeline (psycopg's own error)
    assert retried(OperationalError("UPDATE", {}, moved))  # through SQLAlchemy
    assert retried(psycopg.errors.DeadlockDetected("deadlock")) and retried(T.GuardFailed("x"))
    assert not retried(psycopg.errors.AdminShutdown("terminating connection"))


def _recording_router(tmp_path, postgres_url):
    """A router whose API transactions only record (as with a routing loop), passes run by
    the test (:func:`openwfm.routing.loop.run_pass`)."""
    from openwfm.routing import operations as O

    class NoLoop:
        @staticmethod
        def after_commit(center, inbox_id) -> None:
            return None

    router = make_router(tmp_path, url=postgres_url, virtual=False)
    router.setup()
    router.loop = NoLoop()
    for agent in ("bob", "cat"):
        O.set_presence(router, "tiny", agent, "available")
    email = O.create_contact(router, "tiny", "k1", {"queue": "email"}, None)[1]["id"]
    voice = O.create_contact(router, "tiny", "k2", {"queue": "voice"}, None)[1]["id"]
    return router, email, voice


def _after_deciding(monkeypatch, change) -> None:
    """Run ``change`` (a committed API transaction) once, between a pass's reads and its
    write."""
    from openwfm.routing import core

    decide = core.decide_offers
    done = []

    def deciding(*args, **kwargs):
        plan = decide(*args, **kwargs)
        if not done:
            done.append(change())
        return plan

    monkeypatch.setattr(core, "decide_offers", deciding)


def test_a_pass_drops_the_offers_of_an_agent_who_moved_after_its_reads(
    tmp_path, postgres_url, monkeypatch
):
    """The pass writes in READ COMMITTED: an agent who went away between its reads and its
    write gets no offer (no error, nothing half-written) and that contact stays queued; the
    change it did not see stays in the inbox, numbered after the pass's events by the next
    pass, which routes the contact."""
    from openwfm.routing import operations as O
    from openwfm.routing.loop import run_pass

    router, email, voice = _recording_router(tmp_path, postgres_url)
    _after_deciding(monkeypatch, lambda: O.set_presence(router, "tiny", "cat", "away"))
    assert run_pass(router, "tiny") == (1, ["bob"])  # planned: email -> cat, voice -> bob
    assert O.get_contact(router, "tiny", email)["state"] == "queued"
    assert O.get_contact(router, "tiny", voice)["state"] == "offered"
    assert [e["type"] for e in _events(router)][-1] == "offer.created"
    assert not _inbox_empty(router)  # cat's change: not seen by the pass, not taken
    O.set_presence(router, "tiny", "cat", "available")
    assert run_pass(router, "tiny") == (1, ["cat"])
    assert O.get_contact(router, "tiny", email)["state"] == "offered"
    events = _events(router)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert [(e["type"], e["agent_id"]) for e in events[-4:]] == [
        ("offer.created", "bob"),
        ("agent.presence", "cat"),
        ("agent.presence", "cat"),
        ("offer.created", "cat"),
    ]
    assert _inbox_empty(router)
    router.store.dispose()


def test_a_pass_whose_planned_contact_moved_writes_nothing(tmp_path, postgres_url, monkeypatch):
    """A planned contact no longer queued at the write (canceled after the pass's reads)
    fails the whole pass (GuardFailed: run again), its other offers included."""
    import pytest

    from openwfm.routing import operations as O
    from openwfm.routing import transitions as T
    from openwfm.routing.loop import run_pass

    router, email, voice = _recording_router(tmp_path, postgres_url)
    _after_deciding(monkeypatch, lambda: O.cancel_contact(router, "tiny", email))
    with pytest.raises(T.GuardFailed):
        run_pass(router, "tiny")
    assert O.get_contact(router, "tiny", voice)["state"] == "queued"
    assert O.agent_offers(router, "tiny", "bob") == [] and _events(router) == []
    assert run_pass(router, "tiny") == (1, ["bob"])  # run again: the voice contact
    assert O.get_contact(router, "tiny", email)["state"] == "canceled"
    router.store.dispose()

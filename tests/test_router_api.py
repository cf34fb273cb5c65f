"""The live router through HTTP (FastAPI's client): transitions, error codes, routing cases."""

from __future__ import annotations

import pytest

from router_support import Api, client_for, make_router


@pytest.fixture
def api(tmp_path, router_db_url):
    router = make_router(tmp_path, url=router_db_url, offer_timeout_s=10.0, max_missed_offers=2)
    with client_for(router) as client:
        yield Api(client)


def test_contact_lifecycle_every_transition_is_an_event(api):
    api.presence("bob")
    created = api.create(queue="voice", segment="standard")
    assert created.status_code == 201
    body = created.json()
    assert body["state"] == "queued" and "estimated_wait_s" in body and "callback_offered" in body
    contact_id = body["id"]
    assert api.contact(contact_id)["state"] == "offered"
    (offer,) = api.offers("bob")
    assert offer["contact_id"] == contact_id and offer["state"] == "pending"
    assert offer["expires_at"] == 10.0
    accepted = api.post(f"/v1/offers/{offer['id']}/accept")
    assert accepted.status_code == 200
    assert accepted.json()["contact"]["state"] == "assigned"
    assert api.post(f"/v1/offers/{offer['id']}/accept").status_code == 409
    assert api.post(f"/v1/contacts/{contact_id}/cancel").status_code == 409  # never canceled
    api.advance(50.0)
    assert api.post(f"/v1/contacts/{contact_id}/wrapup").json()["state"] == "wrapping"
    assert api.post(f"/v1/contacts/{contact_id}/wrapup").status_code == 409
    api.advance(60.0)
    done = api.post(f"/v1/contacts/{contact_id}/complete").json()
    assert done["state"] == "completed" and done["answered_s"] == 0.0 and done["ended_s"] == 60.0
    assert api.post(f"/v1/contacts/{contact_id}/complete").status_code == 409
    events = api.events()
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    types = [e["type"] for e in events if e["contact_id"] == contact_id]
    assert types == [
        "contact.created",
        "offer.created",
        "offer.accepted",
        "contact.assigned",
        "contact.wrapping",
        "contact.completed",
    ]
    agent = api.get("/v1/agents/bob").json()
    assert agent["load"] == 0 and agent["idle_since_s"] == 60.0


def test_complete_straight_from_assigned(api):
    api.presence("cat")
    contact_id = api.create(queue="email").json()["id"]
    (offer,) = api.offers("cat")
    api.post(f"/v1/offers/{offer['id']}/accept")
    assert api.post(f"/v1/contacts/{contact_id}/complete").json()["state"] == "completed"


def test_idempotency_replay_conflict_and_missing_key(api):
    first = api.create(key="abc", queue="voice", segment="gold")
    again = api.create(key="abc", queue="voice", segment="gold")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    other = api.create(key="abc", queue="voice", segment="standard")
    assert other.status_code == 422
    assert other.headers["content-type"].startswith("application/problem+json")
    assert "Idempotency-Key" in other.json()["detail"]
    missing = api.client.post("/v1/contacts", json={"queue": "voice"}, headers=api.headers())
    assert missing.status_code == 400 and "Idempotency-Key" in missing.json()["detail"]
    created = [e for e in api.events() if e["type"] == "contact.created"]
    assert len(created) == 1


@pytest.mark.parametrize(
    ("path", "method", "body", "field", "status"),
    [
        ("/v1/contacts", "post", {"queue": "nope"}, "queue", 400),
        ("/v1/contacts", "post", {"queue": "voice", "segment": "platinum"}, "segment", 400),
        ("/v1/contacts", "post", {"queue": "voice", "ttl_s": -1}, "ttl_s", 400),
        ("/v1/agents/zed", "put", {"skills": {"voice": 1.5}}, "skills.voice", 400),
        (
            "/v1/agents/zed",
            "put",
            {"skills": {"voice": 1}, "capacity": {"chat": -1}},
            "capacity.chat",
            400,
        ),
        ("/v1/agents/zed", "put", {"skills": {"fax": 1}}, "skills.fax", 400),
        ("/v1/agents/ann/presence", "post", {"status": "asleep"}, "status", 400),
    ],
)
def test_bad_input_names_the_field_and_stores_nothing(api, path, method, body, field, status):
    before = api.events()
    headers = api.headers(key="bad-1")
    response = getattr(api.client, method)(path, json=body, headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in response.json()["detail"]
    assert api.events() == before
    assert api.create(key="bad-1", queue="voice").status_code == 201  # the key was not used


def test_malformed_json_and_oversized_body(api):
    headers = {**api.headers(key="m"), "Content-Type": "application/json"}
    malformed = api.client.post("/v1/contacts", content=b'{"queue": ', headers=headers)
    assert malformed.status_code == 400 and "body" in malformed.json()["detail"]
    huge = {"queue": "voice", "attributes": {"blob": "x" * 70_000}}
    oversized = api.client.post("/v1/contacts", json=huge, headers=headers)
    assert oversized.status_code == 413 and "body" in oversized.json()["detail"]
    assert api.events() == []


def test_a_team_gold_to_most_proficient_standard_to_longest_idle(api):
    api.presence("bob")  # idle since 0
    api.advance(10.0)
    api.presence("ann")  # idle since 10: bob has been idle longer
    gold = api.create(queue="voice", segment="gold").json()["id"]
    assert api.contact(gold)["agent_id"] is None
    assert [o["contact_id"] for o in api.offers("ann")] == [gold]  # best skilled, not bob
    assert api.offers("bob") == []
    (offer,) = api.offers("ann")
    api.post(f"/v1/offers/{offer['id']}/accept")
    api.post(f"/v1/contacts/{gold}/complete")  # ann idle since 10 again
    standard = api.create(queue="voice", segment="standard").json()["id"]
    assert [o["contact_id"] for o in api.offers("bob")] == [standard]  # longest idle


def test_escalation_after_the_steps_wait(api):
    api.presence("dan")  # proficiency 0.3 < min 0.5 until the step at 30 s
    contact_id = api.create(queue="voice").json()["id"]
    api.advance(29.9)
    assert api.contact(contact_id)["state"] == "queued"
    api.advance(35.0)
    assert [o["contact_id"] for o in api.offers("dan")] == [contact_id]
    offered = [e for e in api.events() if e["type"] == "offer.created"]
    assert offered[0]["at_s"] == 30.0
    assert any(e["type"] == "contact.escalated" for e in api.events())


def test_chat_concurrency_fills_to_capacity_and_no_further(api):
    api.presence("cat")
    chats = [api.create(queue="chat").json()["id"] for _ in range(4)]
    offers = api.offers("cat")
    assert [o["contact_id"] for o in offers] == chats[:3]
    for offer in offers:
        api.post(f"/v1/offers/{offer['id']}/accept")
    assert api.contact(chats[3])["state"] == "queued"
    assert api.get("/v1/agents/cat").json()["load"] == 3
    api.post(f"/v1/contacts/{chats[0]}/complete")
    assert [o["contact_id"] for o in api.offers("cat")] == [chats[3]]


def test_live_work_before_deferred(api):
    api.presence("ann")
    email = api.create(queue="email").json()["id"]  # ann has no email skill: waits
    api.presence("ann", "offline")
    chat = api.create(queue="chat").json()["id"]
    api.put_cat = api.client.put(
        "/v1/agents/cat",
        json={"skills": {"chat": 0.9, "email": 0.8}, "capacity": {"chat": 1}},
        headers=api.headers(),
    )
    api.presence("cat")
    assert [o["contact_id"] for o in api.offers("cat")] == [chat]  # the older email waits
    assert api.contact(email)["state"] == "queued"


def test_reject_and_expiry_return_the_contact_and_missed_offers_set_away(api):
    api.presence("ann")
    api.presence("bob")
    contact_id = api.create(queue="voice", segment="gold").json()["id"]
    (offer,) = api.offers("ann")
    rejected = api.post(f"/v1/offers/{offer['id']}/reject")
    assert rejected.status_code == 200 and rejected.json()["offer"]["state"] == "rejected"
    assert api.post(f"/v1/offers/{offer['id']}/reject").status_code == 409
    # back to queued, then offered to someone else (never again to the agent who declined)
    (again,) = api.offers("bob")
    assert again["contact_id"] == contact_id and api.offers("ann") == []
    api.advance(10.0)  # bob lets it expire
    assert api.contact(contact_id)["state"] == "queued"
    assert api.get("/v1/agents/bob").json()["missed_offers"] == 1
    other = api.create(queue="voice", segment="standard").json()["id"]
    (second,) = api.offers("bob")
    assert second["contact_id"] == other
    api.advance(20.0)  # a second expiry in a row: bob is set away
    assert api.get("/v1/agents/bob").json()["status"] == "away"
    types = [e["type"] for e in api.events()]
    assert types.count("offer.expired") == 2 and "agent.presence" in types


def test_going_offline_rescinds_pending_offers(api):
    api.presence("bob")
    contact_id = api.create(queue="voice").json()["id"]
    (offer,) = api.offers("bob")
    api.presence("bob", "offline")
    assert api.contact(contact_id)["state"] == "queued"
    assert api.post(f"/v1/offers/{offer['id']}/accept").status_code == 409
    assert any(e["type"] == "offer.rescinded" for e in api.events())


def test_cancel_abandon_and_ttl(api):
    queued = api.create(queue="voice").json()["id"]
    assert api.post(f"/v1/contacts/{queued}/cancel").json()["state"] == "canceled"
    assert api.post(f"/v1/contacts/{queued}/cancel").status_code == 409
    caller = api.create(queue="voice").json()["id"]
    assert api.post(f"/v1/contacts/{caller}/abandon").json()["state"] == "abandoned"
    email = api.create(queue="email").json()
    assert email["due_s"] == email["arrival_s"] + 20.0  # deferred work carries its target
    assert api.post(f"/v1/contacts/{email['id']}/abandon").status_code == 409  # never abandoned
    short = api.create(queue="voice", ttl_s=5).json()["id"]
    api.presence("bob")
    offered = api.create(queue="voice").json()["id"]
    api.advance(6.0)
    assert api.contact(short)["state"] == "expired"
    assert api.contact(offered)["state"] == "offered"
    assert api.post(f"/v1/contacts/{offered}/cancel").json()["state"] == "canceled"
    assert api.get("/v1/agents/bob").json()["load"] == 0
    assert api.get("/v1/contacts/nope").status_code == 404


def test_on_behalf_of_is_kept_on_the_contact_and_in_events(api):
    assistant = {"kind": "voice_assistant", "name": "Alexa"}
    contact = api.create(queue="voice", on_behalf_of=assistant, customer_id="c-1").json()
    assert contact["on_behalf_of"] == assistant
    created = [e for e in api.events() if e["type"] == "contact.created"][0]
    assert created["data"]["on_behalf_of"] == assistant


def test_event_stream_sends_server_sent_events(api):
    api.presence("bob")
    api.create(queue="voice")
    with api.client.stream(
        "GET", "/v1/events/stream", params={"max_events": 3}, headers=api.headers()
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join(response.iter_text())
    assert text.count("\nevent: ") + text.startswith("event: ") == 3
    assert text.startswith("id: 1\n")


def test_queue_stats_now_and_windows(api):
    api.presence("bob")
    answered = api.create(queue="voice").json()["id"]
    (offer,) = api.offers("bob")
    api.advance(4.0)
    api.post(f"/v1/offers/{offer['id']}/accept")
    api.create(queue="voice")
    api.advance(30.0)
    api.post(f"/v1/contacts/{answered}/complete")
    stats = api.get("/v1/queues/voice/stats").json()
    assert stats["now"]["waiting"] == 1  # offered to bob when he finished, not yet answered
    assert stats["now"]["agents"]["busy"] == 1
    today = stats["today"]
    assert today["answered"] == 1 and today["asa_s"] == 4.0 and today["aht_s"] == 26.0
    assert today["service_level"] == 1.0 and today["target_s"] == 20.0
    assert api.get("/v1/queues/nope/stats").status_code == 404


def test_health_and_readiness(api):
    assert api.client.get("/healthz").json() == {"ok": True}
    assert api.client.get("/readyz").json() == {"ready": True}
    assert api.client.get("/openapi.json").status_code == 200


def test_readiness_is_false_when_the_store_is_unreachable(api, tmp_path):
    from openwfm.routing.store import Store

    router = api.client.app.state.router
    working = router.store
    router.store = Store(f"sqlite:///{tmp_path / 'missing' / 'router.db'}")
    try:
        response = api.client.get("/readyz")
        assert response.status_code == 503 and response.json() == {"ready": False}
    finally:
        router.store = working


def test_a_contact_priority_overrides_its_segment(api):
    first = api.create(queue="voice", segment="gold").json()["id"]
    urgent = api.create(queue="voice", segment="standard", priority=5).json()["id"]
    api.advance(3.0)
    api.presence("bob")  # one free slot: the higher priority goes first, though it came later
    assert [o["contact_id"] for o in api.offers("bob")] == [urgent]
    assert api.contact(first)["state"] == "queued"

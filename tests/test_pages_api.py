"""The live pages' HTTP endpoints: wallboard figures, agents, waiting contacts, the agent's
desk, moving a contact, the published outlook, and who may call what."""

from __future__ import annotations

import pytest

from router_support import Api, client_for, make_router


@pytest.fixture()
def api(tmp_path):
    router = make_router(tmp_path)
    with client_for(router, background=False) as client:
        yield Api(client)


def token(api: Api, agent: str) -> str:
    response = api.post(f"/v1/agents/{agent}/token")
    assert response.status_code == 200, response.text
    return response.json()["token"]


def key(api: Api, *scopes: str) -> str:
    response = api.post("/v1/keys", scopes=list(scopes))
    assert response.status_code == 201, response.text
    return response.json()["key"]


def tile(api: Api, queue: str, token_=None) -> dict:
    response = api.get("/v1/wallboard", token=token_)
    assert response.status_code == 200, response.text
    return next(t for t in response.json()["queues"] if t["queue"] == queue)


def test_pages_are_served_with_their_scripts_and_plotly(api):
    for path in ("/dashboard", "/dashboard?tv=1", "/supervisor", "/agent"):
        page = api.client.get(path)
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert "/static/common.js" in page.text
    assert 'class="page-dashboard tv"' in api.client.get("/dashboard?tv=1").text
    for name in ("common.js", "dashboard.js", "supervisor.js", "agent.js", "style.css"):
        assert api.client.get(f"/static/{name}").status_code == 200
    bundle = api.client.get("/static/plotly.min.js")
    assert bundle.status_code == 200 and "plotly" in bundle.text[:2000].lower()
    assert api.client.get("/static/..%2Fapi.py").status_code == 404


def test_wallboard_counts_a_contact_waiting_then_answered_within_target(api):
    before = tile(api, "voice")
    assert before["waiting"] == 0 and before["today"]["service_level"] is None
    created = api.create(queue="voice", segment="standard").json()
    now = tile(api, "voice")
    assert now["waiting"] == 1
    assert now["estimated_wait_s"] is None  # nobody logged in for voice
    assert now["agents"]["offline"] == 3  # ann, bob, dan have voice
    api.advance(10.0)
    assert tile(api, "voice")["longest_wait_s"] == pytest.approx(10.0)
    api.presence("bob")
    offer = api.offers("bob")[0]
    assert api.post(f"/v1/offers/{offer['id']}/accept").status_code == 200
    answered = tile(api, "voice")
    assert answered["waiting"] == 0
    assert answered["agents"]["busy"] == 1
    assert answered["today"]["answered"] == 1 and answered["today"]["service_level"] == 1.0
    api.advance(100.0)
    assert api.post(f"/v1/contacts/{created['id']}/wrapup").status_code == 200
    assert tile(api, "voice")["agents"]["wrap_up"] == 1
    api.advance(130.0)
    assert api.post(f"/v1/contacts/{created['id']}/complete").status_code == 200
    done = tile(api, "voice")["today"]
    assert done["aht_s"] == pytest.approx(90.0)  # answer at 10 to wrap-up at 100
    assert done["asa_s"] == pytest.approx(10.0)


def test_service_level_uses_the_segment_target_and_abandonment_counts(api):
    # gold has no own target in the tiny center: voice's 20 s applies to both
    late = api.create(queue="voice", segment="gold").json()
    gone = api.create(queue="voice").json()
    api.advance(25.0)
    assert api.post(f"/v1/contacts/{gone['id']}/abandon").status_code == 200
    api.presence("ann")
    offer = api.offers("ann")[0]
    assert offer["contact_id"] == late["id"]
    api.post(f"/v1/offers/{offer['id']}/accept")
    today = tile(api, "voice")["today"]
    assert today["offered"] == 2 and today["abandoned"] == 1
    assert today["answered_within_target"] == 0 and today["service_level"] == 0.0
    assert today["abandon_rate"] == 0.5


def test_free_chat_capacity_counts_slots(api):
    api.presence("cat")
    assert tile(api, "chat")["free_capacity"] == 3
    api.create(queue="chat")
    assert tile(api, "chat")["free_capacity"] == 2


def test_agents_board_shows_state_time_in_state_and_contacts(api):
    api.presence("ann")
    api.advance(40.0)
    agents = {a["id"]: a for a in api.get("/v1/agents").json()["agents"]}
    assert agents["ann"]["state"] == "available"
    assert agents["ann"]["time_in_state_s"] == pytest.approx(40.0)
    assert agents["bob"]["state"] == "offline" and agents["bob"]["adherence"] is None
    contact = api.create(queue="voice").json()
    offer = api.offers("ann")[0]
    api.post(f"/v1/offers/{offer['id']}/accept")
    ann = next(a for a in api.get("/v1/agents").json()["agents"] if a["id"] == "ann")
    assert ann["state"] == "busy"
    assert ann["contacts"] == [
        {"id": contact["id"], "queue": "voice", "state": "assigned", "segment": "default"}
    ]


def test_waiting_contacts_are_oldest_first_with_gold_marked(api):
    first = api.create(queue="voice", segment="standard").json()
    api.advance(5.0)
    second = api.create(queue="voice", segment="gold").json()
    waiting = api.get("/v1/contacts").json()["contacts"]
    assert [c["id"] for c in waiting] == [first["id"], second["id"]]
    assert [c["gold"] for c in waiting] == [False, True]
    assert waiting[0]["wait_s"] == pytest.approx(5.0)


def test_agent_desk_shows_offers_with_customer_context_and_own_figures(api):
    ann = token(api, "ann")
    api.presence("ann", token=ann)
    api.create(
        queue="voice",
        customer_id="c-42",
        attributes={"plan": "premium"},
        on_behalf_of={"kind": "assistant", "name": "Siri"},
    )
    desk = api.get("/v1/agents/ann/desk", token=ann).json()
    (offer,) = desk["offers"]
    assert offer["contact"]["customer_id"] == "c-42"
    assert offer["contact"]["attributes"] == {"plan": "premium"}
    assert offer["contact"]["on_behalf_of"] == {"kind": "assistant", "name": "Siri"}
    assert offer["expires_in_s"] == pytest.approx(30.0)
    assert api.post(f"/v1/offers/{offer['id']}/accept", token=ann).status_code == 200
    api.advance(60.0)
    contact_id = offer["contact_id"]
    assert api.post(f"/v1/contacts/{contact_id}/complete", token=ann).status_code == 200
    desk = api.get("/v1/agents/ann/desk", token=ann).json()
    assert desk["offers"] == [] and desk["contacts"] == []
    assert desk["today"]["handled"] == 1 and desk["today"]["aht_s"] == pytest.approx(60.0)
    assert desk["today"]["offers_accepted"] == 1
    assert api.get("/v1/me", token=ann).json() == {
        "kind": "agent",
        "center": "tiny",
        "agent_id": "ann",
        "scopes": [],
    }


def test_move_contact_rescinds_the_offer_and_keeps_the_place_in_line(api):
    api.presence("cat")
    chat = api.create(queue="chat").json()
    assert api.contact(chat["id"])["state"] == "offered"
    api.advance(3.0)
    moved = api.post(f"/v1/contacts/{chat['id']}/move", queue="chat")
    assert moved.status_code == 200 and moved.json()["state"] == "offered"  # same queue: no-op
    voice = api.create(queue="voice").json()
    api.presence("ann")
    assert api.contact(voice["id"])["state"] == "offered"  # to ann
    response = api.post(f"/v1/contacts/{voice['id']}/move", queue="email")
    assert response.status_code == 400 and response.json()["field"] == "queue"
    assert api.post(f"/v1/contacts/{voice['id']}/move", queue="nope").status_code == 400
    types = [e["type"] for e in api.events()]
    assert "contact.moved" not in types
    # ann's offer is rescinded when the contact moves; it is then offered again by the policy
    api.presence("ann", "away")
    api.presence("bob")
    offered = api.contact(voice["id"])
    assert offered["state"] == "offered"
    response = api.post(f"/v1/contacts/{voice['id']}/move", queue="voice")
    assert response.status_code == 200
    body = api.get(f"/v1/contacts/{chat['id']}").json()
    assert body["arrival_s"] == 0.0


def test_move_to_another_queue_of_the_same_channel(tmp_path):
    from router_support import TINY

    scenario = TINY.replace(
        "  - {name: email, channel: email, aht_s: 300}",
        "  - {name: email, channel: email, aht_s: 300}\n"
        "  - {name: voice2, channel: voice, aht_s: 200, target: {within_s: 30}}",
    ).replace("{name: bob, skills: {voice: 0.6}}", "{name: bob, skills: {voice2: 0.6}}")
    (tmp_path / "tiny.yaml").write_text(scenario, encoding="utf-8")
    from openwfm.routing.center import RouterSettings, load_centers
    from openwfm.routing.core import Router
    from openwfm.routing.store import Store

    router = Router(
        Store(f"sqlite:///{tmp_path / 'r.db'}"),
        load_centers([tmp_path / "tiny.yaml"]),
        RouterSettings(),
        virtual_clock=True,
    )
    with client_for(router, background=False) as client:
        api = Api(client)
        api.presence("ann")
        contact = api.create(queue="voice").json()
        offer = api.offers("ann")[0]
        api.advance(12.0)
        response = api.post(f"/v1/contacts/{contact['id']}/move", queue="voice2")
        assert response.status_code == 200, response.text
        moved = response.json()
        assert moved["queue"] == "voice2" and moved["state"] == "queued"
        assert moved["arrival_s"] == 0.0
        assert api.get("/v1/agents/ann/offers").json() == []
        states = {e["offer_id"]: e["type"] for e in api.events() if e["offer_id"]}
        assert states[offer["id"]] == "offer.rescinded"
        moved_event = [e for e in api.events() if e["type"] == "contact.moved"]
        assert moved_event[0]["data"] == {"queue": "voice2", "previous": "voice"}
        api.presence("bob")
        assert api.offers("bob")[0]["contact_id"] == contact["id"]
        bob_offer = api.offers("bob")[0]
        api.post(f"/v1/offers/{bob_offer['id']}/accept")
        assert tile(api, "voice2")["today"]["answered"] == 1
        assert tile(api, "voice")["today"]["offered"] == 0
        response = api.post(f"/v1/contacts/{contact['id']}/move", queue="voice")
        assert response.status_code == 409 and response.json()["field"] == "state"


def test_who_may_call_what(api):
    ann = token(api, "ann")
    reader = key(api, "stats:read")
    assert api.get("/v1/wallboard", token=ann).status_code == 403
    assert api.get("/v1/agents", token=ann).status_code == 403
    assert api.get("/v1/contacts", token=ann).status_code == 403
    assert api.get("/v1/agents/bob/desk", token=ann).status_code == 403
    assert api.get("/v1/agents/ann/desk", token=ann).status_code == 200
    assert api.get("/v1/wallboard", token=reader).status_code == 200
    assert api.get("/v1/agents", token=reader).status_code == 403
    assert api.get("/v1/wallboard", token="nope").status_code == 401
    contact = api.create(queue="voice").json()
    move = f"/v1/contacts/{contact['id']}/move"
    assert api.post(move, token=ann, queue="voice").status_code == 403
    assert api.post(move, token=reader, queue="voice").status_code == 403
    writer = key(api, "contacts:write")
    assert api.post(move, token=writer, queue="voice").status_code == 200
    publish = api.client.put("/v1/intraday/outlook", json={}, headers=api.headers(writer))
    assert publish.status_code == 403


def test_published_outlook_and_alerts_show_on_the_wallboard(api):
    body = {
        "as_of": "2024-01-01T10:00",
        "outlook": {"voice": [{"start": "2024-01-01T10:00", "service_level": 0.62}]},
        "alerts": [{"queue": "voice", "rule": "sl_below", "message": "SL 62% < 80%"}],
    }
    response = api.client.put("/v1/intraday/outlook", json=body, headers=api.headers())
    assert response.status_code == 200, response.text
    voice = tile(api, "voice")
    assert voice["outlook"][0]["service_level"] == 0.62
    assert voice["alerts"][0]["message"] == "SL 62% < 80%"
    assert tile(api, "chat")["alerts"] == []
    assert api.events()[-1]["type"] == "intraday.outlook"
    bad = {"alerts": [{"queue": "nope", "rule": "x"}]}
    response = api.client.put("/v1/intraday/outlook", json=bad, headers=api.headers())
    assert response.status_code == 400 and response.json()["field"] == "queue"


def free_port_number() -> int:
    """A TCP port free now on 127.0.0.1 (for a real ``openwfm serve``)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_intraday_outlook_result_is_published_to_the_wallboard(api):
    import pandas as pd

    from openwfm.intraday import ALERT_COLUMNS, OutlookResult
    from openwfm.web.publish import adherence_now, outlook_payload

    starts = pd.to_datetime(["2024-01-01 09:00", "2024-01-01 10:00", "2024-01-01 11:00"])
    intervals = pd.DataFrame(
        {
            "interval_start": list(starts) * 2,
            "queue": ["voice"] * 3 + ["chat"] * 3,
            "projected_service_level": [float("nan"), 0.71, 0.9, float("nan"), 1.2, 0.95],
            "projected_abandon": [float("nan"), 0.05, 0.02, float("nan"), 0.0, 0.01],
            "past": [True, False, False, True, False, False],
        }
    )
    result = OutlookResult(intervals, pd.DataFrame(), pd.Timestamp("2024-01-01 10:00"))
    alerts = pd.DataFrame(
        [
            ["a1", "sl", "projected_service_level", "voice", starts[1], 0.71, "below", 0.8, 3600,
             "projected_service_level of voice is 0.71, below 0.8"],
            ["a2", "adh", "adherence", "ann", starts[1], 0.5, "below", 0.9, 0, "ann"],
        ],
        columns=ALERT_COLUMNS,
    )  # fmt: skip
    now = pd.DataFrame(
        {
            "agent_id": ["bob"],
            "activity": ["phone"],
            "out_since": [pd.Timestamp("2024-01-01 09:50")],
        }
    )
    adherence = adherence_now(now, roster=["ann", "bob"])
    body = outlook_payload(result, alerts, queues=["voice", "chat", "email"], adherence=adherence)
    assert [p["service_level"] for p in body["outlook"]["voice"]] == [0.71, 0.9]
    assert body["outlook"]["chat"][0]["service_level"] == 1.0  # clipped to a fraction
    assert [a["queue"] for a in body["alerts"]] == ["voice"]  # the agent alert stays out
    response = api.client.put("/v1/intraday/outlook", json=body, headers=api.headers())
    assert response.status_code == 200, response.text
    voice = tile(api, "voice")
    assert voice["outlook"][0] == {
        "start": "2024-01-01T10:00:00",
        "service_level": 0.71,
        "abandon_rate": 0.05,
    }
    assert voice["alerts"][0]["message"].startswith("projected_service_level of voice")
    agents = {a["id"]: a["adherence"] for a in api.get("/v1/agents").json()["agents"]}
    assert agents["ann"] == {"in_adherence": True, "activity": None, "out_since": None}
    assert agents["bob"] == {
        "in_adherence": False,
        "activity": "phone",
        "out_since": "2024-01-01T09:50:00",
    }
    assert agents["cat"] is None

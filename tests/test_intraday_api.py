"""The intraday HTTP layer: the published examples over HTTP, bad input as 422 naming the field."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from openwfm.intraday.api import create_intraday_app


@pytest.fixture(scope="module")
def client():
    with TestClient(create_intraday_app()) as c:
        yield c


GENESYS = {
    "events": [
        {"agent_id": "a", "ts": "2024-03-04T09:10:00", "state": "available"},
        {"agent_id": "a", "ts": "2024-03-04T10:10:00", "state": "logged_out"},
        {"agent_id": "ghost", "ts": "2024-03-04T09:00:00", "state": "available"},
    ],
    "schedule": [
        {
            "agent_id": "a",
            "start": "2024-03-04T09:00:00",
            "end": "2024-03-04T10:00:00",
            "activity": "voice",
        }
    ],
    "start": "2024-03-04T08:00:00",
    "end": "2024-03-04T12:00:00",
}


def test_genesys_example_over_http(client):
    response = client.post("/v1/intraday/adherence", json=GENESYS)
    assert response.status_code == 200, response.text
    body = response.json()
    (day,) = body["by_day"]
    assert round(day["adherence"], 3) == 0.714
    assert [r["agent_id"] for r in body["rejected"]] == ["ghost"]
    assert {e["type"] for e in body["exceptions"]} == {"not_present", "not_scheduled"}
    nice = client.post("/v1/intraday/adherence", json={**GENESYS, "preset": "nice"}).json()
    assert nice["by_day"][0]["adherence"] == pytest.approx(50 / 60)


def test_out_of_order_events_are_422_naming_the_field(client):
    events = [GENESYS["events"][1], GENESYS["events"][0]]
    response = client.post("/v1/intraday/adherence", json={**GENESYS, "events": events})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["field"] == "ts" and "out-of-order" in response.json()["detail"]


def test_unmapped_state_and_bad_map_are_422(client):
    unmapped = {**GENESYS, "map": {"rules": [{"state": "available", "adherence": "in"}]}}
    response = client.post("/v1/intraday/adherence", json=unmapped)
    assert response.status_code == 422 and response.json()["field"] == "rules"
    bad = {**GENESYS, "map": {"rules": [{"state": "available", "adherence": "maybe"}]}}
    response = client.post("/v1/intraday/adherence", json=bad)
    assert response.status_code == 422 and "adherence" in response.json()["field"]
    missing = {k: v for k, v in GENESYS.items() if k != "schedule"}
    assert client.post("/v1/intraday/adherence", json=missing).status_code == 422


def test_outlook_over_http(client):
    starts = [f"2024-03-04T{h:02d}:{m:02d}:00" for h in range(9, 17) for m in (0, 15, 30, 45)]
    body = {
        "scenario": {"queues": [{"name": "voice", "aht_s": 300, "patience_s": 600}]},
        "forecast": [{"interval_start": s, "queue": "voice", "forecast": 4.0} for s in starts],
        "agents": [{"interval_start": s, "queue": "voice", "agents": 1.0} for s in starts],
        "contacts": [
            {
                "queue": "voice",
                "arrival_time": "2024-03-04T09:58:00",
                "outcome": "answered",
                "answer_time": "2024-03-04T10:03:00",
                "wait_s": 300,
                "handle_s": 200,
            },
        ],
        "as_of": "2024-03-04T10:00:00",
    }
    response = client.post("/v1/intraday/outlook", json=body)
    assert response.status_code == 200, response.text
    (queue,) = response.json()["queues"]
    assert queue["waiting_now"] == 1 and queue["longest_wait_s"] == 120
    assert any(a["rule"] == "projected-sl" for a in response.json()["alerts"])
    bad = {**body, "scenario": {"queues": [{"name": "voice"}]}}
    response = client.post("/v1/intraday/outlook", json=bad)
    assert response.status_code == 422 and "aht_s" in response.json()["field"]

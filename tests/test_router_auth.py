"""Who may do what: 401 without a token, 403 for another agent, keys bound to one center."""

from __future__ import annotations

import pytest

from openwfm.routing.service import create_app
from router_support import ADMIN, Api, client_for, make_router


@pytest.fixture
def api(tmp_path, router_db_url):
    router = make_router(tmp_path, names=("north", "south"), url=router_db_url)
    with client_for(router) as client:
        yield Api(client)


def token_for(api, agent, center="north"):
    response = api.client.post(
        f"/v1/agents/{agent}/token", params={"center": center}, headers=api.headers()
    )
    assert response.status_code == 200
    return response.json()["token"]


def key_for(api, scopes, center="north"):
    response = api.client.post(
        "/v1/keys", params={"center": center}, json={"scopes": scopes}, headers=api.headers()
    )
    assert response.status_code == 201
    return response.json()["key"]


def test_no_token_is_401_and_unknown_token_is_401(api):
    assert api.client.get("/v1/events").status_code == 401
    bad = api.client.get("/v1/events", headers={"Authorization": "Bearer owk_x.y"})
    assert bad.status_code == 401
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert "Authorization" in bad.json()["detail"]


def test_admin_must_name_the_center_when_there_are_several(api):
    response = api.client.get("/v1/events", headers=api.headers())
    assert response.status_code == 400 and "center" in response.json()["detail"]
    ok = api.client.get("/v1/events", params={"center": "south"}, headers=api.headers())
    assert ok.status_code == 200


def test_agent_token_acts_only_for_its_agent(api):
    ann = token_for(api, "ann")
    bob = token_for(api, "bob")
    assert api.presence("ann", token=ann)["status"] == "available"
    assert api.post("/v1/agents/bob/presence", token=ann, status="available").status_code == 403
    api.presence("bob", token=bob)
    integration = key_for(api, ["contacts:create", "contacts:read"])
    gold = api.create(token=integration, queue="voice", segment="gold").json()["id"]
    (offer,) = api.offers("ann", token=ann)
    assert api.get("/v1/agents/ann/offers", token=bob).status_code == 403
    assert api.post(f"/v1/offers/{offer['id']}/accept", token=bob).status_code == 403
    assert api.post(f"/v1/offers/{offer['id']}/reject", token=bob).status_code == 403
    assert api.post(f"/v1/offers/{offer['id']}/accept", token=ann).status_code == 200
    assert api.get(f"/v1/contacts/{gold}", token=bob).status_code == 403
    assert api.get(f"/v1/contacts/{gold}", token=ann).json()["state"] == "assigned"
    assert api.post(f"/v1/contacts/{gold}/complete", token=bob).status_code == 403
    assert api.post(f"/v1/contacts/{gold}/cancel", token=ann).status_code == 403
    assert api.post(f"/v1/contacts/{gold}/complete", token=ann).json()["state"] == "completed"
    assert (
        api.client.put(
            "/v1/agents/ann", json={"skills": {"voice": 1}}, headers=api.headers(ann)
        ).status_code
        == 403
    )
    assert api.get("/v1/events", token=ann).status_code == 403


def test_revoked_agent_token_is_401(api):
    ann = token_for(api, "ann")
    api.client.delete("/v1/agents/ann/token", params={"center": "north"}, headers=api.headers())
    assert api.post("/v1/agents/ann/presence", token=ann, status="away").status_code == 401


def test_integration_key_scopes(api):
    reader = key_for(api, ["events:read"])
    assert api.get("/v1/events", token=reader).status_code == 200
    spare = key_for(api, ["events:read"])
    revoked = api.client.delete(
        f"/v1/keys/{spare}", params={"center": "north"}, headers=api.headers()
    )
    assert revoked.status_code == 200
    assert api.get("/v1/events", token=spare).status_code == 401
    assert api.create(token=reader, queue="voice").status_code == 403
    assert (
        api.client.post(
            "/v1/keys", params={"center": "north"}, json={"scopes": ["root"]}, headers=api.headers()
        ).status_code
        == 400
    )


def test_centers_never_see_each_other(api):
    north = key_for(api, ["contacts:create", "contacts:read", "events:read"], "north")
    south = key_for(api, ["contacts:create", "contacts:read", "events:read"], "south")
    north_contact = api.create(token=north, queue="voice").json()["id"]
    assert api.get(f"/v1/contacts/{north_contact}", token=north).status_code == 200
    assert api.get(f"/v1/contacts/{north_contact}", token=south).status_code == 404
    assert api.get(f"/v1/contacts/{north_contact}", token=north, center="south").status_code == 403
    assert api.get("/v1/events", token=south).json() == []
    # the same idempotency key in two centers makes two contacts
    first = api.create(token=north, key="same", queue="voice").json()["id"]
    second = api.create(token=south, key="same", queue="voice").json()["id"]
    assert first != second
    ann_north = token_for(api, "ann", "north")
    assert (
        api.post(
            "/v1/agents/ann/presence",
            token=ann_north,
            status="available",
        ).status_code
        == 200
    )
    south_ann = api.client.get(
        "/v1/agents/ann", params={"center": "south"}, headers=api.headers()
    ).json()
    assert south_ann["status"] == "offline"


def test_the_app_refuses_to_run_without_an_admin_key(tmp_path):
    with pytest.raises(ValueError, match="OPENWFM_ADMIN_KEY"):
        create_app(make_router(tmp_path), "")
    assert ADMIN

"""The intraday stage inside ``openwfm serve``: its endpoints behind the router's auth, a
re-plan published to the supervisor's desk and a proposal accepted through the API (a new
schedule version), and adherence now: "no published schedule" until one is published, then
live from the router's own agent events against that schedule."""

from __future__ import annotations

import pandas as pd
import pytest

from openwfm.routing.center import RouterSettings, load_centers
from openwfm.routing.core import Router
from openwfm.routing.service import create_app
from openwfm.routing.store import Store
from openwfm.web.publish import replan_payload
from router_support import ADMIN, Api
from test_intraday_replan import AS_OF, DAY, SCENARIO, forecast, shifts

ORIGIN = pd.Timestamp(DAY)  # the virtual clock's 0 s is midnight of the re-planned day


@pytest.fixture()
def api(tmp_path):
    from fastapi.testclient import TestClient

    path = tmp_path / "center.yaml"
    path.write_text("name: Replan\n" + SCENARIO, encoding="utf-8")
    router = Router(
        Store(f"sqlite:///{tmp_path / 'router.db'}"),
        load_centers([path]),
        RouterSettings(),
        virtual_clock=True,
    )
    app = create_app(router, ADMIN, background=False, export_origin=ORIGIN)
    with TestClient(app) as client:
        yield Api(client)


def key(api: Api, *scopes: str) -> str:
    response = api.post("/v1/keys", scopes=list(scopes))
    assert response.status_code == 201, response.text
    return response.json()["key"]


def put(api: Api, path: str, body: dict, token=None):
    return api.client.put(path, json=body, headers=api.headers(token))


def proposals_body() -> dict:
    from openwfm.intraday import replan
    from openwfm.scenario import parse_scenario

    result = replan(shifts(), parse_scenario(SCENARIO), forecast(1.2), as_of=AS_OF)
    assert len(result.proposals) >= 2
    return replan_payload(shifts(), result.proposals, AS_OF)


def test_the_intraday_stage_endpoints_answer_behind_the_router_auth(api):
    body = {
        "events": [{"agent_id": "early-1", "ts": "2024-03-04T08:05", "state": "available"}],
        "schedule": [
            {"agent_id": "early-1", "start": "2024-03-04T08:00", "end": "2024-03-04T16:00",
             "activity": "work"}
        ],
        "start": "2024-03-04T00:00",
        "end": "2024-03-05T00:00",
        "as_of": "2024-03-04T09:00",
    }  # fmt: skip
    path = "/v1/intraday/adherence"
    assert api.client.post(path, json=body).status_code == 401
    agent = api.post("/v1/agents/early-1/token").json()["token"]
    assert api.client.post(path, json=body, headers=api.headers(agent)).status_code == 403
    stats = key(api, "stats:read")
    assert api.client.post(path, json=body, headers=api.headers(stats)).status_code == 403
    reader = key(api, "intraday:read")
    answer = api.client.post(path, json=body, headers=api.headers(reader))
    assert answer.status_code == 200, answer.text
    day = answer.json()["by_day"][0]
    assert day["agent_id"] == "early-1" and 0.0 < day["adherence"] < 1.0  # late 5 min
    bad = api.client.post(path, json={**body, "events": [{"agent_id": "x"}]},
                          headers=api.headers(reader))  # fmt: skip
    assert bad.status_code == 400 and bad.json()["field"].startswith("events.0")  # the router's
    assert "/v1/intraday/outlook" in api.client.get("/openapi.json").json()["paths"]


def test_a_proposal_is_accepted_on_the_desk_as_a_new_schedule_version(api):
    body = proposals_body()
    reader, writer = key(api, "intraday:read"), key(api, "intraday:write")
    assert api.get("/v1/intraday/replan", token=reader).json()["published"] is False
    assert put(api, "/v1/intraday/replan", body, token=reader).status_code == 403
    published = put(api, "/v1/intraday/replan", body, token=writer)
    assert published.status_code == 200, published.text
    view = api.get("/v1/intraday/replan", token=reader).json()
    assert view["version"] == 1 and {p["status"] for p in view["proposals"]} == {"open"}
    first = view["proposals"][0]
    accept = f"/v1/intraday/proposals/{first['proposal_id']}/accept"
    assert api.post(accept, token=reader).status_code == 403
    answer = api.post(accept, token=writer)
    assert answer.status_code == 200, answer.text
    assert answer.json()["version"] == 2
    view = api.get("/v1/intraday/replan", token=reader).json()
    assert view["version"] == 2 and view["accepted"] == [first["proposal_id"]]
    status = {p["proposal_id"]: p["status"] for p in view["proposals"]}
    assert status[first["proposal_id"]] == "accepted"
    assert list(status.values()).count("open") == len(status) - 1
    # the new version carries the change: the proposal's agent's row is the proposal's
    row = next(
        s for s in view["shifts"]
        if s["agent"] == first["agent"] and s["shift_start"][:10] == str(DAY)
    )  # fmt: skip
    if first["kind"] == "break_move":
        assert row["breaks"] == first["breaks"]
    else:
        assert row["shift_end"] == first["shift_end"]
    assert all(s["version"] == 2 for s in view["shifts"])
    event = api.events()[-1]
    assert event["type"] == "intraday.proposal.accepted"
    assert event["data"]["proposal_id"] == first["proposal_id"] and event["data"]["version"] == 2
    assert api.post(accept, token=writer).status_code == 409  # once only
    missing = api.post("/v1/intraday/proposals/nope/accept", token=writer)
    assert missing.status_code == 404 and missing.json()["field"] == "proposal_id"


def test_a_replan_with_an_unknown_agent_or_without_shift_columns_is_refused(api):
    body = proposals_body()
    stranger = {**body, "shifts": [{**body["shifts"][0], "agent": "zed"}]}
    answer = put(api, "/v1/intraday/replan", stranger)
    assert answer.status_code == 400 and answer.json()["field"] == "shifts.agent"
    bare = {**body, "shifts": [{"agent": "early-1"}]}
    answer = put(api, "/v1/intraday/replan", bare)
    assert answer.status_code == 400 and answer.json()["field"] == "shifts"


def test_adherence_now_is_absent_until_a_schedule_is_published_then_live(api):
    board = api.get("/v1/agents").json()
    assert board["adherence"]["kind"] is None
    assert all(agent["adherence"] is None for agent in board["agents"])
    assert put(api, "/v1/intraday/replan", proposals_body()).status_code == 200
    api.advance(9 * 3600)  # 09:00: early-2 logs in; early-1 (shift from 08:00) does not
    api.presence("early-2")
    api.advance(10.5 * 3600)  # 10:30
    board = api.get("/v1/agents").json()
    assert board["adherence"] == {"kind": "live", "version": 1, "as_of": None}
    adherence = {agent["id"]: agent["adherence"] for agent in board["agents"]}
    assert adherence["early-2"]["in_adherence"] is True
    assert adherence["early-1"]["in_adherence"] is False
    assert adherence["early-1"]["out_since"] == "2024-03-04T08:00:00"
    assert adherence["late-1"]["out_since"] == "2024-03-04T10:00:00"  # shift from 10:00
    # going away during the shift turns early-2 out of adherence, at once
    api.presence("early-2", "away")
    api.advance(10.75 * 3600)
    board = api.get("/v1/agents").json()
    early2 = next(agent for agent in board["agents"] if agent["id"] == "early-2")
    assert early2["adherence"]["in_adherence"] is False
    assert early2["adherence"]["out_since"] == "2024-03-04T10:30:00"


def test_replan_publish_puts_the_proposals_on_the_supervisors_desk(tmp_path):
    """``openwfm intraday replan --publish URL`` sends the shifts and proposals to a running
    ``openwfm serve``; a refused key is one error line naming --publish (exit 2)."""
    import os
    import subprocess
    import sys

    import httpx

    from test_pages_browser import ReplanServe

    scenario = tmp_path / "center.yaml"
    scenario.write_text("name: Replan\n" + SCENARIO, encoding="utf-8")
    fc, shift_file, interactions = (tmp_path / n for n in ("fc.csv", "shifts.csv", "c.csv"))
    forecast(1.0)[["interval_start", "queue", "forecast"]].to_csv(fc, index=False)
    shifts().to_csv(shift_file, index=False)
    busy = forecast(1.2)
    busy = busy[busy["interval_start"] < AS_OF]
    arrivals = [
        row.interval_start + pd.Timedelta(seconds=900 * k / round(row.forecast))
        for row in busy.itertuples()
        for k in range(round(row.forecast))
    ]
    contacts = pd.DataFrame({"queue": "voice", "arrival_time": arrivals})
    contacts["answer_time"] = contacts["arrival_time"] + pd.Timedelta(seconds=10)
    contacts["end_time"] = contacts["answer_time"] + pd.Timedelta(seconds=300)
    contacts.to_csv(interactions, index=False)
    (tmp_path / "serve").mkdir()
    server = ReplanServe(tmp_path / "serve").start()
    try:
        command = [sys.executable, "-m", "openwfm", "intraday", "replan", "--scenario",
                   str(scenario), "--forecast", str(fc), "--interactions", str(interactions),
                   "--shifts", str(shift_file), "--as-of", "2024-03-04 11:00",
                   "--publish", server.url]  # fmt: skip
        env = {**os.environ, "OPENWFM_KEY": ADMIN}
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr
        assert f"published to {server.url}: schedule version 1" in done.stdout
        headers = {"Authorization": f"Bearer {ADMIN}"}
        view = httpx.get(f"{server.url}/v1/intraday/replan", headers=headers, timeout=30).json()
        assert view["published"] and len(view["proposals"]) > 0
        assert {p["status"] for p in view["proposals"]} == {"open"}
        refused = subprocess.run(
            command, capture_output=True, text=True, timeout=300,
            env={**os.environ, "OPENWFM_KEY": "owk_nope.nope"},
        )  # fmt: skip
        assert refused.returncode == 2, refused.stderr
        assert "--publish" in refused.stderr and "401" in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
    finally:
        server.stop()

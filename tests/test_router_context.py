"""Customer context and what leaves the router: profiles, CRM look-up, last-agent affinity,
estimated wait and callbacks, signed webhooks, interactions in the DuckDB store."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest

from openwfm.errors import DataError
from openwfm.routing.commands import load_customers
from openwfm.routing.events import WebhookDispatcher
from openwfm.routing.export import Exporter
from router_support import Api, client_for, make_router


class Recorder(BaseHTTPRequestHandler):
    """A tiny HTTP peer: answers GETs from ``profiles`` (after ``delay_s``), records POSTs and
    answers them with the next status in ``statuses``."""

    profiles: dict = {}
    delay_s = 0.0
    posts: list = []
    statuses: list = []

    def do_GET(self):  # noqa: N802 - http.server's name
        time.sleep(self.delay_s)
        customer = self.path.rsplit("/", 1)[-1]
        body = json.dumps(self.profiles.get(customer, {})).encode()
        self.send_response(200 if customer in self.profiles else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        try:
            self.wfile.write(body)
        except BrokenPipeError:  # the router gave up waiting (its time-out): as intended
            pass

    def do_POST(self):  # noqa: N802
        length = int(self.headers["Content-Length"])
        self.posts.append((dict(self.headers), self.rfile.read(length)))
        self.send_response(self.statuses.pop(0) if self.statuses else 204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def peer():
    handler = type("Peer", (Recorder,), {"profiles": {}, "posts": [], "statuses": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield handler, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_segment_from_request_then_profile_then_default(tmp_path):
    router = make_router(tmp_path)
    with client_for(router) as client:
        api = Api(client)
        put = client.put(
            "/v1/customers/c-1",
            json={"segment": "gold", "attributes": {"vip": 1}},
            headers=api.headers(),
        )
        assert put.status_code == 200
        assert (
            client.put(
                "/v1/customers/c-2", json={"segment": "nope"}, headers=api.headers()
            ).status_code
            == 400
        )
        profiled = api.create(queue="voice", customer_id="c-1").json()
        assert profiled["segment"] == "gold" and profiled["attributes"] == {"vip": 1}
        told = api.create(queue="voice", customer_id="c-1", segment="standard").json()
        assert told["segment"] == "standard"
        assert api.create(queue="voice", customer_id="c-9").json()["segment"] == "default"


def test_customers_load_from_csv_and_parquet_in_one_transaction(tmp_path):
    router = make_router(tmp_path)
    router.setup()
    csv = tmp_path / "customers.csv"
    csv.write_text("customer_id,segment,tier\nc-1,gold,3\nc-2,,1\n", encoding="utf-8")
    assert load_customers(router, "tiny", csv) == 2
    parquet = tmp_path / "customers.parquet"
    pd.DataFrame({"customer_id": ["c-3"], "segment": ["standard"]}).to_parquet(parquet)
    assert load_customers(router, "tiny", parquet) == 1
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,segment\nc-7,gold\nc-8,platinum\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.csv:3: segment"):
        load_customers(router, "tiny", bad)
    with client_for(router) as client:
        api = Api(client)
        assert api.create(queue="voice", customer_id="c-1").json()["segment"] == "gold"
        assert api.create(queue="voice", customer_id="c-3").json()["segment"] == "standard"
        assert api.create(queue="voice", customer_id="c-7").json()["segment"] == "default"


def test_crm_lookup_feeds_the_segment_and_a_slow_crm_never_blocks(tmp_path, peer):
    handler, url = peer
    handler.profiles["c-5"] = {"segment": "gold", "attributes": {"products": ["mortgage"]}}
    router = make_router(tmp_path, crm_url=url + "/crm/{customer_id}", crm_timeout_s=1.5)
    with client_for(router) as client:
        api = Api(client)
        known = api.create(queue="voice", customer_id="c-5").json()
        assert known["segment"] == "gold"
        assert known["attributes"] == {"products": ["mortgage"]}
        assert api.create(queue="voice", customer_id="c-6").json()["segment"] == "default"
        handler.delay_s = 3.0  # slower than the time-out
        slow = api.create(queue="voice", customer_id="c-5")
        assert slow.status_code == 201 and slow.json()["segment"] == "default"


def test_last_agent_affinity_holds_the_contact_for_a_few_seconds(tmp_path):
    router = make_router(tmp_path, affinity_s=20.0)
    with client_for(router) as client:
        api = Api(client)
        api.presence("bob")
        first = api.create(queue="voice", customer_id="c-1").json()["id"]
        (offer,) = api.offers("bob")
        api.post(f"/v1/offers/{offer['id']}/accept")
        api.post(f"/v1/contacts/{first}/complete")  # bob last served c-1
        other = api.create(queue="voice").json()["id"]
        (offer,) = api.offers("bob")
        api.post(f"/v1/offers/{offer['id']}/accept")  # bob busy now
        api.presence("ann")
        back = api.create(queue="voice", customer_id="c-1").json()["id"]
        assert api.contact(back)["state"] == "queued"  # held for bob, although ann is free
        api.advance(5.0)
        api.post(f"/v1/contacts/{other}/complete")
        assert [o["contact_id"] for o in api.offers("bob")] == [back]
        # a hold ends after affinity_s: then the contact goes to whoever the policy picks
        (offer,) = api.offers("bob")
        api.post(f"/v1/offers/{offer['id']}/accept")
        api.post(f"/v1/contacts/{back}/complete")
        api.presence("ann", "offline")
        busy = api.create(queue="voice").json()["id"]
        (offer,) = api.offers("bob")
        api.post(f"/v1/offers/{offer['id']}/accept")
        assert api.contact(busy)["agent_id"] == "bob"
        api.presence("ann")
        again = api.create(queue="voice", customer_id="c-1").json()["id"]
        api.advance(24.9)
        assert api.contact(again)["state"] == "queued"
        api.advance(30.0)
        assert [o["contact_id"] for o in api.offers("ann")] == [again]


def test_estimated_wait_and_callback(tmp_path):
    router = make_router(tmp_path, callback_threshold_s=300.0)
    with client_for(router) as client:
        api = Api(client)
        assert api.create(queue="voice").json()["estimated_wait_s"] is None  # nobody logged in
        api.presence("bob")
        waits = [api.create(queue="voice").json() for _ in range(3)]
        # bob (1 slot, AHT 200 s) holds the first; the k-th behind waits (k + 1) x 200 s
        assert [w["estimated_wait_s"] for w in waits] == [400.0, 600.0, 800.0]
        assert [w["callback_offered"] for w in waits] == [True, True, True]
        api.presence("dan")
        email = api.create(queue="email").json()
        assert email["callback_offered"] is False
        contact_id = waits[2]["id"]
        taken = api.post(f"/v1/contacts/{contact_id}/callback").json()
        assert taken["callback"] is True and taken["arrival_s"] == waits[2]["arrival_s"]
        assert api.post(f"/v1/contacts/{contact_id}/abandon").status_code == 409
        assert api.post(f"/v1/contacts/{email['id']}/callback").status_code == 409


def test_webhooks_are_signed_retried_and_in_order(tmp_path, peer):
    handler, url = peer
    handler.statuses.extend([500])  # the first delivery fails
    router = make_router(tmp_path)
    with client_for(router, background=False) as client:
        api = Api(client)
        hook = api.post("/v1/webhooks", url=url + "/hook", secret="s3cret-s3cret").json()
        api.presence("bob")
        api.create(queue="voice")
        dispatcher = WebhookDispatcher(router.store)
        assert dispatcher.deliver_once() == 0  # 500: retried later, with back-off
        assert dispatcher.deliver_once() == 0  # not due yet
        with router.store.write() as connection:
            connection.exec_driver_sql("UPDATE router_webhooks SET next_attempt_s = 0")
        delivered = dispatcher.deliver_once()
        assert delivered == len(api.events()) > 0
    assert len(handler.posts) == 2 and handler.posts[0][1] == handler.posts[1][1]
    headers, body = handler.posts[1]
    expected = "sha256=" + hmac.new(b"s3cret-s3cret", body, hashlib.sha256).hexdigest()
    assert headers["X-OpenWFM-Signature"] == expected
    events = json.loads(body)["events"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert hook["id"].startswith("whk_")


def test_ended_contacts_land_in_the_interactions_store(tmp_path):
    from openwfm.data.store import InteractionStore

    router = make_router(tmp_path)
    with client_for(router, background=False) as client:
        api = Api(client)
        api.presence("bob")
        served = api.create(queue="voice", segment="gold").json()["id"]
        (offer,) = api.offers("bob")
        api.advance(7.0)
        api.post(f"/v1/offers/{offer['id']}/accept")
        api.advance(100.0)
        api.post(f"/v1/contacts/{served}/complete")
        lost = api.create(queue="voice").json()["id"]
        api.advance(130.0)
        api.post(f"/v1/contacts/{lost}/abandon")
        api.create(queue="voice")  # still waiting: not exported
    path = tmp_path / "live.duckdb"
    exporter = Exporter(router, str(path))
    assert exporter.export_once() == 2
    assert exporter.export_once() == 0  # exported once only
    with InteractionStore(path) as store:
        frame = store.interactions().set_index("interaction_id")
    assert frame.loc[served, "outcome"] == "answered" and frame.loc[served, "wait_s"] == 7.0
    assert frame.loc[served, "handle_s"] == 93.0 and frame.loc[served, "agent"] == "bob"
    assert frame.loc[lost, "outcome"] == "abandoned" and frame.loc[lost, "wait_s"] == 30.0
    # the analytic stages read live traffic like any other history
    from typer.testing import CliRunner

    from openwfm.cli import app

    out = tmp_path / "kpis.csv"
    result = CliRunner().invoke(app, ["kpi", "--store", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    kpis = pd.read_csv(out)
    assert kpis["offered"].sum() == 2 and kpis["answered"].sum() == 1

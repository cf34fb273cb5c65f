"""Helpers for the router tests: a tiny center, an app on a temporary SQLite store."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from fastapi.testclient import TestClient

from openwfm.routing.center import RouterSettings, load_centers
from openwfm.routing.core import Router
from openwfm.routing.service import create_app
from openwfm.routing.store import Store

ADMIN = "test-admin-key"
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}"}

# ann: the A-team voice agent; bob: a good voice agent; dan: below the minimum proficiency
# (reached only by the escalation step after 30 s); cat: chat (3 at once) and email.
TINY = """
name: Tiny
grid: {interval_minutes: 15, timezone: UTC}
queues:
  - {name: voice, channel: voice, aht_s: 200, patience_s: 120, target: {within_s: 20}}
  - {name: chat, channel: chat, aht_s: 300, max_concurrency: 3}
  - {name: email, channel: email, aht_s: 300}
segments:
  - {name: gold, priority: 2, share: {voice: 0.2}}
  - {name: standard, priority: 1, share: {voice: 0.8}}
agents:
  - {name: ann, skills: {voice: 1.0, chat: 0.5}}
  - {name: bob, skills: {voice: 0.6}}
  - {name: cat, skills: {chat: 0.9, email: 0.8}}
  - {name: dan, skills: {voice: 0.3}}
routing:
  policy: best_skilled
  a_team_segments: [gold]
  min_proficiency: 0.5
  escalation:
    - {after_s: 30, min_proficiency: 0.0}
"""


def write_tiny(folder: Path, name: str = "tiny") -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(TINY, encoding="utf-8")
    return path


def make_router(
    folder: Path, names=("tiny",), virtual=True, url: str | None = None, **settings
) -> Router:
    """``url``: the store (default: a SQLite file in ``folder``)."""
    paths = [write_tiny(folder, name) for name in names]
    store = Store(url or f"sqlite:///{folder / 'router.db'}")
    return Router(store, load_centers(paths), RouterSettings(**settings), virtual_clock=virtual)


def client_for(router: Router, **options) -> TestClient:
    return TestClient(create_app(router, ADMIN, **options))


def metric_samples(text: str) -> dict[str, float]:
    """``GET /metrics`` (Prometheus' text format) as sample name (with labels) -> value."""
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


class Api:
    """Short calls for tests: every call sends the admin key unless ``token`` is given."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.keys = 0

    def headers(self, token=None, key=None):
        headers = {"Authorization": f"Bearer {token or ADMIN}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers

    def create(self, token=None, key=None, **body):
        if key is None:
            self.keys += 1
            key = f"key-{self.keys}"
        return self.client.post("/v1/contacts", json=body, headers=self.headers(token, key))

    def post(self, path, token=None, **body):
        return self.client.post(path, json=body or None, headers=self.headers(token))

    def get(self, path, token=None, **params):
        return self.client.get(path, params=params, headers=self.headers(token))

    def presence(self, agent, status="available", token=None):
        response = self.post(f"/v1/agents/{agent}/presence", token=token, status=status)
        assert response.status_code == 200, response.text
        return response.json()

    def offers(self, agent, token=None):
        response = self.get(f"/v1/agents/{agent}/offers", token=token)
        assert response.status_code == 200, response.text
        return response.json()

    def advance(self, to_s):
        response = self.post("/v1/clock/advance", to_s=to_s)
        assert response.status_code == 200, response.text

    def contact(self, contact_id):
        return self.get(f"/v1/contacts/{contact_id}").json()

    def events(self, after=0):
        return self.get("/v1/events", after=after).json()


def replay_events(events: list[dict], capacity: dict) -> tuple[int, int]:
    """(double offers or assignments, capacity violations) found by replaying an event history
    (``GET /v1/events``) in sequence; ``capacity``: agent -> channel -> simultaneous
    contacts. Checked from the history, not only the final state."""
    load: dict[str, int] = defaultdict(int)
    channel: dict[str, str] = {}
    active: dict[str, int] = defaultdict(int)  # contact -> active offers/assignments
    assigned_of: dict[str, str] = {}
    doubles = violations = 0
    for event in events:
        kind, contact, agent = event["type"], event["contact_id"], event["agent_id"]
        if kind == "contact.created":
            channel[contact] = event["data"]["channel"]
        elif kind == "offer.created":
            load[agent] += 1
            active[contact] += 1
            doubles += active[contact] > 1
            violations += load[agent] > capacity[agent].get(channel[contact], 0)
        elif kind in ("offer.rejected", "offer.expired", "offer.rescinded"):
            load[agent] -= 1
            active[contact] -= 1
        elif kind == "contact.assigned":
            doubles += contact in assigned_of
            assigned_of[contact] = agent
        elif kind == "contact.completed":
            load[assigned_of.get(contact, agent)] -= 1
            active[contact] -= 1
    return doubles, violations

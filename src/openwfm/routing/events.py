"""Events out of the router: the cursor API, server-sent events and signed webhooks.

Every state change writes one event row in its own transaction, numbered gap-free per center
(``seq`` 1, 2, 3, ...), so the events table is the outbox: readers keep a cursor (``after``),
the SSE stream resumes from ``Last-Event-ID``, and each webhook keeps its own delivered cursor.

Webhooks deliver at least once, in order: a batch ``{"center", "events": [...]}`` POSTed with
``X-OpenWFM-Signature: sha256=<hex HMAC-SHA256 of the body with the webhook's secret>`` and
``X-OpenWFM-Event-Id`` (the last ``seq`` in the batch); a non-2xx answer or a time-out is retried
with exponential back-off (1 s doubling to 60 s); the cursor moves only after a 2xx.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from typing import TYPE_CHECKING

from sqlalchemy import insert, select, update

from openwfm.routing import store as S
from openwfm.routing.problems import BadRequest

if TYPE_CHECKING:
    from sqlalchemy.engine import Row


def event_view(row: Row) -> dict:
    return {
        "seq": row.seq,
        "at_s": row.at_s,
        "type": row.type,
        "contact_id": row.contact_id,
        "agent_id": row.agent_id,
        "offer_id": row.offer_id,
        "data": row.data,
    }


def list_events(store: S.Store, center: str, after: int = 0, limit: int = 1000) -> list[dict]:
    e = S.events.c
    with store.read() as connection:
        rows = connection.execute(
            select(S.events).where(e.center == center, e.seq > after).order_by(e.seq).limit(limit)
        ).all()
    return [event_view(row) for row in rows]


def sse_lines(event: dict) -> str:
    return f"id: {event['seq']}\nevent: {event['type']}\ndata: {json.dumps(event)}\n\n"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def add_webhook(
    store: S.Store, center: str, url: str, secret: str | None, from_seq: int | None
) -> dict:
    if not url.startswith(("http://", "https://")):
        raise BadRequest("expected an http(s) URL", field="url")
    webhook_id = f"whk_{secrets.token_hex(8)}"
    secret = secret or secrets.token_urlsafe(24)
    with store.write() as connection:
        if from_seq is None:
            from_seq = connection.execute(
                select(S.centers.c.event_seq).where(S.centers.c.center == center)
            ).scalar_one()
        connection.execute(
            insert(S.webhooks).values(
                webhook_id=webhook_id,
                center=center,
                url=url,
                secret=secret,
                delivered_seq=from_seq,
                attempts=0,
                next_attempt_s=0.0,
            )
        )
    return {"id": webhook_id, "url": url, "secret": secret, "delivered_seq": from_seq}


class WebhookDispatcher:
    """Delivers events to every webhook from its cursor (a background thread)."""

    def __init__(self, store: S.Store, batch: int = 100, timeout_s: float = 5.0) -> None:
        self.store = store
        self.batch = batch
        self.timeout_s = timeout_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, interval_s: float = 0.2) -> None:
        def loop():
            while not self._stop.wait(interval_s):
                try:
                    self.deliver_once()
                except Exception:  # noqa: BLE001 - a broken hook must not stop the others
                    pass

        self._thread = threading.Thread(target=loop, name="openwfm-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def deliver_once(self) -> int:
        """One delivery attempt per due webhook; returns events delivered."""
        import httpx

        now = time.time()
        with self.store.read() as connection:
            hooks = connection.execute(
                select(S.webhooks).where(S.webhooks.c.next_attempt_s <= now)
            ).all()
        delivered = 0
        for hook in hooks:
            batch = list_events(self.store, hook.center, hook.delivered_seq, self.batch)
            if not batch:
                continue
            body = json.dumps({"center": hook.center, "events": batch}).encode()
            headers = {
                "Content-Type": "application/json",
                "X-OpenWFM-Signature": sign(hook.secret, body),
                "X-OpenWFM-Event-Id": str(batch[-1]["seq"]),
            }
            w = S.webhooks.c
            try:
                answer = httpx.post(hook.url, content=body, headers=headers, timeout=self.timeout_s)
                ok = 200 <= answer.status_code < 300
                error = None if ok else f"HTTP {answer.status_code}"
            except httpx.HTTPError as failure:
                ok, error = False, str(failure)[:500]
            with self.store.write() as connection:
                if ok:
                    connection.execute(
                        update(S.webhooks)
                        .where(w.webhook_id == hook.webhook_id)
                        .values(
                            delivered_seq=batch[-1]["seq"],
                            attempts=0,
                            next_attempt_s=0.0,
                            last_error=None,
                        )
                    )
                    delivered += len(batch)
                else:
                    delay = min(60.0, 2.0**hook.attempts)
                    connection.execute(
                        update(S.webhooks)
                        .where(w.webhook_id == hook.webhook_id)
                        .values(
                            attempts=hook.attempts + 1,
                            next_attempt_s=time.time() + delay,
                            last_error=error,
                        )
                    )
        return delivered

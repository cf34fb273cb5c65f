"""``GET /metrics``: the router in Prometheus' text format (version 0.0.4), no client library.

Per process: ``openwfm_router_decisions_total`` (offers this process made),
``openwfm_router_routing_passes_total`` and ``..._retried_total`` (routing-loop passes committed,
and run again because the state moved under them), ``openwfm_router_lease_held`` (1 when this
process runs the center's routing loop). From the store
(the same in every process): ``openwfm_router_queue_depth`` (contacts waiting, by queue and
state), ``openwfm_router_events_total`` (the last event number),
``openwfm_router_outbox_lag_events``
(events not yet delivered to the slowest webhook), and the histogram
``openwfm_router_wait_to_offer_seconds``: seconds from a contact's arrival to each of its offers
made in the last 15 minutes (waiting for a free agent included; the service's own latency, contact
commit to offer commit, is measured by ``bench/router.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.exc import DataError

from openwfm.routing import store as S

if TYPE_CHECKING:
    from fastapi import FastAPI

    from openwfm.routing.core import Router


LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
WINDOW_S = 900.0


def _line(name: str, value: float, **labels) -> str:
    if labels:
        inner = ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items())
        return f"{name}{{{inner}}} {value:g}"
    return f"{name} {value:g}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(router: Router) -> str:
    """The metrics page of ``router`` (one read transaction on the store)."""
    lines = [
        "# HELP openwfm_router_decisions_total Offers made by this process.",
        "# TYPE openwfm_router_decisions_total counter",
        _line("openwfm_router_decisions_total", router.decisions),
        "# HELP openwfm_router_routing_passes_total Routing passes this process committed "
        "(PostgreSQL routing loop).",
        "# TYPE openwfm_router_routing_passes_total counter",
        _line("openwfm_router_routing_passes_total", getattr(router.loop, "passes", 0)),
        "# HELP openwfm_router_routing_passes_retried_total Routing passes run again because "
        "the state moved under them.",
        "# TYPE openwfm_router_routing_passes_retried_total counter",
        _line("openwfm_router_routing_passes_retried_total", getattr(router.loop, "retries", 0)),
        "# HELP openwfm_router_lease_held 1 when this process holds the center's routing lease.",
        "# TYPE openwfm_router_lease_held gauge",
    ]
    lease = getattr(router, "lease", None)
    held = lease.held() if lease is not None else set(router.centers)
    for center in router.centers:
        lines.append(_line("openwfm_router_lease_held", int(center in held), center=center))
    now = router.now()
    with router.store.read() as connection:
        lines += _queue_depth(connection)
        lines += _events(connection)
        lines += _latency(connection, now - WINDOW_S)
    return "\n".join(lines) + "\n"


def _queue_depth(connection) -> list[str]:
    c = S.contacts.c
    rows = connection.execute(
        select(c.center, c.queue, c.state, func.count())
        .where(c.state.in_(S.LIVE_STATES))
        .group_by(c.center, c.queue, c.state)
    ).all()
    lines = [
        "# HELP openwfm_router_queue_depth Contacts waiting (queued or offered).",
        "# TYPE openwfm_router_queue_depth gauge",
    ]
    for center, queue, state, count in rows:
        lines.append(
            _line("openwfm_router_queue_depth", count, center=center, queue=queue, state=state)
        )
    return lines


def _events(connection) -> list[str]:
    k, w = S.centers.c, S.webhooks.c
    lines = [
        "# HELP openwfm_router_events_total Events written (the last sequence number).",
        "# TYPE openwfm_router_events_total counter",
    ]
    seqs = dict(connection.execute(select(k.center, k.event_seq)).all())
    for center, seq in seqs.items():
        lines.append(_line("openwfm_router_events_total", seq, center=center))
    lines += [
        "# HELP openwfm_router_outbox_lag_events Events not yet delivered to the slowest webhook.",
        "# TYPE openwfm_router_outbox_lag_events gauge",
    ]
    delivered = dict(
        connection.execute(select(w.center, func.min(w.delivered_seq)).group_by(w.center)).all()
    )
    for center, seq in seqs.items():
        lag = seq - delivered[center] if center in delivered else 0
        lines.append(_line("openwfm_router_outbox_lag_events", lag, center=center))
    return lines


def _latency(connection, since_s: float) -> list[str]:
    """Seconds from each contact's arrival to its offers made since ``since_s``."""
    o, c = S.offers.c, S.contacts.c
    rows = connection.execute(
        select(o.center, o.created_s - c.arrival_s)
        .join_from(S.offers, S.contacts, c.contact_id == o.contact_id)
        .where(o.created_s >= since_s)
    ).all()
    name = "openwfm_router_wait_to_offer_seconds"
    lines = [
        f"# HELP {name} Contact arrival to offer, offers of the last 15 minutes.",
        f"# TYPE {name} histogram",
    ]
    by_center: dict[str, list[float]] = {}
    for center, wait in rows:
        by_center.setdefault(center, []).append(max(0.0, wait or 0.0))
    for center, values in by_center.items():
        for bound in (*LATENCY_BUCKETS_S, "+Inf"):
            count = sum(1 for v in values if bound == "+Inf" or v <= bound)
            lines.append(_line(f"{name}_bucket", count, center=center, le=bound))
        lines.append(_line(f"{name}_sum", sum(values), center=center))
        lines.append(_line(f"{name}_count", len(values), center=center))
    return lines


def install(app: FastAPI, router: Router) -> None:
    """``GET /metrics`` (unauthenticated, like Prometheus scrapes; no personal data)."""
    from fastapi.responses import PlainTextResponse

    @app.get("/metrics", include_in_schema=False)
    def metrics():
        return PlainTextResponse(render(router), media_type="text/plain; version=0.0.4")


def install_operations(app: FastAPI, router: Router) -> None:
    """What running in production adds to the app: ``/metrics`` and the OpenAPI links."""
    from openwfm.routing import openapi_links

    install(app, router)
    openapi_links.install(app)
    app.add_exception_handler(DataError, _out_of_range)


def _out_of_range(_request, error):
    """A value the database cannot hold (PostgreSQL: an id longer than its column, a number
    beyond its integer type) is the client's error: 422, nothing stored (the transaction rolled
    back), never a 500."""
    from fastapi.responses import JSONResponse

    from openwfm.routing.problems import Unprocessable

    cause = str(getattr(error, "orig", error)).splitlines()[0][:200]
    problem = Unprocessable(f"a value does not fit the store: {cause}", field="body")
    return JSONResponse(
        problem.body(), status_code=problem.status, media_type="application/problem+json"
    )

"""The router's HTTP API (FastAPI): a thin layer over :mod:`openwfm.routing.operations`.

``create_app(router, admin_key)`` builds the app; ``openwfm serve`` runs it with uvicorn. Errors
are ``application/problem+json`` with a ``detail`` naming the field (validation errors are 400,
an idempotency key reused with another body 422, a state change the state forbids 409).
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from openwfm.routing import auth as A
from openwfm.routing import events as E
from openwfm.routing import models as M
from openwfm.routing import operations as O
from openwfm.routing.core import Router
from openwfm.routing.metrics import install_operations
from openwfm.routing.problems import BadRequest, Forbidden, NotFound, Problem, TooLarge
from openwfm.routing.stats import queue_stats

if TYPE_CHECKING:
    import pandas as pd


PROBLEM = "application/problem+json"
MAX_BODY_BYTES = 64 * 1024


def problem_response(problem: Problem) -> JSONResponse:
    return JSONResponse(problem.body(), status_code=problem.status, media_type=PROBLEM)


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes gets 413 before any handler runs."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD"):
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        too_large = declared is not None and declared.isdigit() and int(declared) > self.limit
        chunks, size = [], 0
        if not too_large:
            while True:
                message = await receive()
                chunks.append(message)
                size += len(message.get("body", b""))
                if size > self.limit:
                    too_large = True
                    break
                if message["type"] != "http.request" or not message.get("more_body"):
                    break
        if too_large:
            error = TooLarge(f"the body exceeds {self.limit} bytes", field="body")
            return await problem_response(error)(scope, receive, send)

        async def replay():
            return chunks.pop(0) if chunks else await receive()

        return await self.app(scope, replay, send)


def _field_of(error: dict) -> str:
    location = [str(part) for part in error.get("loc", ())]
    if location and location[0] in ("body", "query", "path", "header"):
        kind = location.pop(0)
        if not location:
            return kind
    return ".".join(location) or "body"


def create_app(
    router: Router,
    admin_key: str,
    *,
    background: bool = True,
    export_path: str | None = None,
    export_origin: pd.Timestamp | None = None,
) -> FastAPI:
    """The app over ``router``; ``background`` starts the sweeper, exporter and webhooks."""
    if not admin_key:
        raise ValueError("an admin key is required (OPENWFM_ADMIN_KEY)")
    workers = []

    @asynccontextmanager
    async def lifespan(_app):
        router.setup()
        if background:
            workers.extend(start_background(router, export_path, export_origin))
        yield
        for worker in reversed(workers):
            worker.stop()
        workers.clear()

    app = FastAPI(title="openwfm router", version="1", lifespan=lifespan)
    app.state.router = router
    install_operations(app, router)  # /metrics, OpenAPI links (production issue)
    app.add_middleware(BodyLimit)

    @app.exception_handler(Problem)
    async def _problem(_request, error: Problem):
        return problem_response(error)

    _store_error_handlers(app)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request, error: RequestValidationError):
        first = error.errors()[0] if error.errors() else {}
        field = _field_of(first)
        if first.get("type") == "json_invalid":
            return problem_response(BadRequest("malformed JSON", field="body"))
        return problem_response(BadRequest(first.get("msg", "invalid"), field=field))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request, error: StarletteHTTPException):
        body = {
            "type": "about:blank",
            "title": str(error.detail),
            "status": error.status_code,
            "detail": str(error.detail),
        }
        return JSONResponse(body, status_code=error.status_code, media_type=PROBLEM)

    async def principal(
        authorization: str | None = Header(default=None),
        center: str | None = Query(default=None, description="the center (admin, several)"),
    ) -> A.Principal:
        return A.authenticate(router.store, admin_key, router.centers, authorization, center)

    _health_routes(app, router, principal)
    _contact_routes(app, router, principal)
    _contact_action_routes(app, router, principal)
    _agent_routes(app, router, principal)
    _admin_routes(app, router, principal)
    _event_routes(app, router, principal)

    from openwfm.web import mount_pages  # the live pages: /dashboard, /supervisor, /agent

    mount_pages(app, router, admin_key, export_origin)
    return app


def _store_error_handlers(app: FastAPI) -> None:
    """The store's failures as answers, not tracebacks: unreachable (a restart, a failover)
    is 503 with ``Retry-After`` (nothing was committed: retry with the same idempotency key);
    a guarded update or a constraint that refused a concurrent change is 409. One log line."""
    from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

    from openwfm.routing.problems import Conflict, Unavailable
    from openwfm.routing.transitions import GuardFailed

    log = logging.getLogger("openwfm.router")

    @app.exception_handler(GuardFailed)
    async def _guard(_request, _error: GuardFailed):
        return problem_response(Conflict("the state changed concurrently; retry", field="state"))

    @app.exception_handler(DBAPIError)
    async def _store(request: Request, error: DBAPIError):
        if isinstance(error, IntegrityError):
            detail = "a concurrent change was refused by the store's constraints; retry"
            return problem_response(Conflict(detail, field="state"))
        if isinstance(error, OperationalError) or error.connection_invalidated:
            why = (str(error.orig).strip().splitlines() or [""])[0] if error.orig else str(error)
            log.warning("store unreachable on %s %s: %s", request.method, request.url.path, why)
            response = problem_response(Unavailable("the store is unreachable; retry", field="db"))
            response.headers["Retry-After"] = "1"
            return response
        raise error


def _health_routes(app: FastAPI, router: Router, principal) -> None:
    """Liveness and readiness."""

    @app.get("/healthz")
    def healthz():
        return {"ok": True}

    @app.get("/readyz")
    def readyz():
        ready = router.store.ping()
        return JSONResponse({"ready": ready}, status_code=200 if ready else 503)


def _contact_routes(app: FastAPI, router: Router, principal) -> None:
    """Contacts: create (idempotent), read, cancel, abandon, callback, wrap-up, complete."""

    def contact_for(who: A.Principal, contact_id: str, scope: str) -> dict:
        """The contact, if ``who`` may see it: admin, scoped keys, or its assigned agent."""
        contact = O.get_contact(router, who.center, contact_id)
        if who.kind == "agent":
            if contact["agent_id"] != who.agent_id:
                raise Forbidden("this contact is not assigned to this agent", field="Authorization")
        else:
            who.require_scope(scope)
        return contact

    @app.post("/v1/contacts", status_code=201, response_model=M.ContactOut)
    def create_contact(
        body: M.ContactCreate,
        who: A.Principal = Depends(principal),
        idempotency_key: str | None = Header(default=None, alias="Idempotency-Key"),
    ):
        who.require_scope("contacts:create")
        if not idempotency_key:
            raise BadRequest("the Idempotency-Key header is required", field="Idempotency-Key")
        if len(idempotency_key) > 255:
            raise BadRequest("at most 255 characters", field="Idempotency-Key")
        data = body.model_dump(exclude_none=True)
        profile = router.crm_profile(who.center, body.customer_id) if body.customer_id else None
        status, response = O.create_contact(router, who.center, idempotency_key, data, profile)
        return JSONResponse(response, status_code=status)

    @app.get("/v1/contacts/{contact_id}", response_model=M.ContactOut)
    def get_contact(contact_id: str, who: A.Principal = Depends(principal)):
        return contact_for(who, contact_id, "contacts:read")

    @app.post("/v1/contacts/{contact_id}/cancel", response_model=M.ContactOut)
    def cancel_contact(contact_id: str, who: A.Principal = Depends(principal)):
        if who.kind == "agent":
            raise Forbidden("an agent token cannot cancel contacts", field="Authorization")
        who.require_scope("contacts:write")
        return O.cancel_contact(router, who.center, contact_id)

    @app.post("/v1/contacts/{contact_id}/abandon", response_model=M.ContactOut)
    def abandon_contact(contact_id: str, who: A.Principal = Depends(principal)):
        """The customer hung up while waiting (live channels only)."""
        if who.kind == "agent":
            raise Forbidden("an agent token cannot abandon contacts", field="Authorization")
        who.require_scope("contacts:write")
        return O.cancel_contact(router, who.center, contact_id, "abandoned")


def _contact_action_routes(app: FastAPI, router: Router, principal) -> None:
    """What happens to a contact after it is created: callback, wrap-up, completion."""

    @app.post("/v1/contacts/{contact_id}/callback", response_model=M.ContactOut)
    def accept_callback(contact_id: str, who: A.Principal = Depends(principal)):
        """The customer accepts the offered callback: same place in line, no line held."""
        if who.kind == "agent":
            raise Forbidden("an agent token cannot do this", field="Authorization")
        who.require_scope("contacts:write")
        return O.accept_callback(router, who.center, contact_id)

    @app.post("/v1/contacts/{contact_id}/wrapup", response_model=M.ContactOut)
    def wrapup_contact(contact_id: str, who: A.Principal = Depends(principal)):
        _assigned_agent_or_admin(who, O.get_contact(router, who.center, contact_id))
        return O.wrapup_contact(router, who.center, contact_id)

    @app.post("/v1/contacts/{contact_id}/complete", response_model=M.ContactOut)
    def complete_contact(contact_id: str, who: A.Principal = Depends(principal)):
        _assigned_agent_or_admin(who, O.get_contact(router, who.center, contact_id))
        return O.complete_contact(router, who.center, contact_id)


def _agent_routes(app: FastAPI, router: Router, principal) -> None:
    """Agents (profile, presence, offers, tokens) and offers (accept, reject)."""

    @app.put("/v1/agents/{agent_id}", response_model=M.AgentOut)
    def put_agent(agent_id: str, body: M.AgentPut, who: A.Principal = Depends(principal)):
        who.require_admin()
        data = body.model_dump()
        data["capacity"] = {str(k.value): v for k, v in body.capacity.items()}
        return O.put_agent(router, who.center, agent_id, data)

    @app.get("/v1/agents/{agent_id}", response_model=M.AgentOut)
    def get_agent(agent_id: str, who: A.Principal = Depends(principal)):
        if who.kind != "agent":
            who.require_scope("agents:read")
        else:
            who.require_agent(agent_id)
        return O.get_agent(router, who.center, agent_id)

    @app.post("/v1/agents/{agent_id}/presence", response_model=M.AgentOut)
    def presence(agent_id: str, body: M.Presence, who: A.Principal = Depends(principal)):
        who.require_agent(agent_id)
        return O.set_presence(router, who.center, agent_id, body.status)

    @app.get("/v1/agents/{agent_id}/offers", response_model=list[M.OfferOut])
    def offers(agent_id: str, who: A.Principal = Depends(principal)):
        who.require_agent(agent_id)
        return O.agent_offers(router, who.center, agent_id)

    @app.post("/v1/agents/{agent_id}/token")
    def agent_token(agent_id: str, who: A.Principal = Depends(principal)):
        who.require_admin()
        O.get_agent(router, who.center, agent_id)
        return {"token": A.create_key(router.store, who.center, "agent", agent_id=agent_id)}

    @app.delete("/v1/agents/{agent_id}/token")
    def revoke_agent_token(agent_id: str, who: A.Principal = Depends(principal)):
        who.require_admin()
        return {"revoked": A.revoke_agent_tokens(router.store, who.center, agent_id)}

    @app.post("/v1/offers/{offer_id}/accept", response_model=M.OfferDecision)
    def accept(offer_id: str, who: A.Principal = Depends(principal)):
        who.require_agent(O.get_offer(router, who.center, offer_id)["agent_id"])
        return O.decide_offer(router, who.center, offer_id, accept=True)

    @app.post("/v1/offers/{offer_id}/reject", response_model=M.OfferDecision)
    def reject(offer_id: str, who: A.Principal = Depends(principal)):
        who.require_agent(O.get_offer(router, who.center, offer_id)["agent_id"])
        return O.decide_offer(router, who.center, offer_id, accept=False)


def _admin_routes(app: FastAPI, router: Router, principal) -> None:
    """Keys, customer profiles, webhooks and the virtual clock."""

    @app.post("/v1/keys", status_code=201)
    def create_key(body: M.KeyCreate, who: A.Principal = Depends(principal)):
        who.require_admin()
        return {
            "key": A.create_key(router.store, who.center, "integration", body.scopes),
            "center": who.center,
            "scopes": body.scopes,
        }

    @app.delete("/v1/keys/{key_id}")
    def revoke_key(key_id: str, who: A.Principal = Depends(principal)):
        who.require_admin()
        if not A.revoke_key(router.store, who.center, key_id.partition(".")[0]):
            raise NotFound(f"no key {key_id!r}", field="key_id")
        return {"revoked": 1}

    @app.put("/v1/customers/{customer_id}")
    def put_customer(customer_id: str, body: M.CustomerPut, who: A.Principal = Depends(principal)):
        who.require_scope("customers:write")
        return O.put_customer(router, who.center, customer_id, body.model_dump())

    @app.post("/v1/webhooks", status_code=201)
    def add_webhook(body: M.WebhookCreate, who: A.Principal = Depends(principal)):
        who.require_admin()
        return E.add_webhook(router.store, who.center, body.url, body.secret, body.from_seq)

    @app.get("/v1/clock")
    def clock(who: A.Principal = Depends(principal)):
        return {"now_s": router.now(), "virtual": router.virtual_clock}

    @app.post("/v1/clock/advance")
    def advance(body: M.ClockAdvance, who: A.Principal = Depends(principal)):
        who.require_admin()
        if (body.to_s is None) == (body.by_s is None):
            raise BadRequest("give exactly one of to_s and by_s", field="to_s")
        target = body.to_s if body.to_s is not None else router.now() + body.by_s
        return {"now_s": router.advance_clock(target, body.stop_on_offer)}


def _event_routes(app: FastAPI, router: Router, principal) -> None:
    """The event log, its server-sent stream and queue statistics."""

    @app.get("/v1/events")
    def list_events(
        after: int = Query(default=0, ge=0, le=2**31 - 1),
        limit: int = Query(default=1000, ge=1, le=10000),
        who: A.Principal = Depends(principal),
    ):
        _events_reader(who)
        return E.list_events(router.store, who.center, after, limit)

    @app.get("/v1/events/stream")
    async def stream(
        request: Request,
        after: int = Query(default=0, ge=0, le=2**31 - 1),
        max_events: int | None = Query(default=None, ge=1),
        timeout_s: float | None = Query(default=None, gt=0),
        last_event_id: str | None = Header(default=None, alias="Last-Event-ID"),
        who: A.Principal = Depends(principal),
    ):
        _events_reader(who)
        cursor = int(last_event_id) if last_event_id and last_event_id.isdigit() else after

        async def generate():
            nonlocal cursor
            sent = 0
            waited = quiet = 0.0
            while True:
                batch = await asyncio.to_thread(E.list_events, router.store, who.center, cursor)
                for event in batch:
                    yield E.sse_lines(event)
                    cursor = event["seq"]
                    sent += 1
                    if max_events is not None and sent >= max_events:
                        return
                if timeout_s is not None and waited >= timeout_s:
                    return
                if await request.is_disconnected():
                    return
                if batch:
                    quiet = 0.0
                elif quiet >= 15.0:  # a comment line keeps proxies from closing the stream
                    yield ": keep-alive\n\n"
                    quiet = 0.0
                await asyncio.sleep(0.2)
                waited += 0.2
                quiet += 0.2

        return StreamingResponse(generate(), media_type="text/event-stream")

    @app.get("/v1/queues/{queue}/stats")
    def stats(queue: str, who: A.Principal = Depends(principal)):
        if who.kind == "agent":
            raise Forbidden("agent tokens do not read queue statistics", field="Authorization")
        who.require_scope("stats:read")
        if queue not in router.center(who.center).queue_channel:
            raise NotFound(f"no queue {queue!r}", field="queue")
        return queue_stats(router, who.center, queue)


def _events_reader(who: A.Principal) -> None:
    if who.kind == "agent":
        raise Forbidden("agent tokens do not read the event log", field="Authorization")
    who.require_scope("events:read")


def _assigned_agent_or_admin(who: A.Principal, contact: dict) -> None:
    if who.is_admin:
        return
    if who.kind == "agent" and contact["agent_id"] == who.agent_id:
        return
    if who.kind == "agent":
        raise Forbidden("this contact is not assigned to this agent", field="Authorization")
    raise Forbidden("only the assigned agent or the admin may do this", field="Authorization")


def start_background(
    router: Router, export_path: str | None, export_origin: pd.Timestamp | None
) -> list:
    """The routing loop (PostgreSQL) or timer sweeper (SQLite), webhooks and the exporter."""
    from openwfm.routing.loop import start_routing

    routing = start_routing(router)
    workers: list = [routing] if routing is not None else []
    dispatcher = E.WebhookDispatcher(router.store)
    dispatcher.start()
    workers.append(dispatcher)
    if export_path:
        from openwfm.routing.export import Exporter

        exporter = Exporter(router, export_path, export_origin)
        exporter.start()
        workers.append(exporter)
    return workers

"""HTTP endpoints the live pages use, with the router's own auth (same keys, same scopes).

``GET /v1/me`` (who this key is), ``GET /v1/wallboard`` (``stats:read``), ``GET /v1/agents``
(``agents:read``), ``GET /v1/contacts`` (the waiting contacts, ``contacts:read``),
``GET /v1/agents/{id}/desk`` (the agent's own token, or ``agents:read``),
``POST /v1/contacts/{id}/move`` (``contacts:write``) and ``PUT /v1/intraday/outlook`` (admin:
publish the intraday outlook and alerts the wallboard shows).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query
from pydantic import Field

from openwfm.routing import auth as A
from openwfm.routing import models as M
from openwfm.routing.core import Router
from openwfm.routing.problems import BadRequest, Forbidden
from openwfm.web import views as V


class ContactMove(M.Body):
    queue: Annotated[str, Field(min_length=1, max_length=200)]


class OutlookPoint(M.Body):
    """One interval of the projected rest of the day (``start`` ISO time, figures 0..1)."""

    start: Annotated[str, Field(min_length=1, max_length=40)]
    service_level: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    abandon_rate: Annotated[float, Field(ge=0.0, le=1.0)] | None = None


class OutlookAlert(M.Body):
    queue: Annotated[str, Field(min_length=1, max_length=200)]
    rule: Annotated[str, Field(min_length=1, max_length=200)]
    severity: Annotated[str, Field(max_length=40)] = "warning"
    message: Annotated[str, Field(max_length=500)] = ""
    value: float | None = None
    threshold: float | None = None


class AgentAdherence(M.Body):
    """An agent's adherence now: in or out (since ``out_since``, ISO) of ``activity``."""

    in_adherence: bool
    activity: Annotated[str, Field(max_length=200)] | None = None
    out_since: Annotated[str, Field(max_length=40)] | None = None


class OutlookPublish(M.Body):
    """The intraday stage's outlook (per queue, per interval), its active alerts and the
    agents' adherence now (the supervisor's desk shows it)."""

    outlook: dict[str, list[OutlookPoint]] = Field(default_factory=dict)
    alerts: list[OutlookAlert] = Field(default_factory=list)
    adherence: dict[str, AgentAdherence] = Field(default_factory=dict)
    as_of: Annotated[str, Field(max_length=40)] | None = None


def _not_agent(who: A.Principal, what: str) -> None:
    if who.kind == "agent":
        raise Forbidden(f"agent tokens do not read {what}", field="Authorization")


def api_routes(router: Router, admin_key: str, published: dict[str, Any]) -> APIRouter:
    """The pages' endpoints over ``router``; ``published`` holds each center's outlook."""
    api = APIRouter(prefix="/v1")

    def principal(
        authorization: str | None = Header(default=None),
        center: str | None = Query(default=None, description="the center (admin, several)"),
    ) -> A.Principal:
        return A.authenticate(router.store, admin_key, router.centers, authorization, center)

    @api.get("/me")
    def me(who: A.Principal = Depends(principal)):
        """The caller: kind (admin, integration, agent), center, agent id, scopes."""
        return {
            "kind": who.kind,
            "center": who.center,
            "agent_id": who.agent_id,
            "scopes": sorted(who.scopes),
        }

    @api.get("/wallboard")
    def wallboard(who: A.Principal = Depends(principal)):
        _not_agent(who, "the wallboard")
        who.require_scope("stats:read")
        return V.wallboard(router, who.center, published.get(who.center))

    @api.get("/agents")
    def agents(who: A.Principal = Depends(principal)):
        _not_agent(who, "other agents")
        who.require_scope("agents:read")
        return V.agent_board(router, who.center, published.get(who.center))

    @api.get("/contacts")
    def waiting(who: A.Principal = Depends(principal)):
        _not_agent(who, "the queues")
        who.require_scope("contacts:read")
        return V.waiting_contacts(router, who.center)

    @api.get("/agents/{agent_id}/desk")
    def desk(agent_id: str, who: A.Principal = Depends(principal)):
        if who.kind == "agent":
            who.require_agent(agent_id)
        else:
            who.require_scope("agents:read")
        return V.agent_desk(router, who.center, agent_id)

    @api.post("/contacts/{contact_id}/move", response_model=M.ContactOut)
    def move(contact_id: str, body: ContactMove, who: A.Principal = Depends(principal)):
        if who.kind == "agent":
            raise Forbidden("an agent token cannot move contacts", field="Authorization")
        who.require_scope("contacts:write")
        return V.move_contact(router, who.center, contact_id, body.queue)

    @api.put("/intraday/outlook")
    def publish(body: OutlookPublish, who: A.Principal = Depends(principal)):
        who.require_admin()
        spec = router.center(who.center)
        for queue in list(body.outlook) + [a.queue for a in body.alerts]:
            if queue not in spec.queue_channel:
                raise BadRequest(f"unknown queue {queue!r}", field="queue")
        data = body.model_dump()
        published[who.center] = data
        with router.tx(who.center) as tx:
            tx.emit("intraday.outlook", alerts=len(body.alerts), as_of=body.as_of)
        return data

    return api

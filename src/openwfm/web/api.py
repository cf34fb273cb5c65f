"""HTTP endpoints the live pages use, with the router's own auth (same keys, same scopes).

``GET /v1/me`` (who this key is), ``GET /v1/wallboard`` (``stats:read``), ``GET /v1/agents``
(``agents:read``), ``GET /v1/contacts`` (the waiting contacts, ``contacts:read``),
``GET /v1/agents/{id}/desk`` (the agent's own token, or ``agents:read``),
``POST /v1/contacts/{id}/move`` (``contacts:write``), ``PUT /v1/intraday/outlook`` (admin:
publish the intraday outlook and alerts the wallboard shows), and the re-plan the supervisor's
desk works on: ``PUT /v1/intraday/replan`` (``intraday:write``: a schedule version and its
proposals), ``GET /v1/intraday/replan`` (``intraday:read``) and
``POST /v1/intraday/proposals/{id}/accept`` (``intraday:write``); see
:mod:`openwfm.web.intraday_desk`. The intraday stage's own computations
(``POST /v1/intraday/adherence``, ``POST /v1/intraday/outlook``, :mod:`openwfm.intraday.api`)
are mounted beside them with the scope ``intraday:read``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Header, Query
from pydantic import Field

from openwfm.routing import auth as A
from openwfm.routing import models as M
from openwfm.routing.core import Router
from openwfm.routing.problems import BadRequest, Forbidden
from openwfm.web import intraday_desk as D
from openwfm.web import views as V

if TYPE_CHECKING:
    import pandas as pd


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


class ReplanPublish(M.Body):
    """A schedule version (the scheduler's shifts rows: agent, date, shift_start, shift_end,
    shift_type, paid_minutes, breaks[, version]) and the proposals ``openwfm intraday replan``
    made for it (its proposals table as rows)."""

    shifts: list[dict[str, Any]] = Field(min_length=1, max_length=20000)
    proposals: list[dict[str, Any]] = Field(default_factory=list, max_length=2000)
    as_of: Annotated[str, Field(max_length=40)] | None = None


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


def principal_of(router: Router, admin_key: str) -> Callable[..., A.Principal]:
    """The dependency that authenticates a request (the router's keys and tokens)."""

    def principal(
        authorization: str | None = Header(default=None),
        center: str | None = Query(default=None, description="the center (admin, several)"),
    ) -> A.Principal:
        return A.authenticate(router.store, admin_key, router.centers, authorization, center)

    return principal


def api_routes(
    router: Router, admin_key: str, clock_origin: pd.Timestamp | None = None
) -> APIRouter:
    """The pages' endpoints over ``router`` (``clock_origin``: a virtual clock's time 0)."""
    api = APIRouter(prefix="/v1")
    principal = principal_of(router, admin_key)

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
        return V.wallboard(router, who.center, D.read_document(router, who.center, D.OUTLOOK))

    @api.get("/agents")
    def agents(who: A.Principal = Depends(principal)):
        _not_agent(who, "other agents")
        who.require_scope("agents:read")
        adherence, source = D.agent_adherence(router, who.center, clock_origin)
        return V.agent_board(router, who.center, adherence, source)

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
        return D.publish_outlook(router, who.center, body.model_dump())

    _replan_routes(api, router, principal)
    return api


def _replan_routes(api: APIRouter, router: Router, principal) -> None:
    """The published re-plan and the supervisor's "accept a proposal"."""

    @api.put("/intraday/replan")
    def publish_replan(body: ReplanPublish, who: A.Principal = Depends(principal)):
        _not_agent(who, "the re-plan")
        who.require_scope("intraday:write")
        return D.publish_replan(router, who.center, body.model_dump())

    @api.get("/intraday/replan")
    def replan(who: A.Principal = Depends(principal)):
        _not_agent(who, "the re-plan")
        who.require_scope("intraday:read")
        return D.replan_view(router, who.center)

    @api.post("/intraday/proposals/{proposal_id}/accept")
    def accept(proposal_id: str, who: A.Principal = Depends(principal)):
        _not_agent(who, "the re-plan")
        who.require_scope("intraday:write")
        return D.accept_proposal(router, who.center, proposal_id)


def intraday_stage_routes(router: Router, admin_key: str) -> APIRouter:
    """The intraday stage's computations (:func:`openwfm.intraday.api.intraday_router`) behind
    the router's auth: any key of the center with ``intraday:read`` (agent tokens: 403)."""
    from openwfm.intraday.api import intraday_router

    principal = principal_of(router, admin_key)

    def reader(who: A.Principal = Depends(principal)) -> None:
        _not_agent(who, "the intraday stage")
        who.require_scope("intraday:read")

    stage = APIRouter(dependencies=[Depends(reader)])
    stage.include_router(intraday_router())
    return stage

"""Request and response bodies of the router's HTTP API (pydantic: the OpenAPI schema)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from openwfm.model import Channel


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OnBehalfOf(Body):
    """A digital assistant (Siri, Alexa, a bank's bot) acting for the customer."""

    kind: Annotated[str, Field(min_length=1, max_length=100)]
    name: Annotated[str, Field(min_length=1, max_length=200)]


class ContactCreate(Body):
    queue: Annotated[str, Field(min_length=1, max_length=200)]
    segment: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    priority: float | None = None
    customer_id: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    attributes: dict[str, Any] | None = None
    on_behalf_of: OnBehalfOf | None = None
    ttl_s: Annotated[float, Field(gt=0)] | None = None


class ContactOut(BaseModel):
    id: str
    state: str
    queue: str
    channel: str
    segment: str
    priority: float | None = None
    customer_id: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    on_behalf_of: dict[str, Any] | None = None
    agent_id: str | None = None
    offer_id: str | None = None
    arrival_s: float
    answered_s: float | None = None
    wrapup_s: float | None = None
    ended_s: float | None = None
    estimated_wait_s: float | None = None
    callback_offered: bool = False
    callback: bool = False
    ttl_deadline_s: float | None = None
    escalation_step: int = 0
    due_s: float | None = None  # deferred work: arrival + the target's within_s (clock seconds)


class AgentPut(Body):
    skills: dict[str, Annotated[float, Field(ge=0.0, le=1.0)]]
    capacity: dict[Channel, Annotated[int, Field(ge=0, le=100)]] = Field(default_factory=dict)
    team: Annotated[str, Field(max_length=200)] | None = None


class AgentOut(BaseModel):
    id: str
    team: str | None = None
    skills: dict[str, float]
    capacity: dict[str, int]
    status: str
    load: int
    channel: str | None = None
    idle_since_s: float
    missed_offers: int


class Presence(Body):
    status: Literal["available", "away", "offline"]


class OfferOut(BaseModel):
    id: str
    contact_id: str
    agent_id: str
    state: str
    created_s: float
    expires_at: float
    expires_at_s: float
    decided_s: float | None = None


class OfferDecision(BaseModel):
    offer: OfferOut
    contact: ContactOut | None = None


class KeyCreate(Body):
    scopes: list[str] = Field(default_factory=list)


class CustomerPut(Body):
    segment: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)


class WebhookCreate(Body):
    url: Annotated[str, Field(min_length=8, max_length=2000)]
    secret: Annotated[str, Field(min_length=8, max_length=200)] | None = None
    from_seq: Annotated[int, Field(ge=0)] | None = None


class ClockAdvance(Body):
    """Move the virtual clock to ``to_s`` or by ``by_s`` seconds (exactly one)."""

    to_s: float | None = None
    by_s: Annotated[float, Field(ge=0)] | None = None
    stop_on_offer: bool = False  # stop after a timer that made an offer (digital twin)

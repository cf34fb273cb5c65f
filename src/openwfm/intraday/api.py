"""A thin HTTP layer over the intraday Python API (FastAPI + pydantic).

``intraday_router()`` is an ``APIRouter`` any FastAPI app can include (the live router's
service, a supervisor desk); ``create_intraday_app()`` serves it alone. Endpoints:

- ``POST /v1/intraday/adherence``: state events + schedule (+ map, resolutions) -> adherence
  and conformance per agent x day and x interval, exceptions, who is out now, rejected rows;
- ``POST /v1/intraday/outlook``: scenario + forecast + contacts so far + agents on line (+
  alert rules and the alert log) -> the outlook per queue x interval, per queue, and alerts.

Bad input answers 422 ``application/problem+json`` with ``detail`` and ``field`` (the typed
errors of the Python API, or pydantic's for a malformed body). Times are ISO 8601, local-naive.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from openwfm.errors import OpenWFMError

if TYPE_CHECKING:
    from fastapi import APIRouter, FastAPI


Row = dict[str, Any]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _local_naive(cls, value):
        """Times are local-naive (the schedule's clock): an offset is refused, not guessed."""
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            raise ValueError("expected a local time without a UTC offset (e.g. 2024-03-04T09:00)")
        return value


class StateEvent(_Body):
    agent_id: str = Field(min_length=1)
    ts: dt.datetime
    state: str = Field(min_length=1)
    reason_code: str | None = None
    source: str | None = None


class Activity(_Body):
    agent_id: str = Field(min_length=1)
    start: dt.datetime
    end: dt.datetime
    activity: str = Field(min_length=1)


class Resolution(_Body):
    agent_id: str
    start: dt.datetime
    end: dt.datetime
    resolution: Literal["approved", "neutral"]
    by: str | None = None
    note: str | None = None


class AdherenceRequest(_Body):
    """``roster``: the known agents (default: the schedule's); ``map``: an adherence map
    (``{"rules": [...]}``, default: the built-in one)."""

    events: list[StateEvent]
    schedule: list[Activity]
    start: dt.datetime
    end: dt.datetime
    as_of: dt.datetime | None = None
    preset: Literal["genesys", "nice", "teleopti", "injixo"] = "genesys"
    interval_minutes: Literal[5, 6, 10, 15, 30, 60] = 15
    map: dict[str, Any] | None = None
    resolutions: list[Resolution] = Field(default_factory=list)
    roster: list[str] | None = None


class OutlookRequest(_Body):
    """``scenario``: the scenario document (queues, targets); ``forecast``: rows
    ``interval_start, queue, forecast[, aht_s]``; ``contacts``: interactions rows known so far;
    ``agents``: rows ``interval_start, queue, agents``; ``rules``: alert rules (default: the
    built-in ones); ``alert_log``: earlier alert rows for the cool-down."""

    scenario: dict[str, Any]
    forecast: list[Row]
    contacts: list[Row]
    agents: list[Row]
    as_of: dt.datetime
    interval_minutes: int | None = None
    rules: list[dict[str, Any]] | None = None
    alert_log: list[Row] = Field(default_factory=list)


def records(frame: pd.DataFrame) -> list[Row]:
    """A table as JSON-ready rows (times ISO 8601, NaN/NaT as null)."""
    if frame is None or frame.empty:
        return []
    out = []
    for row in frame.to_dict("records"):
        clean = {}
        for key, value in row.items():
            if isinstance(value, pd.Timestamp):
                value = value.isoformat()
            elif isinstance(value, np.generic):
                value = value.item()
            if value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
                value = None
            elif value is pd.NA:
                value = None
            clean[str(key)] = value
        out.append(clean)
    return out


def _frame(rows: list, columns: list[str] | None = None) -> pd.DataFrame:
    dumped = [r.model_dump() if isinstance(r, BaseModel) else dict(r) for r in rows]
    return pd.DataFrame(dumped, columns=columns) if not dumped else pd.DataFrame(dumped)


def _problem(error: OpenWFMError):
    from fastapi.responses import JSONResponse

    body = {
        "type": "about:blank",
        "title": "Unprocessable Content",
        "status": 422,
        "detail": str(error),
    }
    if error.field:
        body["field"] = error.field
    return JSONResponse(body, status_code=422, media_type="application/problem+json")


def run_adherence(body: AdherenceRequest) -> dict:
    from openwfm.intraday.adherence_figures import adherence
    from openwfm.intraday.mapping import AdherenceMap, default_adherence_map
    from openwfm.intraday.states import check_state_events
    from openwfm.intraday.timeline import check_schedule_table

    schedule = check_schedule_table(
        _frame(body.schedule, ["agent_id", "start", "end", "activity"]), file="schedule"
    )
    roster = body.roster if body.roster is not None else list(schedule["agent_id"])
    events = _frame(body.events, ["agent_id", "ts", "state", "reason_code", "source"])
    feed = check_state_events(events, roster=roster, file="events", line_offset=0)
    amap = AdherenceMap.model_validate(body.map) if body.map else default_adherence_map()
    result = adherence(
        feed.events,
        schedule,
        amap,
        start=body.start,
        end=body.end,
        as_of=body.as_of,
        preset=body.preset,
        interval_minutes=body.interval_minutes,
        resolutions=_frame(body.resolutions) if body.resolutions else None,
    )
    return {
        "preset": body.preset,
        "by_day": records(result.by_day),
        "by_interval": records(result.by_interval),
        "exceptions": records(result.exceptions),
        "now": records(result.now),
        "rejected": records(feed.rejected),
    }


def run_outlook(body: OutlookRequest) -> dict:
    from openwfm.intraday.alerts import AlertRule, default_rules, evaluate_alerts
    from openwfm.intraday.rest_of_day import outlook
    from openwfm.model import Scenario

    scenario = Scenario.model_validate(body.scenario)
    contacts = _frame(body.contacts)
    for column in ("arrival_time", "answer_time", "end_time", "abandon_time"):
        if column not in contacts.columns:
            contacts[column] = pd.NaT
        contacts[column] = pd.to_datetime(contacts[column])
    for column, default in (("outcome", "answered"), ("wait_s", np.nan), ("handle_s", np.nan)):
        if column not in contacts.columns:
            contacts[column] = default
    agents = _frame(body.agents)
    agents["interval_start"] = pd.to_datetime(agents["interval_start"])
    result = outlook(
        _frame(body.forecast),
        contacts,
        agents,
        scenario,
        as_of=body.as_of,
        interval_minutes=body.interval_minutes,
    )
    rules = [AlertRule.model_validate(r) for r in body.rules] if body.rules else default_rules()
    log = _frame(body.alert_log) if body.alert_log else None
    alerts = evaluate_alerts(rules, body.as_of, outlook=result, log=log)
    return {
        "intervals": records(result.intervals),
        "queues": records(result.queues),
        "alerts": records(alerts),
    }


def intraday_router() -> APIRouter:
    """The intraday endpoints as an ``APIRouter`` (see the module doc)."""
    from fastapi import APIRouter
    from pydantic import ValidationError

    router = APIRouter(prefix="/v1/intraday", tags=["intraday"])

    def answer(work, body):
        try:
            return work(body)
        except OpenWFMError as error:
            return _problem(error)
        except ValidationError as error:  # a nested document (scenario, map, rules)
            first = error.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            return _problem(OpenWFMError(first["msg"], field=where))

    @router.post("/adherence")
    def adherence_endpoint(body: AdherenceRequest):
        return answer(run_adherence, body)

    @router.post("/outlook")
    def outlook_endpoint(body: OutlookRequest):
        return answer(run_outlook, body)

    return router


def create_intraday_app() -> FastAPI:
    """A FastAPI app serving only the intraday endpoints."""
    from fastapi import FastAPI

    app = FastAPI(title="openwfm intraday")
    app.include_router(intraday_router())
    return app

"""The intraday stage inside ``openwfm serve``: what it publishes to the live pages, the
supervisor's "accept a re-plan proposal", and adherence now computed from a published schedule.

Published documents live in the store (``router_documents``), so every router process serves
the same one and a restart keeps it:

- ``outlook``: the rest-of-day outlook, alerts and (optionally) adherence now, as the intraday
  stage computed them (``PUT /v1/intraday/outlook``);
- ``replan``: a schedule version (the scheduler's ``shifts`` rows) and the re-plan proposals of
  :func:`openwfm.intraday.replan` for it (``PUT /v1/intraday/replan``). Accepting a proposal
  (``POST /v1/intraday/proposals/{id}/accept``) applies
  :func:`openwfm.intraday.accept_proposals` to the current version: a new version (``version``
  + 1) in the same transaction as its ``intraday.proposal.accepted`` event; the rule checker
  refuses (409) a proposal that would break a hard rule.

Adherence now (:func:`live_adherence`): with a published schedule, the router's own agent
events (presence, contacts) against that schedule's current version, by the intraday stage's
adherence (:func:`openwfm.intraday.adherence`, default map): live, never older than the page.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import insert, select, update

from openwfm.routing import store as S
from openwfm.routing.core import Router
from openwfm.routing.problems import BadRequest, Conflict, NotFound
from openwfm.routing.transitions import Tx

OUTLOOK = "outlook"
REPLAN = "replan"
SHIFT_COLUMNS = ("agent", "date", "shift_start", "shift_end")
PROPOSAL_KEYS = ("proposal_id", "kind", "agent", "shift_start", "shift_end")
ADHERENCE_EVENTS = ("agent.presence", "contact.assigned", "contact.wrapping", "contact.completed")


# --- documents ------------------------------------------------------------------------------


def read_document(router: Router, center: str, name: str) -> dict | None:
    """The body of ``center``'s published ``name`` document (with its ``version``), or None."""
    d = S.documents.c
    with router.store.read() as connection:
        row = connection.execute(
            select(d.body, d.version).where(d.center == center, d.name == name)
        ).first()
    return None if row is None else {**row.body, "version": row.version}


def _store_document(tx: Tx, name: str, body: dict, version: int | None = None) -> int:
    """Insert or replace ``name`` inside the transaction ``tx``; returns its version."""
    d = S.documents.c
    row = tx.connection.execute(
        select(d.version).where(d.center == tx.center, d.name == name)
    ).first()
    if row is None:
        version = version or 1
        tx.connection.execute(
            insert(S.documents).values(
                center=tx.center, name=name, body=body, version=version, updated_s=tx.now
            )
        )
        return version
    version = version or row.version + 1
    tx.connection.execute(
        update(S.documents)
        .where(d.center == tx.center, d.name == name)
        .values(body=body, version=version, updated_s=tx.now)
    )
    return version


def publish_outlook(router: Router, center: str, body: dict) -> dict:
    """Store the outlook document; one ``intraday.outlook`` event."""
    with router.tx(center) as tx:
        _store_document(tx, OUTLOOK, body)
        tx.emit("intraday.outlook", alerts=len(body.get("alerts", [])), as_of=body.get("as_of"))
    return body


# --- the re-plan and its proposals ------------------------------------------------------------


def _rows(value: Any, field: str, required: tuple[str, ...]) -> pd.DataFrame:
    frame = pd.DataFrame(value)
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise BadRequest(f"rows lack the column {missing[0]!r}", field=field)
    return frame


def _shift_frame(rows: list[dict], field: str = "shifts") -> pd.DataFrame:
    frame = _rows(rows, field, SHIFT_COLUMNS)
    for column in ("shift_start", "shift_end"):
        try:
            frame[column] = pd.to_datetime(frame[column])
        except (ValueError, TypeError) as error:
            raise BadRequest(f"{column}: {error}", field=f"{field}.{column}") from None
    return frame


def _json_rows(frame: pd.DataFrame) -> list[dict]:
    from openwfm.web.publish import replan_payload

    return replan_payload(frame, frame.iloc[:0])["shifts"]


def publish_replan(router: Router, center: str, body: dict) -> dict:
    """Store a schedule version and its proposals (all open); one ``intraday.replan`` event."""
    shifts = _shift_frame(body["shifts"])
    agents = {a.name for a in router.center(center).scenario.all_agents()}
    unknown = sorted(set(shifts["agent"].astype(str)) - agents)
    if unknown:
        raise BadRequest(f"unknown agent {unknown[0]!r} in the shifts", field="shifts.agent")
    proposals = _rows(body["proposals"], "proposals", PROPOSAL_KEYS) if body["proposals"] else None
    ids = [] if proposals is None else list(proposals["proposal_id"].astype(str))
    if len(set(ids)) != len(ids):
        raise BadRequest("proposal ids repeat", field="proposals.proposal_id")
    version = int(shifts["version"].max()) if "version" in shifts.columns else 1
    document = {
        "as_of": body.get("as_of"),
        "shifts": _json_rows(shifts.assign(version=version)),
        "proposals": [] if proposals is None else _json_rows(proposals),
        "accepted": [],
    }
    with router.tx(center) as tx:
        _store_document(tx, REPLAN, document, version)
        tx.emit("intraday.replan", proposals=len(ids), version=version, as_of=body.get("as_of"))
    return {**document, "version": version}


def replan_view(router: Router, center: str) -> dict:
    """The published re-plan: version, shifts, proposals each with ``status`` open/accepted."""
    router.center(center)
    document = read_document(router, center, REPLAN)
    if document is None:
        return {"center": center, "published": False, "proposals": [], "shifts": []}
    accepted = set(document["accepted"])
    proposals = [
        {**p, "status": "accepted" if p["proposal_id"] in accepted else "open"}
        for p in document["proposals"]
    ]
    return {**document, "center": center, "published": True, "proposals": proposals}


def accept_proposal(router: Router, center: str, proposal_id: str) -> dict:
    """Apply one proposal to the current schedule version (see the module doc)."""
    from openwfm.errors import OpenWFMError
    from openwfm.intraday.replanning import accept_proposals

    scenario = router.center(center).scenario
    d = S.documents.c
    with router.tx(center) as tx:
        row = tx.connection.execute(
            select(d.body, d.version).where(d.center == tx.center, d.name == REPLAN)
        ).first()
        if row is None:
            raise NotFound("no re-plan published (PUT /v1/intraday/replan)", field="proposal_id")
        body = dict(row.body)
        if proposal_id not in {p["proposal_id"] for p in body["proposals"]}:
            raise NotFound(f"no proposal {proposal_id!r}", field="proposal_id")
        if proposal_id in body["accepted"]:
            raise Conflict(f"proposal {proposal_id!r} is already accepted", field="proposal_id")
        if scenario.schedule is None:
            raise Conflict(
                "the center's scenario has no schedule section (shift rules to check)",
                field="proposal_id",
            )
        proposals = _rows(body["proposals"], "proposals", PROPOSAL_KEYS)
        try:
            new = accept_proposals(_shift_frame(body["shifts"]), proposals, [proposal_id], scenario)
        except OpenWFMError as error:
            raise Conflict(str(error), field="proposal_id") from None
        version = int(new["version"].iloc[0])
        body.update(shifts=_json_rows(new), accepted=[*body["accepted"], proposal_id])
        _store_document(tx, REPLAN, body, version)
        proposal = next(p for p in body["proposals"] if p["proposal_id"] == proposal_id)
        tx.emit(
            "intraday.proposal.accepted",
            proposal_id=proposal_id,
            kind=proposal["kind"],
            agent=proposal["agent"],
            version=version,
        )
    return {"proposal": {**proposal, "status": "accepted"}, "version": version}


# --- adherence now --------------------------------------------------------------------------


def local_time(
    router: Router, center: str, at_s: float, origin: pd.Timestamp | str | None = None
) -> pd.Timestamp:
    """A router time (seconds) as the center's local-naive time (virtual clock: ``origin`` +
    seconds, midnight of 1970-01-01 without one)."""
    if router.virtual_clock:
        base = pd.Timestamp(origin) if origin is not None else pd.Timestamp("1970-01-01")
        return base + pd.Timedelta(seconds=float(at_s))
    zone = ZoneInfo(router.center(center).scenario.grid.timezone)
    return pd.Timestamp(dt.datetime.fromtimestamp(at_s, zone).replace(tzinfo=None))


def live_adherence(
    router: Router, center: str, shifts: list[dict], origin: pd.Timestamp | str | None = None
) -> dict:
    """agent -> ``{in_adherence, activity, out_since}`` now, from the router's agent events of
    today (and the day before, for the state at midnight) against ``shifts``."""
    from openwfm.intraday import adherence, from_router_events, scheduled_activities
    from openwfm.web.publish import adherence_now

    now_s = router.now()
    now = local_time(router, center, now_s, origin)
    day = now.normalize()
    since_s = now_s - (now - day).total_seconds() - 86400.0
    e, a = S.events.c, S.agents.c
    with router.store.read() as connection:
        roster = list(connection.execute(select(a.agent_id).where(a.center == center)).scalars())
        events = connection.execute(
            select(e.seq, e.at_s, e.type, e.agent_id, e.data).where(
                e.center == center, e.at_s >= since_s, e.type.in_(ADHERENCE_EVENTS)
            )
        ).all()
    if router.virtual_clock:
        feed = from_router_events(
            [r._asdict() for r in events], origin=local_time(router, center, 0.0, origin)
        )
    else:
        zone = router.center(center).scenario.grid.timezone
        feed = from_router_events([r._asdict() for r in events], timezone=zone)
    frame = _shift_frame(shifts)
    today = frame[frame["shift_start"].dt.normalize() == day]
    schedule = scheduled_activities(shifts=today)
    result = adherence(feed.events, schedule, start=day, end=day + pd.Timedelta(days=1), as_of=now)
    return adherence_now(result.now, roster=roster)


def agent_adherence(
    router: Router, center: str, origin: pd.Timestamp | str | None = None
) -> tuple[dict, dict]:
    """(agent -> adherence now, where it comes from): the live figure when a schedule is
    published, else what the intraday stage last published, else nothing (``kind`` None)."""
    replan = read_document(router, center, REPLAN)
    if replan is not None:
        by_agent = live_adherence(router, center, replan["shifts"], origin)
        return by_agent, {"kind": "live", "version": replan["version"], "as_of": None}
    outlook = read_document(router, center, OUTLOOK)
    if outlook is not None and outlook.get("adherence"):
        return outlook["adherence"], {
            "kind": "published",
            "version": outlook["version"],
            "as_of": outlook.get("as_of"),
        }
    return {}, {"kind": None, "version": None, "as_of": None}

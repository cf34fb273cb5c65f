"""The state transitions of contacts, offers and agents, each inside one transaction (``Tx``).

Each function checks the current state, writes a guarded update (``WHERE state = ...``; a
changed row count means a concurrent change and the whole transaction fails), and emits its
events. The state machines are written down in :mod:`openwfm.routing.store`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, insert, null, select, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.sql import Executable

from openwfm.routing import outbox, pgsql
from openwfm.routing import store as S
from openwfm.routing.lease import lock_center
from openwfm.routing.problems import Conflict, NotFound


class GuardFailed(RuntimeError):
    """A guarded update changed no row: the state moved under us (the transaction rolls back)."""


@dataclass
class Tx:
    """One write transaction on one center at time ``now`` (seconds on the router's clock)."""

    connection: Connection
    center: str
    now: float
    pending_events: list[dict] = field(default_factory=list)
    reroute: bool = False  # something changed that may allow new offers
    # PostgreSQL: guarded statements (SQL, parameters) sent with the COMMIT (the last writes)
    deferred: list[tuple[str, dict]] = field(default_factory=list)
    lock: bool = True  # False: the center's write lock is held already, or only reading
    # the routing loop's pass (PostgreSQL, READ COMMITTED, no center lock): offers to an agent
    # whose row moved are dropped (:func:`make_offers`), and the commit takes these events
    # from the inbox and numbers them before the pass's own
    # (:func:`openwfm.routing.outbox.commit_with_events`)
    routing_pass: bool = False
    inbox: list[int] | None = None
    pass_offers: tuple | None = None  # (offer rows, slots, proficiencies) planned by the pass
    offered: list[str] = field(default_factory=list)  # after the commit: agent of each offer

    def __post_init__(self) -> None:
        # PostgreSQL: a center's write transactions run one at a time across processes
        if self.lock:
            lock_center(self.connection, self.center)

    def emit(
        self,
        type_: str,
        *,
        contact_id: str | None = None,
        agent_id: str | None = None,
        offer_id: str | None = None,
        **data: Any,
    ) -> None:
        self.pending_events.append(
            {
                "center": self.center,
                "at_s": self.now,
                "type": type_,
                "contact_id": contact_id,
                "agent_id": agent_id,
                "offer_id": offer_id,
                "data": data,
            }
        )

    def flush_events(self) -> None:
        """Number the pending events gap-free and insert them (called just before commit)."""
        if self.pending_events:
            outbox.insert_numbered_events(self.connection, self.center, self.pending_events)
        self.pending_events = []

    def commit(self) -> None:
        """Insert the pending events and commit (PostgreSQL: in one round trip; a routing
        pass: with its offers, :func:`openwfm.routing.outbox.commit_pass`)."""
        import psycopg

        try:
            if self.routing_pass:
                self.offered = outbox.commit_pass(
                    self.connection, self.center, self.inbox or [], self.pending_events,
                    self.pass_offers,
                )  # fmt: skip
            else:
                outbox.commit_with_events(
                    self.connection, self.center, self.pending_events, self.deferred
                )
        except psycopg.Error as error:
            if error.sqlstate == pgsql.GUARD_SQLSTATE:
                raise GuardFailed(str(error).strip()) from error
            raise
        self.pending_events = []
        self.deferred = []

    def commit_to_inbox(self) -> int | None:
        """Routing loop (PostgreSQL): leave the events in the inbox for the center's routing
        pass to number, and commit; returns the last inbox id (None: no events)."""
        last = outbox.commit_to_inbox(self.connection, self.center, self.pending_events)
        self.pending_events = []
        return last

    def guarded(self, statement: Executable) -> Row | None:
        """Execute an update that must change exactly one row; returns that row when the
        statement has RETURNING (else None)."""
        result = self.connection.execute(statement)
        if result.returns_rows:
            rows = result.all()
            if len(rows) != 1:
                raise GuardFailed(str(statement))
            return rows[0]
        if result.rowcount != 1:
            raise GuardFailed(str(statement))
        return None


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


# --- reading rows -----------------------------------------------------------------------------


def contact_row(tx: Tx, contact_id: str) -> Row:
    row = tx.connection.execute(
        select(S.contacts).where(
            S.contacts.c.contact_id == contact_id, S.contacts.c.center == tx.center
        )
    ).first()
    if row is None:
        raise NotFound(f"no contact {contact_id!r}", field="id")
    return row


AGENT_STATE_COLUMNS = tuple(
    S.agents.c[name]
    for name in ("agent_id", "status", "load", "load_limit", "channel", "missed_offers")
)


def agent_row(tx: Tx, agent_id: str, full: bool = True) -> Row:
    """The agent's row (``full=False``: its state columns only, no skills or capacity)."""
    columns = (S.agents,) if full else AGENT_STATE_COLUMNS
    row = tx.connection.execute(
        select(*columns).where(S.agents.c.center == tx.center, S.agents.c.agent_id == agent_id)
    ).first()
    if row is None:
        raise NotFound(f"no agent {agent_id!r}", field="id")
    return row


def offer_row(tx: Tx, offer_id: str) -> Row:
    row = tx.connection.execute(
        select(S.offers).where(S.offers.c.offer_id == offer_id, S.offers.c.center == tx.center)
    ).first()
    if row is None:
        raise NotFound(f"no offer {offer_id!r}", field="id")
    return row


# --- agents' load ---------------------------------------------------------------------------


def take_slot(tx: Tx, agent_id: str, channel: str, limit: int, count: int = 1) -> None:
    """``count`` more contacts (offers) for the agent on ``channel`` (limit: its capacity
    there): one guarded update (available, idle or already on ``channel``, within ``limit``)."""
    a = S.agents.c
    tx.guarded(
        update(S.agents)
        .where(
            a.center == tx.center,
            a.agent_id == agent_id,
            a.status == "available",
            (a.load == 0) | (a.channel == channel),
            a.load + count <= limit,
        )
        .values(load=a.load + count, channel=channel, load_limit=limit)
    )


def release_slot(
    tx: Tx, agent_id: str, *, finished: bool, count: int = 1, also: dict | None = None
) -> Row | None:
    """``count`` contacts (or offers) less, in one guarded update; ``finished``: a contact
    ended, so the agent's idle clock restarts (the simulator does the same at the end of every
    contact, chats included); ``also``: more columns to set in the same update. Returns the
    agent's row after the update."""
    a = S.agents.c
    values = {
        "load": a.load - count,
        "channel": case((a.load == count, null()), else_=a.channel),
        "load_limit": case((a.load == count, 0), else_=a.load_limit),
        **(also or {}),
    }
    if finished:
        values["idle_since_s"] = tx.now
    return tx.guarded(
        update(S.agents)
        .where(a.center == tx.center, a.agent_id == agent_id, a.load >= count)
        .values(**values)
        .returning(*S.agents.c)
    )


# --- offers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedOffer:
    """One routing decision to write: ``contact`` (its queued row) to ``agent_id``."""

    contact: Any
    agent_id: str
    proficiency: float
    channel: str
    limit: int  # the agent's capacity on ``channel``


def make_offers(tx: Tx, planned: list[PlannedOffer], timeout_s: float) -> int:
    """Offer each planned contact (queued) to its agent (available, with free slots), guarded:
    PostgreSQL in one statement (:func:`openwfm.routing.pgsql.write_offers`) - sent with the
    COMMIT (the transaction's last write), or in a routing pass at once, dropping the offers
    of an agent whose row moved - elsewhere one update of the contacts, one of each agent and
    one insert of the offers. Returns the offers written."""
    if not planned:
        return 0
    offer_ids = {p.contact.contact_id: new_id("off") for p in planned}
    slots: dict[tuple[str, str, int], int] = {}
    for p in planned:
        key = (p.agent_id, p.channel, p.limit)
        slots[key] = slots.get(key, 0) + 1
    expires = tx.now + timeout_s
    rows = [
        {
            "offer_id": offer_ids[p.contact.contact_id],
            "center": tx.center,
            "contact_id": p.contact.contact_id,
            "agent_id": p.agent_id,
            "state": "pending",
            "active": True,
            "created_s": tx.now,
            "expires_at_s": expires,
        }
        for p in planned
    ]
    one_row_per_agent = len({agent for agent, _, _ in slots}) == len(slots)
    if tx.connection.dialect.name == "postgresql" and one_row_per_agent:
        if tx.routing_pass:  # written, with their events, by the pass's commit
            tx.pass_offers = (rows, slots, [p.proficiency for p in planned])
            return 0
        # guarded in SQL, sent with the COMMIT in one round trip (see Tx.commit)
        mark = lambda name: f"%({name})s"  # noqa: E731
        tx.deferred.append(pgsql.write_offers(tx.connection, tx.center, rows, slots, mark))
    else:
        _write_offers(tx, rows, slots)
    made = list(zip(rows, planned, strict=True))
    for row, p in made:
        tx.emit(
            "offer.created",
            contact_id=row["contact_id"],
            agent_id=row["agent_id"],
            offer_id=row["offer_id"],
            expires_at_s=expires,
            proficiency=p.proficiency,
        )
    return len(made)


def _write_offers(tx: Tx, rows: list[dict], slots: dict) -> None:
    c = S.contacts.c
    offer_ids = {row["contact_id"]: row["offer_id"] for row in rows}
    changed = tx.connection.execute(
        update(S.contacts)
        .where(c.contact_id.in_(list(offer_ids)), c.state == "queued")
        .values(
            state="offered",
            offer_id=case(offer_ids, value=c.contact_id),
            offer_count=c.offer_count + 1,
        )
    ).rowcount
    if changed != len(rows):
        raise GuardFailed(f"{len(rows) - changed} planned contact(s) no longer queued")
    for (agent_id, channel, limit), count in slots.items():
        take_slot(tx, agent_id, channel, limit, count)
    tx.connection.execute(insert(S.offers), rows)


def end_offer(tx: Tx, offer: Row, state: str) -> None:
    """A pending offer ends unaccepted (rejected, expired, rescinded): the contact goes back
    to ``queued`` (unless it is ending itself) and the agent's slot is freed."""
    o = S.offers.c
    tx.guarded(
        update(S.offers)
        .where(o.offer_id == offer.offer_id, o.state == "pending")
        .values(state=state, active=False, decided_s=tx.now)
    )
    release_slot(tx, offer.agent_id, finished=False)
    c = S.contacts.c
    tx.connection.execute(
        update(S.contacts)
        .where(c.contact_id == offer.contact_id, c.state == "offered", c.offer_id == offer.offer_id)
        .values(state="queued", offer_id=None)
    )
    tx.emit(
        f"offer.{state}",
        contact_id=offer.contact_id,
        agent_id=offer.agent_id,
        offer_id=offer.offer_id,
    )
    tx.reroute = True


def accept_offer(tx: Tx, offer: Row) -> None:
    if offer.state != "pending":
        raise Conflict(f"offer is {offer.state}, not pending", field="state")
    o, c = S.offers.c, S.contacts.c
    tx.guarded(
        update(S.offers)
        .where(o.offer_id == offer.offer_id, o.state == "pending")
        .values(state="accepted", decided_s=tx.now)
    )
    tx.guarded(
        update(S.contacts)
        .where(c.contact_id == offer.contact_id, c.state == "offered", c.offer_id == offer.offer_id)
        .values(state="assigned", agent_id=offer.agent_id, answered_s=tx.now)
    )
    tx.connection.execute(
        update(S.agents)
        .where(S.agents.c.center == tx.center, S.agents.c.agent_id == offer.agent_id)
        .values(missed_offers=0)
    )
    tx.emit(
        "offer.accepted",
        contact_id=offer.contact_id,
        agent_id=offer.agent_id,
        offer_id=offer.offer_id,
    )
    tx.emit("contact.assigned", contact_id=offer.contact_id, agent_id=offer.agent_id)


def expire_offer(tx: Tx, offer: Row, max_missed: int) -> None:
    end_offer(tx, offer, "expired")
    a = S.agents.c
    agent = agent_row(tx, offer.agent_id, full=False)
    missed = agent.missed_offers + 1
    tx.connection.execute(
        update(S.agents)
        .where(a.center == tx.center, a.agent_id == offer.agent_id)
        .values(missed_offers=missed)
    )
    if missed >= max_missed and agent.status == "available":
        set_presence(tx, offer.agent_id, "away", reason="missed_offers")


def rescind_offers_of(tx: Tx, agent_id: str) -> list:
    """End every pending offer of the agent as ``rescinded`` (their contacts back to
    ``queued``); returns them, oldest first. The caller frees the agent's slots."""
    o, c = S.offers.c, S.contacts.c
    offers = tx.connection.execute(
        update(S.offers)
        .where(o.center == tx.center, o.agent_id == agent_id, o.state == "pending")
        .values(state="rescinded", active=False, decided_s=tx.now)
        .returning(o.offer_id, o.contact_id, o.created_s)
    ).all()
    if not offers:
        return []
    offers.sort(key=lambda r: (r.created_s, r.offer_id))
    tx.connection.execute(
        update(S.contacts)
        .where(
            c.contact_id.in_([r.contact_id for r in offers]),
            c.state == "offered",
            c.offer_id.in_([r.offer_id for r in offers]),
        )
        .values(state="queued", offer_id=None)
    )
    for offer in offers:
        tx.emit(
            "offer.rescinded",
            contact_id=offer.contact_id,
            agent_id=agent_id,
            offer_id=offer.offer_id,
        )
    tx.reroute = True
    return offers


# --- agents -----------------------------------------------------------------------------------


def set_presence(tx: Tx, agent_id: str, status: str, reason: str | None = None) -> Row | None:
    """Change an agent's presence; away or offline rescinds its pending offers. Returns the
    agent's row after the change (PostgreSQL: one statement, :func:`pgsql.change_presence`)."""
    if tx.connection.dialect.name == "postgresql":
        return _set_presence_at_once(tx, agent_id, status, reason)
    agent = agent_row(tx, agent_id, full=False)
    values: dict = {"status": status}
    a = S.agents.c
    if status == "available":
        values["missed_offers"] = 0
        if agent.status != "available" and agent.load == 0:
            values["idle_since_s"] = tx.now
        tx.reroute = True
    else:
        rescinded = rescind_offers_of(tx, agent_id)
        if rescinded:  # the slots and the presence in one update
            row = release_slot(tx, agent_id, finished=False, count=len(rescinded), also=values)
            values = {}
    if values:
        row = tx.guarded(
            update(S.agents)
            .where(a.center == tx.center, a.agent_id == agent_id)
            .values(**values)
            .returning(*S.agents.c)
        )
    if agent.status != status:
        extra = {"reason": reason} if reason else {}
        tx.emit("agent.presence", agent_id=agent_id, status=status, previous=agent.status, **extra)
    return row


def _set_presence_at_once(tx: Tx, agent_id: str, status: str, reason: str | None) -> Row:
    row = pgsql.change_presence(tx.connection, tx.center, agent_id, status, tx.now)
    if row is None:
        raise NotFound(f"no agent {agent_id!r}", field="id")
    for offer_id, contact_id, _created_s in sorted(
        row.rescinded_offers or [], key=lambda r: (r[2], r[0])
    ):
        tx.emit("offer.rescinded", contact_id=contact_id, agent_id=agent_id, offer_id=offer_id)
    if status == "available" or row.rescinded_offers:
        tx.reroute = True
    if row.previous_status != status:
        extra = {"reason": reason} if reason else {}
        tx.emit(
            "agent.presence", agent_id=agent_id, status=status, previous=row.previous_status,
            **extra,
        )  # fmt: skip
    return row


# --- contacts ---------------------------------------------------------------------------------


def end_waiting_contact(tx: Tx, contact: Row, state: str, reason: str | None = None) -> None:
    """A queued or offered contact ends (canceled, expired, abandoned); its offer is rescinded."""
    if contact.state not in S.LIVE_STATES:
        raise Conflict(
            f"contact is {contact.state}; only a queued or offered contact can be {state}",
            field="state",
        )
    if contact.state == "offered" and contact.offer_id:
        end_offer(tx, offer_row(tx, contact.offer_id), "rescinded")
    c = S.contacts.c
    tx.guarded(
        update(S.contacts)
        .where(c.contact_id == contact.contact_id, c.state == "queued")
        .values(state=state, ended_s=tx.now, offer_id=None)
    )
    extra = {"reason": reason} if reason else {}
    tx.emit(f"contact.{state}", contact_id=contact.contact_id, **extra)


def start_wrapup(tx: Tx, contact: Row, limit_s: float) -> None:
    if contact.state != "assigned":
        raise Conflict(f"contact is {contact.state}; wrap-up starts from assigned", field="state")
    c = S.contacts.c
    tx.guarded(
        update(S.contacts)
        .where(c.contact_id == contact.contact_id, c.state == "assigned")
        .values(state="wrapping", wrapup_s=tx.now, wrapup_deadline_s=tx.now + limit_s)
    )
    tx.emit("contact.wrapping", contact_id=contact.contact_id, agent_id=contact.agent_id)


def complete_contact(tx: Tx, contact: Row, reason: str | None = None) -> None:
    if contact.state not in ("assigned", "wrapping"):
        raise Conflict(
            f"contact is {contact.state}; completion needs assigned or wrapping", field="state"
        )
    c, o = S.contacts.c, S.offers.c
    tx.guarded(
        update(S.contacts)
        .where(c.contact_id == contact.contact_id, c.state == contact.state)
        .values(state="completed", ended_s=tx.now, wrapup_deadline_s=None)
    )
    tx.guarded(
        update(S.offers)
        .where(o.offer_id == contact.offer_id, o.state == "accepted", o.active)
        .values(active=False)
    )
    release_slot(tx, contact.agent_id, finished=True)
    if contact.customer_id:
        k = S.customers.c
        tx.connection.execute(
            update(S.customers)
            .where(k.center == tx.center, k.customer_id == contact.customer_id)
            .values(last_agent_id=contact.agent_id)
        )
    extra = {"reason": reason} if reason else {}
    tx.emit("contact.completed", contact_id=contact.contact_id, agent_id=contact.agent_id, **extra)
    tx.reroute = True

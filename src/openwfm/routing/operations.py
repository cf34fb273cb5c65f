"""What the API does, one function per operation (each one transaction through the router)."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, insert, select, update

from openwfm.model import Channel
from openwfm.routing import store as S
from openwfm.routing import transitions as T
from openwfm.routing.core import Router
from openwfm.routing.problems import BadRequest, Conflict, Unprocessable

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy.engine import Row


# --- views --------------------------------------------------------------------------------------


def contact_view(row: Row) -> dict:
    return {
        "id": row.contact_id,
        "queue": row.queue,
        "channel": row.channel,
        "segment": row.segment,
        "priority": row.priority,
        "customer_id": row.customer_id,
        "attributes": row.attributes,
        "on_behalf_of": row.on_behalf_of,
        "state": row.state,
        "agent_id": row.agent_id,
        "offer_id": row.offer_id,
        "arrival_s": row.arrival_s,
        "answered_s": row.answered_s,
        "wrapup_s": row.wrapup_s,
        "ended_s": row.ended_s,
        "estimated_wait_s": row.estimated_wait_s,
        "callback_offered": row.callback_offered,
        "callback": row.callback,
        "ttl_deadline_s": row.ttl_deadline_s,
        "escalation_step": row.step,
        "due_s": row.due_s,
    }


def offer_view(row: Row) -> dict:
    return {
        "id": row.offer_id,
        "contact_id": row.contact_id,
        "agent_id": row.agent_id,
        "state": row.state,
        "created_s": row.created_s,
        "expires_at": row.expires_at_s,
        "expires_at_s": row.expires_at_s,
        "decided_s": row.decided_s,
    }


def agent_view(row: Row) -> dict:
    return {
        "id": row.agent_id,
        "team": row.team,
        "skills": row.skills,
        "capacity": row.capacity,
        "status": row.status,
        "load": row.load,
        "channel": row.channel,
        "idle_since_s": row.idle_since_s,
        "missed_offers": row.missed_offers,
    }


def get_contact(router: Router, center: str, contact_id: str) -> dict:
    with router.store.read() as connection:
        return contact_view(T.contact_row(T.Tx(connection, center, 0.0, lock=False), contact_id))


def get_agent(router: Router, center: str, agent_id: str) -> dict:
    with router.store.read() as connection:
        return agent_view(T.agent_row(T.Tx(connection, center, 0.0, lock=False), agent_id))


def get_offer(router: Router, center: str, offer_id: str) -> dict:
    with router.store.read() as connection:
        return offer_view(T.offer_row(T.Tx(connection, center, 0.0, lock=False), offer_id))


# --- contacts ---------------------------------------------------------------------------------


def request_hash(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def create_contact(
    router: Router, center: str, key: str, body: dict, profile: dict | None
) -> tuple[int, dict]:
    """Create a contact once per ``Idempotency-Key``: (status code, stored response).

    ``profile`` is the customer's profile fetched beforehand (CRM), or None. Two creates with
    one key at once (no center lock on PostgreSQL): the store's key refuses the second, which
    then answers with the first's stored response.
    """
    from sqlalchemy.exc import IntegrityError

    try:
        return _create_contact(router, center, key, body, profile)
    except IntegrityError:
        return _create_contact(router, center, key, body, profile)


def _create_contact(
    router: Router, center: str, key: str, body: dict, profile: dict | None
) -> tuple[int, dict]:
    spec = router.center(center)
    digest = request_hash(body)
    queue = body["queue"]
    if queue not in spec.queue_channel:
        raise BadRequest(
            f"unknown queue {queue!r} (known: {', '.join(spec.queue_channel)})", field="queue"
        )
    with router.tx(center) as tx:
        known = tx.connection.execute(
            select(S.idempotency).where(
                S.idempotency.c.center == center, S.idempotency.c.key == key
            )
        ).first()
        if known is not None:
            if known.request_hash != digest:
                raise Unprocessable(
                    "this key was used with another request body", field="Idempotency-Key"
                )
            return known.status_code, known.response
        customer = _customer(tx, body.get("customer_id"))
        segment = (
            body.get("segment")
            or (customer or {}).get("segment")
            or (profile or {}).get("segment")
            or "default"
        )
        if segment not in spec.segment_names:
            raise BadRequest(
                f"unknown segment {segment!r} (known: {', '.join(spec.segment_names)})",
                field="segment",
            )
        attributes = {
            **(profile or {}).get("attributes", {}),
            **(customer or {}).get("attributes", {}),
            **(body.get("attributes") or {}),
        }
        row = _insert_contact(router, tx, body, segment, attributes)
        response = contact_view(row)
        tx.connection.execute(
            insert(S.idempotency).values(
                center=center,
                key=key,
                request_hash=digest,
                status_code=201,
                response=response,
                created_s=tx.now,
            )
        )
        tx.reroute = True
    return 201, response


def _customer(tx: T.Tx, customer_id: str | None) -> dict | None:
    if not customer_id:
        return None
    k = S.customers.c
    row = tx.connection.execute(
        select(S.customers).where(k.center == tx.center, k.customer_id == customer_id)
    ).first()
    if row is None:
        tx.connection.execute(
            insert(S.customers).values(
                center=tx.center, customer_id=customer_id, segment=None, attributes={}
            )
        )
        return None
    return {"segment": row.segment, "attributes": row.attributes, "last_agent": row.last_agent_id}


def _insert_contact(router: Router, tx: T.Tx, body: dict, segment: str, attributes: dict):
    spec = router.centers[tx.center]
    queue = body["queue"]
    c = S.contacts.c
    if tx.connection.dialect.name == "postgresql":  # no center lock needed for it
        number = S.CONTACT_NUMBERS.next_value()
    else:
        number = (
            tx.connection.execute(select(func.max(c.number)).where(c.center == tx.center)).scalar()
            or 0
        ) + 1
    contact_id = T.new_id("con")
    step, step_deadline = spec.next_step_deadline(tx.now, 0)
    ttl = body.get("ttl_s")
    estimate = estimated_wait_s(router, tx, queue)
    channel = spec.queue_channel[queue]
    due = None
    if not spec.is_live(queue):  # deferred work carries its deadline target
        due = tx.now + spec.scenario.target_for(queue, segment).within_s
    threshold = router.settings.callback_threshold_s
    callback_offered = bool(
        channel == Channel.VOICE.value
        and threshold is not None
        and estimate is not None
        and estimate > threshold
    )
    tx.connection.execute(
        insert(S.contacts).values(
            contact_id=contact_id,
            center=tx.center,
            number=number,
            queue=queue,
            channel=channel,
            segment=segment,
            priority=body.get("priority"),
            customer_id=body.get("customer_id"),
            attributes=attributes,
            on_behalf_of=body.get("on_behalf_of"),
            state="queued",
            arrival_s=tx.now,
            offer_count=0,
            ttl_deadline_s=None if ttl is None else tx.now + ttl,
            step=0,
            step_deadline_s=step_deadline,
            estimated_wait_s=estimate,
            callback_offered=callback_offered,
            callback=False,
            due_s=due,
            exported=False,
        )
    )
    tx.emit(
        "contact.created",
        contact_id=contact_id,
        queue=queue,
        channel=channel,
        segment=segment,
        customer_id=body.get("customer_id"),
        on_behalf_of=body.get("on_behalf_of"),
        estimated_wait_s=estimate,
        callback_offered=callback_offered,
    )
    return T.contact_row(tx, contact_id)


def estimated_wait_s(router: Router, tx: T.Tx, queue: str) -> float | None:
    """Expected wait of a new contact of ``queue`` from the live state (seconds).

    The M/M/n conditional wait: with every one of the ``n`` service slots of the agents
    logged in for the queue busy and ``k`` contacts ahead, the wait to the start of service is
    ``(k + 1) / (n / aht)``; 0 when a slot is free; None when nobody is logged in.
    """
    spec = router.centers[tx.center]
    channel = spec.queue_channel[queue]
    a, c = S.agents.c, S.contacts.c
    rows = tx.connection.execute(
        select(*router.AGENT_COLUMNS).where(a.center == tx.center, a.status != "offline")
    ).all()
    static = router.agent_static(tx.connection, tx.center, rows)
    slots = 0
    free = False
    for row in rows:
        skills, capacities = static[row.agent_id]
        if queue not in skills:
            continue
        capacity = capacities.get(channel, 0)
        slots += capacity
        if row.status == "available" and (
            row.load == 0 or (row.channel == channel and row.load < capacity)
        ):
            free = True
    if slots == 0:
        return None
    ahead = tx.connection.execute(
        select(func.count()).where(
            c.center == tx.center, c.queue == queue, c.state.in_(S.LIVE_STATES)
        )
    ).scalar()
    if free and ahead == 0:
        return 0.0
    aht = spec.scenario.queue(queue).aht_s
    return round((ahead + 1) * aht / slots, 3)


def cancel_contact(router: Router, center: str, contact_id: str, state: str = "canceled") -> dict:
    """Cancel (or mark abandoned) a queued or offered contact."""
    with router.tx(center) as tx:
        contact = T.contact_row(tx, contact_id)
        if state == "abandoned" and (
            not router.centers[center].is_live(contact.queue) or contact.callback
        ):
            raise Conflict(
                "deferred work and accepted callbacks are never abandoned", field="state"
            )
        T.end_waiting_contact(tx, contact, state)
        tx.reroute = True
        return contact_view(T.contact_row(tx, contact_id))


def wrapup_contact(router: Router, center: str, contact_id: str) -> dict:
    with router.tx(center) as tx:
        T.start_wrapup(tx, T.contact_row(tx, contact_id), router.settings.wrap_up_limit_s)
        return contact_view(T.contact_row(tx, contact_id))


def complete_contact(router: Router, center: str, contact_id: str) -> dict:
    with router.tx(center) as tx:
        T.complete_contact(tx, T.contact_row(tx, contact_id))
        return contact_view(T.contact_row(tx, contact_id))


def accept_callback(router: Router, center: str, contact_id: str) -> dict:
    """The customer takes the offered callback: the contact keeps its place in line (its
    arrival time) without holding a line, and is no longer abandoned."""
    with router.tx(center) as tx:
        contact = T.contact_row(tx, contact_id)
        if contact.state not in S.LIVE_STATES:
            raise Conflict(
                f"contact is {contact.state}; a callback needs a waiting contact", field="state"
            )
        if not contact.callback_offered:
            raise Conflict("no callback was offered for this contact", field="callback")
        tx.connection.execute(
            update(S.contacts).where(S.contacts.c.contact_id == contact_id).values(callback=True)
        )
        tx.emit("contact.callback_accepted", contact_id=contact_id)
        return contact_view(T.contact_row(tx, contact_id))


# --- agents and offers -----------------------------------------------------------------------


def put_agent(router: Router, center: str, agent_id: str, body: dict) -> dict:
    spec = router.center(center)
    skills = body["skills"]
    for queue in skills:
        if queue not in spec.queue_channel:
            raise BadRequest(f"unknown queue {queue!r}", field=f"skills.{queue}")
    capacity = spec.agent_capacity(skills, body.get("capacity") or {})
    a = S.agents.c
    with router.tx(center) as tx:
        row = tx.connection.execute(  # locked: a routing pass may be taking its slots
            select(S.agents).where(a.center == center, a.agent_id == agent_id).with_for_update()
        ).first()
        if row is None:
            ordinal = (
                tx.connection.execute(
                    select(func.max(a.ordinal)).where(a.center == center)
                ).scalar()
                or 0
            ) + 1
            tx.connection.execute(
                insert(S.agents).values(
                    center=center,
                    agent_id=agent_id,
                    ordinal=ordinal,
                    team=body.get("team"),
                    skills=skills,
                    capacity=capacity,
                    status="offline",
                    load=0,
                    load_limit=0,
                    channel=None,
                    idle_since_s=tx.now,
                    missed_offers=0,
                )
            )
        else:
            if row.load and capacity.get(row.channel, 0) < row.load:
                raise Conflict(
                    f"the agent holds {row.load} {row.channel} contacts; capacity "
                    "cannot go below that now",
                    field=f"capacity.{row.channel}",
                )
            values = {
                "skills": skills,
                "capacity": capacity,
                "team": body.get("team", row.team),
                "version": row.version + 1,
            }
            if row.load:
                values["load_limit"] = capacity[row.channel]
            tx.connection.execute(
                update(S.agents).where(a.center == center, a.agent_id == agent_id).values(**values)
            )
        tx.emit("agent.updated", agent_id=agent_id, skills=skills, capacity=capacity)
        tx.reroute = True
        return agent_view(T.agent_row(tx, agent_id))


def set_presence(router: Router, center: str, agent_id: str, status: str) -> dict:
    with router.tx(center) as tx:
        return agent_view(T.set_presence(tx, agent_id, status))


def agent_offers(router: Router, center: str, agent_id: str) -> list[dict]:
    o = S.offers.c
    with router.store.read() as connection:
        exists = connection.execute(
            select(S.agents.c.agent_id).where(
                S.agents.c.center == center, S.agents.c.agent_id == agent_id
            )
        ).first()
        if exists is None:
            raise T.NotFound(f"no agent {agent_id!r}", field="id")
        rows = connection.execute(
            select(S.offers)
            .join(S.contacts, S.contacts.c.contact_id == o.contact_id)
            .where(o.center == center, o.agent_id == agent_id, o.state == "pending")
            .order_by(o.created_s, S.contacts.c.number)
        ).all()
    return [offer_view(row) for row in rows]


def decide_offer(router: Router, center: str, offer_id: str, accept: bool) -> dict:
    with router.tx(center) as tx:
        offer = T.offer_row(tx, offer_id)
        if offer.state != "pending":
            raise Conflict(f"offer is {offer.state}, not pending", field="state")
        if accept:
            T.accept_offer(tx, offer)
            return {
                "offer": offer_view(T.offer_row(tx, offer_id)),
                "contact": contact_view(T.contact_row(tx, offer.contact_id)),
            }
        T.end_offer(tx, offer, "rejected")
        return {"offer": offer_view(T.offer_row(tx, offer_id))}


# --- customers --------------------------------------------------------------------------------


def put_customer(router: Router, center: str, customer_id: str, body: dict) -> dict:
    spec = router.center(center)
    segment = body.get("segment")
    if segment is not None and segment not in spec.segment_names:
        raise BadRequest(f"unknown segment {segment!r}", field="segment")
    attributes = body.get("attributes") or {}
    k = S.customers.c
    with router.tx(center) as tx:
        row = tx.connection.execute(
            select(S.customers).where(k.center == center, k.customer_id == customer_id)
        ).first()
        if row is None:
            tx.connection.execute(
                insert(S.customers).values(
                    center=center, customer_id=customer_id, segment=segment, attributes=attributes
                )
            )
        else:
            tx.connection.execute(
                update(S.customers)
                .where(k.center == center, k.customer_id == customer_id)
                .values(segment=segment, attributes=attributes)
            )
        tx.emit("customer.updated", customer_id=customer_id, segment=segment)
    return {"id": customer_id, "segment": segment, "attributes": attributes}


def put_customers(
    router: Router, center: str, frame: pd.DataFrame, source: str = "customers"
) -> int:
    """Profiles from a table (``customer_id``, ``segment``?, attributes) in one transaction."""
    from openwfm.errors import DataError

    spec = router.center(center)
    k = S.customers.c
    attribute_columns = [c for c in frame.columns if c not in ("customer_id", "segment")]
    with router.tx(center) as tx:
        for row_number, record in enumerate(frame.to_dict("records"), start=2):
            customer_id = str(record["customer_id"])
            segment = record.get("segment")
            segment = None if segment is None or segment != segment else str(segment)
            if segment is not None and segment not in spec.segment_names:
                raise DataError(
                    f"unknown segment {segment!r}", file=source, line=row_number, field="segment"
                )
            attributes = {c: record[c] for c in attribute_columns if record[c] == record[c]}
            tx.connection.execute(
                delete(S.customers).where(k.center == center, k.customer_id == customer_id)
            )
            tx.connection.execute(
                insert(S.customers).values(
                    center=center,
                    customer_id=customer_id,
                    segment=segment,
                    attributes=json.loads(json.dumps(attributes, default=str)),
                )
            )
        tx.emit("customers.loaded", count=len(frame), source=source)
    return len(frame)

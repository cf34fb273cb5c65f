"""What the live pages show, read from the router's store (plain functions over rows).

- :func:`wallboard`: per queue and channel, waiting now, longest and estimated wait, service
  level today and over the last 15 minutes against the target, abandonment, agents by state,
  free chat capacity (and the intraday outlook and alerts when one was published);
- :func:`agent_board`: every agent with state, time in state, current contacts;
- :func:`waiting_contacts`: the contacts waiting, oldest first, with their segment;
- :func:`agent_desk`: one agent's presence, pending offers with the customer's context,
  current contacts and own figures today;
- :func:`move_contact`: a waiting contact to another queue of the same channel.

Service level per contact uses the contact's own target (the segment's for ``queue`` if it
has one, else the queue's): the same rule as ``openwfm kpi --scenario``, so the wallboard's
end-of-day totals equal the KPIs of the interactions the router wrote. Times in seconds on
the router's clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection, Row

from openwfm.routing import operations as O
from openwfm.routing import store as S
from openwfm.routing import transitions as T
from openwfm.routing.core import Router
from openwfm.routing.problems import BadRequest, Conflict
from openwfm.routing.stats import _day_start

if TYPE_CHECKING:
    from openwfm.model import Scenario, ServiceTarget

WINDOW_15_MIN_S = 900.0
# events after which an agent is in a new state (for "time in state")
AGENT_STATE_EVENTS = (
    "agent.presence",
    "offer.created",
    "offer.accepted",
    "offer.rejected",
    "offer.expired",
    "offer.rescinded",
    "contact.wrapping",
    "contact.completed",
)


def last_event_seq(connection: Connection, center: str) -> int:
    return connection.execute(
        select(S.centers.c.event_seq).where(S.centers.c.center == center)
    ).scalar_one()


def contact_target(scenario: Scenario, row: Row) -> ServiceTarget:
    return scenario.target_for(row.queue, row.segment)


def window_totals(rows: Sequence[Row], scenario: Scenario, queue: str) -> dict:
    """Offered, answered, abandoned, short abandons, answered within target and service level
    of contacts (rows) that arrived in a window; the queue target's definition applies."""
    target = scenario.queue(queue).target
    answered = [r for r in rows if r.answered_s is not None]
    abandoned = [r for r in rows if r.state in ("abandoned", "expired") and r.answered_s is None]
    within = sum(
        1 for r in answered if r.answered_s - r.arrival_s <= contact_target(scenario, r).within_s
    )
    short = sum(1 for r in abandoned if r.ended_s - r.arrival_s <= target.short_abandon_s)
    offered = len(answered) + len(abandoned)
    definition = str(target.definition.value)
    denominator = {"answered": len(answered), "exclude_short_abandons": offered - short}.get(
        definition, offered
    )
    handled = [r for r in answered if r.state == "completed" and r.ended_s is not None]
    return {
        "offered": offered,
        "answered": len(answered),
        "abandoned": len(abandoned),
        "short_abandoned": short,
        "answered_within_target": within,
        "service_level": within / denominator if denominator else None,
        "abandon_rate": len(abandoned) / offered if offered else None,
        "asa_s": sum(r.answered_s - r.arrival_s for r in answered) / len(answered)
        if answered
        else None,
        "aht_s": sum((r.wrapup_s or r.ended_s) - r.answered_s for r in handled) / len(handled)
        if handled
        else None,
    }


def _agent_counts(agents, queue: str, channel: str) -> tuple[dict, int]:
    by_state = {"available": 0, "busy": 0, "wrap_up": 0, "away": 0, "offline": 0}
    free = 0
    for agent in agents:
        if queue not in agent.skills:
            continue
        if agent.status != "available":
            by_state[agent.status] += 1
            continue
        by_state["busy" if agent.load else "available"] += 1
        if agent.load == 0 or agent.channel == channel:
            free += max(0, agent.capacity.get(channel, 0) - agent.load)
    return by_state, free


def wallboard(router: Router, center: str, published: dict | None = None) -> dict:
    """The wallboard of ``center``: one tile per queue (see the module docstring)."""
    spec = router.center(center)
    scenario = spec.scenario
    now = router.now()
    day_start = _day_start(router, spec, now)
    c, a = S.contacts.c, S.agents.c
    with router.store.read() as connection:
        seq = last_event_seq(connection, center)
        agents = connection.execute(select(S.agents).where(a.center == center)).all()
        rows = connection.execute(
            select(S.contacts).where(
                c.center == center,
                (c.arrival_s >= min(day_start, now - WINDOW_15_MIN_S)) | c.state.in_(S.LIVE_STATES),
            )
        ).all()
        tx = T.Tx(connection, center, now, lock=False)
        estimates = {q: O.estimated_wait_s(router, tx, q) for q in spec.queue_channel}
    wrapping = {r.agent_id for r in rows if r.state == "wrapping"}
    tiles = []
    for queue, channel in spec.queue_channel.items():
        mine = [r for r in rows if r.queue == queue]
        waiting = [r for r in mine if r.state in S.LIVE_STATES]
        by_state, free = _agent_counts(agents, queue, channel)
        by_state["wrap_up"] = sum(1 for g in agents if queue in g.skills and g.agent_id in wrapping)
        target = scenario.queue(queue).target
        tile = {
            "queue": queue,
            "channel": channel,
            "waiting": len(waiting),
            "longest_wait_s": max((now - r.arrival_s for r in waiting), default=0.0),
            "estimated_wait_s": estimates[queue],
            "agents": by_state,
            "free_capacity": free,
            "target": {
                "service_level": target.service_level,
                "within_s": target.within_s,
                "max_abandon": target.max_abandon,
                "definition": str(target.definition.value),
            },
            "today": window_totals([r for r in mine if r.arrival_s >= day_start], scenario, queue),
            "last_15_min": window_totals(
                [r for r in mine if r.arrival_s >= now - WINDOW_15_MIN_S], scenario, queue
            ),
        }
        if published:
            tile["outlook"] = published.get("outlook", {}).get(queue)
            tile["alerts"] = [x for x in published.get("alerts", []) if x.get("queue") == queue]
        tiles.append(tile)
    return {"center": center, "name": scenario.name, "now_s": now, "seq": seq, "queues": tiles}


def _since_by_agent(connection, center: str) -> dict[str, float]:
    e = S.events.c
    rows = connection.execute(
        select(e.agent_id, func.max(e.at_s))
        .where(e.center == center, e.agent_id.is_not(None), e.type.in_(AGENT_STATE_EVENTS))
        .group_by(e.agent_id)
    ).all()
    return {agent_id: at_s for agent_id, at_s in rows}


def _agent_state(agent, contacts: list) -> str:
    if agent.status != "available":
        return agent.status
    if any(r.state == "wrapping" for r in contacts) and not any(
        r.state == "assigned" for r in contacts
    ):
        return "wrap_up"
    if contacts:
        return "busy"
    return "reserved" if agent.load else "available"


def agent_board(
    router: Router,
    center: str,
    adherence: dict | None = None,
    adherence_source: dict | None = None,
) -> dict:
    """Every agent of ``center``: state, seconds in it, current contacts, load and skills.

    ``adherence``: agent -> adherence now (:func:`openwfm.web.intraday_desk.agent_adherence`),
    None for an agent it does not cover; ``adherence_source`` says where it comes from
    (``kind`` "live" from a published schedule, "published" by the intraday stage, or None:
    no schedule published, so no adherence).
    """
    adherence = adherence or {}
    router.center(center)
    now = router.now()
    c, a = S.contacts.c, S.agents.c
    with router.store.read() as connection:
        seq = last_event_seq(connection, center)
        agents = connection.execute(
            select(S.agents).where(a.center == center).order_by(a.ordinal)
        ).all()
        current = connection.execute(
            select(S.contacts).where(c.center == center, c.state.in_(("assigned", "wrapping")))
        ).all()
        since = _since_by_agent(connection, center)
    by_agent: dict[str, list] = {}
    for row in current:
        by_agent.setdefault(row.agent_id, []).append(row)
    result = []
    for agent in agents:
        contacts = by_agent.get(agent.agent_id, [])
        started = since.get(agent.agent_id)
        result.append(
            {
                "id": agent.agent_id,
                "team": agent.team,
                "status": agent.status,
                "state": _agent_state(agent, contacts),
                "time_in_state_s": None if started is None else max(0.0, now - started),
                "load": agent.load,
                "channel": agent.channel,
                "skills": agent.skills,
                "missed_offers": agent.missed_offers,
                "contacts": [
                    {"id": r.contact_id, "queue": r.queue, "state": r.state, "segment": r.segment}
                    for r in contacts
                ],
                "adherence": adherence.get(agent.agent_id),
            }
        )
    source = adherence_source or {"kind": None, "version": None, "as_of": None}
    return {"center": center, "now_s": now, "seq": seq, "agents": result, "adherence": source}


def waiting_contacts(router: Router, center: str) -> dict:
    """Contacts waiting for an agent (queued or offered), oldest first; ``gold`` marks the
    contacts of the A-team segments (or, without them, of the highest-priority segment)."""
    spec = router.center(center)
    now = router.now()
    c = S.contacts.c
    with router.store.read() as connection:
        rows = connection.execute(
            select(S.contacts)
            .where(c.center == center, c.state.in_(S.LIVE_STATES))
            .order_by(c.arrival_s, c.number)
        ).all()
    gold = gold_segments(spec.scenario)
    return {
        "center": center,
        "now_s": now,
        "contacts": [
            {
                **O.contact_view(r),
                "wait_s": now - r.arrival_s,
                "gold": r.segment in gold,
            }
            for r in rows
        ],
    }


def gold_segments(scenario: Scenario) -> set[str]:
    a_team = set(getattr(scenario.routing, "a_team_segments", None) or ())
    if a_team:
        return a_team
    priorities = {s.name: s.priority for s in scenario.segments}
    if len(set(priorities.values())) < 2:
        return set()
    top = max(priorities.values())
    return {name for name, p in priorities.items() if p == top}


def agent_desk(router: Router, center: str, agent_id: str) -> dict:
    """One agent's desktop: presence, pending offers with the contact (customer context),
    contacts in hand, and today's own figures (handled, mean handle time, offers missed)."""
    spec = router.center(center)
    now = router.now()
    day_start = _day_start(router, spec, now)
    c, o = S.contacts.c, S.offers.c
    with router.store.read() as connection:
        agent = T.agent_row(T.Tx(connection, center, now, lock=False), agent_id)
        offers = connection.execute(
            select(S.offers)
            .where(o.center == center, o.agent_id == agent_id, o.state == "pending")
            .order_by(o.created_s, o.offer_id)
        ).all()
        offered = {
            r.contact_id: r
            for r in connection.execute(
                select(S.contacts).where(c.contact_id.in_([r.contact_id for r in offers]))
            ).all()
        }
        in_hand = connection.execute(
            select(S.contacts)
            .where(
                c.center == center,
                c.agent_id == agent_id,
                c.state.in_(("assigned", "wrapping")),
            )
            .order_by(c.answered_s)
        ).all()
        done = connection.execute(
            select(S.contacts).where(
                c.center == center,
                c.agent_id == agent_id,
                c.state == "completed",
                c.ended_s >= day_start,
            )
        ).all()
        decided = connection.execute(
            select(o.state, func.count())
            .where(o.center == center, o.agent_id == agent_id, o.created_s >= day_start)
            .group_by(o.state)
        ).all()
        since = _since_by_agent(connection, center).get(agent_id)
    counts = dict(decided)
    handle = [(r.wrapup_s or r.ended_s) - r.answered_s for r in done]
    return {
        "center": center,
        "now_s": now,
        "agent": {
            **O.agent_view(agent),
            "state": _agent_state(agent, in_hand),
            "time_in_state_s": None if since is None else max(0.0, now - since),
        },
        "offers": [
            {
                **O.offer_view(r),
                "contact": O.contact_view(offered[r.contact_id]),
                "expires_in_s": r.expires_at_s - now,
            }
            for r in offers
        ],
        "contacts": [O.contact_view(r) for r in in_hand],
        "today": {
            "handled": len(done),
            "aht_s": sum(handle) / len(handle) if handle else None,
            "offers_accepted": counts.get("accepted", 0),
            "offers_rejected": counts.get("rejected", 0),
            "offers_missed": counts.get("expired", 0),
        },
    }


def move_contact(router: Router, center: str, contact_id: str, queue: str) -> dict:
    """Move a waiting contact (queued or offered) to ``queue`` of the same channel.

    A pending offer is rescinded; the contact keeps its arrival time (its place in line) and
    escalation steps; one ``contact.moved`` event. 400 for an unknown queue or another
    channel, 409 when the contact is no longer waiting.
    """
    spec = router.center(center)
    if queue not in spec.queue_channel:
        raise BadRequest(
            f"unknown queue {queue!r} (known: {', '.join(spec.queue_channel)})", field="queue"
        )
    with router.tx(center) as tx:
        contact = T.contact_row(tx, contact_id)
        if contact.state not in S.LIVE_STATES:
            raise Conflict(
                f"contact is {contact.state}; only a waiting contact can move", field="state"
            )
        if spec.queue_channel[queue] != contact.channel:
            raise BadRequest(
                f"queue {queue!r} is {spec.queue_channel[queue]}, the contact is {contact.channel}",
                field="queue",
            )
        if contact.queue == queue:
            return O.contact_view(contact)
        if contact.state == "offered" and contact.offer_id:
            T.end_offer(tx, T.offer_row(tx, contact.offer_id), "rescinded")
        c = S.contacts.c
        tx.guarded(
            update(S.contacts)
            .where(c.contact_id == contact_id, c.state == "queued")
            .values(queue=queue)
        )
        tx.emit("contact.moved", contact_id=contact_id, queue=queue, previous=contact.queue)
        tx.reroute = True
        return O.contact_view(T.contact_row(tx, contact_id))

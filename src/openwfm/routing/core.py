"""The router: one object per process over the store, the centers and a clock.

Every public method is one transaction (or a read). After a change that may allow new offers
the routing pass runs (:meth:`Router.route`): it reads a snapshot of the queued contacts and
the available agents, calls :meth:`openwfm.routing.policy.RoutingPolicy.decide` - the same
compiled functions the simulator runs - and writes the offers with guarded updates in one
transaction. Timers are deadlines in rows, swept by :meth:`Router.sweep` (wall clock: a
background thread; virtual clock: :meth:`Router.advance_clock`, which processes every deadline
at its own time, in order, so a simulated day driven through the router is exact).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import Float, Integer, case, cast, func, insert, literal, null, select, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.sql.elements import Label

from openwfm.routing import pgsql
from openwfm.routing import store as S
from openwfm.routing import transitions as T
from openwfm.routing.center import Center, RouterSettings
from openwfm.routing.lease import lock_center
from openwfm.routing.policy import AgentState, WaitingContact
from openwfm.routing.problems import BadRequest, NotFound


class Router:
    """Contacts, offers and agents of ``centers`` in ``store``; ``virtual_clock`` makes time
    advance only through :meth:`advance_clock` (seconds from ``0`` unless stored)."""

    def __init__(
        self,
        store: S.Store,
        centers: dict[str, Center],
        settings: RouterSettings | None = None,
        virtual_clock: bool = False,
    ) -> None:
        self.store = store
        self.centers = centers
        self.settings = settings or RouterSettings()
        self.virtual_clock = virtual_clock
        self._virtual_now = 0.0
        self._route_lock = threading.Lock()
        self.decisions = 0  # offers made by this process (for benchmarks and metrics)
        self._static: dict = {}  # (center, agent) -> (version, skills, capacity)
        self._static_loaded: set[str] = set()  # centers whose every agent is cached
        self._pass_sql: dict[str, list] = {}  # center -> the pass's reads, compiled
        self.lease = None  # PostgreSQL: the routing-loop leases (set when the service starts)
        self.loop = None  # PostgreSQL, wall clock: the routing loop (openwfm.routing.loop)

    # --- set-up and time --------------------------------------------------------------------
    def setup(self) -> None:
        """Create the schema, the centers' rows and every scenario agent (``offline``)."""
        self.store.create_schema()
        with self.store.write() as connection:
            lock_center(connection, "")  # PostgreSQL: processes starting together, one at a time
            for name, center in self.centers.items():
                row = connection.execute(
                    select(S.centers).where(S.centers.c.center == name)
                ).first()
                if row is None:
                    clock = 0.0 if self.virtual_clock else None
                    connection.execute(
                        insert(S.centers).values(center=name, event_seq=0, clock_s=clock)
                    )
                elif self.virtual_clock and row.clock_s is not None:
                    self._virtual_now = max(self._virtual_now, row.clock_s)
                known = set(
                    connection.execute(
                        select(S.agents.c.agent_id).where(S.agents.c.center == name)
                    ).scalars()
                )
                for ordinal, agent in enumerate(center.scenario.all_agents()):
                    if agent.name in known:
                        continue
                    capacity = {str(k.value): v for k, v in agent.max_concurrency.items()}
                    connection.execute(
                        insert(S.agents).values(
                            center=name,
                            agent_id=agent.name,
                            ordinal=ordinal,
                            team=agent.team,
                            skills=dict(agent.skills),
                            capacity=center.agent_capacity(agent.skills, capacity),
                            status="offline",
                            load=0,
                            load_limit=0,
                            channel=None,
                            idle_since_s=0.0,
                            missed_offers=0,
                            version=1,
                        )
                    )

    def now(self) -> float:
        return self._virtual_now if self.virtual_clock else time.time()

    def center(self, name: str) -> Center:
        try:
            return self.centers[name]
        except KeyError:
            raise NotFound(f"no center {name!r}", field="center") from None

    WAITING_COLUMNS = tuple(
        S.contacts.c[name]
        for name in (
            "contact_id",
            "number",
            "queue",
            "segment",
            "priority",
            "arrival_s",
            "customer_id",
            "offer_count",
            "skill_hold_s",
        )
    )
    AGENT_COLUMNS = tuple(
        S.agents.c[name]
        for name in (
            "agent_id",
            "ordinal",
            "status",
            "load",
            "load_limit",
            "channel",
            "idle_since_s",
            "version",
        )
    )

    def agent_static(self, connection: Connection, center: str, rows: Sequence[Row]) -> dict:
        """agent id -> (skills, capacity) of ``rows``, from a cache checked by ``version``
        (skills and capacity change only through ``PUT /v1/agents``, which bumps it)."""
        cache = self._static
        if center not in self._static_loaded:  # the first pass reads every agent once
            self._static_loaded.add(center)
            everyone = connection.execute(
                select(S.agents.c.agent_id, S.agents.c.version).where(S.agents.c.center == center)
            ).all()
            self.agent_static(connection, center, everyone)
        missing = [
            r.agent_id for r in rows if cache.get((center, r.agent_id), (0,))[0] != r.version
        ]
        if missing:
            a = S.agents.c
            for chunk in range(0, len(missing), 500):
                for row in connection.execute(
                    select(a.agent_id, a.version, a.skills, a.capacity).where(
                        a.center == center, a.agent_id.in_(missing[chunk : chunk + 500])
                    )
                ):
                    cache[(center, row.agent_id)] = (row.version, row.skills, row.capacity)
        return {r.agent_id: cache[(center, r.agent_id)][1:] for r in rows}

    def crm_profile(self, center: str, customer_id: str) -> dict | None:
        """The CRM's profile of a customer (``{segment?, attributes?}``), or None on any
        failure or time-out: a contact is routed with what is known, never blocked."""
        template = self.settings.crm_url
        if not template:
            return None
        import httpx

        try:
            answer = httpx.get(
                template.format(customer_id=customer_id, center=center),
                timeout=self.settings.crm_timeout_s,
            )
            answer.raise_for_status()
            data = answer.json()
        except (httpx.HTTPError, ValueError):
            return None
        if not isinstance(data, dict):
            return None
        segment = data.get("segment")
        attributes = data.get("attributes")
        return {
            "segment": segment if isinstance(segment, str) else None,
            "attributes": attributes if isinstance(attributes, dict) else {},
        }

    @contextmanager
    def tx(self, center: str, now: float | None = None) -> Iterator[T.Tx]:
        """One write transaction. With a routing loop (PostgreSQL, wall clock) it only records
        the change: no center lock, its events left in the inbox, the loop woken (and waited
        for, ``route_wait_s`` at most) after the commit. Otherwise it holds the center's write
        lock, routes in the same transaction when the change may allow offers, and numbers
        its events just before the commit."""
        self.center(center)
        loop = self.loop
        with self.store.write(None if loop is not None else center) as connection:
            tx = T.Tx(connection, center, self.now() if now is None else now, lock=False)
            yield tx
            if loop is not None:
                inbox_id = tx.commit_to_inbox()
            else:
                if tx.reroute:  # offers are written in the same transaction as their cause
                    self.decisions += self.route_in(tx)
                if self.virtual_clock:
                    connection.execute(
                        update(S.centers).where(S.centers.c.center == center).values(clock_s=tx.now)
                    )
                tx.commit()
        if loop is not None:
            loop.after_commit(center, inbox_id)

    # --- the routing pass ---------------------------------------------------------------------
    def route(self, center: str, now: float | None = None) -> int:
        """Offer queued contacts to available agents by the policy; returns offers made."""
        with self._route_lock, self.store.write(center) as connection:
            tx = T.Tx(connection, center, self.now() if now is None else now, lock=False)
            made = self.route_in(tx)
            tx.commit()
        self.decisions += made
        return made

    def pass_reads(self, center: str, dialect: str) -> tuple:
        """The two reads of a routing pass: the agents with a free slot (the policy's order
        is kept: by ordinal) and the queued contacts (oldest first, with the agents who
        declined each)."""
        c, a = S.contacts.c, S.agents.c
        free = (
            select(*self.AGENT_COLUMNS)
            .where(
                a.center == center,
                a.status == "available",
                (a.load == 0) | (a.load < a.load_limit),
            )
            .order_by(a.ordinal)
        )
        queue = (
            select(*self.WAITING_COLUMNS, declined_agents(dialect))
            .where(c.center == center, c.state == "queued")
            .order_by(c.number)
        )
        return free, queue

    def pass_reads_sql(self, connection, center: str) -> list[tuple[str, dict]]:
        """PostgreSQL: :meth:`pass_reads` compiled once per center (SQL text, parameters:
        every parameter is a constant of the center), for the driver's pipeline."""
        cached = self._pass_sql.get(center)
        if cached is None:
            cached = self._pass_sql[center] = [
                pgsql.compiled(connection, statement)
                for statement in self.pass_reads(center, "postgresql")
            ]
        return cached

    def route_in(self, tx: T.Tx, read: tuple[list, list] | None = None) -> int:
        """The routing pass inside ``tx``: offers written (guarded), returns how many.
        ``read``: the rows of :meth:`pass_reads` already read in ``tx`` (PostgreSQL: with the
        transaction's first statement, :meth:`openwfm.routing.store.Store.routing_pass`)."""
        if read is not None:
            agents, waiting = read
        elif tx.connection.dialect.name == "postgresql":  # both in one round trip
            agents, waiting = pgsql.read_pipelined(
                tx.connection, self.pass_reads_sql(tx.connection, tx.center)
            )
        else:  # read first: with nobody free the queue is not read
            free, queue = self.pass_reads(tx.center, tx.connection.dialect.name)
            agents = tx.connection.execute(free).all()
            waiting = tx.connection.execute(queue).all() if agents else []
        if not agents:
            return 0
        if not waiting:
            return 0
        center = self.centers[tx.center]
        static = self.agent_static(tx.connection, tx.center, agents)
        states = {row.agent_id: agent_state(row, *static[row.agent_id]) for row in agents}
        by_contact = {row.contact_id: row for row in waiting}
        plan, held = self._affinity(tx, center, waiting, states)
        if held or plan:
            taken = held | {contact_id for contact_id, _, _ in plan}
            waiting = [row for row in waiting if row.contact_id not in taken]
        plan += decide_offers(center, waiting, states, tx.now, self._declined(tx, waiting))
        planned = []
        for contact_id, agent_id, proficiency in plan:
            contact = by_contact[contact_id]
            channel = center.queue_channel[contact.queue]
            limit = static[agent_id][1].get(channel, 0)
            planned.append(T.PlannedOffer(contact, agent_id, proficiency, channel, limit))
        return T.make_offers(tx, planned, self.settings.offer_timeout_s)

    def _affinity(self, tx: T.Tx, center: Center, waiting, states: dict):
        """Last-agent affinity: a returning customer's contact is offered to the agent who
        last served them when that agent is available (logged in) and eligible, and held for
        them up to ``affinity_s`` of waiting while they are busy. Returns (plan, held ids)."""
        limit = self.settings.affinity_s
        recent = [r for r in waiting if r.customer_id and tx.now - r.arrival_s < limit]
        if not recent:
            return [], set()
        k = S.customers.c
        last = dict(
            tx.connection.execute(
                select(k.customer_id, k.last_agent_id).where(
                    k.center == tx.center, k.customer_id.in_({r.customer_id for r in recent})
                )
            ).all()
        )
        a = S.agents.c
        logged_in = set(
            tx.connection.execute(
                select(a.agent_id).where(
                    a.center == tx.center,
                    a.status == "available",
                    a.agent_id.in_({v for v in last.values() if v}),
                )
            ).scalars()
        )
        plan, held = [], set()
        for row in recent:
            agent_id = last.get(row.customer_id)
            if agent_id not in logged_in:
                continue  # never served, or the agent is away/offline: route as usual
            if agent_id not in states:  # busy: hold the contact for them
                held.add(row.contact_id)
                if row.skill_hold_s is None:
                    tx.connection.execute(
                        update(S.contacts)
                        .where(S.contacts.c.contact_id == row.contact_id)
                        .values(skill_hold_s=row.arrival_s + limit)
                    )
                continue
            result = center.policy.decide([waiting_contact(row)], [states[agent_id]], tx.now)
            if result:
                plan.append((row.contact_id, agent_id, float(result[0].proficiency)))
                _load(states, agent_id, center.queue_channel, row.queue)
        return plan, held

    @staticmethod
    def _declined(tx: T.Tx, waiting) -> set[tuple[str, str]]:
        """(contact, agent) pairs whose offer was rejected or expired: never offered again
        (read with the waiting contacts, :func:`declined_agents`)."""
        return {
            (row.contact_id, agent_id)
            for row in waiting
            if row.declined
            for agent_id in row.declined.split(DECLINED_SEPARATOR)
        }

    # --- timers -------------------------------------------------------------------------------
    def next_deadline(self, center: str) -> float | None:
        """The earliest pending timer of ``center`` (seconds), or None."""
        values = [v for v in self.timer_deadlines(center) if v is not None]
        return min(values) if values else None

    def timer_deadlines(self, center: str) -> Row:
        """The earliest timer of each kind (offer expiry, TTL, escalation step, wrap-up limit,
        affinity hold; None when there is none)."""
        with self.store.read() as connection:
            return self._deadlines(connection, center)

    @staticmethod
    def _deadlines(connection: Connection, center: str) -> Row:
        """The earliest timer of each kind: offer expiry, TTL, escalation step, wrap-up limit,
        affinity hold (None when there is none), in one query."""
        c, o = S.contacts.c, S.offers.c
        live = c.state.in_(S.LIVE_STATES)
        query = select(
            select(func.min(o.expires_at_s))
            .where(o.center == center, o.state == "pending")
            .scalar_subquery(),
            select(func.min(func.coalesce(c.ttl_deadline_s, c.step_deadline_s)))
            .where(c.center == center, live, c.ttl_deadline_s.is_not(None))
            .scalar_subquery(),
            select(func.min(c.step_deadline_s)).where(c.center == center, live).scalar_subquery(),
            select(func.min(c.wrapup_deadline_s))
            .where(c.center == center, c.state == "wrapping")
            .scalar_subquery(),
            select(func.min(c.skill_hold_s)).where(c.center == center, live).scalar_subquery(),
        )
        return connection.execute(query).one()

    def sweep(self, center: str, now: float | None = None) -> int:
        """Process every timer of ``center`` due at ``now``; returns how many fired."""
        with self.tx(center, now) as tx:
            fired = self.fire_timers(tx)
            if fired:
                tx.reroute = True
        return fired

    def fire_timers(self, tx: T.Tx, deadlines: Sequence | None = None) -> int:
        """Every timer due at ``tx.now`` inside ``tx``; returns how many fired. Only the kinds
        with a timer due are looked at: by ``deadlines`` (the earliest of each kind, as
        :meth:`timer_deadlines` returns them) when given, else as they are now."""
        if deadlines is None:
            deadlines = self._deadlines(tx.connection, tx.center)
        offers, ttl, step, wrapup, hold = (v is not None and v <= tx.now for v in deadlines)
        fired = self._sweep_offers(tx) if offers else 0
        c = S.contacts.c
        if ttl:
            for contact in tx.connection.execute(
                select(S.contacts.c.contact_id)
                .where(
                    c.center == tx.center, c.state.in_(S.LIVE_STATES), c.ttl_deadline_s <= tx.now
                )
                .order_by(c.number)
            ).all():
                T.end_waiting_contact(tx, T.contact_row(tx, contact.contact_id), "expired", "ttl")
                fired += 1
        if step:
            fired += self._escalate(tx, self.centers[tx.center])
        if hold:  # an affinity hold ended: route the contact as usual
            fired += tx.connection.execute(
                update(S.contacts)
                .where(c.center == tx.center, c.skill_hold_s <= tx.now)
                .values(skill_hold_s=None)
            ).rowcount
        if wrapup:
            for contact in tx.connection.execute(
                select(S.contacts)
                .where(c.center == tx.center, c.state == "wrapping", c.wrapup_deadline_s <= tx.now)
                .order_by(c.number)
            ).all():
                T.complete_contact(tx, contact, reason="wrap_up_limit")
                fired += 1
        return fired

    def _sweep_offers(self, tx: T.Tx) -> int:
        o = S.offers.c
        due = tx.connection.execute(
            select(S.offers)
            .where(o.center == tx.center, o.state == "pending", o.expires_at_s <= tx.now)
            .order_by(o.expires_at_s, o.offer_id)
        ).all()
        for offer in due:
            T.expire_offer(tx, offer, self.settings.max_missed_offers)
        return len(due)

    @staticmethod
    def _escalate(tx: T.Tx, center: Center) -> int:
        """Every waiting contact whose next escalation step is due takes it (one update)."""
        c = S.contacts.c
        due = tx.connection.execute(
            select(c.contact_id, c.arrival_s, c.step)
            .where(c.center == tx.center, c.state.in_(S.LIVE_STATES), c.step_deadline_s <= tx.now)
            .order_by(c.number)
        ).all()
        if not due:
            return 0
        steps, deadlines = {}, {}
        for contact in due:
            step, deadline = center.next_step_deadline(contact.arrival_s, contact.step + 1)
            steps[contact.contact_id], deadlines[contact.contact_id] = step, deadline
            tx.emit("contact.escalated", contact_id=contact.contact_id, step=contact.step + 1)
        tx.connection.execute(
            update(S.contacts)
            .where(c.contact_id.in_(list(steps)))
            .values(
                step=cast(case(steps, value=c.contact_id), Integer),
                step_deadline_s=cast(case(deadlines, value=c.contact_id), Float),
            )
        )
        return len(due)

    def advance_clock(self, to_s: float, stop_on_offer: bool = False) -> float:
        """Virtual clock: move to ``to_s``, firing every timer at its own time, in order.

        ``stop_on_offer``: stop right after a timer that led to an offer (returns that time),
        so a driver can answer the offer at the very moment it was made.
        """
        if not self.virtual_clock:
            raise BadRequest(
                "the router runs on the wall clock (serve --clock virtual)", field="clock"
            )
        if to_s < self._virtual_now:
            raise BadRequest(
                f"the clock is at {self._virtual_now}; it never goes back", field="to_s"
            )
        while True:
            due = [d for d in map(self.next_deadline, self.centers) if d is not None]
            step = min(due) if due else None
            if step is None or step > to_s:
                break
            self._set_virtual(max(step, self._virtual_now))
            made = self.decisions
            for name in self.centers:
                self.sweep(name)
            if stop_on_offer and self.decisions > made:
                return self._virtual_now
        self._set_virtual(to_s)
        return self._virtual_now

    def _set_virtual(self, now_s: float) -> None:
        """Move the virtual clock; every transaction stores it with its changes (a restart
        resumes from the last change)."""
        self._virtual_now = now_s


DECLINED_SEPARATOR = "\x1f"


def declined_agents(dialect: str) -> Label:
    """The agents who rejected or let expire an offer of each contact, joined by
    :data:`DECLINED_SEPARATOR` (None for a contact never declined), as a column of the waiting
    contacts' query (no separate round trip; only contacts offered before are looked up)."""
    declined = S.offers.alias("declined_offers")
    separator = literal(DECLINED_SEPARATOR)
    joined = (
        func.string_agg(declined.c.agent_id, separator)
        if dialect == "postgresql"
        else func.group_concat(declined.c.agent_id, separator)
    )
    lookup = (
        select(joined)
        .where(
            declined.c.contact_id == S.contacts.c.contact_id,
            declined.c.state.in_(("rejected", "expired")),
        )
        .scalar_subquery()
    )
    return case((S.contacts.c.offer_count > 0, lookup), else_=null()).label("declined")


def decide_offers(
    center: Center,
    waiting: Sequence[Row],
    states: dict,
    now: float,
    declined: set[tuple[str, str]],
) -> list:
    """(contact_id, agent_id, proficiency) to offer now, by the center's policy; ``states``:
    agent id -> :class:`AgentState` (updated in place as offers are planned).

    Contacts an agent declined (rejected or let expire) are decided again without that agent.
    """
    if not waiting:
        return []
    policy = center.policy
    contacts = [waiting_contact(row) for row in waiting]
    plan = []
    retry = []
    for assignment in policy.decide(contacts, list(states.values()), now):
        if (assignment.contact_id, assignment.agent_id) in declined:
            retry.append(assignment.contact_id)
            continue
        plan.append((assignment.contact_id, assignment.agent_id, float(assignment.proficiency)))
        _load(states, assignment.agent_id, center.queue_channel, _queue_of(contacts, assignment))
    for contact in (c for c in contacts if c.contact_id in retry):
        others = [s for aid, s in states.items() if (contact.contact_id, aid) not in declined]
        result = policy.decide([contact], others, now)
        if result:
            plan.append((contact.contact_id, result[0].agent_id, float(result[0].proficiency)))
            _load(states, result[0].agent_id, center.queue_channel, contact.queue)
    return plan


def _queue_of(contacts, assignment) -> str:
    for contact in contacts:
        if contact.contact_id == assignment.contact_id:
            return contact.queue
    raise KeyError(assignment.contact_id)


def _load(states: dict, agent_id: str, queue_channel: dict, queue: str) -> None:
    state = states[agent_id]
    states[agent_id] = AgentState(
        state.agent_id,
        state.skills,
        state.capacity,
        state.load + 1,
        queue_channel[queue],
        state.idle_since_s,
        state.available,
    )


def agent_state(row: Row, skills: dict | None = None, capacity: dict | None = None) -> AgentState:
    """The policy's view of an agent row (``skills``/``capacity`` given when not in ``row``)."""
    return AgentState(
        agent_id=row.agent_id,
        skills=row.skills if skills is None else skills,
        capacity=row.capacity if capacity is None else capacity,
        load=row.load,
        channel=row.channel,
        idle_since_s=row.idle_since_s,
        available=row.status == "available",
    )


def waiting_contact(row: Row) -> WaitingContact:
    return WaitingContact(row.contact_id, row.queue, row.arrival_s, row.segment, row.priority)

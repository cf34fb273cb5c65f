"""The router's durable store: tables, constraints and the state machines they guard.

One durable truth: every state change is one transaction holding the change itself, its
events and, for creates, the idempotency record (events get their gap-free per-center number
in that transaction, or - with the PostgreSQL routing loop - in the routing pass that takes
them from the inbox: :mod:`openwfm.routing.outbox`). Nothing answers 2xx before that
transaction commits. SQLite (embedded, one writer at a time:
every write transaction starts with ``BEGIN IMMEDIATE``) and PostgreSQL run the same
SQLAlchemy Core statements; state changes are guarded updates (``UPDATE ... WHERE state = 'x'``
whose affected-row count is checked), and the constraints below are the last line of defence.

State machines (every transition emits one event; anything else is refused with 409):

Contact::

    queued --offer--> offered --accept--> assigned --wrapup--> wrapping --complete--> completed
    offered --reject | offer expiry | rescind--> queued
    assigned --complete--> completed
    queued | offered --cancel--> canceled
    queued | offered --ttl deadline--> expired
    queued | offered --abandon--> abandoned      (live channels only; never deferred work or
                                                  an accepted callback)
    wrapping --wrap-up deadline--> completed

An assigned contact is never canceled. Terminal: completed, canceled, expired, abandoned.

Offer::

    pending --accept--> accepted
    pending --reject--> rejected | --expiry--> expired | --agent away/offline, cancel--> rescinded

Agent presence: ``offline`` (every agent of the scenario starts so) <-> ``available`` <->
``away``; going away or offline rescinds the agent's pending offers (assigned work stays until
completed); ``max_missed_offers`` expired offers in a row set the agent ``away``.

Capacity: ``load`` counts the agent's pending offers and assigned/wrapping contacts, all on
``channel``; ``load_limit`` is the agent's capacity on that channel (0 when idle).

Timers are deadlines in rows (seconds on the router's clock): ``offers.expires_at_s``,
``contacts.ttl_deadline_s``, ``contacts.step_deadline_s`` (next escalation step),
``contacts.wrapup_deadline_s``, ``contacts.skill_hold_s`` (end of a last-agent affinity hold).
The routing loop sweeps ``deadline <= now``, so a restart loses
no timer.

Constraints: ``CHECK (load BETWEEN 0 AND load_limit)`` on agents; a partial unique index on
``offers(contact_id) WHERE active`` (one pending offer or one active assignment per contact);
state columns checked against their state sets; ``events`` keyed by ``(center, seq)``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    Sequence,
    String,
    Table,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import Connection, Engine, Row

CONTACT_STATES = (
    "queued",
    "offered",
    "assigned",
    "wrapping",
    "completed",
    "canceled",
    "expired",
    "abandoned",
)
TERMINAL_STATES = ("completed", "canceled", "expired", "abandoned")
LIVE_STATES = ("queued", "offered")  # waiting for an agent
OFFER_STATES = ("pending", "accepted", "rejected", "expired", "rescinded")
PRESENCE = ("available", "away", "offline")


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


metadata = MetaData()

centers = Table(
    "router_centers",
    metadata,
    Column("center", String(100), primary_key=True),
    Column("event_seq", Integer, nullable=False, default=0),  # last event number handed out
    Column("clock_s", Float, nullable=True),  # virtual clock (None: wall clock)
)

agents = Table(
    "router_agents",
    metadata,
    Column("center", String(100), primary_key=True),
    Column("agent_id", String(200), primary_key=True),
    Column("ordinal", Integer, nullable=False),  # the policy's index order (ties: lower first)
    Column("team", String(200), nullable=True),
    Column("skills", JSON, nullable=False),  # queue -> proficiency 0..1
    Column("capacity", JSON, nullable=False),  # channel -> simultaneous contacts
    Column("status", String(20), nullable=False, default="offline"),
    Column("load", Integer, nullable=False, default=0),
    Column("load_limit", Integer, nullable=False, default=0),
    Column("channel", String(20), nullable=True),
    Column("idle_since_s", Float, nullable=False, default=0.0),
    Column("missed_offers", Integer, nullable=False, default=0),
    Column("version", Integer, nullable=False, default=1),  # of skills/capacity (caches)
    CheckConstraint("load >= 0 AND load <= load_limit", name="ck_agent_load_within_capacity"),
    CheckConstraint(_in("status", PRESENCE), name="ck_agent_status"),
)

contacts = Table(
    "router_contacts",
    metadata,
    Column("contact_id", String(64), primary_key=True),
    Column("center", String(100), nullable=False),
    Column("number", Integer, nullable=False),  # creation order within the center
    Column("queue", String(200), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("segment", String(200), nullable=False),
    Column("priority", Float, nullable=True),
    Column("customer_id", String(200), nullable=True),
    Column("attributes", JSON, nullable=False),
    Column("on_behalf_of", JSON, nullable=True),
    Column("state", String(20), nullable=False),
    Column("arrival_s", Float, nullable=False),
    Column("agent_id", String(200), nullable=True),
    Column("offer_id", String(64), nullable=True),
    Column("offer_count", Integer, nullable=False, default=0),
    Column("answered_s", Float, nullable=True),
    Column("wrapup_s", Float, nullable=True),
    Column("ended_s", Float, nullable=True),
    Column("ttl_deadline_s", Float, nullable=True),
    Column("step", Integer, nullable=False, default=0),  # escalation steps passed
    Column("step_deadline_s", Float, nullable=True),
    Column("wrapup_deadline_s", Float, nullable=True),
    Column("skill_hold_s", Float, nullable=True),
    Column(
        "due_s", Float, nullable=True
    ),  # deferred work: arrival + the target's within_s  # end of a last-agent affinity hold
    Column("estimated_wait_s", Float, nullable=True),
    Column("callback_offered", Boolean, nullable=False, default=False),
    Column("callback", Boolean, nullable=False, default=False),  # accepted callback
    Column("exported", Boolean, nullable=False, default=False),  # written to the DuckDB store
    CheckConstraint(_in("state", CONTACT_STATES), name="ck_contact_state"),
    CheckConstraint(
        "state NOT IN ('assigned', 'wrapping') OR agent_id IS NOT NULL",
        name="ck_contact_assigned_has_agent",
    ),
    Index("ix_contacts_center_state", "center", "state"),
    Index("ix_contacts_center_number", "center", "number", unique=True),
)

offers = Table(
    "router_offers",
    metadata,
    Column("offer_id", String(64), primary_key=True),
    Column("center", String(100), nullable=False),
    Column("contact_id", String(64), nullable=False),
    Column("agent_id", String(200), nullable=False),
    Column("state", String(20), nullable=False),
    Column("active", Boolean, nullable=False),  # pending, or accepted while the contact is live
    Column("created_s", Float, nullable=False),
    Column("expires_at_s", Float, nullable=False),
    Column("decided_s", Float, nullable=True),
    CheckConstraint(_in("state", OFFER_STATES), name="ck_offer_state"),
    CheckConstraint("state IN ('pending', 'accepted') OR NOT active", name="ck_offer_active"),
    Index("ix_offers_agent", "center", "agent_id", "state"),
    Index("ix_offers_pending", "state", "expires_at_s"),
    Index("ix_offers_contact", "contact_id"),  # the offers a waiting contact had (declined)
    Index(
        "ux_offers_one_active_per_contact",
        "contact_id",
        unique=True,
        sqlite_where=text("active"),
        postgresql_where=text("active"),
    ),
)

events = Table(
    "router_events",
    metadata,
    Column("center", String(100), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at_s", Float, nullable=False),
    Column("type", String(50), nullable=False),
    Column("contact_id", String(64), nullable=True),
    Column("agent_id", String(200), nullable=True),
    Column("offer_id", String(64), nullable=True),
    Column("data", JSON, nullable=False),
)

# the routing loop (PostgreSQL, :mod:`openwfm.routing.loop`): an API transaction leaves its
# events here (it takes no per-center counter), and the center's routing pass numbers them
# into ``events`` - in the order they were written - before its own
event_inbox = Table(
    "router_event_inbox",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("center", String(100), nullable=False),
    Column("at_s", Float, nullable=False),
    Column("type", String(50), nullable=False),
    Column("contact_id", String(64), nullable=True),
    Column("agent_id", String(200), nullable=True),
    Column("offer_id", String(64), nullable=True),
    Column("data", JSON, nullable=False),
    Index("ix_event_inbox_center", "center", "id"),
)

# PostgreSQL: contacts' creation numbers (``contacts.number``), taken without a center lock
CONTACT_NUMBERS = Sequence("router_contact_number", metadata=metadata)

idempotency = Table(
    "router_idempotency",
    metadata,
    Column("center", String(100), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", JSON, nullable=False),
    Column("created_s", Float, nullable=False),
)

api_keys = Table(
    "router_keys",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("center", String(100), nullable=False),
    Column("kind", String(20), nullable=False),  # integration | agent
    Column("agent_id", String(200), nullable=True),
    Column("scopes", JSON, nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
    CheckConstraint("kind IN ('integration', 'agent')", name="ck_key_kind"),
    CheckConstraint("kind <> 'agent' OR agent_id IS NOT NULL", name="ck_agent_key_has_agent"),
)

customers = Table(
    "router_customers",
    metadata,
    Column("center", String(100), primary_key=True),
    Column("customer_id", String(200), primary_key=True),
    Column("segment", String(200), nullable=True),
    Column("attributes", JSON, nullable=False),
    Column("last_agent_id", String(200), nullable=True),
)

webhooks = Table(
    "router_webhooks",
    metadata,
    Column("webhook_id", String(64), primary_key=True),
    Column("center", String(100), nullable=False),
    Column("url", String(2000), nullable=False),
    Column("secret", String(200), nullable=False),
    Column("delivered_seq", Integer, nullable=False, default=0),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_s", Float, nullable=False, default=0.0),
    Column("last_error", String(500), nullable=True),
)

# what the intraday stage publishes to the live pages (per center: "outlook", "replan"), so
# every router process serves the same document and a restart keeps it
documents = Table(
    "router_documents",
    metadata,
    Column("center", String(100), primary_key=True),
    Column("name", String(40), primary_key=True),
    Column("body", JSON, nullable=False),
    Column("version", Integer, nullable=False, default=1),
    Column("updated_s", Float, nullable=False),
)


class Store:
    """Engines over one database URL: ``write()`` for one serialised write transaction,
    ``read()`` for a consistent read. ``sqlite:///path`` or ``postgresql://...``."""

    def __init__(self, url: str, synchronous: str = "FULL") -> None:
        self.url = url
        self.engine = make_engine(url, synchronous)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        # SQLite readers take no write lock (deferred BEGIN; WAL lets them run beside a writer)
        self.reader = make_engine(url, synchronous, "BEGIN") if self.is_sqlite else self.engine
        # SQLite has one writer: queue our own threads here instead of spinning on its lock
        self._write_lock = threading.Lock()
        # PostgreSQL: write transactions begin themselves (see write), on the same pool
        self._transactions = (
            None if self.is_sqlite else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )

    def create_schema(self) -> None:
        """SQLite: create missing tables; PostgreSQL: Alembic migrations to the newest
        revision. A table missing columns (a store written by an older openwfm, or a
        migration missing) is an error naming the column, never silently half-used."""
        from sqlalchemy import inspect

        from openwfm.errors import StoreError

        if self.is_sqlite:
            metadata.create_all(self.engine)
        else:
            from openwfm.routing.migrate import upgrade

            upgrade(self.engine)
        inspector = inspect(self.engine)
        for table in metadata.sorted_tables:
            present = {column["name"] for column in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name not in present:
                    raise StoreError(
                        f"table {table.name} lacks column {column.name} (written by an older "
                        "openwfm; start with a new --db)",
                        file=self.url,
                    )

    @contextmanager
    def write(self, center: str | None = None) -> Iterator[Connection]:
        """One write transaction; ``center``: it also holds that center's write lock.

        PostgreSQL: the transaction opens with ``BEGIN; SELECT pg_advisory_xact_lock(...)`` in
        one round trip (the connection is in autocommit mode, so the driver sends no separate
        BEGIN), and commits or rolls back as one. SQLite: one writer, ``BEGIN IMMEDIATE``.
        """
        if self.is_sqlite:
            with self._write_lock, self.engine.begin() as connection:
                yield connection
            return
        from openwfm.routing.lease import begin_statement

        with self._transactions.begin() as connection:
            connection.exec_driver_sql(begin_statement(center))
            yield connection

    @contextmanager
    def routing_pass(self, center: str) -> Iterator[tuple[Connection, list[dict]]]:
        """One routing pass of ``center``: yields the connection and the events taken from the
        inbox (:func:`openwfm.routing.outbox.take_inbox`). PostgreSQL: ``REPEATABLE READ``
        (every statement sees the snapshot of the first, so the pass decides on exactly the
        changes whose events it takes; a row changed under it since fails the pass, which
        runs again), begun and the inbox taken in one round trip. SQLite: a write
        transaction."""
        from openwfm.routing import outbox

        if self.is_sqlite:
            with self.write() as connection:
                yield connection, outbox.take_inbox(connection, center)
            return
        with self._transactions.begin() as connection:
            yield connection, outbox.begin_pass(connection, center)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.reader.connect() as connection:
            yield connection

    def ping(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except Exception:  # noqa: BLE001 - any failure means "not ready"
            return False

    def dispose(self) -> None:
        self.engine.dispose()
        self.reader.dispose()


def make_engine(url: str, synchronous: str = "FULL", begin: str = "BEGIN IMMEDIATE") -> Engine:
    """``synchronous`` (SQLite): FULL makes every commit durable (fsync); NORMAL survives a
    process crash but not a power cut; OFF is for throw-away stores (tests, twins)."""
    if synchronous not in ("FULL", "NORMAL", "OFF"):
        raise ValueError(f"synchronous must be FULL, NORMAL or OFF, got {synchronous!r}")
    if not url.startswith("sqlite"):
        import os

        # no pre-ping (a round trip per checkout): after a restart of the database the first
        # use of a stale connection fails (503, retried) and the whole pool is renewed
        return create_engine(
            postgres_driver_url(url),
            pool_size=10,
            connect_args={"application_name": f"openwfm-router:{os.getpid()}"},
        )
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection):
        connection.exec_driver_sql(begin)

    return engine


def postgres_driver_url(url: str) -> str:
    """``postgresql://...`` (no driver named) runs on psycopg 3, the driver we install."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def read_pipelined(connection: Connection, statements: list) -> list[list]:
    """PostgreSQL: run the SELECT ``statements`` in one round trip (psycopg's pipeline, inside
    the connection's transaction); returns each one's rows (named tuples of its columns)."""
    from collections import namedtuple

    driver = connection.connection.dbapi_connection
    cursors = []
    with driver.pipeline():
        for statement in statements:
            compiled = statement.compile(
                dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
            )
            cursor = driver.cursor()
            cursor.execute(str(compiled), compiled.params)
            cursors.append(cursor)
    results = []
    for cursor in cursors:
        row_type = namedtuple("Row", [column.name for column in cursor.description])
        results.append([row_type(*row) for row in cursor.fetchall()])
        cursor.close()
    return results


GUARD_SQLSTATE = "OWG01"  # raised by router_guard(ok, what) (migration 0005) when not ok


def write_offers(
    connection: Connection, center: str, rows: list[dict], slots: dict, mark=None
) -> tuple[str, dict]:
    """PostgreSQL: the offers of one routing pass as one guarded statement (SQL, parameters;
    ``mark(name)`` writes a parameter placeholder, ``:name`` by default). Each planned contact
    goes ``queued -> offered``, each agent takes its slots (available, idle or on the channel,
    within its limit: ``slots`` maps ``(agent, channel, limit)`` to a count, one entry per
    agent), and an offer row is inserted for every pair whose contact and agent both changed;
    fewer offers than ``rows`` fails the statement (``router_guard``: SQLSTATE
    :data:`GUARD_SQLSTATE`), so it can go with the ``COMMIT`` in one round trip."""
    mark = mark or (lambda name: f":{name}")
    params: dict = {
        "center": center,
        "now": rows[0]["created_s"],
        "expires": rows[0]["expires_at_s"],
        "count": len(rows),
    }
    planned = []
    for k, row in enumerate(rows):
        planned.append(f"({mark(f'c{k}')}, {mark(f'o{k}')}, {mark(f'a{k}')})")
        params.update(
            {f"c{k}": row["contact_id"], f"o{k}": row["offer_id"], f"a{k}": row["agent_id"]}
        )
    taking = []
    for k, ((agent_id, channel, limit), count) in enumerate(slots.items()):
        taking.append(
            f"({mark(f'g{k}')}, CAST({mark(f'n{k}')} AS INTEGER), {mark(f'h{k}')}, "
            f"CAST({mark(f'l{k}')} AS INTEGER))"
        )
        params.update({f"g{k}": agent_id, f"n{k}": count, f"h{k}": channel, f"l{k}": limit})
    center_mark = mark("center")
    sql = (
        f"WITH planned(contact_id, offer_id, agent_id) AS (VALUES {', '.join(planned)}), "
        "offered AS (UPDATE router_contacts AS c SET state = 'offered', "
        "offer_id = planned.offer_id, offer_count = c.offer_count + 1 FROM planned "
        "WHERE c.contact_id = planned.contact_id AND c.state = 'queued' "
        "RETURNING c.contact_id), "
        "taken AS (UPDATE router_agents AS a SET load = a.load + s.k, channel = s.channel, "
        f"load_limit = s.lim FROM (VALUES {', '.join(taking)}) AS s(agent_id, k, channel, lim) "
        f"WHERE a.center = {center_mark} AND a.agent_id = s.agent_id "
        "AND a.status = 'available' "
        "AND (a.load = 0 OR a.channel = s.channel) AND a.load + s.k <= s.lim "
        "RETURNING a.agent_id), "
        "inserted AS (INSERT INTO router_offers (offer_id, center, contact_id, agent_id, state, "
        f"active, created_s, expires_at_s) SELECT planned.offer_id, {center_mark}, "
        f"planned.contact_id, planned.agent_id, 'pending', true, {mark('now')}, "
        f"{mark('expires')} FROM planned "
        "JOIN offered ON offered.contact_id = planned.contact_id "
        "JOIN taken ON taken.agent_id = planned.agent_id RETURNING 1) "
        f"SELECT router_guard((SELECT count(*) FROM inserted) = {mark('count')}, "
        "'planned offers no longer possible')"
    )
    return sql, params


PRESENCE_SQL = """
WITH before AS (
  SELECT agent_id, status FROM router_agents WHERE center = :center AND agent_id = :agent
), rescinded AS (
  UPDATE router_offers SET state = 'rescinded', active = false, decided_s = :now
  WHERE center = :center AND agent_id = :agent AND state = 'pending' AND :leaving
  RETURNING offer_id, contact_id, created_s
), requeued AS (
  UPDATE router_contacts AS c SET state = 'queued', offer_id = NULL FROM rescinded AS r
  WHERE c.contact_id = r.contact_id AND c.state = 'offered' AND c.offer_id = r.offer_id
  RETURNING c.contact_id
), freed AS (SELECT count(*) AS n FROM rescinded
), changed AS (
  UPDATE router_agents AS a SET
    status = :status,
    missed_offers = CASE WHEN :leaving THEN a.missed_offers ELSE 0 END,
    idle_since_s = CASE WHEN NOT :leaving AND a.status <> 'available' AND a.load = 0
                        THEN :now ELSE a.idle_since_s END,
    load = a.load - freed.n,
    channel = CASE WHEN freed.n > 0 AND a.load = freed.n THEN NULL ELSE a.channel END,
    load_limit = CASE WHEN freed.n > 0 AND a.load = freed.n THEN 0 ELSE a.load_limit END
  FROM freed WHERE a.center = :center AND a.agent_id = :agent
  RETURNING a.*
)
SELECT changed.*, before.status AS previous_status,
  (SELECT json_agg(json_build_array(r.offer_id, r.contact_id, r.created_s)) FROM rescinded AS r)
  AS rescinded_offers
FROM changed, before
"""


def change_presence(
    connection: Connection, center: str, agent_id: str, status: str, now: float
) -> Row | None:
    """PostgreSQL: an agent's presence in one statement. Leaving (away, offline) rescinds its
    pending offers (their contacts back to ``queued``) and frees their slots; coming back
    restarts the idle clock of an idle agent. Returns the agent's row after the change with
    ``previous_status`` and ``rescinded_offers`` (``[offer_id, contact_id, created_s]``
    rows, or None), or None when there is no such agent."""
    return connection.execute(
        text(PRESENCE_SQL),
        {"center": center, "agent": agent_id, "status": status, "now": now,
         "leaving": status != "available"},
    ).first()  # fmt: skip

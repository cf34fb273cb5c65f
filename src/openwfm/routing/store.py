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
from sqlalchemy.engine import Connection, Engine

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
    Index("ix_offers_contact", "contact_id"),  # the offers a waiting contact had
    Index(  # the agents who declined a waiting contact (the routing pass reads them)
        "ix_offers_declined",
        "contact_id",
        sqlite_where=text("state IN ('rejected', 'expired')"),
        postgresql_where=text("state IN ('rejected', 'expired')"),
    ),
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
        BEGIN), and commits or rolls back as one; without a center the driver begins it with
        its first statement (psycopg: a first statement sent in a pipeline takes its ``BEGIN``
        along, no round trip of its own). SQLite: one writer, ``BEGIN IMMEDIATE``.
        """
        if self.is_sqlite:
            with self._write_lock, self.engine.begin() as connection:
                yield connection
            return
        if center is None:
            with self.engine.begin() as connection:
                yield connection
            return
        from openwfm.routing.lease import begin_statement

        with self._transactions.begin() as connection:
            connection.exec_driver_sql(begin_statement(center))
            yield connection

    @contextmanager
    def routing_pass(
        self, center: str, reads: list[tuple[str, dict]] = ()
    ) -> Iterator[tuple[Connection, tuple[list, list[list]]]]:
        """One routing pass of ``center``: yields the connection and (the inbox's events the
        pass takes, the rows of ``reads``). PostgreSQL
        (:func:`openwfm.routing.outbox.begin_pass`): the ids of the inbox's events and
        ``reads`` (SQL, parameters) in one snapshot, then the pass's write transaction
        (``READ COMMITTED``) begun, in one round trip; its commit takes those events. SQLite:
        a write transaction, the events taken (:func:`openwfm.routing.outbox.take_inbox`),
        no ``reads``."""
        from openwfm.routing import outbox

        if self.is_sqlite:
            with self.write() as connection:
                yield connection, (outbox.take_inbox(connection, center), [])
            return
        with self._transactions.begin() as connection:
            yield connection, outbox.begin_pass(connection, center, reads)

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

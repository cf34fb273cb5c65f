"""The transactional outbox: events numbered gap-free per center, in the transaction of their
change.

Two ways in. A transaction that holds the center's write lock (SQLite; PostgreSQL without a
routing loop: the virtual clock, command-line writes) numbers its events itself
(:func:`insert_numbered_events`, :func:`commit_with_events`). With the routing loop
(PostgreSQL, :mod:`openwfm.routing.loop`) an API transaction takes no per-center counter: it
leaves its events in ``router_event_inbox`` (:func:`commit_to_inbox`), and the center's next
routing pass that saw its change takes them (:func:`commit_pass`; SQLite: :func:`take_inbox`),
in the order they were written, and numbers them before its own. Readers (``GET /v1/events``,
webhooks, the stream) see numbered events only, so the sequence stays gap-free and every event
comes after the events of the changes it depended on.
"""

from __future__ import annotations

from sqlalchemy import delete, exists, insert, select, text, update
from sqlalchemy.engine import Connection

from openwfm.routing.store import centers, event_inbox, events

EVENT_FIELDS = ("at_s", "type", "contact_id", "agent_id", "offer_id", "data")


def next_event_numbers(connection: Connection, center: str, count: int) -> int:
    """Reserve ``count`` event numbers for ``center``; returns the first (gap-free: the counter
    row is updated inside the caller's transaction, so a rollback returns the numbers)."""
    result = connection.execute(
        update(centers)
        .where(centers.c.center == center)
        .values(event_seq=centers.c.event_seq + count)
        .returning(centers.c.event_seq)
    )
    last = result.scalar_one()
    return last - count + 1


EVENT_RECORD = (
    "k bigint, at_s float8, type text, contact_id text, agent_id text, offer_id text, data json"
)


def _numbered_events_sql(
    center: str,
    rows: list[dict],
    mark,
    inbox: list[int] | None = None,
    offers: tuple[str, dict] | None = None,
) -> tuple[str, dict]:
    """PostgreSQL: one statement numbering events gap-free (the center's counter) and
    inserting them; ``mark(name)`` writes a parameter placeholder. The events, numbered in
    this order: ``inbox`` (ids), those taken from the inbox, in the order they were written;
    ``rows``, passed as one JSON parameter (any number of them); ``offers`` (WITH queries and
    parameters of :func:`openwfm.routing.pgsql.offer_ctes`), an ``offer.created`` for each
    offer written. The statement returns one row: the ``[contact_id, agent_id]`` of the
    offers written (None without), after ``router_guard`` checked that every planned
    contact of an agent who took its slots was still queued. A missing counter row leaves
    ``seq`` null: the insert fails (never a silent loss). Returns (SQL, parameters)."""
    import json

    records = [
        {"k": k, **{name: row[name] for name in EVENT_FIELDS}, "at_s": float(row["at_s"])}
        for k, row in enumerate(rows, start=1)
    ]
    params = {"center": center, "events": json.dumps(records)}
    center_mark = mark("center")
    fields = ", ".join(EVENT_FIELDS)
    ctes = [
        f"own AS (SELECT * FROM json_to_recordset(CAST({mark('events')} AS JSON)) "
        f"AS e({EVENT_RECORD}))"
    ]
    parts, before = [], "0"
    if inbox is not None:
        params["inbox"] = inbox
        ctes.append(
            f"inboxed AS (DELETE FROM router_event_inbox WHERE center = {center_mark} "
            f"AND id = ANY(CAST({mark('inbox')} AS BIGINT[])) RETURNING id, {fields})"
        )
        parts.append(f"SELECT row_number() OVER (ORDER BY id), {fields} FROM inboxed")
        before = "(SELECT count(*) FROM inboxed)"
    parts.append(f"SELECT {before} + k, {fields} FROM own")
    before += " + (SELECT count(*) FROM own)"
    made = "NULL"
    if offers is not None:
        offer_sql, offer_params = offers
        ctes.insert(0, offer_sql.rstrip())
        params.update(offer_params)
        parts.append(
            f"SELECT {before} + row_number() OVER (ORDER BY made.k), CAST({mark('now')} AS "
            "float8), 'offer.created', contact_id, agent_id, offer_id, json_build_object("
            f"'expires_at_s', CAST({mark('expires')} AS float8), 'proficiency', proficiency) "
            "FROM made"
        )
        before += " + (SELECT count(*) FROM made)"
        made = (
            "(SELECT json_agg(json_build_array(contact_id, agent_id) ORDER BY k) FROM made) "
            "WHERE router_guard((SELECT count(*) FROM offered) = (SELECT count(*) FROM mine), "
            "'planned contacts no longer queued')"
        )
    ctes.append(
        f"counter AS (UPDATE router_centers SET event_seq = event_seq + {before} "
        f"WHERE center = {center_mark} RETURNING event_seq - ({before}) AS base)"
    )
    ctes.append(
        f"numbered AS (INSERT INTO router_events (center, seq, {fields}) "
        f"SELECT {center_mark}, (SELECT base FROM counter) + v.k, v.at_s, v.type, "
        f"v.contact_id, v.agent_id, v.offer_id, v.data FROM ({' UNION ALL '.join(parts)}) "
        f"AS v(k, {fields}) RETURNING 1)"
    )
    return f"WITH {', '.join(ctes)} SELECT {made}", params


def insert_numbered_events(connection: Connection, center: str, rows: list[dict]) -> None:
    """Number ``rows`` (``at_s, type, contact_id, agent_id, offer_id, data``) gap-free for
    ``center`` and insert them: PostgreSQL in one statement, elsewhere
    :func:`next_event_numbers` then an insert."""
    if connection.dialect.name != "postgresql":
        first = next_event_numbers(connection, center, len(rows))
        for offset, row in enumerate(rows):
            row["seq"] = first + offset
        connection.execute(insert(events), rows)
        return
    sql, params = _numbered_events_sql(center, rows, lambda name: f":{name}")
    connection.execute(text(sql), params)


def commit_with_events(
    connection: Connection, center: str, rows: list[dict], before: list | None = None
) -> None:
    """Insert the transaction's events (numbered) and commit. PostgreSQL: the insert and the
    COMMIT go in one round trip (psycopg's pipeline); the caller's context then finds the
    transaction committed. Elsewhere the events are inserted and the caller commits."""
    if connection.dialect.name != "postgresql":
        if rows:
            insert_numbered_events(connection, center, rows)
        return
    driver = connection.connection.dbapi_connection
    with driver.pipeline():
        for sql, params in before or ():  # guarded writes: a failure aborts the COMMIT
            driver.execute(sql, params)
        if rows:
            sql, params = _numbered_events_sql(center, rows, lambda name: f"%({name})s")
            driver.execute(sql, params)
        driver.commit()


def commit_pass(
    connection: Connection,
    center: str,
    inbox: list[int],
    rows: list[dict],
    offers: tuple | None,
) -> list[str]:
    """PostgreSQL: a routing pass's writes and the COMMIT in one round trip (one statement,
    :func:`_numbered_events_sql`): its offers (``offers``: offer rows, slots, proficiencies;
    :func:`openwfm.routing.pgsql.offer_ctes`: an agent whose row moved since the pass read
    it takes none, and its contacts stay queued), and the events numbered - the inbox's
    ``inbox`` first, then ``rows``, then an ``offer.created`` for each offer written.
    Returns the agent of each offer written (those of ``rows`` included)."""
    from openwfm.routing.pgsql import offer_ctes

    mark = lambda name: f"%({name})s"  # noqa: E731
    offered = [row["agent_id"] for row in rows if row["type"] == "offer.created"]
    driver = connection.connection.dbapi_connection
    if not (inbox or rows or offers):
        driver.commit()
        return offered
    written = offer_ctes(center, *offers, mark) if offers else None
    sql, params = _numbered_events_sql(center, rows, mark, inbox, written)
    with driver.pipeline():
        cursor = driver.execute(sql, params)
        driver.commit()
    made = cursor.fetchone()
    return offered + [agent for _, agent in (made[0] if made and made[0] else ())]


def commit_to_inbox(connection: Connection, center: str, rows: list[dict]) -> int | None:
    """Leave ``rows`` (events) in the inbox and commit; returns the last inbox id (None when
    there were no events). PostgreSQL: the insert and the COMMIT in one round trip."""
    if not rows:
        connection.connection.dbapi_connection.commit()
        return None
    import json

    params: dict = {"center": center}
    values = []
    for k, row in enumerate(rows):
        names = [f"{letter}{k}" for letter in "atcgod"]
        marks = ", ".join(f"%({name})s" for name in names[:5])
        values.append(f"(%(center)s, {marks}, CAST(%({names[5]})s AS JSON))")
        data = (*(row[name] for name in EVENT_FIELDS[:5]), json.dumps(row["data"]))
        params.update(zip(names, data, strict=True))
    sql = (
        "INSERT INTO router_event_inbox (center, at_s, type, contact_id, agent_id, offer_id, "
        f"data) VALUES {', '.join(values)} RETURNING id"
    )
    driver = connection.connection.dbapi_connection
    with driver.pipeline():
        cursor = driver.execute(sql, params)
        driver.commit()
    return max(row[0] for row in cursor.fetchall())


def take_inbox(connection: Connection, center: str) -> list[dict]:
    """Remove the center's waiting events from the inbox (those this transaction sees);
    returns them as event rows in the order they were written."""
    i = event_inbox.c
    rows = connection.execute(
        delete(event_inbox)
        .where(i.center == center)
        .returning(i.id, *(i[name] for name in EVENT_FIELDS))
    ).all()
    rows.sort(key=lambda row: row.id)
    return [
        {"center": center, **{name: row._mapping[name] for name in EVENT_FIELDS}} for row in rows
    ]


def begin_pass(
    connection: Connection, center: str, reads: list[tuple[str, dict]]
) -> tuple[list[int], list[list]]:
    """PostgreSQL: the reads of a routing pass and the start of its write transaction, in one
    round trip (psycopg's pipeline). The ids of the center's events in the inbox and the
    SELECTs ``reads`` (SQL, parameters) run in one ``REPEATABLE READ`` snapshot (read only:
    it never fails); then the write transaction begins (``READ COMMITTED``: its guarded
    updates see the newest rows). The pass takes exactly those events with its commit
    (:func:`commit_with_events`): the changes it decided on are numbered before its own
    events, and the ones it did not see stay in the inbox for the next pass. Returns (inbox
    ids, the rows of each read as named tuples)."""
    from openwfm.routing.pgsql import fetch_rows

    driver = connection.connection.dbapi_connection
    with driver.pipeline():
        driver.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        inbox = driver.cursor()
        inbox.execute(
            "SELECT id FROM router_event_inbox WHERE center = %(center)s", {"center": center}
        )
        cursors = []
        for sql, params in reads:
            cursor = driver.cursor()
            cursor.execute(sql, params)
            cursors.append(cursor)
        driver.execute("COMMIT")
        driver.execute("BEGIN")
    ids = [row[0] for row in inbox.fetchall()]
    inbox.close()
    return ids, [fetch_rows(cursor) for cursor in cursors]


def inbox_waiting(connection: Connection, center: str) -> bool:
    """True when events of ``center`` wait in the inbox (a change the routing loop has not
    taken yet: the loop's wake-up flag)."""
    i = event_inbox.c
    return bool(connection.execute(select(exists().where(i.center == center))).scalar())


def inbox_holds(connection: Connection, inbox_id: int) -> bool:
    """True while the inbox still holds the event ``inbox_id`` (no routing pass took it)."""
    i = event_inbox.c
    return bool(connection.execute(select(exists().where(i.id == inbox_id))).scalar())

"""The transactional outbox: events numbered gap-free per center, in the transaction of their
change.

Two ways in. A transaction that holds the center's write lock (SQLite; PostgreSQL without a
routing loop: the virtual clock, command-line writes) numbers its events itself
(:func:`insert_numbered_events`, :func:`commit_with_events`). With the routing loop
(PostgreSQL, :mod:`openwfm.routing.loop`) an API transaction takes no per-center counter: it
leaves its events in ``router_event_inbox`` (:func:`commit_to_inbox`), and the center's next
routing pass takes them (:func:`take_inbox`, in the order they were written) and numbers them
before its own. Readers (``GET /v1/events``, webhooks, the stream) see numbered events only,
so the sequence stays gap-free and every event comes after the events of the changes it
depended on.
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


def _numbered_events_sql(center: str, rows: list[dict], mark) -> tuple[str, dict]:
    """PostgreSQL: one statement numbering ``rows`` gap-free (the center's counter) and
    inserting them; ``mark(name)`` writes a parameter placeholder. A missing counter row leaves
    ``seq`` null: the insert fails (never a silent loss)."""
    import json

    params: dict = {"center": center, "count": len(rows)}
    values = []
    for k, row in enumerate(rows):
        names = [f"{letter}{k}" for letter in "atcgod"]
        values.append(
            f"({k}, {', '.join(mark(n) for n in names[:5])}, CAST({mark(names[5])} AS JSON))"
        )
        params.update(
            zip(
                names,
                (
                    float(row["at_s"]),
                    row["type"],
                    row["contact_id"],
                    row["agent_id"],
                    row["offer_id"],
                    json.dumps(row["data"]),
                ),
                strict=True,
            )
        )
    count, center_mark = mark("count"), mark("center")
    sql = (
        f"WITH counter AS (UPDATE router_centers SET event_seq = event_seq + {count} "
        f"WHERE center = {center_mark} RETURNING event_seq) "
        "INSERT INTO router_events (center, seq, at_s, type, contact_id, agent_id, offer_id, data) "
        f"SELECT {center_mark}, (SELECT event_seq FROM counter) - {count} + 1 + v.k, v.at_s, "
        "v.type, v.contact_id, v.agent_id, v.offer_id, v.data FROM (VALUES "
        + ", ".join(values)
        + ") AS v(k, at_s, type, contact_id, agent_id, offer_id, data)"
    )
    return sql, params


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


def begin_pass(connection: Connection, center: str) -> list[dict]:
    """PostgreSQL: begin a ``REPEATABLE READ`` transaction and take the center's events from
    the inbox (:func:`take_inbox`) in one round trip (a simple query: no parameters, the
    center's name quoted as a literal)."""
    from psycopg import sql

    driver = connection.connection.dbapi_connection
    fields = ", ".join(EVENT_FIELDS)
    query = sql.SQL(
        "BEGIN ISOLATION LEVEL REPEATABLE READ; "
        "DELETE FROM router_event_inbox WHERE center = {} RETURNING id, " + fields
    ).format(sql.Literal(center))
    cursor = driver.cursor()
    cursor.execute(query)
    while cursor.description is None and cursor.nextset():
        pass
    rows = sorted(cursor.fetchall())
    cursor.close()
    return [{"center": center, **dict(zip(EVENT_FIELDS, row[1:], strict=True))} for row in rows]


def inbox_waiting(connection: Connection, center: str) -> bool:
    """True when events of ``center`` wait in the inbox (a change the routing loop has not
    taken yet: the loop's wake-up flag)."""
    i = event_inbox.c
    return bool(connection.execute(select(exists().where(i.center == center))).scalar())


def inbox_holds(connection: Connection, inbox_id: int) -> bool:
    """True while the inbox still holds the event ``inbox_id`` (no routing pass took it)."""
    i = event_inbox.c
    return bool(connection.execute(select(exists().where(i.id == inbox_id))).scalar())

"""PostgreSQL's set-based statements of the router, sent through the driver (psycopg) in as
few round trips as possible: a routing pass's reads in one pipeline, its offers as one guarded
statement, an agent's presence in one statement.

The state machines and tables they write are those of :mod:`openwfm.routing.store`.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection, Engine, Row


def compiled(connection: Connection | Engine, statement) -> tuple[str, dict]:
    """PostgreSQL: a SQLAlchemy statement as the driver's SQL text and parameters."""
    result = statement.compile(
        dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
    )
    return str(result), dict(result.params)


def read_pipelined(connection: Connection, statements: list) -> list[list]:
    """PostgreSQL: run the SELECT ``statements`` (SQLAlchemy statements, or (SQL, parameters)
    from :func:`compiled`) in one round trip (psycopg's pipeline, inside the connection's
    transaction); returns each one's rows (named tuples of its columns)."""
    driver = connection.connection.dbapi_connection
    cursors = []
    with driver.pipeline():
        for statement in statements:
            sql, params = (
                statement if isinstance(statement, tuple) else compiled(connection, statement)
            )
            cursor = driver.cursor()
            cursor.execute(sql, params)
            cursors.append(cursor)
    return [fetch_rows(cursor) for cursor in cursors]


_ROW_TYPES: dict[tuple, type] = {}


def fetch_rows(cursor) -> list:
    """A driver cursor's rows as named tuples of its columns (closes the cursor)."""
    from collections import namedtuple

    names = tuple(column.name for column in cursor.description)
    row_type = _ROW_TYPES.get(names)
    if row_type is None:
        row_type = _ROW_TYPES[names] = namedtuple("Row", names)
    rows = [row_type(*row) for row in cursor.fetchall()]
    cursor.close()
    return rows


GUARD_SQLSTATE = "OWG01"  # raised by router_guard(ok, what) (migration 0005) when not ok


def offer_ctes(center: str, rows: list[dict], slots: dict, proficiency: list[float], mark):
    """PostgreSQL: the guarded writes of planned offers as WITH queries (SQL without the
    ``WITH``, parameters; ``mark(name)`` writes a parameter placeholder). Each agent takes its
    slots (``taken``: available, idle or on the channel, within its limit; ``slots`` maps
    ``(agent, channel, limit)`` to a count, one entry per agent), each planned contact of an
    agent who took them goes ``queued -> offered`` (``offered``), an offer row is inserted for
    each (``inserted``); ``mine``: the planned offers of the agents who took their slots,
    ``made``: those written (``k``: the order planned). ``rows``: the offer rows planned;
    ``proficiency``: of each."""
    import json

    planned = [
        {
            "contact_id": row["contact_id"],
            "offer_id": row["offer_id"],
            "agent_id": row["agent_id"],
            "k": k,
            "proficiency": float(value),
        }
        for k, (row, value) in enumerate(zip(rows, proficiency, strict=True))
    ]
    taking = [
        {"agent_id": agent_id, "k": count, "channel": channel, "lim": limit}
        for (agent_id, channel, limit), count in slots.items()
    ]
    params: dict = {
        "center": center,
        "now": float(rows[0]["created_s"]),
        "expires": float(rows[0]["expires_at_s"]),
        "planned": json.dumps(planned),
        "slots": json.dumps(taking),
    }
    center_mark = mark("center")
    sql = (
        f"planned AS (SELECT * FROM json_to_recordset(CAST({mark('planned')} AS JSON)) "
        "AS p(contact_id text, offer_id text, agent_id text, k integer, proficiency float8)), "
        "taken AS (UPDATE router_agents AS a SET load = a.load + s.k, channel = s.channel, "
        f"load_limit = s.lim FROM json_to_recordset(CAST({mark('slots')} AS JSON)) "
        "AS s(agent_id text, k integer, channel text, lim integer) "
        f"WHERE a.center = {center_mark} AND a.agent_id = s.agent_id "
        "AND a.status = 'available' "
        "AND (a.load = 0 OR a.channel = s.channel) AND a.load + s.k <= s.lim "
        "RETURNING a.agent_id), "
        "mine AS (SELECT planned.* FROM planned JOIN taken ON taken.agent_id = planned.agent_id), "
        "offered AS (UPDATE router_contacts AS c SET state = 'offered', "
        "offer_id = mine.offer_id, offer_count = c.offer_count + 1 FROM mine "
        "WHERE c.contact_id = mine.contact_id AND c.state = 'queued' "
        "RETURNING c.contact_id, mine.offer_id, mine.agent_id, mine.k, mine.proficiency), "
        # the planned offers written, straight from the update (a join of the two CTEs ran as
        # a nested loop, quadratic in the offers of a pass: 26 ms for 167)
        "made AS (SELECT * FROM offered), "
        "inserted AS (INSERT INTO router_offers (offer_id, center, contact_id, agent_id, state, "
        f"active, created_s, expires_at_s) SELECT made.offer_id, {center_mark}, "
        f"made.contact_id, made.agent_id, 'pending', true, CAST({mark('now')} AS float8), "
        f"CAST({mark('expires')} AS float8) FROM made RETURNING contact_id) "
    )
    return sql, params


def write_offers(
    connection: Connection,
    center: str,
    rows: list[dict],
    slots: dict,
    mark=None,
) -> tuple[str, dict]:
    """PostgreSQL: the offers planned in a transaction holding the center's write lock as one
    guarded statement (SQL, parameters; ``mark(name)`` writes a parameter placeholder,
    ``:name`` by default; the writes: :func:`offer_ctes`). Fewer offers than ``rows`` fails
    the statement (``router_guard``: SQLSTATE :data:`GUARD_SQLSTATE`), so it can go with the
    ``COMMIT`` in one round trip."""
    mark = mark or (lambda name: f":{name}")
    ctes, params = offer_ctes(center, rows, slots, [0.0] * len(rows), mark)
    params["count"] = len(rows)
    sql = (
        f"WITH {ctes}SELECT router_guard((SELECT count(*) FROM inserted) = {mark('count')}, "
        "'planned offers no longer possible')"
    )
    return sql, params


PRESENCE_SQL = """
WITH before AS (
  SELECT agent_id, status FROM router_agents WHERE center = %(center)s AND agent_id = %(agent)s
), rescinded AS (
  UPDATE router_offers SET state = 'rescinded', active = false, decided_s = %(now)s
  WHERE center = %(center)s AND agent_id = %(agent)s AND state = 'pending' AND %(leaving)s
  RETURNING offer_id, contact_id, created_s
), requeued AS (
  UPDATE router_contacts AS c SET state = 'queued', offer_id = NULL FROM rescinded AS r
  WHERE c.contact_id = r.contact_id AND c.state = 'offered' AND c.offer_id = r.offer_id
  RETURNING c.contact_id
), freed AS (SELECT count(*) AS n FROM rescinded
), changed AS (
  UPDATE router_agents AS a SET
    status = %(status)s,
    missed_offers = CASE WHEN %(leaving)s THEN a.missed_offers ELSE 0 END,
    idle_since_s = CASE WHEN NOT %(leaving)s AND a.status <> 'available' AND a.load = 0
                        THEN %(now)s ELSE a.idle_since_s END,
    load = a.load - freed.n,
    channel = CASE WHEN freed.n > 0 AND a.load = freed.n THEN NULL ELSE a.channel END,
    load_limit = CASE WHEN freed.n > 0 AND a.load = freed.n THEN 0 ELSE a.load_limit END
  FROM freed WHERE a.center = %(center)s AND a.agent_id = %(agent)s
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
    """PostgreSQL: an agent's presence in one round trip: the agent's row is locked first
    (``FOR UPDATE``: a routing pass writing an offer to this agent commits before the change
    takes its snapshot, so going away rescinds that offer too), then one statement changes
    it. Leaving (away, offline) rescinds its pending offers (their contacts back to
    ``queued``) and frees their slots; coming back restarts the idle clock of an idle agent.
    Returns the agent's row after the change with ``previous_status`` and
    ``rescinded_offers`` (``[offer_id, contact_id, created_s]`` rows, or None), or None when
    there is no such agent."""
    params = {"center": center, "agent": agent_id, "status": status, "now": now,
              "leaving": status != "available"}  # fmt: skip
    driver = connection.connection.dbapi_connection
    with driver.pipeline():
        driver.execute(
            "SELECT 1 FROM router_agents WHERE center = %(center)s AND agent_id = %(agent)s "
            "FOR UPDATE",
            params,
        )
        cursor = driver.cursor()
        cursor.execute(PRESENCE_SQL, params)
    rows = fetch_rows(cursor)
    return rows[0] if rows else None

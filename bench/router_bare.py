"""The physical references of ``bench/router.py --db postgresql``: bare ``FOR UPDATE SKIP
LOCKED`` reservation loops on the router's database, with durable commits, in the same run.

* **mixed** (the issue's reference: "about 1,400 mixed transactions per second (about 460
  reservations/s) with a p99 near 18 ms", ``../shared/research/routing-engines.md`` 6.3:
  "Mixed create / SKIP LOCKED reserve / complete, 8 clients, durable commits"): agents with a
  capacity and a load (``CHECK``: never over capacity), every slot held by a reserved task and
  ``waiting`` tasks queued, as the router's set-up. Each connection loops three transactions:
  complete the oldest reserved task (its agent's load down), reserve the oldest queued task for
  an agent with a free slot (both rows ``FOR UPDATE SKIP LOCKED``, the load up), create a
  task. A reservation, like a routing decision, comes with the changes that free a slot and
  bring work.
* **reserve-only**: one transaction per reservation (take the oldest queued job ``FOR UPDATE
  SKIP LOCKED``, mark it reserved for a random agent, add one new job): no agent rows, no
  completions; the database's ceiling for reservations alone.

Each worker is a process of its own with one connection; returns (reservations, seconds, the
reserving transactions' latencies in seconds).
"""

from __future__ import annotations

import random
import time

MIXED_SCHEMA = """
CREATE TABLE bench_agents (
    id int PRIMARY KEY, capacity int NOT NULL, load int NOT NULL,
    CHECK (load BETWEEN 0 AND capacity));
CREATE TABLE bench_tasks (
    id bigserial PRIMARY KEY, state text NOT NULL, agent int REFERENCES bench_agents,
    created_at timestamptz NOT NULL DEFAULT now(), reserved_at timestamptz);
CREATE INDEX bench_tasks_queued ON bench_tasks (id) WHERE state = 'queued';
CREATE INDEX bench_tasks_reserved ON bench_tasks (id) WHERE state = 'reserved';
"""


def mixed_set_up(dsn: str, capacities: list[int], waiting: int) -> None:
    """Agents with ``capacities``, every slot held by a reserved task, ``waiting`` queued."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(MIXED_SCHEMA)
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO bench_agents (id, capacity, load) VALUES (%s, %s, %s)",
                [(k, c, c) for k, c in enumerate(capacities)],
            )
        connection.execute(
            "INSERT INTO bench_tasks (state, agent, reserved_at) SELECT 'reserved', a.id, now() "
            "FROM bench_agents AS a, generate_series(1, a.capacity)"
        )
        connection.execute(
            "INSERT INTO bench_tasks (state) SELECT 'queued' FROM generate_series(1, %s)",
            (waiting,),
        )
        connection.execute("VACUUM ANALYZE")


def _complete(connection) -> None:
    with connection.transaction():
        row = connection.execute(
            "SELECT id, agent FROM bench_tasks WHERE state = 'reserved' ORDER BY id "
            "LIMIT 1 FOR UPDATE SKIP LOCKED"
        ).fetchone()
        if row is not None:
            connection.execute(
                "UPDATE bench_tasks SET state = 'completed' WHERE id = %s", (row[0],)
            )
            connection.execute("UPDATE bench_agents SET load = load - 1 WHERE id = %s", (row[1],))


def _reserve(connection) -> bool:
    with connection.transaction():
        task = connection.execute(
            "SELECT id FROM bench_tasks WHERE state = 'queued' ORDER BY id "
            "LIMIT 1 FOR UPDATE SKIP LOCKED"
        ).fetchone()
        agent = connection.execute(
            "SELECT id FROM bench_agents WHERE load < capacity LIMIT 1 FOR UPDATE SKIP LOCKED"
        ).fetchone()
        if task is None or agent is None:
            return False
        connection.execute(
            "UPDATE bench_tasks SET state = 'reserved', agent = %s, reserved_at = now() "
            "WHERE id = %s",
            (agent[0], task[0]),
        )
        connection.execute("UPDATE bench_agents SET load = load + 1 WHERE id = %s", (agent[0],))
        return True


def mixed_worker(dsn, seconds, results) -> None:
    """complete, reserve, create - one transaction each - until ``seconds`` passed."""
    import psycopg

    latencies, reserved = [], 0
    with psycopg.connect(dsn) as connection:
        began = time.perf_counter()
        while time.perf_counter() - began < seconds:
            _complete(connection)
            start = time.perf_counter()
            reserved += _reserve(connection)
            latencies.append(time.perf_counter() - start)
            with connection.transaction():
                connection.execute("INSERT INTO bench_tasks (state) VALUES ('queued')")
        elapsed = time.perf_counter() - began
    results.put((reserved, elapsed, latencies))


def mixed_check(dsn: str) -> str:
    """The invariants after the run: every agent's load equals its reserved tasks, none over
    capacity (the ``CHECK`` guards the second). Returns '' or what broke."""
    import psycopg

    with psycopg.connect(dsn) as connection:
        wrong = connection.execute(
            "SELECT count(*) FROM bench_agents AS a WHERE a.load <> (SELECT count(*) FROM "
            "bench_tasks AS t WHERE t.agent = a.id AND t.state = 'reserved')"
        ).fetchone()[0]
    return f"{wrong} agents whose load is not their reserved tasks" if wrong else ""


RESERVE_ONLY_SCHEMA = """
CREATE TABLE bench_jobs (
    id bigserial PRIMARY KEY, state text NOT NULL, agent int, reserved_at timestamptz);
CREATE INDEX bench_jobs_queued ON bench_jobs (id) WHERE state = 'queued';
"""


def reserve_only_set_up(dsn: str, waiting: int) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(RESERVE_ONLY_SCHEMA)
        connection.execute(
            "INSERT INTO bench_jobs (state) SELECT 'queued' FROM generate_series(1, %s)",
            (waiting,),
        )


def reserve_only_worker(dsn, n_agents, seconds, seed, results) -> None:
    import psycopg

    rng = random.Random(seed)
    latencies, reserved = [], 0
    with psycopg.connect(dsn) as connection:
        began = time.perf_counter()
        while time.perf_counter() - began < seconds:
            start = time.perf_counter()
            with connection.transaction():
                row = connection.execute(
                    "SELECT id FROM bench_jobs WHERE state = 'queued' ORDER BY id "
                    "LIMIT 1 FOR UPDATE SKIP LOCKED"
                ).fetchone()
                if row is not None:
                    connection.execute(
                        "UPDATE bench_jobs SET state = 'reserved', agent = %s, "
                        "reserved_at = now() WHERE id = %s",
                        (rng.randrange(n_agents), row[0]),
                    )
                    connection.execute("INSERT INTO bench_jobs (state) VALUES ('queued')")
                    reserved += 1
            latencies.append(time.perf_counter() - start)
        elapsed = time.perf_counter() - began
    results.put((reserved, elapsed, latencies))

"""``bench/router.py --db postgresql``: the router on PostgreSQL with several processes, beside a
bare ``FOR UPDATE SKIP LOCKED`` reservation loop on the same database in the same run.

A throw-away durable cluster (``openwfm.routing.pgcluster``: fsync and synchronous_commit on) is
started for the run. Set-up as the SQLite benchmark: 1,000 agents (voice, chat with 3 at once,
email), every slot held by a pending offer, 200 more contacts waiting. Then ``--processes``
router processes (each its own ``Router`` over the shared database, as ``serve --workers``
runs them) each loop for ``--seconds``: an agent of its own share goes away (its offers go back
to the queue) and comes back; the transaction that brings it back reads the waiting contacts
and the free agents, calls ``RoutingPolicy.decide`` and commits the offers. Measured: durable
routing decisions (offers committed) per second over all processes, and the latency of that
transaction (the cause's commit is the offer's commit: offers are written in the transaction
of their cause), p50/p99. Beside it: the same number of processes each looping a bare
reservation - take the oldest queued job ``FOR UPDATE SKIP LOCKED``, mark it reserved for an
agent, add one new job - the physical reference for this machine.
Targets: at least 300 decisions/s, p99 at most 50 ms, at least 0.5x the bare loop's rate.
"""

from __future__ import annotations

import multiprocessing
import random
import statistics
import tempfile
import time
from pathlib import Path


def _router(url: str, n_agents: int):
    from openwfm.routing import store as S
    from openwfm.routing.center import Center, RouterSettings
    from openwfm.routing.core import Router
    from router import big_center  # bench/router.py

    settings = RouterSettings(offer_timeout_s=1e9, callback_threshold_s=None)
    center = Center("bench", big_center(n_agents))
    return Router(S.Store(url), {"bench": center}, settings, virtual_clock=False)


def _set_up(url: str, n_agents: int, waiting: int) -> None:
    from router import fill

    router = _router(url, n_agents)
    router.setup()
    fill(router, waiting, random.Random(7))
    router.store.dispose()


def _route_worker(url, n_agents, share, seconds, seed, results) -> None:
    from openwfm.routing import operations as O

    router = _router(url, n_agents)
    names = [a.name for a in router.centers["bench"].scenario.all_agents()][share::2]
    rng = random.Random(seed)
    latencies = []
    for name in names[:3]:  # warm-up (numba, statement caches)
        O.set_presence(router, "bench", name, "away")
        O.set_presence(router, "bench", name, "available")
    made_before = router.decisions
    began = time.perf_counter()
    while time.perf_counter() - began < seconds:
        name = rng.choice(names)
        O.set_presence(router, "bench", name, "away")
        start = time.perf_counter()
        O.set_presence(router, "bench", name, "available")
        latencies.append(time.perf_counter() - start)
    elapsed = time.perf_counter() - began
    results.put((router.decisions - made_before, elapsed, latencies))
    router.store.dispose()


BARE_SCHEMA = """
CREATE TABLE IF NOT EXISTS bench_jobs (
    id bigserial PRIMARY KEY, state text NOT NULL, agent int, reserved_at timestamptz);
CREATE INDEX IF NOT EXISTS bench_jobs_queued ON bench_jobs (id) WHERE state = 'queued';
"""


def _bare_set_up(dsn: str, waiting: int) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(BARE_SCHEMA)
        connection.execute(
            "INSERT INTO bench_jobs (state) SELECT 'queued' FROM generate_series(1, %s)",
            (waiting,),
        )


def _bare_worker(dsn, n_agents, seconds, seed, results) -> None:
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


def _run(target, args_of, processes: int):
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [
        context.Process(target=target, args=(*args_of(i), results)) for i in range(processes)
    ]
    for worker in workers:
        worker.start()
    collected = [results.get(timeout=600) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    count = sum(c for c, _, _ in collected)
    elapsed = max(e for _, e, _ in collected)
    latencies = [x for _, _, lat in collected for x in lat]
    return count / elapsed, latencies, count


def _percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(n_agents: int, waiting: int, seconds: float, processes: int) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from openwfm.routing.pgcluster import PostgresCluster

    with tempfile.TemporaryDirectory(), PostgresCluster(durable=True) as cluster:
        url = cluster.create_database("bench")
        began = time.perf_counter()
        _set_up(url, n_agents, waiting)
        print(
            f"set-up: PostgreSQL (durable commits), {n_agents} agents, every slot offered, "
            f"{waiting} waiting, {time.perf_counter() - began:.1f} s"
        )
        rate, latencies, made = _run(
            _route_worker, lambda i: (url, n_agents, i % 2, seconds, 11 + i), processes
        )
        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        _bare_set_up(dsn, waiting)
        bare_rate, bare_latencies, reserved = _run(
            _bare_worker, lambda i: (dsn, n_agents, seconds, 23 + i), processes
        )
    p50, p99 = _percentile(latencies, 0.5) * 1e3, _percentile(latencies, 0.99) * 1e3
    b50, b99 = _percentile(bare_latencies, 0.5) * 1e3, _percentile(bare_latencies, 0.99) * 1e3
    print(f"{processes} processes, {seconds:.0f} s each, same database, same run:")
    print(
        f"  router: {made} durable decisions, {rate:7.1f}/s; transaction p50 {p50:6.2f} ms, "
        f"p99 {p99:6.2f} ms (mean {statistics.mean(latencies) * 1e3:.2f} ms)"
    )
    print(
        f"  bare SKIP LOCKED reservation: {reserved} reservations, {bare_rate:7.1f}/s; "
        f"p50 {b50:6.2f} ms, p99 {b99:6.2f} ms"
    )
    ratio = rate / bare_rate
    targets = [
        ("300 decisions/s", rate >= 300),
        ("p99 <= 50 ms", p99 <= 50),
        ("0.5x the bare loop", ratio >= 0.5),
    ]
    verdicts = ", ".join(f"{name}: {'met' if ok else 'missed'}" for name, ok in targets)
    print(f"router / bare rate: {ratio:.2f}x; targets: {verdicts}")

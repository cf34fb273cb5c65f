"""``bench/router.py --db postgresql``: the router on PostgreSQL with several processes, beside a
bare ``FOR UPDATE SKIP LOCKED`` reservation loop on the same database in the same run.

A throw-away durable cluster (``openwfm.routing.pgcluster``: fsync and synchronous_commit on) is
started for the run. Set-up as the SQLite benchmark: 1,000 agents (voice, chat with 3 at once,
email), every slot held by a pending offer, 200 more contacts waiting. Then, as ``serve
--workers`` runs them, a routing process (the supervisor's role: the center's routing loop and
nothing else; it holds the lease) and ``--processes`` router processes (each its own ``Router``
over the shared database, with a standby routing loop) running ``--clients`` client threads
each for ``--seconds``: an agent of the thread's share goes away (its offers go back to the
queue) and comes back. Those API transactions only record the change; the routing loop reads
the waiting contacts and the free agents, calls ``RoutingPolicy.decide`` and commits the
offers of every freed slot at once, one transaction per pass (with the events of the changes
it saw).
pass. Measured: durable routing decisions (offers committed by the loop inside the measuring
window) per second over all processes, and for each offer the time from the commit of its cause
(the agent's return, timed when its API call returned) to the commit of the pass that made it
(timed when the pass's commit returned), p50/p99. Clients do not wait for the pass
(``route_wait_s=0``; through HTTP a write waits for it, so that its offers exist when it
answers): a few threads stand for the many clients of a loaded center. Each thread waits for
its own two durable commits per cycle (about 1.6 offers), so with one thread per process the
benchmark measures its clients, not the router: ``--clients 4`` (the default) loads it. Beside
it: as many connections as router client threads (each a process of its own) each looping a
bare reservation - take the oldest queued job ``FOR UPDATE SKIP LOCKED``, mark it reserved for
an agent, add one new job - the physical reference for this machine. Targets: at least 300
decisions/s, p99 at most 50 ms, at least 0.5x the bare loop's rate.
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

    # route_wait_s=0: a client does not wait for the pass (a loaded center has many clients,
    # each waiting for its own; here a few threads stand for them and keep the load up)
    settings = RouterSettings(offer_timeout_s=1e9, callback_threshold_s=None, route_wait_s=0.0)
    center = Center("bench", big_center(n_agents))
    return Router(S.Store(url), {"bench": center}, settings, virtual_clock=False)


def _set_up(url: str, n_agents: int, waiting: int) -> None:
    from router import fill

    router = _router(url, n_agents)
    router.setup()
    fill(router, waiting, random.Random(7))  # no loop yet: routed in each transaction
    router.store.dispose()
    import psycopg

    # the bulk load settled and its statistics taken, as autovacuum does on a running store
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as connection:
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE")


def _client(router, names, seconds, seed, window, causes, api) -> None:
    """One client: an agent goes away (its offers back to the queue) and comes back; the
    commit of its return is the cause of the offers the routing loop then makes it."""
    from openwfm.routing import operations as O

    rng = random.Random(seed)
    while time.time() < window[0] + seconds:
        name = rng.choice(names)
        O.set_presence(router, "bench", name, "away")
        before = time.time()
        O.set_presence(router, "bench", name, "available")
        after = time.time()
        causes.append((name, before, after))
        api.append(after - before)


def _api_worker(url, n_agents, share, processes, seconds, seed, clients, sync, results):
    """A router process serving the API: ``clients`` client threads and, as every process of
    ``serve`` runs, a standby routing loop (it takes the lease over if the routing process
    dies; here it stays standby)."""
    import threading

    from openwfm.routing import operations as O
    from openwfm.routing.loop import start_routing

    barrier, holding = sync
    holding.wait(timeout=300)  # the routing process holds the lease
    router = _router(url, n_agents)
    loop = start_routing(router)
    names = [a.name for a in router.centers["bench"].scenario.all_agents()][share::processes]
    for name in names[:5]:  # warm-up (statement caches)
        O.set_presence(router, "bench", name, "away")
        O.set_presence(router, "bench", name, "available")
    barrier.wait(timeout=300)
    window = [time.time()]
    causes: list = []
    api: list = []
    threads = [
        threading.Thread(
            target=_client,
            args=(router, names[k::clients], seconds, seed * 100 + k, window, causes, api),
        )
        for k in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    window.append(time.time())
    barrier.wait(timeout=300)
    barrier.wait(timeout=300)  # the routing process has stopped
    loop.stop()
    results.put({"window": window, "causes": causes, "api": api, "passes": []})
    router.store.dispose()


def _routing_worker(url, n_agents, sync, results):
    """The routing process: the center's routing loop and nothing else (it takes the lease
    first: the API processes start once it holds it)."""
    from openwfm.routing.loop import start_routing

    barrier, holding = sync
    router = _router(url, n_agents)
    loop = start_routing(router)
    passes: list = []
    loop.on_pass = lambda _center, at, agents: passes.append((at, agents))
    while "bench" not in loop.lease.held():
        time.sleep(0.05)
    time.sleep(2.0)  # its first passes compile the policy
    holding.set()
    barrier.wait(timeout=300)  # measuring
    barrier.wait(timeout=300)  # the clients are done
    time.sleep(1.0)  # the passes still to come for causes of the window
    loop.stop()
    barrier.wait(timeout=300)
    results.put({"passes": passes, "made": loop.passes, "retries": loop.retries, "causes": []})
    router.store.dispose()


def _decisions(collected):
    """Offers committed inside the measuring window, and for each the time from the commit of
    its cause (the agent's return) to the commit of the pass that made it."""
    from bisect import bisect_right

    windows = [c["window"] for c in collected if "window" in c]
    start = min(w[0] for w in windows)
    end = max(w[1] for w in windows)
    returns: dict[str, list] = {}
    for c in collected:
        for name, before, after in c["causes"]:
            returns.setdefault(name, []).append((before, after))
    for times in returns.values():
        times.sort()
    latencies, made, unmatched = [], 0, 0
    for c in collected:
        for at, agents in c["passes"]:
            if not start <= at <= end:
                continue
            made += len(agents)
            for name in agents:
                times = returns.get(name, [])
                k = bisect_right([b for b, _ in times], at) - 1
                if k < 0:
                    unmatched += 1
                    continue
                latencies.append(max(0.0, at - times[k][1]))
    return made / (end - start), latencies, made, unmatched, end - start


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


def _collect(context, workers: list[tuple]) -> list:
    """Start ``(target, args)`` processes, each putting one result on the queue passed as its
    last argument; returns the results (in the order they came)."""
    results = context.Queue()
    processes = [context.Process(target=t, args=(*args, results)) for t, args in workers]
    for process in processes:
        process.start()
    collected = [results.get(timeout=900) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    return collected


def _percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(n_agents: int, waiting: int, seconds: float, processes: int, clients: int = 1) -> None:
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
        context = multiprocessing.get_context("spawn")
        sync = (context.Barrier(processes + 1), context.Event())
        workers = [(_routing_worker, (url, n_agents, sync))]
        workers += [
            (_api_worker, (url, n_agents, i, processes, seconds, 11 + i, clients, sync))
            for i in range(processes)
        ]
        collected = _collect(context, workers)
        rate, latencies, made, unmatched, window_s = _decisions(collected)
        routing = next(c for c in collected if "made" in c)
        passes, retries = routing["made"], routing["retries"]
        api = [x for c in collected for x in c.get("api", [])]
        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        _bare_set_up(dsn, waiting)
        bare = _collect(  # as many connections as router client threads
            context,
            [(_bare_worker, (dsn, n_agents, seconds, 23 + i)) for i in range(processes * clients)],
        )
        reserved = sum(c for c, _, _ in bare)
        bare_rate = reserved / max(e for _, e, _ in bare)
        bare_latencies = [x for _, _, lat in bare for x in lat]
    p50, p99 = _percentile(latencies, 0.5) * 1e3, _percentile(latencies, 0.99) * 1e3
    b50, b99 = _percentile(bare_latencies, 0.5) * 1e3, _percentile(bare_latencies, 0.99) * 1e3
    a50, a99 = _percentile(api, 0.5) * 1e3, _percentile(api, 0.99) * 1e3
    print(
        f"{processes} router processes x {clients} client thread(s) and the routing process "
        f"(the lease holder), {window_s:.1f} s, same database, same run:"
    )
    print(
        f"  router: {made} durable decisions, {rate:7.1f}/s in {passes} routing passes "
        f"({made / max(passes, 1):.1f} offers each, {retries} run again); cause commit -> "
        f"offer commit p50 {p50:6.2f} ms, p99 {p99:6.2f} ms "
        f"(mean {statistics.mean(latencies) * 1e3:.2f} ms; {unmatched} offers without a cause)"
    )
    print(f"  agent's return (API transaction, records only): p50 {a50:6.2f} ms, p99 {a99:6.2f} ms")
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

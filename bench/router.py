"""Router benchmark: routing decisions through the live service vs ``RoutingPolicy.decide`` alone.

Run: ``.venv/bin/python bench/router.py`` (``--quick`` for a smoke run; ``--twin`` also plays a
whole simulated day of the example center through the HTTP router and checks it against the
simulator; ``--db postgresql``: several router processes on PostgreSQL beside a bare
``SKIP LOCKED`` loop, see ``bench/router_postgres.py``).

Set-up: 1,000 agents (voice, chat with 3 at once, email; the A-team policy with an escalation
step), every slot held by a pending offer, and 200 more contacts waiting, on the embedded SQLite
store with durable commits (``synchronous=FULL``). Each measured decision: one agent that had
gone away comes back (``POST /v1/agents/{id}/presence``, in-process: the operation the endpoint
calls); its transaction reads the snapshot (200+ waiting, 1,000 agents), calls
``RoutingPolicy.decide``, writes the offers with guarded updates and commits. That transaction
time is the latency from the commit of the cause to the committed offer (offers are written in
the transaction of their cause). Beside it, in the same run: ``RoutingPolicy.decide`` alone on
the same snapshot. Target: the service adds at most 5x the bare decision time at p50.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from sqlalchemy import select

from openwfm.model import Scenario
from openwfm.routing import operations as O
from openwfm.routing import store as S
from openwfm.routing.center import Center, RouterSettings
from openwfm.routing.core import Router, agent_state, waiting_contact

ROOT = Path(__file__).resolve().parents[1]


def big_center(n_agents: int) -> Scenario:
    voice, chat, email = int(n_agents * 0.6), int(n_agents * 0.3), n_agents - int(n_agents * 0.9)
    return Scenario.model_validate(
        {
            "name": "bench",
            "queues": [
                {"name": "voice", "channel": "voice", "aht_s": 240, "patience_s": 180},
                {"name": "chat", "channel": "chat", "aht_s": 420, "max_concurrency": 3},
                {"name": "email", "channel": "email", "aht_s": 360},
            ],
            "segments": [
                {"name": "gold", "priority": 2, "share": {"voice": 0.2}},
                {"name": "standard", "priority": 1, "share": {"voice": 0.8}},
            ],
            "agent_groups": [
                {"name": "v", "count": voice, "skills": {"voice": 0.7}},
                {"name": "c", "count": chat, "skills": {"chat": 0.8, "voice": 0.5}},
                {"name": "e", "count": email, "skills": {"email": 0.9, "chat": 0.6}},
            ],
            "routing": {
                "policy": "best_skilled",
                "a_team_segments": ["gold"],
                "min_proficiency": 0.5,
                "escalation": [{"after_s": 30, "min_proficiency": 0}],
            },
        }
    )


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def setup(folder: Path, n_agents: int, waiting: int, rng: random.Random, synchronous: str):
    scenario = big_center(n_agents)
    store = S.Store(f"sqlite:///{folder / 'bench.db'}", synchronous=synchronous)
    settings = RouterSettings(offer_timeout_s=1e9, callback_threshold_s=None)
    router = Router(store, {"bench": Center("bench", scenario)}, settings, virtual_clock=True)
    router.setup()
    return fill(router, waiting, rng)


def fill(router: Router, waiting: int, rng: random.Random) -> Router:
    """Every agent available with every slot held by a pending offer, ``waiting`` more queued."""
    names = [a.name for a in router.centers["bench"].scenario.all_agents()]
    slots = {"v": 1, "c": 3, "e": 1}
    queues = {"v": ["voice"], "c": ["chat", "chat", "chat"], "e": ["email"]}
    key = 0
    for name in names:  # fill every slot with a pending offer
        for queue in queues[name.split("-")[0]][: slots[name.split("-")[0]]]:
            key += 1
            segment = rng.choice(["gold", "standard"]) if queue == "voice" else "standard"
            O.create_contact(router, "bench", f"k{key}", {"queue": queue, "segment": segment}, None)
        O.set_presence(router, "bench", name, "available")
    for _ in range(waiting):
        key += 1
        queue = rng.choice(["voice", "voice", "chat", "email"])
        O.create_contact(router, "bench", f"k{key}", {"queue": queue}, None)
    return router


def snapshot(router: Router):
    c, a = S.contacts.c, S.agents.c
    with router.store.read() as connection:
        waiting = connection.execute(
            select(S.contacts).where(c.center == "bench", c.state == "queued").order_by(c.number)
        ).all()
        agents = connection.execute(
            select(S.agents).where(a.center == "bench", a.status == "available").order_by(a.ordinal)
        ).all()
    return [waiting_contact(r) for r in waiting], [agent_state(r) for r in agents]


def measure(router: Router, rounds: int, rng: random.Random):
    policy = router.centers["bench"].policy
    names = [a.name for a in router.centers["bench"].scenario.all_agents()]
    ordinal = {name: i for i, name in enumerate(names)}
    service, bare, bare_free, sizes = [], [], [], []
    made_before = router.decisions
    for _ in range(rounds):
        name = rng.choice(names)
        O.set_presence(router, "bench", name, "away")  # its offers go back to the queue
        contacts, agents = snapshot(router)
        # the bare decision on the same state the service will see (the agent back)
        back = replace(agent_state(_agent(router, name)), available=True)
        agents_back = sorted([*agents, back], key=lambda a: ordinal[a.agent_id])
        began = time.perf_counter()
        policy.decide(contacts, agents_back, router.now())
        bare.append(time.perf_counter() - began)
        free = [s for s in agents_back if s.load == 0 or s.load < s.capacity.get(s.channel, 0)]
        began = time.perf_counter()
        policy.decide(contacts, free, router.now())
        bare_free.append(time.perf_counter() - began)
        began = time.perf_counter()
        O.set_presence(router, "bench", name, "available")  # commit -> offers committed
        service.append(time.perf_counter() - began)
        sizes.append((len(contacts), len(agents_back)))
    return service, bare, bare_free, sizes, router.decisions - made_before


def _agent(router: Router, name: str):
    a = S.agents.c
    with router.store.read() as connection:
        return connection.execute(
            select(S.agents).where(a.center == "bench", a.agent_id == name)
        ).one()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--waiting", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--synchronous",
        default="FULL",
        choices=["FULL", "NORMAL", "OFF"],
        help="SQLite commit durability (FULL: fsync at every commit)",
    )
    parser.add_argument("--twin", action="store_true", help="also play a simulated day")
    parser.add_argument("--twin-day", default="2024-01-06", help="the day (YYYY-MM-DD)")
    parser.add_argument("--only-twin", action="store_true", help="skip the decision benchmark")
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--processes", type=int, default=2, help="postgresql: router processes")
    parser.add_argument("--seconds", type=float, default=20.0, help="postgresql: measured time")
    parser.add_argument(
        "--clients",
        type=int,
        default=4,
        help="postgresql: client threads per router process (the bare loops: as many in all)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=400.0,
        help="postgresql: decisions/s offered on an open schedule (0: clients back to back)",
    )
    args = parser.parse_args()
    if args.db == "postgresql":
        from router_postgres import print_targets, run

        if args.quick:
            args.agents, args.waiting, args.seconds = 100, 20, 5.0
        shape = (args.agents, args.waiting, args.seconds, args.processes, args.clients)
        paced = run(*shape, args.rate)
        if args.rate > 0:
            print("flat-out phase (clients back to back), same machine, same run:")
            print_targets(paced, run(*shape, 0.0))
        return
    if args.only_twin:
        twin_day(args.twin_day)
        return
    if args.quick:
        args.agents, args.waiting, args.rounds = 100, 20, 20
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as folder:
        began = time.perf_counter()
        router = setup(Path(folder), args.agents, args.waiting, rng, args.synchronous)
        print(
            f"set-up: {args.agents} agents, every slot offered, {args.waiting} waiting, "
            f"{time.perf_counter() - began:.1f} s"
        )
        measure(router, 3, rng)  # warm-up (numba, SQLAlchemy statement caches)
        service, bare, bare_free, sizes, made = measure(router, args.rounds, rng)
        router.store.dispose()
    waiting = statistics.mean(s[0] for s in sizes)
    print(
        f"decisions: {args.rounds} rounds, {made} offers, ~{waiting:.0f} waiting x "
        f"{sizes[0][1]} available agents, SQLite synchronous={args.synchronous}"
    )
    rows = [
        ("service: cause commit -> offer committed", service),
        ("RoutingPolicy.decide alone, same state", bare),
        ("decide on the agents with a free slot only", bare_free),
    ]
    for label, values in rows:
        p50, p99 = percentile(values, 0.5) * 1e3, percentile(values, 0.99) * 1e3
        print(
            f"  {label:44s} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  "
            f"{1 / statistics.mean(values):7.1f} decisions/s"
        )
    ratio = percentile(service, 0.5) / percentile(bare, 0.5)
    verdict = "meets" if ratio <= 5 else "misses"
    print(f"service / bare decision at p50: {ratio:.2f}x ({verdict} the 5x target)")
    if args.twin:
        twin_day(args.twin_day)


def twin_day(day_text: str) -> None:
    import datetime as dt

    import numpy as np
    from fastapi.testclient import TestClient

    from openwfm.routing import twin
    from openwfm.routing.service import create_app
    from openwfm.scenario import load_scenario
    from openwfm.sim import engine as E

    scenario = load_scenario(ROOT / "examples" / "center.yaml")
    when = dt.date.fromisoformat(day_text)
    day = twin.simulate_day(scenario, when, seed=3)
    with tempfile.TemporaryDirectory() as folder:
        store = S.Store(f"sqlite:///{folder}/twin.db", synchronous="OFF")
        router = Router(
            store,
            {"center": Center("center", scenario)},
            RouterSettings(callback_threshold_s=None),
            virtual_clock=True,
        )
        headers = {"Authorization": "Bearer twin"}
        began = time.perf_counter()
        with TestClient(create_app(router, "twin", background=False)) as client:
            driver = twin.Driver(client, day, headers)
            driver.run()
            rows = {
                driver.index_of[c]: client.get(f"/v1/contacts/{c}", headers=headers).json()
                for c in driver.contact_ids
            }
        elapsed = time.perf_counter() - began
    _, ints = twin.router_tables(rows, day, day.plan.model.agent_names)
    mismatches = int((ints[:, E.AGENT] != day.ints[:, E.AGENT]).sum())
    print(
        f"twin: {when:%A %Y-%m-%d} of the example center, {len(day.floats)} contacts, "
        f"{driver.requests} HTTP requests in {elapsed:.0f} s; agent per contact differs "
        f"from the simulator for {mismatches}"
    )
    if mismatches:
        sys.exit(1)
    assert np.all(ints[:, E.AGENT] == day.ints[:, E.AGENT])


if __name__ == "__main__":
    main()

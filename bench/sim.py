"""Simulator benchmark: openwfm vs SimPy vs Ciw on M/M/n+M, a 500-agent week, a real-day replay.

Run: ``.venv/bin/python bench/sim.py`` (``--quick`` for a smoke run).

1. M/M/n+M (Erlang A): 50 Erlangs, 55 agents, AHT 180 s, mean patience 300 s, 8 h, 20
   replications, in openwfm (one core: Dask's sync scheduler; and the default threads), SimPy
   and Ciw. Events are counted the same way for all three: arrivals + service completions +
   abandonments of the simulated customers, divided by each simulator's wall time (openwfm's
   includes sampling the arrivals and computing the KPIs; its one-off numba compilation is
   reported apart). Results side by side with the exact Erlang A values of openwfm.queueing.
2. A week (Mon-Fri 08:00-20:00) of a 500-agent, 20-queue center with the A-team policy,
   10 replications (target: < 60 s).
3. Trace-driven replay of one real Anonymous Bank weekday (../shared/data, not committed).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from _timing import timed
from openwfm.model import Scenario
from openwfm.sim import prepare, run_prepared

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "anonymous-bank"

ERLANGS, AGENTS, AHT_S, PATIENCE_S, HOURS, TARGET_S = 50.0, 55, 180.0, 300.0, 8, 20.0
RATE_PER_S = ERLANGS / AHT_S


# --- 1. M/M/n+M -----------------------------------------------------------------------------


def openwfm_prepared(hours: float):
    scenario = Scenario.model_validate(
        {
            "queues": [
                {
                    "name": "q",
                    "aht_s": AHT_S,
                    "patience_s": PATIENCE_S,
                    "target": {"within_s": TARGET_S},
                }
            ],
            "agent_groups": [{"name": "g", "count": AGENTS, "skills": {"q": 1.0}}],
        }
    )
    horizon_s = hours * 3600
    starts = pd.date_range("2024-01-01", periods=int(horizon_s // 900), freq="900s")
    rates = pd.DataFrame({"interval_start": starts, "queue": "q", "arrival_rate_per_s": RATE_PER_S})
    return prepare(scenario, rates=rates, always_on_s=horizon_s, interval_s=900)


def run_openwfm(replications: int, hours: float, scheduler: str):
    prepared = openwfm_prepared(hours)
    with timed() as timing:
        result = run_prepared(prepared, replications, seed=1, scheduler=scheduler)
    elapsed = timing.wall_s
    reps = result.replications[result.replications["segment"] == "all"]
    events = float((reps["offered"] + reps["answered"] + reps["abandoned"]).sum())
    stats = {
        "p_wait": reps["p_wait"].to_numpy(),
        "service_level": reps["service_level"].to_numpy(),
        "asa_s": reps["asa_s"].to_numpy(),
        "p_abandon": reps["abandon_rate"].to_numpy(),
    }
    return elapsed, events, stats


def run_simpy(replications: int, hours: float):
    import simpy

    horizon_s = hours * 3600
    stats = {k: [] for k in ("p_wait", "service_level", "asa_s", "p_abandon")}
    events = 0
    with timed() as timing:
        for r in range(replications):
            rng = np.random.default_rng(1000 + r)
            env = simpy.Environment()
            agents = simpy.Resource(env, AGENTS)
            waits: list[float] = []
            abandoned = [0]

            def customer(env=env, agents=agents, rng=rng, waits=waits, abandoned=abandoned):
                arrived = env.now
                with agents.request() as request:
                    outcome = yield request | env.timeout(rng.exponential(PATIENCE_S))
                    if request in outcome:
                        waits.append(env.now - arrived)
                        yield env.timeout(rng.exponential(AHT_S))
                    else:
                        abandoned[0] += 1

            def source(env=env, rng=rng):
                while True:
                    yield env.timeout(rng.exponential(1 / RATE_PER_S))
                    if env.now > horizon_s:
                        return
                    env.process(customer())

            env.process(source())
            env.run()
            w = np.asarray(waits)
            offered = len(w) + abandoned[0]
            events += offered + len(w) + abandoned[0]
            stats["p_wait"].append((np.sum(w > 0) + abandoned[0]) / offered)
            stats["service_level"].append(np.sum(w <= TARGET_S) / offered)
            stats["asa_s"].append(w.mean())
            stats["p_abandon"].append(abandoned[0] / offered)
    return timing.wall_s, events, {k: np.asarray(v) for k, v in stats.items()}


def run_ciw(replications: int, hours: float):
    import ciw

    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=RATE_PER_S)],
        service_distributions=[ciw.dists.Exponential(rate=1 / AHT_S)],
        number_of_servers=[AGENTS],
        reneging_time_distributions=[ciw.dists.Exponential(rate=1 / PATIENCE_S)],
    )
    stats = {k: [] for k in ("p_wait", "service_level", "asa_s", "p_abandon")}
    events = 0
    with timed() as timing:
        for r in range(replications):
            ciw.seed(2000 + r)
            simulation = ciw.Simulation(network)
            simulation.simulate_until_max_time(hours * 3600)
            records = simulation.get_all_records()
            served = np.array([x.waiting_time for x in records if x.record_type == "service"])
            reneged = sum(1 for x in records if x.record_type == "renege")
            offered = len(served) + reneged
            events += offered + len(served) + reneged
            stats["p_wait"].append((np.sum(served > 0) + reneged) / offered)
            stats["service_level"].append(np.sum(served <= TARGET_S) / offered)
            stats["asa_s"].append(served.mean())
            stats["p_abandon"].append(reneged / offered)
    return timing.wall_s, events, {k: np.asarray(v) for k, v in stats.items()}


def exact_erlang_a() -> dict[str, float] | None:
    try:
        from openwfm.queueing import erlang_a
    except ImportError:
        return None
    result = erlang_a(RATE_PER_S, AHT_S, PATIENCE_S, AGENTS, TARGET_S)
    return {
        "p_wait": float(result.p_wait),
        "service_level": float(result.service_level),
        "asa_s": float(result.asa_s),
        "p_abandon": float(result.p_abandon),
    }


def ci_text(values: np.ndarray, fmt: str) -> str:
    from scipy import stats

    mean = values.mean()
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    return f"{format(mean, fmt)} ± {format(half, fmt)}"


def bench_mmnm(replications: int, hours: float) -> None:
    print(f"== 1. M/M/n+M: {ERLANGS:g} Erlangs, {AGENTS} agents, AHT {AHT_S:g} s, patience "
          f"{PATIENCE_S:g} s, {hours:g} h, {replications} replications")  # fmt: skip
    with timed() as timing:
        run_openwfm(1, 0.5, "sync")  # compile (or load the numba cache) once
    print(f"openwfm one-off numba compile/cache load: {timing.wall_s:.1f} s")
    runs = {
        "openwfm (1 core)": run_openwfm(replications, hours, "sync"),
        "openwfm (threads)": run_openwfm(replications, hours, "threads"),
        "SimPy": run_simpy(replications, hours),
        "Ciw": run_ciw(replications, hours),
    }
    simpy_rate = runs["SimPy"][1] / runs["SimPy"][0]
    print(f"{'simulator':<18} {'wall s':>8} {'events':>10} {'events/s':>12} {'vs SimPy':>9}")
    for name, (elapsed, events, _) in runs.items():
        rate = events / elapsed
        print(f"{name:<18} {elapsed:8.2f} {events:10.0f} {rate:12,.0f} {rate / simpy_rate:8.1f}x")
    exact = exact_erlang_a()
    print("\nresults (mean ± 95% CI half-width over replications; exact = openwfm.queueing)")
    header = f"{'metric':<14}" + "".join(f"{name:>22}" for name in runs)
    print(header + (f"{'exact Erlang A':>16}" if exact else "   (openwfm.queueing n/a)"))
    for metric, fmt in (("p_wait", ".4f"), ("service_level", ".4f"), ("asa_s", ".2f"),
                        ("p_abandon", ".4f")):  # fmt: skip
        row = f"{metric:<14}" + "".join(f"{ci_text(r[2][metric], fmt):>22}" for r in runs.values())
        if exact:
            row += f"{format(exact[metric], fmt):>16}"
        print(row)
    print(
        "(finite runs start empty; Erlang A is the steady state: a small start-up bias "
        "shows in all three simulators alike)"
    )
    from scipy import stats

    ours = runs["openwfm (1 core)"][2]
    print("equality (Welch t-test p-values, openwfm vs peer; > 0.05: no detectable difference)")
    for metric in ("p_wait", "service_level", "asa_s", "p_abandon"):
        p_simpy = stats.ttest_ind(ours[metric], runs["SimPy"][2][metric], equal_var=False).pvalue
        p_ciw = stats.ttest_ind(ours[metric], runs["Ciw"][2][metric], equal_var=False).pvalue
        print(f"  {metric:<14} vs SimPy p={p_simpy:.2f}   vs Ciw p={p_ciw:.2f}")


# --- 2. a 500-agent, 20-queue week with the A-team policy ------------------------------------


def big_center() -> Scenario:
    """20 queues; per queue 5 experts (1.0) and 20 regulars (0.8), both with two secondary
    skills on neighbouring queues. Flat demand of ~21 Erlangs per queue: ~85% occupancy."""
    n_queues = 20
    queues = [
        {
            "name": f"q{i:02d}",
            "aht_s": 240.0 + 10 * (i % 5),
            "handle_time_distribution": "lognormal",
            "handle_time_cv": 0.8,
            "wrap_up_s": 15.0,
            "patience_s": 180.0,
            "proficiency_slope": 0.5,
            "target": {"service_level": 0.8, "within_s": 20},
            "demand": {"contacts_per_day": 3300.0},
        }
        for i in range(n_queues)
    ]
    groups = []
    for q in range(n_queues):
        near, far = f"q{(q + 1) % n_queues:02d}", f"q{(q + 7) % n_queues:02d}"
        groups.append(
            {"name": f"experts{q:02d}", "count": 5, "skills": {f"q{q:02d}": 1.0, near: 0.7}}
        )
        groups.append(
            {
                "name": f"regulars{q:02d}",
                "count": 20,
                "skills": {f"q{q:02d}": 0.8, near: 0.6, far: 0.5},
            }
        )
    return Scenario.model_validate(
        {
            "name": "500 agents, 20 queues",
            "queues": queues,
            "segments": [
                {
                    "name": "gold",
                    "priority": 2,
                    "share": {q["name"]: 0.15 for q in queues},
                    "targets": {q["name"]: {"service_level": 0.9, "within_s": 10} for q in queues},
                }
            ],
            "agent_groups": groups,
            "routing": {
                "policy": "best_skilled",
                "a_team_segments": ["gold"],
                "min_proficiency": 0.6,
                "escalation": [{"after_s": 30, "min_proficiency": 0.0}],
            },
        }
    )


def bench_week(replications: int, days: int) -> None:
    scenario = big_center()
    print(f"\n== 2. {scenario.name}: {len(scenario.all_agents())} agents, A-team policy "
          f"(best_skilled for gold), {days} days Mon-Fri 08:00-20:00, {replications} "
          "replications")  # fmt: skip
    with timed() as timing:
        prepared = prepare(scenario, days=days)
        result = run_prepared(prepared, replications, seed=1, scheduler="threads")
    total = timing.wall_s
    print(
        f"wall {total:.1f} s (target < 60 s; replications {result.elapsed_s:.1f} s), "
        f"{result.contacts:,} contacts, {result.events:,} engine events, "
        f"{result.events / result.elapsed_s:,.0f} events/s on 2 threads"
    )
    rows = result.summary[result.summary["queue"] == "all"]
    for segment in ("gold", "default"):
        sub = result.replications[result.replications["segment"] == segment]
        sl = sub.groupby("replication").apply(
            lambda f: np.average(f["service_level"], weights=f["offered"]), include_groups=False
        )
        print(f"  {segment:<8} SL {sl.mean():.3f} (per-replication sd {sl.std():.3f})")
    overall = rows.iloc[0]
    print(
        f"  all      SL {overall['service_level']:.3f} "
        f"[{overall['service_level_ci_low']:.3f}, {overall['service_level_ci_high']:.3f}], "
        f"abandon {overall['abandon_rate']:.3f}, ASA {overall['asa_s']:.1f} s, "
        f"occupancy {overall['occupancy']:.3f}"
    )


# --- 3. trace-driven replay of a real day -----------------------------------------------------


def bench_replay(day: str, replications: int) -> None:
    from openwfm.data.readers import read_anonymous_bank
    from openwfm.sim.replay import replay_day

    path = DATA / "raw" / f"{pd.Timestamp(day):%m}_{pd.Timestamp(day):%B}.txt"
    if not path.exists():
        print(f"\n== 3. replay skipped: {path} missing")
        return
    calls = read_anonymous_bank(path)
    table = replay_day(calls, day, replications=replications, seed=1)
    print(
        f"\n== 3. Anonymous Bank {day} ({pd.Timestamp(day):%A}) replayed, {replications} "
        "replications; SL = answered within 60 s / offered"
    )
    print(
        f"patience: exponential, mean {table.attrs['patience_mean_s']:.0f} s = total queue time "
        "of offered calls / abandons on the other days of the month (censored-data MLE); "
        "agents per hour = agent-hours of service in the hour, rounded up; handle times as "
        "recorded (abandoned calls draw from the day's); priority 2 customers get 90 s of aging"
    )
    shown = table.assign(
        sim_sl=lambda f: f["simulated_service_level"].map("{:.2f}".format)
        + " ["
        + f["simulated_service_level_ci_low"].map("{:.2f}".format)
        + ","
        + f["simulated_service_level_ci_high"].map("{:.2f}".format)
        + "]",
        sim_abandon=lambda f: f["simulated_abandon_rate"].map("{:.2f}".format)
        + " ["
        + f["simulated_abandon_rate_ci_low"].map("{:.2f}".format)
        + ","
        + f["simulated_abandon_rate_ci_high"].map("{:.2f}".format)
        + "]",
    )[["hour", "agents", "offered", "actual_service_level", "sim_sl", "actual_abandon_rate",
       "sim_abandon"]]  # fmt: skip
    print(shown.round(3).to_string(index=False))
    weights = table["offered"]
    for name in ("service_level", "abandon_rate"):
        actual = np.average(table[f"actual_{name}"], weights=weights)
        simulated = np.average(table[f"simulated_{name}"], weights=weights)
        print(f"day {name}: actual {actual:.3f}, simulated {simulated:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    args = parser.parse_args()
    if args.quick:
        bench_mmnm(4, 2)
        bench_week(2, 1)
        bench_replay("1999-03-10", 3)
    else:
        bench_mmnm(20, HOURS)
        bench_week(10, 5)
        bench_replay("1999-03-10", 10)


if __name__ == "__main__":
    sys.exit(main())

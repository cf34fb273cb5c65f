"""Longest-idle vs quality-based routing of the gold segment, with 95% confidence intervals.

The chain the product runs: a measured history (repeat contacts and evaluations per agent,
some agents with few of them) -> per-agent quality shrunk toward the team mean
(openwfm.quality.agent_quality) -> proficiency per queue written into a scenario copy
(derive_proficiency, write_proficiency) -> the simulator with the same seeds under
``longest_idle`` and ``best_skilled`` for gold (openwfm.quality.routing.compare_routing). Each
answered contact is credited with the *true* resolution probability of its agent, which the
routing never sees: it sees only the estimates.

    python bench/quality.py [--replications 20] [--days 1] [--seed 1] [--proficiency-slope 0.3]
    python bench/quality.py --bank     # the A-team from the Anonymous Bank's measured FCR

``--bank``: the 1999 Anonymous Bank records (../shared/data) -> repeat-contact FCR per agent ->
proficiency per queue (resolution and handle time) written into examples/anonymous-bank.yaml
-> the 10 busiest agents on duty through a Sunday's opening hours, priority customers (segment
"2") of queue PS routed best-skilled, each answered call credited with its agent's measured
(shrunk) PS resolution rate.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from _timing import timed
from openwfm.quality.agents import agent_quality
from openwfm.quality.proficiency import derive_proficiency, write_proficiency
from openwfm.quality.routing import compare_routing
from openwfm.scenario import load_scenario

N_AGENTS = 24
ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("OPENWFM_SHARED_DATA", ROOT.parent / "shared" / "data"))


def scenario_dict(contacts_per_day: float, proficiency_slope: float = 0.0) -> dict:
    weekdays = ("mon", "tue", "wed", "thu", "fri")
    return {
        "name": "quality routing bench",
        "grid": {
            "interval_minutes": 15,
            "opening_hours": {d: {"open": "08:00", "close": "20:00"} for d in weekdays},
        },
        "queues": [
            {
                "name": "voice",
                "aht_s": 240,
                "handle_time_distribution": "lognormal",
                "handle_time_cv": 0.8,
                "patience_s": 180,
                "proficiency_slope": proficiency_slope,
                "target": {"service_level": 0.8, "within_s": 20},
                "demand": {
                    "contacts_per_day": contacts_per_day,
                    "peaks": {"10:00": 1.0, "14:30": 0.8},
                },
            }
        ],
        "segments": [
            {"name": "gold", "priority": 2, "share": {"voice": 0.25}},
            {"name": "standard", "priority": 1, "share": {"voice": 0.75}},
        ],
        "agents": [{"name": f"a{i:02d}", "skills": {"voice": 1.0}} for i in range(N_AGENTS)],
    }


def history(rng: np.random.Generator):
    """True resolution p per agent, and a measured history: repeat flags and evaluations."""
    truth = pd.Series(rng.beta(6, 3, N_AGENTS), index=[f"a{i:02d}" for i in range(N_AGENTS)])
    flags, evaluations = [], []
    for agent, p in truth.items():
        contacts = int(rng.choice([15, 40, 150, 600]))
        repeated = rng.random(contacts) > p
        flags.append(pd.DataFrame({"agent": agent, "queue": "voice", "repeat_1d": repeated}))
        k = int(rng.integers(2, 12))
        scores = np.clip(rng.normal(min(p + 0.05, 1.0), 0.12, k), 0, 1)
        evaluations.append(
            pd.DataFrame(
                {
                    "agent": agent,
                    "queue": "voice",
                    "score": scores,
                    "auto_fail": False,
                    "calibration_id": None,
                }
            )
        )
    return truth, pd.concat(flags, ignore_index=True), pd.concat(evaluations, ignore_index=True)


def shrinkage_errors(seed: int, histories: int = 200) -> tuple[float, float]:
    """Root mean squared error of the raw and the shrunk FCR over many seeded histories."""
    raw, shrunk = [], []
    for rng in map(np.random.default_rng, np.random.SeedSequence(seed).spawn(histories)):
        truth, flags, _ = history(rng)
        table = agent_quality(fcr_flags=flags).set_index("agent")
        raw.append(((table["fcr_raw"] - truth) ** 2).mean())
        shrunk.append(((table["fcr"] - truth) ** 2).mean())
    return float(np.sqrt(np.mean(raw))), float(np.sqrt(np.mean(shrunk)))


def bank_inputs(on_duty: int = 10):
    """(scenario with derived proficiency, resolution per agent) from the Anonymous Bank."""
    from openwfm.data.readers import read_anonymous_bank
    from openwfm.data.store import InteractionStore
    from openwfm.quality.fcr import fcr_rates, repeat_flags
    from openwfm.quality.imports import anonymous_bank_customers, import_customers
    from openwfm.quality.proficiency import handle_times
    from openwfm.quality.store import QualityStore

    paths = sorted((SHARED_DATA / "anonymous-bank" / "raw").glob("*.txt"))
    if not paths:
        raise SystemExit(f"no Anonymous Bank files under {SHARED_DATA}")
    with InteractionStore(":memory:") as store:
        store.ingest(pd.concat([read_anonymous_bank(p) for p in paths], ignore_index=True))
        quality = QualityStore(store)
        import_customers(quality, pd.concat([anonymous_bank_customers(p) for p in paths]))
        contacts = quality.contacts_with_customers()
    flags = repeat_flags(contacts, (1,))
    overall = fcr_rates(flags).iloc[0]
    by_queue = agent_quality(fcr_flags=flags, by=("agent", "queue"))
    proficiency = derive_proficiency(by_queue, handle_times(contacts))
    ps = by_queue[by_queue["queue"] == "PS"].set_index("agent")["fcr"]
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "anonymous-bank.quality.yaml"
        write_proficiency(
            ROOT / "examples" / "anonymous-bank.yaml", proficiency, copy, a_team_segments=["2"]
        )
        scenario = load_scenario(copy)
    served = contacts[contacts["outcome"] == "answered"].groupby("agent").size()
    busiest = [a for a in served.sort_values(ascending=False).index if a in ps.index]
    agents = [a for a in scenario.agents if a.name in busiest[:on_duty]]
    scenario = scenario.model_copy(update={"agents": agents})
    resolution = {a.name: float(ps[a.name]) for a in agents}
    print(
        f"Anonymous Bank: {int(overall['contacts']):,} identified agent-served calls, FCR(1 d) "
        f"{overall['fcr_1d']:.3f}; on duty: {', '.join(resolution)}; their shrunk PS FCR "
        f"{min(resolution.values()):.3f} to {max(resolution.values()):.3f}"
    )
    return scenario, resolution


def print_comparison(table: pd.DataFrame, header: str, segments=None) -> None:
    if segments is not None:
        table = table[table["segment"].isin(segments)]
    table = table.assign(
        value=[
            f"{m:.4f} [{lo:.4f}, {hi:.4f}]"
            for m, lo, hi in zip(table["mean"], table["ci_low"], table["ci_high"], strict=True)
        ]
    )
    wide = table.pivot_table(
        index=["segment", "metric"], columns="policy", values="value", aggfunc="first"
    )[list(dict.fromkeys(table["policy"]))]
    print(header)
    with pd.option_context("display.width", 200, "display.max_colwidth", 40):
        print(wide.to_string())


def synthetic_inputs(args):
    """(scenario with derived proficiency, true resolution per agent) of the synthetic center."""
    truth, flags, evaluations = history(np.random.default_rng(args.seed))
    quality = agent_quality(evaluations, flags, by=("agent", "queue"))
    raw_error, shrunk_error = shrinkage_errors(args.seed)
    print(
        f"FCR estimates vs true resolution over 200 seeded histories of {N_AGENTS} agents "
        f"(15 to 600 contacts each): RMSE raw {raw_error:.4f}, shrunk toward the team mean "
        f"(beta-binomial empirical Bayes) {shrunk_error:.4f}"
    )
    proficiency = derive_proficiency(quality)
    with tempfile.TemporaryDirectory() as folder:
        base, copy = Path(folder) / "bench.yaml", Path(folder) / "bench.quality.yaml"
        center = scenario_dict(args.contacts_per_day, args.proficiency_slope)
        base.write_text(yaml.safe_dump(center, sort_keys=False))
        write_proficiency(base, proficiency, copy, a_team_segments=["gold"])
        scenario = load_scenario(copy)
    a_team = proficiency[proficiency["a_team"]]["agent"]
    print(
        f"A-team (top quarter by derived proficiency): {', '.join(a_team)}; its true mean "
        f"resolution {truth[a_team].mean():.3f} vs all agents {truth.mean():.3f}"
    )
    return scenario, truth.to_dict()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=20)
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--contacts-per-day", type=float, default=3000.0)
    parser.add_argument(
        "--proficiency-slope",
        type=float,
        default=0.0,
        help="handle time x (1 + slope (1 - proficiency)): 0 = every agent equally fast",
    )
    parser.add_argument("--bank", action="store_true", help="the Anonymous Bank (real data)")
    args = parser.parse_args()

    if args.bank:
        scenario, resolution = bank_inputs()
        segment, queue, start, segments = "2", "PS", dt.date(2024, 1, 7), ["2", "all"]
    else:
        scenario, resolution = synthetic_inputs(args)
        segment, queue, start, segments = "gold", None, dt.date(2024, 1, 1), None
    with timed() as timing:
        table = compare_routing(
            scenario,
            resolution,
            segment=segment,
            queue=queue,
            replications=args.replications,
            seed=args.seed,
            start=start,
            days=args.days,
        )
    elapsed = timing.wall_s
    print_comparison(
        table,
        f"\n{args.replications} replications x {args.days} day(s), 95% CI over replications "
        f"(differences paired, same seeds); {elapsed:.1f} s",
        segments,
    )


if __name__ == "__main__":
    main()

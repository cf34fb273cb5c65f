"""Multi-skill benchmark: today's per-queue plan vs the skill-set plan, both simulated.

The center: three voice queues (a, b, c; 300 s handle time, patience 600 s, 80% within 20 s
and at most 5% abandoned; b and c 80% within 30 s) open Mon-Fri 08:00-20:00 on a 30-minute
grid, 70 agents of whom 40% are cross-trained on two queues (14 each on a, b, c; 14 on a+b; 14
on b+c), a flexible contract (0-40 h a week, 4- or 8-hour shifts, two days off).

- per-queue plan: :func:`openwfm.staffing.requirements` per queue, scheduled as today (each
  agent counts toward one queue per interval);
- skill-set plan: the same per-queue requirements plus one per set of queues that shares agents
  (:func:`openwfm.staffing.skill_set_requirements`, corrected with the simulator by
  :func:`openwfm.staffing.correct_by_simulation`), scheduled so that an agent counts toward
  every queue and pool it can serve (``schedule_agents(..., pool_requirements=...)``).

Both schedules are simulated against the forecast (``--replications``, the same seed). Printed:
paid hours, the simulated week's service level and abandonment per queue against the targets,
and the agreement of the coverage verdict with the simulated verdict over queue x 2-hour
blocks (:mod:`openwfm.plan.verdicts`: a block within its 95% interval of the target counts as
met, as the plan's findings have it; "mean alone" judges the simulated mean only). Targets:
the skill-set plan meets every target with at least 10% fewer paid hours; agreement at least
90%.

Run: .venv/bin/python bench/multiskill.py [--time-limit 20] [--replications 10] [--seed 0]
[--rounds 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import pandas as pd

from openwfm.model import Scenario
from openwfm.plan.verdicts import agreement, verdict_table
from openwfm.schedule import schedule_agents
from openwfm.sim import simulate
from openwfm.sim.arrivals import demand_rates
from openwfm.staffing import (
    correct_by_simulation,
    raise_where_missed,
    requirements,
    skill_set_requirements,
)

START = dt.date(2024, 3, 4)  # a Monday
DAYS = 5


def center() -> Scenario:
    def queue(name: str, per_day: float, within_s: float, peaks: dict) -> dict:
        return {
            "name": name,
            "aht_s": 300,
            "patience_s": 600,
            "target": {"service_level": 0.8, "within_s": within_s, "max_abandon": 0.05},
            "demand": {"contacts_per_day": per_day, "peaks": peaks},
        }

    groups = [("a", {"a": 1.0}), ("b", {"b": 1.0}), ("c", {"c": 1.0})]
    groups += [("ab", {"a": 1.0, "b": 1.0}), ("bc", {"b": 1.0, "c": 1.0})]
    return Scenario.model_validate(
        {
            "name": "multiskill bench",
            "shrinkage": 0.0,
            "grid": {
                "interval_minutes": 30,
                "opening_hours": {
                    d: {"open": "08:00", "close": "20:00"}
                    for d in ("mon", "tue", "wed", "thu", "fri")
                },
            },
            "queues": [
                queue("a", 900, 20, {"10:00": 1.0, "15:00": 0.7}),
                queue("b", 700, 30, {"11:00": 1.0, "17:00": 0.8}),
                queue("c", 500, 30, {"09:30": 0.8, "14:00": 1.0}),
            ],
            "contracts": [
                {
                    "name": "flex",
                    "min_minutes_per_week": 0,
                    "max_minutes_per_week": 2400,
                    "shift_lengths_min": [240, 480],
                    "min_days_off_per_week": 2,
                }
            ],
            "agent_groups": [
                {"name": name, "count": 14, "skills": skills, "contract": "flex"}
                for name, skills in groups
            ],
            "schedule": {
                "shift_templates": [
                    {
                        "name": "day",
                        "earliest_start": "08:00",
                        "latest_start": "16:00",
                        "start_increment_min": 30,
                        "lengths_min": [240, 480],
                    }
                ],
            },
        }
    )


def forecast_table(scenario: Scenario) -> pd.DataFrame:
    rates = demand_rates(scenario, START, DAYS)
    rates = rates.groupby(["interval_start", "queue"], as_index=False)["arrival_rate_per_s"].sum()
    return rates.assign(forecast=rates["arrival_rate_per_s"] * scenario.grid.interval_s)[
        ["interval_start", "queue", "forecast"]
    ]


def schedule_and_simulate(scenario, per_queue, rates, args, pools=None, seed=0):
    started = time.perf_counter()
    result = schedule_agents(
        scenario,
        per_queue,
        start=START,
        time_limit_s=args.time_limit,
        deterministic=True,
        seed=args.seed,
        pool_requirements=pools,
    )
    solve_s = time.perf_counter() - started
    simulated = simulate(
        scenario,
        rates=rates,
        schedule=result.activities,
        start=START,
        days=DAYS,
        replications=args.replications,
        seed=seed,
    )
    return result, simulated, solve_s


def targets_met(scenario: Scenario, simulated) -> tuple[bool, list[str]]:
    summary = simulated.summary
    summary = summary[(summary["queue"] != "all") & (summary["segment"].astype(str) == "all")]
    met, levels = True, []
    for row in summary.itertuples(index=False):
        target = scenario.queue(str(row.queue)).target
        met &= bool(
            row.service_level >= target.service_level and row.abandon_rate <= target.max_abandon
        )
        levels.append(f"{row.queue} SL {row.service_level:.3f} ab {row.abandon_rate:.3f}")
    return met, levels


def run_plan(label, scenario, per_queue, rates, args, pools=None) -> dict:
    """Schedule; with pools, the simulation-based loop (``--rounds``, its own seeds) raises the
    requirements of a queue and of its pools where the simulated schedule misses; then the
    final schedule is simulated with ``--seed`` and judged."""
    added = 0
    for round_index in range(args.rounds if pools is not None else 0):
        result, simulated, _ = schedule_and_simulate(
            scenario, per_queue, rates, args, pools, seed=args.seed + 1000 + round_index
        )
        per_queue, more = raise_where_missed(per_queue, simulated.intervals, scenario)
        pools, more_pooled = raise_where_missed(pools, simulated.intervals, scenario)
        added += more + more_pooled
        if not more:
            break
    result, simulated, solve_s = schedule_and_simulate(
        scenario, per_queue, rates, args, pools, seed=args.seed
    )
    met, levels = targets_met(scenario, simulated)
    needs = per_queue if pools is None else pd.concat([per_queue, pools], ignore_index=True)
    verdicts = verdict_table(scenario, result.coverage, simulated.intervals, requirements=needs)
    strict = verdict_table(
        scenario, result.coverage, simulated.intervals, requirements=needs, within_ci=False
    )
    hours = float(result.shifts["paid_minutes"].sum()) / 60.0
    print(
        f"{label:10s} paid h {hours:7.1f}  targets met {'yes' if met else 'NO '}  "
        f"agreement {agreement(verdicts):.1%} of {len(verdicts)} queue x 2-h blocks "
        f"(mean alone: {agreement(strict):.1%})  "
        f"(schedule {result.status}, {solve_s:.0f} s; loop added {added} agent-intervals)"
    )
    print(f"{'':10s} {'; '.join(levels)}")
    disagree = strict[~strict["agree"]]
    for why, count in disagree["why"].value_counts().items():
        print(f"{'':10s} differ (mean alone): {count} x {why}")
    return {"hours": hours, "met": met, "agreement": agreement(verdicts)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=20.0)
    parser.add_argument("--replications", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    scenario = center()
    forecast = forecast_table(scenario)
    rates = forecast.assign(arrival_rate_per_s=forecast["forecast"] / scenario.grid.interval_s)[
        ["interval_start", "queue", "arrival_rate_per_s"]
    ]
    per_queue = requirements(forecast, scenario)
    started = time.perf_counter()
    pools = skill_set_requirements(forecast, scenario, per_queue=per_queue)
    corrected = correct_by_simulation(pools, per_queue, scenario, seed=args.seed)
    print(
        f"pools {sorted(set(pools['pool']))}: {int(corrected['correction'].sum())} agent-intervals "
        f"added by simulation ({time.perf_counter() - started:.0f} s); per-queue requirement "
        f"{int(per_queue['required_agents'].sum())} agent-intervals"
    )
    today = run_plan("per-queue", scenario, per_queue, rates, args)
    skill = run_plan("skill-set", scenario, per_queue, rates, args, pools=corrected)
    saving = 1 - skill["hours"] / today["hours"]
    print(
        f"skill-set plan: {saving:.1%} fewer paid hours (target >= 10%), every target met "
        f"{'yes' if skill['met'] else 'NO'}, agreement {skill['agreement']:.1%} (target >= 90%)"
    )


if __name__ == "__main__":
    main()

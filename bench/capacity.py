"""Capacity planning: optimality against an exact DP, the Anonymous Bank case, and speed.

1. Gans & Zhou (2002) style instances (random learning and turnover, stationary demand),
   solved exactly by dynamic programming; openwfm's hiring policy (``lookahead``: each class
   size now scored by this week's exact cost plus the expected cost of re-planning with the
   class optimiser from every staff state the week can end in), the optimiser's own first
   class without the look-ahead (``replan``, shortage priced on the staff's spread) and the
   plain average-behaviour LP (``plain_lp``, Gans & Zhou's heuristic) evaluated exactly on the
   same chain. Prints every instance, the costs and the gaps.
2. The Anonymous Bank: roster from the 1999 records, weekly forecast from the first half year
   (openwfm's long-term weekly forecast with Israeli holidays, or a table given with
   ``--forecast``; then statsforecast AutoETS on weekly totals as the peer), a plan for the
   second half; prints required vs the agents who really worked each week.
3. Speed: a 52-week plan with two scenarios on the example center.

Run: ``.venv/bin/python bench/capacity.py [--instances 12] [--periods 6] [--skip-bank] [--dp-only]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from _timing import timed

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT.parent / "shared" / "data" / "anonymous-bank" / "raw"


METHODS = ("lookahead", "replan", "plain_lp")


def optimality(instances: int, periods: int, seed: int) -> list[float]:
    """Prints each instance, the DP optimum and the exact expected cost and gap of each of
    openwfm's policies (``lookahead`` is openwfm's; see :func:`gans_zhou.openwfm_hires`)."""
    from openwfm.capacity import gans_zhou as gz

    rng = np.random.default_rng(seed)
    print(f"== optimality: {instances} instances, {periods} periods, seed {seed} ==")
    print(
        "  #  demand learn  q_trn  q_exp  mu_trn hire  short start    optimum"
        + "".join(f" {method:>10s}  gap%" for method in METHODS)
        + "  cpu s"
    )
    gaps: dict[str, list[float]] = {method: [] for method in METHODS}
    for number in range(instances):
        instance = gz.random_instance(rng, periods=periods)
        with timed() as timing:
            optimum, _ = gz.optimal_cost(instance)
            row = ""
            for method in METHODS:
                cost = gz.openwfm_policy_cost(instance, method)
                gaps[method].append(100 * (cost / optimum - 1))
                row += f" {cost:10.3f} {gaps[method][-1]:5.2f}"
        print(
            f"{number:3d}  {instance.demand:5.0f} {instance.learning:5.3f}  "
            f"{instance.trainee_turnover:5.3f}  {instance.turnover:5.3f}  "
            f"{instance.trainee_productivity:5.3f} {instance.hire_cost:5.2f} "
            f"{instance.shortage_cost:5.2f} {str(instance.start):7s} {optimum:10.3f}"
            f"{row} {timing.cpu_s:6.1f}",
            flush=True,
        )
    for method in METHODS:
        values = np.array(gaps[method])
        print(
            f"{method:>10s} gap: mean {values.mean():.2f}%, max {values.max():.2f}%, "
            f"<= 1% in {np.mean(values <= 1.0):.0%} of instances"
        )
    return gaps["lookahead"]


def bank_case(forecast_path: str | None, forecaster: str = "openwfm") -> None:
    from openwfm.capacity.case import case_summary, plan_from_records
    from openwfm.capacity.inputs import read_weekly_forecast
    from openwfm.data.readers import read_anonymous_bank
    from openwfm.scenario import load_scenario

    files = sorted(RAW.glob("*.txt"))
    if len(files) != 9:
        print(f"Anonymous Bank raw files missing under {RAW}; skipped")
        return
    calls = pd.concat([read_anonymous_bank(path) for path in files], ignore_index=True)
    scenario = load_scenario(ROOT / "examples" / "anonymous-bank.yaml")
    forecast = read_weekly_forecast(forecast_path) if forecast_path else None
    with timed() as timing:
        case = plan_from_records(
            calls,
            scenario,
            dt.date(1999, 7, 4),
            26,
            forecast=forecast,
            forecaster=forecaster,
            country="IL",
        )
    seconds = timing.wall_s
    print("\n== Anonymous Bank: plan from 1999-07-04 with the records before it ==")
    print(
        f"forecast: {case.forecast_method}; roster {len(case.roster)} agents seen, "
        f"{int(case.roster['exit_date'].isna().sum())} active; weekly attrition "
        f"{case.attrition_rate:.4f}; one head = {case.hours_per_head:.1f} required paid hours "
        f"a week (first half); plan in {seconds:.1f} s"
    )
    shown = case.weeks.copy()
    shown["week_start"] = shown["week_start"].dt.strftime("%Y-%m-%d")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(shown.round(1).to_string(index=False))
    summary = case_summary(case)
    print(
        f"full weeks with records: {summary['weeks_with_records']:.0f}; forecast WAPE "
        f"{summary['forecast_wape']:.1%}; required - worked heads: mean "
        f"{summary['heads_mean_error']:+.1f}, mean abs {summary['heads_mean_abs_error']:.1f} "
        f"({summary['heads_mape']:.1%})"
    )


def speed() -> None:
    from openwfm.capacity.inputs import check_roster, parse_plan
    from openwfm.capacity.planner import capacity_plan
    from openwfm.scenario import load_scenario

    scenario = load_scenario(ROOT / "examples" / "center.yaml")
    plan = parse_plan(
        "start: 2026-01-05\n"
        "attrition: [{max_weeks: 26, weekly_rate: 0.01}, {min_weeks: 26, weekly_rate: 0.004}]\n"
        "class_template: {training_weeks: 4, nesting: [{productivity: 0.6, aht_uplift: 0.3}],"
        " yield_training: 0.9, yield_nesting: 0.95}\n"
        "costs: {hire_per_start: 3000, wage_per_fte_week: 900, shortage_per_fte_week: 2500}\n"
        "scenarios: [{name: campaign, adjustments: [{queue: voice, start: 2026-03-01,"
        " end: 2026-03-31, value: 20}]}]\n"
    )
    weeks = pd.date_range("2026-01-05", periods=52, freq="7D")
    rows = [
        (week, queue, volume * (1 + 0.15 * np.sin(i / 8)), aht)
        for i, week in enumerate(weeks)
        for queue, volume, aht in (("voice", 6000, 300), ("chat", 1500, 480), ("email", 800, 600))
    ]
    weekly = pd.DataFrame(rows, columns=["week_start", "queue", "offered", "aht_s"])
    roster = check_roster(pd.DataFrame({"agent": range(50), "hire_date": "2024-03-04"}))
    with timed() as timing:
        result = capacity_plan(scenario, plan, weekly, roster=roster, weeks=52)
    seconds = timing.wall_s
    starts = result.classes.groupby("scenario")["starts"].sum().to_dict()
    print(
        f"\n== speed: 52 weeks x 2 scenarios, 3 queues, optimiser + band: {seconds:.1f} s; "
        f"class starts {starts}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=12)
    parser.add_argument("--periods", type=int, default=6)
    parser.add_argument("--seed", type=int, default=2002)
    parser.add_argument("--forecast", default=None, help="weekly forecast table for the bank")
    parser.add_argument("--skip-bank", action="store_true")
    parser.add_argument("--dp-only", action="store_true", help="run only the optimality section")
    args = parser.parse_args()
    optimality(args.instances, args.periods, args.seed)
    if args.dp_only:
        return 0
    if not args.skip_bank:
        bank_case(args.forecast)
        bank_case(None, forecaster="autoets")
    speed()
    return 0


if __name__ == "__main__":
    sys.exit(main())

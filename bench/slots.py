"""Slot-roster benchmark: time to a proven optimum with ``openwfm.schedule.schedule_slots``.

Instance A (issue 14's): 14 days, 8 agents, one shift type (08:00, 8 h), a cover of 5 per day
with under-weight 100 and over-weight 1, and 20 weighted on/off requests (weights 1-10, random
agents and days, seeded). Contract: 1,920-2,400 paid minutes a week, 2 days off a week, at most
5 days in a row, working and day-off stretches of at least 2 (soft), 11 h rest. Each seed
runs twice: with a wall-clock limit (2 CP-SAT workers) and with a deterministic budget
(``determ.``: one worker, the same roster on any machine; the limit counts CP-SAT work).
Printed per run: status (OPTIMAL = proven), objective, bound, gap, wall seconds, hard
violations found by the independent checker and its cost of the roster. The acceptance is a
proven optimum in under 10 s.

Instance B (scale): 28 days, 30 agents, 3 shift types (early, late, night; unpopular late and
night shared fairly), two contracts, forbidden late->early, fixed days off, 60 requests.

No peer is run: the field's open tools (pyworkforce) plan anonymous shift counts, not named
rosters against a cover per slot.

Run: .venv/bin/python bench/slots.py [--seeds 5] [--time-limit 10] [--skip-b]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random

import pandas as pd

from _timing import timed
from openwfm.model import (
    Agent,
    Contract,
    DayRule,
    Queue,
    Scenario,
    ScheduleSettings,
    ShiftRequest,
    ShiftTemplate,
)
from openwfm.schedule import check_slot_roster, schedule_slots, slot_cover_cost

START = dt.date(2026, 3, 2)  # a Monday


def fixed(name: str, start: str, length_min: int = 480, unpopular: bool = False) -> ShiftTemplate:
    return ShiftTemplate(
        name=name,
        earliest_start=start,
        latest_start=start,
        lengths_min=[length_min],
        unpopular=unpopular,
    )


def instance_a(seed: int) -> tuple[Scenario, pd.DataFrame]:
    rng = random.Random(seed)
    contract = Contract(
        name="full_time",
        min_minutes_per_week=1920,
        max_minutes_per_week=2400,
        shift_lengths_min=[480],
        min_days_off_per_week=2,
        max_consecutive_days=5,
        min_consecutive_days=2,
        min_consecutive_days_off=2,
        min_rest_between_shifts_min=660,
    )
    requests = [
        ShiftRequest(
            agent=f"agent-{rng.randint(1, 8)}",
            date=START + dt.timedelta(days=rng.randrange(14)),
            wanted=rng.random() < 0.5,
            weight=rng.randint(1, 10),
        )
        for _ in range(20)
    ]
    scenario = Scenario(
        queues=[Queue(name="back_office", aht_s=600)],
        contracts=[contract],
        agents=[
            Agent(name=f"agent-{i}", skills={"back_office": 1.0}, contract="full_time")
            for i in range(1, 9)
        ],
        schedule=ScheduleSettings(shift_templates=[fixed("day", "08:00")], requests=requests),
    )
    slots = pd.DataFrame(
        {
            "date": [str(START + dt.timedelta(days=d)) for d in range(14)],
            "shift": "day",
            "required": 5,
            "under_weight": 100,
            "over_weight": 1,
        }
    )
    return scenario, slots


def instance_b(seed: int) -> tuple[Scenario, pd.DataFrame]:
    rng = random.Random(seed)
    types = [
        fixed("early", "06:00"),
        fixed("late", "14:00", unpopular=True),
        fixed("night", "22:00", 600, unpopular=True),
    ]
    contracts = [
        Contract(
            name="full_time",
            min_minutes_per_week=1920,
            max_minutes_per_week=2400,
            shift_lengths_min=[480, 600],
            min_days_off_per_week=2,
            max_consecutive_days=5,
            min_consecutive_days=2,
            min_consecutive_days_off=2,
            max_working_weekends=3,
            max_shifts_per_horizon_by_type={"night": 6},
        ),
        Contract(
            name="part_time",
            min_minutes_per_week=960,
            max_minutes_per_week=1500,
            shift_lengths_min=[480, 600],
            min_days_off_per_week=3,
            max_consecutive_days=4,
            max_shifts_per_horizon_by_type={"night": 3},
        ),
    ]
    agents = [
        Agent(
            name=f"agent-{i}",
            skills={"back_office": 1.0},
            contract="full_time" if i <= 22 else "part_time",
            team=f"team-{i % 3}",
        )
        for i in range(1, 31)
    ]
    requests = [
        ShiftRequest(
            agent=f"agent-{rng.randint(1, 30)}",
            date=START + dt.timedelta(days=rng.randrange(28)),
            shift=rng.choice([None, "early", "late"]),
            wanted=rng.random() < 0.4,
            weight=rng.randint(1, 10),
        )
        for _ in range(60)
    ]
    scenario = Scenario(
        queues=[Queue(name="back_office", aht_s=600)],
        contracts=contracts,
        agents=agents,
        schedule=ScheduleSettings(
            shift_templates=types,
            requests=requests,
            forbidden_successions=[("late", "early"), ("night", "early"), ("night", "late")],
            fixed_days_off=[DayRule(agent="team-0", weekday="wed")],
        ),
    )
    rows = []
    for d in range(28):
        weekend = (START + dt.timedelta(days=d)).weekday() >= 5
        for name, need in (("early", 6), ("late", 5), ("night", 2)):
            rows.append(
                (
                    str(START + dt.timedelta(days=d)),
                    name,
                    need - (2 if weekend and name != "night" else 0),
                    100,
                    1,
                )
            )
    return scenario, pd.DataFrame(
        rows, columns=["date", "shift", "required", "under_weight", "over_weight"]
    )


def run(
    label: str,
    scenario: Scenario,
    slots: pd.DataFrame,
    time_limit_s: float,
    deterministic: bool = False,
) -> None:
    with timed() as timing:
        result = schedule_slots(
            scenario, slots, time_limit_s=time_limit_s, deterministic=deterministic
        )
    found = check_slot_roster(result.shifts, scenario, slots)
    cost = slot_cover_cost(result.shifts, slots) + found["penalty"].sum()
    print(
        f"{label:<22} {result.status:<9} objective {result.objective:9.2f}  bound "
        f"{result.bound:9.2f}  gap {result.gap:6.2%}  {timing.wall_s:6.2f} s  shifts "
        f"{len(result.shifts):4d}  hard violations {int(found['hard'].sum())}  "
        f"checker cost {cost:9.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--skip-b", action="store_true")
    args = parser.parse_args()
    print("A: 14 days, 8 agents, 1 shift type, cover 5/day (100/1), 20 requests")
    for seed in range(args.seeds):
        run(f"A seed {seed}", *instance_a(seed), args.time_limit)
        run(f"A seed {seed} determ.", *instance_a(seed), args.time_limit, deterministic=True)
    if not args.skip_b:
        print("B: 28 days, 30 agents, 3 shift types, 2 contracts, 60 requests")
        run("B seed 0", *instance_b(0), max(args.time_limit, 60.0))


if __name__ == "__main__":
    main()

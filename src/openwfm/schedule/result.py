"""What a schedule run returns, and how it is read from a solved model: shifts with their
breaks, the activity per agent and interval, coverage against the requirement, and the
rules' penalties by name."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from openwfm.schedule.rules import RULES
from openwfm.schedule.shiftmodel import SCALE, ShiftModel
from openwfm.schedule.templates import Horizon

SHIFT_COLUMNS = [
    "agent",
    "team",
    "contract",
    "date",
    "shift_type",
    "shift_start",
    "shift_end",
    "paid_minutes",
    "breaks",
]
RULE_COLUMNS = ["rule", "hard", "weight", "unit", "instances", "violated", "violation", "penalty"]
VIOLATION_COLUMNS = ["rule", "subject", "period", "violation", "unit", "penalty"]


@dataclass
class ScheduleResult:
    """Everything a schedule run returns. Tables are pandas DataFrames:

    - ``shifts``: agent, team, contract, date, shift_type, shift_start, shift_end,
      paid_minutes, breaks (``HH:MM-HH:MM name`` joined by ``; ``);
    - ``activities``: agent, interval_start, activity (a queue, or a break's name);
    - ``coverage``: interval_start, queue, required, scheduled, under, over;
    - ``rules``: per rule: hard, weight, unit, instances, violated, violation, penalty;
    - ``violations``: one row per violated soft-rule instance.

    ``objective`` and ``bound`` are in cost units (one missing agent-interval = under_weight),
    ``gap = (objective - bound) / objective``.
    """

    shifts: pd.DataFrame
    activities: pd.DataFrame
    coverage: pd.DataFrame
    rules: pd.DataFrame
    violations: pd.DataFrame
    status: str
    objective: float
    bound: float
    gap: float
    wall_time_s: float
    weighting: str
    horizon: Horizon
    coverage_cost: float = 0.0
    rule_cost: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def uncovered(self) -> pd.DataFrame:
        """Coverage rows with fewer agents than required."""
        return self.coverage[self.coverage["under"] > 0].reset_index(drop=True)


def _clock(h: Horizon, slot: int) -> str:
    return h.moment(slot).strftime("%H:%M")


def _member_names(model: ShiftModel, value) -> list[dict[tuple[int, int], list[str]]]:
    """Per unit, the names working each (day, option): its agents, or pool members ``pool#i``."""
    h = model.horizon
    member_names: list[dict[tuple[int, int], list[str]]] = []
    for u in range(len(model.units)):
        assigned: dict[tuple[int, int], list[str]] = defaultdict(list)
        pool = model.unit_pool[u]
        if pool is None:
            for a in model.unit_members[u]:
                for d in range(h.days):
                    for o in model.day_options[a, d]:
                        if value(model.shift_var[a, d, o.index]):
                            assigned[d, o.index].append(model.agents[a].name)
        else:
            for (d, oi), (var,) in model.unit_counts[u].items():
                taken = sum(len(v) for (dd, _), v in assigned.items() if dd == d)
                for i in range(int(value(var))):
                    assigned[d, oi].append(f"{pool.name}#{taken + i + 1}")
        member_names.append(assigned)
    return member_names


def _breaks_of(model: ShiftModel, value, u: int, d: int, oi: int, names: list[str]):
    """Each name's breaks on the option: (start slot, break name, length), from the flows."""
    o = model.options[oi]
    base = d * model.horizon.slots_per_day + o.start
    breaks_of: dict[str, list[tuple[int, str, int]]] = defaultdict(list)
    for b_index, b in enumerate(o.breaks):
        queue = []
        for k, var in model.break_flows[u][d, oi, b_index]:
            queue.extend([k] * int(value(var)))
        for name, k in zip(names, queue, strict=False):
            breaks_of[name].append((base + k, b.name, b.length))
    return breaks_of


def _shifts(model: ShiftModel, value, activity: dict) -> tuple[list[dict], dict]:
    """Shift rows, breaks written into ``activity``, and per unit the names at work per slot."""
    h, spd = model.horizon, model.horizon.slots_per_day
    agent_info = {a.name: a for a in model.agents}
    shift_rows = []
    working: dict[int, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    for u, assigned in enumerate(_member_names(model, value)):
        for (d, oi), names in sorted(assigned.items()):
            o = model.options[oi]
            base = d * spd + o.start
            breaks_of = _breaks_of(model, value, u, d, oi, names)
            for name in names:
                on_break = set()
                texts = []
                for start, bname, length in sorted(breaks_of[name]):
                    texts.append(f"{_clock(h, start)}-{_clock(h, start + length)} {bname}")
                    for t in range(start, start + length):
                        on_break.add(t)
                        activity[name, t] = bname
                for t in range(base, base + o.length):
                    if t not in on_break:
                        working[u][t].append(name)
                agent = agent_info.get(name)
                shift_rows.append(
                    {
                        "agent": name,
                        "team": agent.team if agent else model.unit_pool[u].name,
                        "contract": agent.contract.name if agent else None,
                        "date": h.date(d),
                        "shift_type": o.shift_type,
                        "shift_start": h.moment(base),
                        "shift_end": h.moment(base + o.length),
                        "paid_minutes": o.paid_minutes,
                        "breaks": "; ".join(texts),
                    }
                )
    return shift_rows, working


def _skills(model: ShiftModel, value, working, activity: dict) -> None:
    """The queue each working name takes each slot, from the skill flows, into ``activity``."""
    agent_info = {a.name: a for a in model.agents}
    for u, (_, skills, _) in enumerate(model.units):
        for t, names in working[u].items():
            names = sorted(names)
            if len(skills) <= 1 or model.scope.count_every_skill:
                label = skills[0] if len(skills) == 1 else None
                for name in names:
                    agent = agent_info.get(name)
                    fallback = skills[0] if skills else "idle"
                    activity[name, t] = label or (agent.skills[0] if agent else fallback)
                continue
            i = 0
            for q in skills:
                var = model.skill_flows.get((u, t, q))
                for _ in range(int(value(var)) if var is not None else 0):
                    if i < len(names):
                        activity[names[i], t] = q
                        i += 1


def _rule_tables(model: ShiftModel, value) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """Per rule its instances, violations and penalty; one row per violated soft instance;
    the total rule penalty (cost units)."""
    soft_rows = []
    penalty: dict[str, float] = defaultdict(float)
    violated: dict[str, int] = defaultdict(int)
    amount: dict[str, float] = defaultdict(float)
    for name, subject, period, slack, weight in model.soft:
        v = int(value(slack))
        if v > 0:
            soft_rows.append(
                {
                    "rule": name,
                    "subject": subject,
                    "period": period,
                    "violation": v,
                    "unit": RULES[name].unit,
                    "penalty": v * weight,
                }
            )
            penalty[name] += v * weight
            violated[name] += 1
            amount[name] += v
    rules = pd.DataFrame(
        [
            {
                "rule": name,
                "hard": model.rules[name].hard,
                "weight": model.rules[name].weight,
                "unit": RULES[name].unit,
                "instances": model.instances[name],
                "violated": violated[name],
                "violation": amount[name],
                "penalty": penalty[name],
            }
            for name in RULES
            if model.instances[name]
        ],
        columns=RULE_COLUMNS,
    )
    violations = pd.DataFrame(soft_rows, columns=VIOLATION_COLUMNS)
    return rules, violations, float(sum(penalty.values()))


def gap_of(objective: float, bound: float) -> float:
    """Relative gap ``(objective - bound) / objective`` (0 when the objective is 0)."""
    return 0.0 if objective <= 1e-9 else max(objective - bound, 0.0) / abs(objective)


def extract(model: ShiftModel, solver, status: str, wall: float, weighting: str) -> ScheduleResult:
    """The result tables of a solved model (``solver``: anything with ``value``,
    ``objective_value`` and ``best_objective_bound``)."""
    h = model.horizon
    value = solver.value
    activity: dict[tuple[str, int], str] = {}
    shift_rows, working = _shifts(model, value, activity)
    _skills(model, value, working, activity)
    activities = pd.DataFrame(
        [
            {"agent": name, "interval_start": h.moment(t), "activity": act}
            for (name, t), act in sorted(activity.items(), key=lambda kv: (kv[0][0], kv[0][1]))
        ],
        columns=["agent", "interval_start", "activity"],
    )
    shifts = pd.DataFrame(shift_rows, columns=SHIFT_COLUMNS).sort_values(
        ["agent", "date"], ignore_index=True
    )
    skills = {a.name: a.skills for a in model.agents} if model.scope.count_every_skill else None
    coverage = coverage_table(activities, model.required, h, skills)
    rules, violations, rule_cost = _rule_tables(model, value)
    objective = solver.objective_value / SCALE + model.offset
    bound = solver.best_objective_bound / SCALE + model.offset
    return ScheduleResult(
        shifts=shifts,
        activities=activities,
        coverage=coverage,
        rules=rules,
        violations=violations,
        status=status,
        objective=objective,
        bound=bound,
        gap=gap_of(objective, bound),
        wall_time_s=wall,
        weighting=weighting,
        horizon=h,
        coverage_cost=objective - rule_cost,
        rule_cost=rule_cost,
    )


def coverage_table(
    activities: pd.DataFrame,
    required: dict[str, np.ndarray],
    horizon: Horizon,
    skills: dict[str, tuple[str, ...]] | None = None,
) -> pd.DataFrame:
    """Agents on each queue per interval (from the activity table) against the requirement.

    ``skills`` (agent -> requirement keys it serves; skill sets): an agent at work counts
    toward every key among its skills (each queue and each pool of queues it can serve)."""
    counts: dict[tuple[str, int], int] = defaultdict(int)
    for name, start, act in zip(
        activities["agent"], activities["interval_start"], activities["activity"], strict=True
    ):
        if skills is not None and name in skills and act in skills[name]:
            for key in skills[name]:
                if key in required:
                    counts[key, horizon.slot_of(start)] += 1
        elif act in required:
            counts[act, horizon.slot_of(start)] += 1
    rows = []
    last = horizon.days * horizon.slots_per_day
    for q, array in required.items():
        slots = set(np.flatnonzero(array[:last]).tolist()) | {t for (qq, t) in counts if qq == q}
        for t in sorted(slots):
            r, c = int(array[t]), counts.get((q, t), 0)
            rows.append(
                {
                    "interval_start": horizon.moment(t),
                    "queue": q,
                    "required": r,
                    "scheduled": c,
                    "under": max(r - c, 0),
                    "over": max(c - r, 0),
                }
            )
    return pd.DataFrame(
        rows, columns=["interval_start", "queue", "required", "scheduled", "under", "over"]
    )


def merge_days(parts: list[ScheduleResult], horizon: Horizon, wall: float) -> ScheduleResult:
    """One result from independent day results: tables stacked, costs and bounds added."""

    def stack(name: str) -> pd.DataFrame:
        return pd.concat([getattr(p, name) for p in parts], ignore_index=True)

    objective = sum(p.objective for p in parts)
    bound = sum(p.bound for p in parts)
    rules = stack("rules")
    return ScheduleResult(
        shifts=stack("shifts"),
        activities=stack("activities"),
        coverage=stack("coverage"),
        rules=rules.groupby(["rule", "hard", "weight", "unit"], as_index=False).sum(),
        violations=stack("violations"),
        status="optimal" if all(p.status == "optimal" for p in parts) else "feasible",
        objective=objective,
        bound=bound,
        gap=0.0 if objective <= 1e-9 else max(objective - bound, 0.0) / objective,
        wall_time_s=wall,
        weighting=parts[0].weighting,
        horizon=horizon,
        coverage_cost=sum(p.coverage_cost for p in parts),
        rule_cost=sum(p.rule_cost for p in parts),
        notes=[f"solved as {len(parts)} independent days"],
    )

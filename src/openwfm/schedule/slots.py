"""Slot rosters: named agents on shift types per date, against a cover per slot.

Some teams plan by shift slots rather than intervals (back office, supervisors, field teams,
nurse-style rosters): "so many people on the early shift each day", each missing person
costing ``under_weight`` and each extra one ``over_weight``. :func:`schedule_slots` assigns
the scenario's agents to slots under every contract rule of the scenario (minutes per week and
horizon, days off, consecutive days, minimum stretches, rest, successions, weekends, fixed days
off, availability, requests, fairness, shifts of a type per week and per horizon) with OR-Tools
CP-SAT, one model-building function per rule family (:mod:`openwfm.schedule.slot_rules`), and
proves optimality where it can (``status == "OPTIMAL"``, ``gap == 0``). Every returned roster
passes the independent checker (:func:`openwfm.schedule.slot_check.check_slot_roster`).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

import pandas as pd

from openwfm.errors import InfeasibleError, ParameterError
from openwfm.model import Scenario
from openwfm.schedule import slot_rules
from openwfm.schedule.budget import cp_sat_solver, use_budget
from openwfm.schedule.rules import RULES, rule_settings
from openwfm.schedule.slot_input import (
    SlotHorizon,
    check_slot_requirements,
    check_type_limits,
    schedule_settings,
    slot_types,
)

# the objective's weights are scaled to integers for CP-SAT by the smallest power of ten (up to
# this one) that makes them whole; beyond, they are rounded at this scale
MAX_SCALE = 10_000
SHIFT_COLUMNS = [
    "agent",
    "date",
    "shift",
    "team",
    "contract",
    "shift_start",
    "shift_end",
    "paid_minutes",
]


@dataclass
class SlotRosterResult:
    """A slot roster. Tables (pandas DataFrames):

    - ``shifts``: agent, date, shift (the shift type), team, contract, shift_start, shift_end
      (local-naive timestamps), paid_minutes;
    - ``coverage``: date, shift, required, scheduled, under, over, under_weight, over_weight,
      cost (under x under_weight + over x over_weight);
    - ``rules``: per rule: hard, weight, unit, instances, violated, violation, penalty;
    - ``violations``: one row per violated soft-rule instance (rule, agent, period, amount,
      penalty).

    ``objective`` is the roster's cost (cover + soft rules, in the weights' unit), ``bound`` a
    proven lower bound on every roster's cost, ``gap = (objective - bound) / objective`` (0 when
    ``status`` is ``OPTIMAL``). ``checked`` holds what the independent checker
    (:func:`openwfm.schedule.slot_check.check_slot_roster`) found in the roster: soft
    violations only (a broken hard rule raises).
    """

    shifts: pd.DataFrame
    coverage: pd.DataFrame
    rules: pd.DataFrame
    violations: pd.DataFrame
    status: str
    objective: float
    bound: float
    gap: float
    wall_time_s: float
    start: dt.date
    days: int
    ignore_edge_stretches: bool
    notes: list[str] = field(default_factory=list)
    checked: pd.DataFrame | None = None  # the independent checker's findings (soft ones only)


def _scale(weights: list[float]) -> int:
    scale = 1
    while scale < MAX_SCALE and any(abs(w * scale - round(w * scale)) > 1e-9 for w in weights):
        scale *= 10
    return scale


def _build(scenario, slots, horizon, types, ignore_edges, diagnose=False, agents=None):
    settings = schedule_settings(scenario)
    m = slot_rules.SlotModel(
        agents=scenario.all_agents() if agents is None else agents,
        contracts={c.name: c for c in scenario.contracts},
        types=types,
        horizon=horizon,
        settings=settings,
        rules=rule_settings(settings),
        diagnose=diagnose,
    )
    slot_rules.add_shift_variables(m, slots)
    cover = slot_rules.add_coverage(m, slots)
    for family in (
        slot_rules.add_weekly_rules,
        slot_rules.add_horizon_rules,
        slot_rules.add_minute_cuts,
        slot_rules.add_max_consecutive_days,
        slot_rules.add_rest,
        slot_rules.add_forbidden_successions,
        slot_rules.add_working_weekends,
        slot_rules.add_fixed_days_off,
        slot_rules.add_availability,
        slot_rules.add_requests,
        slot_rules.add_fairness,
    ):
        family(m)
    slot_rules.add_min_stretches(m, ignore_edges)
    return m, cover


def _diagnose(scenario, slots, horizon, types, ignore_edges, time_limit_s) -> InfeasibleError:
    """Re-solve with one assumption literal per (hard rule, agent): a small set of them that
    cannot all hold names the contradiction."""
    m, _ = _build(scenario, slots, horizon, types, ignore_edges, diagnose=True)
    names = {literal.index: key for key, literal in m.literals.items()}
    m.model.add_assumptions(list(m.literals.values()))
    solver = cp_sat_solver(time_limit_s, 1, 0)
    solver.solve(m.model)
    core = [names[i] for i in solver.sufficient_assumptions_for_infeasibility() if i in names]
    if not core:
        return InfeasibleError(
            "the hard rules contradict each other (no small set found)", field="schedule.rules"
        )
    listed = ", ".join(f"{rule} [{agent}]" for rule, agent in sorted(core)[:8])
    return InfeasibleError(
        f"the hard rules contradict each other: {listed}; make one soft in schedule.rules "
        "or relax the contract",
        field="schedule.rules",
    )


def _shifts_table(m, solver) -> pd.DataFrame:
    rows = []
    for (a, d, t), var in m.x.items():
        if not solver.value(var):
            continue
        agent, slot_type, date = m.agents[a], m.types[t], m.horizon.date(d)
        midnight = pd.Timestamp(date)
        rows.append(
            {
                "agent": agent.name,
                "date": date,
                "shift": t,
                "team": agent.team,
                "contract": m.contract(a).name,
                "shift_start": midnight + pd.Timedelta(minutes=slot_type.start_min),
                "shift_end": midnight + pd.Timedelta(minutes=slot_type.end_min),
                "paid_minutes": slot_type.paid_minutes,
            }
        )
    table = pd.DataFrame(rows, columns=SHIFT_COLUMNS)
    return table.sort_values(["agent", "date"], ignore_index=True)


def _coverage_table(slots, cover, solver) -> pd.DataFrame:
    table = slots[["date", "shift", "required", "under_weight", "over_weight"]].copy()
    under = [
        solver.value(cover[int(d), t][0]) for d, t in zip(slots["day"], slots["shift"], strict=True)
    ]
    over = [
        solver.value(cover[int(d), t][1]) for d, t in zip(slots["day"], slots["shift"], strict=True)
    ]
    table["under"], table["over"] = under, over
    table["scheduled"] = table["required"] - table["under"] + table["over"]
    table["cost"] = table["under"] * table["under_weight"] + table["over"] * table["over_weight"]
    order = [
        "date",
        "shift",
        "required",
        "scheduled",
        "under",
        "over",
        "under_weight",
        "over_weight",
        "cost",
    ]
    return table[order].sort_values(["date", "shift"], ignore_index=True)


def _rules_tables(m, solver) -> tuple[pd.DataFrame, pd.DataFrame]:
    violations = [
        {
            "rule": term.rule,
            "agent": term.agent,
            "period": term.period,
            "amount": solver.value(term.slack),
            "penalty": solver.value(term.slack) * term.weight,
        }
        for term in m.soft
        if solver.value(term.slack)
    ]
    found = pd.DataFrame(violations, columns=["rule", "agent", "period", "amount", "penalty"])
    rows = []
    for name, info in RULES.items():
        mine = found[found["rule"] == name]
        rows.append(
            {
                "rule": name,
                "hard": m.rules[name].hard,
                "weight": m.rules[name].weight,
                "unit": info.unit,
                "instances": m.instances.get(name, 0),
                "violated": len(mine),
                "violation": float(mine["amount"].sum()),
                "penalty": float(mine["penalty"].sum()),
            }
        )
    return pd.DataFrame(rows), found


def _status_name(solver, status) -> str:
    return solver.status_name(status)


def schedule_slots(
    scenario: Scenario,
    slot_requirements: pd.DataFrame,
    time_limit_s: float = 60.0,
    *,
    start: dt.date | None = None,
    days: int | None = None,
    ignore_edge_stretches: bool | None = None,
    deterministic: bool = False,
    num_workers: int = 2,
    seed: int = 0,
    source: str = "slot_requirements",
) -> SlotRosterResult:
    """Assign the scenario's agents to slots (shift type x date) at least cost.

    ``slot_requirements``: columns ``date, shift, required, under_weight, over_weight`` (one
    row per slot; agents work listed slots only). The shift types are the scenario's
    ``schedule.shift_templates`` with a fixed start and one length. The horizon runs from
    ``start`` (default ``schedule.start_date``, else the first slot date) for ``days`` days
    (default: through the last slot date); weeks count from its first day.
    ``ignore_edge_stretches`` (default ``schedule.ignore_edge_stretches``, true) exempts
    stretches touching the first or last day from the minimum-stretch rules.
    ``time_limit_s``: wall seconds, or CP-SAT deterministic seconds with one worker when
    ``deterministic`` (the same roster on any machine). ``source`` names the table in errors.

    Raises DataError (bad slot row: file, line, row, field), ScenarioError (a shift type
    without a fixed start and length), InfeasibleError (hard rules that contradict, named),
    ScheduleTimeoutError (no roster within the limit).
    """
    if not time_limit_s > 0:
        raise ParameterError(
            f"expected a positive time limit, got {time_limit_s}", field="time_limit_s"
        )
    settings = schedule_settings(scenario)
    slots, horizon = check_slot_requirements(slot_requirements, scenario, source, start, days)
    types = slot_types(scenario, set(slots["shift"]))
    check_type_limits(scenario, {t.name for t in settings.shift_templates})
    ignore = (
        settings.ignore_edge_stretches
        if ignore_edge_stretches is None
        else bool(ignore_edge_stretches)
    )
    started = time.perf_counter()
    with use_budget(deterministic):
        m, cover, solver, status, scale = _solve(
            scenario, slots, horizon, types, ignore, time_limit_s, num_workers, seed
        )
    result = _result(
        m, cover, slots, solver, status, scale, horizon, ignore, time.perf_counter() - started
    )
    return _checked(result, scenario, slot_requirements)


def _solve(scenario, slots, horizon, types, ignore, time_limit_s, num_workers, seed):
    """(model, cover, solver, status, scale): the full model started from the agent-by-agent
    construction (:mod:`openwfm.schedule.slot_construct`, up to a fifth of the time)."""
    from openwfm.schedule.budget import clock_now
    from openwfm.schedule.slot_construct import construct_roster

    began = clock_now()

    def build(table, agents=None):
        return _build(scenario, table, horizon, types, ignore, agents=agents)

    hint = construct_roster(build, slots, scenario.all_agents(), time_limit_s / 5, _scale)
    m, cover = build(slots)
    scale = _scale([w for w, _ in m.cost])
    m.model.minimize(sum(round(w * scale) * var for w, var in m.cost if round(w * scale)))
    for key, value in (hint or {}).items():
        m.model.add_hint(m.x[key], value)
    left = max(time_limit_s - (clock_now() - began), time_limit_s / 10)
    solver = cp_sat_solver(left, num_workers, seed)
    if solver.parameters.num_workers == 1:
        # one search (deterministic budgets): the full LP relaxation proves these optima
        # 5-20x faster than the default (14 days x 8 agents: 0.2 vs 2.6 deterministic s)
        solver.parameters.linearization_level = 2
    status = _status_name(solver, solver.solve(m.model))
    if status == "INFEASIBLE":
        raise _diagnose(scenario, slots, horizon, types, ignore, time_limit_s)
    if status not in ("OPTIMAL", "FEASIBLE"):
        from openwfm.schedule import ScheduleTimeoutError

        raise ScheduleTimeoutError(
            f"no roster found within {time_limit_s:g} s (solver status {status}); "
            "raise the time limit",
            field="time_limit_s",
        )
    return m, cover, solver, status, scale


def _checked(result: SlotRosterResult, scenario, slot_requirements) -> SlotRosterResult:
    """The roster re-checked by the independent checker (``result.checked``); a hard rule
    broken there is a bug of the model, raised rather than returned."""
    from openwfm.schedule.slot_check import check_slot_roster

    result.checked = check_slot_roster(
        result.shifts,
        scenario,
        slot_requirements,
        start=result.start,
        days=result.days,
        ignore_edge_stretches=result.ignore_edge_stretches,
    )
    broken = result.checked[result.checked["hard"]]
    if not broken.empty:
        first = broken.iloc[0]
        raise RuntimeError(
            f"internal error: the slot roster breaks hard rule {first['rule']} for "
            f"{first['agent']} ({first['period']}: {first['detail']}); please report it"
        )
    return result


def _result(m, cover, slots, solver, status, scale, horizon: SlotHorizon, ignore, wall):
    coverage = _coverage_table(slots, cover, solver)
    rules, violations = _rules_tables(m, solver)
    objective = float(coverage["cost"].sum() + violations["penalty"].sum())
    bound = min(solver.best_objective_bound / scale, objective)
    if status == "OPTIMAL":
        bound = objective
    gap = (objective - bound) / objective if objective > 1e-12 else 0.0
    notes = []
    if scale >= MAX_SCALE and any(abs(w * scale - round(w * scale)) > 1e-9 for w, _ in m.cost):
        notes.append(f"weights rounded to 1/{scale} for the solver")
    return SlotRosterResult(
        shifts=_shifts_table(m, solver),
        coverage=coverage,
        rules=rules,
        violations=violations,
        status=status,
        objective=objective,
        bound=bound,
        gap=max(gap, 0.0),
        wall_time_s=wall,
        start=horizon.start,
        days=horizon.days,
        ignore_edge_stretches=ignore,
        notes=notes,
    )

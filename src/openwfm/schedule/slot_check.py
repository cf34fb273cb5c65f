"""An independent checker for slot rosters: every rule re-evaluated from the shifts table.

It does not look at the CP-SAT model: it reads the rows ``agent, date, shift`` of a roster, the
scenario and the slot table, and recomputes minutes, days, stretches, rests, weekends, requests
and cover from them with plain loops. Each violation is one row: ``rule, agent, period, hard,
amount, penalty, detail`` (``penalty = amount x weight`` for a soft rule, 0 for a hard one);
``rule == "structure"`` marks a broken invariant (an unknown agent or slot, two shifts on one
day, overlapping shifts, a length the contract does not allow). A roster obeys every hard rule
when no row has ``hard`` true; its cost is :func:`slot_cover_cost` plus the penalties.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable

import pandas as pd

from openwfm.model import WEEKDAYS, Scenario, clock_seconds
from openwfm.schedule.rules import OPEN_CONTRACT, rule_settings, stretch_is_judged

COLUMNS = ["rule", "agent", "period", "hard", "amount", "penalty", "detail"]


def _applies(rule, agent, date: dt.date) -> bool:
    if rule.agent not in ("*", agent.name, agent.team):
        return False
    if rule.date is not None and rule.date != date:
        return False
    return rule.weekday is None or WEEKDAYS[date.weekday()] == rule.weekday


class _Report:
    """Collects violations with their hardness and penalty from the rule settings."""

    def __init__(self, settings) -> None:
        self.rules = rule_settings(settings)
        self.rows: list[dict] = []

    def add(self, rule, agent, period, amount=1.0, detail="", weight=None) -> None:
        if amount <= 0:
            return
        hard = rule == "structure" or self.rules[rule].hard
        chosen = 0.0 if hard else (self.rules[rule].weight if weight is None else weight)
        self.rows.append(
            {
                "rule": rule,
                "agent": agent,
                "period": period,
                "hard": hard,
                "amount": float(amount),
                "penalty": float(amount) * chosen,
                "detail": detail,
            }
        )


class _Roster:
    """One agent's roster: shift type per day index, with the type's times from the scenario."""

    def __init__(self, agent, contract, worked: dict[int, str], templates) -> None:
        self.agent, self.contract, self.worked = agent, contract, worked
        self.templates = templates

    def start(self, day: int) -> int:
        return day * 1440 + clock_seconds(self.templates[self.worked[day]].earliest_start) // 60

    def end(self, day: int) -> int:
        return self.start(day) + self.templates[self.worked[day]].lengths_min[0]

    def paid(self, day: int) -> int:
        template = self.templates[self.worked[day]]
        length = template.lengths_min[0]
        unpaid = sum(
            b.length_min for b in template.breaks if not b.paid and b.min_shift_length_min <= length
        )
        return length - unpaid


def _weekly(r: _Roster, days: int, out: _Report) -> None:
    c, name = r.contract, r.agent.name
    for first in range(0, days, 7):
        week = range(first, min(first + 7, days))
        period, full = f"week {first // 7 + 1}", len(week) == 7
        minutes = sum(r.paid(d) for d in week if d in r.worked)
        count = sum(d in r.worked for d in week)
        if full:
            out.add(
                "min_minutes_per_week",
                name,
                period,
                c.min_minutes_per_week - minutes,
                f"{minutes} min",
            )
            out.add(
                "days_off_per_week",
                name,
                period,
                c.min_days_off_per_week - (7 - count),
                f"{7 - count} days off",
            )
        if c.max_minutes_per_week < 7 * 1440:
            out.add(
                "max_minutes_per_week",
                name,
                period,
                minutes - c.max_minutes_per_week,
                f"{minutes} min",
            )
        for shift, limit in c.max_shifts_per_week_by_type.items():
            n = sum(1 for d in week if r.worked.get(d) == shift)
            out.add("max_shifts_of_type", name, f"{period} {shift}", n - limit, f"{n} {shift}")


def _horizon(r: _Roster, out: _Report) -> None:
    c, name = r.contract, r.agent.name
    total = sum(r.paid(d) for d in r.worked)
    if c.min_minutes_per_horizon:
        out.add(
            "min_minutes_per_horizon",
            name,
            "horizon",
            c.min_minutes_per_horizon - total,
            f"{total} min",
        )
    if c.max_minutes_per_horizon is not None:
        out.add(
            "max_minutes_per_horizon",
            name,
            "horizon",
            total - c.max_minutes_per_horizon,
            f"{total} min",
        )
    for shift, limit in c.max_shifts_per_horizon_by_type.items():
        n = sum(1 for t in r.worked.values() if t == shift)
        out.add(
            "max_shifts_of_type_per_horizon", name, f"horizon {shift}", n - limit, f"{n} {shift}"
        )


def _runs(flags: list[bool], value: bool) -> list[tuple[int, int]]:
    """(first day, length) of each maximal run of ``value``."""
    runs, d = [], 0
    while d < len(flags):
        if flags[d] != value:
            d += 1
            continue
        e = d
        while e < len(flags) and flags[e] == value:
            e += 1
        runs.append((d, e - d))
        d = e
    return runs


def _stretches(r: _Roster, start: dt.date, days: int, ignore_edges: bool, out: _Report) -> None:
    flags = [d in r.worked for d in range(days)]
    run = 0
    for d, flag in enumerate(flags):
        run = run + 1 if flag else 0
        if run > r.contract.max_consecutive_days:
            out.add(
                "max_consecutive_days",
                r.agent.name,
                str(start + dt.timedelta(days=d)),
                1,
                f"{run} days in a row",
            )
    for rule, value, minimum in (
        ("min_consecutive_days", True, r.contract.min_consecutive_days),
        ("min_consecutive_days_off", False, r.contract.min_consecutive_days_off),
    ):
        for first, length in _runs(flags, value):
            if length < minimum and stretch_is_judged(first, length, days, ignore_edges):
                out.add(
                    rule,
                    r.agent.name,
                    str(start + dt.timedelta(days=first)),
                    1,
                    f"stretch of {length} days",
                )


def _rest(r: _Roster, start: dt.date, out: _Report) -> None:
    days = sorted(r.worked)
    for i, d in enumerate(days):
        for d2 in days[i + 1 :]:
            gap = r.start(d2) - r.end(d)
            period = f"{start + dt.timedelta(days=d)} {r.worked[d]}>{r.worked[d2]}"
            if gap < 0:
                out.add("structure", r.agent.name, period, 1, "shifts overlap")
            elif gap < r.contract.min_rest_between_shifts_min:
                out.add("min_rest", r.agent.name, period, 1, f"rest {gap} min")


def _successions_weekends(r: _Roster, start: dt.date, days: int, settings, out: _Report) -> None:
    for first, second in settings.forbidden_successions:
        for d in range(days - 1):
            if r.worked.get(d) == first and r.worked.get(d + 1) == second:
                out.add(
                    "forbidden_succession",
                    r.agent.name,
                    f"{start + dt.timedelta(days=d)} {first}>{second}",
                    1,
                )
    limit = r.contract.max_working_weekends
    if limit is not None:
        weekends = {
            tuple((start + dt.timedelta(days=d)).isocalendar())[:2]
            for d in r.worked
            if (start + dt.timedelta(days=d)).weekday() >= 5
        }
        out.add(
            "max_working_weekends",
            r.agent.name,
            "horizon",
            len(weekends) - limit,
            f"{len(weekends)} weekends",
        )


def _outside_window(rule, template) -> bool:
    begin = clock_seconds(template.earliest_start) // 60
    end = begin + template.lengths_min[0]
    low, high = clock_seconds(rule.available_from) // 60, clock_seconds(rule.available_until) // 60
    return not rule.available or begin < low or end > high


def _day_rules(r: _Roster, start: dt.date, days: int, settings, out: _Report) -> None:
    name = r.agent.name
    for d in range(days):
        date = start + dt.timedelta(days=d)
        shift = r.worked.get(d)
        for rule in settings.fixed_days_off:
            if shift is not None and _applies(rule, r.agent, date):
                out.add("fixed_days_off", name, str(date), 1, "works on a fixed day off")
        for index, rule in enumerate(settings.availability):
            if (
                shift is not None
                and _applies(rule, r.agent, date)
                and _outside_window(rule, r.templates[shift])
            ):
                out.add("availability", name, f"{date} rule {index}", 1, shift)
        base = out.rules["shift_request"].weight
        for index, rule in enumerate(settings.requests):
            if not _applies(rule, r.agent, date):
                continue
            hit = shift is not None and (rule.shift is None or shift == rule.shift)
            if hit != rule.wanted:
                out.add(
                    "shift_request",
                    name,
                    f"{date} request {index}",
                    1,
                    f"{'want' if rule.wanted else 'avoid'} {rule.shift or 'work'}",
                    weight=base * rule.weight,
                )


def _fairness(rosters: list[_Roster], start: dt.date, settings, out: _Report) -> None:
    unpopular = {t.name for t in settings.shift_templates if t.unpopular}
    groups: dict[str, list[_Roster]] = defaultdict(list)
    for r in rosters:
        groups[r.contract.name].append(r)
    for contract, members in groups.items():
        if len(members) < 2:
            continue
        weekend = [
            sum((start + dt.timedelta(days=d)).weekday() >= 5 for d in r.worked) for r in members
        ]
        late = [sum(t in unpopular for t in r.worked.values()) for r in members]
        out.add(
            "fair_weekends",
            contract,
            "horizon",
            max(weekend) - min(weekend) - settings.weekend_spread,
            "weekend days",
        )
        if unpopular:
            out.add(
                "fair_unpopular",
                contract,
                "horizon",
                max(late) - min(late) - settings.unpopular_spread,
                "unpopular shifts",
            )


def _structure(shifts, scenario, slots, start, days, out: _Report) -> dict[str, dict[int, str]]:
    """Each agent's shift per day index; structural violations reported."""
    agents = {a.name: a for a in scenario.all_agents()}
    contracts = {c.name: c for c in scenario.contracts}
    listed = {(d, s) for d, s in zip(slots["date"], slots["shift"], strict=True)}
    lengths = {t.name: t.lengths_min[0] for t in scenario.schedule.shift_templates}
    worked: dict[str, dict[int, str]] = defaultdict(dict)
    for row in shifts.itertuples(index=False):
        date = pd.Timestamp(row.date).date()
        day = (date - start).days
        agent = agents.get(row.agent)
        if agent is None or not 0 <= day < days or (date, row.shift) not in listed:
            out.add("structure", str(row.agent), str(date), 1, f"no such agent or slot {row.shift}")
            continue
        if day in worked[row.agent]:
            out.add("structure", row.agent, str(date), 1, "two shifts on one day")
        worked[row.agent][day] = row.shift
        contract = contracts.get(agent.contract, OPEN_CONTRACT) if agent.contract else OPEN_CONTRACT
        length = lengths[row.shift]
        if contract.shift_lengths_min and length not in contract.shift_lengths_min:
            out.add("structure", row.agent, str(date), 1, f"length {length} min not allowed")
    return worked


def slot_roster_checker(
    scenario: Scenario,
    slot_requirements: pd.DataFrame,
    *,
    start: dt.date | None = None,
    days: int | None = None,
    ignore_edge_stretches: bool | None = None,
) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """A checker for many rosters of one instance: the slot table and horizon are read once
    (as in ``schedule_slots``); the returned function maps a roster to its violations, as
    :func:`check_slot_roster` does."""
    from openwfm.schedule.slot_input import check_slot_requirements, schedule_settings

    settings = schedule_settings(scenario)
    slots, horizon = check_slot_requirements(slot_requirements, scenario, "slots", start, days)
    ignore = (
        settings.ignore_edge_stretches
        if ignore_edge_stretches is None
        else bool(ignore_edge_stretches)
    )
    templates = {t.name: t for t in settings.shift_templates}
    contracts = {c.name: c for c in scenario.contracts}

    def check(shifts: pd.DataFrame) -> pd.DataFrame:
        out = _Report(settings)
        worked = _structure(shifts, scenario, slots, horizon.start, horizon.days, out)
        rosters = []
        for agent in scenario.all_agents():
            contract = (
                contracts.get(agent.contract, OPEN_CONTRACT) if agent.contract else OPEN_CONTRACT
            )
            r = _Roster(agent, contract, worked.get(agent.name, {}), templates)
            rosters.append(r)
            _weekly(r, horizon.days, out)
            _horizon(r, out)
            _stretches(r, horizon.start, horizon.days, ignore, out)
            _rest(r, horizon.start, out)
            _successions_weekends(r, horizon.start, horizon.days, settings, out)
            _day_rules(r, horizon.start, horizon.days, settings, out)
        _fairness(rosters, horizon.start, settings, out)
        return pd.DataFrame(out.rows, columns=COLUMNS).astype({"hard": bool})

    return check


def check_slot_roster(
    shifts: pd.DataFrame,
    scenario: Scenario,
    slot_requirements: pd.DataFrame,
    *,
    start: dt.date | None = None,
    days: int | None = None,
    ignore_edge_stretches: bool | None = None,
) -> pd.DataFrame:
    """Every violation of the roster ``shifts`` (columns ``agent, date, shift``) over the
    horizon the slot table and ``start`` / ``days`` give (as in ``schedule_slots``): rule,
    agent, period, hard, amount, penalty, detail."""
    check = slot_roster_checker(
        scenario,
        slot_requirements,
        start=start,
        days=days,
        ignore_edge_stretches=ignore_edge_stretches,
    )
    return check(shifts)


def slot_cover_cost(shifts: pd.DataFrame, slot_requirements: pd.DataFrame) -> float:
    """Cover cost of a roster: per slot, missing agents x under_weight + extra agents x
    over_weight, counted from the shifts table."""
    counts = defaultdict(int)
    for row in shifts.itertuples(index=False):
        counts[str(pd.Timestamp(row.date).date()), str(row.shift)] += 1
    total = 0.0
    for row in slot_requirements.itertuples(index=False):
        have = counts[str(pd.Timestamp(row.date).date()), str(row.shift).strip()]
        need = int(float(row.required))
        total += max(need - have, 0) * float(row.under_weight)
        total += max(have - need, 0) * float(row.over_weight)
    return total

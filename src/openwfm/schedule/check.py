"""An independent checker: every rule re-evaluated from the schedule table itself.

It does not look at the CP-SAT model: it reads the shifts (dates, clock times, break texts) and
the activities, and recomputes minutes, days, rests, weekends, requests from them. Property tests
run it on every schedule the solver returns. One function per rule, named after the rule family
that adds it to the model (:mod:`openwfm.schedule.rule_families`: ``add_x`` is checked by
``check_x``); ``structure`` rows are broken invariants of the table itself.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

import pandas as pd

from openwfm.errors import ScenarioError
from openwfm.model import (
    WEEKDAYS,
    Contract,
    DayRule,
    RuleSetting,
    Scenario,
    ScheduleSettings,
    clock_seconds,
)
from openwfm.schedule.rules import OPEN_CONTRACT, rule_settings, stretch_is_judged

COLUMNS = ["rule", "agent", "period", "hard", "detail"]


def _matches(rule: DayRule, agent_name: str, team: str | None, date: dt.date) -> bool:
    if rule.agent not in ("*", agent_name, team):
        return False
    if rule.date is not None and rule.date != date:
        return False
    return rule.weekday is None or WEEKDAYS[date.weekday()] == rule.weekday


def _minutes_after_midnight(moment) -> int:
    return moment.hour * 60 + moment.minute


@dataclass
class Findings:
    """The violations found so far (rows of the checker's table)."""

    rules: dict[str, RuleSetting]
    rows: list[dict] = field(default_factory=list)

    def report(self, rule: str, agent: str, period: str, detail: str, hard: bool | None = None):
        """One violation; ``hard`` defaults to the rule's setting."""
        is_hard = self.rules[rule].hard if hard is None else hard
        self.rows.append(
            {"rule": rule, "agent": agent, "period": period, "hard": is_hard, "detail": detail}
        )

    def structure(self, agent: str, period: str, detail: str) -> None:
        """A broken invariant of the table (always hard)."""
        self.report("structure", agent, period, detail, True)


@dataclass
class AgentDays:
    """One agent's schedule as the checker reads it: the shift row per date worked, the
    horizon's days and whether each is worked."""

    name: str
    team: str | None
    contract: Contract
    worked: dict[dt.date, object]
    day_list: list[dt.date]

    @property
    def works(self) -> list[bool]:
        return [d in self.worked for d in self.day_list]


# --------------------------------------------------------------------------- structure


def check_shift_structure(
    found: Findings, settings: ScheduleSettings, contract: Contract, name: str, row, step: int
) -> None:
    """The shift's start on its template's grid, its length allowed, its breaks as the
    template says (count, kind, window, no overlap) and its paid minutes adding up."""
    date = pd.Timestamp(row.date).date()
    begin, end = pd.Timestamp(row.shift_start), pd.Timestamp(row.shift_end)
    template = {t.name: t for t in settings.shift_templates}.get(row.shift_type)
    length = int((end - begin).total_seconds() // 60)
    if template is None:
        found.structure(name, str(date), f"unknown shift type {row.shift_type}")
        return
    clock = _minutes_after_midnight(begin)
    first = clock_seconds(template.earliest_start) // 60
    last = clock_seconds(template.latest_start) // 60
    if not (first <= clock <= last and (clock - first) % template.start_increment_min == 0):
        found.structure(name, str(date), f"start {begin:%H:%M} off template")
    if length not in template.lengths_min or (
        contract.shift_lengths_min and length not in contract.shift_lengths_min
    ):
        found.structure(name, str(date), f"length {length} min not allowed")
    unpaid = check_breaks(found, template, name, row, clock, length, step)
    if int(row.paid_minutes) != length - unpaid:
        found.structure(name, str(date), "paid minutes do not add up")


def check_breaks(found: Findings, template, name: str, row, clock: int, length: int, step: int):
    """The shift's breaks against its template's; returns the unpaid break minutes."""
    date = pd.Timestamp(row.date).date()
    expected = [b for b in template.breaks if b.min_shift_length_min <= length]
    taken = [t for t in str(row.breaks or "").split("; ") if t]
    unpaid = 0
    if len(taken) != len(expected):
        found.structure(name, str(date), f"{len(taken)} breaks, need {len(expected)}")
    intervals = []
    for text, spec in zip(
        sorted(taken), sorted(expected, key=lambda b: b.earliest_after_start_min), strict=False
    ):
        span, _, label = text.partition(" ")
        b0, b1 = (clock_seconds(p) // 60 for p in span.split("-"))
        offset = (b0 - clock) % 1440
        blen = (b1 - b0) % 1440
        intervals.append((offset, offset + blen))
        if label != spec.name or blen != -(-spec.length_min // step) * step:
            found.structure(name, str(date), f"break {text} is not a {spec.name}")
        if not (spec.earliest_after_start_min <= offset <= spec.latest_after_start_min):
            found.structure(name, str(date), f"break {text} outside its window")
        if not spec.paid:
            unpaid += blen
    intervals.sort()
    for a, b in zip(intervals, intervals[1:], strict=False):
        if a[1] > b[0]:
            found.structure(name, str(date), "breaks overlap")
    return unpaid


def _read_shifts(
    found: Findings, settings, contract, name: str, rows, start, end_date, step
) -> dict[dt.date, object]:
    """The agent's shift per date (checking one a day, inside the horizon, each well formed)."""
    worked: dict[dt.date, object] = {}
    for row in rows:
        date = pd.Timestamp(row.date).date()
        begin = pd.Timestamp(row.shift_start)
        if date in worked:
            found.structure(name, str(date), "two shifts on one day")
        worked[date] = row
        if begin.date() != date or not (start <= date < end_date):
            found.structure(name, str(date), "shift starts off its date/horizon")
        check_shift_structure(found, settings, contract, name, row, step)
    return worked


# --------------------------------------------------------------------------- day rules


def check_availability(found: Findings, settings: ScheduleSettings, agent: AgentDays) -> None:
    """``availability``: every shift inside the agent's available hours that day."""
    for index, rule in enumerate(settings.availability):
        for date, row in agent.worked.items():
            if not _matches(rule, agent.name, agent.team, date):
                continue
            begin, end = pd.Timestamp(row.shift_start), pd.Timestamp(row.shift_end)
            midnight = dt.datetime.combine(date, dt.time())
            lo = midnight + dt.timedelta(seconds=clock_seconds(rule.available_from))
            hi = midnight + dt.timedelta(seconds=clock_seconds(rule.available_until))
            if not rule.available or begin < lo or end > hi:
                found.report(
                    "availability",
                    agent.name,
                    str(date),
                    f"rule {index}: {begin:%H:%M}-{end:%H:%M}",
                )


def check_fixed_days_off(found: Findings, settings: ScheduleSettings, agent: AgentDays) -> None:
    """``fixed_days_off``: no work on the agent's fixed days off."""
    for rule in settings.fixed_days_off:
        for date in agent.worked:
            if _matches(rule, agent.name, agent.team, date):
                found.report("fixed_days_off", agent.name, str(date), "works on a fixed day off")


def check_shift_requests(found: Findings, settings: ScheduleSettings, agent: AgentDays) -> None:
    """``shift_request``: wanted shifts (or work) present, unwanted ones absent."""
    for rule in settings.requests:
        for date in agent.day_list:
            if not _matches(rule, agent.name, agent.team, date):
                continue
            row = agent.worked.get(date)
            hit = row is not None and (rule.shift is None or row.shift_type == rule.shift)
            if hit != rule.wanted:
                found.report(
                    "shift_request",
                    agent.name,
                    str(date),
                    f"request {rule.shift or 'work'} not met",
                )


# --------------------------------------------------------------------------- weekly and horizon


def check_weekly_minutes(found: Findings, agent: AgentDays, week: int, days: list[dt.date]):
    """``min_minutes_per_week`` (full weeks) and ``max_minutes_per_week``; returns the
    week's paid minutes."""
    minutes = sum(int(agent.worked[d].paid_minutes) for d in days if d in agent.worked)
    if len(days) == 7 and minutes < agent.contract.min_minutes_per_week:
        found.report("min_minutes_per_week", agent.name, f"week {week + 1}", f"{minutes} min")
    if minutes > agent.contract.max_minutes_per_week:
        found.report("max_minutes_per_week", agent.name, f"week {week + 1}", f"{minutes} min")
    return minutes


def check_days_off_per_week(found: Findings, agent: AgentDays, week: int, days: list[dt.date]):
    """``days_off_per_week``: enough days off in each full week."""
    count = sum(d in agent.worked for d in days)
    if len(days) == 7 and 7 - count < agent.contract.min_days_off_per_week:
        found.report("days_off_per_week", agent.name, f"week {week + 1}", f"{7 - count} days off")


def check_max_shifts_of_type(found: Findings, agent: AgentDays, week: int, days: list[dt.date]):
    """``max_shifts_of_type``: at most n shifts of a type a week."""
    worked = agent.worked
    for shift_type, limit in agent.contract.max_shifts_per_week_by_type.items():
        n = sum(1 for d in days if d in worked and worked[d].shift_type == shift_type)
        if n > limit:
            found.report("max_shifts_of_type", agent.name, f"week {week + 1}", f"{n} {shift_type}")


def check_horizon_minutes(found: Findings, agent: AgentDays, total: int) -> None:
    """``min_minutes_per_horizon`` and ``max_minutes_per_horizon`` (``total`` paid minutes)."""
    contract = agent.contract
    if contract.min_minutes_per_horizon and total < contract.min_minutes_per_horizon:
        found.report("min_minutes_per_horizon", agent.name, "horizon", f"{total} min")
    if contract.max_minutes_per_horizon is not None and total > contract.max_minutes_per_horizon:
        found.report("max_minutes_per_horizon", agent.name, "horizon", f"{total} min")


def check_max_shifts_of_type_per_horizon(found: Findings, agent: AgentDays) -> None:
    """``max_shifts_of_type_per_horizon``: at most n shifts of a type in the horizon."""
    for shift_type, limit in agent.contract.max_shifts_per_horizon_by_type.items():
        n = sum(1 for row in agent.worked.values() if row.shift_type == shift_type)
        if n > limit:
            found.report(
                "max_shifts_of_type_per_horizon", agent.name, "horizon", f"{n} {shift_type}"
            )


def check_max_consecutive_days(found: Findings, agent: AgentDays) -> None:
    """``max_consecutive_days``: each day that makes a run too long."""
    run = 0
    for i, flag in enumerate(agent.works):
        run = run + 1 if flag else 0
        if run > agent.contract.max_consecutive_days:
            found.report(
                "max_consecutive_days", agent.name, str(agent.day_list[i]), f"{run} days in a row"
            )


def _check_stretches(
    found: Findings, agent: AgentDays, value: bool, limit: int, rule: str, ignore_edges: bool
):
    """Maximal stretches of ``value`` shorter than ``limit`` that the rule judges (strictly
    inside the horizon; touching its edge too unless ``ignore_edges``; never the whole)."""
    works, days = agent.works, len(agent.day_list)
    i = 0
    while i < days:
        if works[i] != value:
            i += 1
            continue
        j = i
        while j < days and works[j] == value:
            j += 1
        if j - i < limit and stretch_is_judged(i, j - i, days, ignore_edges):
            found.report(rule, agent.name, str(agent.day_list[i]), f"stretch of {j - i} days")
        i = j


def check_min_consecutive_days(found: Findings, agent: AgentDays, ignore_edges: bool) -> None:
    """``min_consecutive_days``: no (judged) working stretch shorter than n."""
    limit = agent.contract.min_consecutive_days
    _check_stretches(found, agent, True, limit, "min_consecutive_days", ignore_edges)


def check_min_consecutive_days_off(found: Findings, agent: AgentDays, ignore_edges: bool) -> None:
    """``min_consecutive_days_off``: no (judged) day-off stretch shorter than n."""
    limit = agent.contract.min_consecutive_days_off
    _check_stretches(found, agent, False, limit, "min_consecutive_days_off", ignore_edges)


def check_rest(found: Findings, agent: AgentDays) -> None:
    """No overlap (structure) and ``min_rest`` between consecutive shifts."""
    ordered = [agent.worked[d] for d in agent.day_list if d in agent.worked]
    for a, b in zip(ordered, ordered[1:], strict=False):
        rest = (pd.Timestamp(b.shift_start) - pd.Timestamp(a.shift_end)).total_seconds() / 60
        date = str(pd.Timestamp(a.date).date())
        if rest < 0:
            found.structure(agent.name, date, "shifts overlap")
        elif rest < agent.contract.min_rest_between_shifts_min:
            found.report("min_rest", agent.name, date, f"rest {rest:g} min")


def check_forbidden_successions(found: Findings, settings: ScheduleSettings, agent: AgentDays):
    """``forbidden_succession``: type A one day, then B the next."""
    worked = agent.worked
    for first, second in settings.forbidden_successions:
        for d in agent.day_list[:-1]:
            nxt = d + dt.timedelta(days=1)
            if d in worked and nxt in worked:
                if worked[d].shift_type == first and worked[nxt].shift_type == second:
                    found.report(
                        "forbidden_succession", agent.name, str(d), f"{first} then {second}"
                    )


def check_max_working_weekends(found: Findings, agent: AgentDays) -> None:
    """``max_working_weekends``: at most n (ISO) weekends with work."""
    if agent.contract.max_working_weekends is None:
        return
    weekends = {
        tuple(d.isocalendar())[:2] for d in agent.day_list if d.weekday() >= 5 and d in agent.worked
    }
    if len(weekends) > agent.contract.max_working_weekends:
        found.report("max_working_weekends", agent.name, "horizon", f"{len(weekends)} weekends")


def check_agent_rules(found: Findings, settings: ScheduleSettings, agent: AgentDays) -> None:
    """Every per-agent rule, in the order the model adds them."""
    check_availability(found, settings, agent)
    check_fixed_days_off(found, settings, agent)
    check_shift_requests(found, settings, agent)
    total = 0
    for w in range(-(-len(agent.day_list) // 7)):
        week_days = agent.day_list[w * 7 : w * 7 + 7]
        total += check_weekly_minutes(found, agent, w, week_days)
        check_days_off_per_week(found, agent, w, week_days)
        check_max_shifts_of_type(found, agent, w, week_days)
    check_horizon_minutes(found, agent, total)
    check_max_shifts_of_type_per_horizon(found, agent)
    check_max_consecutive_days(found, agent)
    check_min_consecutive_days(found, agent, settings.ignore_edge_stretches)
    check_min_consecutive_days_off(found, agent, settings.ignore_edge_stretches)
    check_rest(found, agent)
    check_forbidden_successions(found, settings, agent)
    check_max_working_weekends(found, agent)


# --------------------------------------------------------------------------- across agents


def check_fairness(found: Findings, scenario: Scenario, by_agent: dict[str, list]) -> None:
    """``fair_weekends`` and ``fair_unpopular``: per contract, the spread of weekend days
    worked and of unpopular shifts taken."""
    settings = scenario.schedule
    contracts = {c.name: c for c in scenario.contracts}
    unpopular = {t.name for t in settings.shift_templates if t.unpopular}
    by_contract: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for name, agent in {a.name: a for a in scenario.all_agents()}.items():
        rows = by_agent.get(name, [])
        weekend = sum(1 for r in rows if pd.Timestamp(r.date).weekday() >= 5)
        late = sum(1 for r in rows if r.shift_type in unpopular)
        contract_name = (
            contracts[agent.contract].name if agent.contract in contracts else OPEN_CONTRACT.name
        )
        by_contract[contract_name].append((weekend, late))
    spreads = (
        ("fair_weekends", settings.weekend_spread),
        ("fair_unpopular", settings.unpopular_spread),
    )
    for contract_name, values in by_contract.items():
        if len(values) < 2:
            continue
        for k, (rule_name, spread) in enumerate(spreads):
            if rule_name == "fair_unpopular" and not unpopular:
                continue
            counts = [v[k] for v in values]
            if max(counts) - min(counts) > spread:
                found.report(
                    rule_name, contract_name, "horizon", f"spread {max(counts) - min(counts)}"
                )


def check_activities(found: Findings, scenario: Scenario, activities: pd.DataFrame | None):
    """Every activity is one of the agent's skills or a break (structure)."""
    if activities is None or activities.empty:
        return
    agents = {a.name: a for a in scenario.all_agents()}
    names = {b.name for t in scenario.schedule.shift_templates for b in t.breaks}
    for row in activities.itertuples(index=False):
        agent = agents.get(row.agent)
        if agent is None:
            continue
        if row.activity not in agent.skills and row.activity not in names:
            found.structure(row.agent, str(row.interval_start), f"{row.activity} not a skill")


def check_schedule(
    shifts: pd.DataFrame,
    scenario: Scenario,
    start: dt.date,
    days: int,
    activities: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every violation found in the schedule: rule, agent, period, hard, detail.

    Rows with ``rule == 'structure'`` are broken invariants (two shifts a day, a start off its
    template, a break outside its window, an activity outside the agent's skills...). A valid
    schedule has no row with ``hard`` true. Raises ScenarioError when the scenario has no
    ``schedule`` section.
    """
    settings = scenario.schedule
    if settings is None:
        raise ScenarioError(
            "the scenario has no 'schedule' section to check against", field="schedule"
        )
    found = Findings(rule_settings(settings))
    contracts = {c.name: c for c in scenario.contracts}
    step = scenario.grid.interval_minutes
    end_date = start + dt.timedelta(days=days)
    day_list = [start + dt.timedelta(days=i) for i in range(days)]
    by_agent: dict[str, list] = defaultdict(list)
    for row in shifts.itertuples(index=False):
        by_agent[row.agent].append(row)
    for name, agent in {a.name: a for a in scenario.all_agents()}.items():
        contract = contracts.get(agent.contract, OPEN_CONTRACT) if agent.contract else OPEN_CONTRACT
        rows = sorted(by_agent.get(name, []), key=lambda r: pd.Timestamp(r.shift_start))
        worked = _read_shifts(found, settings, contract, name, rows, start, end_date, step)
        check_agent_rules(found, settings, AgentDays(name, agent.team, contract, worked, day_list))
    check_fairness(found, scenario, by_agent)
    check_activities(found, scenario, activities)
    table = pd.DataFrame(found.rows, columns=COLUMNS)
    return table.astype({"hard": bool})

"""An independent checker: every rule re-evaluated from the schedule table itself.

It does not look at the CP-SAT model: it reads the shifts (dates, clock times, break texts) and
the activities, and recomputes minutes, days, rests, weekends, requests from them. Property tests
run it on every schedule the solver returns.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pandas as pd

from openwfm.model import WEEKDAYS, DayRule, Scenario, clock_seconds
from openwfm.schedule.rules import OPEN_CONTRACT, rule_settings


def _matches(rule: DayRule, agent_name: str, team: str | None, date: dt.date) -> bool:
    if rule.agent not in ("*", agent_name, team):
        return False
    if rule.date is not None and rule.date != date:
        return False
    return rule.weekday is None or WEEKDAYS[date.weekday()] == rule.weekday


def _minutes_after_midnight(moment) -> int:
    return moment.hour * 60 + moment.minute


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
    schedule has no row with ``hard`` true.
    """
    settings = scenario.schedule
    assert settings is not None
    rules = rule_settings(settings)
    contracts = {c.name: c for c in scenario.contracts}
    agents = {a.name: a for a in scenario.all_agents()}
    templates = {t.name: t for t in settings.shift_templates}
    step = scenario.grid.interval_minutes
    end_date = start + dt.timedelta(days=days)
    found: list[dict] = []

    def report(rule: str, agent: str, period: str, detail: str, hard: bool | None = None):
        is_hard = rules[rule].hard if hard is None else hard
        found.append(
            {"rule": rule, "agent": agent, "period": period, "hard": is_hard, "detail": detail}
        )

    by_agent: dict[str, list] = defaultdict(list)
    for row in shifts.itertuples(index=False):
        by_agent[row.agent].append(row)
    for name, agent in agents.items():
        contract = contracts.get(agent.contract, OPEN_CONTRACT) if agent.contract else OPEN_CONTRACT
        rows = sorted(by_agent.get(name, []), key=lambda r: pd.Timestamp(r.shift_start))
        worked: dict[dt.date, object] = {}
        for row in rows:
            date = pd.Timestamp(row.date).date()
            begin, end = pd.Timestamp(row.shift_start), pd.Timestamp(row.shift_end)
            if date in worked:
                report("structure", name, str(date), "two shifts on one day", True)
            worked[date] = row
            if begin.date() != date or not (start <= date < end_date):
                report("structure", name, str(date), "shift starts off its date/horizon", True)
            template = templates.get(row.shift_type)
            length = int((end - begin).total_seconds() // 60)
            if template is None:
                report("structure", name, str(date), f"unknown shift type {row.shift_type}", True)
                continue
            clock = _minutes_after_midnight(begin)
            first = clock_seconds(template.earliest_start) // 60
            last = clock_seconds(template.latest_start) // 60
            if not (first <= clock <= last and (clock - first) % template.start_increment_min == 0):
                report("structure", name, str(date), f"start {begin:%H:%M} off template", True)
            if length not in template.lengths_min or (
                contract.shift_lengths_min and length not in contract.shift_lengths_min
            ):
                report("structure", name, str(date), f"length {length} min not allowed", True)
            expected = [b for b in template.breaks if b.min_shift_length_min <= length]
            taken = [t for t in str(row.breaks or "").split("; ") if t]
            unpaid = 0
            if len(taken) != len(expected):
                report(
                    "structure", name, str(date), f"{len(taken)} breaks, need {len(expected)}", True
                )
            intervals = []
            for text, spec in zip(
                sorted(taken),
                sorted(expected, key=lambda b: b.earliest_after_start_min),
                strict=False,
            ):
                span, _, label = text.partition(" ")
                b0, b1 = (clock_seconds(p) // 60 for p in span.split("-"))
                offset = (b0 - clock) % 1440
                blen = (b1 - b0) % 1440
                intervals.append((offset, offset + blen))
                if label != spec.name or blen != -(-spec.length_min // step) * step:
                    report("structure", name, str(date), f"break {text} is not a {spec.name}", True)
                if not (spec.earliest_after_start_min <= offset <= spec.latest_after_start_min):
                    report("structure", name, str(date), f"break {text} outside its window", True)
                if not spec.paid:
                    unpaid += blen
            intervals.sort()
            for a, b in zip(intervals, intervals[1:], strict=False):
                if a[1] > b[0]:
                    report("structure", name, str(date), "breaks overlap", True)
            if int(row.paid_minutes) != length - unpaid:
                report("structure", name, str(date), "paid minutes do not add up", True)
        # availability
        for index, rule in enumerate(settings.availability):
            for date, row in worked.items():
                if not _matches(rule, name, agent.team, date):
                    continue
                begin, end = pd.Timestamp(row.shift_start), pd.Timestamp(row.shift_end)
                lo = dt.datetime.combine(date, dt.time()) + dt.timedelta(
                    seconds=clock_seconds(rule.available_from)
                )
                hi = dt.datetime.combine(date, dt.time()) + dt.timedelta(
                    seconds=clock_seconds(rule.available_until)
                )
                if not rule.available or begin < lo or end > hi:
                    report(
                        "availability", name, str(date), f"rule {index}: {begin:%H:%M}-{end:%H:%M}"
                    )
        for rule in settings.fixed_days_off:
            for date in worked:
                if _matches(rule, name, agent.team, date):
                    report("fixed_days_off", name, str(date), "works on a fixed day off")
        for rule in settings.requests:
            for offset in range(days):
                date = start + dt.timedelta(days=offset)
                if not _matches(rule, name, agent.team, date):
                    continue
                row = worked.get(date)
                hit = row is not None and (rule.shift is None or row.shift_type == rule.shift)
                if hit != rule.wanted:
                    report(
                        "shift_request", name, str(date), f"request {rule.shift or 'work'} not met"
                    )
        # weekly and horizon rules
        day_list = [start + dt.timedelta(days=i) for i in range(days)]
        works = [d in worked for d in day_list]
        total = 0
        for w in range(-(-days // 7)):
            week_days = day_list[w * 7 : w * 7 + 7]
            minutes = sum(int(worked[d].paid_minutes) for d in week_days if d in worked)
            total += minutes
            count = sum(d in worked for d in week_days)
            full = len(week_days) == 7
            if full and minutes < contract.min_minutes_per_week:
                report("min_minutes_per_week", name, f"week {w + 1}", f"{minutes} min")
            if minutes > contract.max_minutes_per_week:
                report("max_minutes_per_week", name, f"week {w + 1}", f"{minutes} min")
            if full and 7 - count < contract.min_days_off_per_week:
                report("days_off_per_week", name, f"week {w + 1}", f"{7 - count} days off")
            for shift_type, limit in contract.max_shifts_per_week_by_type.items():
                n = sum(1 for d in week_days if d in worked and worked[d].shift_type == shift_type)
                if n > limit:
                    report("max_shifts_of_type", name, f"week {w + 1}", f"{n} {shift_type}")
        if contract.min_minutes_per_horizon and total < contract.min_minutes_per_horizon:
            report("min_minutes_per_horizon", name, "horizon", f"{total} min")
        if (
            contract.max_minutes_per_horizon is not None
            and total > contract.max_minutes_per_horizon
        ):
            report("max_minutes_per_horizon", name, "horizon", f"{total} min")
        run = 0
        for i, flag in enumerate(works):
            run = run + 1 if flag else 0
            if run > contract.max_consecutive_days:
                report("max_consecutive_days", name, str(day_list[i]), f"{run} days in a row")
        # stretches strictly inside the horizon (their length is known)
        for value, limit, rule_name in (
            (True, contract.min_consecutive_days, "min_consecutive_days"),
            (False, contract.min_consecutive_days_off, "min_consecutive_days_off"),
        ):
            i = 1
            while i < days:
                if works[i] == value and works[i - 1] != value:
                    j = i
                    while j < days and works[j] == value:
                        j += 1
                    if j < days and j - i < limit:
                        report(rule_name, name, str(day_list[i]), f"stretch of {j - i} days")
                    i = j
                else:
                    i += 1
        ordered = [worked[d] for d in day_list if d in worked]
        for a, b in zip(ordered, ordered[1:], strict=False):
            rest = (pd.Timestamp(b.shift_start) - pd.Timestamp(a.shift_end)).total_seconds() / 60
            if rest < 0:
                report("structure", name, str(pd.Timestamp(a.date).date()), "shifts overlap", True)
            elif rest < contract.min_rest_between_shifts_min:
                report("min_rest", name, str(pd.Timestamp(a.date).date()), f"rest {rest:g} min")
        for first, second in settings.forbidden_successions:
            for d in day_list[:-1]:
                nxt = d + dt.timedelta(days=1)
                if d in worked and nxt in worked:
                    if worked[d].shift_type == first and worked[nxt].shift_type == second:
                        report("forbidden_succession", name, str(d), f"{first} then {second}")
        if contract.max_working_weekends is not None:
            weekends = {
                tuple(d.isocalendar())[:2] for d in day_list if d.weekday() >= 5 and d in worked
            }
            if len(weekends) > contract.max_working_weekends:
                report("max_working_weekends", name, "horizon", f"{len(weekends)} weekends")
    # fairness per contract
    unpopular = {t.name for t in settings.shift_templates if t.unpopular}
    by_contract: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for name, agent in agents.items():
        rows = by_agent.get(name, [])
        weekend = sum(1 for r in rows if pd.Timestamp(r.date).weekday() >= 5)
        late = sum(1 for r in rows if r.shift_type in unpopular)
        contract_name = (
            contracts[agent.contract].name if agent.contract in contracts else OPEN_CONTRACT.name
        )
        by_contract[contract_name].append((weekend, late))
    for contract_name, values in by_contract.items():
        if len(values) < 2:
            continue
        for k, (rule_name, spread) in enumerate(
            (
                ("fair_weekends", settings.weekend_spread),
                ("fair_unpopular", settings.unpopular_spread),
            )
        ):
            if rule_name == "fair_unpopular" and not unpopular:
                continue
            counts = [v[k] for v in values]
            if max(counts) - min(counts) > spread:
                report(rule_name, contract_name, "horizon", f"spread {max(counts) - min(counts)}")
    if activities is not None and not activities.empty:
        for row in activities.itertuples(index=False):
            agent = agents.get(row.agent)
            if agent is None:
                continue
            names = {b.name for t in settings.shift_templates for b in t.breaks}
            if row.activity not in agent.skills and row.activity not in names:
                report(
                    "structure",
                    row.agent,
                    str(row.interval_start),
                    f"{row.activity} not a skill",
                    True,
                )
    table = pd.DataFrame(found, columns=["rule", "agent", "period", "hard", "detail"])
    return table.astype({"hard": bool})

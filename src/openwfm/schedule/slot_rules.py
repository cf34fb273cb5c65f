"""The CP-SAT model of a slot roster, one function per rule family.

Variables: one boolean ``x[agent, day, type]`` per agent and listed slot (the agent works that
shift type on that day). Each rule family below adds its constraints through
:meth:`SlotModel.constrain`, which makes an instance hard (a constraint) or soft (a slack
variable priced in the objective by the rule's weight) from the scenario's ``schedule.rules``,
and names it (rule, agent, period) so a violation is reported and a contradiction diagnosed.
Counting follows the independent checker (:mod:`openwfm.schedule.slot_check`): one unit per
minute, day, shift, stretch, pair or request, as the rule's ``unit`` says.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import pandas as pd

from openwfm.model import Agent, Contract, RuleSetting, ScheduleSettings
from openwfm.schedule.rules import OPEN_CONTRACT, stretch_is_judged
from openwfm.schedule.slot_input import SlotHorizon, SlotType, matches


@dataclass
class SoftTerm:
    """One soft rule instance: its slack (violation amount) costs ``weight`` per unit."""

    rule: str
    agent: str
    period: str
    slack: object
    weight: float


@dataclass
class SlotModel:
    """The model under construction: agents (with their contracts), slot types, horizon,
    rule settings; ``x`` holds the decision variables; ``cost`` the objective terms
    (weight, variable); ``diagnose`` turns every hard instance into an assumption literal."""

    agents: list[Agent]
    contracts: dict[str, Contract]
    types: dict[str, SlotType]
    horizon: SlotHorizon
    settings: ScheduleSettings
    rules: dict[str, RuleSetting]
    diagnose: bool = False
    model: object = None
    x: dict[tuple[int, int, str], object] = field(default_factory=dict)
    cost: list[tuple[float, object]] = field(default_factory=list)
    soft: list[SoftTerm] = field(default_factory=list)
    instances: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    literals: dict[tuple[str, str], object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from ortools.sat.python import cp_model

        self.model = cp_model.CpModel()

    def contract(self, a: int) -> Contract:
        name = self.agents[a].contract
        return self.contracts.get(name, OPEN_CONTRACT) if name else OPEN_CONTRACT

    def shifts(self, a: int, days, type_name: str | None = None) -> list:
        """The variables of agent ``a`` on ``days`` (of one type, or of any)."""
        return [
            var
            for d in days
            for t in self.types
            if (type_name is None or t == type_name) and (var := self.x.get((a, d, t))) is not None
        ]

    def work(self, a: int, day: int):
        """1 when agent ``a`` works on ``day`` (0 outside the horizon)."""
        return sum(self.shifts(a, [day])) if 0 <= day < self.horizon.days else 0

    def minutes(self, a: int, days):
        return sum(
            self.types[t].paid_minutes * var
            for d in days
            for t in self.types
            if (var := self.x.get((a, d, t))) is not None
        )

    def constrain(self, rule, agent, period, expr, lb=None, ub=None, span=1, weight=None):
        """``lb <= expr <= ub`` as an instance of ``rule`` (hard, or soft: a slack of at most
        ``span`` units priced at ``weight``, default the rule's weight)."""
        if isinstance(expr, int | float):  # nothing to decide (no variable in the rule)
            return
        setting = self.rules[rule]
        self.instances[rule] += 1
        m = self.model
        if setting.hard:
            literal = self._literal(rule, agent) if self.diagnose else None
            for bound in (c for c in (_at_least(expr, lb), _at_most(expr, ub)) if c is not None):
                added = m.add(bound)
                if literal is not None:
                    added.only_enforce_if(literal)
            return
        if self.diagnose:
            return
        slack = m.new_int_var(0, max(int(math.ceil(span)), 1), f"slack_{rule}")
        if lb is not None:
            m.add(expr + slack >= lb)
        if ub is not None:
            m.add(expr - slack <= ub)
        chosen = setting.weight if weight is None else weight
        self.soft.append(SoftTerm(rule, agent, period, slack, chosen))
        self.cost.append((chosen, slack))

    def _literal(self, rule: str, agent: str):
        key = (rule, agent)
        if key not in self.literals:
            self.literals[key] = self.model.new_bool_var(f"{rule}[{agent}]")
        return self.literals[key]


def _at_least(expr, bound):
    return None if bound is None else expr >= bound


def _at_most(expr, bound):
    return None if bound is None else expr <= bound


# --------------------------------------------------------------------------- variables, cover


def add_shift_variables(m: SlotModel, slots: pd.DataFrame) -> None:
    """One boolean per agent and listed slot whose length the agent's contract allows; at most
    one shift per agent and day (a structural rule, always hard)."""
    listed = defaultdict(list)
    for day, type_name in zip(slots["day"], slots["shift"], strict=True):
        listed[int(day)].append(type_name)
    for a, agent in enumerate(m.agents):
        lengths = m.contract(a).shift_lengths_min
        for day, names in listed.items():
            for t in names:
                if lengths and m.types[t].length_min not in lengths:
                    continue
                m.x[a, day, t] = m.model.new_bool_var(f"x[{agent.name},{day},{t}]")
            day_vars = m.shifts(a, [day])
            if len(day_vars) > 1:
                m.model.add_at_most_one(day_vars)


def add_coverage(m: SlotModel, slots: pd.DataFrame) -> dict[tuple[int, str], tuple]:
    """Soft cover per slot: ``working + under - over = required``; ``under`` costs
    ``under_weight`` per agent, ``over`` ``over_weight``. Returns (under, over) per slot."""
    found = {}
    n = len(m.agents)
    for row in slots.itertuples(index=False):
        day, t = int(row.day), row.shift
        working = sum(m.x[a, day, t] for a in range(n) if (a, day, t) in m.x)
        under = m.model.new_int_var(0, int(row.required), f"under[{day},{t}]")
        over = m.model.new_int_var(0, n, f"over[{day},{t}]")
        m.model.add(working + under - over == int(row.required))
        m.cost.extend([(float(row.under_weight), under), (float(row.over_weight), over)])
        found[day, t] = (under, over)
    return found


# --------------------------------------------------------------------------- contract rules


def add_weekly_rules(m: SlotModel) -> None:
    """Paid minutes per week (the minimum in full weeks only), days off per full week, and at
    most n shifts of a type per week."""
    for a, agent in enumerate(m.agents):
        c = m.contract(a)
        for w, days in enumerate(m.horizon.weeks()):
            period, full = f"week {w + 1}", len(days) == 7
            if full and c.min_minutes_per_week > 0:
                m.constrain(
                    "min_minutes_per_week",
                    agent.name,
                    period,
                    m.minutes(a, days),
                    lb=c.min_minutes_per_week,
                    span=c.min_minutes_per_week,
                )
            if c.max_minutes_per_week < 7 * 1440:
                m.constrain(
                    "max_minutes_per_week",
                    agent.name,
                    period,
                    m.minutes(a, days),
                    ub=c.max_minutes_per_week,
                    span=7 * 1440,
                )
            if full and c.min_days_off_per_week > 0:
                m.constrain(
                    "days_off_per_week",
                    agent.name,
                    period,
                    sum(m.shifts(a, days)),
                    ub=7 - c.min_days_off_per_week,
                    span=7,
                )
            for t, limit in c.max_shifts_per_week_by_type.items():
                m.constrain(
                    "max_shifts_of_type",
                    agent.name,
                    f"{period} {t}",
                    sum(m.shifts(a, days, t)),
                    ub=limit,
                    span=7,
                )


def _paid_range(m: SlotModel, a: int) -> tuple[int, int] | None:
    lengths = m.contract(a).shift_lengths_min
    paid = [t.paid_minutes for t in m.types.values() if not lengths or t.length_min in lengths]
    return (min(paid), max(paid)) if paid else None


def add_minute_cuts(m: SlotModel) -> None:
    """Redundant shift counts implied by hard minute limits (a week's or the horizon's minimum
    needs at least ceil(min / longest paid shift) shifts, its maximum allows at most
    floor(max / shortest paid shift)): the same rosters, a much stronger LP bound. Not in
    diagnose mode, where every hard instance must be named."""
    if m.diagnose:
        return
    for a in range(len(m.agents)):
        c, paid = m.contract(a), _paid_range(m, a)
        if paid is None or paid[0] <= 0:
            continue
        spans = [
            (days, c.min_minutes_per_week, c.max_minutes_per_week, "week")
            for days in m.horizon.weeks()
        ]
        spans.append(
            (
                range(m.horizon.days),
                c.min_minutes_per_horizon or 0,
                c.max_minutes_per_horizon,
                "horizon",
            )
        )
        for days, low, high, kind in spans:
            count = sum(m.shifts(a, days))
            if isinstance(count, int):
                continue
            if (
                low
                and m.rules[f"min_minutes_per_{kind}"].hard
                and (len(days) == 7 or kind != "week")
            ):
                m.model.add(count >= math.ceil(low / paid[1]))
            if high is not None and m.rules[f"max_minutes_per_{kind}"].hard:
                m.model.add(count <= high // paid[0])


def add_horizon_rules(m: SlotModel) -> None:
    """Paid minutes in the horizon (min, max) and at most n shifts of a type in the horizon."""
    every = range(m.horizon.days)
    for a, agent in enumerate(m.agents):
        c = m.contract(a)
        if c.min_minutes_per_horizon:
            m.constrain(
                "min_minutes_per_horizon",
                agent.name,
                "horizon",
                m.minutes(a, every),
                lb=c.min_minutes_per_horizon,
                span=c.min_minutes_per_horizon,
            )
        if c.max_minutes_per_horizon is not None:
            m.constrain(
                "max_minutes_per_horizon",
                agent.name,
                "horizon",
                m.minutes(a, every),
                ub=c.max_minutes_per_horizon,
                span=m.horizon.days * 1440,
            )
        for t, limit in c.max_shifts_per_horizon_by_type.items():
            m.constrain(
                "max_shifts_of_type_per_horizon",
                agent.name,
                f"horizon {t}",
                sum(m.shifts(a, every, t)),
                ub=limit,
                span=m.horizon.days,
            )


def add_max_consecutive_days(m: SlotModel) -> None:
    """At most k working days in a row: every window of k + 1 days has a day off (one unit per
    window without one)."""
    for a, agent in enumerate(m.agents):
        k = m.contract(a).max_consecutive_days
        for d in range(m.horizon.days - k):
            m.constrain(
                "max_consecutive_days",
                agent.name,
                str(m.horizon.date(d + k)),
                sum(m.work(a, e) for e in range(d, d + k + 1)),
                ub=k,
            )


def _stretch_instances(days: int, minimum: int, ignore_edges: bool):
    """(first day, length) of every stretch a minimum-stretch rule must forbid."""
    for length in range(1, minimum):
        for first in range(0, days - length + 1):
            if stretch_is_judged(first, length, days, ignore_edges):
                yield first, length


def add_min_stretches(m: SlotModel, ignore_edges: bool) -> None:
    """No working stretch shorter than ``min_consecutive_days`` and no day-off stretch shorter
    than ``min_consecutive_days_off`` (one unit per short stretch). A stretch is maximal: the
    days around it (inside the horizon) have the other value. With ``ignore_edges`` the rules
    skip stretches touching the first or last day of the horizon (the days outside are
    unknown); otherwise the horizon's edge closes a stretch. A stretch filling the whole
    horizon is never judged (:func:`openwfm.schedule.rules.stretch_is_judged`)."""
    days = m.horizon.days
    for a, agent in enumerate(m.agents):
        c = m.contract(a)
        for rule, minimum, working in (
            ("min_consecutive_days", c.min_consecutive_days, True),
            ("min_consecutive_days_off", c.min_consecutive_days_off, False),
        ):
            for first, length in _stretch_instances(days, minimum, ignore_edges):
                inside = [m.work(a, d) for d in range(first, first + length)]
                around = [m.work(a, d) for d in (first - 1, first + length) if 0 <= d < days]
                # violated when every inside day has the stretch's value and every neighbour
                # the other: count those agreements, at most (all of them - 1)
                if working:
                    agree = sum(inside) - sum(around) + len(around)
                else:
                    agree = len(inside) - sum(inside) + sum(around)
                m.constrain(
                    rule,
                    agent.name,
                    str(m.horizon.date(first)),
                    agree,
                    ub=len(inside) + len(around) - 1,
                )


def add_rest(m: SlotModel) -> None:
    """Two shifts of an agent never overlap (structural, always hard) and rule ``min_rest``:
    at least ``min_rest_between_shifts_min`` minutes between the end of one shift and the start
    of a later one (one unit per pair of shifts too close)."""
    longest = max((t.end_min for t in m.types.values()), default=0)
    for a, agent in enumerate(m.agents):
        rest = m.contract(a).min_rest_between_shifts_min
        reach = max(math.ceil((longest + rest) / 1440), 1)
        for d, t in ((d, t) for d in range(m.horizon.days) for t in m.types):
            first = m.x.get((a, d, t))
            if first is None:
                continue
            end = d * 1440 + m.types[t].end_min
            for d2, u in ((e, u) for e in range(d + 1, d + reach + 1) for u in m.types):
                second = m.x.get((a, d2, u))
                gap = d2 * 1440 + m.types[u].start_min - end
                if second is None or gap >= rest:
                    continue
                if gap < 0:
                    m.model.add(first + second <= 1)
                else:
                    m.constrain(
                        "min_rest", agent.name, f"{m.horizon.date(d)} {t}>{u}", first + second, ub=1
                    )


def add_forbidden_successions(m: SlotModel) -> None:
    """Type A on one day is not followed by type B the next day (one unit per pair)."""
    for first, second in m.settings.forbidden_successions:
        for a, agent in enumerate(m.agents):
            for d in range(m.horizon.days - 1):
                left, right = m.x.get((a, d, first)), m.x.get((a, d + 1, second))
                if left is not None and right is not None:
                    m.constrain(
                        "forbidden_succession",
                        agent.name,
                        f"{m.horizon.date(d)} {first}>{second}",
                        left + right,
                        ub=1,
                    )


def add_working_weekends(m: SlotModel) -> None:
    """At most n weekends (Saturday or Sunday worked, per ISO week) in the horizon."""
    weekends = list(m.horizon.weekend_days().values())
    for a, agent in enumerate(m.agents):
        limit = m.contract(a).max_working_weekends
        if limit is None or not weekends:
            continue
        flags = []
        for days in weekends:
            flag = m.model.new_bool_var("")
            for var in m.shifts(a, days):
                m.model.add(flag >= var)
            flags.append(flag)
        m.constrain(
            "max_working_weekends", agent.name, "horizon", sum(flags), ub=limit, span=len(flags)
        )


# --------------------------------------------------------------------------- day rules


def add_fixed_days_off(m: SlotModel) -> None:
    """No shift on an agent's fixed day off (one unit per day worked)."""
    for rule in m.settings.fixed_days_off:
        for a, agent in enumerate(m.agents):
            for d in range(m.horizon.days):
                if matches(rule, agent.name, agent.team, m.horizon.date(d)):
                    m.constrain(
                        "fixed_days_off", agent.name, str(m.horizon.date(d)), m.work(a, d), ub=0
                    )


def _outside(rule, slot_type: SlotType) -> bool:
    from openwfm.model import clock_seconds

    if not rule.available:
        return True
    low = clock_seconds(rule.available_from) // 60
    high = clock_seconds(rule.available_until) // 60
    return slot_type.start_min < low or slot_type.end_min > high


def add_availability(m: SlotModel) -> None:
    """Every shift inside the agent's availability window on matching days (one unit per rule
    and day with a shift outside it)."""
    for index, rule in enumerate(m.settings.availability):
        bad = [t for t, slot_type in m.types.items() if _outside(rule, slot_type)]
        for a, agent in enumerate(m.agents):
            for d in range(m.horizon.days):
                date = m.horizon.date(d)
                if bad and matches(rule, agent.name, agent.team, date):
                    shifts = [var for t in bad for var in m.shifts(a, [d], t)]
                    m.constrain(
                        "availability", agent.name, f"{date} rule {index}", sum(shifts), ub=0
                    )


def add_requests(m: SlotModel) -> None:
    """Wishes to work (``wanted``) or not work a shift type (any shift when None) on matching
    days; one unit per request and day not met, priced at the rule weight x the request's."""
    base = m.rules["shift_request"].weight
    for index, rule in enumerate(m.settings.requests):
        for a, agent in enumerate(m.agents):
            for d in range(m.horizon.days):
                date = m.horizon.date(d)
                if not matches(rule, agent.name, agent.team, date):
                    continue
                expr = sum(m.shifts(a, [d], rule.shift))
                label = f"{date} request {index}: {'want' if rule.wanted else 'avoid'} "
                label += rule.shift or "work"
                if rule.wanted:
                    _wanted(m, agent.name, label, expr, base * rule.weight)
                else:
                    m.constrain(
                        "shift_request", agent.name, label, expr, ub=0, weight=base * rule.weight
                    )


def _wanted(m: SlotModel, agent: str, label: str, expr, weight: float) -> None:
    if isinstance(expr, int):  # no slot to work: the wish cannot be met
        expr = m.model.new_constant(0)
    m.constrain("shift_request", agent, label, expr, lb=1, weight=weight)


def add_fairness(m: SlotModel) -> None:
    """Per contract, the spread (most - fewest) of weekend days worked and of unpopular shifts
    among its agents is at most ``weekend_spread`` / ``unpopular_spread``."""
    unpopular = [t for t, slot_type in m.types.items() if slot_type.unpopular]
    weekend = [d for days in m.horizon.weekend_days().values() for d in days]
    groups: dict[str, list[int]] = defaultdict(list)
    for a in range(len(m.agents)):
        groups[m.contract(a).name].append(a)
    every = range(m.horizon.days)
    for contract, members in groups.items():
        if len(members) < 2:
            continue
        counts = {
            "fair_weekends": ([m.shifts(a, weekend) for a in members], m.settings.weekend_spread)
        }
        if unpopular:
            counts["fair_unpopular"] = (
                [[var for t in unpopular for var in m.shifts(a, every, t)] for a in members],
                m.settings.unpopular_spread,
            )
        for rule, (values, spread) in counts.items():
            high = m.model.new_int_var(0, m.horizon.days, "")
            low = m.model.new_int_var(0, m.horizon.days, "")
            for shifts in values:
                m.model.add(high >= sum(shifts))
                m.model.add(low <= sum(shifts))
            m.constrain(rule, contract, "horizon", high - low, ub=spread, span=m.horizon.days)

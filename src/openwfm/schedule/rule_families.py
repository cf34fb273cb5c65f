"""The agents' rules, one function per rule family (as OR-Tools' ``shift_scheduling_sat.py``
has one helper per constraint family). Every instance enters through
:meth:`ShiftModel.constrain` under its rule's name (:data:`openwfm.schedule.rules.RULES`),
so a soft violation is priced and reported by name and a contradiction between hard rules is
named by the diagnosis model. :mod:`openwfm.schedule.check` re-checks each family on a
finished schedule, one function per rule with the same name.

Per-agent families take the model and the agent's index; :func:`add_agent_rules` calls them
agent by agent, then adds the rules across agents (fixed days off, requests, fairness,
forbidden successions).
"""

from __future__ import annotations

from collections import defaultdict

from openwfm.errors import ScenarioError
from openwfm.schedule.rules import stretch_is_judged
from openwfm.schedule.scope import agents_for, day_matches
from openwfm.schedule.shiftmodel import ShiftModel

WEEK_MINUTES = 7 * 1440  # a weekly limit at or above this is no limit


def add_weekly_minutes(model: ShiftModel, a: int, week: int, days: list[int]) -> None:
    """``min_minutes_per_week`` (full weeks only) and ``max_minutes_per_week``: paid minutes."""
    contract = model.agents[a].contract
    who, period = model.agents[a].name, f"week {week + 1}"
    if len(days) == 7 and contract.min_minutes_per_week > 0:
        model.constrain(
            "min_minutes_per_week",
            who,
            period,
            model.minutes(a, days),
            lb=contract.min_minutes_per_week,
            span=contract.min_minutes_per_week,
        )
    if contract.max_minutes_per_week < WEEK_MINUTES:
        model.constrain(
            "max_minutes_per_week",
            who,
            period,
            model.minutes(a, days, most=False),
            ub=contract.max_minutes_per_week,
            span=WEEK_MINUTES,
        )


def add_days_off_per_week(model: ShiftModel, a: int, week: int, days: list[int]) -> None:
    """``days_off_per_week``: at most 7 - n working days in each full week."""
    contract = model.agents[a].contract
    if len(days) == 7 and contract.min_days_off_per_week > 0:
        model.constrain(
            "days_off_per_week",
            model.agents[a].name,
            f"week {week + 1}",
            sum(model.work(a, d) for d in days),
            ub=7 - contract.min_days_off_per_week,
            span=7,
        )


def add_max_shifts_of_type(model: ShiftModel, a: int, week: int, days: list[int]) -> None:
    """``max_shifts_of_type``: at most n shifts of a type a week (shift models only)."""
    if model.days_only:
        return
    for shift_type, limit in model.agents[a].contract.max_shifts_per_week_by_type.items():
        model.constrain(
            "max_shifts_of_type",
            model.agents[a].name,
            f"week {week + 1} {shift_type}",
            model.shifts(a, days, lambda o, t=shift_type: o.shift_type == t),
            ub=limit,
            span=7,
        )


def add_max_shifts_of_type_per_horizon(model: ShiftModel, a: int) -> None:
    """``max_shifts_of_type_per_horizon``: at most n shifts of a type in the horizon (shift
    models only)."""
    if model.days_only:
        return
    days = range(model.horizon.days)
    for shift_type, limit in model.agents[a].contract.max_shifts_per_horizon_by_type.items():
        model.constrain(
            "max_shifts_of_type_per_horizon",
            model.agents[a].name,
            f"horizon {shift_type}",
            model.shifts(a, days, lambda o, t=shift_type: o.shift_type == t),
            ub=limit,
            span=model.horizon.days,
        )


def add_horizon_minutes(model: ShiftModel, a: int) -> None:
    """``min_minutes_per_horizon`` and ``max_minutes_per_horizon``: paid minutes in the horizon."""
    contract, h = model.agents[a].contract, model.horizon
    all_days = range(h.days)
    if contract.min_minutes_per_horizon:
        model.constrain(
            "min_minutes_per_horizon",
            model.agents[a].name,
            "horizon",
            model.minutes(a, all_days),
            lb=contract.min_minutes_per_horizon,
            span=contract.min_minutes_per_horizon,
        )
    if contract.max_minutes_per_horizon is not None:
        model.constrain(
            "max_minutes_per_horizon",
            model.agents[a].name,
            "horizon",
            model.minutes(a, all_days, most=False),
            ub=contract.max_minutes_per_horizon,
            span=h.days * 1440,
        )


def add_max_consecutive_days(model: ShiftModel, a: int) -> None:
    """``max_consecutive_days``: no k + 1 working days in a row."""
    h, k = model.horizon, model.agents[a].contract.max_consecutive_days
    for d in range(h.days - k):
        model.constrain(
            "max_consecutive_days",
            model.agents[a].name,
            str(h.date(d)),
            sum(model.work(a, e) for e in range(d, d + k + 1)),
            ub=k,
            span=k + 1,
        )


def _add_min_stretch(model: ShiftModel, a: int, rule: str, minimum: int, working: bool) -> None:
    """No maximal working (``working``) or day-off stretch shorter than ``minimum`` days among
    those :func:`openwfm.schedule.rules.stretch_is_judged` judges (interior ones; with
    ``schedule.ignore_edge_stretches: false`` also those touching the horizon's edge, which
    then closes them). One instance per possible short stretch: it is violated when every day
    inside has the stretch's value and every neighbour inside the horizon the other."""
    h, work = model.horizon, model.work
    ignore = model.settings is None or model.settings.ignore_edge_stretches
    for length in range(1, minimum):
        for d in range(0, h.days - length + 1):
            if not stretch_is_judged(d, length, h.days, ignore):
                continue
            inside = sum(work(a, e) for e in range(d, d + length))
            around = [e for e in (d - 1, d + length) if 0 <= e < h.days]
            neighbours = sum(work(a, e) for e in around)
            agree = inside - neighbours + len(around) if working else length - inside + neighbours
            model.constrain(
                rule, model.agents[a].name, str(h.date(d)), agree, ub=length + len(around) - 1
            )


def add_min_consecutive_days(model: ShiftModel, a: int) -> None:
    """``min_consecutive_days``: no (judged) working stretch shorter than n days."""
    minimum = model.agents[a].contract.min_consecutive_days
    _add_min_stretch(model, a, "min_consecutive_days", minimum, True)


def add_min_consecutive_days_off(model: ShiftModel, a: int) -> None:
    """``min_consecutive_days_off``: no (judged) day-off stretch shorter than n days."""
    minimum = model.agents[a].contract.min_consecutive_days_off
    _add_min_stretch(model, a, "min_consecutive_days_off", minimum, False)


def add_rest(model: ShiftModel, a: int) -> None:
    """No two shifts overlap, and (rule ``min_rest``) enough rest between shifts on nearby
    days: for each possible end of a shift, the shift ending then (or later) and any shift
    starting before the rest is over exclude each other."""
    h, agent = model.horizon, model.agents[a]
    rest = -(-agent.contract.min_rest_between_shifts_min // h.interval_minutes)
    hard_rest = model.hard("min_rest")
    for d in range(h.days):
        for d2 in (d + 1, d + 2):
            if d2 >= h.days:
                continue
            for gap, named in ((0, False), (rest, True)):
                if named and (rest == 0 or (hard_rest and gap == 0)):
                    continue
                if not named and rest > 0 and hard_rest:
                    continue  # the hard rest constraint implies no overlap
                _exclude_close_shifts(model, a, d, d2, gap, named)


def _exclude_close_shifts(model: ShiftModel, a: int, d: int, d2: int, gap: int, named: bool):
    """Shifts of day ``d`` ending at or after e, and of day ``d2`` starting before e + gap,
    one of them at most (each possible end e of a day-``d`` shift)."""
    h = model.horizon
    spd = h.slots_per_day
    for e in sorted({d * spd + o.end for o in model.day_options[a, d]}):
        later = [
            model.shift_var[a, d2, o.index]
            for o in model.day_options[a, d2]
            if d2 * spd + o.start < e + gap
        ]
        if not later:
            continue
        earlier = [
            model.shift_var[a, d, o.index] for o in model.day_options[a, d] if d * spd + o.end >= e
        ]
        expr = sum(earlier) + sum(later)
        if named:
            model.constrain("min_rest", model.agents[a].name, str(h.date(d)), expr, ub=1)
        else:
            model.model.add(expr <= 1)


def add_max_working_weekends(model: ShiftModel, a: int) -> None:
    """``max_working_weekends``: at most n (ISO) weekends with any work."""
    contract, h, m = model.agents[a].contract, model.horizon, model.model
    if contract.max_working_weekends is None:
        return
    weekends: dict[tuple[int, int], list[int]] = defaultdict(list)
    for d in range(h.days):
        if h.weekday(d) >= 5:
            weekends[tuple(h.date(d).isocalendar())[:2]].append(d)
    flags = []
    for days in weekends.values():
        flag = m.new_bool_var("")
        for d in days:
            m.add(flag >= model.work(a, d))
        flags.append(flag)
    if flags:
        model.constrain(
            "max_working_weekends",
            model.agents[a].name,
            "horizon",
            sum(flags),
            ub=contract.max_working_weekends,
            span=len(flags),
        )


def add_soft_availability(model: ShiftModel, a: int) -> None:
    """``availability`` as named instances: when it is soft, or to diagnose (when hard, the
    options were never offered: :func:`openwfm.schedule.shiftmodel.add_shift_options`)."""
    if model.hard("availability") or model.days_only:
        return
    h = model.horizon
    for d in range(h.days):
        bad = model.unavailable.get((a, d), set())
        expr = model.shifts(a, [d], lambda o, bad=bad: o.index in bad)
        if not isinstance(expr, int):
            model.constrain("availability", model.agents[a].name, str(h.date(d)), expr, ub=0)


def add_fixed_days_off(model: ShiftModel) -> None:
    """``fixed_days_off``: the named agents (or teams) do not work the rule's days."""
    h = model.horizon
    for index, rule in enumerate(model.settings.fixed_days_off):
        for a in agents_for(rule, model.agents, f"schedule.fixed_days_off[{index}]"):
            if not model.schedules(a):
                continue
            for d in range(h.days):
                if day_matches(rule, h, d) and model.day_options[a, d]:
                    model.constrain(
                        "fixed_days_off",
                        model.agents[a].name,
                        str(h.date(d)),
                        model.work(a, d),
                        ub=0,
                    )


def add_shift_requests(model: ShiftModel) -> None:
    """``shift_request``: wanted (at least one) or unwanted (none) shifts of a type, or work
    at all, on a day; each request's slack costs the rule's weight times the request's."""
    h = model.horizon
    base_weight = model.rules["shift_request"].weight
    for index, rule in enumerate(model.settings.requests):
        if model.days_only and rule.shift is not None:
            agents_for(rule, model.agents, f"schedule.requests[{index}]")
            continue  # shift-level wishes are the shift models'
        label = f"{'want' if rule.wanted else 'avoid'} {rule.shift or 'work'}"
        for a in agents_for(rule, model.agents, f"schedule.requests[{index}]"):
            if not model.schedules(a):
                continue
            for d in range(h.days):
                if not day_matches(rule, h, d):
                    continue
                if model.days_only:
                    expr = model.work(a, d)
                else:
                    expr = model.shifts(
                        a, [d], lambda o, t=rule.shift: t is None or o.shift_type == t
                    )
                bounds = {"lb": 1} if rule.wanted else {"ub": 0}
                model.constrain(
                    "shift_request",
                    model.agents[a].name,
                    f"{h.date(d)} {label}",
                    expr,
                    weight=base_weight * rule.weight,
                    **bounds,
                )


def add_fairness(
    model: ShiftModel, weekend_days: dict[str, list], unpopular_shifts: dict[str, list]
) -> None:
    """``fair_weekends`` and ``fair_unpopular``: per contract, the spread (most - fewest)
    of weekend days worked and of unpopular shifts taken stays within the settings' spread."""
    h, m, settings = model.horizon, model.model, model.settings
    for name, counts, spread in (
        ("fair_weekends", weekend_days, settings.weekend_spread),
        ("fair_unpopular", unpopular_shifts, settings.unpopular_spread),
    ):
        for contract, values in counts.items():
            if len(values) < 2:
                continue
            high = m.new_int_var(0, h.days, "")
            low = m.new_int_var(0, h.days, "")
            for value in values:
                m.add(high >= value)
                m.add(low <= value)
            model.constrain(name, contract, "horizon", high - low, ub=spread, span=h.days)


def add_forbidden_successions(model: ShiftModel) -> None:
    """``forbidden_succession``: shift type A one day, then B the next (shift models only)."""
    if model.days_only:
        return
    type_names = {o.shift_type for o in model.options}
    for index, (first, second) in enumerate(model.settings.forbidden_successions):
        for shift_type in (first, second):
            if shift_type not in type_names:
                raise ScenarioError(
                    f"unknown shift type {shift_type!r} (known: {', '.join(sorted(type_names))})",
                    field=f"schedule.forbidden_successions[{index}]",
                )
        for a in range(len(model.agents)):
            if model.schedules(a):
                _forbid_succession(model, a, first, second)


def _forbid_succession(model: ShiftModel, a: int, first: str, second: str) -> None:
    h = model.horizon
    for d in range(h.days - 1):
        left = [
            model.shift_var[a, d, o.index] for o in model.day_options[a, d] if o.shift_type == first
        ]
        right = [
            model.shift_var[a, d + 1, o.index]
            for o in model.day_options[a, d + 1]
            if o.shift_type == second
        ]
        if left and right:
            model.constrain(
                "forbidden_succession",
                model.agents[a].name,
                f"{h.date(d)} {first}>{second}",
                sum(left) + sum(right),
                ub=1,
            )


def add_agent_rules(model: ShiftModel) -> None:
    """Every rule family, for every agent the model schedules, then the rules across agents."""
    h = model.horizon
    weeks = [list(range(w * 7, min(w * 7 + 7, h.days))) for w in range(h.weeks)]
    unpopular = {o.shift_type for o in model.options if o.unpopular}
    weekend = [d for d in range(h.days) if h.weekday(d) >= 5]
    weekend_days: dict[str, list] = defaultdict(list)
    unpopular_shifts: dict[str, list] = defaultdict(list)
    for a, agent in enumerate(model.agents):
        if not model.schedules(a):
            continue
        for w, days in enumerate(weeks):
            add_weekly_minutes(model, a, w, days)
            add_days_off_per_week(model, a, w, days)
            add_max_shifts_of_type(model, a, w, days)
        add_horizon_minutes(model, a)
        add_max_shifts_of_type_per_horizon(model, a)
        add_max_consecutive_days(model, a)
        add_min_consecutive_days(model, a)
        add_min_consecutive_days_off(model, a)
        if not model.days_only:
            add_rest(model, a)
        add_max_working_weekends(model, a)
        weekend_days[agent.contract.name].append(sum(model.work(a, d) for d in weekend))
        if unpopular and not model.days_only:
            unpopular_shifts[agent.contract.name].append(
                model.shifts(a, range(h.days), lambda o: o.shift_type in unpopular)
            )
        add_soft_availability(model, a)
    if model.settings is None:
        return
    add_fixed_days_off(model)
    add_shift_requests(model)
    add_fairness(model, weekend_days, unpopular_shifts)
    add_forbidden_successions(model)

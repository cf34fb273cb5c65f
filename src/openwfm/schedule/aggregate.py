"""Phase 1's group model: shift counts per skill group, day and option, held by limits the
members' hard rules imply (a relaxation, so its bound is a lower bound of the whole problem),
and on a one-week horizon each group's working-day patterns priced with the stretch rules.

:func:`day_patterns` enumerates the weeks one contract allows; :func:`add_group_limits` and
:func:`add_group_patterns` are the parts :func:`openwfm.schedule.variants.phase_one_model`
adds for each group.
"""

from __future__ import annotations

import itertools
from collections import defaultdict

from openwfm.model import Contract, RuleSetting
from openwfm.schedule.rules import stretch_is_judged
from openwfm.schedule.scope import allowed_lengths
from openwfm.schedule.shiftmodel import SCALE, ShiftModel
from openwfm.schedule.templates import Horizon

WEEK_MINUTES = 7 * 1440  # a weekly limit at or above this is no limit
MAX_PATTERN_CLASSES = 4  # more classes of members than this: one class for the whole group


def add_group_limits(model: ShiftModel, members: list[int], counts: dict) -> None:
    """Limits on a group's shift counts implied by its members' hard rules (a relaxation):
    no more shifts a day than members able to work it; per full week, the members' summed
    minimum and maximum paid minutes and working days."""
    m = model.model
    for day in range(model.horizon.days):
        able = sum(1 for a in members if model.day_options[a, day])
        terms = [v for (d, _), (v,) in counts.items() if d == day]
        if terms:
            m.add(sum(terms) <= able)
    _add_week_limits(model, [model.agents[a].contract for a in members], counts)


def _add_week_limits(model: ShiftModel, contracts: list[Contract], counts: dict) -> None:
    """Per full week, the shifts in ``counts`` ((day, option) -> [count]) within the summed
    hard minimum and maximum paid minutes and working days of ``contracts``."""
    h, m = model.horizon, model.model
    for w in range(h.weeks):
        days = range(w * 7, min(w * 7 + 7, h.days))
        if len(days) < 7:
            continue
        shifts = [
            (model.options[o].paid_minutes, v) for (d, o), (v,) in counts.items() if d in days
        ]
        if not shifts:
            continue
        paid = sum(p * v for p, v in shifts)
        if model.rules["min_minutes_per_week"].hard:
            m.add(paid >= sum(c.min_minutes_per_week for c in contracts))
        if model.rules["max_minutes_per_week"].hard:
            m.add(paid <= sum(c.max_minutes_per_week for c in contracts))
        if model.rules["days_off_per_week"].hard:
            m.add(sum(v for _, v in shifts) <= sum(7 - c.min_days_off_per_week for c in contracts))


def add_contract_limits(model: ShiftModel, u: int, members: list[int], counts: dict) -> None:
    """A group of several contracts: its counts split by contract, each share within that
    contract's members' limits (still a relaxation: every schedule splits so).

    The group's summed limits alone let phase 1 plan counts its named agents cannot take: on
    the example center the chat+email group (16 part-timers on 4 and 6 hours, one full-timer
    on 8 hours for at least 2,280 minutes a week) got 8-hour shifts on four days only, so the
    full-timer could not reach his minimum and phase 2 failed. Per contract: on each day at
    most its members able to work (and per option those whose options include it), per full
    week their summed minutes and working days. Groups of one contract need no split."""
    by_contract: dict[str, list[int]] = defaultdict(list)
    for a in members:
        by_contract[model.agents[a].contract.name].append(a)
    if len(by_contract) < 2:
        return
    m = model.model
    shares: dict[tuple[int, int], list] = defaultdict(list)
    for name in sorted(by_contract):
        who = by_contract[name]
        split: dict[tuple[int, int], list] = {}
        for day in range(model.horizon.days):
            able = [a for a in who if model.day_options[a, day]]
            per_option: dict[int, int] = defaultdict(int)
            for a in able:
                for o in model.day_options[a, day]:
                    per_option[o.index] += 1
            for oi in sorted(per_option):
                var = model.tag(day, m.new_int_var(0, per_option[oi], f"Z{u}_{name}_{day}_{oi}"))
                model.unit_of[var.index] = u
                split[day, oi] = [var]
                shares[day, oi].append(var)
            if per_option:
                m.add(sum(split[day, oi][0] for oi in per_option) <= len(able))
        _add_week_limits(model, [model.agents[a].contract for a in who], split)
    for key, (var,) in counts.items():
        m.add(var == sum(shares[key]))


# --------------------------------------------------------------------------- day patterns


def stretches(work: tuple[bool, ...], value: bool) -> list[tuple[int, int, bool]]:
    """(first day, length, interior) of each maximal run of ``value`` in ``work``."""
    runs = []
    d = 0
    while d < len(work):
        if work[d] != value:
            d += 1
            continue
        e = d
        while e < len(work) and work[e] == value:
            e += 1
        runs.append((d, e - d, d > 0 and e < len(work)))
        d = e
    return runs


def _hard_limits_allow(
    contract: Contract,
    rules: dict[str, RuleSetting],
    horizon: Horizon,
    work: tuple[bool, ...],
    paid_range: tuple[int, int],
) -> bool:
    """Whether a week of working days ``work`` can keep the contract's hard day and minute
    limits (soft minute and day limits are left at no cost: a relaxation)."""
    n, days = sum(work), len(work)
    lo, hi = paid_range
    ok = True
    if rules["days_off_per_week"].hard and contract.min_days_off_per_week > 0:
        ok &= n <= days - contract.min_days_off_per_week
    if rules["min_minutes_per_week"].hard:
        ok &= n * hi >= contract.min_minutes_per_week
    if rules["max_minutes_per_week"].hard and contract.max_minutes_per_week < WEEK_MINUTES:
        ok &= n * lo <= contract.max_minutes_per_week
    if rules["min_minutes_per_horizon"].hard and contract.min_minutes_per_horizon:
        ok &= n * hi >= contract.min_minutes_per_horizon
    if rules["max_minutes_per_horizon"].hard and contract.max_minutes_per_horizon is not None:
        ok &= n * lo <= contract.max_minutes_per_horizon
    if rules["max_consecutive_days"].hard:
        ok &= all(length <= contract.max_consecutive_days for _, length, _ in stretches(work, True))
    if contract.max_working_weekends is not None and rules["max_working_weekends"].hard:
        weekend = [d for d in range(days) if horizon.weekday(d) >= 5]
        worked = {tuple(horizon.date(d).isocalendar())[:2] for d in weekend if work[d]}
        ok &= len(worked) <= contract.max_working_weekends
    return ok


def _stretch_penalty(
    contract: Contract, rules: dict[str, RuleSetting], work: tuple[bool, ...], ignore_edges: bool
) -> float | None:
    """The penalty of the week's short stretches the rules judge (one rule weight per stretch;
    :func:`openwfm.schedule.rules.stretch_is_judged`), or None when a stretch rule is hard and
    broken."""
    penalty = 0.0
    checks = [
        ("min_consecutive_days", True, contract.min_consecutive_days),
        ("min_consecutive_days_off", False, contract.min_consecutive_days_off),
    ]
    for name, value, least in checks:
        for first, length, _ in stretches(work, value):
            if length < least and stretch_is_judged(first, length, len(work), ignore_edges):
                if rules[name].hard:
                    return None
                penalty += rules[name].weight * 1.0
    return penalty


def day_patterns(
    contract: Contract,
    rules: dict[str, RuleSetting],
    horizon: Horizon,
    paid: list[int],
    ignore_edges: bool = True,
) -> list[tuple[tuple[int, ...], float]]:
    """Working-day subsets of a one-week horizon that the contract's hard day-level rules allow,
    each with the penalty the model charges for its soft day-level rules (same counting as
    :mod:`openwfm.schedule.rule_families`: one unit per judged stretch shorter than the
    minimum; ``ignore_edges`` is ``schedule.ignore_edge_stretches``). Empty when the horizon
    is not a single week or the agent has no shift options."""
    days = horizon.days
    if days != 7 or not paid:
        return []
    out = []
    for n in range(days + 1):
        for chosen in itertools.combinations(range(days), n):
            work = tuple(d in chosen for d in range(days))
            if not _hard_limits_allow(contract, rules, horizon, work, (min(paid), max(paid))):
                continue
            penalty = _stretch_penalty(contract, rules, work, ignore_edges)
            if penalty is not None:
                out.append((chosen, penalty))
    return out


def _minutes_reach(
    contract: Contract, rules: dict[str, RuleSetting], paid: list[int], days: int
) -> dict[int, tuple[int, int] | None]:
    """Per number of working days, the lowest and highest paid minutes one agent can reach
    with one shift a working day inside the contract's hard minute limits (None: none)."""
    lower, upper = 0, 10**9
    if rules["min_minutes_per_week"].hard:
        lower = max(lower, contract.min_minutes_per_week)
    if rules["min_minutes_per_horizon"].hard and contract.min_minutes_per_horizon:
        lower = max(lower, contract.min_minutes_per_horizon)
    if rules["max_minutes_per_week"].hard and contract.max_minutes_per_week < WEEK_MINUTES:
        upper = min(upper, contract.max_minutes_per_week)
    if rules["max_minutes_per_horizon"].hard and contract.max_minutes_per_horizon is not None:
        upper = min(upper, contract.max_minutes_per_horizon)
    sums = {0}
    reach: dict[int, tuple[int, int] | None] = {}
    for n in range(days + 1):
        inside = [v for v in sums if lower <= v <= upper]
        reach[n] = (min(inside), max(inside)) if inside else None
        sums = {v + p for v in sums for p in set(paid)}
    return reach


def _member_classes(model: ShiftModel, members: list[int]) -> dict[tuple, list[int]]:
    """Members with the same options per day (fixed days off, availability) form a class; a
    class takes only the patterns and options open to it (one class when there are many)."""
    classes: dict[tuple, list[int]] = defaultdict(list)
    for a in members:
        key = tuple(
            frozenset(o.index for o in model.day_options[a, d]) for d in range(model.horizon.days)
        )
        classes[key].append(a)
    if len(classes) > MAX_PATTERN_CLASSES:
        classes = {tuple(frozenset(range(len(model.options))) for _ in range(7)): members}
    return classes


def add_group_patterns(
    model: ShiftModel, u: int, skills: tuple[str, ...], members: list[int], counts: dict
) -> None:
    """Phase 1 plans each group's working-day patterns with the shift counts.

    Every agent's week is one subset of days; the subsets the hard day-level rules allow are
    enumerated with the exact penalty of the soft day-level rules (short working stretches,
    short day-off stretches) the model would charge. The group's count of agents per
    pattern ties to its shifts per day, so the penalties enter phase 1's objective and its
    bound stays a valid lower bound (each agent's week is one of these patterns). Only for
    groups of one contract; unit ``u`` is the group's."""
    contracts = {model.agents[a].contract.name: model.agents[a].contract for a in members}
    if len(contracts) != 1:
        return
    contract = next(iter(contracts.values()))
    lengths = allowed_lengths(contract, model.horizon)
    paid = [o.paid_minutes for o in model.options if lengths is None or o.length in lengths]
    ignore = model.settings is None or model.settings.ignore_edge_stretches
    patterns = day_patterns(contract, model.rules, model.horizon, paid, ignore)
    if not patterns:
        return
    reach = _minutes_reach(contract, model.rules, paid, model.horizon.days)
    patterns = [(days, pen) for days, pen in patterns if reach[len(days)] is not None]
    if not patterns:
        return
    per_class = _add_pattern_counts(model, u, skills, members, patterns)
    variables = [(days, var) for _, _, days, var in per_class]
    # the ties between patterns and shifts hold only with this group's literal: phase 1
    # first solves without them (fast), then ties one group at a time from that solution
    link = model.model.new_bool_var("pattern_link")
    model.pattern_links[u] = link
    paid_sum = sum(model.options[o].paid_minutes * v for (_, o), (v,) in counts.items())
    model.model.add(paid_sum >= sum(reach[len(ds)][0] * v for ds, v in variables))
    model.model.add(paid_sum <= sum(reach[len(ds)][1] * v for ds, v in variables))
    for day in range(model.horizon.days):
        _tie_day(model, day, counts, variables, per_class, link)
    _tie_successions(model, counts, variables, link)
    _tie_rest(model, contract, counts, variables, link)
    if model.rules["max_shifts_of_type"].hard and model.horizon.days == 7:
        for shift_type, limit in contract.max_shifts_per_week_by_type.items():
            terms = [
                v for (_, o), (v,) in counts.items() if model.options[o].shift_type == shift_type
            ]
            if terms:
                model.model.add(sum(terms) <= limit * len(members))
    model.pattern_counts[skills] = [(c, days, var) for c, _, days, var in per_class]


def _add_pattern_counts(model: ShiftModel, u: int, skills, members, patterns) -> list[tuple]:
    """A count of agents per class and pattern (summing to the class's size), each costing its
    pattern's penalty. Returns (class, class's options per day, days, count) per count."""
    m = model.model
    per_class: list[tuple[int, tuple, tuple[int, ...], object]] = []
    for c, (allowed, who) in enumerate(_member_classes(model, members).items()):
        for a in who:
            model.pattern_class[a] = c
        own = []
        for days, penalty in patterns:
            if not all(allowed[d] for d in days):
                continue
            var = m.new_int_var(0, len(who), f"N{skills}_{c}_{days}")
            model.unit_of[var.index] = u
            own.append(var)
            per_class.append((c, allowed, days, var))
            model.pattern_penalty[var.index] = penalty
            if round(penalty * SCALE):
                model.objective.append((round(penalty * SCALE), var))
        m.add(sum(own) == len(who))
    return per_class


def _tie_day(model: ShiftModel, day: int, counts, variables, per_class, link) -> None:
    """The group's shifts on ``day`` equal its agents whose pattern works that day; by Hall's
    condition, the agents of any set of classes working it need as many shifts among the
    options open to them."""
    m = model.model
    terms = [v for (d, _), (v,) in counts.items() if d == day]
    m.add(sum(terms) == sum(v for days, v in variables if day in days)).only_enforce_if(link)
    ids = sorted({c for c, _, _, _ in per_class})
    if len(ids) <= 1:
        return
    for r in range(1, len(ids)):
        for chosen in itertools.combinations(ids, r):
            opened = set().union(*(al[day] for c, al, _, _ in per_class if c in chosen))
            m.add(
                sum(v for (d, o), (v,) in counts.items() if d == day and o in opened)
                >= sum(v for c, _, ds, v in per_class if c in chosen and day in ds)
            ).only_enforce_if(link)


def _tie_successions(model: ShiftModel, counts, variables, link) -> None:
    """A forbidden late-then-early pair needs one agent working on either day (a relaxation)."""
    if model.settings is None or not model.rules["forbidden_succession"].hard:
        return
    options = model.options
    for first, second in model.settings.forbidden_successions:
        for day in range(model.horizon.days - 1):
            left = [
                v for (d, o), (v,) in counts.items() if d == day and options[o].shift_type == first
            ]
            right = [
                v
                for (d, o), (v,) in counts.items()
                if d == day + 1 and options[o].shift_type == second
            ]
            if left and right:
                model.model.add(
                    sum(left) + sum(right)
                    <= sum(v for ds, v in variables if day in ds or day + 1 in ds)
                ).only_enforce_if(link)


def _tie_rest(model: ShiftModel, contract, counts, variables, link) -> None:
    """The rest rule for a group (a relaxation): shifts ending at or after ``e`` on one day and
    shifts starting before ``e`` + the rest on the next are worked by different agents, so
    together they are at most the group's agents working either day. (Without it phase 1 plans
    a late shift and the next early one that no agent can work both of: on the bank week the
    named agents missed one planned shift in most small groups.)"""
    rest = -(-contract.min_rest_between_shifts_min // model.horizon.interval_minutes)
    if not rest or not model.rules["min_rest"].hard:
        return
    options, spd = model.options, model.horizon.slots_per_day
    for day in range(model.horizon.days - 1):
        today = [(options[o].end, v) for (d, o), (v,) in counts.items() if d == day]
        tomorrow = [(spd + options[o].start, v) for (d, o), (v,) in counts.items() if d == day + 1]
        working = sum(v for days, v in variables if day in days or day + 1 in days)
        for e in sorted({end for end, _ in today}):
            late = [v for end, v in today if end >= e]
            early = [v for start, v in tomorrow if start < e + rest]
            if late and early:
                model.model.add(sum(late) + sum(early) <= working).only_enforce_if(link)

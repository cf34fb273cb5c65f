"""Coverage: agents at work per queue and interval against the requirement, soft.

Agents of one skill group on one option are interchangeable, so the model counts them
(``unit_counts``) and places breaks as integer flows per unit (``break_flows``: how many of the
unit's agents on an option take each break at each offset); a multi-skilled unit's working
agents split over its queues as flows too (``skill_flows``). Per queue and interval,
``covered + under - over = required``: the model is never infeasible for want of agents.
Each missing agent costs its marginal cost (:mod:`openwfm.schedule.weights`; the k-th dearer
than the one before, a convex curve of lines), each surplus one ``over_weight``.

The phased strategy's models match counts instead: :func:`add_target_counts` (named agents
take phase 1's shift counts) and :func:`add_day_counts` (days off against phase 1's agents
per day).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import numpy as np

from openwfm.schedule.shiftmodel import SCALE, ShiftModel
from openwfm.schedule.weights import COST_BREAKPOINTS

# called with (unit index, skills, members, counts) for each group of a counts-only model
GroupHook = Callable[[int, tuple[str, ...], list[int], dict], None]


def add_coverage(model: ShiftModel, each_group: GroupHook | None = None) -> None:
    """Units, their break and skill flows, and the under/over cost per queue and interval.

    In a counts-only model (``days_only`` with no day variables: phase 1) each group's count
    per day and option is its own variable, and ``each_group`` adds the group's limits."""
    add_group_units(model, each_group)
    add_pool_units(model)
    contributions = add_flows(model)
    add_coverage_costs(model, contributions)


def add_group_units(model: ShiftModel, each_group: GroupHook | None = None) -> None:
    """One unit per skill group of named agents: its count of agents per (day, option)."""
    m, h = model.model, model.horizon
    counts_only = model.days_only
    for skills, members in model.scope.skill_groups().items():
        counts: dict[tuple[int, int], list] = defaultdict(list)
        for a in members:
            for day in range(h.days):
                for o in model.day_options[a, day]:
                    counts[day, o.index].append(
                        1 if counts_only else model.shift_var[a, day, o.index]
                    )
        for key, terms in counts.items():
            if counts_only:
                var = model.tag(key[0], m.new_int_var(0, len(terms), f"X{key}"))
                model.unit_of[var.index] = len(model.units)
                counts[key] = [var]
            elif len(terms) > 1:  # one count variable keeps the coverage rows short
                var = m.new_int_var(0, len(terms), f"X{key}")
                m.add(var == sum(terms))
                counts[key] = [var]
        if each_group is not None:
            each_group(len(model.units), skills, members, counts)
        _append_unit(model, "group", skills, counts, members, None)


def add_pool_units(model: ShiftModel) -> None:
    """One unit per anonymous pool: up to ``size`` agents a day, on any option."""
    m, queues = model.model, model.scope.queues
    for pool in model.scope.pools:
        skills = tuple(q for q in pool.skills if q in queues)
        counts = {}
        for day in range(model.horizon.days):
            day_vars = []
            for o in model.options:
                var = m.new_int_var(0, pool.size, f"X{pool.name}_{day}_{o.index}")
                counts[day, o.index] = [var]
                day_vars.append(var)
            m.add(sum(day_vars) <= pool.size)
        _append_unit(model, "pool", skills, counts, [], pool)


def _append_unit(model: ShiftModel, kind, skills, counts, members, pool) -> None:
    model.units.append((kind, skills, counts))
    model.unit_members.append(members)
    model.unit_pool.append(pool)
    model.unit_counts.append(counts)


def _unit_size(model: ShiftModel, u: int) -> int:
    pool = model.unit_pool[u]
    return len(model.unit_members[u]) if pool is None else pool.size


def add_flows(model: ShiftModel) -> dict[tuple[str, int], list]:
    """Break flows per unit, option and break; skill flows of multi-skilled units. Returns
    each (queue, slot)'s terms of agents at work on it."""
    contributions: dict[tuple[str, int], list] = defaultdict(list)
    for u, (_, skills, counts) in enumerate(model.units):
        working = _add_break_flows(model, u, counts)
        if skills:
            _add_skill_flows(model, u, skills, working, contributions)
    return contributions


def _add_break_flows(model: ShiftModel, u: int, counts: dict) -> dict[int, list]:
    """The unit's breaks as flows; returns per slot its (sign, variable) terms of agents at
    work (on shift and not on a break)."""
    m, spd = model.model, model.horizon.slots_per_day
    working: dict[int, list[tuple[int, object]]] = defaultdict(list)
    flows: dict[tuple[int, int, int], list[tuple[int, object]]] = {}
    bound = _unit_size(model, u)
    for (day, oi), terms in counts.items():
        o = model.options[oi]
        base = day * spd + o.start
        for t in range(base, base + o.length):
            working[t].extend((1, v) for v in terms)
        for b_index, b in enumerate(o.breaks):
            positions = []
            for k in range(b.first, b.last + 1):
                var = model.tag(day, m.new_int_var(0, bound, f"f{u}_{day}_{oi}_{b_index}_{k}"))
                model.unit_of[var.index] = u
                positions.append((k, var))
                for t in range(base + k, base + k + b.length):
                    working[t].append((-1, var))
            m.add(sum(v for _, v in positions) == sum(terms))
            flows[day, oi, b_index] = positions
    model.break_flows.append(flows)
    return working


def _add_skill_flows(model: ShiftModel, u: int, skills, working, contributions) -> None:
    """Each slot's working agents of the unit go to its queues (one queue: all of them)."""
    m, spd = model.model, model.horizon.slots_per_day
    upper = _unit_size(model, u)
    for t, terms in working.items():
        expr = sum(c * v for c, v in terms)
        if len(skills) == 1 or model.scope.count_every_skill:
            for q in skills:  # skill sets: every set the agent can serve counts it
                contributions[q, t].append(expr)
            continue
        parts = []
        for q in skills:
            var = model.tag(t // spd, m.new_int_var(0, upper, f"y{u}_{t}_{q}"))
            model.unit_of[var.index] = u
            model.skill_flows[u, t, q] = var
            parts.append(var)
            contributions[q, t].append(var)
        m.add(sum(parts) == expr)


def add_coverage_costs(model: ShiftModel, contributions: dict[tuple[str, int], list]) -> None:
    """``covered + under - over = required`` per queue and interval, and their costs (a
    queue-interval nobody can cover costs its whole requirement, as a constant)."""
    over_coefficient = round(model.scope.over_weight * SCALE)
    widest = _widest_keys(model.required) if model.scope.count_every_skill else None
    for q, array in model.required.items():
        over = over_coefficient if widest is None or q in widest else 0
        for t in set(np.flatnonzero(array).tolist()) | {t for (qq, t) in contributions if qq == q}:
            r = int(array[t])
            terms = contributions.get((q, t), [])
            marginal = model.scope.marginals.get((q, t))
            if marginal is None:
                marginal = np.full(COST_BREAKPOINTS, 1.0)
            if not terms:
                model.offset += float(np.sum(marginal[: min(r, COST_BREAKPOINTS)])) + max(
                    r - COST_BREAKPOINTS, 0
                ) * float(marginal[-1])
                continue
            _add_slot_cost(model, q, t, r, sum(terms), marginal, over)


def _widest_keys(required: dict) -> set[str]:
    """The queues and pools (``a+b``) no other pool of ``required`` contains. With skill sets
    an agent at work counts toward every queue and pool it can serve, so a surplus agent is
    surplus on all of them: it is priced once, on the widest (each agent serves one of them:
    the pools are the connected sets of queues its skills link)."""
    members = {key: frozenset(key.split("+")) for key in required}
    return {
        key for key, mine in members.items() if not any(mine < other for other in members.values())
    }


def _add_slot_cost(model: ShiftModel, q, t, r, covered, marginal, over_coefficient) -> None:
    m, spd = model.model, model.horizon.slots_per_day
    under = model.tag(t // spd, m.new_int_var(0, r, f"u_{q}_{t}"))
    over = model.tag(t // spd, m.new_int_var(0, 10**5, f"o_{q}_{t}"))
    m.add(covered + under - over == r)
    model.under[q, t], model.over[q, t] = under, over
    if over_coefficient:
        model.objective.append((over_coefficient, over))
    if r == 0:
        return
    scaled = np.round(marginal * SCALE).astype(int)
    if np.all(scaled == scaled[0]):
        model.objective.append((int(scaled[0]), under))
        return
    top = min(r, COST_BREAKPOINTS)
    cost = model.tag(t // spd, m.new_int_var(0, int(scaled.max()) * r, f"uc_{q}_{t}"))
    level = 0
    for k in range(top):  # cost >= F(k) + m_{k+1} (under - k): convex, exact at integers
        m.add(cost >= level + int(scaled[k]) * (under - k))
        level += int(scaled[k])
    model.objective.append((1, cost))


def add_target_counts(model: ShiftModel, targets: dict[tuple[tuple[str, ...], int, int], int]):
    """Phase 2: named agents take the group shift counts of phase 1 (``targets`` per skill
    group, day and option); each shift short or extra costs half its length in intervals
    (about the coverage it moves)."""
    counts: dict[tuple[tuple[str, ...], int, int], list] = defaultdict(list)
    for a, agent in enumerate(model.agents):
        key = model.scope.skill_key(agent)
        for day in range(model.horizon.days):
            for o in model.day_options[a, day]:
                counts[key, day, o.index].append(model.shift_var[a, day, o.index])
    # sorted: a set of string keys iterates in an order that changes with each process's
    # string hashing, and CP-SAT's search follows the order the model was built in
    for key in sorted(set(counts) | set(targets)):
        length = model.options[key[2]].length
        _match_count(model, counts.get(key, []), targets.get(key, 0), length)


def add_day_counts(model: ShiftModel, day_targets: dict[tuple[tuple[str, ...], int], int]):
    """Days-off planning: each group's agents at work per day against phase 1's
    (``day_targets``); each agent short or extra costs half a typical shift."""
    days: dict[tuple[tuple[str, ...], int], list] = defaultdict(list)
    for (a, d), var in model.day_var.items():
        days[model.scope.skill_key(model.agents[a]), d].append(var)
    length = float(np.median([o.length for o in model.options]))
    for key in sorted(set(days) | set(day_targets)):
        _match_count(model, days.get(key, []), day_targets.get(key, 0), length)


def _match_count(model: ShiftModel, terms: list, target: int, length: float) -> None:
    """``sum(terms) + short - extra = target``, each unit of short or extra costing
    ``length / 2`` (a constant when nothing can contribute)."""
    if not terms:
        model.offset += target * length * 0.5
        return
    weight = round(length * SCALE * 0.5)
    short = model.model.new_int_var(0, target, "")
    extra = model.model.new_int_var(0, len(terms), "")
    model.model.add(sum(terms) + short - extra == target)
    model.objective += [(weight, short), (weight, extra)]

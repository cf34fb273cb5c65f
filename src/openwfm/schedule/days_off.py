"""Days off in the phased strategy: phase 1's working-day patterns handed to named agents
(:func:`assign_patterns`). Groups without patterns plan their days with
:func:`openwfm.schedule.variants.days_off_model` instead."""

from __future__ import annotations

from collections import defaultdict

from openwfm.schedule.budget import cp_sat_solver
from openwfm.schedule.cpsat import SolveLimits
from openwfm.schedule.scope import agents_for, day_matches
from openwfm.schedule.shiftmodel import SCALE, ShiftModel

PATTERN_MISS_COST = 1000  # cost units per pattern handed out once too few or too many times


def _request_costs(agg: ShiftModel, members: list[int]) -> dict[tuple[int, int], float]:
    """Cost of each member working each day, from soft day requests (a wanted day off costs
    when worked; a wanted day of work costs when off, counted as a saving for working)."""
    cost: dict[tuple[int, int], float] = defaultdict(float)  # (agent, day) -> cost of working
    h, settings = agg.horizon, agg.settings
    if settings is None or agg.rules["shift_request"].hard:
        return cost
    base = agg.rules["shift_request"].weight
    for index, rule in enumerate(settings.requests):
        for a in agents_for(rule, agg.agents, f"schedule.requests[{index}]"):
            if a not in members:
                continue
            for d in range(h.days):
                if day_matches(rule, h, d):
                    weight = base * rule.weight
                    if rule.wanted:  # costs when the day is off
                        cost[a, d] -= weight
                    elif rule.shift is None:
                        cost[a, d] += weight
    return cost


def assign_patterns(
    agg: ShiftModel,
    members: list[int],
    wanted: dict[tuple[int, tuple[int, ...]], int],
    time_limit_s: float,
    limits: SolveLimits,
) -> set[tuple[int, int]] | None:
    """Hand phase 1's working-day patterns of one group to its named agents: each agent one
    pattern its fixed days off and availability allow (``wanted``: (class, days) -> count),
    each pattern as often as planned, day requests met where the choice is free. Returns
    the (agent, day) pairs worked, or None."""
    from ortools.sat.python import cp_model

    m = cp_model.CpModel()
    cost = _request_costs(agg, set(members))
    z: dict[tuple[int, tuple[int, ...]], object] = {}
    objective = []
    for a in members:
        choices = []
        for c, days in wanted:
            if agg.pattern_class.get(a) == c and all(agg.day_options[a, d] for d in days):
                var = m.new_bool_var("")
                z[a, (c, days)] = var
                choices.append(var)
                price = round(sum(cost[a, d] for d in days) * SCALE)
                if price:
                    objective.append(price * var)
        if not choices:
            return None
        m.add_exactly_one(choices)
    for days, count in wanted.items():
        terms = [var for (a, ds), var in z.items() if ds == days]
        short = m.new_int_var(0, count, "")
        extra = m.new_int_var(0, len(members), "")
        m.add(sum(terms) + short - extra == count)
        objective += [PATTERN_MISS_COST * SCALE * short, PATTERN_MISS_COST * SCALE * extra]
    m.minimize(sum(objective))
    solver = cp_sat_solver(time_limit_s, limits.num_workers, limits.seed)
    status = solver.solve(m)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    return {(a, d) for (a, (_, days)), var in z.items() if solver.value(var) for d in days}

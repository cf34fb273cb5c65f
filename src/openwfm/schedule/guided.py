"""Phase 1 guided by its linear relaxation: group shift counts from the LP, a day at a time.

Phase 1's group model (see :mod:`openwfm.schedule.solver`) can be too hard for a MIP solver's
first solution within the time limit (the Anonymous Bank week, about 41,000 variables: HiGHS
finds none in 500 s, CP-SAT none in 40 s), yet its linear relaxation is solved in seconds by
an interior-point method (:mod:`openwfm.schedule.relaxation`). The relaxation is a proven lower
bound and nearly a schedule: few of its shift counts are non-zero (309 of 3,234 on the bank
week). This module turns it into integer counts:

1. the working-day pattern counts of every group are rounded (largest remainder: each class
   keeps its size);
2. the shift counts are rounded by a small MIP (HiGHS; CP-SAT when HiGHS finds nothing) that
   holds every constraint of phase 1 over counts alone (per-day links to the patterns, weekly
   minutes, days worked), each count within one of its LP value, nearest to the LP;
3. while the time lasts, each day is re-optimised (a MIP for HiGHS, largest requirement first,
   twice round the week) with every other day fixed: its counts may take the floor or the
   ceiling of their LP value or keep their current one (counts the LP leaves at zero stay
   zero), breaks and skill splits continuous; kept when cheaper.

Breaks and skill splits become integer in the named-agent phases. The result has the shape of
phase 1's (values by phase 1's variable index for the counts), so those phases take it as is.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict

import numpy as np

from openwfm.schedule.budget import clock_now, cp_sat_solver
from openwfm.schedule.relaxation import (
    LinearProgram,
    linear_program,
    solve_integer,
    solve_relaxation,
)

SCALE = 100  # the scheduling model's objective units per cost unit (solver.SCALE)
ROUNDING_SHARE = 0.15  # of the time to the deadline at most for step 2 ...
ROUNDING_MIN_S = 3.0  # ... but at least this (HiGHS needs about a second; the step is needed)


@dataclasses.dataclass
class GuidedResult:
    """Phase 1 values (by variable index; counts only), objective (the model's units, offset
    included, as ``objective_value`` of a CP-SAT solve), bound (cost units) and a note."""

    values: list[int]
    objective: float
    bound: float
    note: str


class _Windows:
    """Phase 1's MIP restricted to the LP's neighbourhood, solved a part at a time."""

    def __init__(self, lp: LinearProgram, x: np.ndarray, counts: dict, patterns: set[int]):
        self.lp = lp
        self.x = x
        self.patterns = patterns
        self.of_day: dict[int, set[int]] = defaultdict(set)
        for i, (_, day, _) in counts.items():
            self.of_day[day].add(i)
        self.low = {i: math.floor(x[i] + 1e-9) for i in [*counts, *patterns]}
        self.high = {i: math.ceil(x[i] - 1e-9) for i in [*counts, *patterns]}
        self.fixed: dict[int, int] = {}
        self.best = math.inf

    def solve(self, free: set[int], time_limit_s: float, keep_current: bool = False):
        """Variables ``free`` integer within their window, ``self.fixed`` fixed, the rest of
        the counts continuous within their window. Returns (values of ``free``, objective in
        the model's units) or None."""
        lb = self.lp.lb.copy()
        ub = self.lp.ub.copy()
        for i, low in self.low.items():
            lb[i], ub[i] = low, self.high[i]
        for i, value in self.fixed.items():
            if i in free and keep_current:
                lb[i], ub[i] = min(lb[i], value), max(ub[i], value)
            elif i not in free:
                lb[i] = ub[i] = value
        integer = np.zeros(len(lb))
        integer[list(free | set(self.fixed))] = 1
        found = solve_integer(
            dataclasses.replace(self.lp, lb=lb, ub=ub), time_limit_s, integer=integer
        )
        if found is None:
            return None
        solution, objective = found
        return {i: int(round(solution[i])) for i in free}, objective


def _count_variables(agg) -> tuple[dict[int, tuple[int, int, int]], set[int]]:
    """Phase 1's shift count variables (index -> unit, day, option) and the indices of its
    pattern count variables."""
    counts = {
        var.index: (u, day, option)
        for u, (_, _, unit_counts) in enumerate(agg.units)
        for (day, option), (var,) in unit_counts.items()
    }
    patterns = {var.index for lst in agg.pattern_counts.values() for _, _, var in lst}
    return counts, patterns


def _days_by_load(agg, required: dict, days: set[int]) -> list[int]:
    spd = agg.horizon.slots_per_day
    load = {
        d: sum(int(array[d * spd : (d + 1) * spd].sum()) for array in required.values())
        for d in days
    }
    return sorted(days, key=lambda d: (-load[d], d))


def _largest_remainder(values: np.ndarray, total: int) -> np.ndarray:
    """Integers summing to ``total``, each the floor or ceiling of ``values`` scaled to it."""
    values = np.maximum(np.asarray(values, float), 0.0)
    if values.sum() > 0:
        values = values * (total / values.sum())
    else:
        values = np.full(len(values), total / max(len(values), 1))
    base = np.floor(values + 1e-9).astype(int)
    order = np.argsort(-(values - base), kind="stable")
    base[order[: max(total - int(base.sum()), 0)]] += 1
    return base


def _round_patterns(agg, x: np.ndarray) -> dict[int, int]:
    """Step 1: pattern counts per group and class, rounded keeping each class's size."""
    fixed: dict[int, int] = {}
    for lst in agg.pattern_counts.values():
        by_class: dict[int, list[int]] = defaultdict(list)
        for c, _, var in lst:
            by_class[c].append(var.index)
        for indices in by_class.values():
            total = int(round(sum(x[i] for i in indices)))
            for i, value in zip(indices, _largest_remainder(x[indices], total), strict=True):
                fixed[i] = int(value)
    return fixed


def _round_counts(proto, lp, x, counts, fixed: dict[int, int], time_limit_s, seed):
    """Step 2: integer shift counts near the LP's keeping every constraint of ``proto`` over
    counts, patterns and ties alone (``fixed``: the patterns' and ties' values)."""
    from ortools.sat.python import cp_model

    model = cp_model.CpModel()
    terms: dict[int, object] = dict(fixed)
    deviations = []
    for i in counts:
        low = max(int(lp.lb[i]), math.floor(x[i] + 1e-9) - 1)
        high = max(low, min(int(lp.ub[i]), math.ceil(x[i] - 1e-9) + 1))
        var = model.new_int_var(low, high, "")
        terms[i] = var
        target = round(x[i] * SCALE)
        deviation = model.new_int_var(0, SCALE * (high - low + 2), "")
        model.add(deviation >= SCALE * var - target)
        model.add(deviation >= target - SCALE * var)
        deviations.append(deviation)
    for constraint in proto.constraints:
        if not constraint.has_linear():  # (reading .linear first would turn it into one)
            continue
        linear = constraint.linear
        if not all(v in terms for v in linear.vars):
            continue
        expr = sum(k * terms[v] for v, k in zip(linear.vars, linear.coeffs, strict=True))
        low, high = linear.domain[0], linear.domain[1]
        if isinstance(expr, int):
            if not low <= expr <= high:
                return None  # the rounded patterns break a rule over patterns alone
            continue
        model.add_linear_constraint(expr, max(low, -(2**62)), min(high, 2**62))
    model.minimize(sum(deviations))
    rounding = linear_program(model.proto, set())  # a small MIP: HiGHS closes it at once
    found = None if rounding is None else solve_integer(rounding, time_limit_s)
    if found is not None:
        return {i: int(round(found[0][terms[i].index])) for i in counts}
    solver = cp_sat_solver(time_limit_s, 1, seed)
    if solver.solve(model) not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    return {i: int(solver.value(terms[i])) for i in counts}


def _improve_days(windows: _Windows, days: list[int], best: float, deadline: float) -> int:
    """Step 3: each day again, every other day fixed, kept when cheaper; the number kept."""
    improved = 0
    plan = [*days, *days]
    for position, day in enumerate(plan):
        remaining = deadline - clock_now()
        if remaining < 1.0:
            break
        found = windows.solve(
            windows.of_day[day],
            remaining / (len(days) - position % len(days)),  # the first round may take it all
            keep_current=True,
        )
        if found is not None and found[1] < best - 1e-6:
            windows.fixed.update(found[0])
            best = found[1]
            improved += 1
    windows.best = best
    return improved


def guided_phase_one(
    agg, required: dict, deadline: float, lp_time_limit_s: float, seed: int = 0
) -> GuidedResult | None:
    """Phase 1's counts from its linear relaxation (see the module text), or None when the
    model is not linear or a step found nothing. ``agg``: phase 1's builder, built, objective
    set; ``required``: agents required per queue and slot (days are taken largest first);
    ``deadline``: on the budget clock, for the steps after the relaxation (which may take
    ``lp_time_limit_s``)."""
    links = {lit.index for lit in agg.pattern_links.values()}
    lp = linear_program(agg.model.proto, links)
    if lp is None:
        return None
    relaxed = solve_relaxation(lp, lp_time_limit_s)
    if relaxed is None:
        return None
    x, bound_units = relaxed
    bound = bound_units / SCALE + agg.offset
    counts, patterns = _count_variables(agg)
    windows = _Windows(lp, x, counts, patterns)
    windows.fixed = _round_patterns(agg, x)
    rounding_s = max((deadline - clock_now()) * ROUNDING_SHARE, ROUNDING_MIN_S)
    fixed = {**windows.fixed, **{i: 1 for i in links}}
    rounded = _round_counts(agg.model.proto, lp, x, counts, fixed, rounding_s, seed)
    if rounded is None:
        return None
    windows.fixed.update(rounded)
    # the rounded counts' cost (breaks and skills continuous), then the days while time lasts;
    # without time for either, the rounded counts as they are (the named-agent phases follow)
    start = windows.solve(set(), max(deadline - clock_now(), ROUNDING_MIN_S))
    objective = math.inf if start is None else start[1]
    improved = 0
    windows.best = objective
    if start is not None:
        days = _days_by_load(agg, required, set(windows.of_day))
        improved = _improve_days(windows, days, objective, deadline)
    values = [0] * len(lp.cost)
    for i, v in windows.fixed.items():
        values[i] = v
    for i in links:
        values[i] = 1
    note = (
        f"LP-guided: relaxation {bound:.1f} (interior point), rounded "
        f"{objective / SCALE + agg.offset:.1f}, {improved} day solve(s) improved it: "
        f"{windows.best / SCALE + agg.offset:.1f}"
    )  # (inf: no time left to price the rounded counts)
    return GuidedResult(values, windows.best, bound, note)

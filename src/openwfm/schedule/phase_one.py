"""Phase 1 of the phased strategy: shift counts per skill group, day and option (and the
groups' working-day patterns) from :func:`openwfm.schedule.variants.phase_one_model`.

The model is a plain integer program. A large one (``PhasedBudget.guided_min_variables``) is
first turned into integer counts from its linear relaxation (:mod:`openwfm.schedule.guided`);
otherwise, or when that fails, HiGHS (:mod:`openwfm.schedule.highs`) solves it with every
pattern tie on, and its dual bound is a proven bound of the whole problem. When HiGHS
finds nothing in its share of the time (or the model is not linear), CP-SAT: first without
the pattern ties (the earlier relaxation, fast to a good solution, and a valid bound),
improved day by day (:func:`improve_by_day`); then the patterns are fitted to those daily
counts one group at a time and the whole improved by group and day with the ties on.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from openwfm.schedule.budget import PhasedBudget, clock_now, cp_sat_solver
from openwfm.schedule.cpsat import SolveLimits, diagnose, infeasible_error, timeout_error
from openwfm.schedule.guided import guided_phase_one
from openwfm.schedule.highs import mip
from openwfm.schedule.relaxation import linear_program, solve_relaxation
from openwfm.schedule.scope import ModelScope
from openwfm.schedule.shiftmodel import SCALE, ShiftModel
from openwfm.schedule.variants import phase_one_model


@dataclass
class PhaseOne:
    """Phase 1's answer: the model, values by variable index, the objective (the model's
    scaled units), the bound (cost units) and how it was found."""

    model: ShiftModel
    values: list[int]
    best: float
    bound: float
    status: str

    @property
    def cost(self) -> float:
        """The objective in cost units."""
        return self.best / SCALE + self.model.offset

    def value(self, var) -> int:
        return int(self.values[var.index])


def _solved(status) -> bool:
    from ortools.sat.python import cp_model

    return status in (cp_model.OPTIMAL, cp_model.FEASIBLE)


def _with_links(agg: ShiftModel, tied_units: set[int]):
    """A copy of phase 1's model with the pattern ties of ``tied_units`` on, the others off."""
    model = agg.model.clone()
    for u, lit in agg.pattern_links.items():
        model.add(model.get_bool_var_from_proto_index(lit.index) == int(u in tied_units))
    return model


def phase_one(
    scope: ModelScope, started: float, limits: SolveLimits, budget: PhasedBudget
) -> PhaseOne:
    """Group shift counts (with working-day patterns when they can be enumerated); HiGHS
    first (unless ``budget.highs`` is off), CP-SAT when it finds nothing. Raises
    InfeasibleError or ScheduleTimeoutError when CP-SAT finds nothing either."""
    agg = phase_one_model(scope)
    links = agg.pattern_links
    if len(agg.model.proto.variables) >= budget.guided_min_variables:
        # a large model: its linear relaxation (interior point) guides integer counts a day at
        # a time (openwfm.schedule.guided); the relaxation's value is the bound
        guided = guided_phase_one(
            agg,
            scope.required,
            started + limits.time_limit_s * budget.guided_share,
            limits.time_limit_s * budget.guided_lp_share,
            limits.seed,
        )
        if guided is not None:
            return PhaseOne(agg, guided.values, guided.objective, guided.bound, guided.note)
        limits = dataclasses.replace(
            limits, time_limit_s=max(limits.time_limit_s - (clock_now() - started), 1.0)
        )
        started = clock_now()
    if budget.highs:
        found = mip(
            agg.model.proto,
            {lit.index for lit in links.values()},
            limits.time_limit_s * budget.highs_share,
        )
        if found is not None:
            values, best, mip_bound = found
            name = f"HiGHS {best / SCALE + agg.offset:.1f}" + (", patterns tied" if links else "")
            return PhaseOne(agg, values, best, mip_bound / SCALE + agg.offset, name)
    return _phase_one_cp_sat(agg, started, limits, budget)


def _phase_one_cp_sat(
    agg: ShiftModel, started: float, limits: SolveLimits, budget: PhasedBudget
) -> PhaseOne:
    """CP-SAT without the pattern ties, improved day by day; then the ties (when any)."""
    from ortools.sat.python import cp_model

    # CP-SAT's steps below take their shares of the time that is left
    time_limit_s = max(limits.time_limit_s - (clock_now() - started), budget.step_min_s)
    started = clock_now()
    loose = _with_links(agg, set())
    solver = cp_sat_solver(
        max(time_limit_s * budget.loose_share, budget.step_min_s), limits.num_workers, limits.seed
    )
    status = solver.solve(loose)
    if not _solved(status):
        if status == cp_model.INFEASIBLE:
            raise infeasible_error(diagnose(agg.scope, time_limit_s))
        raise timeout_error(time_limit_s)
    bound = solver.best_objective_bound / SCALE + agg.offset
    name = "optimal" if status == cp_model.OPTIMAL else "feasible"
    n_vars = len(loose.proto.variables)
    values = [int(solver.value(loose.get_int_var_from_proto_index(i))) for i in range(n_vars)]
    share = budget.untied_improve_end if agg.pattern_links else budget.loose_improve_end
    values, best = improve_by_day(
        agg, loose, values, solver.objective_value, started + time_limit_s * share, limits, budget
    )
    first = PhaseOne(agg, values, best, bound, name)
    if not agg.pattern_links:
        return first
    first.status += f" (without day patterns {first.cost:.1f}"
    return _tie_patterns(first, started, time_limit_s, limits, budget)


def _tie_patterns(
    first: PhaseOne, started: float, time_limit_s: float, limits: SolveLimits, budget: PhasedBudget
) -> PhaseOne:
    """Tie one group at a time (that group's week free, everything else as found), then
    improve by group and day with every tie on. Without a pattern solution for a group the
    patterns are dropped (the days-off step plans the days instead)."""
    agg, values, best = first.model, list(first.values), first.best
    n_vars = len(values)
    order = sorted(agg.pattern_links, key=lambda u: -len(agg.unit_members[u]))
    done: set[int] = set()
    fit_end = started + time_limit_s * budget.pattern_fit_end
    for position, u in enumerate(order):
        model = _with_links(agg, done | {u})
        for i in range(n_vars):
            var = model.get_int_var_from_proto_index(i)
            if agg.unit_of.get(i, u) == u:
                model.add_hint(var, values[i])
            else:
                model.add(var == values[i])
        step = max((fit_end - clock_now()) / (len(order) - position), budget.step_min_s)
        sub = cp_sat_solver(step, limits.num_workers, limits.seed)
        if not _solved(sub.solve(model)):
            agg.pattern_counts.clear()  # no patterns: the days-off step plans them instead
            return PhaseOne(agg, values, best, first.bound, first.status + ", no pattern solution)")
        best = sub.objective_value
        for i in range(n_vars):
            if agg.unit_of.get(i, u) == u:
                values[i] = int(sub.value(model.get_int_var_from_proto_index(i)))
        done.add(u)
    status = first.status + f", patterns tied {best / SCALE + agg.offset:.1f})"
    tied = _with_links(agg, done)
    deadline = started + time_limit_s * budget.tied_improve_end
    values, best = improve_by_day(agg, tied, values, best, deadline, limits, budget, by_unit=True)
    return PhaseOne(agg, values, best, first.bound, status)


def improve_by_day(
    agg: ShiftModel,
    base,
    values: list[int],
    best: float,
    deadline: float,
    limits: SolveLimits,
    budget: PhasedBudget,
    by_unit: bool = False,
) -> tuple[list[int], float]:
    """Re-optimise phase 1 one day at a time, every other day's variables fixed.

    CP-SAT closes a single day's gap in about a second but moves slowly on the whole week at
    once; the weekly limits still hold because the other days stay at feasible values.
    ``base`` is the CP-SAT model, ``values`` a solution by variable index of objective
    ``best`` (scaled). ``by_unit`` alternates whole-week neighbourhoods of one skill group
    (the working-day patterns move several days at once) with the days. Returns the improved
    values and objective (never worse)."""
    n_vars = len(base.proto.variables)
    values = list(values)
    days = [("day", d) for d in sorted(set(agg.day_of.values()))]
    if by_unit:
        units = sorted(set(agg.unit_of.values()), key=lambda u: -len(agg.unit_members[u]))
        order = [*[("unit", u) for u in units], *days, *[("unit", u) for u in units], *days]
    else:
        order = [*days, *days]
    for position, (kind, block) in enumerate(order):
        tags = agg.day_of if kind == "day" else agg.unit_of
        remaining = deadline - clock_now()
        if remaining < budget.improve_stop_s:
            break
        model = base.clone()
        for i in range(n_vars):
            var = model.get_int_var_from_proto_index(i)
            if tags.get(i, block) == block:  # this block's, or untagged (rule slacks)
                model.add_hint(var, values[i])
            else:
                model.add(var == values[i])
        sub = cp_sat_solver(remaining / (len(order) - position), limits.num_workers, limits.seed)
        if _solved(sub.solve(model)) and sub.objective_value < best:
            best = sub.objective_value
            for i in range(n_vars):
                if tags.get(i, block) == block:
                    values[i] = int(sub.value(model.get_int_var_from_proto_index(i)))
    return values, best


def relaxation_bound(scope: ModelScope, budget: PhasedBudget, time_limit_s: float) -> float:
    """A proven lower bound (cost units) from the linear relaxation of phase 1's group model
    (HiGHS's interior point, within ``time_limit_s`` but at least ``budget.relaxation_min_s``),
    or 0 when it cannot be had."""
    agg = phase_one_model(scope)
    lp = linear_program(agg.model.proto, {lit.index for lit in agg.pattern_links.values()})
    found = None if lp is None else solve_relaxation(lp, max(time_limit_s, budget.relaxation_min_s))
    if found is None:
        return 0.0
    return max(found[1] / SCALE + agg.offset, 0.0)

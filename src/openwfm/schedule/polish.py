"""The polish: a large-neighbourhood search on the full named-agent model from a schedule
whose shifts are known (:func:`polish`)."""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict

from openwfm.schedule.budget import PhasedBudget, clock_now, cp_sat_solver
from openwfm.schedule.cpsat import SolvedValues, SolveLimits
from openwfm.schedule.relaxation import linear_program, solve_integer
from openwfm.schedule.scope import ModelScope
from openwfm.schedule.shiftmodel import SCALE, ShiftModel
from openwfm.schedule.variants import full_model


class _Search:
    """The full model and the incumbent; sub-models free a few agents' days."""

    def __init__(self, full: ShiftModel, fixed: dict[tuple[int, int], int], limits: SolveLimits):
        self.full = full
        self.fixed = fixed
        self.limits = limits
        self.n_vars = len(full.model.proto.variables)
        self.x_of_agent: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
        for (a, d, o), var in full.shift_var.items():
            self.x_of_agent[a].append((d, o, var.index))
        self.current: list[int] | None = None
        self.best = math.inf
        # the model as a MIP, once: a neighbourhood is the same matrices with the other shifts'
        # bounds fixed, which HiGHS settles in about a second (CP-SAT when it is not linear)
        self.program = linear_program(full.model.proto, set())

    def neighbourhood(self, free, limit: float):
        """(solution, objective) with the shift variables outside ``free(a, d)`` fixed, by
        HiGHS on the model's matrices (or CP-SAT on a copy of the model), or None."""
        if self.program is None:
            return self.run(self.sub_model(free), limit)
        lower, upper = self.program.lb.copy(), self.program.ub.copy()
        current = self.current
        for a, items in self.x_of_agent.items():
            for d, o, i in items:
                if not free(a, d):
                    v = current[i] if current is not None else int(self.fixed.get((a, d)) == o)
                    lower[i] = upper[i] = v
        narrowed = dataclasses.replace(self.program, lb=lower, ub=upper)
        found = solve_integer(narrowed, max(limit, 0.5))
        return None if found is None else ([int(round(v)) for v in found[0]], found[1])

    def sub_model(self, free):
        """A copy of the model with the shift variables outside ``free(a, d)`` fixed (to the
        incumbent, or to ``fixed`` before there is one), hinted at the incumbent."""
        model = self.full.model.clone()
        variables = model.proto.variables
        current = self.current
        for a, items in self.x_of_agent.items():
            for d, o, i in items:
                if free(a, d):
                    continue
                v = current[i] if current is not None else int(self.fixed.get((a, d)) == o)
                domain = variables[i].domain
                domain[0] = v
                domain[1] = v
        if current is not None:
            model.proto.solution_hint.vars.extend(range(self.n_vars))
            model.proto.solution_hint.values.extend(current)
        return model

    def run(self, model, limit: float, floor: float = 0.5):
        """(solution, objective) of ``model`` within ``limit``, or None."""
        from ortools.sat.python import cp_model

        solver = cp_sat_solver(max(limit, floor), self.limits.num_workers, self.limits.seed)
        status = solver.solve(model)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return None
        return list(solver.response_proto.solution), solver.objective_value


def _blocks(full: ShiftModel, first: list[set[int]]) -> list[tuple[set[int], set[int]]]:
    """One skill group's agents on two neighbouring days: small enough for CP-SAT to settle
    in a few seconds, large enough to move shifts between days and agents. The groups
    ``first`` (whose agents could not take all of phase 1's counts) come first."""
    groups = sorted(full.scope.skill_groups().values(), key=len)
    days = list(range(full.horizon.days))
    ahead = [set(members) for members in groups if set(members) in first]
    return [(members, {d, (d + 1) % len(days)}) for members in ahead for d in days] + [
        (set(members), {d, (d + 1) % len(days)}) for d in days for members in groups
    ]


def polish(
    scope: ModelScope,
    fixed: dict[tuple[int, int], int],
    deadline: float,
    limits: SolveLimits,
    budget: PhasedBudget,
    started: float = 0.0,
    bound: float = math.nan,
    first_groups: list[set[int]] | None = None,
) -> tuple[ShiftModel, SolvedValues] | None:
    """Large-neighbourhood search on the full named-agent model from the shifts ``fixed``
    ((agent, day) -> option).

    The model with every rule and the coverage is built once; the shifts are fixed and
    breaks and skills placed (the first solve), then neighbourhoods (HiGHS on the model's
    matrices when it is linear, CP-SAT otherwise) re-optimise a few agents'
    shifts at a time with everything else fixed (one skill group's agents on two neighbouring
    days; the weekly limits held by the other days). Every step starts from the incumbent as a
    hint and is kept only when it is cheaper, so the result is never worse than the first.
    ``first_groups``: groups of agents whose neighbourhoods come first.
    ``bound`` (cost units) is only passed on to ``progress``. Returns the model and the
    values, or None when even the first solve found nothing in time."""
    full = full_model(scope)
    full.minimize()
    search = _Search(full, fixed, limits)
    remaining = deadline - clock_now()
    first_s = min(  # the breaks and skills of the fixed shifts: the schedule itself
        max(remaining * budget.polish_first_share, budget.polish_first_min_s),
        budget.polish_first_max_s,
    )
    first = search.neighbourhood(lambda a, d: False, first_s)
    if first is None and search.program is not None:  # HiGHS found nothing: CP-SAT
        first = search.run(search.sub_model(lambda a, d: False), first_s)
    if first is None:
        return None
    search.current, search.best = first
    first_cost = search.best / SCALE + full.offset
    blocks = _blocks(full, first_groups or [])
    position = 0
    failures = 0
    while True:
        remaining = deadline - clock_now()
        if remaining < budget.polish_stop_s or failures >= len(blocks):
            break
        who, when = blocks[position % len(blocks)]
        position += 1
        found = search.neighbourhood(
            lambda a, d, who=who, when=when: a in who and d in when,
            min(remaining, budget.polish_step_max_s),
        )
        if found is not None and found[1] < search.best - 0.5:
            search.current, search.best = found
            failures = 0
            if limits.progress is not None:
                limits.progress(search.best / SCALE + full.offset, bound, clock_now() - started)
        else:
            failures += 1
    note = (
        f"polish (full model, {position} neighbourhoods): {first_cost:.1f} -> "
        f"{search.best / SCALE + full.offset:.1f}"
    )
    return full, SolvedValues(search.current, search.best, search.best, note)

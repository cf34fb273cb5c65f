"""The CP-SAT step: solve one model within the budget, or name why not.

:func:`solve` builds a model, optionally constructs a schedule for its hard rules first
(:mod:`openwfm.schedule.construct`), minimises, and raises :class:`InfeasibleError` naming
the contradicting rules (from :func:`diagnose`) or :class:`ScheduleTimeoutError`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from openwfm.errors import InfeasibleError, OpenWFMError
from openwfm.schedule import construct as construction
from openwfm.schedule.budget import clock_now, cp_sat_solver
from openwfm.schedule.scope import ModelScope
from openwfm.schedule.shiftmodel import SCALE, ShiftModel
from openwfm.schedule.variants import diagnosis_model, full_model

DIAGNOSE_MAX_S = 30.0  # the diagnosis solve's limit at most (seconds of the budget's clock)

Progress = Callable[[float, float, float], None]  # (objective, bound, seconds)


@dataclass
class SolveLimits:
    """A run's limits: ``time_limit_s`` (seconds of the active clock: wall or deterministic
    work), CP-SAT workers, the random seed, and a progress callback (objective, bound, s)."""

    time_limit_s: float
    num_workers: int = 2
    seed: int = 0
    progress: Progress | None = None


class ScheduleTimeoutError(OpenWFMError):
    """The solver found no schedule within the time limit."""


def timeout_error(time_limit_s: float) -> ScheduleTimeoutError:
    """The error stating the user's time limit."""
    return ScheduleTimeoutError(
        f"no schedule found within the time limit of {time_limit_s:g} s; raise --time-limit",
        field="time_limit",
    )


def infeasible_error(names: list[str]) -> InfeasibleError:
    """The error naming the hard-rule instances that contradict each other."""
    detail = ", ".join(names) if names else "(could not isolate them in time)"
    return InfeasibleError(f"the hard rules contradict each other: {detail}", field="schedule")


class SolvedValues:
    """A solver stand-in for result extraction: values by variable index, objective and
    bound (the model's scaled units), and a note on how they were found."""

    def __init__(self, values: list[int], objective: float, bound: float, note: str = "") -> None:
        self.values = values
        self.objective_value = objective
        self.best_objective_bound = bound
        self.note = note

    def value(self, var) -> int:
        return self.values[var.index]


def diagnose(scope: ModelScope, time_limit_s: float) -> list[str]:
    """Names of hard-rule instances that cannot hold together (an infeasible core)."""
    from ortools.sat.python import cp_model

    diag = diagnosis_model(scope)
    literals = list(diag.literals.items())
    diag.model.add_assumptions([lit for _, lit in literals])
    solver = cp_sat_solver(min(time_limit_s, DIAGNOSE_MAX_S), 1, 0)
    status = solver.solve(diag.model)
    if status != cp_model.INFEASIBLE:
        return []
    core = set(solver.sufficient_assumptions_for_infeasibility())
    return [f"{name}[{subject}]" for (name, subject), lit in literals if lit.index in core]


def _progress_callback(progress: Progress | None):
    from ortools.sat.python import cp_model

    class Callback(cp_model.CpSolverSolutionCallback):
        def __init__(self) -> None:
            super().__init__()
            self.start = time.perf_counter()

        def on_solution_callback(self) -> None:
            if progress is not None:
                progress(
                    self.objective_value / SCALE,
                    self.best_objective_bound / SCALE,
                    time.perf_counter() - self.start,
                )

    return Callback()


def _construct_hint(model: ShiftModel, time_limit_s: float, seed: int):
    """A schedule for the hard rules (agent by agent, else the whole model without its
    objective): (found | infeasible | unknown, values or None, time left for the search)."""
    began = clock_now()
    budget = construction.construct_budget(time_limit_s)
    scope = model.scope
    hint = construction.construct_by_agent(
        lambda a, residual: full_model(scope.replace(required=residual), members={a}),
        model,
        budget,
        seed,
    )
    found = "found"
    if hint is None:
        found, hint = construction.construct(
            model.model, max(budget - (clock_now() - began), 1.0), seed
        )
    time_limit_s = max(time_limit_s - (clock_now() - began), time_limit_s / 2)
    return found, hint, time_limit_s


def solve(
    build: Callable[[], ShiftModel],
    *,
    time_limit_s: float,
    num_workers: int,
    seed: int,
    progress: Progress | None,
    explain: bool = True,
    construct: bool = False,
) -> tuple[ShiftModel, object, str, float]:
    """Build (``build()``) and solve; raise InfeasibleError naming the rules, or
    ScheduleTimeoutError. Returns the model, the solver (or a stand-in with ``value``,
    ``objective_value``, ``best_objective_bound``), ``optimal`` / ``feasible`` (or
    ``infeasible`` when not ``explain``) and the wall seconds.

    ``construct``: first a schedule for the hard rules alone (:mod:`openwfm.schedule.construct`),
    then the objective solve starts from it and returns it when it finds nothing better."""
    from ortools.sat.python import cp_model

    started = time.perf_counter()
    model = build()
    hint, found = None, "skipped"
    if construct:
        found, hint, time_limit_s = _construct_hint(model, time_limit_s, seed)
    model.minimize()
    if hint is not None:
        construction.add_hint(model.model, hint)
    solver = cp_sat_solver(time_limit_s, num_workers, seed)
    if found == "infeasible":  # the hard rules alone have no solution
        status = cp_model.INFEASIBLE
    else:
        status = solver.solve(model.model, _progress_callback(progress))
    if hint is not None and status == cp_model.UNKNOWN:
        # nothing better than the construction in time: the constructed schedule
        solver = construction.Constructed(
            hint, construction.objective_of(model.model, hint), solver.best_objective_bound
        )
        status = cp_model.FEASIBLE
    wall = time.perf_counter() - started
    if not explain and status == cp_model.INFEASIBLE:
        return model, solver, "infeasible", wall
    if status == cp_model.INFEASIBLE or status == cp_model.MODEL_INVALID:
        raise infeasible_error(diagnose(model.scope, time_limit_s))
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        raise timeout_error(time_limit_s)
    name = "optimal" if status == cp_model.OPTIMAL else "feasible"
    return model, solver, name, wall


def try_solve(build: Callable[[], ShiftModel], time_limit_s: float, num_workers: int, seed: int):
    """One sub-solve of the phased strategy: (status, (model, solver)) or (status, None)."""
    try:
        model, solver, status, _ = solve(
            build,
            time_limit_s=time_limit_s,
            num_workers=num_workers,
            seed=seed,
            progress=None,
            explain=False,
        )
    except ScheduleTimeoutError:
        return "unknown", None
    if status == "infeasible":
        return status, None
    return status, (model, solver)


def cost_of(model: ShiftModel, solver) -> float:
    """The solution's objective in cost units (the model's constant included)."""
    return solver.objective_value / SCALE + model.offset


def bound_of(model: ShiftModel, solver) -> float:
    """The solver's bound in cost units (the model's constant included)."""
    return solver.best_objective_bound / SCALE + model.offset

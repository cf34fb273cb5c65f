"""Solver budgets: wall-clock seconds, or deterministic work that is the same on any machine.

The scheduler splits one time limit between many sub-solves (phase 1, named agents, polish)
by reading a clock. With a **wall** budget (the default) that clock is
:func:`time.perf_counter` and each CP-SAT solve stops after ``max_time_in_seconds``: the result
depends on how fast (and how busy) the machine is. With a **deterministic** budget the clock is
the work done so far: CP-SAT's deterministic time (``max_deterministic_time``, a count of
work roughly equal to seconds on a fast core) summed over the solves, and HiGHS gets a node
limit (:data:`HIGHS_NODES_PER_S` nodes per budget second) instead of a time limit, so the same
inputs give the same schedule on a busy 2-core CI machine as on a workstation. CP-SAT then runs
with one worker: CP-SAT's parallel portfolio shares solutions between threads in an order the
operating system decides, and its interleaved deterministic mode is many times slower.

The active budget is held in a context variable, set by :func:`use_budget` around one
``schedule_agents`` / ``plan_shift_counts`` call.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

HIGHS_NODES_PER_S = 50  # HiGHS branch-and-bound nodes per deterministic budget second
# HiGHS's presolve and root LP, charged per nonzero of the constraint matrix: the example
# center's polish neighbourhoods (104,030 nonzeros, closed at the root) took 0.22-0.26 CPU s
# each on the 2-core CI machine's kind of core, 2.2-2.7e-6 s per nonzero
HIGHS_WORK_PER_NONZERO_S = 2.5e-6
DETERMINISTIC_WORKERS = 1  # CP-SAT workers in deterministic mode (one search: reproducible)


@dataclass
class WorkClock:
    """The clock the scheduler's deadlines read: wall seconds, or deterministic work spent."""

    deterministic: bool = False
    spent: float = 0.0  # deterministic seconds of work done so far (deterministic mode)
    solves: int = field(default=0)

    def now(self) -> float:
        """Seconds on this clock (only differences between two readings mean anything)."""
        return self.spent if self.deterministic else time.perf_counter()

    def add(self, work_s: float) -> None:
        """Record the deterministic seconds one solve used."""
        self.solves += 1
        if self.deterministic:
            self.spent += max(float(work_s), 0.0)


_CLOCK: contextvars.ContextVar[WorkClock | None] = contextvars.ContextVar(
    "openwfm_schedule_clock", default=None
)


def clock() -> WorkClock:
    """The active clock (a wall clock when no budget is in use)."""
    active = _CLOCK.get()
    return active if active is not None else WorkClock()


def clock_now() -> float:
    """The active clock's reading, seconds."""
    return clock().now()


@contextlib.contextmanager
def use_budget(deterministic: bool) -> Iterator[WorkClock]:
    """Run the block with a fresh clock (nested calls keep the outer clock)."""
    outer = _CLOCK.get()
    if outer is not None:
        yield outer
        return
    token = _CLOCK.set(WorkClock(deterministic=deterministic))
    try:
        yield _CLOCK.get()
    finally:
        _CLOCK.reset(token)


def cp_sat_solver(time_limit_s: float, num_workers: int, seed: int):
    """A CP-SAT solver limited by the active budget; each ``solve`` advances the clock."""
    from ortools.sat.python import cp_model

    active = clock()

    class MeteredSolver(cp_model.CpSolver):
        def solve(self, model, solution_callback=None):  # noqa: D102 (CpSolver's)
            status = super().solve(model, solution_callback)
            active.add(self.response_proto.deterministic_time)
            return status

    solver = MeteredSolver()
    parameters = solver.parameters
    parameters.random_seed = int(seed)
    if active.deterministic:
        parameters.max_deterministic_time = float(time_limit_s)
        parameters.num_workers = DETERMINISTIC_WORKERS
    else:
        parameters.max_time_in_seconds = float(time_limit_s)
        parameters.num_workers = int(num_workers)
    return solver


def highs_limits(time_limit_s: float) -> dict:
    """scipy ``milp`` options limiting HiGHS by the active budget."""
    if clock().deterministic:
        return {"node_limit": max(int(time_limit_s * HIGHS_NODES_PER_S), 1)}
    return {"time_limit": max(float(time_limit_s), 1.0)}


def record_highs(time_limit_s: float, nodes: int | None, nonzeros: int = 0) -> None:
    """Advance a deterministic clock by the work of one HiGHS solve: the share of its node
    limit it used, and at least its root (``nonzeros`` of the constraint matrix times
    :data:`HIGHS_WORK_PER_NONZERO_S`). A solve that closes at the root costs work too, so a
    loop of such solves (the polish's neighbourhoods) ends on a deterministic clock."""
    active = clock()
    if active.deterministic:
        limit = max(int(time_limit_s * HIGHS_NODES_PER_S), 1)
        share = time_limit_s * min((nodes or 0) / limit, 1.0)
        active.add(max(share, HIGHS_WORK_PER_NONZERO_S * max(int(nonzeros), 0)))


@dataclass(frozen=True)
class PhasedBudget:
    """How the phased strategy (:mod:`openwfm.schedule.phased`) splits one time limit.

    Shares are of the time limit (``*_share``) or of the time left after phase 1 (``days_off_
    share``, ``assignment_end``); ``*_end`` are points on the clock as a share of the limit
    after phase 1's CP-SAT start; seconds are on the active clock (wall or deterministic).
    ``highs`` False skips HiGHS for phase 1 (its CP-SAT fallback runs)."""

    highs: bool = True
    highs_share: float = 0.65  # phase 1 as a MIP: at most this share (its first solution is late)
    loose_share: float = 0.25  # CP-SAT fallback: phase 1 without the pattern ties ...
    untied_improve_end: float = 0.34  # ... improved day by day until here (patterns follow)
    loose_improve_end: float = 0.4  # ... or until here (no patterns to tie)
    pattern_fit_end: float = 0.43  # ... the patterns tied one group at a time until here
    tied_improve_end: float = 0.6  # ... then improved by group and day until here
    days_off_share: float = 0.1  # of the time after phase 1: days off per group
    assignment_end: float = 0.8  # of the time after phase 1: named agents per group end here
    # phase 2 also tries free days when a group's cost exceeds its planned patterns' penalty by
    # more than this (cost units), and more than ``retry_min_s`` of its share is left
    retry_above_cost: float = 10.0
    retry_min_s: float = 2.0
    polish_first_share: float = 0.3  # the polish's first solve (breaks, skills): of the time left
    polish_first_max_s: float = 15.0  # ... at most
    polish_first_min_s: float = 5.0  # ... at least (HiGHS needs a second or two; no schedule
    # without it)
    polish_step_max_s: float = 3.0  # each neighbourhood at most
    polish_stop_s: float = 1.0  # the polish stops with less than this left
    improve_stop_s: float = 0.5  # day-by-day improvement stops with less than this left
    step_min_s: float = 1.0  # any sub-solve gets at least this
    relaxation_min_s: float = 5.0  # the fallback's bound (the LP): at least this, past the limit
    guided_min_variables: int = 20_000  # phase 1 models this large go LP-guided first (the bank
    # week: 41,000 variables, HiGHS's MIP finds nothing in 500 s; bench B, 12,900: MIP, 2% gap)
    guided_share: float = 0.8  # the LP-guided phase 1 ends by this share of the limit ...
    guided_lp_share: float = 0.5  # ... its relaxation may take this share
    finish_share: float = 0.03  # the polish stops this share of the limit before it ...
    finish_max_s: float = 3.0  # ... (at most this): reading the result back takes a second or two

    def finish_reserve(self, time_limit_s: float) -> float:
        """Seconds before the limit at which the polish stops."""
        return min(time_limit_s * self.finish_share, self.finish_max_s)


PHASED = PhasedBudget()  # the budget every phased run uses (read at call time)

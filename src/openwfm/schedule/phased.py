"""The phased strategy for named agents: three solves, each small enough for CP-SAT.

1. shift counts per skill group x day x option, with the groups' aggregated hard limits
   (a relaxation, so its bound is a valid lower bound of the whole problem); on a one-week
   horizon also how many of each group's agents work each working-day pattern, priced
   with the stretch rules (:mod:`openwfm.schedule.phase_one`), so days off hold those rules
   by construction;
2. the patterns go to named agents (:func:`assign_patterns`; or a days-off model per group
   when there are none), then named agents take the counts (every rule, no coverage terms:
   groups are independent) (:func:`assign_groups`);
3. with the shifts fixed, breaks and skills per interval against the requirement on the
   full named-agent model, then a large-neighbourhood search on it
   (:func:`openwfm.schedule.polish.polish`).

Fallbacks: when phase 1 finds nothing, a schedule constructed agent by agent and polished
(:func:`construct_and_polish`); when phase 2 finds a group's counts unreachable, the
one-model solve. :class:`openwfm.schedule.budget.PhasedBudget` names every share of the time.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

from openwfm.schedule import construct as construction
from openwfm.schedule.budget import PhasedBudget, clock_now
from openwfm.schedule.cpsat import (
    ScheduleTimeoutError,
    SolvedValues,
    SolveLimits,
    bound_of,
    cost_of,
    solve,
    timeout_error,
    try_solve,
)
from openwfm.schedule.days_off import assign_patterns
from openwfm.schedule.phase_one import PhaseOne, phase_one, relaxation_bound
from openwfm.schedule.polish import polish
from openwfm.schedule.result import ScheduleResult, extract, gap_of
from openwfm.schedule.scope import ModelScope
from openwfm.schedule.templates import ShiftOption
from openwfm.schedule.variants import (
    assignment_model,
    days_off_model,
    fixed_shift_model,
    full_model,
)

SkillKey = tuple[str, ...]


@dataclass
class PhaseHandover:
    """What the phases hand on: phase 1's counts per (group, day, option) and the options
    used per (group, day); the working days planned ((agent, day) pairs) and the groups
    planned; the shift fixed per (agent, day); notes for the result."""

    targets: dict[tuple[SkillKey, int, int], int] = field(default_factory=dict)
    restrict: dict[tuple[SkillKey, int], set[int]] = field(default_factory=lambda: defaultdict(set))
    pattern: set[tuple[int, int]] = field(default_factory=set)
    planned: set[SkillKey] = field(default_factory=set)
    day_plans: list[str] = field(default_factory=list)
    fixed: dict[tuple[int, int], int] = field(default_factory=dict)
    assigned: list[str] = field(default_factory=list)
    missed: list[set[int]] = field(default_factory=list)  # groups short of or over their counts
    polish_note: str = ""


def neighbours(options: list[ShiftOption]) -> dict[int, list[int]]:
    """Each option's neighbours: the same type and length one start step earlier or later."""
    lines: dict[tuple[str, int], list[ShiftOption]] = defaultdict(list)
    for o in options:
        lines[o.shift_type, o.length].append(o)
    near: dict[int, list[int]] = {}
    for line in lines.values():
        line.sort(key=lambda o: o.start)
        for i, o in enumerate(line):
            near[o.index] = [line[j].index for j in (i - 1, i + 1) if 0 <= j < len(line)]
    return near


def _label(key: SkillKey) -> str:
    return "+".join(key) or "-"


def _groups_by_size(scope: ModelScope) -> list[tuple[SkillKey, set[int]]]:
    """Skill groups, largest first: phase 2 solves them one at a time."""
    groups = {key: set(members) for key, members in scope.skill_groups().items()}
    return sorted(groups.items(), key=lambda kv: -len(kv[1]))


def _share(ordered, position: int) -> float:
    """This group's share of the time left to the groups from ``position`` on."""
    return len(ordered[position][1]) / sum(len(m) for _, m in ordered[position:])


def counts_of(first: PhaseOne, plan: PhaseHandover) -> None:
    """Phase 1's positive shift counts into ``plan`` (targets and options used)."""
    for _, skills, counts in first.model.units:
        for (day, oi), (var,) in counts.items():
            value = first.value(var)
            if value > 0:
                plan.targets[skills, day, oi] = value
                plan.restrict[skills, day].add(oi)


def plan_days_off(
    scope: ModelScope,
    first: PhaseOne,
    plan: PhaseHandover,
    ordered,
    deadline: float,
    limits: SolveLimits,
    step_min_s: float,
) -> None:
    """Per group, the working days: phase 1's patterns handed to named agents, else a
    days-off model against phase 1's agents per day. Into ``plan.pattern``."""
    day_targets: dict[tuple[SkillKey, int], int] = defaultdict(int)
    for (key, day, _), count in plan.targets.items():
        day_targets[key, day] += count
    for position, (key, members) in enumerate(ordered):
        budget = max((deadline - clock_now()) * _share(ordered, position), step_min_s)
        if key in first.model.pattern_counts:
            wanted = {
                (c, days): first.value(var)
                for c, days, var in first.model.pattern_counts[key]
                if first.values[var.index] > 0
            }
            chosen = assign_patterns(first.model, sorted(members), wanted, budget, limits)
            if chosen is not None:
                plan.pattern |= chosen
                plan.planned.add(key)
                plan.day_plans.append(f"{_label(key)} patterns")
                continue
        own = {k: v for k, v in day_targets.items() if k[0] == key}
        status, found = try_solve(
            lambda members=members, own=own: days_off_model(scope, members, own),
            budget,
            limits.num_workers,
            limits.seed,
        )
        if found is not None:
            model, solver = found
            plan.pattern |= {k for k, var in model.day_var.items() if solver.value(var)}
            plan.planned.add(key)
        plan.day_plans.append(f"{_label(key)} {status}")


def _assign_group(
    scope, first, plan, key, members, budget_s, deadline, share, limits, budget: PhasedBudget
):
    """Phase 2 for one group: its agents take its counts on the planned days (options phase 1
    used and their neighbouring starts); when that costs more than the patterns' penalty,
    free days too (the cheaper kept); when it fails on planned days, free days and only
    phase 1's options. Returns (status, (model, solver) or None)."""
    near = neighbours(scope.options)
    targets = {k: v for k, v in plan.targets.items() if k[0] == key}
    widened = {
        k: v | {n for o in v for n in near[o]} for k, v in plan.restrict.items() if k[0] == key
    }
    planned = key in plan.planned

    def attempt(restrict, pattern, limit):
        return try_solve(
            lambda: assignment_model(scope, members, targets, restrict, pattern),
            limit,
            limits.num_workers,
            limits.seed,
        )

    status, found = attempt(widened, plan.pattern if planned else None, budget_s)
    if found is not None and planned:
        # the planned patterns may not take every shift-level rule (rest, successions,
        # availability, minutes per agent): try free days too and keep the cheaper
        cost = cost_of(*found)
        spare = (deadline - clock_now()) * share
        priced = sum(
            first.model.pattern_penalty[var.index] * first.values[var.index]
            for _, _, var in first.model.pattern_counts.get(key, [])
        )
        if cost > priced + budget.retry_above_cost and spare > budget.retry_min_s:
            again_status, again = attempt(widened, None, spare)
            if again is not None and cost_of(*again) < cost - 1e-6:
                status, found = again_status, again
    if found is None and planned:
        used = {k: v for k, v in plan.restrict.items() if k[0] == key}
        status, found = attempt(used, None, max(budget_s / 2, budget.step_min_s))
    if found is None:
        # the counts need options phase 1 did not give this group (phase 1 holds each
        # contract's summed limits, not each agent's rules: rest, successions, availability,
        # or counts rounded from its linear relaxation): any day and any option the
        # contracts permit, the counts still the target. A shift off target costs a little
        # coverage; without this the whole two-phase result went for the one-model solve
        status, found = attempt(None, None, max(budget_s / 2, budget.step_min_s))
    return status, found


def assign_groups(
    scope: ModelScope,
    first: PhaseOne,
    plan: PhaseHandover,
    ordered,
    deadline: float,
    limits: SolveLimits,
    budget: PhasedBudget,
) -> str:
    """Phase 2, group by group: named agents take phase 1's counts; their shifts into
    ``plan.fixed``. Returns the last status (``infeasible`` when a group failed)."""
    status = "feasible"
    for position, (key, members) in enumerate(ordered):
        share = _share(ordered, position)
        budget_s = max((deadline - clock_now()) * share, budget.step_min_s)
        status, found = _assign_group(
            scope, first, plan, key, members, budget_s, deadline, share, limits, budget
        )
        if found is None:
            plan.assigned.append(f"{_label(key)}: {len(members)} agents, none found ({status})")
            return "infeasible"
        assign, assign_solver = found
        if cost_of(assign, assign_solver) > 1e-6:
            plan.missed.append(set(members))
        plan.assigned.append(
            f"{_label(key)}: {len(members)} agents {status} "
            f"{cost_of(assign, assign_solver):.1f}/{bound_of(assign, assign_solver):.1f}"
        )
        plan.fixed.update(
            {(a, d): o for (a, d, o), var in assign.shift_var.items() if assign_solver.value(var)}
        )
    return status


def _finish(scope, plan, started, bound, limits, budget, method, wall_started) -> ScheduleResult:
    """Phase 3: the polish from phase 2's shifts (or, when it finds nothing, the fixed-shift
    model solved once); the bound is phase 1's."""
    deadline = started + limits.time_limit_s - budget.finish_reserve(limits.time_limit_s)
    polished = polish(scope, plan.fixed, deadline, limits, budget, started, bound, plan.missed)
    note = "" if polished is None else polished[1].note
    status = "feasible"
    if polished is None:
        model, solver, status, _ = solve(
            lambda: fixed_shift_model(scope, plan.fixed),
            time_limit_s=_left(limits, started, budget),
            num_workers=limits.num_workers,
            seed=limits.seed,
            progress=limits.progress,
        )
    else:
        model, solver = polished
    result = extract(model, solver, status, time.perf_counter() - wall_started, method)
    result.status = "feasible"
    result.bound = bound
    plan.polish_note = note
    return result


def _left(limits: SolveLimits, started: float, budget: PhasedBudget) -> float:
    """The time left of the limit (at least one step)."""
    return max(limits.time_limit_s - (clock_now() - started), budget.step_min_s)


def schedule_phased(
    scope: ModelScope, limits: SolveLimits, method: str, budget: PhasedBudget
) -> ScheduleResult:
    """The three phases (module docstring), with their fallbacks; ``method`` is the
    under-coverage weighting used (for the result)."""
    started = clock_now()
    wall_started = time.perf_counter()
    try:
        first = phase_one(scope, started, limits, budget)
    except ScheduleTimeoutError:
        # phase 1 found nothing in its share: construct agent by agent, then improve
        return construct_and_polish(scope, started, wall_started, limits, method, budget)
    # the rest of the time: days off, then named agents per group, then the polish
    phase_one_s = clock_now() - started
    rest_s = max(limits.time_limit_s - phase_one_s, 0.0)
    if limits.progress is not None:
        limits.progress(first.cost, first.bound, clock_now() - started)
    plan = PhaseHandover()
    counts_of(first, plan)
    ordered = _groups_by_size(scope)
    days_end = started + phase_one_s + rest_s * budget.days_off_share
    plan_days_off(scope, first, plan, ordered, days_end, limits, budget.step_min_s)
    phase2_end = started + phase_one_s + rest_s * budget.assignment_end
    status = assign_groups(scope, first, plan, ordered, phase2_end, limits, budget)
    polish_note = ""
    if status == "infeasible":
        polish_note = "phase 2 found no assignment for a group: the one model solved instead"
        model, solver, status, _ = solve(
            lambda: full_model(scope),
            time_limit_s=_left(limits, started, budget),
            num_workers=limits.num_workers,
            seed=limits.seed,
            progress=limits.progress,
            construct=True,
        )
        result = extract(model, solver, status, time.perf_counter() - wall_started, method)
        result.bound = max(first.bound, result.bound)
    else:
        result = _finish(scope, plan, started, first.bound, limits, budget, method, wall_started)
        polish_note = plan.polish_note
    result.gap = gap_of(result.objective, result.bound)
    result.notes.append(
        f"phase 1 (group shift counts, {phase_one_s:.0f} s): {first.status}, "
        f"cost {first.cost:.1f}, bound {first.bound:.1f}; "
        f"days off per group: {', '.join(plan.day_plans)}; "
        f"phase 2 assigned {len(plan.targets)} group-day-option counts to named agents "
        f"(cost/bound per group: {'; '.join(plan.assigned)})"
        + (f"; {polish_note}" if polish_note else "")
    )
    return result


def construct_and_polish(
    scope: ModelScope,
    started: float,
    wall_started: float,
    limits: SolveLimits,
    method: str,
    budget: PhasedBudget,
) -> ScheduleResult:
    """A schedule agent by agent (:func:`openwfm.schedule.construct.construct_by_agent`),
    improved by the large-neighbourhood search until the deadline. No proven bound: the
    result's bound is the linear relaxation of phase 1's group model (0 when that fails)."""
    full = full_model(scope)
    remaining = limits.time_limit_s - (clock_now() - started)
    values = construction.construct_by_agent(
        lambda a, residual: full_model(scope.replace(required=residual), members={a}),
        full,
        construction.construct_budget(remaining),
        limits.seed,
    )
    if values is None:
        raise timeout_error(limits.time_limit_s)
    fixed = {(a, d): o for (a, d, o), var in full.shift_var.items() if values[var.index]}
    deadline = started + limits.time_limit_s - budget.finish_reserve(limits.time_limit_s)
    polished = polish(scope, fixed, deadline, limits, budget, started, 0.0)
    if polished is None:  # the constructed schedule as it is
        full.minimize()
        cost = construction.objective_of(full.model, values)
        polished = full, SolvedValues(values, cost, cost, "polish found nothing in time")
    model, solver = polished
    result = extract(model, solver, "feasible", time.perf_counter() - wall_started, method)
    # the polish's own value is not a bound
    left_s = limits.time_limit_s - (clock_now() - started)
    result.bound = relaxation_bound(scope, budget, left_s)
    result.gap = gap_of(result.objective, result.bound)
    result.notes.append(
        "phase 1 found nothing in its time: constructed agent by agent (greedy, against the "
        "requirement the agents before left), "
        f"then improved; {solver.note}; bound from the linear relaxation"
    )
    return result

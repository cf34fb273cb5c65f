"""Scheduling for named agents and anonymous pools: the public entry points.

The model is built from small parts (:mod:`openwfm.schedule.variants` lists the models and
the parts they compose): the scope (:mod:`~openwfm.schedule.scope`: agents, days, slots,
options), the rule families (:mod:`~openwfm.schedule.rule_families`, each instance named by
:meth:`~openwfm.schedule.shiftmodel.ShiftModel.constrain`), coverage with its costs
(:mod:`~openwfm.schedule.coverage`, :mod:`~openwfm.schedule.weights`). Small instances are
one CP-SAT model (:mod:`~openwfm.schedule.cpsat`); large ones run the phased strategy
(:mod:`~openwfm.schedule.phased`) with its named time budget
(:class:`~openwfm.schedule.budget.PhasedBudget`). Coverage is soft, so the model is never
infeasible because demand cannot be met; when hard rules contradict each other, a diagnosis
model names a small set of rules that cannot hold together.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from openwfm.errors import ScenarioError
from openwfm.model import WEEKDAYS, Scenario, ShiftTemplate
from openwfm.schedule import budget as budgets
from openwfm.schedule.aggregate import day_patterns
from openwfm.schedule.budget import clock_now, use_budget
from openwfm.schedule.cpsat import ScheduleTimeoutError, SolveLimits, solve, timeout_error
from openwfm.schedule.highs import mip as _mip  # noqa: F401 (its name before the split)
from openwfm.schedule.phased import schedule_phased
from openwfm.schedule.requirements import expand_requirements, start_date, under_costs
from openwfm.schedule.result import ScheduleResult, coverage_table, extract, merge_days
from openwfm.schedule.rules import OPEN_CONTRACT, rule_settings
from openwfm.schedule.scope import AgentSpec, ModelScope, PoolSpec
from openwfm.schedule.skill_sets import with_pools
from openwfm.schedule.templates import Horizon, ShiftOption, expand_templates
from openwfm.schedule.variants import full_model

__all__ = [
    "ScheduleResult",
    "ScheduleTimeoutError",
    "coverage_table",
    "day_patterns",
    "plan_shift_counts",
    "schedule_agents",
]

TWO_PHASE_ABOVE = 5000  # strategy auto: the phased strategy above this many shift variables
SLOT_DAY_MIN_S = 0.5  # slot planning day by day: each day's solve at least this


@dataclass
class Demand:
    """The requirement table, its column of agents wanted, shrinkage still to add on top
    (0..1) and the name errors give the table."""

    requirements: pd.DataFrame
    cover_column: str = "required_agents"
    extra_shrinkage: float = 0.0
    source: str = "requirements"


@dataclass
class Costs:
    """Under-coverage weighting (service, convex, linear) and the cost of one missing and one
    surplus agent-interval."""

    weighting: str
    under_weight: float
    over_weight: float


def schedule_agents(
    scenario: Scenario,
    requirements: pd.DataFrame,
    *,
    weeks: int = 1,
    start: dt.date | None = None,
    time_limit_s: float = 60.0,
    num_workers: int = 2,
    cover_column: str = "required_agents",
    extra_shrinkage: float = 0.0,
    weighting: str = "service",
    under_weight: float = 1.0,
    over_weight: float = 0.3,
    seed: int = 0,
    progress: Callable[[float, float, float], None] | None = None,
    source: str = "requirements",
    strategy: str = "auto",
    deterministic: bool = False,
    pool_requirements: pd.DataFrame | None = None,
) -> ScheduleResult:
    """Schedule the scenario's named agents against ``requirements`` for ``weeks`` weeks.

    ``requirements`` has ``interval_start``, ``queue`` and ``cover_column`` (on-line agents,
    e.g. ``required_agents`` from ``openwfm staff``); breaks are modelled explicitly, so they
    are not in the requirement. Other shrinkage (meetings, absence) is not scheduled here:
    ``extra_shrinkage`` (0..1) inflates the requirement by ``1 / (1 - extra_shrinkage)`` when the
    plan should carry it. ``weighting``: ``service`` (Erlang C impact when the table has
    ``arrival_rate_per_s``, ``aht_s``, ``target_s``; convex fallback otherwise), ``convex`` or
    ``linear``. Costs: one missing agent-interval costs ``under_weight`` or more, one surplus
    agent-interval ``over_weight``. ``strategy``: ``single`` (one CP-SAT model: optimal
    status and its own bound on small instances), ``two_phase`` (group shift counts, then
    named agents, then breaks and skills; the bound is phase 1's, a relaxation) or ``auto``
    (two phases above about 5,000 shift variables). Raises :class:`InfeasibleError` naming
    contradicting hard rules, :class:`ScheduleTimeoutError` when no schedule is found in
    ``time_limit_s`` seconds. ``deterministic``: ``time_limit_s`` is deterministic work (CP-SAT's
    deterministic seconds, HiGHS nodes; see :mod:`openwfm.schedule.budget`) instead of wall
    seconds, so the result does not depend on the machine's speed or load.
    ``pool_requirements`` (``interval_start, pool, cover_column``: skill sets,
    :func:`openwfm.staffing.skill_set_requirements`): an agent at work counts toward every queue
    and pool it can serve (:mod:`openwfm.schedule.skill_sets`); the coverage table has a row per
    pool too.
    """
    if not 1 <= weeks <= 6:
        raise ScenarioError(f"expected 1..6 weeks, got {weeks}", field="weeks")
    if not 0.0 <= extra_shrinkage < 1.0:
        raise ScenarioError("expected 0 <= extra_shrinkage < 1", field="extra_shrinkage")
    settings = scenario.schedule
    if settings is None:
        raise ScenarioError(
            "the scenario has no 'schedule' section with shift_templates", field="schedule"
        )
    start = start or settings.start_date or start_date(requirements, None)
    closed = frozenset(
        i for i, day in enumerate(WEEKDAYS) if scenario.grid.opening_hours.get(day) is None
    )
    horizon = Horizon(start, weeks * 7, scenario.grid.interval_minutes, closed)
    options = expand_templates(settings.shift_templates, horizon.interval_minutes)
    contracts = {c.name: c for c in scenario.contracts}
    agents = [
        AgentSpec(
            name=a.name,
            team=a.team,
            contract=contracts.get(a.contract, OPEN_CONTRACT) if a.contract else OPEN_CONTRACT,
            skills=tuple(q for q, p in a.skills.items() if p > 0),
        )
        for a in scenario.all_agents()
    ]
    if pool_requirements is not None:
        requirements, agents = with_pools(requirements, pool_requirements, agents, cover_column)
    demand = Demand(requirements, cover_column, extra_shrinkage, source)
    costs = Costs(weighting, under_weight, over_weight)
    limits = SolveLimits(time_limit_s, num_workers, seed, progress)
    try:
        with use_budget(deterministic):
            return _run(
                demand,
                horizon,
                options,
                agents,
                [],
                settings,
                costs,
                limits,
                _two_phase_wanted(strategy, agents, options, horizon),
                count_every_skill=pool_requirements is not None,
            )
    except ScheduleTimeoutError:
        # a step ran out of its share of the limit: the message states the user's limit
        raise timeout_error(time_limit_s) from None


def _two_phase_wanted(
    strategy: str, agents: list[AgentSpec], options: list[ShiftOption], horizon: Horizon
) -> bool:
    if strategy not in ("auto", "single", "two_phase"):
        raise ScenarioError(
            f"expected strategy auto, single or two_phase, got {strategy!r}", field="strategy"
        )
    if strategy == "auto":
        return len(agents) * horizon.days * len(options) > TWO_PHASE_ABOVE
    return strategy == "two_phase"


def plan_shift_counts(
    requirements: pd.DataFrame,
    templates: list[ShiftTemplate],
    *,
    days: int,
    start: dt.date | None = None,
    interval_minutes: int = 15,
    pool_size: int = 10_000,
    skills: tuple[str, ...] | None = None,
    time_limit_s: float = 60.0,
    num_workers: int = 2,
    cover_column: str = "required_agents",
    weighting: str = "linear",
    under_weight: float = 1.0,
    over_weight: float = 1.0,
    seed: int = 0,
    progress: Callable[[float, float, float], None] | None = None,
    deterministic: bool = False,
) -> ScheduleResult:
    """Slot-based planning: how many shifts of each template, start and length per day (and
    where their breaks go) to cover ``requirements`` with up to ``pool_size`` anonymous agents
    a day. Shift rows name pool members ``pool#i``. Default weighting is plain absolute
    deviation (under and over cost 1 per agent-interval). ``deterministic`` as in
    :func:`schedule_agents`."""
    with use_budget(deterministic):
        start = start_date(requirements, start)
        horizon = Horizon(start, days, interval_minutes)
        options = expand_templates(templates, interval_minutes, field="templates")
        queues = (
            tuple(sorted(requirements["queue"].astype(str).unique())) if skills is None else skills
        )
        pools = [PoolSpec("pool", queues, pool_size)]
        costs = Costs(weighting, under_weight, over_weight)
        limits = SolveLimits(time_limit_s, num_workers, seed, progress)
        if days == 1 or any(o.end > horizon.slots_per_day for o in options):
            demand = Demand(requirements, cover_column)
            return _run(demand, horizon, options, [], pools, None, costs, limits)
        # Shifts stay within their day and pools have no weekly rules: the days are independent
        # problems, and CP-SAT closes each day's gap far faster alone than all days together.
        demand = Demand(requirements, cover_column)
        return _by_day(demand, horizon, options, pools, costs, limits)


def _by_day(
    demand: Demand,
    horizon: Horizon,
    options: list[ShiftOption],
    pools: list[PoolSpec],
    costs: Costs,
    limits: SolveLimits,
) -> ScheduleResult:
    """``plan_shift_counts`` day by day, each day with its share of the time left."""
    start, days, interval_minutes = horizon.start, horizon.days, horizon.interval_minutes
    started = clock_now()
    wall_started = time.perf_counter()
    table = demand.requirements.copy()
    table["interval_start"] = pd.to_datetime(table["interval_start"])
    parts = []
    for day in range(days):
        first = pd.Timestamp(start) + pd.Timedelta(days=day)
        mask = (table["interval_start"] >= first) & (
            table["interval_start"] < first + pd.Timedelta(days=1)
        )
        if not mask.any():
            continue
        remaining = limits.time_limit_s - (clock_now() - started)
        day_limits = SolveLimits(
            max(remaining / (days - day), SLOT_DAY_MIN_S),
            limits.num_workers,
            limits.seed,
            limits.progress,
        )
        parts.append(
            _run(
                Demand(table[mask], demand.cover_column),
                Horizon(first.date(), 1, interval_minutes),
                options,
                [],
                pools,
                None,
                costs,
                day_limits,
            )
        )
    return merge_days(parts, horizon, time.perf_counter() - wall_started)


def _check_costs(costs: Costs) -> None:
    if costs.weighting not in ("service", "convex", "linear"):
        raise ScenarioError(
            f"expected weighting service, convex or linear, got {costs.weighting!r}",
            field="weighting",
        )
    if costs.under_weight < costs.over_weight:
        raise ScenarioError(
            "under_weight must be at least over_weight "
            "(a missing agent costs more than a surplus one)",
            field="under_weight",
        )


def _run(
    demand: Demand,
    horizon: Horizon,
    options: list[ShiftOption],
    agents: list[AgentSpec],
    pools: list[PoolSpec],
    settings,
    costs: Costs,
    limits: SolveLimits,
    two_phase: bool = True,
    count_every_skill: bool = False,
) -> ScheduleResult:
    """One run: the requirement read onto the horizon, then one model or the phased strategy."""
    _check_costs(costs)
    table = demand.requirements.copy()
    column = demand.cover_column
    if demand.extra_shrinkage and column in table.columns:
        table[column] = pd.to_numeric(table[column], errors="coerce") / (
            1.0 - demand.extra_shrinkage
        )
    required, per_slot = expand_requirements(table, horizon, column, demand.source)
    marginals, method = under_costs(per_slot, horizon, costs.under_weight, costs.weighting)
    scope = ModelScope(
        horizon=horizon,
        options=options,
        agents=agents,
        pools=pools,
        settings=settings,
        rules=rule_settings(settings),
        required=required,
        marginals=marginals,
        over_weight=costs.over_weight,
        count_every_skill=count_every_skill,
    )
    if agents and two_phase:
        budget = budgets.PHASED
        if count_every_skill:  # pool rows tie the groups' counts: a MIP's first solution is
            # late at any size, the LP-guided phase 1 finds one (the example center's week)
            # (the polish's neighbourhoods close at HiGHS's root there; on a deterministic
            # clock each is charged its root's work, budget.record_highs, so the loop ends)
            budget = dataclasses.replace(budget, guided_min_variables=0)
        result = schedule_phased(scope, limits, method, budget)
    else:
        model, solver, status, wall = solve(
            lambda: full_model(scope),
            time_limit_s=limits.time_limit_s,
            num_workers=limits.num_workers,
            seed=limits.seed,
            progress=limits.progress,
            construct=bool(agents),
        )
        result = extract(model, solver, status, wall, method)
    if costs.weighting == "service" and method != "service":
        result.notes.append(
            "under-coverage weighted by the convex fallback: the requirements lack "
            "arrival_rate_per_s / aht_s / target_s (or openwfm.queueing is missing)"
        )
    if result.uncovered.shape[0]:
        result.notes.append(
            f"{result.uncovered.shape[0]} queue-intervals under-covered "
            f"({int(result.uncovered['under'].sum())} agent-intervals)"
        )
    return result

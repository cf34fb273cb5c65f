"""One CP-SAT scheduling model under construction: its variables by meaning, the objective's
terms, and :meth:`ShiftModel.constrain`, through which every rule instance enters by name.

Decision variables (each family in its own dict, keyed as written):

- ``shift_var[agent, day, option]``: the agent works that shift option that day (boolean);
- ``day_var[agent, day]``: the agent works that day (days-off models, which choose no shifts);
- ``unit_counts[unit][day, option]``: how many of a unit's agents work the option (one count);
- ``break_flows[unit][day, option, break]``: (offset, count) pairs placing a unit's breaks;
- ``skill_flows[unit, slot, queue]``: a multi-skilled unit's working agents on each queue;
- ``under[queue, slot]`` / ``over[queue, slot]``: missing and surplus agents.

A unit is a group of named agents with the same skills, or an anonymous pool.
"""

from __future__ import annotations

from collections import defaultdict

from openwfm.model import clock_seconds
from openwfm.schedule.scope import ModelScope, PoolSpec, agents_for, allowed_lengths, day_matches
from openwfm.schedule.templates import Horizon, ShiftOption

SCALE = 100  # objective units -> CP-SAT integer coefficients


class ShiftModel:
    """A CP-SAT model over a :class:`ModelScope`, filled by the part functions.

    ``diagnose``: every hard rule instance is enforced by an assumption literal (named in
    ``literals``) so an infeasible model can name the rules that contradict each other; soft
    rules are left out. ``days_only``: the model decides days on and off, not shifts
    (``day_var`` instead of ``shift_var``); rules on minutes use each day's longest (shortest)
    option, a relaxation. ``members``: the agents this model schedules (None: every agent).
    """

    def __init__(
        self,
        scope: ModelScope,
        *,
        diagnose: bool = False,
        days_only: bool = False,
        members: set[int] | None = None,
    ) -> None:
        from ortools.sat.python import cp_model

        self.scope = scope
        self.model = cp_model.CpModel()
        self.diagnose = diagnose
        self.days_only = days_only
        self.members = members
        self.shift_var: dict[tuple[int, int, int], object] = {}
        self.day_var: dict[tuple[int, int], object] = {}
        self.day_options: dict[tuple[int, int], list[ShiftOption]] = {}
        self.unavailable: dict[tuple[int, int], set[int]] = defaultdict(set)
        # coverage units (groups of named agents with the same skills, then pools)
        self.units: list[tuple[str, tuple[str, ...], dict]] = []
        self.unit_members: list[list[int]] = []
        self.unit_pool: list[PoolSpec | None] = []
        self.unit_counts: list[dict[tuple[int, int], list]] = []
        self.break_flows: list[dict[tuple[int, int, int], list[tuple[int, object]]]] = []
        self.skill_flows: dict[tuple[int, int, str], object] = {}
        self.under: dict[tuple[str, int], object] = {}
        self.over: dict[tuple[str, int], object] = {}
        # the objective: (integer coefficient, variable) terms plus a constant in cost units
        self.objective: list[tuple[int, object]] = []
        self.offset = 0.0
        # rule instances: soft ones with their slack, hard ones counted (and named to diagnose)
        self.soft: list[tuple[str, str, str, object, float]] = []  # rule, subject, period, slack, w
        self.instances: dict[str, int] = defaultdict(int)
        self.literals: dict[tuple[str, str], object] = {}
        # phase 1 neighbourhoods: the day and the unit each variable belongs to (by index)
        self.day_of: dict[int, int] = {}
        self.unit_of: dict[int, int] = {}
        # phase 1 with working-day patterns: per unit its tie literal; per skill group its
        # (class, working days, count variable) triples; each agent's class; each count's penalty
        self.pattern_links: dict[int, object] = {}
        self.pattern_counts: dict[tuple[str, ...], list[tuple[int, tuple[int, ...], object]]] = {}
        self.pattern_class: dict[int, int] = {}
        self.pattern_penalty: dict[int, float] = {}

    # -- the scope's parts, by name ------------------------------------------------------
    @property
    def horizon(self) -> Horizon:
        return self.scope.horizon

    @property
    def options(self) -> list[ShiftOption]:
        return self.scope.options

    @property
    def agents(self):
        return self.scope.agents

    @property
    def rules(self):
        return self.scope.rules

    @property
    def settings(self):
        return self.scope.settings

    @property
    def required(self):
        return self.scope.required

    def schedules(self, a: int) -> bool:
        """Whether agent ``a`` is one this model schedules."""
        return self.members is None or a in self.members

    def hard(self, rule: str) -> bool:
        """Whether ``rule`` is enforced as a plain constraint (hard, and not diagnosing)."""
        return self.rules[rule].hard and not self.diagnose

    def tag(self, day: int, var):
        """Remember the day a variable belongs to (phase 1 re-optimises one day at a time)."""
        self.day_of[var.index] = min(day, self.horizon.days - 1)
        return var

    def minimize(self) -> None:
        """Set the objective: the sum of the terms the parts added."""
        self.model.minimize(sum(c * v for c, v in self.objective))

    # -- expressions the rules share -----------------------------------------------------
    def work(self, a: int, day: int):
        """1 when agent ``a`` works ``day`` (0 outside the horizon)."""
        if day < 0 or day >= self.horizon.days:
            return 0
        if self.days_only:
            return self.day_var.get((a, day), 0)
        return sum(self.shift_var[a, day, o.index] for o in self.day_options[a, day])

    def shifts(self, a: int, days, keep=lambda option: True):
        """Shifts agent ``a`` works on ``days`` among the options ``keep`` accepts."""
        return sum(
            self.shift_var[a, d, o.index] for d in days for o in self.day_options[a, d] if keep(o)
        )

    def minutes(self, a: int, days, most: bool = True):
        """Paid minutes agent ``a`` works on ``days``. In a days-only model: the longest
        (``most``) or shortest paid option of each day worked, a relaxation."""
        if self.days_only:
            pick = max if most else min
            return sum(
                pick(o.paid_minutes for o in self.day_options[a, d]) * self.work(a, d)
                for d in days
                if self.day_options[a, d]
            )
        return sum(
            o.paid_minutes * self.shift_var[a, d, o.index]
            for d in days
            for o in self.day_options[a, d]
        )

    # -- rules ---------------------------------------------------------------------------
    def constrain(
        self,
        name: str,
        subject: str,
        period: str,
        expr,
        lb=None,
        ub=None,
        span=1,
        weight: float | None = None,
    ) -> None:
        """Add ``lb <= expr <= ub`` as an instance of rule ``name`` for ``subject`` in
        ``period``: a constraint when the rule is hard; when soft, a slack variable (at most
        ``span``) costing ``weight`` (default: the rule's) per unit in the objective."""
        setting = self.rules[name]
        self.instances[name] += 1
        m = self.model
        if setting.hard:
            if self.diagnose:
                key = (name, subject)
                if key not in self.literals:
                    self.literals[key] = m.new_bool_var(f"{name}[{subject}]")
                lit = self.literals[key]
                if lb is not None:
                    m.add(expr >= lb).only_enforce_if(lit)
                if ub is not None:
                    m.add(expr <= ub).only_enforce_if(lit)
            else:
                if lb is not None:
                    m.add(expr >= lb)
                if ub is not None:
                    m.add(expr <= ub)
            return
        if self.diagnose:
            return
        slack = m.new_int_var(0, max(int(span), 1), f"slack_{name}")
        if lb is not None:
            m.add(expr + slack >= lb)
        if ub is not None:
            m.add(expr - slack <= ub)
        weight = setting.weight if weight is None else weight
        self.soft.append((name, subject, period, slack, weight))
        coefficient = round(weight * SCALE)
        if coefficient:
            self.objective.append((coefficient, slack))


# --------------------------------------------------------------------------- shift options


def add_availability(model: ShiftModel) -> None:
    """Options each agent may not work on each day (rule ``availability``)."""
    settings, h = model.settings, model.horizon
    if settings is None:
        return
    spd = h.slots_per_day
    for index, rule in enumerate(settings.availability):
        who = agents_for(rule, model.agents, f"schedule.availability[{index}]")
        lo = clock_seconds(rule.available_from) // (h.interval_minutes * 60)
        hi = -(-clock_seconds(rule.available_until) // (h.interval_minutes * 60))
        hi = spd if hi >= spd else hi
        for day in range(h.days):
            if not day_matches(rule, h, day):
                continue
            bad = {
                o.index for o in model.options if not rule.available or o.start < lo or o.end > hi
            }
            for a in who:
                model.unavailable[a, day] |= bad


def fixed_days_off(model: ShiftModel) -> set[tuple[int, int]]:
    """(agent, day) pairs off by a hard ``fixed_days_off`` rule (empty when it is soft)."""
    off: set[tuple[int, int]] = set()
    if model.settings is None or not model.rules["fixed_days_off"].hard:
        return off
    h = model.horizon
    for index, rule in enumerate(model.settings.fixed_days_off):
        for a in agents_for(rule, model.agents, f"schedule.fixed_days_off[{index}]"):
            off |= {(a, d) for d in range(h.days) if day_matches(rule, h, d)}
    return off


def add_shift_options(
    model: ShiftModel,
    *,
    pattern: set[tuple[int, int]] | None = None,
    restrict: dict[tuple[tuple[str, ...], int], set[int]] | None = None,
    fixed: dict[tuple[int, int], int] | None = None,
    hard_days_off: bool = False,
) -> None:
    """The options open to each agent each day (``day_options``) and, unless the model is
    days-only, one boolean per option with at most one a day.

    Closed: days the center is closed, agents outside ``members``, days outside ``pattern``
    (planned working days). Options dropped: lengths the contract does
    not allow, unavailable ones (when availability is hard), those outside ``restrict``
    (per skill group and day); with ``fixed`` (agent, day) -> option, that option is forced.
    ``hard_days_off``: days off by a hard ``fixed_days_off`` rule are closed too."""
    h = model.horizon
    add_availability(model)
    hard_availability = model.hard("availability")
    off = fixed_days_off(model) if hard_days_off else set()
    for a, agent in enumerate(model.agents):
        lengths = allowed_lengths(agent.contract, h)
        key = model.scope.skill_key(agent)
        for day in range(h.days):
            if (
                not model.schedules(a)
                or (pattern is not None and (a, day) not in pattern)
                or h.closed(day)  # the center is closed: no shift that day
            ):
                model.day_options[a, day] = []
                continue
            allowed = None if restrict is None else restrict.get((key, day), set())
            chosen = [
                o
                for o in model.options
                if (lengths is None or o.length in lengths)
                and not (hard_availability and o.index in model.unavailable[a, day])
                and (allowed is None or o.index in allowed)
                and (a, day) not in off
                and (fixed is None or fixed.get((a, day)) == o.index)
            ]
            model.day_options[a, day] = chosen
            if not model.days_only:
                _add_choice(model, a, day, chosen, forced=fixed is not None)


def _add_choice(model: ShiftModel, a: int, day: int, chosen: list[ShiftOption], forced: bool):
    """One boolean per option open to the agent that day, at most one true (or the one)."""
    m = model.model
    for o in chosen:
        model.shift_var[a, day, o.index] = m.new_bool_var(f"x{a}_{day}_{o.index}")
    if len(chosen) > 1:
        m.add_at_most_one(model.shift_var[a, day, o.index] for o in chosen)
    if forced and chosen:
        m.add(model.shift_var[a, day, chosen[0].index] == 1)


def add_day_variables(model: ShiftModel) -> None:
    """Days-only models: one boolean per agent and day with an open option."""
    m = model.model
    model.day_var = {
        (a, d): m.new_bool_var(f"w{a}_{d}")
        for (a, d), chosen in model.day_options.items()
        if chosen
    }

"""The CP-SAT scheduling model: shifts, breaks and skills for named agents (and anonymous pools).

Variables: one boolean per agent x day x shift option (type, start, length); break placement
per group of interchangeable agents (same skills) as integer flows ``f[group, day, option,
break, offset]`` that sum to the number of the group's agents on that option (agents of one group
on one option are interchangeable, so the counts can always be handed out to names afterwards);
skill assignment per group x interval as integer flows ``y[group, interval, queue]`` that sum to
the group's working agents (an agent's working interval counts toward exactly one skill).
Coverage is soft: ``covered + under - over = required`` with slack, so the model is never
infeasible because demand cannot be met. Rules are linear constraints, each named; hard ones
are constraints, soft ones get a slack variable weighted in the objective. When the hard rules
contradict each other, a second solve with one assumption literal per rule instance names a
small set of rules that cannot hold together.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from openwfm.errors import DataError, InfeasibleError, OpenWFMError, ScenarioError
from openwfm.model import (
    WEEKDAYS,
    Contract,
    DayRule,
    RuleSetting,
    Scenario,
    ScheduleSettings,
    ShiftTemplate,
    clock_seconds,
)
from openwfm.schedule import construct as construction
from openwfm.schedule.budget import (
    clock_now,
    cp_sat_solver,
    highs_limits,
    record_highs,
    use_budget,
)
from openwfm.schedule.rules import OPEN_CONTRACT, RULES, rule_settings
from openwfm.schedule.templates import Horizon, ShiftOption, expand_templates
from openwfm.schedule.weights import MAX_SEGMENTS, under_marginal_costs

SCALE = 100  # objective units -> CP-SAT integer coefficients
BREAK = "break"


class ScheduleTimeoutError(OpenWFMError):
    """The solver found no schedule within the time limit."""


@dataclass
class AgentSpec:
    name: str
    team: str | None
    contract: Contract
    skills: tuple[str, ...]


@dataclass
class PoolSpec:
    """``size`` anonymous interchangeable agents per day (slot-based planning)."""

    name: str
    skills: tuple[str, ...]
    size: int


@dataclass
class ScheduleResult:
    """Everything a schedule run returns. Tables are pandas DataFrames:

    - ``shifts``: agent, team, contract, date, shift_type, shift_start, shift_end,
      paid_minutes, breaks (``HH:MM-HH:MM name`` joined by ``; ``);
    - ``activities``: agent, interval_start, activity (a queue, or a break's name);
    - ``coverage``: interval_start, queue, required, scheduled, under, over;
    - ``rules``: per rule: hard, weight, unit, instances, violated, violation, penalty;
    - ``violations``: one row per violated soft-rule instance.

    ``objective`` and ``bound`` are in cost units (one missing agent-interval = under_weight),
    ``gap = (objective - bound) / objective``.
    """

    shifts: pd.DataFrame
    activities: pd.DataFrame
    coverage: pd.DataFrame
    rules: pd.DataFrame
    violations: pd.DataFrame
    status: str
    objective: float
    bound: float
    gap: float
    wall_time_s: float
    weighting: str
    horizon: Horizon
    coverage_cost: float = 0.0
    rule_cost: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def uncovered(self) -> pd.DataFrame:
        """Coverage rows with fewer agents than required."""
        return self.coverage[self.coverage["under"] > 0].reset_index(drop=True)


# --------------------------------------------------------------------------- inputs


def _expand_requirements(
    requirements: pd.DataFrame, horizon: Horizon, column: str, source: str
) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """Required agents per queue as an array over the horizon's slots (ceil of the column).

    Rows on a coarser grid than the schedule's apply to every slot they span. Returns the
    arrays and the per-slot rows (with any arrival_rate_per_s / aht_s / target_s columns).
    """
    for needed in ("interval_start", "queue", column):
        if needed not in requirements.columns:
            raise DataError(
                f"missing column {needed!r} (have: {', '.join(map(str, requirements.columns))})",
                file=source,
                field=needed,
            )
    table = requirements.copy()
    try:
        table["interval_start"] = pd.to_datetime(table["interval_start"])
    except (ValueError, TypeError) as error:
        raise DataError(
            f"unparseable timestamp: {error}", file=source, field="interval_start"
        ) from None
    if getattr(table["interval_start"].dt, "tz", None) is not None:
        table["interval_start"] = table["interval_start"].dt.tz_localize(None)
    values = pd.to_numeric(table[column], errors="coerce")
    bad = values.isna() | (values < 0)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"expected a number >= 0, got {table[column].iloc[row]!r}",
            file=source,
            line=row + 2,
            field=column,
        )
    table["required"] = np.ceil(values.to_numpy(float) - 1e-9).astype(int)
    step = horizon.interval_minutes
    rows = []
    arrays: dict[str, np.ndarray] = {}
    for queue, part in table.groupby("queue", sort=True):
        part = part.sort_values("interval_start")
        starts = part["interval_start"]
        minutes = (starts - pd.Timestamp(horizon.start)).dt.total_seconds() / 60
        if ((minutes % step) != 0).any():
            row = int(part.index[(minutes % step != 0).to_numpy()][0])
            raise DataError(
                f"interval start not on the {step}-minute grid",
                file=source,
                line=row + 2,
                field="interval_start",
            )
        diffs = np.diff(minutes.to_numpy())
        diffs = diffs[diffs > 0]
        span = int(diffs.min()) if diffs.size else step
        repeat = max(span // step, 1) if span % step == 0 else 1
        array = np.zeros(horizon.n_slots, dtype=int)
        first = (minutes // step).astype(int).to_numpy()
        for k in range(repeat):
            slots = first + k
            keep = (slots >= 0) & (slots < horizon.days * horizon.slots_per_day)
            array[slots[keep]] = np.maximum(array[slots[keep]], part["required"].to_numpy()[keep])
            expanded = part[keep].copy()
            expanded["slot"] = slots[keep]
            rows.append(expanded)
        arrays[str(queue)] = array
    per_slot = pd.concat(rows, ignore_index=True) if rows else table.assign(slot=[])
    per_slot = per_slot.drop_duplicates(["queue", "slot"])
    return arrays, per_slot


def _day_matches(rule: DayRule, horizon: Horizon, day: int) -> bool:
    date = horizon.date(day)
    if rule.date is not None and rule.date != date:
        return False
    return rule.weekday is None or WEEKDAYS[date.weekday()] == rule.weekday


def _agents_for(rule: DayRule, agents: list[AgentSpec], where: str) -> list[int]:
    if rule.agent == "*":
        return list(range(len(agents)))
    found = [i for i, a in enumerate(agents) if rule.agent in (a.name, a.team)]
    if not found:
        raise ScenarioError(f"unknown agent or team {rule.agent!r}", field=f"{where}.agent")
    return found


# --------------------------------------------------------------------------- model


class _Builder:
    def __init__(
        self,
        *,
        horizon: Horizon,
        options: list[ShiftOption],
        agents: list[AgentSpec],
        pools: list[PoolSpec],
        settings: ScheduleSettings | None,
        rules: dict[str, RuleSetting],
        required: dict[str, np.ndarray],
        marginals: dict[tuple[str, int], np.ndarray],
        over_weight: float,
        diagnose: bool = False,
        aggregate: bool = False,
        restrict: dict[tuple[tuple[str, ...], int], set[int]] | None = None,
        targets: dict[tuple[tuple[str, ...], int, int], int] | None = None,
        fixed: dict[tuple[int, int], int] | None = None,
        subset: set[int] | None = None,
        pattern: set[tuple[int, int]] | None = None,
        day_targets: dict[tuple[tuple[str, ...], int], int] | None = None,
        day_patterns: bool = False,
    ) -> None:
        from ortools.sat.python import cp_model

        self.cp = cp_model
        self.m = cp_model.CpModel()
        self.h = horizon
        self.options = options
        self.agents = agents
        self.pools = pools
        self.settings = settings
        self.rules = rules
        self.required = required
        self.marginals = marginals
        self.over_weight = over_weight
        self.diagnose = diagnose
        self.aggregate = aggregate
        self.restrict = restrict
        self.targets = targets
        self.fixed = fixed
        self.subset = subset
        self.pattern = pattern
        self.day_targets = day_targets
        self.day_patterns = day_patterns
        self.pattern_link = None
        self.pattern_links: dict[int, object] = {}  # unit -> its tie literal
        # phase 1 with day patterns: per skill group, (working days, count variable) pairs
        self.pattern_counts: dict[tuple[str, ...], list[tuple[int, tuple[int, ...], object]]] = {}
        self.pattern_class: dict[int, int] = {}  # agent -> its class within its group
        self.pattern_penalty: dict[int, float] = {}  # pattern count variable -> unit penalty
        self.w: dict[tuple[int, int], object] = {}
        self.objective: list[tuple[int, object]] = []
        self.offset = 0.0
        self.soft: list[tuple[str, str, str, object, float]] = []  # rule, subject, period, slack, w
        self.instances: dict[str, int] = defaultdict(int)
        self.literals: dict[tuple[str, str], object] = {}
        self.x: dict[tuple[int, int, int], object] = {}
        self.unavailable: dict[tuple[int, int], set[int]] = defaultdict(set)
        self.day_of: dict[int, int] = {}
        self.unit_of: dict[int, int] = {}  # variable index -> unit (phase 1 neighbourhoods)

    def tag(self, day: int, var):
        """Remember the day a variable belongs to (phase 1 re-optimises one day at a time)."""
        self.day_of[var.index] = min(day, self.h.days - 1)
        return var

    # -- rules ---------------------------------------------------------------
    def constrain(self, name: str, subject: str, period: str, expr, lb=None, ub=None, span=1):
        """Add ``lb <= expr <= ub`` as rule ``name`` (hard, or soft with a slack variable)."""
        setting = self.rules[name]
        self.instances[name] += 1
        m = self.m
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
        weight = setting.weight
        self.soft.append((name, subject, period, slack, weight))
        coefficient = round(weight * SCALE)
        if coefficient:
            self.objective.append((coefficient, slack))

    # -- variables -----------------------------------------------------------
    def _allowed_lengths(self, contract: Contract) -> set[int] | None:
        if not contract.shift_lengths_min:
            return None
        return {length // self.h.interval_minutes for length in contract.shift_lengths_min}

    def _availability(self) -> None:
        """Options each agent may not work on each day (availability rule)."""
        if self.settings is None:
            return
        spd = self.h.slots_per_day
        for index, rule in enumerate(self.settings.availability):
            where = f"schedule.availability[{index}]"
            who = _agents_for(rule, self.agents, where)
            lo = clock_seconds(rule.available_from) // (self.h.interval_minutes * 60)
            hi = -(-clock_seconds(rule.available_until) // (self.h.interval_minutes * 60))
            hi = spd if hi >= spd else hi
            for day in range(self.h.days):
                if not _day_matches(rule, self.h, day):
                    continue
                bad = {
                    o.index
                    for o in self.options
                    if not rule.available or o.start < lo or o.end > hi
                }
                for a in who:
                    self.unavailable[a, day] |= bad

    def build(self) -> None:
        m, h = self.m, self.h
        self._availability()
        hard_availability = self.rules["availability"].hard and not self.diagnose
        self.day_options: dict[tuple[int, int], list[ShiftOption]] = {}
        queues = set(self.required)
        off: set[tuple[int, int]] = set()
        if self.aggregate and self.settings is not None and self.rules["fixed_days_off"].hard:
            for index, rule in enumerate(self.settings.fixed_days_off):
                for a in _agents_for(rule, self.agents, f"schedule.fixed_days_off[{index}]"):
                    off |= {(a, d) for d in range(h.days) if _day_matches(rule, h, d)}
        for a, agent in enumerate(self.agents):
            lengths = self._allowed_lengths(agent.contract)
            key = tuple(q for q in agent.skills if q in queues)
            for day in range(h.days):
                if (
                    (self.subset is not None and a not in self.subset)
                    or (self.pattern is not None and (a, day) not in self.pattern)
                    or h.closed(day)  # the center is closed: no shift that day
                ):
                    self.day_options[a, day] = []
                    continue
                chosen = []
                allowed = None if self.restrict is None else self.restrict.get((key, day), set())
                for o in self.options:
                    if lengths is not None and o.length not in lengths:
                        continue
                    if hard_availability and o.index in self.unavailable[a, day]:
                        continue
                    if (allowed is not None and o.index not in allowed) or (a, day) in off:
                        continue
                    if self.fixed is not None and self.fixed.get((a, day)) != o.index:
                        continue
                    if not self.aggregate:
                        self.x[a, day, o.index] = m.new_bool_var(f"x{a}_{day}_{o.index}")
                    chosen.append(o)
                self.day_options[a, day] = chosen
                if len(chosen) > 1 and not self.aggregate:
                    m.add_at_most_one(self.x[a, day, o.index] for o in chosen)
                if self.fixed is not None and chosen:
                    m.add(self.x[a, day, chosen[0].index] == 1)
        if self.aggregate and self.day_targets is not None:
            # days-off planning: a day on/off per agent, the day-level rules, and the number of
            # each group's agents working each day taken from phase 1
            self.w = {
                (a, d): m.new_bool_var(f"w{a}_{d}")
                for (a, d), chosen in self.day_options.items()
                if chosen
            }
            self._match_days()
            self._agent_rules()
            return
        if self.targets is not None:
            self._match_targets()
        elif not self.diagnose:
            self._coverage()
        if not self.aggregate:
            self._agent_rules()

    def work(self, a: int, day: int):
        if day < 0 or day >= self.h.days:
            return 0
        if self.aggregate:
            return self.w.get((a, day), 0)
        return sum(self.x[a, day, o.index] for o in self.day_options[a, day])

    # -- coverage ------------------------------------------------------------
    def _coverage(self) -> None:
        m, h = self.m, self.h
        spd = h.slots_per_day
        queues = set(self.required)
        # units: groups of named agents with the same skills, and pools
        units: list[tuple[str, tuple[str, ...], dict]] = []
        groups: dict[tuple[str, ...], list[int]] = defaultdict(list)
        for a, agent in enumerate(self.agents):
            groups[tuple(q for q in agent.skills if q in queues)].append(a)
        self.unit_members: list[list[int]] = []
        self.unit_pool: list[PoolSpec | None] = []
        self.X: list[dict[tuple[int, int], list]] = []
        for skills, members in groups.items():
            counts: dict[tuple[int, int], list] = defaultdict(list)
            for a in members:
                for day in range(h.days):
                    for o in self.day_options[a, day]:
                        counts[day, o.index].append(
                            1 if self.aggregate else self.x[a, day, o.index]
                        )
            for key, terms in counts.items():
                if self.aggregate:
                    var = self.tag(key[0], m.new_int_var(0, len(terms), f"X{key}"))
                    self.unit_of[var.index] = len(units)
                    counts[key] = [var]
                elif len(terms) > 1:  # one count variable keeps the coverage rows short
                    var = m.new_int_var(0, len(terms), f"X{key}")
                    m.add(var == sum(terms))
                    counts[key] = [var]
            if self.aggregate:
                self._aggregate_limits(members, counts)
                if self.day_patterns:
                    self.units_so_far = units
                    self._patterns(skills, members, counts)
            units.append(("group", skills, counts))
            self.unit_members.append(members)
            self.unit_pool.append(None)
            self.X.append(counts)
        for pool in self.pools:
            skills = tuple(q for q in pool.skills if q in queues)
            counts = {}
            for day in range(h.days):
                day_vars = []
                for o in self.options:
                    var = m.new_int_var(0, pool.size, f"X{pool.name}_{day}_{o.index}")
                    counts[day, o.index] = [var]
                    day_vars.append(var)
                m.add(sum(day_vars) <= pool.size)
            units.append(("pool", skills, counts))
            self.unit_members.append([])
            self.unit_pool.append(pool)
            self.X.append(counts)
        self.units = units
        self.flows: list[dict[tuple[int, int, int], list[tuple[int, object]]]] = []
        self.y: dict[tuple[int, int, str], object] = {}
        contributions: dict[tuple[str, int], list] = defaultdict(list)
        for u, (_, skills, counts) in enumerate(units):
            working: dict[int, list[tuple[int, object]]] = defaultdict(list)
            flows: dict[tuple[int, int, int], list[tuple[int, object]]] = {}
            for (day, oi), terms in counts.items():
                o = self.options[oi]
                base = day * spd + o.start
                for t in range(base, base + o.length):
                    working[t].extend((1, v) for v in terms)
                bound = (
                    len(self.unit_members[u])
                    if self.unit_pool[u] is None
                    else self.unit_pool[u].size
                )
                for b_index, b in enumerate(o.breaks):
                    positions = []
                    for k in range(b.first, b.last + 1):
                        var = self.tag(
                            day, m.new_int_var(0, bound, f"f{u}_{day}_{oi}_{b_index}_{k}")
                        )
                        self.unit_of[var.index] = u
                        positions.append((k, var))
                        for t in range(base + k, base + k + b.length):
                            working[t].append((-1, var))
                    m.add(sum(v for _, v in positions) == sum(terms))
                    flows[day, oi, b_index] = positions
            self.flows.append(flows)
            if not skills:
                continue
            for t, terms in working.items():
                expr = sum(c * v for c, v in terms)
                if len(skills) == 1:
                    contributions[skills[0], t].append(expr)
                    continue
                pool = self.unit_pool[u]
                upper = len(self.unit_members[u]) if pool is None else pool.size
                parts = []
                for q in skills:
                    var = self.tag(t // spd, m.new_int_var(0, upper, f"y{u}_{t}_{q}"))
                    self.unit_of[var.index] = u
                    self.y[u, t, q] = var
                    parts.append(var)
                    contributions[q, t].append(var)
                m.add(sum(parts) == expr)
        self.under: dict[tuple[str, int], object] = {}
        self.over: dict[tuple[str, int], object] = {}
        over_coefficient = round(self.over_weight * SCALE)
        for q, array in self.required.items():
            for t in set(np.flatnonzero(array).tolist()) | {
                t for (qq, t) in contributions if qq == q
            }:
                r = int(array[t])
                terms = contributions.get((q, t), [])
                marg = self.marginals.get((q, t))
                if marg is None:
                    marg = np.full(MAX_SEGMENTS, 1.0)
                if not terms:
                    self.offset += float(np.sum(marg[: min(r, MAX_SEGMENTS)])) + max(
                        r - MAX_SEGMENTS, 0
                    ) * float(marg[-1])
                    continue
                covered = sum(terms)
                under = self.tag(t // spd, m.new_int_var(0, r, f"u_{q}_{t}"))
                over = self.tag(t // spd, m.new_int_var(0, 10**5, f"o_{q}_{t}"))
                m.add(covered + under - over == r)
                self.under[q, t], self.over[q, t] = under, over
                if over_coefficient:
                    self.objective.append((over_coefficient, over))
                if r == 0:
                    continue
                scaled = np.round(marg * SCALE).astype(int)
                if np.all(scaled == scaled[0]):
                    self.objective.append((int(scaled[0]), under))
                    continue
                top = min(r, MAX_SEGMENTS)
                cost = self.tag(t // spd, m.new_int_var(0, int(scaled.max()) * r, f"uc_{q}_{t}"))
                level = 0
                for k in range(
                    top
                ):  # cost >= F(k) + m_{k+1} (under - k): convex, exact at integers
                    m.add(cost >= level + int(scaled[k]) * (under - k))
                    level += int(scaled[k])
                self.objective.append((1, cost))

    def _match_targets(self) -> None:
        """Phase 2: named agents take the group shift counts of phase 1; each shift short or
        extra costs its length in intervals (about the coverage it moves)."""
        queues = set(self.required)
        counts: dict[tuple[tuple[str, ...], int, int], list] = defaultdict(list)
        for a, agent in enumerate(self.agents):
            key = tuple(q for q in agent.skills if q in queues)
            for day in range(self.h.days):
                for o in self.day_options[a, day]:
                    counts[key, day, o.index].append(self.x[a, day, o.index])
        for key in set(counts) | set(self.targets):
            target = self.targets.get(key, 0)
            terms = counts.get(key, [])
            length = self.options[key[2]].length
            weight = round(length * SCALE * 0.5)
            if not terms:
                self.offset += target * length * 0.5
                continue
            short = self.m.new_int_var(0, target, "")
            extra = self.m.new_int_var(0, len(terms), "")
            self.m.add(sum(terms) + short - extra == target)
            self.objective += [(weight, short), (weight, extra)]

    def _match_days(self) -> None:
        """Days-off planning: each agent short or extra on a day costs a typical shift."""
        queues = set(self.required)
        days: dict[tuple[tuple[str, ...], int], list] = defaultdict(list)
        for (a, d), var in self.w.items():
            days[tuple(q for q in self.agents[a].skills if q in queues), d].append(var)
        length = float(np.median([o.length for o in self.options]))
        weight = round(length * SCALE * 0.5)
        for key in set(days) | set(self.day_targets):
            target = self.day_targets.get(key, 0)
            terms = days.get(key, [])
            if not terms:
                self.offset += target * length * 0.5
                continue
            short = self.m.new_int_var(0, target, "")
            extra = self.m.new_int_var(0, len(terms), "")
            self.m.add(sum(terms) + short - extra == target)
            self.objective += [(weight, short), (weight, extra)]

    def _aggregate_limits(self, members: list[int], counts: dict) -> None:
        """Limits on a group's shift counts implied by its members' hard rules (a relaxation)."""
        h, m = self.h, self.m
        for day in range(h.days):
            able = sum(1 for a in members if self.day_options[a, day])
            terms = [v for (d, _), (v,) in counts.items() if d == day]
            if terms:
                m.add(sum(terms) <= able)
        for w in range(h.weeks):
            days = range(w * 7, min(w * 7 + 7, h.days))
            if len(days) < 7:
                continue
            shifts = [
                (self.options[o].paid_minutes, v) for (d, o), (v,) in counts.items() if d in days
            ]
            if not shifts:
                continue
            contracts = [self.agents[a].contract for a in members]
            if self.rules["min_minutes_per_week"].hard:
                m.add(
                    sum(p * v for p, v in shifts) >= sum(c.min_minutes_per_week for c in contracts)
                )
            if self.rules["max_minutes_per_week"].hard:
                m.add(
                    sum(p * v for p, v in shifts) <= sum(c.max_minutes_per_week for c in contracts)
                )
            if self.rules["days_off_per_week"].hard:
                m.add(
                    sum(v for _, v in shifts) <= sum(7 - c.min_days_off_per_week for c in contracts)
                )

    def _patterns(self, skills, members: list[int], counts: dict) -> None:
        """Phase 1 plans each group's working-day patterns with the shift counts.

        Every agent's week is one subset of days; the subsets the hard day-level rules allow are
        enumerated with the exact penalty of the soft day-level rules (short working stretches,
        short day-off stretches) the model would charge. The group's count of agents per
        pattern ties to its shifts per day, so the penalties enter phase 1's objective and its
        bound stays a valid lower bound (each agent's week is one of these patterns)."""
        contracts = {self.agents[a].contract.name: self.agents[a].contract for a in members}
        if len(contracts) != 1:
            return
        contract = next(iter(contracts.values()))
        lengths = self._allowed_lengths(contract)
        paid = [o.paid_minutes for o in self.options if lengths is None or o.length in lengths]
        patterns = day_patterns(contract, self.rules, self.h, paid)
        if not patterns:
            return
        # each agent's paid minutes are a sum of one shift per working day inside the hard
        # limits: per pattern size, the lowest and highest such sum (tighter than the group sum)
        lower, upper = 0, 10**9
        rules = self.rules
        if rules["min_minutes_per_week"].hard:
            lower = max(lower, contract.min_minutes_per_week)
        if rules["min_minutes_per_horizon"].hard and contract.min_minutes_per_horizon:
            lower = max(lower, contract.min_minutes_per_horizon)
        if rules["max_minutes_per_week"].hard and contract.max_minutes_per_week < 7 * 1440:
            upper = min(upper, contract.max_minutes_per_week)
        if rules["max_minutes_per_horizon"].hard and contract.max_minutes_per_horizon is not None:
            upper = min(upper, contract.max_minutes_per_horizon)
        sums = {0}
        reach: dict[int, tuple[int, int] | None] = {}
        for n in range(self.h.days + 1):
            inside = [v for v in sums if lower <= v <= upper]
            reach[n] = (min(inside), max(inside)) if inside else None
            sums = {v + p for v in sums for p in set(paid)}
        patterns = [(days, pen) for days, pen in patterns if reach[len(days)] is not None]
        if not patterns:
            return
        m = self.m
        size = len(members)
        # classes of members with the same options per day (fixed days off, availability): a
        # class's agents take only patterns and options open to them (when there are few)
        classes: dict[tuple, list[int]] = defaultdict(list)
        for a in members:
            key = tuple(
                frozenset(o.index for o in self.day_options[a, d]) for d in range(self.h.days)
            )
            classes[key].append(a)
        if len(classes) > 4:
            classes = {tuple(frozenset(range(len(self.options))) for _ in range(7)): members}
        variables = []
        per_class: list[tuple[int, tuple, tuple[int, ...], object]] = []
        for c, (allowed, who) in enumerate(classes.items()):
            for a in who:
                self.pattern_class[a] = c
            own = []
            for days, penalty in patterns:
                if not all(allowed[d] for d in days):
                    continue
                var = m.new_int_var(0, len(who), f"N{skills}_{c}_{days}")
                self.unit_of[var.index] = len(self.units_so_far)
                variables.append((days, var))
                own.append(var)
                per_class.append((c, allowed, days, var))
                self.pattern_penalty[var.index] = penalty
                if round(penalty * SCALE):
                    self.objective.append((round(penalty * SCALE), var))
            m.add(sum(own) == len(who))
        # the ties between patterns and shifts hold only with this group's literal: phase 1
        # first solves without them (fast), then ties one group at a time from that solution
        link = m.new_bool_var("pattern_link")
        self.pattern_links[len(self.units_so_far)] = link
        self.pattern_link = link
        paid_sum = sum(self.options[o].paid_minutes * v for (_, o), (v,) in counts.items())
        m.add(paid_sum >= sum(reach[len(ds)][0] * v for ds, v in variables))
        m.add(paid_sum <= sum(reach[len(ds)][1] * v for ds, v in variables))
        for day in range(self.h.days):
            terms = [v for (d, _), (v,) in counts.items() if d == day]
            m.add(sum(terms) == sum(v for days, v in variables if day in days)).only_enforce_if(
                link
            )
            # Hall's condition: the agents of any set of classes working on a day need as many
            # shifts among the options open to them
            ids = sorted({c for c, _, _, _ in per_class})
            if len(ids) > 1:
                for r in range(1, len(ids)):
                    for chosen in itertools.combinations(ids, r):
                        opened = set().union(*(al[day] for c, al, _, _ in per_class if c in chosen))
                        m.add(
                            sum(v for (d, o), (v,) in counts.items() if d == day and o in opened)
                            >= sum(v for c, _, ds, v in per_class if c in chosen and day in ds)
                        ).only_enforce_if(link)
        # a late-then-early pair needs one agent working on either day (a relaxation)
        if self.settings is not None and self.rules["forbidden_succession"].hard:
            for first, second in self.settings.forbidden_successions:
                for day in range(self.h.days - 1):
                    left = [
                        v
                        for (d, o), (v,) in counts.items()
                        if d == day and self.options[o].shift_type == first
                    ]
                    right = [
                        v
                        for (d, o), (v,) in counts.items()
                        if d == day + 1 and self.options[o].shift_type == second
                    ]
                    if left and right:
                        m.add(
                            sum(left) + sum(right)
                            <= sum(v for ds, v in variables if day in ds or day + 1 in ds)
                        ).only_enforce_if(link)
        if self.rules["max_shifts_of_type"].hard and self.h.days == 7:
            for shift_type, limit in contract.max_shifts_per_week_by_type.items():
                terms = [
                    v for (_, o), (v,) in counts.items() if self.options[o].shift_type == shift_type
                ]
                if terms:
                    m.add(sum(terms) <= limit * size)
        self.pattern_counts[skills] = [(c, days, var) for c, _, days, var in per_class]

    # -- agent rules ---------------------------------------------------------
    def _agent_rules(self) -> None:
        h, rules_setting = self.h, self.settings
        spd = h.slots_per_day
        step = h.interval_minutes
        weeks = [list(range(w * 7, min(w * 7 + 7, h.days))) for w in range(h.weeks)]
        unpopular = {o.shift_type for o in self.options if o.unpopular}
        weekend_days = [d for d in range(h.days) if h.weekday(d) >= 5]
        counts_weekend: dict[str, list] = defaultdict(list)
        counts_unpopular: dict[str, list] = defaultdict(list)
        for a, agent in enumerate(self.agents):
            if self.subset is not None and a not in self.subset:
                continue
            c = agent.contract
            who = agent.name

            def minutes(days, a=a, most=True):
                if self.aggregate:  # relaxation: the longest (shortest) paid option per day
                    pick = max if most else min
                    return sum(
                        pick(o.paid_minutes for o in self.day_options[a, d]) * self.work(a, d)
                        for d in days
                        if self.day_options[a, d]
                    )
                return sum(
                    o.paid_minutes * self.x[a, d, o.index]
                    for d in days
                    for o in self.day_options[a, d]
                )

            for w, days in enumerate(weeks):
                full = len(days) == 7
                period = f"week {w + 1}"
                if full and c.min_minutes_per_week > 0:
                    self.constrain(
                        "min_minutes_per_week",
                        who,
                        period,
                        minutes(days),
                        lb=c.min_minutes_per_week,
                        span=c.min_minutes_per_week,
                    )
                if c.max_minutes_per_week < 7 * 1440:
                    self.constrain(
                        "max_minutes_per_week",
                        who,
                        period,
                        minutes(days, most=False),
                        ub=c.max_minutes_per_week,
                        span=7 * 1440,
                    )
                if full and c.min_days_off_per_week > 0:
                    self.constrain(
                        "days_off_per_week",
                        who,
                        period,
                        sum(self.work(a, d) for d in days),
                        ub=7 - c.min_days_off_per_week,
                        span=7,
                    )
                for shift_type, limit in (
                    {} if self.aggregate else c.max_shifts_per_week_by_type
                ).items():
                    expr = sum(
                        self.x[a, d, o.index]
                        for d in days
                        for o in self.day_options[a, d]
                        if o.shift_type == shift_type
                    )
                    self.constrain(
                        "max_shifts_of_type", who, f"{period} {shift_type}", expr, ub=limit, span=7
                    )
            all_days = range(h.days)
            if c.min_minutes_per_horizon:
                self.constrain(
                    "min_minutes_per_horizon",
                    who,
                    "horizon",
                    minutes(all_days),
                    lb=c.min_minutes_per_horizon,
                    span=c.min_minutes_per_horizon,
                )
            if c.max_minutes_per_horizon is not None:
                self.constrain(
                    "max_minutes_per_horizon",
                    who,
                    "horizon",
                    minutes(all_days, most=False),
                    ub=c.max_minutes_per_horizon,
                    span=h.days * 1440,
                )
            k = c.max_consecutive_days
            for d in range(h.days - k):
                self.constrain(
                    "max_consecutive_days",
                    who,
                    str(h.date(d)),
                    sum(self.work(a, e) for e in range(d, d + k + 1)),
                    ub=k,
                    span=k + 1,
                )
            for length in range(1, c.min_consecutive_days):
                for d in range(1, h.days - length):
                    expr = sum(self.work(a, e) for e in range(d, d + length))
                    self.constrain(
                        "min_consecutive_days",
                        who,
                        str(h.date(d)),
                        expr - self.work(a, d - 1) - self.work(a, d + length),
                        ub=length - 1,
                    )
            for length in range(1, c.min_consecutive_days_off):
                for d in range(1, h.days - length):
                    expr = sum(self.work(a, e) for e in range(d, d + length))
                    self.constrain(
                        "min_consecutive_days_off",
                        who,
                        str(h.date(d)),
                        self.work(a, d - 1) + self.work(a, d + length) - expr,
                        ub=1,
                    )
            if not self.aggregate:
                self._rest(a, agent)
            if c.max_working_weekends is not None:
                weekends: dict[tuple[int, int], list[int]] = defaultdict(list)
                for d in weekend_days:
                    weekends[tuple(h.date(d).isocalendar())[:2]].append(d)
                flags = []
                for days in weekends.values():
                    flag = self.m.new_bool_var("")
                    for d in days:
                        self.m.add(flag >= self.work(a, d))
                    flags.append(flag)
                if flags:
                    self.constrain(
                        "max_working_weekends",
                        who,
                        "horizon",
                        sum(flags),
                        ub=c.max_working_weekends,
                        span=len(flags),
                    )
            counts_weekend[c.name].append(sum(self.work(a, d) for d in weekend_days))
            if unpopular and not self.aggregate:
                counts_unpopular[c.name].append(
                    sum(
                        self.x[a, d, o.index]
                        for d in all_days
                        for o in self.day_options[a, d]
                        if o.shift_type in unpopular
                    )
                )
            # availability (named in diagnose mode or when soft)
            if not (self.rules["availability"].hard and not self.diagnose) and not self.aggregate:
                for d in all_days:
                    bad = self.unavailable.get((a, d), set())
                    expr = sum(
                        self.x[a, d, o.index] for o in self.day_options[a, d] if o.index in bad
                    )
                    if not isinstance(expr, int):
                        self.constrain("availability", who, str(h.date(d)), expr, ub=0)
        if rules_setting is None:
            return
        for index, rule in enumerate(rules_setting.fixed_days_off):
            for a in _agents_for(rule, self.agents, f"schedule.fixed_days_off[{index}]"):
                if self.subset is not None and a not in self.subset:
                    continue
                for d in range(h.days):
                    if _day_matches(rule, h, d) and self.day_options[a, d]:
                        self.constrain(
                            "fixed_days_off",
                            self.agents[a].name,
                            str(h.date(d)),
                            self.work(a, d),
                            ub=0,
                        )
        base_weight = self.rules["shift_request"].weight
        for index, rule in enumerate(rules_setting.requests):
            for a in _agents_for(rule, self.agents, f"schedule.requests[{index}]"):
                if self.subset is not None and a not in self.subset:
                    continue
                if self.aggregate and rule.shift is not None:
                    continue  # shift-level wishes are phase 2's
                for d in range(h.days):
                    if not _day_matches(rule, h, d):
                        continue
                    if self.aggregate:
                        expr = self.work(a, d)
                    else:
                        expr = sum(
                            self.x[a, d, o.index]
                            for o in self.day_options[a, d]
                            if rule.shift is None or o.shift_type == rule.shift
                        )
                    before = len(self.soft)
                    label = f"{'want' if rule.wanted else 'avoid'} {rule.shift or 'work'}"
                    if rule.wanted:
                        self.constrain(
                            "shift_request",
                            self.agents[a].name,
                            f"{h.date(d)} {label}",
                            expr,
                            lb=1,
                        )
                    else:
                        self.constrain(
                            "shift_request",
                            self.agents[a].name,
                            f"{h.date(d)} {label}",
                            expr,
                            ub=0,
                        )
                    if len(self.soft) > before:  # scale the slack by the request's weight
                        name, subject, period, slack, _ = self.soft[-1]
                        self.objective.pop()
                        weight = base_weight * rule.weight
                        self.soft[-1] = (name, subject, period, slack, weight)
                        if round(weight * SCALE):
                            self.objective.append((round(weight * SCALE), slack))
        for name, counts, spread in (
            ("fair_weekends", counts_weekend, rules_setting.weekend_spread),
            ("fair_unpopular", counts_unpopular, rules_setting.unpopular_spread),
        ):
            for contract, values in counts.items():
                if len(values) < 2:
                    continue
                high = self.m.new_int_var(0, h.days, "")
                low = self.m.new_int_var(0, h.days, "")
                for value in values:
                    self.m.add(high >= value)
                    self.m.add(low <= value)
                self.constrain(name, contract, "horizon", high - low, ub=spread, span=h.days)
        type_names = {o.shift_type for o in self.options}
        for index, (first, second) in enumerate(
            [] if self.aggregate else rules_setting.forbidden_successions
        ):
            for shift_type in (first, second):
                if shift_type not in type_names:
                    raise ScenarioError(
                        f"unknown shift type {shift_type!r} "
                        f"(known: {', '.join(sorted(type_names))})",
                        field=f"schedule.forbidden_successions[{index}]",
                    )
            for a, agent in enumerate(self.agents):
                if self.subset is not None and a not in self.subset:
                    continue
                for d in range(h.days - 1):
                    left = [
                        self.x[a, d, o.index]
                        for o in self.day_options[a, d]
                        if o.shift_type == first
                    ]
                    right = [
                        self.x[a, d + 1, o.index]
                        for o in self.day_options[a, d + 1]
                        if o.shift_type == second
                    ]
                    if left and right:
                        self.constrain(
                            "forbidden_succession",
                            agent.name,
                            f"{h.date(d)} {first}>{second}",
                            sum(left) + sum(right),
                            ub=1,
                        )
        del spd, step

    def _rest(self, a: int, agent: AgentSpec) -> None:
        """No overlap, and (rule ``min_rest``) enough rest between shifts on nearby days."""
        h = self.h
        spd = h.slots_per_day
        rest = -(-agent.contract.min_rest_between_shifts_min // h.interval_minutes)
        setting = self.rules["min_rest"]
        for d in range(h.days):
            ends = sorted({d * spd + o.end for o in self.day_options[a, d]})
            for d2 in (d + 1, d + 2):
                if d2 >= h.days:
                    continue
                for gap, named in ((0, False), (rest, True)):
                    if named and (rest == 0 or (setting.hard and not self.diagnose and gap == 0)):
                        continue
                    if not named and rest > 0 and setting.hard and not self.diagnose:
                        continue  # the hard rest constraint implies no overlap
                    for e in ends:
                        later = [
                            self.x[a, d2, o.index]
                            for o in self.day_options[a, d2]
                            if d2 * spd + o.start < e + gap
                        ]
                        if not later:
                            continue
                        earlier = [
                            self.x[a, d, o.index]
                            for o in self.day_options[a, d]
                            if d * spd + o.end >= e
                        ]
                        expr = sum(earlier) + sum(later)
                        if named:
                            self.constrain("min_rest", agent.name, str(h.date(d)), expr, ub=1)
                        else:
                            self.m.add(expr <= 1)


def _stretches(work: tuple[bool, ...], value: bool) -> list[tuple[int, int, bool]]:
    """(first day, length, interior) of each maximal run of ``value`` in ``work``."""
    runs = []
    d = 0
    while d < len(work):
        if work[d] != value:
            d += 1
            continue
        e = d
        while e < len(work) and work[e] == value:
            e += 1
        runs.append((d, e - d, d > 0 and e < len(work)))
        d = e
    return runs


def day_patterns(
    contract: Contract, rules: dict[str, RuleSetting], horizon: Horizon, paid: list[int]
) -> list[tuple[tuple[int, ...], float]]:
    """Working-day subsets of a one-week horizon that the contract's hard day-level rules allow,
    each with the penalty the model charges for its soft day-level rules (same counting as
    ``_agent_rules``: one unit per interior stretch shorter than the minimum). Empty when the
    horizon is not a single week or the agent has no shift options."""
    import itertools

    days = horizon.days
    if days != 7 or not paid:
        return []
    lo, hi = min(paid), max(paid)
    out = []
    weekend = [d for d in range(days) if horizon.weekday(d) >= 5]
    for n in range(days + 1):
        for chosen in itertools.combinations(range(days), n):
            work = tuple(d in chosen for d in range(days))
            penalty = 0.0
            ok = True

            def check(name: str, violated: bool, amount: float = 1.0) -> None:
                nonlocal ok, penalty
                if violated:
                    if rules[name].hard:
                        ok = False
                    else:
                        penalty += rules[name].weight * amount

            # only the hard limits prune; soft minute / day limits are left at no cost (a
            # relaxation), the stretch rules are priced exactly
            if rules["days_off_per_week"].hard and contract.min_days_off_per_week > 0:
                ok &= n <= days - contract.min_days_off_per_week
            if rules["min_minutes_per_week"].hard:
                ok &= n * hi >= contract.min_minutes_per_week
            if rules["max_minutes_per_week"].hard and contract.max_minutes_per_week < 7 * 1440:
                ok &= n * lo <= contract.max_minutes_per_week
            if rules["min_minutes_per_horizon"].hard and contract.min_minutes_per_horizon:
                ok &= n * hi >= contract.min_minutes_per_horizon
            if (
                rules["max_minutes_per_horizon"].hard
                and contract.max_minutes_per_horizon is not None
            ):
                ok &= n * lo <= contract.max_minutes_per_horizon
            runs = _stretches(work, True)
            if rules["max_consecutive_days"].hard:
                ok &= all(length <= contract.max_consecutive_days for _, length, _ in runs)
            if contract.max_working_weekends is not None and rules["max_working_weekends"].hard:
                worked = {tuple(horizon.date(d).isocalendar())[:2] for d in weekend if work[d]}
                ok &= len(worked) <= contract.max_working_weekends
            for _, length, interior in runs:
                check("min_consecutive_days", interior and length < contract.min_consecutive_days)
            for _, length, interior in _stretches(work, False):
                check(
                    "min_consecutive_days_off",
                    interior and length < contract.min_consecutive_days_off,
                )
            if ok:
                out.append((chosen, penalty))
    return out


# --------------------------------------------------------------------------- solve


def _solver(time_limit_s: float, num_workers: int, seed: int):
    return cp_sat_solver(time_limit_s, num_workers, seed)


def _diagnose(builder_args: dict, time_limit_s: float) -> list[str]:
    """Names of hard-rule instances that cannot hold together (an infeasible core)."""
    extra = (
        "aggregate",
        "restrict",
        "targets",
        "fixed",
        "subset",
        "pattern",
        "day_targets",
        "day_patterns",
    )
    args = {k: v for k, v in builder_args.items() if k not in extra}
    diag = _Builder(**args, diagnose=True)
    diag.build()
    literals = list(diag.literals.items())
    diag.m.add_assumptions([lit for _, lit in literals])
    solver = _solver(min(time_limit_s, 30.0), 1, 0)
    status = solver.solve(diag.m)
    from ortools.sat.python import cp_model

    if status != cp_model.INFEASIBLE:
        return []
    core = set(solver.sufficient_assumptions_for_infeasibility())
    return [f"{name}[{subject}]" for (name, subject), lit in literals if lit.index in core]


def _progress_callback(progress: Callable[[float, float, float], None] | None):
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


def solve(
    builder_args: dict,
    *,
    time_limit_s: float,
    num_workers: int,
    seed: int,
    progress: Callable[[float, float, float], None] | None,
    explain: bool = True,
    construct: bool = False,
) -> tuple[_Builder, object, str, float]:
    """Build and solve; raise InfeasibleError naming the rules, or ScheduleTimeoutError.

    ``construct``: first a schedule for the hard rules alone (:mod:`openwfm.schedule.construct`),
    then the objective solve starts from it and returns it when it finds nothing better."""
    from ortools.sat.python import cp_model

    started = time.perf_counter()
    builder = _Builder(**builder_args)
    builder.build()
    hint, found = None, "skipped"
    if construct:
        began = clock_now()
        budget = construction.construct_budget(time_limit_s)
        hint = construction.construct_by_agent(
            lambda args: _Builder(**args), builder_args, builder, budget, seed
        )
        found = "found"
        if hint is None:
            found, hint = construction.construct(
                builder.m, max(budget - (clock_now() - began), 1.0), seed
            )
        time_limit_s = max(time_limit_s - (clock_now() - began), time_limit_s / 2)
    builder.m.minimize(sum(c * v for c, v in builder.objective))
    if hint is not None:
        construction.add_hint(builder.m, hint)
    solver = _solver(time_limit_s, num_workers, seed)
    if found == "infeasible":  # the hard rules alone have no solution
        status = cp_model.INFEASIBLE
    else:
        status = solver.solve(builder.m, _progress_callback(progress))
    if hint is not None and status == cp_model.UNKNOWN:
        # nothing better than the construction in time: the constructed schedule
        solver = construction.Constructed(
            hint, construction.objective_of(builder.m, hint), solver.best_objective_bound
        )
        status = cp_model.FEASIBLE
    wall = time.perf_counter() - started
    if not explain and status == cp_model.INFEASIBLE:
        return builder, solver, "infeasible", wall
    if status == cp_model.INFEASIBLE or status == cp_model.MODEL_INVALID:
        names = _diagnose(builder_args, time_limit_s)
        detail = ", ".join(names) if names else "(could not isolate them in time)"
        raise InfeasibleError(f"the hard rules contradict each other: {detail}", field="schedule")
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        raise ScheduleTimeoutError(
            f"no schedule found within the time limit of {time_limit_s:g} s; raise --time-limit",
            field="time_limit",
        )
    name = "optimal" if status == cp_model.OPTIMAL else "feasible"
    return builder, solver, name, wall


# --------------------------------------------------------------------------- results


def _clock(h: Horizon, slot: int) -> str:
    return h.moment(slot).strftime("%H:%M")


def _extract(builder: _Builder, solver, status: str, wall: float, weighting: str) -> ScheduleResult:
    h, spd = builder.h, builder.h.slots_per_day
    value = solver.value
    shift_rows = []
    activity: dict[tuple[str, int], str] = {}
    # which agents (or pool members) work which option, per unit
    member_names: list[dict[tuple[int, int], list[str]]] = []
    for u in range(len(builder.units)):
        assigned: dict[tuple[int, int], list[str]] = defaultdict(list)
        pool = builder.unit_pool[u]
        if pool is None:
            for a in builder.unit_members[u]:
                for d in range(h.days):
                    for o in builder.day_options[a, d]:
                        if value(builder.x[a, d, o.index]):
                            assigned[d, o.index].append(builder.agents[a].name)
        else:
            for (d, oi), (var,) in builder.X[u].items():
                taken = sum(len(v) for (dd, _), v in assigned.items() if dd == d)
                for i in range(int(value(var))):
                    assigned[d, oi].append(f"{pool.name}#{taken + i + 1}")
        member_names.append(assigned)
    agent_info = {a.name: a for a in builder.agents}
    working: dict[int, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    for u, assigned in enumerate(member_names):
        for (d, oi), names in sorted(assigned.items()):
            o = builder.options[oi]
            base = d * spd + o.start
            breaks_of: dict[str, list[tuple[int, str, int]]] = defaultdict(list)
            for b_index, b in enumerate(o.breaks):
                queue = []
                for k, var in builder.flows[u][d, oi, b_index]:
                    queue.extend([k] * int(value(var)))
                for name, k in zip(names, queue, strict=False):
                    breaks_of[name].append((base + k, b.name, b.length))
            for name in names:
                on_break = set()
                texts = []
                for start, bname, length in sorted(breaks_of[name]):
                    texts.append(f"{_clock(h, start)}-{_clock(h, start + length)} {bname}")
                    for t in range(start, start + length):
                        on_break.add(t)
                        activity[name, t] = bname
                for t in range(base, base + o.length):
                    if t not in on_break:
                        working[u][t].append(name)
                agent = agent_info.get(name)
                shift_rows.append(
                    {
                        "agent": name,
                        "team": agent.team if agent else builder.unit_pool[u].name,
                        "contract": agent.contract.name if agent else None,
                        "date": h.date(d),
                        "shift_type": o.shift_type,
                        "shift_start": h.moment(base),
                        "shift_end": h.moment(base + o.length),
                        "paid_minutes": o.paid_minutes,
                        "breaks": "; ".join(texts),
                    }
                )
    # skill per working interval, from the coverage flows
    for u, (_, skills, _) in enumerate(builder.units):
        for t, names in working[u].items():
            names = sorted(names)
            if len(skills) <= 1:
                label = skills[0] if skills else None
                for name in names:
                    agent = agent_info.get(name)
                    activity[name, t] = label or (agent.skills[0] if agent else "idle")
                continue
            i = 0
            for q in skills:
                var = builder.y.get((u, t, q))
                for _ in range(int(value(var)) if var is not None else 0):
                    if i < len(names):
                        activity[names[i], t] = q
                        i += 1
    activities = pd.DataFrame(
        [
            {"agent": name, "interval_start": h.moment(t), "activity": act}
            for (name, t), act in sorted(activity.items(), key=lambda kv: (kv[0][0], kv[0][1]))
        ],
        columns=["agent", "interval_start", "activity"],
    )
    shifts = pd.DataFrame(
        shift_rows,
        columns=[
            "agent",
            "team",
            "contract",
            "date",
            "shift_type",
            "shift_start",
            "shift_end",
            "paid_minutes",
            "breaks",
        ],
    ).sort_values(["agent", "date"], ignore_index=True)
    coverage = coverage_table(activities, builder.required, h)
    soft_rows = []
    penalty: dict[str, float] = defaultdict(float)
    violated: dict[str, int] = defaultdict(int)
    amount: dict[str, float] = defaultdict(float)
    for name, subject, period, slack, weight in builder.soft:
        v = int(value(slack))
        if v > 0:
            soft_rows.append(
                {
                    "rule": name,
                    "subject": subject,
                    "period": period,
                    "violation": v,
                    "unit": RULES[name].unit,
                    "penalty": v * weight,
                }
            )
            penalty[name] += v * weight
            violated[name] += 1
            amount[name] += v
    rules = pd.DataFrame(
        [
            {
                "rule": name,
                "hard": builder.rules[name].hard,
                "weight": builder.rules[name].weight,
                "unit": RULES[name].unit,
                "instances": builder.instances[name],
                "violated": violated[name],
                "violation": amount[name],
                "penalty": penalty[name],
            }
            for name in RULES
            if builder.instances[name]
        ],
        columns=["rule", "hard", "weight", "unit", "instances", "violated", "violation", "penalty"],
    )
    violations = pd.DataFrame(
        soft_rows, columns=["rule", "subject", "period", "violation", "unit", "penalty"]
    )
    objective = solver.objective_value / SCALE + builder.offset
    bound = solver.best_objective_bound / SCALE + builder.offset
    gap = 0.0 if objective <= 1e-9 else max(objective - bound, 0.0) / abs(objective)
    rule_cost = float(sum(penalty.values()))
    return ScheduleResult(
        shifts=shifts,
        activities=activities,
        coverage=coverage,
        rules=rules,
        violations=violations,
        status=status,
        objective=objective,
        bound=bound,
        gap=gap,
        wall_time_s=wall,
        weighting=weighting,
        horizon=h,
        coverage_cost=objective - rule_cost,
        rule_cost=rule_cost,
    )


def coverage_table(
    activities: pd.DataFrame, required: dict[str, np.ndarray], horizon: Horizon
) -> pd.DataFrame:
    """Agents on each queue per interval (from the activity table) against the requirement."""
    counts: dict[tuple[str, int], int] = defaultdict(int)
    for start, act in zip(activities["interval_start"], activities["activity"], strict=True):
        if act in required:
            counts[act, horizon.slot_of(start)] += 1
    rows = []
    last = horizon.days * horizon.slots_per_day
    for q, array in required.items():
        slots = set(np.flatnonzero(array[:last]).tolist()) | {t for (qq, t) in counts if qq == q}
        for t in sorted(slots):
            r, c = int(array[t]), counts.get((q, t), 0)
            rows.append(
                {
                    "interval_start": horizon.moment(t),
                    "queue": q,
                    "required": r,
                    "scheduled": c,
                    "under": max(r - c, 0),
                    "over": max(c - r, 0),
                }
            )
    return pd.DataFrame(
        rows, columns=["interval_start", "queue", "required", "scheduled", "under", "over"]
    )


# --------------------------------------------------------------------------- public API


def _marginals(per_slot: pd.DataFrame, horizon: Horizon, under_weight: float, weighting: str):
    if per_slot.empty:
        return {}, weighting
    table, method = under_marginal_costs(
        per_slot,
        per_slot["required"].to_numpy(int),
        horizon.interval_minutes * 60.0,
        under_weight,
        weighting,
    )
    keys = zip(per_slot["queue"].astype(str), per_slot["slot"].astype(int), strict=True)
    return {key: table[i] for i, key in enumerate(keys)}, method


def _start_date(requirements: pd.DataFrame, start: dt.date | None) -> dt.date:
    if start is not None:
        return start
    if requirements.empty or "interval_start" not in requirements.columns:
        raise DataError("no requirements to take the start date from", field="interval_start")
    return pd.to_datetime(requirements["interval_start"]).min().date()


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
    start = start or settings.start_date or _start_date(requirements, None)
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
    try:
        with use_budget(deterministic):
            return _run(
                requirements,
                horizon,
                options,
                agents,
                [],
                settings,
                cover_column,
                extra_shrinkage,
                weighting,
                under_weight,
                over_weight,
                time_limit_s,
                num_workers,
                seed,
                progress,
                source,
                _two_phase_wanted(strategy, agents, options, horizon),
            )
    except ScheduleTimeoutError:
        # a step ran out of its share of the limit: the message states the user's limit
        raise ScheduleTimeoutError(
            f"no schedule found within the time limit of {time_limit_s:g} s; raise --time-limit",
            field="time_limit",
        ) from None


def _two_phase_wanted(strategy: str, agents, options, horizon: Horizon) -> bool:
    if strategy not in ("auto", "single", "two_phase"):
        raise ScenarioError(
            f"expected strategy auto, single or two_phase, got {strategy!r}", field="strategy"
        )
    if strategy == "auto":
        return len(agents) * horizon.days * len(options) > 5000
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
        start = _start_date(requirements, start)
        horizon = Horizon(start, days, interval_minutes)
        options = expand_templates(templates, interval_minutes, field="templates")
        queues = (
            tuple(sorted(requirements["queue"].astype(str).unique())) if skills is None else skills
        )
        pools = [PoolSpec("pool", queues, pool_size)]
        args = (cover_column, 0.0, weighting, under_weight, over_weight)
        if days == 1 or any(o.end > horizon.slots_per_day for o in options):
            return _run(
                requirements,
                horizon,
                options,
                [],
                pools,
                None,
                *args,
                time_limit_s,
                num_workers,
                seed,
                progress,
                "requirements",
            )
        # Shifts stay within their day and pools have no weekly rules: the days are independent
        # problems, and CP-SAT closes each day's gap far faster alone than all days together.
        started = clock_now()
        wall_started = time.perf_counter()
        table = requirements.copy()
        table["interval_start"] = pd.to_datetime(table["interval_start"])
        parts = []
        for day in range(days):
            first = pd.Timestamp(start) + pd.Timedelta(days=day)
            mask = (table["interval_start"] >= first) & (
                table["interval_start"] < first + pd.Timedelta(days=1)
            )
            if not mask.any():
                continue
            remaining = time_limit_s - (clock_now() - started)
            part = _run(
                table[mask],
                Horizon(first.date(), 1, interval_minutes),
                options,
                [],
                pools,
                None,
                *args,
                max(remaining / (days - day), 0.5),
                num_workers,
                seed,
                progress,
                "requirements",
            )
            parts.append(part)
        return _merge(parts, horizon, time.perf_counter() - wall_started)


def _merge(parts: list[ScheduleResult], horizon: Horizon, wall: float) -> ScheduleResult:
    """One result from independent day results: tables stacked, costs and bounds added."""

    def stack(name: str) -> pd.DataFrame:
        return pd.concat([getattr(p, name) for p in parts], ignore_index=True)

    objective = sum(p.objective for p in parts)
    bound = sum(p.bound for p in parts)
    rules = stack("rules")
    return ScheduleResult(
        shifts=stack("shifts"),
        activities=stack("activities"),
        coverage=stack("coverage"),
        rules=rules.groupby(["rule", "hard", "weight", "unit"], as_index=False).sum(),
        violations=stack("violations"),
        status="optimal" if all(p.status == "optimal" for p in parts) else "feasible",
        objective=objective,
        bound=bound,
        gap=0.0 if objective <= 1e-9 else max(objective - bound, 0.0) / objective,
        wall_time_s=wall,
        weighting=parts[0].weighting,
        horizon=horizon,
        coverage_cost=sum(p.coverage_cost for p in parts),
        rule_cost=sum(p.rule_cost for p in parts),
        notes=[f"solved as {len(parts)} independent days"],
    )


def _run(
    requirements,
    horizon,
    options,
    agents,
    pools,
    settings,
    cover_column,
    extra_shrinkage,
    weighting,
    under_weight,
    over_weight,
    time_limit_s,
    num_workers,
    seed,
    progress,
    source,
    two_phase=True,
) -> ScheduleResult:
    if weighting not in ("service", "convex", "linear"):
        raise ScenarioError(
            f"expected weighting service, convex or linear, got {weighting!r}", field="weighting"
        )
    if under_weight < over_weight:
        raise ScenarioError(
            "under_weight must be at least over_weight "
            "(a missing agent costs more than a surplus one)",
            field="under_weight",
        )
    table = requirements.copy()
    if extra_shrinkage and cover_column in table.columns:
        table[cover_column] = pd.to_numeric(table[cover_column], errors="coerce") / (
            1.0 - extra_shrinkage
        )
    required, per_slot = _expand_requirements(table, horizon, cover_column, source)
    marginals, method = _marginals(per_slot, horizon, under_weight, weighting)
    builder_args = dict(
        horizon=horizon,
        options=options,
        agents=agents,
        pools=pools,
        settings=settings,
        rules=rule_settings(settings),
        required=required,
        marginals=marginals,
        over_weight=over_weight,
    )
    if agents and two_phase:
        result = _two_phase(builder_args, time_limit_s, num_workers, seed, progress, method)
    else:
        builder, solver, status, wall = solve(
            builder_args,
            time_limit_s=time_limit_s,
            num_workers=num_workers,
            seed=seed,
            progress=progress,
            construct=bool(agents),
        )
        result = _extract(builder, solver, status, wall, method)
    if weighting == "service" and method != "service":
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


def _neighbours(options: list[ShiftOption]) -> dict[int, list[int]]:
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


def _two_phase(builder_args, time_limit_s, num_workers, seed, progress, method) -> ScheduleResult:
    """Three solves, each small enough for CP-SAT:

    1. shift counts per skill group x day x option, with the groups' aggregated hard limits
       (a relaxation, so its bound is a valid lower bound of the whole problem); on a one-week
       horizon also how many of each group's agents work each working-day pattern, priced
       with the stretch rules (``_phase_one``), so days off hold those rules by construction;
    2. the patterns go to named agents (``_assign_patterns``), then named agents take the
       counts (every rule, no coverage terms: groups are independent);
    3. with the shifts fixed, breaks and skills per interval against the requirement on the
       full named-agent model, then a large-neighbourhood search on it (``_polish``).

    Falls back to the one-model solve when phase 2 finds the counts unreachable.
    """
    started = clock_now()
    wall_started = time.perf_counter()

    def left(share: float) -> float:
        return max((time_limit_s - (clock_now() - started)) * share, 1.0)

    try:
        agg, values, best, bound, agg_status = _phase_one(
            builder_args, started, time_limit_s, num_workers, seed
        )
    except ScheduleTimeoutError:
        # phase 1 found nothing in its share: construct agent by agent, then improve
        return _construct_and_polish(
            builder_args, started, wall_started, time_limit_s, num_workers, seed, progress, method
        )
    first_cost = best / SCALE + agg.offset
    # the rest of the time: days off, then named agents per group, then the polish
    phase_one_s = clock_now() - started
    rest_s = max(time_limit_s - phase_one_s, 0.0)
    if progress is not None:
        progress(first_cost, bound, clock_now() - started)
    targets: dict[tuple[tuple[str, ...], int, int], int] = {}
    restrict: dict[tuple[tuple[str, ...], int], set[int]] = defaultdict(set)
    for _, skills, counts in agg.units:
        for (day, oi), (var,) in counts.items():
            value = int(values[var.index])
            if value > 0:
                targets[skills, day, oi] = value
                restrict[skills, day].add(oi)
    # phase 2 per skill group: groups meet only through coverage, which phase 1 settled
    queues = set(builder_args["required"])
    groups: dict[tuple[str, ...], set[int]] = defaultdict(set)
    for a, agent in enumerate(builder_args["agents"]):
        groups[tuple(q for q in agent.skills if q in queues)].add(a)
    ordered = sorted(groups.items(), key=lambda kv: -len(kv[1]))
    day_targets: dict[tuple[tuple[str, ...], int], int] = defaultdict(int)
    for (key, day, _), count in targets.items():
        day_targets[key, day] += count
    pattern: set[tuple[int, int]] = set()
    planned: set[tuple[str, ...]] = set()
    day_plans: list[str] = []
    days_end = started + phase_one_s + rest_s * 0.1
    for position, (key, members) in enumerate(ordered):
        share = len(members) / sum(len(m) for _, m in ordered[position:])
        budget = max((days_end - clock_now()) * share, 1.0)
        if key in agg.pattern_counts:
            wanted = {
                (c, days): int(values[var.index])
                for c, days, var in agg.pattern_counts[key]
                if values[var.index] > 0
            }
            chosen = _assign_patterns(agg, sorted(members), wanted, budget, num_workers, seed)
            if chosen is not None:
                pattern |= chosen
                planned.add(key)
                day_plans.append(f"{'+'.join(key) or '-'} patterns")
                continue
        plan_status, plan = _try(
            {
                **builder_args,
                "aggregate": True,
                "subset": members,
                "day_targets": {k: v for k, v in day_targets.items() if k[0] == key},
            },
            budget,
            num_workers,
            seed,
        )
        if plan is not None:
            pattern |= {k for k, var in plan[0].w.items() if plan[1].value(var)}
            planned.add(key)
        day_plans.append(f"{'+'.join(key) or '-'} {plan_status}")
    near = _neighbours(agg.options)
    fixed: dict[tuple[int, int], int] = {}
    phase2: list[str] = []
    status = "feasible"
    phase2_end = started + phase_one_s + rest_s * 0.8
    for position, (key, members) in enumerate(ordered):
        share = len(members) / sum(len(m) for _, m in ordered[position:])
        budget = max((phase2_end - clock_now()) * share, 1.0)
        # on the planned days, the options phase 1 used and their neighbouring starts; without
        # the days-off pattern when it cannot take every rule
        args = {
            **builder_args,
            "targets": {k: v for k, v in targets.items() if k[0] == key},
            "restrict": {
                k: v | {n for o in v for n in near[o]} for k, v in restrict.items() if k[0] == key
            },
            "subset": members,
            "pattern": pattern if key in planned else None,
        }
        status, found = _try(args, budget, num_workers, seed)
        if found is not None and key in planned:
            # the planned patterns may not take every shift-level rule (rest, successions,
            # availability, minutes per agent): try free days too and keep the cheaper
            cost = found[1].objective_value / SCALE + found[0].offset
            spare = (phase2_end - clock_now()) * share
            priced = sum(
                agg.pattern_penalty[var.index] * values[var.index]
                for _, _, var in agg.pattern_counts.get(key, [])
            )
            if cost > priced + 10.0 and spare > 2.0:
                retry = {**args, "pattern": None}
                again_status, again = _try(retry, spare, num_workers, seed)
                if (
                    again is not None
                    and again[1].objective_value / SCALE + again[0].offset < cost - 1e-6
                ):
                    status, found = again_status, again
        if found is None and key in planned:
            args["pattern"] = None
            args["restrict"] = {k: v for k, v in restrict.items() if k[0] == key}
            status, found = _try(args, max(budget / 2, 1.0), num_workers, seed)
        if found is None:
            status = "infeasible"
            break
        assign, assign_solver = found
        phase2.append(
            f"{'+'.join(key) or '-'}: {len(members)} agents {status} "
            f"{assign_solver.objective_value / SCALE + assign.offset:.1f}"
            f"/{assign_solver.best_objective_bound / SCALE + assign.offset:.1f}"
        )
        fixed.update({(a, d): o for (a, d, o), var in assign.x.items() if assign_solver.value(var)})
    polish_note = ""
    if status == "infeasible":
        builder, solver, status, _ = solve(
            builder_args,
            time_limit_s=left(1.0),
            num_workers=num_workers,
            seed=seed,
            progress=progress,
            construct=True,
        )
        result = _extract(builder, solver, status, time.perf_counter() - wall_started, method)
        result.bound = max(bound, result.bound)
    else:
        polished = _polish(
            builder_args, fixed, started + time_limit_s, num_workers, seed, progress, started, bound
        )
        polish_note = "" if polished is None else polished[1].note
        if polished is None:
            builder, solver, status, _ = solve(
                {**builder_args, "fixed": fixed},
                time_limit_s=left(1.0),
                num_workers=num_workers,
                seed=seed,
                progress=progress,
            )
        else:
            builder, solver = polished
        result = _extract(builder, solver, status, time.perf_counter() - wall_started, method)
        result.status = "feasible"
        result.bound = bound
    result.gap = (
        0.0
        if result.objective <= 1e-9
        else max(result.objective - result.bound, 0) / result.objective
    )
    result.notes.append(
        f"phase 1 (group shift counts, {phase_one_s:.0f} s): {agg_status}, "
        f"cost {first_cost:.1f}, bound {bound:.1f}; "
        f"days off per group: {', '.join(day_plans)}; "
        f"phase 2 assigned {len(targets)} group-day-option counts to named agents "
        f"(cost/bound per group: {'; '.join(phase2)})" + (f"; {polish_note}" if polish_note else "")
    )
    return result


def _construct_and_polish(
    builder_args, started, wall_started, time_limit_s, num_workers, seed, progress, method
) -> ScheduleResult:
    """A schedule agent by agent (:func:`openwfm.schedule.construct.construct_by_agent`),
    improved by the large-neighbourhood search until the deadline. No proven bound: the
    result's bound is the linear relaxation of phase 1's group model (0 when that fails)."""
    full = _Builder(**builder_args)
    full.build()
    remaining = time_limit_s - (clock_now() - started)
    values = construction.construct_by_agent(
        lambda args: _Builder(**args),
        builder_args,
        full,
        construction.construct_budget(remaining),
        seed,
    )
    if values is None:
        raise ScheduleTimeoutError(
            f"no schedule found within the time limit of {time_limit_s:g} s; raise --time-limit",
            field="time_limit",
        )
    fixed = {(a, d): o for (a, d, o), var in full.x.items() if values[var.index]}
    deadline = max(started + time_limit_s, clock_now() + 10.0)
    polished = _polish(builder_args, fixed, deadline, num_workers, seed, progress, started, 0.0)
    if polished is None:  # the constructed schedule as it is
        full.m.minimize(sum(c * v for c, v in full.objective))
        cost = construction.objective_of(full.m, values)
        polished = full, _Values(values, cost, cost, "polish found nothing in time")
    builder, solver = polished
    result = _extract(builder, solver, "feasible", time.perf_counter() - wall_started, method)
    result.bound = _relaxation_bound(builder_args)  # the polish's own value is not a bound
    result.gap = (
        0.0
        if result.objective <= 1e-9
        else max(result.objective - result.bound, 0.0) / result.objective
    )
    result.notes.append(
        "phase 1 found nothing in its time: constructed agent by agent (greedy, against the "
        "requirement the agents before left), "
        f"then improved; {solver.note}; bound from the linear relaxation"
    )
    return result


def _relaxation_bound(builder_args, time_limit_s: float = 60.0) -> float:
    """A proven lower bound (cost units) from the linear relaxation of phase 1's group model
    (HiGHS), or 0 when it cannot be had."""
    agg = _Builder(**{**builder_args, "aggregate": True, "day_patterns": True})
    agg.build()
    agg.m.minimize(sum(c * v for c, v in agg.objective))
    ones = {lit.index for lit in agg.pattern_links.values()}
    found = _mip(agg.m.proto, ones, time_limit_s, relax=True)
    if found is None:
        return 0.0
    return max(found[2] / SCALE + agg.offset, 0.0)


def _phase_one(builder_args, started, time_limit_s, num_workers, seed):
    """Group shift counts (with working-day patterns when they can be enumerated).

    The aggregate model is a plain integer program: HiGHS (scipy's ``milp``) solves it with
    every pattern tie on, and its dual bound is a proven bound of the whole problem. When
    HiGHS finds nothing in its share of the time (or the model is not linear), CP-SAT: first
    without the pattern ties (the earlier relaxation, fast to a good solution, and a valid
    bound), improved day by day; then the patterns are fitted to those daily counts and the
    whole is improved day by day again with the ties on. Returns the builder, the values
    by variable index, the scaled objective, the bound (cost units) and a status text.
    """
    from ortools.sat.python import cp_model

    agg = _Builder(**{**builder_args, "aggregate": True, "day_patterns": True})
    agg.build()
    agg.m.minimize(sum(c * v for c, v in agg.objective))
    link = agg.pattern_link
    links = agg.pattern_links

    def with_links(tied_units) -> object:
        model = agg.m.clone()
        for u, lit in links.items():
            model.add(model.get_bool_var_from_proto_index(lit.index) == int(u in tied_units))
        return model

    # the model is a plain integer program: a MIP solver (HiGHS) with every pattern tie on
    # reaches a better solution and a bound as good as CP-SAT's in one deterministic run
    found = _mip(agg.m.proto, {lit.index for lit in links.values()}, time_limit_s * _MIP_SHARE)
    if found is not None:
        values, best, mip_bound = found
        name = f"HiGHS {best / SCALE + agg.offset:.1f}" + (", patterns tied" if links else "")
        return agg, values, best, mip_bound / SCALE + agg.offset, name
    # CP-SAT's steps below take their shares of the time that is left
    time_limit_s = max(time_limit_s - (clock_now() - started), 1.0)
    started = clock_now()
    loose = with_links(set())
    share = 0.25
    solver = _solver(max(time_limit_s * share, 1.0), num_workers, seed)
    status = solver.solve(loose)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        if status == cp_model.INFEASIBLE:
            names = _diagnose(builder_args, time_limit_s)
            detail = ", ".join(names) if names else "(could not isolate them in time)"
            raise InfeasibleError(
                f"the hard rules contradict each other: {detail}", field="schedule"
            )
        raise ScheduleTimeoutError(
            f"no schedule found within the time limit of {time_limit_s:g} s; raise --time-limit",
            field="time_limit",
        )
    bound = solver.best_objective_bound / SCALE + agg.offset
    name = "optimal" if status == cp_model.OPTIMAL else "feasible"
    n_vars = len(loose.proto.variables)
    values = [int(solver.value(loose.get_int_var_from_proto_index(i))) for i in range(n_vars)]
    first_deadline = started + time_limit_s * (0.4 if link is None else 0.34)
    values, best = _improve_by_day(
        agg, loose, values, solver.objective_value, first_deadline, num_workers, seed
    )
    if link is None:
        return agg, values, best, bound, name
    name += f" (without day patterns {best / SCALE + agg.offset:.1f}"
    # tie one group at a time: that group's week free, everything else as found
    order = sorted(links, key=lambda u: -len(agg.unit_members[u]))
    done: set[int] = set()
    fit_end = started + time_limit_s * 0.43
    for position, u in enumerate(order):
        model = with_links(done | {u})
        for i in range(n_vars):
            var = model.get_int_var_from_proto_index(i)
            if agg.unit_of.get(i, u) == u:
                model.add_hint(var, values[i])
            else:
                model.add(var == values[i])
        budget = max((fit_end - clock_now()) / (len(order) - position), 1.0)
        sub = _solver(budget, num_workers, seed)
        status = sub.solve(model)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            agg.pattern_counts.clear()  # no patterns: the days-off step plans them instead
            return agg, values, best, bound, name + ", no pattern solution)"
        best = sub.objective_value
        for i in range(n_vars):
            if agg.unit_of.get(i, u) == u:
                values[i] = int(sub.value(model.get_int_var_from_proto_index(i)))
        done.add(u)
    name += f", patterns tied {best / SCALE + agg.offset:.1f})"
    tied = with_links(done)
    values, best = _improve_by_day(
        agg, tied, values, best, started + time_limit_s * 0.6, num_workers, seed, by_unit=True
    )
    return agg, values, best, bound, name


_MIP_SHARE = 0.65  # of the time limit at most: HiGHS on phase 1 (its first solution comes late)


def _mip(proto, ones: set[int], time_limit_s: float, relax: bool = False):
    """Solve a CP-SAT model that holds only linear constraints as a MIP with HiGHS (scipy).

    ``ones``: Boolean variables fixed to 1 (their enforced constraints become plain ones).
    Returns (values by variable index, objective and dual bound in the model's integer
    units), or None when the model has other constraints or no solution was found in time.
    The solution is checked against every constraint in integers before it is returned."""
    import warnings

    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import csr_matrix

    n = len(proto.variables)
    lower = np.empty(n)
    upper = np.empty(n)
    for i, var in enumerate(proto.variables):
        domain = var.domain
        if len(domain) != 2:
            return None
        lower[i], upper[i] = domain[0], domain[1]
    for i in ones:
        lower[i] = upper[i] = 1
    rows, cols, coefs, low, high = [], [], [], [], []
    for constraint in proto.constraints:
        enforced = list(constraint.enforcement_literal)
        if any(e not in ones for e in enforced):
            return None
        if constraint.has_bool_or() and any(
            v >= 0 and lower[v] >= 1 for v in constraint.bool_or.literals
        ):
            continue  # already true (an empty tie on a constant)
        if not constraint.has_linear():
            return None
        linear = constraint.linear
        domain = linear.domain
        if len(domain) != 2:
            return None
        r = len(low)
        for v, k in zip(linear.vars, linear.coeffs, strict=True):
            if v < 0:
                return None
            rows.append(r)
            cols.append(v)
            coefs.append(k)
        low.append(domain[0])
        high.append(domain[1])
    objective = proto.objective
    if (
        not len(objective.vars)
        or objective.scaling_factor not in (0, 1)
        or any(v < 0 for v in objective.vars)
    ):
        return None  # no integer objective (or a scaled one): leave it to CP-SAT
    cost = np.zeros(n)
    np.add.at(cost, np.array(objective.vars, dtype=int), np.array(objective.coeffs, float))
    matrix = csr_matrix((coefs, (rows, cols)), shape=(len(low), n))
    low_a = np.array(low, float)
    high_a = np.array(high, float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = milp(
            cost,
            integrality=np.zeros(n) if relax else np.ones(n),
            bounds=Bounds(lower, upper),
            constraints=LinearConstraint(
                matrix,
                np.where(low_a < -1e15, -np.inf, low_a),
                np.where(high_a > 1e15, np.inf, high_a),
            ),
            # stop at a 2% gap (of the objective without its constant part): the named-agent
            # phases lose about that much anyway and get the time instead
            options={**highs_limits(time_limit_s), "mip_rel_gap": 0.02},
        )
    record_highs(time_limit_s, getattr(result, "mip_node_count", None))
    if result.x is None:
        return None
    if relax:  # the linear relaxation: only its optimum, a lower bound (floored, as below)
        if result.status != 0 or not np.isfinite(result.fun):
            return None
        return None, None, math.floor(float(result.fun) - 1e-6) + objective.offset
    values = np.round(result.x).astype(np.int64)
    activity = matrix @ values
    if (
        np.any(values < lower)
        or np.any(values > upper)
        or np.any(activity < low_a)
        or np.any(activity > high_a)
    ):
        return None
    best = float(cost @ values) + objective.offset
    bound = getattr(result, "mip_dual_bound", None)
    if bound is None or not np.isfinite(bound):
        return None
    # floored: the bound stays proven under HiGHS's feasibility tolerances
    return [int(v) for v in values], best, math.floor(bound + 1e-6) + objective.offset


def _improve_by_day(
    builder: _Builder,
    base,
    values,
    best,
    deadline: float,
    num_workers: int,
    seed: int,
    by_unit: bool = False,
):
    """Re-optimise phase 1 one day at a time, every other day's variables fixed.

    CP-SAT closes a single day's gap in about a second but moves slowly on the whole week at
    once; the weekly limits still hold because the other days stay at feasible values.
    ``base`` is the model, ``values`` a solution by variable index of objective ``best``
    (scaled). ``by_unit`` alternates whole-week neighbourhoods of one skill group (the
    working-day patterns move several days at once) with the days. Returns the improved
    values and objective.
    """
    from ortools.sat.python import cp_model

    n_vars = len(base.proto.variables)
    values = list(values)
    days = [("day", d) for d in sorted(set(builder.day_of.values()))]
    if by_unit:
        units = sorted(set(builder.unit_of.values()), key=lambda u: -len(builder.unit_members[u]))
        order = [*[("unit", u) for u in units], *days, *[("unit", u) for u in units], *days]
    else:
        order = [*days, *days]
    for position, (kind, day) in enumerate(order):
        tags = builder.day_of if kind == "day" else builder.unit_of
        remaining = deadline - clock_now()
        if remaining < 0.5:
            break
        model = base.clone()
        for i in range(n_vars):
            var = model.get_int_var_from_proto_index(i)
            if tags.get(i, day) == day:  # this block's, or untagged (rule slacks)
                model.add_hint(var, values[i])
            else:
                model.add(var == values[i])
        sub = _solver(remaining / (len(order) - position), num_workers, seed)
        status = sub.solve(model)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE) and sub.objective_value < best:
            best = sub.objective_value
            for i in range(n_vars):
                if tags.get(i, day) == day:
                    values[i] = int(sub.value(model.get_int_var_from_proto_index(i)))
    return values, best


def _assign_patterns(
    agg: _Builder,
    members: list[int],
    wanted: dict[tuple[int, tuple[int, ...]], int],
    time_limit_s: float,
    num_workers: int,
    seed: int,
) -> set[tuple[int, int]] | None:
    """Hand phase 1's working-day patterns of one group to its named agents: each agent one
    pattern its fixed days off and availability allow, each pattern as often as planned, day
    requests met where the choice is free. Returns the (agent, day) pairs worked, or None."""
    from ortools.sat.python import cp_model

    m = cp_model.CpModel()
    h = agg.h
    cost: dict[tuple[int, int], float] = defaultdict(float)  # (agent, day) -> cost of working
    constant = 0.0
    base = agg.rules["shift_request"].weight
    settings = agg.settings
    if settings is not None and not agg.rules["shift_request"].hard:
        index_of = {a: a for a in members}
        for index, rule in enumerate(settings.requests):
            for a in _agents_for(rule, agg.agents, f"schedule.requests[{index}]"):
                if a not in index_of:
                    continue
                for d in range(h.days):
                    if _day_matches(rule, h, d):
                        weight = base * rule.weight
                        if rule.wanted:  # costs when the day is off
                            cost[a, d] -= weight
                            constant += weight
                        elif rule.shift is None:
                            cost[a, d] += weight
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
        objective += [1000 * SCALE * short, 1000 * SCALE * extra]
    m.minimize(sum(objective))
    solver = _solver(time_limit_s, num_workers, seed)
    status = solver.solve(m)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    del constant
    return {(a, d) for (a, (_, days)), var in z.items() if solver.value(var) for d in days}


def _try(args: dict, time_limit_s: float, num_workers: int, seed: int):
    """One sub-solve of the phased strategy: (status, (builder, solver)) or (status, None)."""
    try:
        builder, solver, status, _ = solve(
            args,
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
    return status, (builder, solver)


class _Values:
    """A solver stand-in for ``_extract``: values by variable index, objective and bound."""

    def __init__(self, values: list[int], objective: float, bound: float, note: str = "") -> None:
        self.values = values
        self.objective_value = objective
        self.best_objective_bound = bound
        self.note = note

    def value(self, var) -> int:
        return self.values[var.index]


def _polish(
    builder_args: dict,
    fixed: dict[tuple[int, int], int],
    deadline: float,
    num_workers: int,
    seed: int,
    progress: Callable[[float, float, float], None] | None = None,
    started: float = 0.0,
    bound: float = math.nan,
) -> tuple[_Builder, _Values] | None:
    """Large-neighbourhood search on the full named-agent model from the phased schedule.

    The model with every rule and the coverage is built once; the phased shifts are fixed and
    breaks and skills placed (the first solve), then neighbourhoods re-optimise a few agents'
    shifts at a time with everything else fixed (one skill group's agents on two neighbouring
    days; the weekly limits held by the other days). Every step starts from the incumbent as a
    hint and is kept only when it is cheaper, so the result is never worse than the phased
    schedule. ``bound`` (cost units) is only passed on to ``progress``. Returns the builder and
    the values, or None when even the first solve found nothing in time."""
    from ortools.sat.python import cp_model

    full = _Builder(**builder_args)
    full.build()
    full.m.minimize(sum(c * v for c, v in full.objective))
    proto = full.m.proto
    n_vars = len(proto.variables)
    x_of_agent: dict[int, list[tuple[int, int, object]]] = defaultdict(list)
    for (a, d, o), var in full.x.items():
        x_of_agent[a].append((d, o, var.index))

    def sub_model(free) -> object:
        """A copy of the model with the x variables outside ``free(a, d)`` fixed."""
        model = full.m.clone()
        variables = model.proto.variables
        for a, items in x_of_agent.items():
            for d, o, i in items:
                if free(a, d):
                    continue
                v = current[i] if current is not None else int(fixed.get((a, d)) == o)
                domain = variables[i].domain
                domain[0] = v
                domain[1] = v
        if current is not None:
            model.proto.solution_hint.vars.extend(range(n_vars))
            model.proto.solution_hint.values.extend(current)
        return model

    def run(model, limit: float):
        solver = _solver(max(limit, 0.5), num_workers, seed)
        status = solver.solve(model)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return None
        return list(solver.response_proto.solution), solver.objective_value

    current = None
    remaining = deadline - clock_now()
    first = run(sub_model(lambda a, d: False), min(max(remaining * 0.3, 1.0), 15.0))
    if first is None:
        return None
    current, best = first
    first_cost = best / SCALE + full.offset
    queues = set(builder_args["required"])
    groups: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for a, agent in enumerate(full.agents):
        groups[tuple(q for q in agent.skills if q in queues)].append(a)
    days = list(range(full.h.days))
    # one skill group's agents on two neighbouring days: small enough for CP-SAT to settle in a
    # few seconds, large enough to move shifts between days and agents
    blocks = [
        (set(members), {d, (d + 1) % len(days)})
        for d in days
        for members in sorted(groups.values(), key=len)
    ]
    position = 0
    failures = 0
    while True:
        remaining = deadline - clock_now()
        if remaining < 1.0 or failures >= len(blocks):
            break
        who, when = blocks[position % len(blocks)]
        position += 1
        model = sub_model(lambda a, d, who=who, when=when: a in who and d in when)
        found = run(model, min(remaining, 3.0))
        if found is not None and found[1] < best - 0.5:
            current, best = found
            failures = 0
            if progress is not None:
                progress(best / SCALE + full.offset, bound, clock_now() - started)
        else:
            failures += 1
    note = (
        f"polish (full model, {position} neighbourhoods): {first_cost:.1f} -> "
        f"{best / SCALE + full.offset:.1f}"
    )
    return full, _Values(current, best, best, note)

"""The weekly FTE flow: roster and hire classes through training, nesting and production.

Row ``w`` of the plan describes plan week ``w`` (weeks of 7 days from the plan start)::

    starting_fte(w)  = planned_fte(w - 1)                      (the roster at w = 0)
    attrition_fte(w) = FTE lost during week w - 1: tenure-band attrition of agents in
                       production, known exits, and the nesting-yield loss of classes
                       leaving nesting at w
    new_hire_fte(w)  = FTE of classes leaving training at w (starts x training yield x FTE),
                       plus roster agents hired at w
    planned_fte(w)   = max(0, starting - attrition + transfers) + new_hire     (headcount FTE)
    productive_fte(w)= planned_fte(w) - nesting agents' ramp loss:
                       a nesting agent counts productivity / (1 + AHT uplift) of an FTE
    net_fte(w)       = planned_fte(w) x (1 - shrinkage)
    gap_fte(w)       = productive_fte(w) - required_fte(w),  gap_pct = gap / required
    attrition_pct(w) = attrition_fte(w) / starting_fte(w)

With one tenure band and no nesting this is NICE ESP's ``FTE(w) = max(0, FTE(w-1) -
AbsAttrit(w-1)) + NewHire(w - training period)`` and Genesys's ``planned = starting -
attrition + new hires + transfers``, ``net = planned x (1 - shrinkage)``, ``over/under =
planned - required`` (required including shrinkage, ``required_fte_net / (1 - shrinkage)``).
Losses during training and nesting are the yields; tenure-band attrition starts in production,
tenure counted from the class start. Transfers are permanent FTE changes (no attrition).
Trainees are paid (``hires_in_training`` heads x FTE count in the staff cost) but not planned.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from openwfm.capacity.inputs import CapacityPlan, ClassTemplate, Costs, HireClass

CURVE_NAMES = ("training", "nesting", "productive", "planned", "new_hire", "attrition")


@dataclass
class Curves:
    """Per-week arrays (length = plan weeks): heads in training, nesting FTE, productive FTE,
    planned FTE, new-hire FTE and attrition FTE (rows as in the module doc)."""

    weeks: int
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in CURVE_NAMES:
            self.arrays.setdefault(name, np.zeros(self.weeks))

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]

    def add(self, other: Curves, factor: float = 1.0) -> Curves:
        for name in CURVE_NAMES:
            self.arrays[name] = self.arrays[name] + factor * other.arrays[name]
        return self


@dataclass(frozen=True)
class PlannedClass:
    """A class with its week index in the plan and its resolved template."""

    name: str
    start_week: int
    size: float
    template: ClassTemplate
    origin: str = "plan"


def tenure_rates(plan: CapacityPlan, length: int) -> np.ndarray:
    """Weekly leaving rate by tenure in weeks, 0..length-1."""
    return plan.attrition_rates(length)


def survival(rates: np.ndarray, first_tenure: int, weeks: int) -> np.ndarray:
    """Share still employed after 0..weeks-1 weeks, starting at tenure ``first_tenure``."""
    steps = 1.0 - rates[first_tenure : first_tenure + weeks - 1]
    return np.concatenate([[1.0], np.cumprod(steps)])


def _production(curves: Curves, fte: float, from_week: int, hire_week: int, rates, exit_week):
    """Add a cohort in production from ``from_week`` (FTE ``fte`` then) to ``curves``."""
    weeks = curves.weeks
    if from_week >= weeks or fte == 0:
        return
    span = weeks - from_week
    alive = fte * survival(rates, from_week - hire_week, span)
    if exit_week is not None and exit_week < weeks:
        alive[max(0, exit_week - from_week) :] = 0.0
    curves.arrays["planned"][from_week:] += alive
    curves.arrays["productive"][from_week:] += alive
    curves.arrays["attrition"][from_week + 1 :] += alive[:-1] - alive[1:]


def class_curves(template: ClassTemplate, start_week: int, weeks: int, rates: np.ndarray) -> Curves:
    """Curves of a class of one start beginning at ``start_week`` (linear in the class size)."""
    curves = Curves(weeks)
    fte = template.fte
    training_end = start_week + template.training_weeks
    curves.arrays["training"][start_week : min(training_end, weeks)] += 1.0
    nesting_fte = fte * template.yield_training
    if template.nesting:
        if training_end < weeks:
            curves.arrays["new_hire"][training_end] += nesting_fte
        for k, week in enumerate(template.nesting):
            at = training_end + k
            if at < weeks:
                curves.arrays["nesting"][at] += nesting_fte
                curves.arrays["planned"][at] += nesting_fte
                curves.arrays["productive"][at] += (
                    nesting_fte * week.productivity / (1.0 + week.aht_uplift)
                )
        production = start_week + template.lead_weeks
        if production < weeks:
            curves.arrays["attrition"][production] += nesting_fte * (1.0 - template.yield_nesting)
    else:
        production = training_end
        if production < weeks:
            curves.arrays["new_hire"][production] += nesting_fte * template.yield_nesting
    _production(curves, nesting_fte * template.yield_nesting, production, start_week, rates, None)
    return curves


def roster_curves(roster: pd.DataFrame, plan: CapacityPlan, weeks: int, rates) -> Curves:
    """Curves of the roster: agents active at the plan start are in production at week 0;
    agents hired later join (new hires) at their hire week; known exits leave at theirs."""
    curves = Curves(weeks)
    start = pd.Timestamp(plan.start)
    for row in roster.itertuples(index=False):
        hire_week = int(np.floor((row.hire_date - start).days / 7))
        exit_week = None
        if pd.notna(row.exit_date):
            if row.exit_date < start:
                continue
            exit_week = int(np.floor((row.exit_date - start).days / 7)) + 1
        from_week = max(hire_week, 0)
        if from_week >= weeks:
            continue
        if hire_week > 0:
            curves.arrays["new_hire"][hire_week] += row.fte
        _production(curves, float(row.fte), from_week, hire_week, rates, exit_week)
    return curves


def resolve_classes(
    plan: CapacityPlan, classes: list[HireClass] | None = None
) -> list[PlannedClass]:
    """The plan's classes (or ``classes``) with week indices and templates."""
    out = []
    for number, hire_class in enumerate(plan.classes if classes is None else classes):
        week = (hire_class.start - plan.start).days // 7
        out.append(
            PlannedClass(
                hire_class.name or f"class {number + 1}",
                int(week),
                float(hire_class.size),
                hire_class.template(plan.class_template),
            )
        )
    return out


def rates_for(plan: CapacityPlan, roster: pd.DataFrame | None, weeks: int) -> np.ndarray:
    """Tenure rates long enough for the longest-serving roster agent over the plan."""
    longest = 0
    if roster is not None and len(roster):
        longest = int((pd.Timestamp(plan.start) - roster["hire_date"].min()).days // 7)
    return tenure_rates(plan, max(longest, 0) + weeks + 2)


def workforce_curves(
    plan: CapacityPlan, roster: pd.DataFrame | None, classes: list[PlannedClass], weeks: int
) -> Curves:
    rates = rates_for(plan, roster, weeks)
    total = roster_curves(roster, plan, weeks, rates) if roster is not None else Curves(weeks)
    for hire_class in classes:
        total.add(
            class_curves(hire_class.template, hire_class.start_week, weeks, rates), hire_class.size
        )
    return total


def transfers_by_week(plan: CapacityPlan, weeks: int) -> np.ndarray:
    out = np.zeros(weeks)
    for transfer in plan.transfers:
        week = (transfer.week - plan.start).days // 7
        if 0 <= week < weeks:
            out[week] += transfer.fte
    return out


def starts_by_week(classes: list[PlannedClass], weeks: int) -> np.ndarray:
    out = np.zeros(weeks)
    for hire_class in classes:
        if 0 <= hire_class.start_week < weeks:
            out[hire_class.start_week] += hire_class.size
    return out


def plan_table(
    required: pd.DataFrame,
    plan: CapacityPlan,
    roster: pd.DataFrame | None,
    classes: list[PlannedClass],
    *,
    shrinkage: float,
) -> pd.DataFrame:
    """The weekly plan (module doc) for ``required`` (``week_start, required_fte_net`` per
    week, in plan order)."""
    weeks = len(required)
    curves = workforce_curves(plan, roster, classes, weeks)
    transfers = transfers_by_week(plan, weeks)
    starts = starts_by_week(classes, weeks)
    planned = np.zeros(weeks)
    starting = np.zeros(weeks)
    for w in range(weeks):
        starting[w] = planned[w - 1] if w else curves["planned"][0] - curves["new_hire"][0]
        kept = starting[w] - curves["attrition"][w] + transfers[w]
        planned[w] = max(0.0, kept) + curves["new_hire"][w]
    ramp_loss = curves["planned"] - curves["productive"]
    productive = planned - ramp_loss
    required_net = required["required_fte_net"].to_numpy(float)
    required_gross = required_net / (1.0 - shrinkage)
    gap = productive - required_gross
    trainee_fte = _trainee_fte(classes, weeks)
    table = pd.DataFrame(
        {
            "week_start": pd.to_datetime(required["week_start"]).to_numpy(),
            "required_fte_net": required_net,
            "required_fte": required_gross,
            "starting_fte": starting,
            "attrition_fte": curves["attrition"],
            "attrition_pct": curves["attrition"] / np.where(starting > 0, starting, np.nan),
            "new_hire_fte": curves["new_hire"],
            "transfers_fte": transfers,
            "planned_fte": planned,
            "productive_fte": productive,
            "net_fte": planned * (1.0 - shrinkage),
            "gap_fte": gap,
            "gap_pct": gap / np.where(required_gross > 0, required_gross, np.nan),
            "class_starts": starts,
            "hires_in_training": curves["training"],
            "hires_in_nesting": curves["nesting"],
        }
    )
    return add_costs(table, plan.costs, trainee_fte)


def _trainee_fte(classes: list[PlannedClass], weeks: int) -> np.ndarray:
    out = np.zeros(weeks)
    for hire_class in classes:
        end = min(hire_class.start_week + hire_class.template.training_weeks, weeks)
        out[max(hire_class.start_week, 0) : end] += hire_class.size * hire_class.template.fte
    return out


def add_costs(table: pd.DataFrame, costs: Costs, trainee_fte: np.ndarray) -> pd.DataFrame:
    """Cost columns: hiring (per start), staff (wage x (planned + trainee FTE)), shortage and
    over-staffing (per FTE-week of productive FTE below/above the requirement)."""
    gap = table["gap_fte"].to_numpy(float)
    table["hiring_cost"] = costs.hire_per_start * table["class_starts"]
    table["staff_cost"] = costs.wage_per_fte_week * (table["planned_fte"] + trainee_fte)
    table["shortage_cost"] = costs.shortage_per_fte_week * np.maximum(-gap, 0.0)
    table["over_cost"] = costs.over_per_fte_week * np.maximum(gap, 0.0)
    table["cost"] = table[["hiring_cost", "staff_cost", "shortage_cost", "over_cost"]].sum(axis=1)
    return table

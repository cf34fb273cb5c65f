"""Which classes to start: a back-solver and an optimiser over class sizes and dates.

Both work on the plan's average behaviour, which is linear in the class sizes: a class of ``x``
starts at week ``s`` adds ``x * A[w, s]`` productive FTE and costs ``x * paid[w, s]`` paid FTE
in week ``w`` (training, yields, nesting ramp and tenure attrition of the class template).

- :func:`back_solve` walks the weeks in order and, for each week still short, starts the
  class that reaches production exactly then (one lead time earlier), sized to close the gap
  after its yields ("10 productive hires at 60% yield need 17 starts").
- :func:`optimise_starts` is a MIP (HiGHS through ``scipy.optimize.milp``) over integer
  starts per candidate week, minimising hiring + wages + shortage + over-staffing costs: the
  LP on average behaviour that Gans & Zhou (2002) found within 1% of optimal, with the
  shortage priced on the spread of simulated attrition (:func:`staff_spread`), which keeps a
  margin where losses are uncertain. ``tests/test_capacity_dp.py`` and ``bench/capacity.py``
  check it, alone and as the price at the leaves of a two-week look-ahead policy
  (:mod:`.gans_zhou`), against an exact DP.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from openwfm.capacity.flow import PlannedClass, class_curves, rates_for, workforce_curves
from openwfm.capacity.inputs import CapacityPlan, ClassTemplate, Costs
from openwfm.errors import InfeasibleError


@dataclass(frozen=True)
class Response:
    """Per-start response of a class template: ``productive[w, j]`` and ``paid[w, j]`` FTE in
    week ``w`` per start of a class beginning at ``start_weeks[j]``."""

    start_weeks: np.ndarray
    productive: np.ndarray
    paid: np.ndarray
    lead_weeks: int = 0


def class_response(
    template: ClassTemplate, start_weeks: np.ndarray, weeks: int, rates: np.ndarray
) -> Response:
    productive = np.zeros((weeks, len(start_weeks)))
    paid = np.zeros((weeks, len(start_weeks)))
    for j, start in enumerate(start_weeks):
        curves = class_curves(template, int(start), weeks, rates)
        productive[:, j] = curves["productive"]
        paid[:, j] = curves["planned"] + curves["training"] * template.fte
    return Response(np.asarray(start_weeks, dtype=int), productive, paid, template.lead_weeks)


def optimise_starts(
    required: np.ndarray,
    base_productive: np.ndarray,
    response: Response,
    costs: Costs,
    *,
    max_class_size: float = 40,
    min_class_size: float = 0,
    integer: bool = True,
    time_limit_s: float = 30.0,
    capacity_sd: np.ndarray | None = None,
    capacity_spread: list[tuple[np.ndarray, np.ndarray]] | None = None,
) -> np.ndarray:
    """Starts per candidate week minimising ``hire_per_start x starts + wage x paid FTE +
    shortage x FTE short + over x FTE over`` (all weeks); returns one size per start week.

    Variables: starts ``x_j`` (integer when ``integer``), short ``u_w`` and over ``o_w`` >= 0,
    and, when ``min_class_size > 0``, an open/closed binary per class; constraints
    ``base_w + sum_j A[w, j] x_j + u_w - o_w = required_w``.

    ``capacity_sd`` (FTE per week, e.g. the spread of simulated attrition) prices the shortage
    as its expectation when productive FTE is normal with that spread around the plan:
    ``u_w >= E[(required - C)^+]``, a convex function of the planned FTE kept as tangent cuts
    (then ``o_w`` is the expected surplus, as ``E[(C - r)^+] = E[(r - C)^+] + mu - r``). So
    the plan keeps a safety margin where losses are uncertain and shortage is dear.
    ``capacity_spread`` does the same for a discrete spread, one ``(deviations,
    probabilities)`` pair per week (e.g. the exact distribution of the current staff's
    capacity around its mean): the cuts are then exact.
    """
    from scipy.optimize import Bounds, LinearConstraint, milp

    weeks, n_starts = response.productive.shape
    with_open = min_class_size > 0
    n_vars = n_starts * (2 if with_open else 1) + 2 * weeks
    cost = np.zeros(n_vars)
    cost[:n_starts] = costs.hire_per_start + costs.wage_per_fte_week * response.paid.sum(axis=0)
    offset = n_starts * (2 if with_open else 1)
    cost[offset : offset + weeks] = costs.shortage_per_fte_week
    cost[offset + weeks :] = costs.over_per_fte_week
    balance = np.zeros((weeks, n_vars))
    balance[:, :n_starts] = response.productive
    balance[:, offset : offset + weeks] = np.eye(weeks)
    balance[:, offset + weeks :] = -np.eye(weeks)
    target = np.asarray(required, float) - np.asarray(base_productive, float)
    constraints = [LinearConstraint(balance, target, target)]
    if capacity_spread is not None:
        constraints.extend(_spread_cuts(capacity_spread, target, response, n_vars, offset))
    if capacity_sd is not None:
        constraints.extend(
            _shortage_cuts(np.asarray(capacity_sd, float), target, response, n_vars, offset)
        )
    upper = np.full(n_vars, np.inf)
    upper[:n_starts] = max_class_size
    integrality = np.zeros(n_vars)
    if integer:
        integrality[:n_starts] = 1
    if with_open:
        upper[n_starts : 2 * n_starts] = 1
        integrality[n_starts : 2 * n_starts] = 1
        link = np.zeros((2 * n_starts, n_vars))
        for j in range(n_starts):
            link[j, j], link[j, n_starts + j] = 1.0, -max_class_size  # x <= max * open
            link[n_starts + j, j], link[n_starts + j, n_starts + j] = 1.0, -min_class_size
        constraints.append(
            LinearConstraint(
                link,
                np.r_[np.full(n_starts, -np.inf), np.zeros(n_starts)],
                np.r_[np.zeros(n_starts), np.full(n_starts, np.inf)],
            )
        )
    result = milp(
        cost,
        constraints=constraints,
        integrality=integrality,
        bounds=Bounds(np.zeros(n_vars), upper),
        options={"time_limit": time_limit_s, "disp": False},
    )
    if result.x is None:
        raise InfeasibleError(f"the hiring MIP found no solution: {result.message}")
    starts = result.x[:n_starts]
    return np.round(starts) if integer else starts


_CUT_POINTS = np.array([-3.0, -2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 3.0])


def _shortage_cuts(sd, target, response: Response, n_vars: int, offset: int):
    """Tangents of ``E[(d - Z)^+]``, ``Z ~ N(0, sd^2)``, at ``d = k sd``: ``u_w >= E(d_k) +
    Phi(k) (d - d_k)`` with ``d = target_w - sum_j A[w, j] x_j`` (the planned shortfall)."""
    from scipy.optimize import LinearConstraint
    from scipy.stats import norm

    weeks, n_starts = response.productive.shape
    rows, lower = [], []
    for week in np.flatnonzero(sd > 1e-9):
        for k in _CUT_POINTS:
            slope = norm.cdf(k)
            at = k * sd[week]
            expected = sd[week] * norm.pdf(k) + at * slope
            row = np.zeros(n_vars)
            row[:n_starts] = slope * response.productive[week]
            row[offset + week] = 1.0
            rows.append(row)
            lower.append(expected + slope * (target[week] - at))
    if not rows:
        return []
    return [LinearConstraint(np.array(rows), np.array(lower), np.full(len(rows), np.inf))]


def _spread_cuts(spread, target, response: Response, n_vars: int, offset: int):
    """Exact cuts of ``g(d) = sum_i p_i (d - z_i)^+`` (convex, piecewise linear, breaks at
    the deviations ``z_i``): ``u_w >= g(z_j) + G(z_j) (d - z_j)``, ``G`` the cumulative
    probability up to ``z_j``, with ``d = target_w - sum_j A[w, j] x_j``."""
    from scipy.optimize import LinearConstraint

    n_starts = response.productive.shape[1]
    rows, lower = [], []
    for week, (deviations, probabilities) in enumerate(spread):
        order = np.argsort(deviations)
        z = np.asarray(deviations, float)[order]
        p = np.asarray(probabilities, float)[order]
        cumulative = np.cumsum(p)
        for j in range(len(z)):
            value = float(np.sum(p[:j] * (z[j] - z[:j])))
            slope = float(cumulative[j])
            row = np.zeros(n_vars)
            row[:n_starts] = slope * response.productive[week]
            row[offset + week] = 1.0
            rows.append(row)
            lower.append(value + slope * (target[week] - z[j]))
    if not rows:
        return []
    return [LinearConstraint(np.array(rows), np.array(lower), np.full(len(rows), np.inf))]


def _candidate_weeks(plan: CapacityPlan, weeks: int) -> np.ndarray:
    first = 0
    if plan.hiring.first_start is not None:
        first = max(0, math.ceil((plan.hiring.first_start - plan.start).days / 7))
    return np.arange(first, weeks, plan.hiring.start_every_weeks, dtype=int)


def _as_classes(plan: CapacityPlan, response: Response, sizes, origin: str) -> list[PlannedClass]:
    out = []
    for week, size in zip(response.start_weeks, sizes, strict=True):
        if size > 1e-9:
            start = (pd.Timestamp(plan.start) + pd.Timedelta(weeks=int(week))).date()
            out.append(
                PlannedClass(
                    f"{origin} {start}", int(week), float(size), plan.class_template, origin
                )
            )
    return out


def suggest_classes(
    plan: CapacityPlan,
    required_fte: np.ndarray,
    roster: pd.DataFrame | None,
    committed: list[PlannedClass],
    method: str | None = None,
) -> list[PlannedClass]:
    """Classes to add on top of ``committed`` so productive FTE meets ``required_fte`` (gross,
    with shrinkage), by ``method`` (default: the plan's ``hiring.method``)."""
    method = method or plan.hiring.method
    weeks = len(required_fte)
    if method == "none" or weeks == 0:
        return []
    base = workforce_curves(plan, roster, committed, weeks)["productive"]
    rates = rates_for(plan, roster, weeks)
    response = class_response(plan.class_template, _candidate_weeks(plan, weeks), weeks, rates)
    if method == "back_solve":
        sizes = back_solve(required_fte, base, response)
    else:
        sizes = optimise_starts(
            required_fte,
            base,
            response,
            plan.costs,
            max_class_size=plan.hiring.max_class_size,
            min_class_size=plan.hiring.min_class_size,
            capacity_spread=staff_spread(plan, roster, committed, weeks),
        )
    return _as_classes(plan, response, sizes, method)


def staff_spread(
    plan: CapacityPlan, roster, committed: list[PlannedClass], weeks: int, atoms: int = 21
) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Per week, the spread of the committed staff's productive FTE around its mean from the
    attrition simulation, as ``atoms`` equally likely quantiles (None without shortage or
    over-staffing cost)."""
    from openwfm.capacity.band import simulate_productive

    if plan.costs.shortage_per_fte_week <= 0 and plan.costs.over_per_fte_week <= 0:
        return None
    paths = simulate_productive(plan, roster, committed, weeks)
    deviations = paths - paths.mean(axis=0)
    levels = (np.arange(atoms) + 0.5) / atoms
    quantiles = np.quantile(deviations, levels, axis=0)  # [atoms, weeks]
    return [
        (quantiles[:, week] - quantiles[:, week].mean(), np.full(atoms, 1.0 / atoms))
        for week in range(weeks)
    ]


def back_solve(required: np.ndarray, base_productive: np.ndarray, response: Response) -> np.ndarray:
    """Starts per candidate week: for each week still short (in order), the latest candidate
    start whose class is fully productive by then, sized ``ceil(shortfall / FTE per start)``."""
    sizes = np.zeros(len(response.start_weeks))
    productive = np.asarray(base_productive, float).copy()
    ready_week = response.start_weeks + response.lead_weeks
    for week, need in enumerate(np.asarray(required, float)):
        short = need - productive[week]
        if short <= 1e-9:
            continue
        ready = np.flatnonzero((ready_week <= week) & (response.productive[week] > 0))
        if not ready.size:
            continue  # no class can be productive by this week: the gap stays
        j = int(ready[-1])
        size = math.ceil(short / response.productive[week, j] - 1e-9)
        sizes[j] += size
        productive += size * response.productive[:, j]
    return sizes


def back_solve_table(plan: CapacityPlan, classes: list[PlannedClass]) -> pd.DataFrame:
    """Classes as a table: name, origin, start, starts, production week, graduates (FTE)."""
    rows = []
    for hire_class in classes:
        start = pd.Timestamp(plan.start) + pd.Timedelta(weeks=hire_class.start_week)
        template = hire_class.template
        rows.append(
            {
                "name": hire_class.name,
                "origin": hire_class.origin,
                "start": start,
                "starts": hire_class.size,
                "training_weeks": template.training_weeks,
                "nesting_weeks": len(template.nesting),
                "production_start": start + pd.Timedelta(weeks=template.lead_weeks),
                "graduates_fte": hire_class.size * template.graduate_yield * template.fte,
            }
        )
    columns = [
        "name",
        "origin",
        "start",
        "starts",
        "training_weeks",
        "nesting_weeks",
        "production_start",
        "graduates_fte",
    ]
    return pd.DataFrame(rows, columns=columns)

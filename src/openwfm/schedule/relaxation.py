"""The linear relaxation of a CP-SAT model that holds only linear constraints, solved by HiGHS.

Phase 1's group model (shift counts per skill group, break flows, skill splits, coverage) is a
plain integer program. Its linear relaxation is a proven lower bound of the whole scheduling
problem, and its solution says which shifts the groups should work. HiGHS's interior-point
solver (``linprog(method="highs-ipm")``, with crossover) settles it in seconds where the dual
simplex of the MIP's root node takes minutes on degenerate instances such as the Anonymous
Bank week (about 41,000 variables: 68 s of dual simplex, 6-10 s of interior point on a loaded
2-core machine).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from openwfm.schedule.budget import clock

IPM_WORK_PER_ITERATION_S = 0.05  # deterministic seconds charged per interior-point iteration


@dataclass
class LinearProgram:
    """``lower <= matrix @ x <= upper``, ``lb <= x <= ub``, minimise ``cost @ x + offset``."""

    cost: np.ndarray
    matrix: object  # scipy.sparse.csr_matrix
    lower: np.ndarray
    upper: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    offset: float


def _linear_row(constraint) -> tuple[list[int], list[int], int, int] | None:
    """One constraint as ``lo <= sum(coefficients * variables) <= hi`` (negated literals
    ``-v - 1`` become ``1 - v``), or None when it is not linear."""
    kinds = ("linear", "at_most_one", "exactly_one", "bool_or")
    kind = next((k for k in kinds if getattr(constraint, f"has_{k}")()), None)
    if kind == "linear":
        if len(constraint.linear.domain) != 2:
            return None
        terms = list(zip(constraint.linear.vars, constraint.linear.coeffs, strict=True))
        lo, hi = constraint.linear.domain[0], constraint.linear.domain[1]
    elif kind is not None:
        literals = getattr(constraint, kind).literals
        terms = [(v, 1) for v in literals]
        lo = 1 if kind != "at_most_one" else -(2**62)
        hi = 1 if kind != "bool_or" else len(literals)
    else:
        return None
    variables, coefficients = [], []
    for v, k in terms:
        if v < 0:  # the negation of variable -v - 1: k (1 - x)
            v, k = -v - 1, -k
            lo, hi = lo + k, hi + k
        variables.append(v)
        coefficients.append(k)
    return variables, coefficients, lo, hi


def linear_program(proto, ones: set[int]) -> LinearProgram | None:
    """The CP-SAT model ``proto`` as matrices, with the Boolean variables ``ones`` fixed to 1
    (their enforced constraints become plain ones). None when the model holds anything but
    linear constraints (``at_most_one``, ``exactly_one`` and ``bool_or`` count as linear) with
    an integer (unscaled) objective.
    The one conversion of a model to HiGHS: the relaxation, the guided rounding, the polish
    and phase 1's MIP (:func:`openwfm.schedule.highs.mip`) all use it."""
    from scipy.sparse import csr_matrix

    n = len(proto.variables)
    lb = np.empty(n)
    ub = np.empty(n)
    for i, var in enumerate(proto.variables):
        domain = var.domain
        if len(domain) != 2:
            return None
        lb[i], ub[i] = domain[0], domain[1]
    for i in ones:
        lb[i] = ub[i] = 1
    rows, cols, coefs, low, high = [], [], [], [], []
    for constraint in proto.constraints:
        if any(e not in ones for e in constraint.enforcement_literal):
            return None
        row = _linear_row(constraint)
        if row is None:
            return None
        variables, coefficients, lo, hi = row
        r = len(low)
        rows.extend([r] * len(variables))
        cols.extend(variables)
        coefs.extend(coefficients)
        low.append(lo)
        high.append(hi)
    objective = proto.objective
    if objective.scaling_factor not in (0, 1) or any(v < 0 for v in objective.vars):
        return None
    cost = np.zeros(n)
    np.add.at(cost, np.array(objective.vars, dtype=int), np.array(objective.coeffs, float))
    low_a = np.array(low, float)
    high_a = np.array(high, float)
    return LinearProgram(
        cost=cost,
        matrix=csr_matrix((coefs, (rows, cols)), shape=(len(low), n)),
        lower=np.where(low_a < -1e15, -np.inf, low_a),
        upper=np.where(high_a > 1e15, np.inf, high_a),
        lb=lb,
        ub=ub,
        offset=float(objective.offset),
    )


def solve_relaxation(lp: LinearProgram, time_limit_s: float) -> tuple[np.ndarray, float] | None:
    """The relaxation's optimal solution and its value floored to an integer (the model's
    units, offset included: a bound that stays proven under the solver's tolerances), or None
    when HiGHS did not reach the optimum within ``time_limit_s`` (wall seconds; with a
    deterministic budget the limit is not set and the iterations are charged to the clock)."""
    from scipy.optimize import linprog
    from scipy.sparse import vstack

    equal = lp.lower == lp.upper
    above = ~equal & np.isfinite(lp.upper)
    below = ~equal & np.isfinite(lp.lower)
    active = clock()
    options = {} if active.deterministic else {"time_limit": max(float(time_limit_s), 1.0)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = linprog(
            lp.cost,
            A_ub=vstack([lp.matrix[above], -lp.matrix[below]]).tocsr(),
            b_ub=np.r_[lp.upper[above], -lp.lower[below]],
            A_eq=lp.matrix[equal],
            b_eq=lp.lower[equal],
            bounds=np.c_[lp.lb, lp.ub],
            method="highs-ipm",
            options=options,
        )
    active.add(IPM_WORK_PER_ITERATION_S * float(getattr(result, "nit", 0) or 0))
    if result.status != 0 or result.x is None or not np.isfinite(result.fun):
        return None
    return np.asarray(result.x), math.floor(float(result.fun) - 1e-6) + lp.offset


def run_milp(
    lp: LinearProgram, time_limit_s: float, relative_gap: float, integer: np.ndarray | None = None
):
    """scipy's ``milp`` (HiGHS) on ``lp`` within the active budget (``time_limit_s``, the
    relative gap), the variables flagged in ``integer`` (default: all) integer: its result."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    from openwfm.schedule.budget import highs_limits, record_highs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = milp(
            lp.cost,
            integrality=np.ones(len(lp.cost)) if integer is None else integer,
            bounds=Bounds(lp.lb, lp.ub),
            constraints=LinearConstraint(lp.matrix, lp.lower, lp.upper),
            options={**highs_limits(time_limit_s), "mip_rel_gap": relative_gap},
        )
    record_highs(time_limit_s, getattr(result, "mip_node_count", None), lp.matrix.nnz)
    return result


def solve_integer(
    lp: LinearProgram,
    time_limit_s: float,
    relative_gap: float = 0.002,
    integer: np.ndarray | None = None,
) -> tuple[np.ndarray, float] | None:
    """A solution of ``lp`` by HiGHS's MIP solver within the active budget, the variables
    flagged in ``integer`` (default: all) integer, checked against every constraint (integer
    variables rounded), and its value (the model's units, offset included); None when none was
    found."""
    result = run_milp(lp, time_limit_s, relative_gap, integer)
    if result.x is None:
        return None
    whole = np.ones(len(lp.cost), bool) if integer is None else integer > 0
    values = np.where(whole, np.round(result.x), result.x)
    activity = lp.matrix @ values
    slack = 1e-6 * (1.0 + np.abs(activity))
    if (
        np.any(values < lp.lb - 1e-9)
        or np.any(values > lp.ub + 1e-9)
        or np.any(activity < lp.lower - slack)
        or np.any(activity > lp.upper + slack)
    ):
        return None
    return values, float(lp.cost @ values) + lp.offset

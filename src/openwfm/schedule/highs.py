"""The HiGHS step: a CP-SAT model that holds only linear constraints solved as a MIP
(scipy's ``milp``), for phase 1 of the phased strategy and its linear relaxation bound."""

from __future__ import annotations

import math

import numpy as np

from openwfm.schedule.budget import highs_limits, record_highs

MIP_REL_GAP = 0.02  # HiGHS stops at this relative gap (the named-agent phases lose about as much)


def _bounds(proto, ones: set[int]):
    """Lower and upper bound per variable (None when a domain has holes)."""
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
    return lower, upper


def _rows(proto, ones: set[int], lower: np.ndarray):
    """The constraints as sparse rows (rows, cols, coefs, low, high), or None when one is not
    linear or is enforced by a literal outside ``ones``."""
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
    return rows, cols, coefs, low, high


def _run_milp(cost, lower, upper, matrix, low_a, high_a, time_limit_s, relax):
    import warnings

    from scipy.optimize import Bounds, LinearConstraint, milp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = milp(
            cost,
            integrality=np.zeros(len(cost)) if relax else np.ones(len(cost)),
            bounds=Bounds(lower, upper),
            constraints=LinearConstraint(
                matrix,
                np.where(low_a < -1e15, -np.inf, low_a),
                np.where(high_a > 1e15, np.inf, high_a),
            ),
            # stop at a 2% gap (of the objective without its constant part): the named-agent
            # phases lose about that much anyway and get the time instead
            options={**highs_limits(time_limit_s), "mip_rel_gap": MIP_REL_GAP},
        )
    record_highs(time_limit_s, getattr(result, "mip_node_count", None))
    return result


def mip(proto, ones: set[int], time_limit_s: float, relax: bool = False):
    """Solve a CP-SAT model that holds only linear constraints as a MIP with HiGHS (scipy).

    ``ones``: Boolean variables fixed to 1 (their enforced constraints become plain ones).
    Returns (values by variable index, objective and dual bound in the model's integer
    units), or None when the model has other constraints or no solution was found in time.
    With ``relax``, the linear relaxation: (None, None, its optimum floored) or None.
    The solution is checked against every constraint in integers before it is returned."""
    from scipy.sparse import csr_matrix

    bounds = _bounds(proto, ones)
    if bounds is None:
        return None
    lower, upper = bounds
    found = _rows(proto, ones, lower)
    if found is None:
        return None
    rows, cols, coefs, low, high = found
    objective = proto.objective
    if (
        not len(objective.vars)
        or objective.scaling_factor not in (0, 1)
        or any(v < 0 for v in objective.vars)
    ):
        return None  # no integer objective (or a scaled one): leave it to CP-SAT
    n = len(lower)
    cost = np.zeros(n)
    np.add.at(cost, np.array(objective.vars, dtype=int), np.array(objective.coeffs, float))
    matrix = csr_matrix((coefs, (rows, cols)), shape=(len(low), n))
    low_a = np.array(low, float)
    high_a = np.array(high, float)
    result = _run_milp(cost, lower, upper, matrix, low_a, high_a, time_limit_s, relax)
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

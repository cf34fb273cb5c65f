"""The HiGHS step: a CP-SAT model that holds only linear constraints solved as a MIP
(scipy's ``milp``), for phase 1 of the phased strategy. The model becomes matrices by
:func:`openwfm.schedule.relaxation.linear_program`, the one conversion every HiGHS step uses."""

from __future__ import annotations

import math

import numpy as np

from openwfm.schedule.relaxation import linear_program, run_milp

MIP_REL_GAP = 0.02  # HiGHS stops at this relative gap (the named-agent phases lose about as much)


def mip(proto, ones: set[int], time_limit_s: float):
    """Solve a CP-SAT model that holds only linear constraints as a MIP with HiGHS (scipy).

    ``ones``: Boolean variables fixed to 1 (their enforced constraints become plain ones).
    Returns (values by variable index, objective and dual bound in the model's integer
    units), or None when the model has other constraints, no integer objective, or no
    solution was found in time. The solution is checked against every constraint in integers
    before it is returned."""
    lp = linear_program(proto, ones)
    if lp is None or not len(proto.objective.vars):
        return None  # not linear, or no integer objective: leave it to CP-SAT
    # stop at a 2% gap (of the objective without its constant part): the named-agent phases
    # lose about that much anyway and get the time instead
    result = run_milp(lp, time_limit_s, MIP_REL_GAP)
    if result.x is None:
        return None
    values = np.round(result.x).astype(np.int64)
    activity = lp.matrix @ values
    if (
        np.any(values < lp.lb)
        or np.any(values > lp.ub)
        or np.any(activity < lp.lower)
        or np.any(activity > lp.upper)
    ):
        return None
    best = float(lp.cost @ values) + lp.offset
    bound = getattr(result, "mip_dual_bound", None)
    if bound is None or not np.isfinite(bound):
        return None
    # floored: the bound stays proven under HiGHS's feasibility tolerances
    return [int(v) for v in values], best, math.floor(bound + 1e-6) + lp.offset

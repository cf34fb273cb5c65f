"""Construction: a schedule that keeps every hard rule, found before coverage is optimised.

Coverage is soft (a gap is reported, never a reason for infeasibility), so the hard part of
a schedule is each agent's rules: contract minutes, days off, rest, successions, availability.
CP-SAT finds a schedule for those alone within seconds, where the same model with the coverage
objective may find nothing in the time given (its search chases coverage first). The
construction solves the model without its objective and stops at the first solution; that
solution is then the improvement solve's hint (its first incumbent), and the answer when the
improvement finds nothing better in time. It exists whenever the hard rules allow one.
"""

from __future__ import annotations

from openwfm.schedule.budget import clock_now, cp_sat_solver

CONSTRUCT_SHARE = 0.5  # of the time limit for the construction ...
CONSTRUCT_MIN_S = 30.0  # ... but at least this (it stops at its first solution, usually sooner)


def construct_budget(time_limit_s: float) -> float:
    """Seconds (or deterministic seconds) the construction may take: it is the guarantee of a
    schedule, so a short time limit does not starve it."""
    return max(time_limit_s * CONSTRUCT_SHARE, CONSTRUCT_MIN_S)


class Constructed:
    """A solver stand-in for a constructed solution: values by variable index, its objective
    (the model's scaled units) and a bound (the improvement's, or minus infinity)."""

    def __init__(self, values: list[int], objective: float, bound: float) -> None:
        self.values = values
        self.objective_value = objective
        self.best_objective_bound = bound

    def value(self, var) -> int:
        return self.values[var.index]


def construct(model, time_limit_s: float, seed: int) -> tuple[str, list[int] | None]:
    """Solve ``model`` (a CP-SAT model without objective) for any solution.

    Returns (``found`` | ``infeasible`` | ``unknown``, values by variable index or None)."""
    from ortools.sat.python import cp_model

    solver = cp_sat_solver(time_limit_s, 1, seed)
    solver.parameters.stop_after_first_solution = True
    status = solver.solve(model)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return "found", [int(v) for v in solver.response_proto.solution]
    if status == cp_model.INFEASIBLE:
        return "infeasible", None
    return "unknown", None


def add_hint(model, values: list[int]) -> None:
    """Every variable hinted at ``values`` (the improvement starts from that schedule)."""
    model.clear_hints()
    hint = model.proto.solution_hint
    hint.vars.extend(range(len(values)))
    hint.values.extend(values)


def objective_of(model, values: list[int]) -> float:
    """The model's objective (its scaled integer units, offset included) at ``values``."""
    objective = model.proto.objective
    total = 0
    for v, c in zip(objective.vars, objective.coeffs, strict=True):
        total += c * (values[v] if v >= 0 else 1 - values[-v - 1])
    return float((objective.scaling_factor or 1.0) * (total + objective.offset))


FINISH_MIN_S = 5.0  # the full model's solve after the agents: at least this (past the limit)
AGENT_WORK_S = 0.5  # deterministic seconds for each agent's objective (load-independent)


def _solve_one(builder, time_limit_s: float, seed: int, model=None, work_s: float | None = None):
    """Best solution of ``model`` (default ``builder.model``, objective not set yet) within the
    limit: first any solution of its hard constraints, then the objective from there (one
    CP-SAT worker chasing the objective alone often finds nothing). (found, values)."""
    from ortools.sat.python import cp_model

    model = builder.model if model is None else model
    if work_s is not None:  # a small model: its optimum, without presolve, in fixed work
        with_objective = model.clone()
        with_objective.minimize(sum(c * v for c, v in builder.objective))
        solver = cp_sat_solver(max(time_limit_s * 10, 60.0), 1, seed)
        solver.parameters.max_deterministic_time = work_s
        solver.parameters.num_workers = 1
        solver.parameters.cp_model_presolve = False
        if solver.solve(with_objective) in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return True, [int(v) for v in solver.response_proto.solution]
    status, first = construct(model, max(time_limit_s * 0.3, min(time_limit_s, 10.0)), seed)
    if status != "found":
        return False, None
    with_objective = model.clone()
    with_objective.minimize(sum(c * v for c, v in builder.objective))
    add_hint(with_objective, first)
    solver = cp_sat_solver(max(time_limit_s * 0.7, 0.5), 2, seed)  # one when deterministic
    status = solver.solve(with_objective)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return True, [int(v) for v in solver.response_proto.solution]
    return True, first


def construct_by_agent(make_agent_model, full, time_limit_s: float, seed: int):
    """Greedy, agent by agent: each agent's shifts minimise that agent's own rule penalties
    and the coverage cost of what the agents before left uncovered (the residual
    requirement, with the same marginal costs: the k-th missing agent of the residual is the
    k-th missing agent of the whole); specialists first, so the multi-skilled fill the rest.
    Then breaks and skills on the full model (``full``, built, without objective) with every
    found shift fixed, minimising its objective. ``make_agent_model(a, residual)`` builds the
    full model of agent ``a`` alone against the ``residual`` requirement. Returns values by the
    full model's variable index, or None (a rule across agents the one-agent models cannot
    see, or no time)."""
    import numpy as np

    started = clock_now()
    agents = full.agents
    queues = set(full.required)
    order = sorted(
        range(len(agents)), key=lambda a: (len([q for q in agents[a].skills if q in queues]), a)
    )
    residual = {q: np.array(r, dtype=np.int64) for q, r in full.required.items()}
    fixed: dict[tuple[int, int], int] = {}
    settled: set[int] = set()  # agents whose shifts the one-agent models found
    for position, a in enumerate(order):
        left = time_limit_s - (clock_now() - started)
        if left <= 0:
            break  # out of time: the agents not settled stay free in the full model below
        sub = make_agent_model(a, residual)
        found, values = _solve_one(
            sub, max(left / (len(order) - position + 1), 2.0), seed, work_s=AGENT_WORK_S
        )
        if not found:
            continue  # left free in the full model below
        settled.add(a)
        for (who, day, option), var in sub.shift_var.items():
            if who == a and values[var.index]:
                fixed[who, day] = option
        for (q, t), under in sub.under.items():
            covered = residual[q][t] - values[under.index] + values[sub.over[q, t].index]
            residual[q][t] = max(residual[q][t] - covered, 0)
    model = full.model.clone()
    variables = model.proto.variables
    for (a, day, option), var in full.shift_var.items():
        if a not in settled:
            continue
        value = int(fixed.get((a, day)) == option)
        domain = variables[var.index].domain
        domain[0] = value
        domain[1] = value
    left = time_limit_s - (clock_now() - started)
    found, values = _solve_one(full, max(left, FINISH_MIN_S), seed, model)
    return values if found else None

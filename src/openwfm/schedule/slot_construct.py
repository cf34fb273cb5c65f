"""A first slot roster built agent by agent: the starting point (hint) of the full model.

Every hard rule of a slot roster but fairness concerns one agent, so a roster that keeps them
can be built one agent at a time: each agent's own model (all its rules, its soft penalties)
is solved against the cover still missing after the agents before it (greedy residual cover).
The full model starts from this roster (a CP-SAT solution hint): on a large instance one
CP-SAT worker (the deterministic budget) otherwise finds no roster at all in the time limit
(bench/slots.py's 30 agents x 28 days x 3 shift types: none in 60 s; with the hint, one in
3 deterministic seconds). An agent whose own model finds nothing (its hard rules contradict,
or its time ran out) leaves the full model without a hint.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from openwfm.model import Agent
from openwfm.schedule.budget import cp_sat_solver


def construct_roster(
    build: Callable,
    slots: pd.DataFrame,
    agents: list[Agent],
    time_limit_s: float,
    scale_of: Callable[[list[float]], int],
) -> dict[tuple[int, int, str], int] | None:
    """Value (0/1) of every shift variable ``(agent index, day, type)`` of a roster keeping each
    agent's hard rules, or None when some agent's model found none within its share of
    ``time_limit_s``. ``build(slots, agents)`` returns the model of those agents against
    ``slots``; ``scale_of`` the integer scale of the objective weights."""
    residual = slots.copy()
    values: dict[tuple[int, int, str], int] = {}
    per_agent = time_limit_s / max(len(agents), 1)
    for a, agent in enumerate(agents):
        m, _ = build(residual, [agent])
        scale = scale_of([w for w, _ in m.cost])
        m.model.minimize(sum(round(w * scale) * var for w, var in m.cost if round(w * scale)))
        solver = cp_sat_solver(per_agent, 1, 0)
        status = solver.status_name(solver.solve(m.model))
        if status not in ("OPTIMAL", "FEASIBLE"):
            return None
        worked = set()
        for (_, day, t), var in m.x.items():
            values[a, day, t] = int(solver.value(var))
            if values[a, day, t]:
                worked.add((day, t))
        taken = [
            (int(d), t) in worked for d, t in zip(residual["day"], residual["shift"], strict=True)
        ]
        residual = residual.assign(required=(residual["required"] - taken).clip(lower=0))
    return values

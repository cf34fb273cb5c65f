"""Small stationary hiring problems with random learning and turnover (Gans & Zhou 2002),
solved exactly by dynamic programming, and openwfm's hiring policy evaluated on them.

The instances are the project's own (the paper's were not retrieved): two experience levels,
a few periods, head counts small enough for an exact DP over every state.

The model (finite horizon, one period = one week): the state is ``(trainees, experienced)``.
At the start of a period the planner hires ``h`` trainees (at most ``max_trainees`` in total);
the period then costs ``hire_cost x h + wage x (trainees + h + experienced) + shortage_cost x
max(0, demand - capacity) + over_cost x max(0, capacity - demand)`` with ``capacity =
trainee_productivity x trainees + experienced``. At its end each trainee leaves with
probability ``trainee_turnover``, else becomes experienced with probability ``learning``;
each experienced agent leaves with probability ``turnover`` (independently; the number of
experienced agents is capped at ``max_experienced``, an absorbing bound kept far from use).

:func:`optimal_cost` is the exact DP. :func:`openwfm_policy_cost` evaluates, exactly over the
same chain, openwfm's hiring policy, solved in every state it reaches (see
:func:`openwfm_hires`): a rolling multi-stage stochastic program. The class optimiser
(:func:`openwfm.capacity.hiring.optimise_starts`, the LP on average behaviour of Gans & Zhou
with the shortage priced on the exact spread of the current staff) prices the rest of the
horizon from any staff state (:func:`replan_cost`) at the leaves of the scenario tree of the
next two periods (every staff state a period can end in, with its exact probability); in each
node of the tree the class size of least expected cost is chosen. So the plan for later
classes is re-made after the attrition and learning actually seen rather than fixed now (the
optimiser alone buys now a margin the planner can buy later, or waits when a class now is
cheaper). The optimiser's own first class without this look-ahead (``replan``) and the plain
average-behaviour LP (``plain_lp``) are kept for comparison.

On a planner's real model (tenure bands, multi-week training) the same look-ahead would draw
the next states from the attrition simulation (:mod:`.band`) instead of enumerating them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.stats import binom, multinomial

from openwfm.capacity.hiring import Response, optimise_starts
from openwfm.capacity.inputs import Costs


@dataclass(frozen=True)
class Instance:
    """One stationary instance (see the module doc); counts are heads, costs per period."""

    periods: int = 6
    demand: float = 10.0
    learning: float = 0.4
    trainee_turnover: float = 0.1
    turnover: float = 0.05
    trainee_productivity: float = 0.3
    hire_cost: float = 2.0
    wage: float = 1.0
    shortage_cost: float = 4.0
    over_cost: float = 0.0
    max_trainees: int = 8
    max_experienced: int = 24
    start: tuple[int, int] = (0, 8)

    @property
    def costs(self) -> Costs:
        return Costs(
            hire_per_start=self.hire_cost,
            wage_per_fte_week=self.wage,
            shortage_per_fte_week=self.shortage_cost,
            over_per_fte_week=self.over_cost,
        )


def random_instance(rng: np.random.Generator, periods: int = 6) -> Instance:
    """A random small instance: learning 0.2-0.8, turnover 2-15%, demand 6-12 heads."""
    demand = float(rng.integers(6, 13))
    return Instance(
        periods=periods,
        demand=demand,
        learning=round(float(rng.uniform(0.2, 0.8)), 3),
        trainee_turnover=round(float(rng.uniform(0.05, 0.2)), 3),
        turnover=round(float(rng.uniform(0.02, 0.15)), 3),
        trainee_productivity=round(float(rng.uniform(0.0, 0.5)), 3),
        hire_cost=round(float(rng.uniform(0.5, 4.0)), 3),
        wage=1.0,
        shortage_cost=round(float(rng.uniform(2.0, 8.0)), 3),
        max_trainees=8,
        max_experienced=int(demand) + 14,
        start=(0, int(rng.integers(int(demand) - 4, int(demand) + 2))),
    )


def _period_cost(instance: Instance, trainees: np.ndarray, experienced: np.ndarray) -> np.ndarray:
    capacity = instance.trainee_productivity * trainees + experienced
    return (
        instance.wage * (trainees + experienced)
        + instance.shortage_cost * np.maximum(instance.demand - capacity, 0.0)
        + instance.over_cost * np.maximum(capacity - instance.demand, 0.0)
    )


@lru_cache(maxsize=64)
def _trainee_outcomes(instance: Instance, trainees: int) -> np.ndarray:
    """P[stay, learn] for ``trainees`` trainees at the end of a period."""
    q, p = instance.trainee_turnover, instance.learning
    probabilities = [(1 - q) * (1 - p), (1 - q) * p, q]
    out = np.zeros((trainees + 1, trainees + 1))
    for stay in range(trainees + 1):
        for learn in range(trainees + 1 - stay):
            out[stay, learn] = multinomial.pmf(
                [stay, learn, trainees - stay - learn], trainees, probabilities
            )
    return out


def _expected_next(instance: Instance, value: np.ndarray) -> np.ndarray:
    """``E[value(next state)]`` for every (trainees after hiring, experienced)."""
    n1_max, n2_max = instance.max_trainees, instance.max_experienced
    survivors = np.arange(n2_max + 1)
    # W[a, b, n2] = sum_k Binom(n2, 1-q2)[k] value[a, min(b + k, cap)]
    keep = binom.pmf(survivors[None, :], survivors[:, None], 1 - instance.turnover)  # [n2, k]
    w = np.zeros((n1_max + 1, n1_max + 1, n2_max + 1))
    for b in range(n1_max + 1):
        index = np.minimum(b + survivors, n2_max)  # k -> next experienced
        w[:, b, :] = value[:, index] @ keep.T
    out = np.zeros((n1_max + 1, n2_max + 1))
    for m in range(n1_max + 1):
        outcomes = _trainee_outcomes(instance, m)
        out[m] = np.einsum("ab,abn->n", outcomes, w[: m + 1, : m + 1, :])
    return out


def optimal_cost(instance: Instance) -> tuple[float, np.ndarray]:
    """Exact minimum expected cost from ``instance.start``, and the first-period policy."""
    n1_max, n2_max = instance.max_trainees, instance.max_experienced
    trainees = np.arange(n1_max + 1)[:, None]
    experienced = np.arange(n2_max + 1)[None, :]
    after_cost = _period_cost(instance, trainees, experienced)  # cost with m trainees
    value = np.zeros((n1_max + 1, n2_max + 1))
    policy = np.zeros((n1_max + 1, n2_max + 1), dtype=int)
    for _ in range(instance.periods):
        q_after = after_cost + _expected_next(instance, value)  # [m, n2] after hiring
        new_value = np.empty_like(value)
        for n1 in range(n1_max + 1):
            hires = np.arange(n1_max - n1 + 1)
            options = q_after[n1 + hires, :] + instance.hire_cost * hires[:, None]
            policy[n1] = np.argmin(options, axis=0)
            new_value[n1] = options.min(axis=0)
        value = new_value
    return float(value[instance.start]), policy


@lru_cache(maxsize=256)
def _average_response(instance: Instance, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Expected (trainees, experienced) k periods after one hire, k = 0..horizon-1."""
    q1, p, q2 = instance.trainee_turnover, instance.learning, instance.turnover
    state = np.array([1.0, 0.0])
    trainees, experienced = [], []
    for _ in range(horizon):
        trainees.append(state[0])
        experienced.append(state[1])
        state = np.array(
            [state[0] * (1 - q1) * (1 - p), state[0] * (1 - q1) * p + state[1] * (1 - q2)]
        )
    return np.array(trainees), np.array(experienced)


@dataclass(frozen=True)
class _AverageModel:
    """The planner's average-behaviour model of the remaining ``horizon`` periods: per head
    hired ``k`` periods ago, expected capacity ``mean_hire[k]`` and paid heads ``paid_hire[k]``;
    an experienced agent is still there with probability ``stay[k]``; the class starting at
    period ``s`` as a :class:`Response` (``productive[w, s]``, ``paid[w, s]``)."""

    mean_hire: np.ndarray
    paid_hire: np.ndarray
    stay: np.ndarray
    response: Response


@lru_cache(maxsize=256)
def _average_model(instance: Instance, horizon: int) -> _AverageModel:
    t1, t2 = _average_response(instance, horizon)
    mean_hire = instance.trainee_productivity * t1 + t2
    productive = np.zeros((horizon, horizon))
    paid = np.zeros((horizon, horizon))
    for start in range(horizon):
        productive[start:, start] = mean_hire[: horizon - start]
        paid[start:, start] = (t1 + t2)[: horizon - start]
    return _AverageModel(
        mean_hire,
        t1 + t2,
        (1 - instance.turnover) ** np.arange(horizon),
        Response(np.arange(horizon), productive, paid),
    )


@lru_cache(maxsize=4096)
def _trainee_capacity(instance: Instance, n1: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Capacity of ``n1`` trainees ``k`` periods on (each stays a trainee, has learnt or has
    left), as values and probabilities."""
    q1, p = instance.trainee_turnover, instance.learning
    stay = ((1 - q1) * (1 - p)) ** k
    learnt = _average_response(instance, k + 1)[1][k]
    trainees, experienced = np.meshgrid(np.arange(n1 + 1), np.arange(n1 + 1), indexing="ij")
    feasible = trainees + experienced <= n1
    a, b = trainees[feasible], experienced[feasible]
    probabilities = multinomial.pmf(
        np.stack([a, b, n1 - a - b], axis=1), n1, [stay, learnt, max(1 - stay - learnt, 0.0)]
    )
    return instance.trainee_productivity * a + b, np.nan_to_num(probabilities)


def _staff_spread(instance: Instance, n1: int, n2: int, horizon: int, grid: float = 0.05):
    """Per period k, the exact distribution of the current staff's capacity around its mean
    (atoms merged on a ``grid`` FTE lattice): trainees stay (capacity mu1), learn (1) or
    leave; experienced agents stay or leave."""
    spread = []
    for k in range(horizon):
        values, probs = _trainee_capacity(instance, n1, k)
        kept = np.arange(n2 + 1)
        kept_p = binom.pmf(kept, n2, (1 - instance.turnover) ** k)
        total = (values[:, None] + kept[None, :]).ravel()
        weight = (probs[:, None] * kept_p[None, :]).ravel()
        lattice = np.round(total / grid).astype(int)
        merged = np.bincount(lattice - lattice.min(), weights=weight)
        atoms = (np.flatnonzero(merged > 1e-12) + lattice.min()) * grid
        mass = merged[merged > 1e-12]
        spread.append((atoms - np.sum(atoms * mass) / mass.sum(), mass / mass.sum()))
    return spread


def _expected_shortage(spread, shortfall: np.ndarray) -> float:
    return float(
        sum(np.sum(p * np.maximum(d - z, 0.0)) for (z, p), d in zip(spread, shortfall, strict=True))
    )


def _plan_from(instance: Instance, period: int, n1: int, n2: int, spread: bool):
    """openwfm's class optimiser (:func:`optimise_starts`) from the state ``(n1, n2)`` at the
    start of ``period``: the class sizes of the remaining periods on average behaviour (with
    ``spread``, the shortage priced on the exact distribution of the current staff's capacity)
    and that distribution."""
    horizon = instance.periods - period
    model = _average_model(instance, horizon)
    staff = _staff_spread(instance, n1, n2, horizon) if spread else None
    starts = optimise_starts(
        np.full(horizon, instance.demand),
        n1 * model.mean_hire + n2 * model.stay,
        model.response,
        instance.costs,
        capacity_spread=staff,
        max_class_size=instance.max_trainees,
        time_limit_s=10.0,
    )
    return starts, staff


@lru_cache(maxsize=8192)
def replan_cost(instance: Instance, period: int, n1: int, n2: int) -> float:
    """Expected cost of the remaining periods from the state ``(n1, n2)`` at the start of
    ``period`` as openwfm's plan prices it: the class optimiser's sizes (shortage priced on the
    staff's exact spread), the wages of current staff and classes on average behaviour, the
    expected shortage (and over-staffing) on the staff's spread."""
    if period >= instance.periods:
        return 0.0
    model = _average_model(instance, instance.periods - period)
    starts, staff = _plan_from(instance, period, n1, n2, spread=True)
    base = n1 * model.mean_hire + n2 * model.stay
    shortfall = instance.demand - base - model.response.productive @ starts
    paid = n1 * model.paid_hire + n2 * model.stay + model.response.paid @ starts
    return (
        instance.hire_cost * float(starts.sum())
        + instance.wage * float(paid.sum())
        + (instance.shortage_cost + instance.over_cost) * _expected_shortage(staff, shortfall)
        - instance.over_cost * float(shortfall.sum())  # expected surplus = short - shortfall
    )


LOOKAHEAD_PERIODS = 2  # stages of the scenario tree before the optimiser prices the rest


@lru_cache(maxsize=64)
def _lookahead_values(instance: Instance, period: int, depth: int) -> np.ndarray:
    """Cost-to-go from every state ``(n1, n2)`` at the start of ``period`` on the scenario tree
    of the next ``depth`` periods: exact costs and transitions and the best class size in each
    node, then :func:`replan_cost` at the leaves."""
    n1_max, n2_max = instance.max_trainees, instance.max_experienced
    if period >= instance.periods:
        return np.zeros((n1_max + 1, n2_max + 1))
    if depth == 0:
        return np.array(
            [
                [replan_cost(instance, period, n1, n2) for n2 in range(n2_max + 1)]
                for n1 in range(n1_max + 1)
            ]
        )
    q_after = _after_hiring(instance, period, depth)
    value = np.empty_like(q_after)
    for n1 in range(n1_max + 1):
        hires = np.arange(n1_max - n1 + 1)
        value[n1] = (q_after[n1 + hires] + instance.hire_cost * hires[:, None]).min(axis=0)
    return value


@lru_cache(maxsize=64)
def _after_hiring(instance: Instance, period: int, depth: int) -> np.ndarray:
    """Expected cost of ``period`` and the tree after it, per (trainees after hiring, n2)."""
    trainees = np.arange(instance.max_trainees + 1)[:, None]
    experienced = np.arange(instance.max_experienced + 1)[None, :]
    return _period_cost(instance, trainees, experienced) + _expected_next(
        instance, _lookahead_values(instance, period + 1, depth - 1)
    )


def openwfm_hires(
    instance: Instance, period: int, n1: int, n2: int, method: str = "lookahead"
) -> int:
    """Hires now in the state ``(n1, n2)`` at the start of ``period``.

    ``lookahead`` (openwfm's policy): a rolling multi-stage stochastic program on the scenario
    tree of the next :data:`LOOKAHEAD_PERIODS` periods. In each node of the tree (every staff
    state a period can end in: trainees staying, learning or leaving, experienced agents
    leaving, with exact probabilities) the planner chooses the class size with the least
    expected cost; at the leaves the rest of the horizon is priced by re-planning with
    openwfm's class optimiser (:func:`replan_cost`). So later classes adapt to the attrition
    actually seen instead of being fixed now; the class size now is the root's choice.
    ``replan``: the class the optimiser starts now when it plans the rest of the horizon on
    average behaviour with the shortage priced on the staff's exact spread (no look-ahead).
    ``plain_lp``: the same on average behaviour only (Gans & Zhou's LP heuristic).
    """
    room = instance.max_trainees - n1
    if method in ("replan", "plain_lp"):
        starts, _ = _plan_from(instance, period, n1, n2, spread=method == "replan")
        return int(min(starts[0], room))
    if method != "lookahead":
        raise ValueError(f"unknown method {method!r}")
    q_after = _after_hiring(instance, period, LOOKAHEAD_PERIODS)
    hires = np.arange(room + 1)
    return int(np.argmin(q_after[n1 + hires, n2] + instance.hire_cost * hires))


def _reachable(instance: Instance, decide) -> list[set[tuple[int, int]]]:
    """States with positive probability at the start of each period under ``decide``."""
    reach = [{tuple(instance.start)}]
    for period in range(instance.periods - 1):
        following: set[tuple[int, int]] = set()
        for n1, n2 in reach[-1]:
            m = n1 + decide(period, n1, n2)
            for stay in range(m + 1):
                for learn in range(m + 1 - stay):
                    for kept in range(n2 + 1):
                        following.add((stay, min(learn + kept, instance.max_experienced)))
        reach.append(following)
    return reach


def openwfm_policy_cost(instance: Instance, method: str = "lookahead") -> float:
    """Exact expected cost of the re-planning policy from ``instance.start`` (the policy is
    solved only in the states it can reach); ``method`` as in :func:`openwfm_hires`."""
    n1_max, n2_max = instance.max_trainees, instance.max_experienced
    trainees = np.arange(n1_max + 1)[:, None]
    experienced = np.arange(n2_max + 1)[None, :]
    after_cost = _period_cost(instance, trainees, experienced)
    decisions: dict[tuple[int, int, int], int] = {}

    def decide(period: int, n1: int, n2: int) -> int:
        key = (period, n1, n2)
        if key not in decisions:
            decisions[key] = openwfm_hires(instance, period, n1, n2, method)
        return decisions[key]

    reach = _reachable(instance, decide)
    value = np.zeros((n1_max + 1, n2_max + 1))
    for period in range(instance.periods - 1, -1, -1):
        q_after = after_cost + _expected_next(instance, value)
        new_value = np.zeros_like(value)
        for n1, n2 in reach[period]:
            hires = decide(period, n1, n2)
            new_value[n1, n2] = q_after[n1 + hires, n2] + instance.hire_cost * hires
        value = new_value
    return float(value[instance.start])

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
same chain, the policy that re-plans every period with :func:`openwfm.capacity.hiring.
optimise_starts` on the expected (average) behaviour of the remaining horizon and hires what
the plan starts now (Gans & Zhou's LP heuristic, re-solved as a planner would each week), with
the shortage priced on the staff's spread (see :func:`openwfm_hires`).
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


def _head_moments(instance: Instance, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of one hire's capacity k periods later, k = 0..horizon-1."""
    t1, t2 = _average_response(instance, horizon)
    mu1 = instance.trainee_productivity
    mean = mu1 * t1 + t2
    return mean, mu1**2 * t1 + t2 - mean**2


def _staff_spread(instance: Instance, n1: int, n2: int, horizon: int, grid: float = 0.05):
    """Per period k, the exact distribution of the current staff's capacity around its mean
    (atoms merged on a ``grid`` FTE lattice): trainees stay (capacity mu1), learn (1) or
    leave; experienced agents stay or leave."""
    q1, p, q2 = instance.trainee_turnover, instance.learning, instance.turnover
    mu1 = instance.trainee_productivity
    spread = []
    for k in range(horizon):
        stay1 = ((1 - q1) * (1 - p)) ** k
        t2 = _average_response(instance, k + 1)[1][k]
        trainee_probs = [stay1, t2, 1 - stay1 - t2]
        values, probs = [0.0], [1.0]
        if n1:
            values, probs = [], []
            for a in range(n1 + 1):
                for b in range(n1 + 1 - a):
                    values.append(mu1 * a + b)
                    probs.append(multinomial.pmf([a, b, n1 - a - b], n1, trainee_probs))
        keep = (1 - q2) ** k
        kept = np.arange(n2 + 1)
        kept_p = binom.pmf(kept, n2, keep)
        total = (np.asarray(values)[:, None] + kept[None, :]).ravel()
        weight = (np.asarray(probs)[:, None] * kept_p[None, :]).ravel()
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


def openwfm_hires(instance: Instance, period: int, n1: int, n2: int, spread: bool = True) -> int:
    """Hires now: openwfm's class optimiser (:func:`optimise_starts`) re-plans the rest of the
    horizon on average behaviour. With ``spread`` (openwfm's policy) the shortage is priced on
    the exact distribution of the staff's capacity, and the class starting now is sized by
    comparing the optimiser's size and its neighbours (+-1) exactly: for each, the staff
    including those hires is known in distribution, later classes are re-optimised. Without
    ``spread`` it is Gans & Zhou's plain LP heuristic on average behaviour."""
    horizon = instance.periods - period
    t1, t2 = _average_response(instance, horizon)
    mean_hire, _ = _head_moments(instance, horizon)
    stay = (1 - instance.turnover) ** np.arange(horizon)
    productive = np.zeros((horizon, horizon))
    paid = np.zeros((horizon, horizon))
    for start in range(horizon):
        k = horizon - start
        productive[start:, start] = mean_hire[:k]
        paid[start:, start] = t1[:k] + t2[:k]
    demand = np.full(horizon, instance.demand)
    room = instance.max_trainees - n1
    options = {"max_class_size": instance.max_trainees, "time_limit_s": 10.0}
    first = optimise_starts(
        demand,
        n1 * mean_hire + n2 * stay,
        Response(np.arange(horizon), productive, paid),
        instance.costs,
        capacity_spread=_staff_spread(instance, n1, n2, horizon) if spread else None,
        **options,
    )
    proposal = int(min(first[0], room))
    if not spread:
        return proposal
    later = Response(np.arange(1, horizon), productive[:, 1:], paid[:, 1:])

    def cost_of(hires: int) -> float:
        staff = _staff_spread(instance, n1 + hires, n2, horizon)
        base = (n1 + hires) * mean_hire + n2 * stay
        starts = np.zeros(horizon - 1)
        if horizon > 1:
            starts = optimise_starts(
                demand, base, later, instance.costs, capacity_spread=staff, **options
            )
        shortfall = demand - base - later.productive @ starts
        return (
            hires * (instance.hire_cost + instance.wage * paid[:, 0].sum())
            + starts.sum() * instance.hire_cost
            + instance.wage * float((later.paid @ starts).sum())
            + (instance.shortage_cost + instance.over_cost) * _expected_shortage(staff, shortfall)
            - instance.over_cost * float(shortfall.sum())  # expected surplus = short - shortfall
        )

    # local search from the optimiser's size: step while the exact comparison improves
    costs = {proposal: cost_of(proposal)}
    best = proposal
    for step in (-1, 1):
        candidate = best + step
        while 0 <= candidate <= room:
            costs[candidate] = cost_of(candidate)
            if costs[candidate] >= costs[best] - 1e-9:
                break
            best, candidate = candidate, candidate + step
    return best


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


def openwfm_policy_cost(instance: Instance, spread: bool = True) -> float:
    """Exact expected cost of the re-planning policy from ``instance.start`` (the policy is
    solved only in the states it can reach); ``spread`` as in :func:`openwfm_hires`."""
    n1_max, n2_max = instance.max_trainees, instance.max_experienced
    trainees = np.arange(n1_max + 1)[:, None]
    experienced = np.arange(n2_max + 1)[None, :]
    after_cost = _period_cost(instance, trainees, experienced)
    decisions: dict[tuple[int, int, int], int] = {}

    def decide(period: int, n1: int, n2: int) -> int:
        key = (period, n1, n2)
        if key not in decisions:
            decisions[key] = openwfm_hires(instance, period, n1, n2, spread)
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

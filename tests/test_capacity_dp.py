"""Optimality: openwfm's hiring policy against an exact DP on small stationary instances with
random learning and turnover (Gans & Zhou 2002); at most 1% above the optimum."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from openwfm.capacity import gans_zhou as gz


def test_dp_is_exact_on_a_deterministic_instance():
    # no randomness: trainees learn in one period, nobody leaves; hiring 3 now covers demand
    instance = gz.Instance(
        periods=3,
        demand=5,
        learning=1.0,
        trainee_turnover=0.0,
        turnover=0.0,
        trainee_productivity=0.5,
        hire_cost=1.0,
        wage=1.0,
        shortage_cost=10.0,
        max_trainees=4,
        max_experienced=10,
        start=(0, 2),
    )

    def cost(plan):  # hires per period, simulated by hand
        trainees, experienced, total = 0, 2, 0.0
        for hires in plan:
            trainees += hires
            capacity = 0.5 * trainees + experienced
            total += hires + trainees + experienced + 10 * max(5 - capacity, 0)
            trainees, experienced = 0, experienced + trainees
        return total

    best = min(cost(plan) for plan in itertools.product(range(5), repeat=3))
    optimum, _ = gz.optimal_cost(instance)
    assert optimum == pytest.approx(best)
    assert gz.openwfm_policy_cost(instance) == pytest.approx(best)


def test_dp_expectation_matches_simulation_of_a_fixed_policy():
    instance = gz.random_instance(np.random.default_rng(11), periods=3)
    rng = np.random.default_rng(0)
    hires = 3
    costs = []
    for _ in range(20_000):
        trainees, experienced = instance.start
        total = 0.0
        for _period in range(instance.periods):
            trainees = min(trainees + hires, instance.max_trainees)
            total += hires * instance.hire_cost + float(
                gz._period_cost(instance, np.array(trainees), np.array(experienced))
            )
            outcome = rng.multinomial(
                trainees,
                [
                    (1 - instance.trainee_turnover) * (1 - instance.learning),
                    (1 - instance.trainee_turnover) * instance.learning,
                    instance.trainee_turnover,
                ],
            )
            kept = rng.binomial(experienced, 1 - instance.turnover)
            trainees, experienced = outcome[0], min(outcome[1] + kept, instance.max_experienced)
        costs.append(total)
    # exact value of "always hire 3" by the same recursion the DP uses
    value = np.zeros((instance.max_trainees + 1, instance.max_experienced + 1))
    t = np.arange(instance.max_trainees + 1)[:, None]
    e = np.arange(instance.max_experienced + 1)[None, :]
    after = gz._period_cost(instance, t, e) + 0 * e
    for _ in range(instance.periods):
        q = after + gz._expected_next(instance, value)
        value = np.array(
            [
                q[min(n1 + hires, instance.max_trainees)] + hires * instance.hire_cost
                for n1 in range(instance.max_trainees + 1)
            ]
        )
    mean, half_width = np.mean(costs), 3 * np.std(costs) / np.sqrt(len(costs))
    assert abs(value[instance.start] - mean) < half_width


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_openwfm_policy_within_one_percent_of_the_optimum(seed):
    instance = gz.random_instance(np.random.default_rng(seed), periods=4)
    optimum, _ = gz.optimal_cost(instance)
    ours = gz.openwfm_policy_cost(instance)
    assert ours >= optimum - 1e-9  # the DP is a lower bound for every policy
    assert ours <= 1.01 * optimum, (instance, optimum, ours)

"""Capacity planning: golden tests of the NICE ESP and Genesys formulas on hand-made plans,
shrinkage as a divisor, class ramp and yields, scenarios, back-solver and optimiser."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from openwfm.capacity.flow import plan_table, resolve_classes
from openwfm.capacity.hiring import back_solve, class_response, optimise_starts
from openwfm.capacity.inputs import CapacityPlan, ClassTemplate, Costs, check_roster, parse_plan
from openwfm.capacity.scenarios import apply_adjustments, stacked_adjustments

START = pd.Timestamp("2026-01-05")


def _roster(count: int, hired: str = "2020-01-06") -> pd.DataFrame:
    return check_roster(
        pd.DataFrame({"agent": [f"a{i}" for i in range(count)], "hire_date": hired})
    )


def _required(net_fte, weeks: int) -> pd.DataFrame:
    net = np.broadcast_to(np.asarray(net_fte, float), (weeks,))
    return pd.DataFrame(
        {"week_start": pd.date_range(START, periods=weeks, freq="7D"), "required_fte_net": net}
    )


def _plan(text: str) -> CapacityPlan:
    return parse_plan("start: 2026-01-05\n" + text)


def test_nice_esp_weekly_formula_literal_values():
    # 100 tenured agents, 1% weekly attrition, 10 hires starting week 1 with 2 training weeks:
    # FTE(w) = max(0, FTE(w-1) - 0.01 FTE(w-1)) + NewHire(w - 2)
    plan = _plan(
        "attrition: [{weekly_rate: 0.01}]\n"
        "class_template: {training_weeks: 2}\n"
        "classes: [{start: 2026-01-12, size: 10}]\n"
    )
    table = plan_table(_required(50, 6), plan, _roster(100), resolve_classes(plan), shrinkage=0.3)
    expected = [100.0, 99.0, 98.01, 107.0299, 105.959601, 104.90000499]
    np.testing.assert_allclose(table["planned_fte"], expected, rtol=1e-9)
    np.testing.assert_allclose(table["attrition_pct"].iloc[1:], 0.01, rtol=1e-12)
    assert table["hires_in_training"].tolist() == [0, 10, 10, 0, 0, 0]
    assert table["new_hire_fte"].tolist() == [0, 0, 0, 10, 0, 0]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nice_esp_recursion_on_random_hand_made_plans(seed):
    rng = np.random.default_rng(seed)
    weeks, rate, training = 30, float(rng.uniform(0, 0.05)), int(rng.integers(0, 6))
    starts = sorted(set(rng.integers(0, weeks, size=4).tolist()))
    sizes = rng.integers(1, 20, size=len(starts)).tolist()
    classes = "".join(
        f"  - {{start: {(START + pd.Timedelta(weeks=s)).date()}, size: {n}}}\n"
        for s, n in zip(starts, sizes, strict=True)
    )
    plan = _plan(
        f"attrition: [{{weekly_rate: {rate}}}]\nclass_template: {{training_weeks: {training}}}\n"
        f"classes:\n{classes}"
    )
    roster = int(rng.integers(20, 200))
    table = plan_table(
        _required(40, weeks), plan, _roster(roster), resolve_classes(plan), shrinkage=0.25
    )
    hires = np.zeros(weeks)
    for s, n in zip(starts, sizes, strict=True):
        if s + training < weeks:
            hires[s + training] += n
    fte = np.zeros(weeks)
    for week in range(weeks):
        previous = fte[week - 1] if week else roster
        attrition = rate * previous if week else 0.0
        fte[week] = max(0.0, previous - attrition) + hires[week]
    np.testing.assert_allclose(table["planned_fte"], fte, rtol=1e-10, atol=1e-9)
    absolute = table["attrition_fte"].iloc[1:].to_numpy()
    np.testing.assert_allclose(absolute / fte[:-1], rate, rtol=1e-9)


def test_genesys_identities_with_tenure_bands_nesting_and_transfers():
    plan = _plan(
        "attrition:\n"
        "  - {min_weeks: 0, max_weeks: 12, weekly_rate: 0.03}\n"
        "  - {min_weeks: 12, max_weeks: 52, weekly_rate: 0.01}\n"
        "  - {min_weeks: 52, weekly_rate: 0.004}\n"
        "class_template: {training_weeks: 3, nesting: [{productivity: 0.5, aht_uplift: 0.25}],"
        " yield_training: 0.9, yield_nesting: 0.8}\n"
        "classes: [{start: 2026-01-19, size: 15}, {start: 2026-03-02, size: 8}]\n"
        "transfers: [{week: 2026-02-02, fte: 3}, {week: 2026-04-06, fte: -2}]\n"
    )
    roster = pd.concat([_roster(30, "2019-03-04"), _roster(10, "2025-11-03")])
    required = _required(np.linspace(40, 55, 20), 20)
    table = plan_table(required, plan, check_roster(roster), resolve_classes(plan), shrinkage=0.3)
    planned = table["planned_fte"]
    # planned = starting - attrition + new hires + transfers; starting = previous planned
    np.testing.assert_allclose(
        planned,
        table["starting_fte"]
        - table["attrition_fte"]
        + table["new_hire_fte"]
        + table["transfers_fte"],
        rtol=1e-12,
    )
    np.testing.assert_allclose(table["starting_fte"].iloc[1:], planned.iloc[:-1], rtol=1e-12)
    np.testing.assert_allclose(table["net_fte"], planned * (1 - 0.3), rtol=1e-12)
    # required includes shrinkage as a divisor; over/under = (productive) planned - required
    np.testing.assert_allclose(table["required_fte"], required["required_fte_net"] / 0.7)
    np.testing.assert_allclose(table["gap_fte"], table["productive_fte"] - table["required_fte"])
    no_nesting = table["hires_in_nesting"] == 0
    np.testing.assert_allclose(
        table.loc[no_nesting, "gap_fte"],
        (planned - table["required_fte"])[no_nesting],
        rtol=1e-12,
    )


def test_shrinkage_is_a_divisor_not_a_multiplier():
    plan = _plan("")
    table = plan_table(_required(70, 1), plan, _roster(10), [], shrinkage=0.3)
    assert table["required_fte"].iloc[0] == pytest.approx(100.0)  # not 70 x 1.3 = 91
    assert table["net_fte"].iloc[0] == pytest.approx(7.0)


def test_class_reaches_production_after_training_and_nesting_with_yields():
    plan = _plan(
        "class_template: {training_weeks: 3, nesting: [{productivity: 0.5, aht_uplift: 0.25},"
        " {productivity: 0.8}], yield_training: 0.9, yield_nesting: 0.8}\n"
        "classes: [{start: 2026-01-12, size: 20}]\n"
    )
    table = plan_table(_required(0, 9), plan, None, resolve_classes(plan), shrinkage=0.0)
    # week 1 start; training weeks 1-3; nesting weeks 4-5; production from week 6
    assert table["hires_in_training"].tolist() == [0, 20, 20, 20, 0, 0, 0, 0, 0]
    np.testing.assert_allclose(table["hires_in_nesting"], [0, 0, 0, 0, 18, 18, 0, 0, 0])
    np.testing.assert_allclose(table["new_hire_fte"], [0, 0, 0, 0, 18, 0, 0, 0, 0])
    np.testing.assert_allclose(table["planned_fte"], [0, 0, 0, 0, 18, 18, 14.4, 14.4, 14.4])
    np.testing.assert_allclose(table["productive_fte"], [0, 0, 0, 0, 7.2, 14.4, 14.4, 14.4, 14.4])
    np.testing.assert_allclose(table["attrition_fte"], [0, 0, 0, 0, 0, 0, 3.6, 0, 0])
    assert table["class_starts"].tolist() == [0, 20, 0, 0, 0, 0, 0, 0, 0]


def test_back_solver_sizes_classes_from_yields_and_lead_time():
    # ccplanning.net: 10 productive hires at 60% yield need about 17 starts
    template = ClassTemplate(training_weeks=3, yield_training=0.6)
    weeks = 12
    rates = np.zeros(weeks + 2)
    response = class_response(template, np.arange(weeks), weeks, rates)
    required = np.r_[np.full(6, 50.0), np.full(6, 60.0)]
    sizes = back_solve(required, np.full(weeks, 50.0), response)
    assert sizes[3] == 17  # week 6 needs 10 more; lead time 3 weeks
    assert sizes.sum() == 17


def test_optimiser_matches_enumeration_on_a_small_instance():
    template = ClassTemplate(training_weeks=2, nesting=[{"productivity": 0.5}], yield_training=0.8)
    weeks = 10
    rates = np.r_[np.full(4, 0.05), np.full(weeks, 0.02)]
    response = class_response(template, np.array([0, 2, 5]), weeks, rates)
    base = 30 * 0.97 ** np.arange(weeks)
    required = np.array([30, 30, 31, 33, 34, 35, 35, 36, 36, 36], float)
    costs = Costs(
        hire_per_start=2.0, wage_per_fte_week=1.0, shortage_per_fte_week=6.0, over_per_fte_week=0.5
    )

    def cost(sizes):
        productive = base + response.productive @ sizes
        paid = response.paid @ sizes
        gap = productive - required
        return (
            costs.hire_per_start * sizes.sum()
            + costs.wage_per_fte_week * paid.sum()
            + costs.shortage_per_fte_week * np.maximum(-gap, 0).sum()
            + costs.over_per_fte_week * np.maximum(gap, 0).sum()
        )

    best = min((cost(np.array(c, float)), c) for c in itertools.product(range(13), repeat=3))
    sizes = optimise_starts(required, base, response, costs, max_class_size=12)
    assert cost(sizes) == pytest.approx(best[0], rel=1e-9)


def test_min_class_size_opens_a_class_or_none():
    template = ClassTemplate(training_weeks=1)
    weeks = 6
    response = class_response(template, np.arange(weeks), weeks, np.zeros(weeks + 2))
    costs = Costs(hire_per_start=0.1, wage_per_fte_week=1.0, shortage_per_fte_week=10.0)
    sizes = optimise_starts(
        np.full(weeks, 12.0), np.full(weeks, 10.0), response, costs, min_class_size=5
    )
    assert all(size == 0 or size >= 5 for size in sizes)
    assert sizes.sum() >= 5


def test_scenarios_stack_over_date_ranges_pro_rata():
    plan = _plan(
        "scenarios:\n"
        "  - name: campaign\n"
        "    adjustments: [{queue: sales, start: 2026-03-01, end: 2026-03-31, value: 20}]\n"
        "  - name: campaign_long_calls\n"
        "    parent: campaign\n"
        "    adjustments: [{queue: sales, start: 2026-03-01, end: 2026-03-31, metric: aht,"
        " kind: absolute, value: 30}]\n"
    )
    weekly = pd.DataFrame(
        {
            "week_start": pd.to_datetime(
                ["2026-02-23", "2026-03-02", "2026-03-30", "2026-04-06"] * 2
            ),
            "queue": ["sales"] * 4 + ["service"] * 4,
            "offered": 1000.0,
            "aht_s": 300.0,
        }
    )
    chains = stacked_adjustments(plan)
    assert list(chains) == ["baseline", "campaign", "campaign_long_calls"]
    campaign = apply_adjustments(weekly, chains["campaign"])
    # week of 23 Feb has 1 day in March (1 Mar), 30 Mar has 2 (30, 31 Mar)
    np.testing.assert_allclose(
        campaign["offered"], [1000 * (1 + 0.2 / 7), 1200, 1000 * (1 + 0.4 / 7), 1000] + [1000] * 4
    )
    stacked = apply_adjustments(weekly, chains["campaign_long_calls"])
    np.testing.assert_allclose(stacked["offered"], campaign["offered"])
    np.testing.assert_allclose(stacked["aht_s"][:4], [300 + 30 / 7, 330, 300 + 60 / 7, 300])


def test_absolute_volume_is_spread_over_the_range():
    plan = _plan(
        "scenarios: [{name: mailing, adjustments: [{queue: q, start: 2026-01-05,"
        " end: 2026-01-18, kind: absolute, value: 1400}]}]\n"
    )
    weekly = pd.DataFrame(
        {
            "week_start": pd.date_range(START, periods=3, freq="7D"),
            "queue": "q",
            "offered": 100.0,
            "aht_s": 200.0,
        }
    )
    out = apply_adjustments(weekly, stacked_adjustments(plan)["mailing"])
    np.testing.assert_allclose(out["offered"], [800, 800, 100])


@pytest.mark.parametrize("method", ["back_solve", "optimise"])
def test_suggested_classes_close_the_gap_after_the_lead_time(method):
    from openwfm.capacity.hiring import suggest_classes

    plan = _plan(
        "attrition: [{weekly_rate: 0.02}]\n"
        "class_template: {training_weeks: 3, nesting: [{productivity: 0.5}],"
        " yield_training: 0.8}\n"
        "costs: {hire_per_start: 100, wage_per_fte_week: 10, shortage_per_fte_week: 1000}\n"
        f"hiring: {{method: {method}, max_class_size: 60}}\n"
        "band: {simulations: 100, seed: 2}\n"
    )
    weeks = 20
    required = _required(np.r_[np.full(10, 28.0), np.full(10, 42.0)], weeks)
    roster = _roster(40)
    before = plan_table(required, plan, roster, [], shrinkage=0.3)
    assert (before["gap_fte"].iloc[4:] < 0).all()
    suggested = suggest_classes(plan, before["required_fte"].to_numpy(), roster, [])
    assert suggested and all(c.origin == method for c in suggested)
    after = plan_table(required, plan, roster, suggested, shrinkage=0.3)
    lead = plan.class_template.lead_weeks
    assert (after["gap_fte"].iloc[lead:] >= -1e-6).all()
    assert after["cost"].sum() < before["cost"].sum()

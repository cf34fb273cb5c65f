"""openwfm.schedule: hand-known optima, named rules, contradictions, the independent checker."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openwfm.errors import InfeasibleError
from openwfm.scenario import parse_scenario
from openwfm.schedule import check_schedule, plan_shift_counts, schedule_agents
from openwfm.schedule.weights import under_marginal_costs

MONDAY = dt.date(2026, 1, 5)


def requirement(queue: str, spans: dict[int, tuple[str, str, int]], days: int = 7) -> pd.DataFrame:
    """Flat requirement per day: day -> (from, to, agents), 15-minute intervals."""
    rows = []
    for day in range(days):
        if day not in spans:
            continue
        start, end, agents = spans[day]
        first = pd.Timestamp(MONDAY) + pd.Timedelta(days=day)
        for t in pd.date_range(
            first + pd.Timedelta(start + ":00"),
            first + pd.Timedelta(end + ":00"),
            freq="15min",
            inclusive="left",
        ):
            rows.append({"interval_start": t, "queue": queue, "required_agents": agents})
    return pd.DataFrame(rows, columns=["interval_start", "queue", "required_agents"])


def scenario(body: str):
    return parse_scenario("queues: [{name: voice, aht_s: 300}, {name: chat, aht_s: 400}]\n" + body)


NINE_TO_FIVE = """
schedule:
  shift_templates:
    - {name: day, earliest_start: "09:00", latest_start: "09:00", lengths_min: [480]}
"""


def test_exact_cover_is_found_and_proved():
    sc = scenario(
        "agents:\n"
        + "".join(f"  - {{name: a{i}, skills: {{voice: 1}}}}\n" for i in range(3))
        + NINE_TO_FIVE
    )
    req = requirement("voice", {0: ("09:00", "17:00", 2)})
    result = schedule_agents(
        sc, req, weeks=1, time_limit_s=10, deterministic=True, strategy="single"
    )
    assert result.status == "optimal"
    assert result.objective == pytest.approx(0.0)
    assert len(result.shifts) == 2
    monday = result.coverage[result.coverage["interval_start"].dt.date == MONDAY]
    assert (monday["scheduled"] == 2).all() and len(monday) == 32
    assert result.uncovered.empty


def test_break_makes_one_interval_short_rather_than_double_staffing():
    # One agent for 4 h with a 15-minute break: one interval uncovered costs 1; a second agent
    # would add 14 surplus intervals at 0.3 each. Optimum: one agent, cost exactly 1.
    sc = scenario(
        "agents: [{name: a, skills: {voice: 1}}, {name: b, skills: {voice: 1}}]\n"
        "schedule:\n  shift_templates:\n"
        '    - {name: half, earliest_start: "09:00", latest_start: "09:00", lengths_min: [240],\n'
        "       breaks: [{name: coffee, length_min: 15, earliest_after_start_min: 60, latest_after_start_min: 120}]}\n"  # noqa: E501
    )
    req = requirement("voice", {0: ("09:00", "13:00", 1)})
    result = schedule_agents(
        sc, req, weeks=1, time_limit_s=10, deterministic=True, weighting="linear", strategy="single"
    )
    assert result.status == "optimal"
    assert result.objective == pytest.approx(1.0)
    gap = result.uncovered
    assert len(gap) == 1
    assert dt.time(10, 0) <= gap["interval_start"].iloc[0].time() <= dt.time(11, 0)
    assert "coffee" in result.shifts["breaks"].iloc[0]


def test_multi_skill_agent_counts_toward_one_queue_per_interval():
    sc = scenario("agents: [{name: a, skills: {voice: 1, chat: 1}}]\n" + NINE_TO_FIVE)
    req = pd.concat(
        [
            requirement("voice", {0: ("09:00", "13:00", 1)}),
            requirement("chat", {0: ("13:00", "17:00", 1)}),
        ]
    )
    result = schedule_agents(
        sc, req, weeks=1, time_limit_s=10, deterministic=True, strategy="single"
    )
    assert result.objective == pytest.approx(0.0)
    acts = result.activities.set_index("interval_start")["activity"]
    assert acts[pd.Timestamp("2026-01-05 10:00")] == "voice"
    assert acts[pd.Timestamp("2026-01-05 15:00")] == "chat"
    assert result.activities.groupby("interval_start").size().max() == 1


def test_short_coverage_is_reported_not_infeasible():
    sc = scenario("agents: [{name: a, skills: {voice: 1}}]\n" + NINE_TO_FIVE)
    req = requirement("voice", {0: ("09:00", "17:00", 5)})
    result = schedule_agents(
        sc, req, weeks=1, time_limit_s=10, deterministic=True, strategy="single"
    )
    assert result.status == "optimal"
    assert int(result.uncovered["under"].sum()) == 32 * 4
    assert any("under-covered" in note for note in result.notes)


def test_contradicting_hard_rules_are_named():
    sc = scenario(
        "contracts: [{name: ft, min_minutes_per_week: 2400, shift_lengths_min: [480]}]\n"
        "agents: [{name: a, skills: {voice: 1}, contract: ft}]\n"
        + NINE_TO_FIVE
        + "  fixed_days_off: [{agent: a, weekday: mon}, {agent: a, weekday: tue}, {agent: a, weekday: wed}]\n"  # noqa: E501
    )
    req = requirement("voice", {0: ("09:00", "17:00", 1)})
    with pytest.raises(InfeasibleError) as error:
        schedule_agents(sc, req, weeks=1, time_limit_s=10, deterministic=True, strategy="single")
    text = str(error.value)
    assert "min_minutes_per_week[a]" in text and "fixed_days_off[a]" in text
    assert "\n" not in text


def test_soft_day_off_request_is_traded_against_coverage_and_reported():
    sc = scenario(
        "agents: [{name: a, skills: {voice: 1}}]\n"
        + NINE_TO_FIVE
        + "  requests: [{agent: a, date: 2026-01-06, wanted: false, weight: 2}]\n"
    )
    req = requirement("voice", {0: ("09:00", "17:00", 1), 1: ("09:00", "17:00", 1)})
    result = schedule_agents(
        sc, req, weeks=1, time_limit_s=10, deterministic=True, strategy="single"
    )
    # working Tuesday covers 32 intervals for a penalty of 2 (request weight x rule weight 1)
    assert result.objective == pytest.approx(2.0)
    assert list(result.violations["rule"]) == ["shift_request"]
    row = result.rules.set_index("rule").loc["shift_request"]
    assert row["violated"] == 1 and row["penalty"] == pytest.approx(2.0)


def test_rest_and_forbidden_succession_hold():
    sc = scenario(
        "contracts: [{name: c, min_rest_between_shifts_min: 660, shift_lengths_min: [480], min_days_off_per_week: 0}]\n"  # noqa: E501
        "agents: [{name: a, skills: {voice: 1}, contract: c}]\n"
        "schedule:\n  shift_templates:\n"
        '    - {name: early, earliest_start: "06:00", latest_start: "06:00", lengths_min: [480]}\n'
        '    - {name: late, earliest_start: "14:00", latest_start: "14:00", lengths_min: [480]}\n'
        "  forbidden_successions: [[late, early]]\n"
    )
    spans = {d: ("14:00", "22:00", 1) if d % 2 == 0 else ("06:00", "14:00", 1) for d in range(7)}
    result = schedule_agents(
        sc,
        requirement("voice", spans),
        weeks=1,
        time_limit_s=10,
        deterministic=True,
        strategy="single",
    )
    assert check_schedule(result.shifts, sc, MONDAY, 7, result.activities).query("hard").empty
    types = result.shifts.set_index("date")["shift_type"].to_dict()
    for day, kind in types.items():
        nxt = types.get(day + dt.timedelta(days=1))
        assert not (kind == "late" and nxt == "early")


def test_checker_catches_a_broken_schedule():
    sc = scenario(
        "contracts: [{name: c, max_minutes_per_week: 960, shift_lengths_min: [480]}]\n"
        "agents: [{name: a, skills: {voice: 1}, contract: c}]\n" + NINE_TO_FIVE
    )
    rows = [
        {
            "agent": "a",
            "date": MONDAY + dt.timedelta(days=d),
            "shift_type": "day",
            "shift_start": pd.Timestamp(MONDAY) + pd.Timedelta(days=d, hours=9),
            "shift_end": pd.Timestamp(MONDAY) + pd.Timedelta(days=d, hours=17),
            "paid_minutes": 480,
            "breaks": "",
        }
        for d in range(3)
    ]
    problems = check_schedule(pd.DataFrame(rows), sc, MONDAY, 7)
    assert "max_minutes_per_week" in set(problems["rule"])


def test_plan_shift_counts_hand_known():
    templates = scenario(NINE_TO_FIVE).schedule.shift_templates
    req = requirement("voice", {0: ("09:00", "17:00", 3), 1: ("09:00", "17:00", 2)}, days=2)
    result = plan_shift_counts(
        req, templates, days=2, start=MONDAY, time_limit_s=10, deterministic=True
    )
    assert result.status == "optimal" and result.objective == pytest.approx(0.0)
    assert result.shifts.groupby("date").size().tolist() == [3, 2]


def test_service_weights_make_the_first_missing_agent_dearest():
    table = pd.DataFrame({"arrival_rate_per_s": [0.2], "aht_s": [300.0], "target_s": [20.0]})
    marginals, method = under_marginal_costs(table, np.array([70]), 900.0, 1.0, "service")
    assert np.all(np.diff(marginals[0]) >= -1e-12)  # convex: each missing agent costs more
    assert marginals[0, 0] >= 1.0 > 0.3  # above the default surplus cost
    fallback, name = under_marginal_costs(table.drop(columns="aht_s"), np.array([70]), 900.0)
    assert name == "convex" and fallback[0, 0] == 1.0 and fallback[0, 1] > 1.0


# --------------------------------------------------------------------------- property test


@st.composite
def instances(draw):
    n_agents = draw(st.integers(1, 3))
    lines = ["contracts:"]
    lines.append(
        "  - {name: c, shift_lengths_min: [240, 480], "
        f"max_minutes_per_week: {draw(st.sampled_from([960, 1440, 2400]))}, "
        f"min_days_off_per_week: {draw(st.integers(0, 3))}, "
        f"max_consecutive_days: {draw(st.integers(2, 5))}, "
        f"min_consecutive_days: {draw(st.integers(1, 2))}, "
        f"min_rest_between_shifts_min: {draw(st.sampled_from([0, 660, 720]))}, "
        f"max_working_weekends: {draw(st.integers(0, 1))}, "
        f"max_shifts_per_week_by_type: {{late: {draw(st.integers(0, 3))}}}, "
        f"max_shifts_per_horizon_by_type: {{early: {draw(st.integers(0, 4))}}}}}"
    )
    lines.append("agents:")
    for i in range(n_agents):
        skills = draw(st.sampled_from(["{voice: 1}", "{chat: 1}", "{voice: 1, chat: 1}"]))
        lines.append(f"  - {{name: a{i}, skills: {skills}, contract: c}}")
    hard = draw(st.booleans())
    lines += [
        "schedule:",
        "  shift_templates:",
        '    - {name: early, earliest_start: "06:00", latest_start: "08:00", start_increment_min: 60, lengths_min: [240, 480],',  # noqa: E501
        "       breaks: [{name: break, length_min: 15, earliest_after_start_min: 90, latest_after_start_min: 150}]}",  # noqa: E501
        '    - {name: late, earliest_start: "13:00", latest_start: "14:00", start_increment_min: 60, lengths_min: [240, 480], unpopular: true}',  # noqa: E501
        "  forbidden_successions: [[late, early]]",
        f"  ignore_edge_stretches: {str(draw(st.booleans())).lower()}",
        f"  fixed_days_off: [{{agent: a0, weekday: {draw(st.sampled_from(['mon', 'sat']))}}}]",
        '  availability: [{agent: "*", weekday: fri, available_from: "07:00", available_until: "20:00"}]',  # noqa: E501
        "  requests: [{agent: a0, weekday: tue, shift: early, wanted: true}]",
        "  rules:",
        f"    min_consecutive_days: {{hard: {str(hard).lower()}}}",
        f"    shift_request: {{hard: {str(draw(st.booleans())).lower()}}}",
    ]
    seed = draw(st.integers(0, 10_000))
    return "\n".join(lines), seed


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_every_returned_schedule_passes_the_independent_checker(instance):
    body, seed = instance
    sc = scenario(body)
    rng = np.random.default_rng(seed)
    spans = {d: ("06:00", "22:00", 0) for d in range(7)}
    req = pd.concat([requirement(q, spans) for q in ("voice", "chat")], ignore_index=True)
    req["required_agents"] = rng.integers(0, 3, len(req))
    try:
        result = schedule_agents(sc, req, weeks=1, time_limit_s=3, deterministic=True, seed=seed)
    except InfeasibleError as error:
        assert "[" in str(error)  # the contradiction is named
        return
    problems = check_schedule(result.shifts, sc, MONDAY, 7, result.activities)
    assert problems.query("hard").empty, problems.query("hard").to_string()
    # the solver's own soft-violation count matches the checker's for rules it reports
    soft = problems[~problems["hard"]]
    for rule in ("min_consecutive_days", "shift_request"):
        if not sc.schedule.rules.get(rule, None) or not sc.schedule.rules[rule].hard:
            assert (soft["rule"] == rule).sum() == (result.violations["rule"] == rule).sum()


def test_charts_and_report_sections():
    from openwfm.schedule.charts import add_to_report, coverage_figure, gantt_figure

    sc = scenario(
        "agents: [{name: a, skills: {voice: 1}}, {name: b, skills: {voice: 1}}]\n"
        "schedule:\n  shift_templates:\n"
        '    - {name: half, earliest_start: "09:00", latest_start: "09:00", lengths_min: [240],\n'
        "       breaks: [{name: coffee, length_min: 15, earliest_after_start_min: 60,\n"
        "                 latest_after_start_min: 120}]}\n"
    )
    result = schedule_agents(
        sc,
        requirement("voice", {0: ("09:00", "13:00", 2)}),
        weeks=1,
        time_limit_s=5,
        deterministic=True,
    )
    coverage = coverage_figure(result)
    names = {trace.name for trace in coverage.data}
    assert {"voice required", "voice scheduled"} <= names
    gantt = gantt_figure(result)
    assert "break" in {trace.name for trace in gantt.data}

    class Collect:
        def __init__(self):
            self.sections = []

        def add_section(self, heading, items, note=None):
            self.sections.append(heading)
            return self

    assert len(add_to_report(Collect(), result).sections) == 3


def test_two_phase_strategy_keeps_every_hard_rule():
    sc = scenario(
        "contracts: [{name: ft, min_minutes_per_week: 1800, max_minutes_per_week: 2400,\n"
        "             shift_lengths_min: [480], min_consecutive_days_off: 2}]\n"
        "agent_groups:\n"
        "  - {name: v, count: 4, skills: {voice: 1}, contract: ft}\n"
        "  - {name: b, count: 2, skills: {voice: 1, chat: 1}, contract: ft}\n"
        "schedule:\n  shift_templates:\n"
        '    - {name: early, earliest_start: "07:00", latest_start: "09:00",\n'
        "       start_increment_min: 60,\n"
        "       lengths_min: [480], breaks: [{name: lunch, length_min: 30,\n"
        "       earliest_after_start_min: 180, latest_after_start_min: 300, paid: false}]}\n"
        '    - {name: late, earliest_start: "12:00", latest_start: "13:00",\n'
        "       start_increment_min: 60,\n"
        "       lengths_min: [480]}\n"
        "  forbidden_successions: [[late, early]]\n"
        "  fixed_days_off: [{agent: v-1, weekday: wed}]\n"
    )
    spans = {d: ("07:00", "21:00", 2) for d in range(7)}
    req = pd.concat([requirement("voice", spans), requirement("chat", spans)], ignore_index=True)
    result = schedule_agents(
        sc, req, weeks=1, time_limit_s=3, deterministic=True, strategy="two_phase"
    )
    assert check_schedule(result.shifts, sc, MONDAY, 7, result.activities).query("hard").empty
    assert result.bound <= result.objective + 1e-6
    assert any("phase 1" in note for note in result.notes)


def test_day_patterns_price_the_stretch_rules_by_hand():
    from openwfm.model import Contract
    from openwfm.schedule.rules import rule_settings
    from openwfm.schedule.solver import day_patterns
    from openwfm.schedule.templates import Horizon

    contract = Contract(
        name="ft",
        min_minutes_per_week=2250,
        max_minutes_per_week=2400,
        shift_lengths_min=[480],
        min_days_off_per_week=2,
        max_consecutive_days=5,
        min_consecutive_days=2,
        min_consecutive_days_off=2,
    )
    patterns = dict(day_patterns(contract, rule_settings(None), Horizon(MONDAY, 7, 15), [450]))
    # five working days (450 paid minutes each; four are too few, six break days off)
    assert set(map(len, patterns)) == {5} and len(patterns) == 21
    assert patterns[(0, 1, 2, 3, 4)] == 0.0  # weekend off
    assert patterns[(1, 2, 3, 4, 5)] == 0.0  # off at both ends of the horizon: not interior
    assert patterns[(0, 2, 3, 4, 5)] == 4.0  # Tuesday alone off
    assert patterns[(0, 1, 3, 4, 6)] == 8.0  # Wednesday and Saturday alone off
    assert patterns[(0, 2, 4, 5, 6)] == 4.0 * 2 + 4.0  # two single days off, Wednesday alone on


def test_phased_bound_never_exceeds_the_proven_optimum():
    sc = scenario(
        "contracts: [{name: ft, min_minutes_per_week: 1800, max_minutes_per_week: 2400,\n"
        "             shift_lengths_min: [480], min_consecutive_days_off: 2,\n"
        "             min_consecutive_days: 2}]\n"
        "agent_groups:\n"
        "  - {name: v, count: 3, skills: {voice: 1}, contract: ft}\n"
        "schedule:\n  shift_templates:\n"
        '    - {name: early, earliest_start: "07:00", latest_start: "09:00",\n'
        "       start_increment_min: 60, lengths_min: [480]}\n"
    )
    spans = {d: ("07:00", "17:00", 2 if d in (0, 2, 4) else 3) for d in range(7)}
    req = requirement("voice", spans)
    single = schedule_agents(
        sc, req, weeks=1, time_limit_s=20, deterministic=True, strategy="single"
    )
    assert single.status == "optimal"
    phased = schedule_agents(
        sc, req, weeks=1, time_limit_s=8, deterministic=True, strategy="two_phase"
    )
    assert any("HiGHS" in note for note in phased.notes)  # phase 1 as a MIP
    assert phased.bound <= single.objective + 1e-6
    assert phased.objective >= single.objective - 1e-6
    assert check_schedule(phased.shifts, sc, MONDAY, 7, phased.activities).query("hard").empty


def test_mip_phase_one_matches_cp_sat_on_a_small_integer_program():
    from ortools.sat.python import cp_model

    from openwfm.schedule.solver import _mip

    m = cp_model.CpModel()
    x = [m.new_int_var(0, 4, f"x{i}") for i in range(4)]
    link = m.new_bool_var("link")
    m.add(3 * x[0] + 5 * x[1] + 7 * x[2] + 2 * x[3] >= 23)
    m.add(x[0] + x[1] <= 3).only_enforce_if(link)  # holds once link is fixed to 1
    m.minimize(4 * x[0] + 6 * x[1] + 9 * x[2] + 3 * x[3] + 5)
    solver = cp_model.CpSolver()
    m_tied = m.clone()
    m_tied.add(m_tied.get_bool_var_from_proto_index(link.index) == 1)
    assert solver.solve(m_tied) == cp_model.OPTIMAL
    values, best, bound = _mip(m.proto, {link.index}, 10.0)
    assert best == solver.objective_value
    assert bound <= best and values[0] + values[1] <= 3
    # a constraint that is not linear: no MIP
    m.add_multiplication_equality(x[3], [x[0], x[1]])
    assert _mip(m.proto, {link.index}, 10.0) is None

"""Slot rosters (``openwfm.schedule.schedule_slots``): hand-computed optima, the horizon-edge
setting on and off, the independent checker on random instances, brute force on tiny ones,
bad slot rows as one-line errors naming file, row and field."""

from __future__ import annotations

import datetime as dt
import itertools

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _cli import one_error_line, run
from conftest import PROJECT_ROOT
from openwfm.errors import DataError, InfeasibleError, ScenarioError
from openwfm.model import (
    Agent,
    Availability,
    Contract,
    DayRule,
    Queue,
    RuleSetting,
    Scenario,
    ScheduleSettings,
    ShiftRequest,
    ShiftTemplate,
)
from openwfm.scenario import load_scenario
from openwfm.schedule import (
    check_slot_roster,
    schedule_slots,
    slot_cover_cost,
    slot_roster_checker,
)

START = dt.date(2026, 3, 2)  # a Monday
BUDGET = {"time_limit_s": 5.0, "deterministic": True}


def shift_type(name: str, start: str, length_min: int = 480, **extra) -> ShiftTemplate:
    return ShiftTemplate(
        name=name, earliest_start=start, latest_start=start, lengths_min=[length_min], **extra
    )


def scenario(
    contract: Contract,
    agents: int = 1,
    types: list[ShiftTemplate] | None = None,
    **schedule,
) -> Scenario:
    return Scenario(
        queues=[Queue(name="back", aht_s=600)],
        contracts=[contract],
        agents=[
            Agent(name=f"a{i + 1}", skills={"back": 1.0}, contract=contract.name)
            for i in range(agents)
        ],
        schedule=ScheduleSettings(
            shift_templates=types or [shift_type("day", "08:00")], **schedule
        ),
    )


def loose(**terms) -> Contract:
    """A contract that limits nothing but what ``terms`` set."""
    base = {
        "name": "c",
        "max_minutes_per_week": 7 * 1440,
        "shift_lengths_min": [],
        "min_days_off_per_week": 0,
        "max_consecutive_days": 100,
        "min_rest_between_shifts_min": 0,
    }
    return Contract(**{**base, **terms})


def slots(rows: list[tuple[int, str, int, float, float]]) -> pd.DataFrame:
    """Slot table from (day offset, shift, required, under_weight, over_weight)."""
    return pd.DataFrame(
        [(str(START + dt.timedelta(days=d)), s, r, u, o) for d, s, r, u, o in rows],
        columns=["date", "shift", "required", "under_weight", "over_weight"],
    )


def worked_days(result, agent: str = "a1") -> list[int]:
    dates = result.shifts.loc[result.shifts["agent"] == agent, "date"]
    return sorted((pd.Timestamp(d).date() - START).days for d in dates)


def assert_checked(result, center: Scenario, table: pd.DataFrame, **options) -> None:
    """The independent checker finds no hard violation and prices the roster as the solver."""
    found = check_slot_roster(result.shifts, center, table, **options)
    assert not found["hard"].any(), found[found["hard"]]
    assert result.checked is not None and len(result.checked) == len(found)
    cost = slot_cover_cost(result.shifts, table) + found["penalty"].sum()
    assert cost <= result.objective + 1e-6
    if result.status == "OPTIMAL":
        assert cost == pytest.approx(result.objective)
        assert result.gap == 0 and result.bound == pytest.approx(result.objective)


# --------------------------------------------------------------------------- hand-computed


def test_cover_costs_and_the_shifts_of_a_type_per_horizon_limit():
    # three days of one slot needing 1 (a miss costs 10); the contract allows 2 "day" shifts in
    # the horizon: two days covered, one missed -> 10
    center = scenario(loose(max_shifts_per_horizon_by_type={"day": 2}))
    table = slots([(d, "day", 1, 10, 1) for d in range(3)])
    result = schedule_slots(center, table, **BUDGET)
    assert result.status == "OPTIMAL" and result.objective == pytest.approx(10.0)
    assert len(worked_days(result)) == 2
    assert list(result.shifts.columns[:3]) == ["agent", "date", "shift"]
    assert result.coverage["under"].sum() == 1
    assert_checked(result, center, table)
    # without the limit all three are covered; an extra agent costs its over-weight 1 per day
    # when 2 agents must work (min 3 shifts each: 3 x 480 minutes in the horizon)
    center = scenario(loose(min_minutes_per_horizon=3 * 480), agents=2)
    result = schedule_slots(center, table, **BUDGET)
    assert result.objective == pytest.approx(3.0) and len(result.shifts) == 6
    assert_checked(result, center, table)


@pytest.mark.parametrize(
    ("ignore", "expected_cost", "expected_days"),
    [(True, 0.0, [0, 1]), (False, 1.0, [0, 1, 2])],
)
def test_min_working_stretch_at_the_horizon_edge(ignore, expected_cost, expected_days):
    # 4 days; work is needed on days 0 and 1 (a miss costs 10), days 2-3 need nobody (an extra
    # agent costs 1). Minimum working stretch 3 (soft, 4 per short stretch). Ignoring edge
    # stretches, days 0-1 touch the first day: no penalty, cost 0. Applying them, days 0-1 are
    # a short stretch (4) unless day 2 is worked too (over-cover 1): cost 1, days 0-2.
    center = scenario(
        loose(min_consecutive_days=3),
        rules={"min_consecutive_days": RuleSetting(hard=False, weight=4)},
    )
    table = slots(
        [(0, "day", 1, 10, 1), (1, "day", 1, 10, 1), (2, "day", 0, 0, 1), (3, "day", 0, 0, 1)]
    )
    result = schedule_slots(center, table, ignore_edge_stretches=ignore, **BUDGET)
    assert result.objective == pytest.approx(expected_cost)
    assert worked_days(result) == expected_days
    assert result.ignore_edge_stretches is ignore
    assert_checked(result, center, table, ignore_edge_stretches=ignore)


@pytest.mark.parametrize(("ignore", "expected_cost"), [(True, 0.0), (False, 1.0)])
def test_min_days_off_stretch_at_the_horizon_edge_from_the_scenario_setting(ignore, expected_cost):
    # 3 days, work needed on days 0 and 1 (miss 10), day 2 needs nobody (extra 1); minimum
    # day-off stretch 2 (soft, 4). The single day off at the end touches the last day: free when
    # ignored; else working day 2 too (1) beats the short off-stretch (4).
    center = scenario(
        loose(min_consecutive_days_off=2),
        rules={"min_consecutive_days_off": RuleSetting(hard=False, weight=4)},
        ignore_edge_stretches=ignore,
    )
    table = slots([(0, "day", 1, 10, 1), (1, "day", 1, 10, 1), (2, "day", 0, 0, 1)])
    result = schedule_slots(center, table, **BUDGET)
    assert result.objective == pytest.approx(expected_cost)
    assert_checked(result, center, table)


def test_interior_short_stretch_is_priced_either_way():
    # 5 days, work needed on day 2 only: alone it is an interior stretch of 1 < 2 (penalty 4);
    # working a neighbour too costs over-cover 1. Both settings: cost 1, two days worked.
    center = scenario(
        loose(min_consecutive_days=2),
        rules={"min_consecutive_days": RuleSetting(hard=False, weight=4)},
    )
    table = slots([(d, "day", int(d == 2), 10, 1) for d in range(5)])
    for ignore in (True, False):
        result = schedule_slots(center, table, ignore_edge_stretches=ignore, **BUDGET)
        assert result.objective == pytest.approx(1.0)
        assert len(worked_days(result)) == 2 and 2 in worked_days(result)


@pytest.mark.parametrize(("rest_min", "expected"), [(660, 10.0), (480, 0.0)])
def test_rest_between_a_late_and_the_next_early_shift(rest_min, expected):
    # late 14:00-22:00 on day 0 and early 06:00-14:00 on day 1 leave 8 h of rest: with an 11 h
    # minimum (hard) only one is covered (a miss costs 10); with 8 h both.
    types = [shift_type("early", "06:00"), shift_type("late", "14:00")]
    center = scenario(loose(min_rest_between_shifts_min=rest_min), types=types)
    table = slots([(0, "late", 1, 10, 1), (1, "early", 1, 10, 1)])
    result = schedule_slots(center, table, **BUDGET)
    assert result.objective == pytest.approx(expected)
    assert_checked(result, center, table)


def test_forbidden_succession_and_overlap():
    # a night 22:00-06:00 then a day 08:00 next day: 2 h rest is allowed here (no minimum), but
    # the pair is a forbidden succession -> one miss (10). A 16 h shift then the next day's
    # 08:00 shift overlap: never both.
    types = [shift_type("night", "22:00"), shift_type("day", "08:00")]
    center = scenario(loose(), types=types, forbidden_successions=[("night", "day")])
    table = slots([(0, "night", 1, 10, 1), (1, "day", 1, 10, 1)])
    assert schedule_slots(center, table, **BUDGET).objective == pytest.approx(10.0)
    long_day = [shift_type("long", "20:00", 16 * 60), shift_type("day", "08:00")]
    center = scenario(loose(), types=long_day)
    table = slots([(0, "long", 1, 10, 1), (1, "day", 1, 7, 1)])
    result = schedule_slots(center, table, **BUDGET)
    assert result.objective == pytest.approx(7.0) and len(result.shifts) == 1
    assert_checked(result, center, table)


@pytest.mark.parametrize(("under", "expected"), [(3.0, 3.0), (7.0, 5.0)])
def test_day_off_request_against_cover(under, expected):
    # the agent asks for day 1 off (weight 5): missing the slot costs `under`, so the cheaper of
    # the two is paid
    center = scenario(
        loose(),
        requests=[ShiftRequest(agent="a1", date=START + dt.timedelta(1), wanted=False, weight=5)],
    )
    table = slots([(1, "day", 1, under, 1)])
    result = schedule_slots(center, table, **BUDGET)
    assert result.objective == pytest.approx(expected)
    assert_checked(result, center, table)


def test_max_consecutive_days_fixed_day_off_and_availability():
    # 3 days needing 1 (miss 10) with at most 2 days in a row: one miss
    center = scenario(loose(max_consecutive_days=2))
    table = slots([(d, "day", 1, 10, 1) for d in range(3)])
    assert schedule_slots(center, table, **BUDGET).objective == pytest.approx(10.0)
    # a fixed day off on Tuesday and availability until 12:00 on Wednesday (the shift ends
    # 16:00): only Monday is worked
    center = scenario(
        loose(),
        fixed_days_off=[DayRule(agent="a1", weekday="tue")],
        availability=[Availability(agent="a1", weekday="wed", available_until="12:00")],
    )
    result = schedule_slots(center, table, **BUDGET)
    assert result.objective == pytest.approx(20.0) and worked_days(result) == [0]
    assert_checked(result, center, table)


def test_weekly_minutes_and_days_off_count_full_weeks():
    # 8 days needing 1 each (miss 10), at least 4 days off in the full week 1: 3 of its days
    # worked, 4 missed; day 8 is in the partial week 2 where the rule does not count -> 40
    center = scenario(loose(min_days_off_per_week=4))
    table = slots([(d, "day", 1, 10, 1) for d in range(8)])
    result = schedule_slots(center, table, **BUDGET)
    assert result.objective == pytest.approx(40.0)
    assert_checked(result, center, table)


def test_contradicting_hard_rules_are_named():
    center = scenario(loose(min_minutes_per_horizon=4 * 480))
    table = slots([(d, "day", 1, 10, 1) for d in range(3)])
    with pytest.raises(InfeasibleError, match="min_minutes_per_horizon"):
        schedule_slots(center, table, **BUDGET)


def test_shift_type_needs_a_fixed_start():
    center = scenario(
        loose(), types=[ShiftTemplate(name="day", earliest_start="08:00", latest_start="10:00")]
    )
    with pytest.raises(ScenarioError, match="latest_start"):
        schedule_slots(center, slots([(0, "day", 1, 10, 1)]), **BUDGET)


def test_checker_finds_hand_made_violations():
    types = [shift_type("early", "06:00"), shift_type("late", "14:00")]
    contract = loose(
        max_consecutive_days=2,
        min_rest_between_shifts_min=660,
        max_shifts_per_horizon_by_type={"late": 1},
        min_consecutive_days_off=2,
    )
    center = scenario(contract, types=types, fixed_days_off=[DayRule(agent="a1", weekday="thu")])
    table = slots([(d, t, 1, 10, 1) for d in range(5) for t in ("early", "late")])
    roster = pd.DataFrame(
        [
            ("a1", str(START), "late"),
            ("a1", str(START + dt.timedelta(1)), "early"),  # 8 h after the late: min_rest
            ("a1", str(START + dt.timedelta(2)), "late"),  # 3rd day in a row, 2nd late
            ("a1", str(START + dt.timedelta(3)), "early"),  # Thursday: fixed day off
            ("a1", str(START + dt.timedelta(3)), "late"),  # two shifts on one day
            ("ghost", str(START), "early"),
        ],
        columns=["agent", "date", "shift"],
    )
    found = check_slot_roster(roster, center, table)
    rules = set(found["rule"])
    assert {
        "min_rest",
        "max_consecutive_days",
        "max_shifts_of_type_per_horizon",
        "fixed_days_off",
        "structure",
    } <= rules
    details = set(found.loc[found["rule"] == "structure", "detail"])
    assert "two shifts on one day" in details and any("no such agent" in d for d in details)
    # the single day off at the end touches the horizon edge: judged only when asked
    assert "min_consecutive_days_off" not in rules
    applied = check_slot_roster(roster, center, table, ignore_edge_stretches=False)
    assert "min_consecutive_days_off" in set(applied["rule"])


# --------------------------------------------------------------------------- properties


def brute_force(center: Scenario, table: pd.DataFrame, ignore: bool) -> float:
    """Least cost over every roster of the listed slots that keeps the hard rules."""
    agents = [a.name for a in center.all_agents()]
    choices = [(a, row.date, row.shift) for a in agents for row in table.itertuples()]
    check = slot_roster_checker(center, table, ignore_edge_stretches=ignore)
    best = float("inf")
    for picks in itertools.product((False, True), repeat=len(choices)):
        shifts = pd.DataFrame(
            [c for c, p in zip(choices, picks, strict=True) if p],
            columns=["agent", "date", "shift"],
        )
        found = check(shifts)
        if not found["hard"].any():
            best = min(best, slot_cover_cost(shifts, table) + found["penalty"].sum())
    return best


@pytest.mark.parametrize("ignore", [True, False])
def test_optimum_equals_brute_force_on_a_tiny_instance(ignore):
    # 2 agents x 4 days, one type: every roster (256) priced by the checker
    center = scenario(
        loose(
            max_consecutive_days=3,
            min_consecutive_days=2,
            min_consecutive_days_off=2,
            max_minutes_per_horizon=2 * 480,
        ),
        agents=2,
        rules={
            "min_consecutive_days": RuleSetting(hard=False, weight=3),
            "min_consecutive_days_off": RuleSetting(hard=False, weight=2),
        },
        requests=[ShiftRequest(agent="a1", date=START + dt.timedelta(2), wanted=False, weight=4)],
    )
    table = slots([(d, "day", [2, 1, 2, 0][d], 5, 1) for d in range(4)])
    result = schedule_slots(center, table, ignore_edge_stretches=ignore, **BUDGET)
    assert result.status == "OPTIMAL"
    assert result.objective == pytest.approx(brute_force(center, table, ignore))


@st.composite
def instances(draw):
    days = draw(st.integers(3, 10))
    types = [
        shift_type("early", "06:00"),
        shift_type("late", "14:00", 480, unpopular=True),
        shift_type("night", "22:00", 600),
    ][: draw(st.integers(1, 3))]
    least = draw(st.sampled_from([0, 960, 1920]))
    contract = Contract(
        name="c",
        min_minutes_per_week=least,
        max_minutes_per_week=max(least, draw(st.sampled_from([1440, 2400, 7 * 1440]))),
        shift_lengths_min=[],
        min_days_off_per_week=draw(st.integers(0, 3)),
        max_consecutive_days=draw(st.integers(1, 6)),
        min_rest_between_shifts_min=draw(st.sampled_from([0, 480, 660])),
        min_consecutive_days=draw(st.integers(1, 3)),
        min_consecutive_days_off=draw(st.integers(1, 3)),
        max_working_weekends=draw(st.sampled_from([None, 0, 1])),
        max_shifts_per_week_by_type=draw(st.sampled_from([{}, {"early": 3}])),
        max_shifts_per_horizon_by_type=draw(st.sampled_from([{}, {"early": 4}])),
        min_minutes_per_horizon=draw(st.sampled_from([None, 480, 2400])),
    )
    hardness = {
        name: RuleSetting(hard=draw(st.booleans()), weight=draw(st.sampled_from([0.5, 2, 9])))
        for name in (
            "min_consecutive_days",
            "min_consecutive_days_off",
            "days_off_per_week",
            "min_rest",
            "max_consecutive_days",
            "min_minutes_per_week",
        )
    }
    agents = draw(st.integers(1, 4))
    requests = [
        ShiftRequest(
            agent=f"a{draw(st.integers(1, agents))}",
            date=START + dt.timedelta(draw(st.integers(0, days - 1))),
            shift=draw(st.sampled_from([None] + [t.name for t in types])),
            wanted=draw(st.booleans()),
            weight=draw(st.sampled_from([1, 3])),
        )
        for _ in range(draw(st.integers(0, 4)))
    ]
    center = scenario(
        contract,
        agents=agents,
        types=types,
        requests=requests,
        forbidden_successions=[("late", "early")] if len(types) > 1 else [],
        fixed_days_off=[DayRule(agent="a1", weekday="sun")],
        availability=[Availability(agent="*", weekday="tue", available_until="20:00")],
        rules={**hardness, "availability": RuleSetting(hard=draw(st.booleans()), weight=3)},
    )
    rows = [
        (
            d,
            t.name,
            draw(st.integers(0, 3)),
            draw(st.sampled_from([0, 5, 100])),
            draw(st.sampled_from([0, 1, 2.5])),
        )
        for d in range(days)
        for t in types
        if draw(st.integers(0, 4))
    ]
    return center, slots(rows or [(0, types[0].name, 1, 10, 1)]), draw(st.booleans())


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_every_roster_keeps_the_hard_rules_by_the_independent_checker(instance):
    center, table, ignore = instance
    try:
        result = schedule_slots(
            center, table, ignore_edge_stretches=ignore, time_limit_s=3.0, deterministic=True
        )
    except InfeasibleError:
        return
    assert_checked(result, center, table, ignore_edge_stretches=ignore)
    assert set(result.shifts["agent"]) <= {a.name for a in center.all_agents()}
    assert 0.0 <= result.gap <= 1.0 and result.bound <= result.objective + 1e-9


def test_two_weeks_eight_agents_twenty_requests_is_proved_optimal():
    # the instance (the timing is bench/slots.py's): 14 days, 8 agents, one shift type,
    # cover 5 a day (under 100, over 1), 20 weighted on/off requests; proved optimal within a
    # deterministic budget, and the optimum keeps every hard rule
    contract = Contract(
        name="c",
        min_minutes_per_week=1920,
        max_minutes_per_week=2400,
        min_days_off_per_week=2,
        max_consecutive_days=5,
        min_consecutive_days=2,
        min_consecutive_days_off=2,
    )
    requests = [
        ShiftRequest(
            agent=f"a{1 + (7 * i) % 8}",
            date=START + dt.timedelta(days=(5 * i + 3) % 14),
            wanted=i % 2 == 0,
            weight=1 + (3 * i) % 10,
        )
        for i in range(20)
    ]
    center = scenario(contract, agents=8, requests=requests)
    table = slots([(d, "day", 5, 100, 1) for d in range(14)])
    result = schedule_slots(center, table, time_limit_s=60.0, deterministic=True)
    assert result.status == "OPTIMAL" and result.gap == 0
    assert result.coverage["under"].sum() == 0  # 8 agents x 4-5 shifts a week cover 5 a day
    assert_checked(result, center, table)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("row", "field", "fragment"),
    [
        ({"shift": "late"}, "shift", "late"),
        ({"under_weight": -1}, "under_weight", "weight >= 0"),
        ({"over_weight": "nan"}, "over_weight", "weight >= 0"),
        ({"required": 1.5}, "required", "whole number"),
        ({"date": "2026-02-30"}, "date", "YYYY-MM-DD"),
    ],
)
def test_bad_slot_rows_name_the_row_and_field(row, field, fragment):
    center = scenario(loose())
    table = slots([(d, "day", 1, 10, 1) for d in range(3)]).astype(object)
    for column, value in row.items():
        table.loc[1, column] = value
    with pytest.raises(DataError) as caught:
        schedule_slots(center, table, source="slots.csv", **BUDGET)
    text = str(caught.value)
    assert text.startswith(f"slots.csv:3: {field}: row 2:"), text
    assert fragment in text and "\n" not in text


def test_date_outside_the_horizon_and_duplicate_slot():
    center = scenario(loose())
    table = slots([(0, "day", 1, 10, 1), (9, "day", 1, 10, 1)])
    with pytest.raises(DataError, match=r"slots.csv:3: date: row 2: expected a date in the"):
        schedule_slots(center, table, days=7, source="slots.csv", **BUDGET)
    with pytest.raises(DataError, match=r":3: shift: row 2: .*given twice"):
        schedule_slots(center, slots([(0, "day", 1, 10, 1)] * 2), **BUDGET)


# --------------------------------------------------------------------------- CLI


def test_cli_rosters_the_example_slots(tmp_path, monkeypatch, capsys):
    example = PROJECT_ROOT / "examples" / "slots"
    out = tmp_path / "roster" / "r.csv"
    code, stdout, err = run(
        monkeypatch,
        capsys,
        "schedule",
        example / "roster.yaml",
        "--slots",
        example / "slots.csv",
        "--time-limit",
        "20",
        "--deterministic",
        "--out",
        out,
        "--html",
        tmp_path / "roster" / "r.html",
    )
    assert code == 0, err
    page = (tmp_path / "roster" / "r.html").read_text()
    assert "Cover per shift type and date" in page and "plotly" in page[:400000].lower()
    shifts = pd.read_csv(out)
    assert list(shifts.columns[:3]) == ["agent", "date", "shift"]
    coverage = pd.read_csv(tmp_path / "roster" / "r.coverage.csv")
    assert len(coverage) == len(pd.read_csv(example / "slots.csv"))
    assert (pd.read_csv(tmp_path / "roster" / "r.rules.csv")["instances"] >= 0).all()
    assert "objective" in stdout
    center = load_scenario(example / "roster.yaml")
    found = check_slot_roster(shifts, center, pd.read_csv(example / "slots.csv"))
    assert not found["hard"].any()


@pytest.mark.parametrize(
    ("line", "extra", "fragments"),
    [
        ("2026-03-03,night,1,10,1", [], ["slots.csv:3: shift: row 2:", "night"]),
        ("2026-03-03,day,1,-5,1", [], ["slots.csv:3: under_weight: row 2:", "-5"]),
        ("2026-03-20,day,1,10,1", ["--weeks", "1"], ["slots.csv:3: date: row 2:", "horizon"]),
    ],
)
def test_cli_bad_slot_row_is_one_line_naming_file_row_field(
    tmp_path, monkeypatch, capsys, line, extra, fragments
):
    center = tmp_path / "c.yaml"
    center.write_text(
        "queues: [{name: back, aht_s: 600}]\n"
        "agents: [{name: a1, skills: {back: 1}}]\n"
        "schedule:\n"
        '  shift_templates: [{name: day, earliest_start: "08:00", latest_start: "08:00"}]\n'
    )
    table = tmp_path / "slots.csv"
    table.write_text(
        f"date,shift,required,under_weight,over_weight\n2026-03-02,day,1,10,1\n{line}\n"
    )
    out = tmp_path / "r.csv"
    code, _, err = run(
        monkeypatch, capsys, "schedule", center, "--slots", table, *extra, "--out", out
    )
    one_error_line(code, err, *fragments)
    assert not out.exists()
    code, _, err = run(monkeypatch, capsys, "schedule", center, "--out", out)
    one_error_line(code, err, "--requirements", "--slots")


def test_scenario_check_names_an_unknown_type_in_the_horizon_limit():
    from openwfm.scenario import parse_scenario

    text = (
        "queues: [{name: back, aht_s: 600}]\n"
        "contracts:\n"
        "  - name: c\n"
        "    max_shifts_per_horizon_by_type: {nigth: 2}\n"
        "schedule:\n"
        '  shift_templates: [{name: night, earliest_start: "22:00", latest_start: "22:00"}]\n'
    )
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, source="c.yaml")
    assert str(caught.value).startswith(
        "c.yaml:4: contracts[0].max_shifts_per_horizon_by_type.nigth: unknown shift type 'nigth'"
    ), str(caught.value)


def _one_agent_schedule(contract_rules: str, days: int, settings: str = ""):
    """One agent on contract ``c`` (no days off needed, 8 h shifts, plus ``contract_rules``),
    one 09:00 shift type (plus the schedule ``settings``), one agent required 09:00-17:00 on
    the first ``days`` days, scheduled with a deterministic budget: (scenario, result)."""
    from openwfm.scenario import parse_scenario
    from openwfm.schedule import schedule_agents

    center = parse_scenario(
        "queues: [{name: voice, aht_s: 300}]\n"
        "contracts: [{name: c, min_days_off_per_week: 0, shift_lengths_min: [480],\n"
        f"             {contract_rules}}}]\n"
        "agents: [{name: a, skills: {voice: 1}, contract: c}]\n"
        "schedule:\n"
        '  shift_templates: [{name: day, earliest_start: "09:00", latest_start: "09:00"}]\n'
        + settings
    )
    starts = [
        pd.Timestamp(START) + pd.Timedelta(days=d, hours=9) + pd.Timedelta(minutes=15 * k)
        for d in range(days)
        for k in range(32)
    ]
    requirement = pd.DataFrame({"interval_start": starts, "queue": "voice", "required_agents": 1})
    result = schedule_agents(
        center,
        requirement,
        weeks=1,
        start=START,
        time_limit_s=5,
        deterministic=True,
        extra_shrinkage=0.0,
    )
    return center, result


def test_interval_schedules_keep_the_shifts_of_a_type_per_horizon_limit_too():
    # the interval scheduler (schedule_agents) and its checker know the per-horizon limit: one
    # agent, a 09:00-17:00 requirement on three days, at most 2 "day" shifts in the horizon
    from openwfm.schedule import check_schedule

    center, result = _one_agent_schedule("max_shifts_per_horizon_by_type: {day: 2}", days=3)
    assert len(result.shifts) == 2
    assert not check_schedule(result.shifts, center, START, 7)["hard"].any()
    rows = []
    for day in range(3):  # the same shift on all three days breaks the limit
        row = result.shifts.iloc[0].copy()
        row["date"] = START + dt.timedelta(days=day)
        row["shift_start"] = pd.Timestamp(START) + pd.Timedelta(days=day, hours=9)
        row["shift_end"] = pd.Timestamp(START) + pd.Timedelta(days=day, hours=17)
        rows.append(row)
    found = check_schedule(pd.DataFrame(rows), center, START, 7)
    assert "max_shifts_of_type_per_horizon" in set(found["rule"])


@pytest.mark.parametrize(("ignore", "expected_days"), [(True, [0, 1]), (False, [0, 1, 2])])
def test_interval_schedules_follow_the_horizon_edge_setting(ignore, expected_days):
    # work is needed on days 0 and 1 (09:00-17:00); working stretches of at least 3 days are
    # hard. Ignoring edge stretches, days 0-1 touch the first day and are enough; judging them,
    # the agent works day 2 too (over-cover is cheaper than missing two days)
    from openwfm.schedule import check_schedule

    center, result = _one_agent_schedule(
        "min_consecutive_days: 3",
        days=2,
        settings="  rules: {min_consecutive_days: {hard: true}}\n"
        f"  ignore_edge_stretches: {str(ignore).lower()}\n",
    )
    days = sorted((pd.Timestamp(d).date() - START).days for d in result.shifts["date"])
    assert days == expected_days
    assert not check_schedule(result.shifts, center, START, 7)["hard"].any()
    if not ignore:  # the checker judges the edge stretch of two days too
        two_days = result.shifts[
            result.shifts["date"].map(pd.Timestamp) < pd.Timestamp(START) + pd.Timedelta(days=2)
        ]
        found = check_schedule(two_days, center, START, 7)
        assert "min_consecutive_days" in set(found["rule"])

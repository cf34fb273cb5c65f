"""Phase 1 guided by its linear relaxation, the relaxation itself, and the stage's time budget."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest
from ortools.sat.python import cp_model

from openwfm.plan.cache import StageCache
from openwfm.plan.stages import ScheduleOptions, StageOutput, schedule_stage
from openwfm.schedule import ScheduleTimeoutError, budget, check_schedule, schedule_agents
from openwfm.schedule.budget import clock
from openwfm.schedule.relaxation import linear_program, solve_integer, solve_relaxation
from test_schedule import MONDAY, requirement, scenario
from test_schedule_budget import PHASED, _fingerprint, _requirements


def _guided_always(monkeypatch) -> None:
    """Phase 1 LP-guided whatever the model's size (the budget every phased run reads)."""
    monkeypatch.setattr(
        budget, "PHASED", dataclasses.replace(budget.PHASED, guided_min_variables=0)
    )


def test_relaxation_of_a_small_integer_program_has_the_textbook_values():
    # min x + y  s.t.  2x + 2y >= 3, x - y <= 0: LP optimum 1.5 (floored: 1), integer 2
    model = cp_model.CpModel()
    x = model.new_int_var(0, 5, "x")
    y = model.new_int_var(0, 5, "y")
    model.add(2 * x + 2 * y >= 3)
    model.add(x - y <= 0)
    model.minimize(x + y)
    lp = linear_program(model.proto, set())
    values, bound = solve_relaxation(lp, 10)
    assert values.sum() == pytest.approx(1.5)
    assert bound == 1  # floored: stays a proven bound under tolerances
    integer, value = solve_integer(lp, 10)
    assert value == 2 and integer.sum() == 2 and integer[0] <= integer[1]


def test_boolean_constraints_with_negated_literals_become_rows():
    model = cp_model.CpModel()
    a, b, c = (model.new_bool_var(n) for n in "abc")
    model.add_at_most_one([a, b.Not()])  # a + (1 - b) <= 1
    model.add_bool_or([a, c])  # a + c >= 1
    model.add_exactly_one([b, c])
    model.minimize(a + 2 * c)
    lp = linear_program(model.proto, set())
    dense = lp.matrix.toarray()
    for row, low, high in zip(dense, lp.lower, lp.upper, strict=True):
        for point in ((0, 0, 1), (1, 1, 0), (1, 0, 1), (0, 1, 0)):
            feasible_row = low - 1e-9 <= row @ np.array(point) <= high + 1e-9
            if point == (1, 1, 0):  # feasible for every row: a=1, b=1, c=0
                assert feasible_row
    integer, value = solve_integer(lp, 10)
    assert tuple(integer) == (1, 1, 0) and value == 1  # the only optimum
    none = cp_model.CpModel()
    p = none.new_int_var(0, 3, "p")
    none.add_multiplication_equality(p, [p, p])
    assert linear_program(none.proto, set()) is None  # not linear: the caller falls back


def test_two_phase_takes_the_guided_phase_one_and_keeps_every_hard_rule(monkeypatch):
    _guided_always(monkeypatch)  # a small instance
    sc = scenario(PHASED)
    kwargs = dict(weeks=1, time_limit_s=5, strategy="two_phase", deterministic=True, seed=1)
    first = schedule_agents(sc, _requirements(), **kwargs)
    again = schedule_agents(sc, _requirements(), **kwargs)
    assert _fingerprint(first) == _fingerprint(again)  # deterministic budget
    assert any("LP-guided" in note for note in first.notes), first.notes
    assert 0 < first.bound <= first.objective + 1e-6
    hard = check_schedule(first.shifts, sc, MONDAY, 7, first.activities).query("hard")
    assert hard.empty


@pytest.mark.parametrize("guided", [True, False])
def test_the_bound_is_below_the_proved_optimum_with_rest_binding(guided, monkeypatch):
    # late and early shifts of a day with an 11-hour rest: phase 1's group rest relaxation
    # must never cut off the true optimum (its bound stays below the single model's optimum),
    # LP-guided or as a MIP
    if guided:
        _guided_always(monkeypatch)
    body = (
        "contracts: [{name: ft, min_minutes_per_week: 0, max_minutes_per_week: 2400,\n"
        "             shift_lengths_min: [480], min_rest_between_shifts_min: 660}]\n"
        "agents:\n"
        + "".join(f"  - {{name: a{i}, skills: {{voice: 1}}, contract: ft}}\n" for i in range(3))
        + "schedule:\n  shift_templates:\n"
        '    - {name: day, earliest_start: "06:00", latest_start: "14:00",\n'
        "       start_increment_min: 240, lengths_min: [480]}\n"
    )
    sc = scenario(body)
    spans = {d: ("06:00", "22:00", 1) for d in range(7)}
    req = requirement("voice", spans)
    single = schedule_agents(
        sc, req, weeks=1, time_limit_s=20, strategy="single", deterministic=True
    )
    assert single.status == "optimal"
    phased = schedule_agents(
        sc, req, weeks=1, time_limit_s=5, strategy="two_phase", deterministic=True
    )
    assert any(("LP-guided" in note) == guided for note in phased.notes[:1]), phased.notes
    assert phased.bound <= single.objective + 1e-6
    assert phased.objective >= single.objective - 1e-6


def test_the_single_model_retry_gets_only_the_time_that_is_left(tmp_path, monkeypatch):
    """The stage's budget accounting: a two-phase run that spent 45 of 60 s leaves 15 s."""
    calls: list[tuple[str, float]] = []

    def fake_schedule(scenario, requirements, *, strategy, time_limit_s, **kwargs):
        calls.append((strategy, time_limit_s))
        clock().add(45.0)  # the work clock (a deterministic budget): 45 s spent
        if strategy != "single":
            raise ScheduleTimeoutError("none", field="time_limit")
        return schedule_result_stub()

    monkeypatch.setattr("openwfm.schedule.schedule_agents", fake_schedule)
    options = ScheduleOptions(
        weeks=1,
        start=dt.date(2026, 1, 5),
        time_limit_s=60.0,
        shrinkage=0.0,
        seed=0,
        deterministic=True,
    )
    requirements = StageOutput("req-key", pd.DataFrame(), False)
    schedule_stage(scenario(PHASED), requirements, options, StageCache(tmp_path), lambda _: None)
    assert calls == [("auto", 60.0), ("single", 15.0)]
    # and with less than the retry minimum left, the stage gives up at once
    calls.clear()
    late = ScheduleOptions(**{**options.__dict__, "time_limit_s": 48.0})
    with pytest.raises(ScheduleTimeoutError):
        schedule_stage(scenario(PHASED), requirements, late, StageCache(tmp_path), print)
    assert calls == [("auto", 48.0)]


class _Result:
    """Stands in for a ScheduleResult (the stage caches it, so a picklable module class)."""

    def __init__(self) -> None:
        self.notes: list[str] = []


def schedule_result_stub() -> _Result:
    return _Result()


def test_a_plan_whose_schedule_times_out_reports_the_rest(tmp_path, monkeypatch):
    """No schedule in the time limit (not a contradiction): the partial report, verdict
    'no schedule', the forecast and requirement written, the time limit named."""
    from openwfm.plan import run_plan
    from openwfm.scenario import parse_scenario
    from test_plan import small_center

    def no_schedule(*args, time_limit_s, **kwargs):
        raise ScheduleTimeoutError(
            f"no schedule found within the time limit of {time_limit_s:g} s; raise --time-limit",
            field="time_limit",
        )

    monkeypatch.setattr("openwfm.schedule.schedule_agents", no_schedule)
    result = run_plan(
        parse_scenario(small_center(3), source="center.yaml"),
        weeks=1,
        out_dir=tmp_path / "plan",
        time_limit_s=7,
        deterministic=True,
        replications=2,
        progress=False,
    )
    assert result.summary["verdict"] == "no schedule"
    assert "within the time limit of 7 s" in result.stages["schedule"]
    assert result.stages["simulation"].startswith("unavailable")
    for name in ("forecast.csv", "requirements.csv", "summary.json", "report.html"):
        assert (result.out_dir / name).stat().st_size > 0, name
    assert not (result.out_dir / "schedule.csv").exists()

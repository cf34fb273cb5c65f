"""The phased strategy's fallback paths, each forced through the named time budget
(``openwfm.schedule.budget.PHASED``) or the instance, on deterministic budgets: every path
returns a schedule that keeps every hard rule, with a bound no higher than its cost."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

import openwfm.schedule.phase_one
import openwfm.schedule.phased
import openwfm.schedule.variants
from openwfm.schedule import budget, check_schedule, schedule_agents
from test_schedule import MONDAY, requirement, scenario
from test_schedule_budget import PHASED, _requirements


@pytest.fixture(autouse=True)
def small_steps(monkeypatch):
    """Short sub-solves and no neighbourhood search after the polish's first solve: the
    paths, not the schedule's quality, are under test (deterministic work is tiny here, so
    the search would run every neighbourhood once)."""
    _with_budget(
        monkeypatch,
        step_min_s=0.2,
        improve_stop_s=0.1,
        retry_min_s=0.2,
        polish_stop_s=1e9,
        polish_step_max_s=0.3,
        polish_first_max_s=1.0,
    )


def _phased(sc, req, weeks: int = 1, time_limit_s: float = 1):
    result = schedule_agents(
        sc, req, weeks=weeks, time_limit_s=time_limit_s, strategy="two_phase", deterministic=True
    )
    problems = check_schedule(result.shifts, sc, MONDAY, 7 * weeks, result.activities)
    assert problems.query("hard").empty
    assert len(result.shifts) > 0
    assert result.bound <= result.objective + 1e-6
    return result


def _with_budget(monkeypatch, **changes) -> None:
    monkeypatch.setattr(budget, "PHASED", dataclasses.replace(budget.PHASED, **changes))


def _spy(monkeypatch, module, name: str) -> list:
    """Record every call of ``module.name`` (arguments and result); the real one still runs."""
    calls = []
    real = getattr(module, name)

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        calls.append((args, kwargs, out))
        return out

    monkeypatch.setattr(module, name, spy)
    return calls


def test_phase_one_falls_back_to_cp_sat_and_improves_day_by_day(monkeypatch):
    _with_budget(monkeypatch, highs=False)
    improved = _spy(monkeypatch, openwfm.schedule.phase_one, "improve_by_day")
    result = _phased(scenario(PHASED), _requirements())
    note = next(n for n in result.notes if n.startswith("phase 1"))
    assert "HiGHS" not in note and "without day patterns" in note
    assert improved, "the day-by-day improvement ran"
    for args, _, (_, best) in improved:
        assert best <= args[3]  # never worse than the solution it started from


def test_days_off_model_plans_the_days_when_there_are_no_patterns():
    # two weeks: working-day patterns are enumerated for one week only, so each group's days
    # off come from the days-off model (matching phase 1's agents per day)
    two_weeks = pd.concat(
        [
            _requirements(),
            _requirements().assign(
                interval_start=lambda t: t.interval_start + pd.Timedelta(days=7)
            ),
        ],
        ignore_index=True,
    )
    result = _phased(scenario(PHASED), two_weeks, weeks=2)
    note = next(n for n in result.notes if n.startswith("phase 1"))
    plans = note.split("days off per group: ")[1].split(";")[0]
    assert "patterns" not in plans
    assert all(plan.split()[-1] in ("optimal", "feasible") for plan in plans.split(", "))


def test_phase_two_retries_with_free_days(monkeypatch):
    # any cost above the planned patterns' penalty triggers the retry on free days
    _with_budget(monkeypatch, retry_above_cost=-1e9, retry_min_s=0.0)
    models = _spy(monkeypatch, openwfm.schedule.phased, "assignment_model")
    _phased(scenario(PHASED), _requirements())
    patterns = [args[4] for args, _, _ in models]
    planned = [i for i, p in enumerate(patterns) if p is not None]
    assert planned and all(i + 1 < len(patterns) and patterns[i + 1] is None for i in planned)


def test_phase_one_failure_constructs_agent_by_agent_and_polishes(monkeypatch):
    # no HiGHS and no time for CP-SAT's phase 1: the schedule is constructed agent by agent
    _with_budget(monkeypatch, highs=False, loose_share=1e-9, step_min_s=1e-9)
    result = _phased(scenario(PHASED), _requirements())
    assert any("phase 1 found nothing in its time" in n for n in result.notes)
    assert result.bound >= 0.0


def test_unreachable_counts_fall_back_to_the_one_model_solve(monkeypatch):
    # phase 2 finds no assignment for a group: the one-model solve, construction first
    monkeypatch.setattr(openwfm.schedule.phased, "_assign_group", lambda *a, **k: ("x", None))
    solves = _spy(monkeypatch, openwfm.schedule.phased, "solve")
    _phased(scenario(PHASED), _requirements())
    assert [kwargs.get("construct") for _, kwargs, _ in solves] == [True]


def test_polish_without_a_first_solution_solves_the_fixed_shifts_once(monkeypatch):
    monkeypatch.setattr(openwfm.schedule.phased, "polish", lambda *args, **kwargs: None)
    solves = _spy(monkeypatch, openwfm.schedule.phased, "solve")
    result = _phased(scenario(PHASED), _requirements())
    assert len(solves) == 1 and not solves[0][1].get("construct")
    assert not any("polish (full model" in n for n in result.notes)


def test_the_same_fallback_gives_the_same_schedule_twice(monkeypatch):
    _with_budget(monkeypatch, highs=False)
    req = requirement("voice", {d: ("08:00", "16:00", 2) for d in range(5)})
    sc = scenario(PHASED)
    first = _phased(sc, req)
    again = _phased(sc, req)
    assert first.shifts.equals(again.shifts) and first.objective == again.objective


def test_patterns_without_a_tied_solution_leave_the_days_to_the_days_off_model(monkeypatch):
    # CP-SAT's phase 1 gets no time to tie the working-day patterns to its counts
    _with_budget(monkeypatch, highs=False, pattern_fit_end=0.0, step_min_s=1e-9)
    result = _phased(scenario(PHASED), _requirements(), time_limit_s=2)
    note = next(n for n in result.notes if n.startswith("phase 1"))
    assert "no pattern solution" in note
    plans = note.split("days off per group: ")[1].split(";")[0]
    assert "patterns" not in plans


def test_a_group_that_fails_on_its_planned_days_gets_free_days(monkeypatch):
    models = _spy(monkeypatch, openwfm.schedule.phased, "assignment_model")
    real = openwfm.schedule.phased.try_solve
    calls = []

    def first_fails(build, *args, **kwargs):  # the first sub-solve builds, then finds nothing
        calls.append(1)
        if len(calls) == 1:
            build()
            return "unknown", None
        return real(build, *args, **kwargs)

    monkeypatch.setattr(openwfm.schedule.phased, "try_solve", first_fails)
    _phased(scenario(PHASED), _requirements())
    # the first group: its planned days (failed), then free days on phase 1's own options
    restricts = [args[3] for args, _, _ in models]
    patterns = [args[4] for args, _, _ in models]
    assert patterns[0] is not None and patterns[1] is None
    assert all(restricts[1][key] <= restricts[0][key] for key in restricts[1])


# One skill group of two contracts: part-timers on 4 hours (no weekly minimum) and one
# full-timer on 8 hours who must work 2,280 minutes, so five 8-hour shifts on the five open
# days; the requirement (09:00-13:00) alone asks for 4-hour shifts only. The example center's
# chat+email group (16 part-timers and Dev) is of this kind.
MIXED_CONTRACTS = (
    "contracts:\n"
    "  - {name: ft, min_minutes_per_week: 2280, max_minutes_per_week: 2400,\n"
    "     shift_lengths_min: [480]}\n"
    "  - {name: pt, min_minutes_per_week: 0, max_minutes_per_week: 1200,\n"
    "     shift_lengths_min: [240]}\n"
    "agents:\n  - {name: Dev, skills: {voice: 1}, contract: ft}\n"
    "agent_groups:\n  - {name: p, count: 4, skills: {voice: 1}, contract: pt}\n"
    "schedule:\n  shift_templates:\n"
    '    - {name: day, earliest_start: "08:00", latest_start: "10:00",\n'
    "       start_increment_min: 60, lengths_min: [240, 480]}\n"
)


def _mornings():
    return requirement("voice", {d: ("09:00", "13:00", 3) for d in range(5)})


def _kept_two_phase(result) -> None:
    """The two-phase result is the one returned: phase 2 assigned the group (no fallback)."""
    note = next(n for n in result.notes if n.startswith("phase 1"))
    assert "voice: 5 agents" in note and "none found" not in note
    assert "the one model solved instead" not in note
    dev = result.shifts[result.shifts["agent"] == "Dev"]
    assert len(dev) == 5  # his weekly minimum: five 8-hour shifts


def test_phase_one_splits_a_group_by_contract_so_its_counts_are_assignable():
    # phase 1 gives the full-timer his five 8-hour shifts (its share of the group's counts by
    # contract, within his minimum), so phase 2 takes the counts at the first attempt and
    # phase 1's bound is the optimum. With the group's summed limits alone phase 1 planned
    # 4-hour shifts only (bound 0), phase 2 found no assignment and the one model took over
    result = _phased(scenario(MIXED_CONTRACTS), _mornings(), time_limit_s=2)
    _kept_two_phase(result)
    assert result.bound == pytest.approx(result.objective)
    assert result.bound > 0


def test_counts_phase_two_cannot_take_on_their_options_get_any_option(monkeypatch):
    # a phase 1 without the split by contract (as for counts that miss an agent's rule
    # another way): the planned days and phase 1's options both fail for the full-timer,
    # then any option the contracts permit, and the two-phase result is kept
    monkeypatch.setattr(openwfm.schedule.variants, "add_contract_limits", lambda *a, **k: None)
    models = _spy(monkeypatch, openwfm.schedule.phased, "assignment_model")
    result = _phased(scenario(MIXED_CONTRACTS), _mornings(), time_limit_s=2)
    _kept_two_phase(result)
    assert [args[3] is None for args, _, _ in models][-1]  # the last attempt: any option

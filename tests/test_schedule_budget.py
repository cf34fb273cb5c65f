"""Deterministic solver budgets: the same schedule whatever the machine's speed or load."""

from __future__ import annotations

import itertools
import time

import pandas as pd
import pytest

from openwfm.schedule import check_schedule, plan_shift_counts, schedule_agents
from test_schedule import MONDAY, requirement, scenario

PHASED = (
    "contracts: [{name: ft, min_minutes_per_week: 1800, max_minutes_per_week: 2400,\n"
    "             shift_lengths_min: [480], min_consecutive_days_off: 2}]\n"
    "agent_groups:\n"
    "  - {name: v, count: 3, skills: {voice: 1}, contract: ft}\n"
    "  - {name: b, count: 2, skills: {voice: 1, chat: 1}, contract: ft}\n"
    "schedule:\n  shift_templates:\n"
    '    - {name: day, earliest_start: "07:00", latest_start: "10:00",\n'
    "       start_increment_min: 60, lengths_min: [480],\n"
    "       breaks: [{name: break, length_min: 15, earliest_after_start_min: 90,\n"
    "                 latest_after_start_min: 180}]}\n"
)


def _requirements() -> pd.DataFrame:
    voice = requirement("voice", {d: ("07:00", "18:00", 2 + d % 2) for d in range(5)})
    chat = requirement("chat", {d: ("09:00", "17:00", 1) for d in range(5)})
    return pd.concat([voice, chat], ignore_index=True)


def _fingerprint(result) -> tuple:
    shifts = result.shifts.sort_values(["agent", "date"]).reset_index(drop=True)
    activities = result.activities.sort_values(["agent", "interval_start"])
    return (
        round(result.objective, 6),
        round(result.bound, 6),
        shifts[["agent", "date", "shift_start", "shift_end"]].astype(str).to_csv(index=False),
        activities.astype(str).to_csv(index=False),
    )


@pytest.mark.parametrize("strategy", ["single", "two_phase"])
def test_deterministic_budget_gives_the_same_schedule_under_a_skewed_clock(strategy, monkeypatch):
    sc = scenario(PHASED)
    req = _requirements()
    kwargs = dict(weeks=1, time_limit_s=1, strategy=strategy, deterministic=True, seed=3)
    first = schedule_agents(sc, req, **kwargs)
    second = schedule_agents(sc, req, **kwargs)
    assert _fingerprint(first) == _fingerprint(second)
    # a machine so slow (or busy) that every reading of the wall clock is 1,000 s later: a
    # wall budget would be spent before the first solve; work is not
    ticks = itertools.count()
    real = time.perf_counter
    monkeypatch.setattr(time, "perf_counter", lambda: real() + 1000.0 * next(ticks))
    skewed = schedule_agents(sc, req, **kwargs)
    assert _fingerprint(skewed) == _fingerprint(first)


def test_slot_planning_is_deterministic_too(monkeypatch):
    req = requirement("voice", {0: ("08:00", "18:00", 4), 1: ("08:00", "18:00", 6)})
    templates = scenario(PHASED).schedule.shift_templates
    kwargs = dict(days=2, start=MONDAY, time_limit_s=3, deterministic=True)
    first = plan_shift_counts(req, templates, **kwargs)
    ticks = itertools.count()
    real = time.perf_counter
    monkeypatch.setattr(time, "perf_counter", lambda: real() + 1000.0 * next(ticks))
    again = plan_shift_counts(req, templates, **kwargs)
    assert _fingerprint(first) == _fingerprint(again)
    assert first.objective == pytest.approx(first.bound)  # a small day closes its gap


def test_construction_gives_a_schedule_where_the_search_alone_finds_none():
    # 9 agents, a tiny work budget: CP-SAT chasing coverage finds no schedule in it, the
    # construction (hard rules alone) does, and the result keeps every hard rule
    sc = scenario(PHASED.replace("count: 3,", "count: 6,").replace("count: 2,", "count: 3,"))
    result = schedule_agents(
        sc, _requirements(), weeks=1, time_limit_s=0.05, strategy="single", deterministic=True
    )
    assert len(result.shifts) > 0
    assert check_schedule(result.shifts, sc, MONDAY, 7, result.activities).query("hard").empty


def test_highs_solves_closed_at_the_root_charge_deterministic_work():
    """A HiGHS solve costs at least its root's work on a deterministic clock (nonzeros x the
    calibrated rate), so a loop of solves that close at the root (the polish) ends; the node
    share still counts when it is larger; a wall clock is not advanced."""
    from openwfm.schedule.budget import (
        HIGHS_NODES_PER_S,
        HIGHS_WORK_PER_NONZERO_S,
        clock,
        record_highs,
        use_budget,
    )

    with use_budget(True) as active:
        record_highs(10.0, 0, nonzeros=100_000)
        assert active.spent == pytest.approx(100_000 * HIGHS_WORK_PER_NONZERO_S)
        before = active.spent
        record_highs(10.0, 10 * HIGHS_NODES_PER_S, nonzeros=10)  # the whole node limit
        assert active.spent - before == pytest.approx(10.0)
    with use_budget(False) as wall:
        record_highs(10.0, 0, nonzeros=100_000)
        assert wall.spent == 0.0 and clock() is wall


_ONE_PROCESS = """
import hashlib, sys
sys.path.insert(0, {tests!r})
from openwfm.schedule import schedule_agents
from test_schedule import scenario
from test_schedule_budget import PHASED, _fingerprint, _requirements
result = schedule_agents(scenario(PHASED), _requirements(), weeks=1, time_limit_s=1,
                         strategy="two_phase", deterministic=True, seed=3)
print(hashlib.sha256(repr(_fingerprint(result)).encode()).hexdigest())
"""


def test_deterministic_schedules_agree_across_processes_hashing_strings_differently():
    # each process hashes strings with its own seed, so sets of queue names iterate in another
    # order; the model must not be built in that order (two runs of `openwfm demo
    # --deterministic` gave different shifts)
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = _ONE_PROCESS.format(tests=str(Path(__file__).parent))
    digests = set()
    for hash_seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=900
        )
        assert done.returncode == 0, done.stderr
        digests.add(done.stdout.strip())
    assert len(digests) == 1

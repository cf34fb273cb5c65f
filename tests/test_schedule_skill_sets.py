"""Scheduling against skill-set requirements: an agent counts toward every queue and pool it
can serve (hand-known optima); the coverage report has per-queue and per-pool rows."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from openwfm.errors import DataError
from openwfm.scenario import parse_scenario
from openwfm.schedule import check_schedule, schedule_agents
from openwfm.schedule.skill_sets import pool_coverage

MONDAY = dt.date(2026, 1, 5)
NINE_TO_FIVE = """
schedule:
  shift_templates:
    - {name: day, earliest_start: "09:00", latest_start: "09:00", lengths_min: [480]}
"""


def requirement(queue: str, agents: int) -> pd.DataFrame:
    """``agents`` on ``queue`` Monday 09:00-17:00, 15-minute intervals."""
    starts = pd.date_range(f"{MONDAY} 09:00", f"{MONDAY} 17:00", freq="15min", inclusive="left")
    return pd.DataFrame({"interval_start": starts, "queue": queue, "required_agents": agents})


def scenario(body: str):
    return parse_scenario("queues: [{name: voice, aht_s: 300}, {name: chat, aht_s: 400}]\n" + body)


THREE = (
    "agents: [{name: x, skills: {voice: 1}}, {name: y, skills: {chat: 1}},\n"
    "         {name: z, skills: {voice: 1, chat: 1}}]\n" + NINE_TO_FIVE
)


def _per_queue(voice: int, chat: int) -> pd.DataFrame:
    return pd.concat(
        [
            requirement("voice", voice),
            requirement("chat", chat),
        ],
        ignore_index=True,
    )


def _pool(agents: int) -> pd.DataFrame:
    return requirement("voice+chat", agents).rename(columns={"queue": "pool"})


def _solve(sc, per_queue, pools=None):
    return schedule_agents(
        sc,
        per_queue,
        weeks=1,
        time_limit_s=10,
        deterministic=True,
        strategy="single",
        weighting="linear",
        pool_requirements=pools,
    )


def test_a_blended_agent_counts_toward_both_queues_and_their_pool():
    sc = scenario(THREE)
    # each queue alone needs 2, the pool of both 3: the three agents meet every constraint
    pooled = _solve(sc, _per_queue(2, 2), _pool(3))
    assert pooled.objective == pytest.approx(0.0)
    assert len(pooled.shifts) == 3
    pools = pool_coverage(pooled.coverage)
    assert set(pools["pool"]) == {"voice+chat"}
    assert (pools["scheduled"] == 3).all() and (pools["under"] == 0).all()
    queues = pooled.coverage[pooled.coverage["queue"].isin(["voice", "chat"])]
    assert (queues["scheduled"] == 2).all()
    assert check_schedule(pooled.shifts, sc, MONDAY, 7, pooled.activities).empty
    # today's model: z counts toward one queue, so one queue is one agent short all day
    today = _solve(sc, _per_queue(2, 2))
    assert today.objective == pytest.approx(32.0)  # 32 quarter-hours x 1 missing agent


def test_the_pool_constraint_picks_the_cheapest_mix():
    sc = scenario(THREE)
    # each queue 1, the pool 2: two agents who cover both queues; a third is surplus, priced
    # once (on the pool, the widest set: z on voice, chat and the pool is one agent too many)
    result = _solve(sc, _per_queue(1, 1), _pool(2))
    assert result.objective == pytest.approx(0.0)
    assert len(result.shifts) == 2
    assert (result.coverage["under"] == 0).all()
    every = _solve(sc, _per_queue(1, 1), _pool(3))  # the pool wants all three
    assert len(every.shifts) == 3 and every.objective == pytest.approx(0.0)


def test_a_pool_of_an_unknown_queue_is_a_data_error():
    sc = scenario(THREE)
    bad = requirement("voice+email", 1).rename(columns={"queue": "pool"})
    with pytest.raises(DataError, match="email"):
        _solve(sc, _per_queue(1, 1), bad)

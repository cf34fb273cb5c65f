"""Re-planning: on a day 20% above forecast the accepted proposals raise the simulated service
level of the rest of the day, and every proposal passes the schedule's rule checker."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from openwfm.errors import DataError
from openwfm.intraday import accept_proposals, replan, scheduled_activities
from openwfm.scenario import parse_scenario
from openwfm.schedule.check import check_schedule

DAY = dt.date(2024, 3, 4)
AS_OF = pd.Timestamp("2024-03-04 11:00")
SCENARIO = """
grid: {interval_minutes: 15, opening_hours: {mon: {open: "08:00", close: "20:00"}}}
queues:
  - {name: voice, aht_s: 300, patience_s: 600, target: {service_level: 0.8, within_s: 20}}
contracts:
  - {name: ft, max_minutes_per_week: 3000, shift_lengths_min: [360, 480, 540, 600],
     min_rest_between_shifts_min: 660}
agent_groups:
  - {name: early, count: 14, skills: {voice: 1}, contract: ft}
  - {name: late, count: 14, skills: {voice: 1}, contract: ft}
schedule:
  shift_templates:
    - {name: day, earliest_start: "08:00", latest_start: "10:00", start_increment_min: 60,
       lengths_min: [360, 480, 540, 600],
       breaks: [{name: lunch, length_min: 30, earliest_after_start_min: 150,
                 latest_after_start_min: 330, paid: false}]}
"""


def scenario():
    return parse_scenario(SCENARIO)


def shifts() -> pd.DataFrame:
    rows = []
    for group, begin in (("early", 8), ("late", 10)):
        for i in range(1, 15):
            start = pd.Timestamp(DAY) + pd.Timedelta(hours=begin)
            lunch = start + pd.Timedelta(minutes=180)  # every lunch at the same time
            rows.append(
                {
                    "agent": f"{group}-{i}",
                    "team": group,
                    "contract": "ft",
                    "date": DAY,
                    "shift_type": "day",
                    "shift_start": start,
                    "shift_end": start + pd.Timedelta(hours=8),
                    "paid_minutes": 450,
                    "breaks": f"{lunch:%H:%M}-{lunch + pd.Timedelta(minutes=30):%H:%M} lunch",
                }
            )
    return pd.DataFrame(rows)


def forecast(factor: float = 1.0) -> pd.DataFrame:
    starts = pd.date_range(f"{DAY} 08:00", f"{DAY} 19:00", freq="15min", inclusive="left")
    hour = starts.hour + starts.minute / 60
    volume = np.where(hour < 10, 28, np.where(hour < 18, 45, 20)) * factor
    return pd.DataFrame(
        {"interval_start": starts, "queue": "voice", "forecast": volume, "forecast_updated": volume}
    )


def simulated_rest_of_day_sl(sc, shift_table: pd.DataFrame, seed: int = 3) -> float:
    from openwfm.sim import simulate

    plan = scheduled_activities(shifts=shift_table).rename(columns={"agent_id": "agent"})
    rates = forecast(1.2)[["interval_start", "queue"]].assign(
        arrival_rate_per_s=forecast(1.2)["forecast"] / 900.0
    )
    result = simulate(
        sc,
        rates=rates,
        schedule=plan,
        start=DAY,
        days=1,
        replications=8,
        seed=seed,
        scheduler="sync",
        warmup_s=(AS_OF - pd.Timestamp(DAY)).total_seconds(),
    )
    return float(result.metric("service_level", "voice", "all")[0])


def test_checker_accepts_the_base_schedule():
    assert check_schedule(shifts(), scenario(), DAY, 1).query("hard").empty


def test_accepted_proposals_raise_the_simulated_service_level():
    sc = scenario()
    base = shifts()
    result = replan(base, sc, forecast(1.2), as_of=AS_OF)
    kinds = set(result.proposals["kind"])
    assert "break_move" in kinds and "overtime" in kinds
    assert result.sl_all_accepted > result.sl_before
    # every proposal passes the checker alone, on the base schedule
    for pid in result.proposals["proposal_id"]:
        alone = accept_proposals(base, result.proposals, [pid], sc)
        assert check_schedule(alone, sc, DAY, 1).query("hard").empty
    new = accept_proposals(base, result.proposals, None, sc)
    assert check_schedule(new, sc, DAY, 1).query("hard").empty
    assert (new["version"] == 2).all() and "version" not in base.columns  # old one kept
    # the past is fixed: nothing that happened before 11:00 changed
    before = scheduled_activities(shifts=base)
    after = scheduled_activities(shifts=new)
    clip = lambda t: t[t["start"] < AS_OF].assign(end=t["end"].clip(upper=AS_OF))  # noqa: E731
    pd.testing.assert_frame_equal(
        clip(before).reset_index(drop=True), clip(after).reset_index(drop=True)
    )
    table = result.intervals
    assert table["agents_after"].sum() > table["agents_before"].sum()
    weights = table["forecast"]
    assert (weights * table["projected_sl_after"]).sum() / weights.sum() == pytest.approx(
        result.sl_all_accepted
    )
    # projected SL is reported per proposal and rises along the list
    assert (
        result.proposals["projected_sl_after"] >= result.proposals["projected_sl_before"] - 1e-12
    ).all()
    sim_before = simulated_rest_of_day_sl(sc, base)
    sim_after = simulated_rest_of_day_sl(sc, new)
    assert sim_after > sim_before + 0.02


def test_overtime_respects_the_contract_maximum():
    sc = parse_scenario(SCENARIO.replace("max_minutes_per_week: 3000", "max_minutes_per_week: 450"))
    result = replan(shifts(), sc, forecast(1.2), as_of=AS_OF)
    assert "overtime" not in set(result.proposals["kind"])
    assert result.rejected > 0  # the checker turned them down


def test_overstaffed_day_offers_voluntary_time_off():
    sc = scenario()
    result = replan(shifts(), sc, forecast(0.5), as_of=AS_OF)
    vto = result.proposals[result.proposals["kind"] == "vto"]
    assert len(vto) > 0
    assert (vto["paid_minutes_change"] < 0).all()
    assert (pd.to_datetime(vto["shift_end"]) >= AS_OF).all()
    new = accept_proposals(shifts(), result.proposals, list(vto["proposal_id"]), sc)
    assert check_schedule(new, sc, DAY, 1).query("hard").empty


def test_unknown_proposal_id_is_an_error():
    sc = scenario()
    result = replan(shifts(), sc, forecast(1.2), as_of=AS_OF)
    with pytest.raises(DataError, match="unknown proposal 'nope'"):
        accept_proposals(shifts(), result.proposals, ["nope"], sc)


def test_overtime_respects_the_rest_before_tomorrows_shift():
    sc = parse_scenario(
        SCENARIO.replace("min_rest_between_shifts_min: 660", "min_rest_between_shifts_min: 930")
    )
    today = shifts()
    tomorrow = today.copy()
    for column in ("shift_start", "shift_end"):
        tomorrow[column] = tomorrow[column] + pd.Timedelta(days=1)
    tomorrow["date"] = DAY + dt.timedelta(days=1)
    tomorrow["breaks"] = today["breaks"]
    two_days = pd.concat([today, tomorrow], ignore_index=True)
    assert check_schedule(two_days, sc, DAY, 2).query("hard").empty  # 16 h of rest
    result = replan(two_days, sc, forecast(1.2), as_of=AS_OF)
    assert "overtime" not in set(result.proposals["kind"])  # +60 min leaves 15 h < 15.5 h
    assert result.rejected > 0
    new = accept_proposals(two_days, result.proposals, None, sc)
    assert check_schedule(new, sc, DAY, 2).query("hard").empty


def test_agents_off_today_can_be_called_in():
    sc = parse_scenario(
        SCENARIO.replace(
            "  - {name: late, count: 14, skills: {voice: 1}, contract: ft}\n",
            "  - {name: late, count: 14, skills: {voice: 1}, contract: ft}\n"
            "  - {name: spare, count: 3, skills: {voice: 1}, contract: ft}\n",
        )
        .replace(
            "schedule:\n  shift_templates:\n",
            "schedule:\n  shift_templates:\n"
            '    - {name: relief, earliest_start: "11:00", latest_start: "14:00", '
            "start_increment_min: 60, lengths_min: [360],\n"
            "       breaks: [{name: break, length_min: 15, earliest_after_start_min: 120, "
            "latest_after_start_min: 180}]}\n",
        )
        .replace("shift_lengths_min: [360, 480, 540, 600]", "shift_lengths_min: [360, 480]")
    )
    base = shifts()  # nobody can stay longer: only calling agents in adds hours
    result = replan(base, sc, forecast(1.4), as_of=AS_OF, max_overtime=30)
    called = result.proposals[result.proposals["kind"] == "call_in"]
    assert len(called) > 0 and set(called["agent"]) <= {"spare-1", "spare-2", "spare-3"}
    assert (pd.to_datetime(called["shift_start"]) >= AS_OF).all()
    new = accept_proposals(base, result.proposals, None, sc)
    assert check_schedule(new, sc, DAY, 1).query("hard").empty
    assert len(new) == len(base) + len(called)
    assert set(new["agent"]) >= set(called["agent"])


def test_a_proposal_building_on_a_call_in_needs_it():
    proposals = pd.DataFrame(
        [
            {
                "proposal_id": "p1",
                "kind": "overtime",
                "agent": "early-1",
                "breaks": "",
                "shift_start": pd.Timestamp("2024-03-05 08:00"),
                "shift_end": pd.Timestamp("2024-03-05 17:00"),
                "paid_minutes": 510,
            }
        ]
    )
    with pytest.raises(DataError, match="p1 changes a shift of early-1"):
        accept_proposals(shifts(), proposals, ["p1"], scenario())

"""The Anonymous Bank as a capacity case: roster from the 1999 records (first and last day of
each agent), weekly forecast from the first half year, a plan for the second half compared
with the agents who really worked each week."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from conftest import PROJECT_ROOT
from openwfm.capacity.case import case_summary, plan_from_records
from openwfm.capacity.roster import roster_from_interactions, weekly_attrition_rate
from openwfm.scenario import load_scenario

AS_OF = dt.date(1999, 7, 4)  # a Sunday: the bank's weeks start on Sunday


@pytest.fixture(scope="module")
def bank_calls(request) -> pd.DataFrame:
    from conftest import require_shared_data
    from openwfm.data.readers import read_anonymous_bank

    raw = require_shared_data("anonymous-bank/raw")
    return pd.concat(
        [read_anonymous_bank(path) for path in sorted(raw.glob("*.txt"))], ignore_index=True
    )


@pytest.mark.slow
def test_roster_from_first_and_last_days(bank_calls):
    roster = roster_from_interactions(bank_calls, as_of=AS_OF).set_index("agent")
    # the reader maps the May/June NO_SERVERAMA / ANO_SERVERT back to NAAMA / ANAT
    assert not any("NO_SERVER" in agent for agent in roster.index)
    assert roster.loc["MICHAL", "exit_date"] == pd.Timestamp("1999-02-12")
    assert roster.loc["IDIT", "exit_date"] == pd.Timestamp("1999-04-28")
    assert pd.isna(roster.loc["NAAMA", "exit_date"])
    assert "GOLDIE" not in roster.index  # first seen after the plan starts
    first_day = bank_calls.dropna(subset=["agent"]).groupby("agent")["arrival_time"].min()
    assert roster.loc["STEREN", "hire_date"] == first_day["STEREN"].normalize()
    rate = weekly_attrition_rate(roster.reset_index(), dt.date(1999, 1, 1), AS_OF)
    exits = roster["exit_date"].notna().sum()
    assert 0 < rate < exits / (len(roster) * 20)  # exposure is at least 20 weeks a head


@pytest.mark.slow
def test_second_half_plan_against_the_agents_who_worked(bank_calls):
    scenario = load_scenario(PROJECT_ROOT / "examples" / "anonymous-bank.yaml")
    case = plan_from_records(bank_calls, scenario, AS_OF, weeks=17, country="IL")
    weeks = case.weeks
    assert case.forecast_method.startswith("openwfm LongTermForecaster")
    assert len(weeks) == 17 and weeks["week_start"].iloc[0] == pd.Timestamp(AS_OF)
    active = case.roster["exit_date"].isna().sum()
    assert weeks["planned_heads"].iloc[0] == pytest.approx(active)
    # agents who worked: an independent count over a full week with records
    week = pd.Timestamp("1999-09-05")
    inside = bank_calls["arrival_time"].between(week, week + pd.Timedelta(days=7), inclusive="left")
    worked = bank_calls.loc[inside, "agent"].dropna().nunique()
    assert weeks.set_index("week_start").loc[week, "agents_worked"] == worked
    # August is missing from the records: no actuals, but still planned
    august = weeks["week_start"].dt.month == 8
    assert weeks.loc[august, "agents_worked"].isna().all()
    assert weeks.loc[august, "required_heads"].gt(0).all()
    summary = case_summary(case)
    assert summary["weeks_with_records"] >= 10
    assert summary["forecast_wape"] < 0.3
    assert summary["heads_mape"] < 0.35
    assert np.isfinite(case.hours_per_head) and case.hours_per_head > 0

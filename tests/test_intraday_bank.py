"""The intraday desk on a real day (Anonymous Bank, March 1999): figures agree with the KPIs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import require_shared_data
from openwfm.data.intervals import interval_kpis
from openwfm.data.readers import read_anonymous_bank
from openwfm.intraday import outlook
from openwfm.model import Scenario

DAY = pd.Timestamp("1999-03-10")


@pytest.fixture(scope="module")
def march() -> pd.DataFrame:
    calls = read_anonymous_bank(require_shared_data("anonymous-bank/raw/03_March.txt"))
    offered = calls[calls["outcome"].isin(["answered", "abandoned"])].copy()
    offered["queue"] = "calls"
    return offered


def scenario() -> Scenario:
    return Scenario.model_validate(
        {
            "grid": {"interval_minutes": 60},
            "queues": [
                {
                    "name": "calls",
                    "aht_s": 180,
                    "patience_s": 400,
                    "target": {"service_level": 0.8, "within_s": 60},
                }
            ],
        }
    )


def forecast() -> pd.DataFrame:
    starts = [DAY + pd.Timedelta(hours=h) for h in range(24)]
    return pd.DataFrame({"interval_start": starts, "queue": "calls", "forecast": 50.0})


def test_service_level_so_far_at_midnight_equals_the_days_kpi(march):
    agents = forecast()[["interval_start", "queue"]].assign(agents=5.0)
    end = DAY + pd.Timedelta(hours=23, minutes=59, seconds=59)
    view = outlook(forecast(), march, agents, scenario(), as_of=end, interval_minutes=60)
    today = march[march["arrival_time"].dt.normalize() == DAY]
    # every call of the day is settled by then (the last one arrived well before midnight)
    settled = today["answer_time"].fillna(today["abandon_time"]) <= end
    assert settled.all()
    kpis = interval_kpis(today, interval_minutes=60, target_s=60.0)
    expected = kpis["answered_within_target"].sum() / kpis["offered"].sum()
    row = view.queues.iloc[0]
    assert row["offered_so_far"] == kpis["offered"].sum()
    assert row["abandoned_so_far"] == kpis["abandoned"].sum()
    assert row["sl_so_far"] == pytest.approx(expected)


def test_midday_outlook_sees_only_the_morning(march):
    agents = forecast()[["interval_start", "queue"]].assign(agents=5.0)
    as_of = DAY + pd.Timedelta(hours=12)
    view = outlook(forecast(), march, agents, scenario(), as_of=as_of, interval_minutes=60)
    row = view.queues.iloc[0]
    today = march[march["arrival_time"].dt.normalize() == DAY]
    morning = today[today["arrival_time"] < as_of]
    settled = morning["answer_time"].fillna(morning["abandon_time"]) <= as_of
    overdue = ~settled & ((as_of - morning["arrival_time"]).dt.total_seconds() > 60)
    assert row["offered_so_far"] == int(settled.sum() + overdue.sum())
    assert row["waiting_now"] == int((~settled).sum())
    rest = view.intervals[~view.intervals["past"]]
    assert rest["interval_start"].min() == as_of
    assert np.isfinite(rest["projected_service_level"]).all()
    # the shrunk ratio by hand: 12 hours of 50 forecast against the calls that arrived
    ratio = len(morning) / 600.0
    weight = 600.0 / (600.0 + 150.0)
    assert rest["forecast_updated"].to_numpy() == pytest.approx(50 * (1 + weight * (ratio - 1)))

"""Alerts: a day 30% above forecast is flagged by 09:30, before its service level drops."""

from __future__ import annotations

import heapq

import numpy as np
import pandas as pd
import pytest

from openwfm.intraday import AlertRule, evaluate_alerts, outlook
from openwfm.queueing import required_agents
from openwfm.scenario import parse_scenario

DAY = pd.Timestamp("2024-03-04")
SCENARIO = """
queues:
  - {name: voice, aht_s: 300, patience_s: 600, target: {service_level: 0.8, within_s: 20}}
"""
FORECAST_PER_15 = 100.0


def at(clock: str) -> pd.Timestamp:
    return pd.Timestamp(f"{DAY.date()} {clock}")


def fcfs_day(rate_per_s: float, agents: int, seed: int) -> pd.DataFrame:
    """An exact FCFS M/M/n+M day 09:00-17:00 (exponential handle 300 s, patience 600 s)."""
    rng = np.random.default_rng(seed)
    n = rng.poisson(rate_per_s * 8 * 3600)
    arrival_s = np.sort(rng.uniform(0, 8 * 3600, n))
    handle = rng.exponential(300.0, n)
    patience = rng.exponential(600.0, n)
    free = [0.0] * agents
    rows = []
    for i, t in enumerate(arrival_s):
        earliest = heapq.heappop(free)
        start = max(t, earliest)
        arrival = at("09:00") + pd.Timedelta(seconds=float(t))
        if start - t > patience[i]:
            heapq.heappush(free, earliest)
            rows.append((arrival, patience[i], 0.0, "abandoned"))
        else:
            heapq.heappush(free, start + handle[i])
            rows.append((arrival, start - t, handle[i], "answered"))
    frame = pd.DataFrame(rows, columns=["arrival_time", "wait_s", "handle_s", "outcome"])
    waited = pd.to_timedelta(frame["wait_s"], unit="s")
    answered = frame["outcome"] == "answered"
    frame["answer_time"] = (frame["arrival_time"] + waited).where(answered)
    frame["end_time"] = frame["answer_time"] + pd.to_timedelta(frame["handle_s"], unit="s")
    frame["abandon_time"] = (frame["arrival_time"] + waited).where(~answered)
    frame["queue"] = "voice"
    return frame


def forecast() -> pd.DataFrame:
    starts = pd.date_range(at("09:00"), at("17:00"), freq="15min", inclusive="left")
    return pd.DataFrame({"interval_start": starts, "queue": "voice", "forecast": FORECAST_PER_15})


def planned_agents() -> int:
    return int(required_agents(FORECAST_PER_15 / 900, 300.0, 20.0, 0.8, patience_s=600.0))


def run_day(load_factor: float, seed: int = 7):
    sc = parse_scenario(SCENARIO)
    n = planned_agents()
    day = fcfs_day(load_factor * FORECAST_PER_15 / 900, n, seed)
    agents = forecast()[["interval_start", "queue"]].assign(agents=float(n))
    rules = [
        AlertRule(
            name="projected-sl",
            metric="projected_service_level",
            look_ahead_s=3600,
            cooldown_s=1800,
        )
    ]
    log = pd.DataFrame()
    first_alert, first_breach = None, None
    for as_of in pd.date_range(at("09:05"), at("12:00"), freq="5min"):
        view = outlook(forecast(), day, agents, sc, as_of=as_of, interval_minutes=15)
        new = evaluate_alerts(rules, as_of, outlook=view, log=log if len(log) else None)
        log = pd.concat([log, new], ignore_index=True) if len(new) else log
        if len(new) and first_alert is None:
            first_alert = as_of
        sl = view.queues["sl_so_far"].iloc[0]
        if first_breach is None and sl < 0.8:
            first_breach = as_of
        if first_breach is not None and len(log) >= 2:
            break  # everything the tests look at is known
    return first_alert, first_breach, log


def test_a_day_30_percent_above_forecast_alerts_by_0930_before_sl_so_far_drops():
    first_alert, first_breach, log = run_day(1.3)
    assert first_alert is not None and first_alert <= at("09:30")
    assert first_breach is not None  # the day does go wrong ...
    assert first_alert < first_breach  # ... but the alert came first
    # cool-down: never two alerts of the rule within 30 minutes
    times = pd.to_datetime(log["ts"]).sort_values()
    assert (times.diff().dropna() >= pd.Timedelta(minutes=30)).all()
    assert len(log) >= 2  # and it fires again once the cool-down is over


def test_a_day_on_forecast_raises_no_projected_sl_alert():
    first_alert, _, _ = run_day(1.0)
    assert first_alert is None


def test_long_hold_alert_and_events():
    sc = parse_scenario(SCENARIO)
    day = fcfs_day(1.6 * FORECAST_PER_15 / 900, planned_agents(), 3)
    agents = forecast()[["interval_start", "queue"]].assign(agents=float(planned_agents()))
    view = outlook(forecast(), day, agents, sc, as_of=at("11:00"), interval_minutes=15)
    events = []
    rule = AlertRule(name="long-hold", metric="longest_wait_s", threshold=60)
    alerts = evaluate_alerts([rule], at("11:00"), outlook=view, emit=events.append)
    assert len(alerts) == 1 and alerts["value"].iloc[0] == pytest.approx(
        view.queues["longest_wait_s"].iloc[0]
    )
    assert events[0]["type"] == "intraday.alert" and events[0]["data"]["subject"] == "voice"
    again = evaluate_alerts([rule], at("11:05"), outlook=view, log=alerts)
    assert again.empty  # cool-down


def test_adherence_and_backlog_alerts():
    now_view = pd.DataFrame(
        {"agent_id": ["a", "b"], "out_for_s": [900.0, 120.0], "alarm": [True, True]}
    )
    backlog = pd.DataFrame(
        {"queue": ["email", "email"], "due": [at("10:30"), at("15:00")], "open_items": [12, 40]}
    )
    rules = [
        AlertRule(name="adh", metric="out_of_adherence_s", threshold=600),
        AlertRule(name="backlog", metric="backlog_due", threshold=10, look_ahead_s=3600),
    ]
    alerts = evaluate_alerts(rules, at("10:00"), now_view=now_view, backlog=backlog)
    assert sorted(zip(alerts["rule"], alerts["subject"], alerts["value"], strict=True)) == [
        ("adh", "a", 900.0),
        ("backlog", "email", 12.0),
    ]


def test_alerts_leave_through_the_live_routers_event_stream(tmp_path):
    from openwfm.intraday import publish_alerts
    from router_support import Api, client_for, make_router

    now_view = pd.DataFrame({"agent_id": ["bob"], "out_for_s": [900.0], "alarm": [True]})
    alerts = evaluate_alerts(
        [AlertRule(name="adh", metric="out_of_adherence_s", threshold=600)],
        at("10:00"),
        now_view=now_view,
    )
    router = make_router(tmp_path)
    with client_for(router) as client:  # the app sets the router's store up
        assert publish_alerts(router, "tiny", alerts) == 1
        events = Api(client).events()
    (event,) = [e for e in events if e["type"] == "intraday.alert"]
    assert event["agent_id"] == "bob"
    assert event["data"]["rule"] == "adh" and event["data"]["value"] == 900.0


def test_alert_rules_file_errors_name_file_line_and_field(tmp_path):
    from openwfm.errors import DataError
    from openwfm.intraday.commands import load_alert_rules

    path = tmp_path / "rules.yaml"
    path.write_text("- {name: hold, metric: longest_wait_s, threshold: 120}\n")
    assert [rule.threshold for rule in load_alert_rules(path)] == [120]
    path.write_text("rules:\n  - {name: hold, metric: longest_wait_s, threshold: 120\n")
    with pytest.raises(DataError, match=r"rules.yaml:3: not valid YAML"):
        load_alert_rules(path)
    path.write_text("rules:\n  - {name: hold, metric: longest_wait_s}\n  - {name: x, metric: y}\n")
    with pytest.raises(DataError, match=r"rules.yaml:3: rules\[1\]\.metric: .*\(got 'y'\)"):
        load_alert_rules(path)
    with pytest.raises(DataError, match=r"missing.yaml: alert rules file not found"):
        load_alert_rules(tmp_path / "missing.yaml")

"""Rest-of-day outlook: ratio update, agents on line, the queue now, projections by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from openwfm.intraday import (
    agents_on_line,
    check_state_events,
    estimated_wait_s,
    outlook,
    update_forecast,
)
from openwfm.queueing import erlang_a
from openwfm.scenario import parse_scenario

DAY = pd.Timestamp("2024-03-04")
SCENARIO = """
queues:
  - {name: voice, aht_s: 300, patience_s: 600, target: {service_level: 0.8, within_s: 20}}
  - {name: chat, aht_s: 600, target: {service_level: 0.8, within_s: 60}}
agents:
  - {name: a, skills: {voice: 1}}
  - {name: b, skills: {voice: 1, chat: 1}}
  - {name: c, skills: {voice: 1}}
"""


def scenario():
    return parse_scenario(SCENARIO)


def at(clock: str) -> pd.Timestamp:
    return pd.Timestamp(f"{DAY.date()} {clock}")


def flat_forecast(per_interval: float, queues=("voice",)) -> pd.DataFrame:
    starts = pd.date_range(at("09:00"), at("17:00"), freq="15min", inclusive="left")
    return pd.concat(
        [
            pd.DataFrame({"interval_start": starts, "queue": q, "forecast": per_interval})
            for q in queues
        ],
        ignore_index=True,
    )


def contacts(rows) -> pd.DataFrame:
    """rows: (queue, arrival, wait_s, handle_s, outcome)."""
    records = []
    for i, (queue, arrival, wait, handle, outcome) in enumerate(rows):
        arrival = pd.Timestamp(arrival)
        answered = outcome == "answered"
        records.append(
            {
                "interaction_id": str(i),
                "queue": queue,
                "channel": "voice",
                "segment": "default",
                "arrival_time": arrival,
                "answer_time": arrival + pd.Timedelta(seconds=wait) if answered else pd.NaT,
                "end_time": arrival + pd.Timedelta(seconds=wait + handle) if answered else pd.NaT,
                "abandon_time": arrival + pd.Timedelta(seconds=wait) if not answered else pd.NaT,
                "wait_s": float(wait),
                "handle_s": float(handle if answered else 0),
                "agent": "x",
                "outcome": outcome,
                "source": "test",
            }
        )
    return pd.DataFrame(records)


def busy_morning(per_interval: int) -> pd.DataFrame:
    rows = []
    for start in pd.date_range(at("09:00"), at("10:00"), freq="15min", inclusive="left"):
        for k in range(per_interval):
            rows.append(
                ("voice", start + pd.Timedelta(seconds=900 * k / per_interval), 5, 300, "answered")
            )
    return contacts(rows)


def test_ratio_update_by_hand():
    # forecast 100 per 15 min, 130 arrived in each of 09:00-10:00: r = 1.3 over 400 forecast,
    # w = 400 / (400 + k), the future is scaled by 1 + w (r - 1)
    day = update_forecast(
        flat_forecast(100),
        busy_morning(130),
        at("10:00"),
        interval_minutes=15,
        prior_contacts=50,
    )
    rows = day.set_index("interval_start")
    factor = 1 + 400 / 450 * 0.3
    assert rows.loc[at("10:00"), "forecast_updated"] == pytest.approx(100 * factor)
    assert rows.loc[at("16:45"), "forecast_updated"] == pytest.approx(100 * factor)
    assert rows.loc[at("09:45"), "forecast_updated"] == 100  # the past is not rewritten
    assert rows.loc[at("10:00"), "ratio"] == pytest.approx(factor)
    # the forecast stage's default pseudo-count, and its other methods behind the same call
    default = update_forecast(
        flat_forecast(100), busy_morning(130), at("10:00"), interval_minutes=15
    ).set_index("interval_start")
    assert default.loc[at("10:00"), "ratio"] == pytest.approx(1 + 400 / 550 * 0.3)
    plain = update_forecast(
        flat_forecast(100), busy_morning(130), at("10:00"), interval_minutes=15, method="ratio"
    ).set_index("interval_start")
    assert plain.loc[at("10:00"), "forecast_updated"] == pytest.approx(130)


def test_estimated_wait_of_a_new_contact_by_hand():
    # 10 agents, all busy, 3 waiting, AHT 300 s, no abandonment: 4 departures at 1/30 s
    assert estimated_wait_s(3, 10, 10, 300.0, None) == pytest.approx(120.0)
    # with patience 600 s the queue ahead also shrinks by abandonment
    expected = sum(1 / (10 / 300 + i / 600) for i in range(4))
    assert estimated_wait_s(3, 10, 10, 300.0, 600.0) == pytest.approx(expected)
    assert estimated_wait_s(0, 7, 10, 300.0, None) == 0.0  # a free agent
    assert estimated_wait_s(0, 0, 0, 300.0, None) == float("inf")


def test_agents_on_line_time_weighted_split_and_absent_agents():
    schedule = pd.DataFrame(
        [
            {"agent_id": "a", "start": at("09:00"), "end": at("12:00"), "activity": "work"},
            {"agent_id": "b", "start": at("09:00"), "end": at("12:00"), "activity": "work"},
            {"agent_id": "c", "start": at("09:07:30"), "end": at("12:00"), "activity": "voice"},
        ]
    )
    table = agents_on_line(
        schedule,
        scenario(),
        start=at("09:00"),
        end=at("12:00"),
        interval_minutes=15,
        absent={"a"},
        as_of=at("10:00"),
    )
    voice = table[table["queue"] == "voice"].set_index("interval_start")["agents"]
    chat = table[table["queue"] == "chat"].set_index("interval_start")["agents"]
    assert voice[at("09:00")] == pytest.approx(1 + 0.5 + 0.5)  # a, half of b, half of c
    assert voice[at("09:15")] == pytest.approx(2.5)
    assert voice[at("10:00")] == pytest.approx(1.5)  # a logged out: gone for the day
    assert chat[at("10:00")] == pytest.approx(0.5)


def test_outlook_queue_now_and_projection():
    sc = scenario()
    morning = busy_morning(100)
    late = contacts(
        [
            ("voice", at("09:58"), 300, 300, "answered"),  # answered 10:03: still waiting at 10:00
            ("voice", at("09:59"), 30, 300, "abandoned"),  # abandons 09:59:30
            ("voice", at("09:59:30"), 60, 300, "answered"),
        ]
    )
    log = pd.concat([morning, late], ignore_index=True)
    agents = pd.DataFrame(
        {"interval_start": flat_forecast(1)["interval_start"], "queue": "voice", "agents": 40.0}
    )
    result = outlook(flat_forecast(100), log, agents, sc, as_of=at("10:00"), interval_minutes=15)
    voice = result.queues.set_index("queue").loc["voice"]
    assert voice["waiting_now"] == 2
    assert voice["longest_wait_s"] == 120
    assert voice["abandoned_so_far"] == 1
    # the 400 morning calls waited 5 s; the abandon and both calls already waiting longer
    # than the 20 s target (120 s and 30 s) miss it
    assert voice["offered_so_far"] == 403
    assert voice["sl_so_far"] == pytest.approx(400 / 403)
    rest = result.intervals[(result.intervals["queue"] == "voice") & ~result.intervals["past"]]
    assert rest["interval_start"].min() == at("10:00")
    lam = rest["forecast_updated"].iloc[0] / 900
    expected = erlang_a(lam, 300.0, 600.0, 40.0, 20.0).service_level
    assert rest["projected_service_level"].iloc[0] == pytest.approx(float(expected))
    assert result.intervals.loc[result.intervals["past"], "projected_service_level"].isna().all()
    # fewer agents can only lower the projection
    fewer = outlook(
        flat_forecast(100),
        log,
        agents.assign(agents=34.0),
        sc,
        as_of=at("10:00"),
        interval_minutes=15,
    )
    assert (
        fewer.queues["projected_rest_service_level"].iloc[0] < voice["projected_rest_service_level"]
    )


def test_outlook_ignores_what_happens_after_as_of():
    sc = scenario()
    agents = pd.DataFrame(
        {"interval_start": flat_forecast(1)["interval_start"], "queue": "voice", "agents": 40.0}
    )
    log = busy_morning(100)
    later = contacts([("voice", at("11:00"), 500, 300, "answered")])
    a = outlook(flat_forecast(100), log, agents, sc, as_of=at("10:00"), interval_minutes=15)
    b = outlook(
        flat_forecast(100),
        pd.concat([log, later]),
        agents,
        sc,
        as_of=at("10:00"),
        interval_minutes=15,
    )
    pd.testing.assert_frame_equal(a.queues, b.queues)


def test_absent_now_from_state_events():
    from openwfm.intraday.rest_of_day import absent_now

    feed = check_state_events(
        pd.DataFrame(
            [
                {"agent_id": "a", "ts": at("09:00"), "state": "available"},
                {"agent_id": "a", "ts": at("09:40"), "state": "logged_out"},
                {"agent_id": "b", "ts": at("09:00"), "state": "available"},
            ]
        )
    ).events
    assert absent_now(feed, at("10:00")) == {"a"}
    assert absent_now(feed, at("09:30")) == set()
    assert np.isfinite(1.0)


def test_simulated_outlook_for_a_multi_skill_center():
    from openwfm.intraday import simulate_rest_of_day

    sc = parse_scenario(
        SCENARIO.replace(
            "agents:\n  - {name: a, skills: {voice: 1}}\n"
            "  - {name: b, skills: {voice: 1, chat: 1}}\n"
            "  - {name: c, skills: {voice: 1}}\n",
            "agent_groups:\n  - {name: v, count: 12, skills: {voice: 1}}\n"
            "  - {name: m, count: 6, skills: {voice: 1, chat: 1}}\n",
        )
    )
    plan = pd.DataFrame(
        [
            {"agent_id": f"{g}-{i}", "start": at("09:00"), "end": at("13:00"), "activity": "work"}
            for g, n in (("v", 12), ("m", 6))
            for i in range(1, n + 1)
        ]
    )
    day = pd.concat([flat_forecast(30, ("voice",)), flat_forecast(8, ("chat",))])
    day = day[day["interval_start"] < at("13:00")].assign(forecast_updated=lambda f: f["forecast"])
    full = simulate_rest_of_day(
        sc, day, plan, as_of=at("10:00"), replications=4, seed=1, scheduler="sync"
    )
    assert set(full["queue"]) == {"voice", "chat"}
    assert full["interval_start"].min() == at("10:00")
    short = simulate_rest_of_day(
        sc,
        day,
        plan,
        as_of=at("10:00"),
        replications=4,
        seed=1,
        scheduler="sync",
        absent={f"m-{i}" for i in range(1, 7)},
    )
    # without the multi-skilled agents chat is not served at all and voice gets worse
    mean = lambda t, q: t.loc[t["queue"] == q, "simulated_service_level"].mean()  # noqa: E731
    assert mean(short, "voice") < mean(full, "voice")
    assert mean(short, "chat") < 0.2 < mean(full, "chat")


def test_outlook_with_a_fitted_forecaster_uses_its_update():
    from openwfm.forecast import Forecaster

    rng = np.random.default_rng(0)
    days = pd.date_range("2024-01-01", "2024-03-03", freq="D")
    starts = [d + pd.Timedelta(minutes=15 * k) for d in days for k in range(36, 68)]
    history = pd.DataFrame(
        {
            "interval_start": starts,
            "queue": "voice",
            "offered": rng.poisson(100, len(starts)).astype(float),
        }
    )
    forecaster = Forecaster(method="classic").fit(history)
    forecast = forecaster.predict(1)
    day = update_forecast(
        forecast,
        busy_morning(130),
        at("10:00"),
        interval_minutes=15,
        method="ratio",
        forecaster=forecaster,
    )
    rows = day.set_index("interval_start")
    assert (day["update_method"] == "ratio").all()
    so_far = forecast[
        (forecast["interval_start"] >= at("09:00")) & (forecast["interval_start"] < at("10:00"))
    ]["forecast"].sum()
    ratio = 4 * 130 / so_far
    assert rows.loc[at("12:00"), "forecast_updated"] == pytest.approx(
        rows.loc[at("12:00"), "forecast"] * ratio
    )

"""Adherence and conformance: the vendors' published examples and hand-made state logs."""

from __future__ import annotations

import pandas as pd
import pytest

from openwfm.errors import DataError
from openwfm.intraday import (
    AdherenceMap,
    AdherenceRule,
    adherence,
    apply_preset,
    check_state_events,
    default_adherence_map,
    from_router_events,
    read_state_events,
    scheduled_activities,
)

DAY = "2024-03-04"


def t(clock: str) -> pd.Timestamp:
    return pd.Timestamp(f"{DAY} {clock}")


def events(*rows) -> pd.DataFrame:
    """rows: (agent, clock, state[, reason])."""
    frame = pd.DataFrame(
        [
            {
                "agent_id": r[0],
                "ts": t(r[1]),
                "state": r[2],
                "reason_code": r[3] if len(r) > 3 else None,
            }
            for r in rows
        ]
    )
    return check_state_events(frame).events


def schedule(*rows) -> pd.DataFrame:
    return pd.DataFrame(
        [{"agent_id": a, "start": t(s), "end": t(e), "activity": act} for a, s, e, act in rows]
    )


def day_row(result, agent="a"):
    return result.by_day.set_index("agent_id").loc[agent]


def test_genesys_worked_example_is_71_4_percent():
    # 60 minutes scheduled 09:00-10:00; the agent comes 10 minutes late and stays 10 extra.
    log = events(("a", "09:10", "available"), ("a", "10:10", "logged_out"))
    result = adherence(
        log,
        schedule(("a", "09:00", "10:00", "voice")),
        preset="genesys",
        start=t("08:00"),
        end=t("12:00"),
    )
    row = day_row(result)
    assert row["scheduled_s"] == 3600
    assert row["out_s"] == 600 and row["not_scheduled_s"] == 600
    assert row["adherence"] == pytest.approx(1 - 20 / 70)
    assert round(row["adherence"] * 100, 1) == 71.4
    # conformance: on-queue 60 min of 60 scheduled
    assert row["conformance"] == pytest.approx(1.0)
    kinds = sorted(result.exceptions["type"])
    assert kinds == ["not_present", "not_scheduled"]


def test_nice_adherence_and_conformance_example():
    # scheduled 9:00-17:00, worked 9:30-17:30: conformance 100%, adherence below 100%
    log = events(("a", "09:30", "available"), ("a", "17:30", "logged_out"))
    result = adherence(
        log,
        schedule(("a", "09:00", "17:00", "voice")),
        preset="nice",
        start=t("00:00"),
        end=t("23:59"),
    )
    row = day_row(result)
    assert row["conformance"] == pytest.approx(1.0)
    assert row["adherence"] == pytest.approx(7.5 / 8)
    assert row["adherence"] < 1.0


def test_teleopti_in_over_shift_minus_neutral():
    # shift 08:00-12:00 (240 min): 60 min in a neutral state (meeting reason mapped neutral),
    # 30 min out (not ready, personal), rest in -> in / (shift - neutral) = 150 / 180
    amap = AdherenceMap(
        rules=[
            AdherenceRule(state="available", adherence="in"),
            AdherenceRule(state="not_ready", reason_code="meeting", adherence="neutral"),
            AdherenceRule(state="not_ready", adherence="out"),
            AdherenceRule(state="logged_out", activity="off", adherence="in"),
            AdherenceRule(state="logged_out", adherence="out"),
        ]
    )
    log = events(
        ("a", "08:00", "available"),
        ("a", "09:00", "not_ready", "meeting"),
        ("a", "10:00", "not_ready", "personal"),
        ("a", "10:30", "available"),
        ("a", "12:00", "logged_out"),
    )
    result = adherence(
        log,
        schedule(("a", "08:00", "12:00", "voice")),
        amap,
        preset="teleopti",
        start=t("07:00"),
        end=t("13:00"),
    )
    row = day_row(result)
    assert (row["in_s"], row["neutral_s"], row["out_s"]) == (9000, 3600, 1800)
    assert row["adherence"] == pytest.approx(150 / 180)
    # the same day under NICE counts neutral as in: 210 / 240
    nice = adherence(
        log,
        schedule(("a", "08:00", "12:00", "voice")),
        amap,
        preset="nice",
        start=t("07:00"),
        end=t("13:00"),
    )
    assert day_row(nice)["adherence"] == pytest.approx(210 / 240)


def test_injixo_types_and_not_scheduled_does_not_lower_the_score():
    # scheduled 10:00-11:00 voice, 11:00-11:15 break, 11:15-12:00 voice.
    # 10:00-10:05 logged out (not present), 10:05-11:00 available,
    # 11:00-11:20 still available (wrong activity 15 min during the break, then fine 5),
    # 11:20-12:30 available (30 min after the shift: not scheduled).
    log = events(("a", "10:05", "available"), ("a", "12:30", "logged_out"))
    plan = schedule(
        ("a", "10:00", "11:00", "voice"),
        ("a", "11:00", "11:15", "break"),
        ("a", "11:15", "12:00", "voice"),
    )
    result = adherence(log, plan, preset="injixo", start=t("09:00"), end=t("13:00"))
    row = day_row(result)
    assert row["not_present_s"] == 300
    assert row["wrong_activity_s"] == 900
    assert row["not_scheduled_s"] == 1800
    assert row["scheduled_s"] == 7200
    assert row["adherence"] == pytest.approx((7200 - 1200) / 7200)
    # Genesys on the same log counts the 30 extra minutes: 1 - 3000 / 9000
    genesys = adherence(log, plan, preset="genesys", start=t("09:00"), end=t("13:00"))
    assert day_row(genesys)["adherence"] == pytest.approx(1 - 3000 / 9000)


def test_per_interval_figures_by_hand():
    log = events(("a", "09:10", "available"), ("a", "10:10", "logged_out"))
    result = adherence(
        log,
        schedule(("a", "09:00", "10:00", "voice")),
        preset="nice",
        start=t("09:00"),
        end=t("10:30"),
        interval_minutes=15,
    )
    table = result.by_interval.set_index("interval_start")
    assert table.loc[t("09:00"), "out_s"] == 600
    assert table.loc[t("09:00"), "adherence"] == pytest.approx(300 / 900)
    assert table.loc[t("09:15"), "adherence"] == pytest.approx(1.0)
    assert table.loc[t("10:00"), "not_scheduled_s"] == 600
    assert pd.isna(table.loc[t("10:15"), "adherence"])  # nothing scheduled


def test_grace_forgives_short_episodes_only():
    amap = default_adherence_map()
    amap.rules.insert(
        0, AdherenceRule(state="not_ready", activity="work", adherence="out", grace_s=120)
    )
    log = events(
        ("a", "09:00", "available"),
        ("a", "09:10", "not_ready", "personal"),  # 90 s: forgiven
        ("a", "09:11:30", "available"),
        ("a", "09:30", "not_ready", "personal"),  # 5 min: an exception from its start
        ("a", "09:35", "available"),
    )
    result = adherence(
        log,
        schedule(("a", "09:00", "10:00", "voice")),
        amap,
        preset="nice",
        start=t("09:00"),
        end=t("10:00"),
    )
    assert day_row(result)["out_s"] == 300
    assert list(result.exceptions["start"]) == [t("09:30")]


def test_resolutions_are_kept_across_recomputation():
    plan = schedule(("a", "09:00", "10:00", "voice"))
    log = events(("a", "09:10", "available"))
    first = adherence(log, plan, preset="nice", start=t("09:00"), end=t("10:00"))
    exception = first.exceptions.iloc[0]
    resolutions = pd.DataFrame(
        [
            {
                "agent_id": "a",
                "start": exception["start"],
                "end": exception["end"],
                "resolution": "approved",
                "by": "sup",
                "note": "traffic jam",
            }
        ]
    )
    snapshot = resolutions.copy()
    # new events arrive later in the day; the day is recomputed with the same resolutions
    log2 = events(
        ("a", "09:10", "available"),
        ("a", "09:40", "not_ready", "personal"),
        ("a", "09:50", "available"),
    )
    second = adherence(
        log2, plan, preset="nice", start=t("09:00"), end=t("10:00"), resolutions=resolutions
    )
    pd.testing.assert_frame_equal(resolutions, snapshot)  # never overwritten
    row = day_row(second)
    assert row["out_s"] == 600 and row["in_s"] == 3000  # 09:00-09:10 approved -> in
    table = second.exceptions.set_index("start")
    assert table.loc[t("09:00"), "resolution"] == "approved"
    assert pd.isna(table.loc[t("09:40"), "resolution"])
    neutral = adherence(
        log2,
        plan,
        preset="teleopti",
        start=t("09:00"),
        end=t("10:00"),
        resolutions=resolutions.assign(resolution="neutral"),
    )
    assert day_row(neutral)["adherence"] == pytest.approx(2400 / 3000)


def test_real_time_view_who_is_out_now_and_since_when():
    log = events(
        ("a", "09:00", "available"),
        ("b", "09:00", "available"),
        ("b", "09:20", "not_ready", "personal"),
        ("c", "09:20", "available"),
    )
    plan = schedule(
        ("a", "09:00", "17:00", "voice"),
        ("b", "09:00", "17:00", "voice"),
        ("c", "09:00", "17:00", "voice"),
    )
    result = adherence(log, plan, start=t("08:00"), end=t("18:00"), as_of=t("09:30"))
    now = result.now.set_index("agent_id")
    assert sorted(now.index) == ["b"]  # c was late but is in adherence now
    assert now.loc["b", "out_since"] == t("09:20")
    assert now.loc["b", "out_for_s"] == 600
    assert now.loc["b", "type"] == "wrong_activity"


def test_schedule_from_scheduler_shifts():
    shifts = pd.DataFrame(
        [
            {
                "agent": "a",
                "shift_start": t("09:00"),
                "shift_end": t("17:00"),
                "breaks": "11:00-11:15 break; 13:00-13:30 lunch",
            }
        ]
    )
    table = scheduled_activities(shifts=shifts)
    assert list(table["activity"]) == ["work", "break", "work", "lunch", "work"]
    assert table["end"].iloc[-1] == t("17:00")


# ---------------------------------------------------------------------------- bad input


def test_unknown_agents_are_counted_and_reported(tmp_path):
    path = tmp_path / "states.csv"
    path.write_text(
        "Agent,Time,Status,Aux\n"
        "a,2024-03-04T09:00:00,available,\n"
        "ghost,2024-03-04T09:01:00,available,\n"
        "a,2024-03-04T09:30:00,not_ready,lunch\n"
    )
    feed = read_state_events(
        path,
        {"Agent": "agent_id", "Time": "ts", "Status": "state", "Aux": "reason_code"},
        roster=["a"],
    )
    assert feed.rejected_count == 1
    assert feed.rejected.iloc[0]["line"] == 3 and "unknown agent" in feed.rejected.iloc[0]["reason"]
    assert list(feed.events["state"]) == ["available", "not_ready"]
    assert feed.events["reason_code"].iloc[1] == "lunch"
    assert set(feed.events["source"]) == {"states.csv"}


def test_out_of_order_timestamps_are_an_error_naming_the_line(tmp_path):
    path = tmp_path / "states.csv"
    path.write_text(
        "agent_id,ts,state\n"
        "a,2024-03-04T09:00:00,available\n"
        "b,2024-03-04T08:00:00,available\n"
        "a,2024-03-04T08:59:00,logged_out\n"
    )
    with pytest.raises(DataError, match=r"states.csv:4: ts: out-of-order.*line 2"):
        read_state_events(path)


def test_unmapped_state_is_an_error_listing_every_combination():
    amap = AdherenceMap(rules=[AdherenceRule(state="available", adherence="in")])
    log = events(("a", "09:00", "available"), ("a", "09:10", "ringing"))
    with pytest.raises(DataError, match="unmapped state.*ringing/- during voice"):
        adherence(
            log, schedule(("a", "09:00", "10:00", "voice")), amap, start=t("09:00"), end=t("10:00")
        )


def test_router_events_adapter():
    # the router's event shape (openwfm.routing): seq, at_s, type, agent_id, data
    origin = t("09:00")
    records = [
        {
            "seq": 1,
            "at_s": 0,
            "type": "agent.presence",
            "agent_id": "a",
            "data": {"status": "available", "previous": "offline"},
        },
        {"seq": 2, "at_s": 60, "type": "contact.created", "agent_id": None, "data": {}},
        {"seq": 3, "at_s": 120, "type": "contact.assigned", "agent_id": "a", "data": {}},
        {"seq": 4, "at_s": 400, "type": "contact.wrapping", "agent_id": "a", "data": {}},
        {"seq": 5, "at_s": 430, "type": "contact.completed", "agent_id": "a", "data": {}},
        {
            "seq": 6,
            "at_s": 1800,
            "type": "agent.presence",
            "agent_id": "a",
            "data": {"status": "away", "previous": "available", "reason": "Break"},
        },
        {
            "seq": 7,
            "at_s": 2700,
            "type": "agent.presence",
            "agent_id": "a",
            "data": {"status": "offline", "previous": "away"},
        },
    ]
    feed = from_router_events(records, origin=origin)
    assert list(feed.events["state"]) == [
        "available",
        "busy",
        "wrap",
        "available",
        "not_ready",
        "logged_out",
    ]
    assert feed.events["reason_code"].iloc[4] == "break"
    assert feed.events["ts"].iloc[4] == t("09:30")
    assert set(feed.events["source"]) == {"router"}
    # the feed goes straight into the adherence engine
    plan = schedule(("a", "09:00", "09:30", "voice"), ("a", "09:30", "09:45", "break"))
    result = adherence(feed.events, plan, preset="nice", start=t("09:00"), end=t("10:00"))
    assert day_row(result)["adherence"] == pytest.approx(1.0)
    # wall clock: Unix seconds in UTC, shown in the center's zone
    wall = from_router_events(
        [
            {
                "seq": 1,
                "at_s": 1709542800.0,
                "type": "agent.presence",
                "agent_id": "a",
                "data": {"status": "available"},
            }
        ],
        timezone="Europe/Berlin",
    )
    assert wall.events["ts"].iloc[0] == t("10:00")


def test_live_router_events_feed_adherence(tmp_path):
    from router_support import Api, client_for, make_router

    router = make_router(tmp_path)
    with client_for(router) as client:
        api = Api(client)
        api.presence("bob")  # at 0 s
        api.advance(600.0)
        api.presence("bob", "away")  # 10 minutes in
        api.advance(900.0)
        api.presence("bob", "offline")
        records = api.events()
    feed = from_router_events(records, origin=t("09:00"), roster=["ann", "bob"])
    assert list(feed.events["state"]) == ["available", "not_ready", "logged_out"]
    plan = schedule(("bob", "09:00", "09:30", "voice"))
    result = adherence(feed.events, plan, preset="nice", start=t("09:00"), end=t("09:30"))
    # 10 min available, then 5 min away and 15 min offline while scheduled on voice
    assert day_row(result, "bob")["adherence"] == pytest.approx(10 / 30)


# ---------------------------------------------------------------------------- properties

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

STATES = [
    ("available", None),
    ("busy", None),
    ("not_ready", "break"),
    ("not_ready", "meeting"),
    ("logged_out", None),
]


@st.composite
def day_logs(draw):
    n = draw(st.integers(1, 12))
    minutes = sorted(draw(st.lists(st.integers(0, 239), min_size=n, max_size=n)))
    picks = draw(st.lists(st.sampled_from(STATES), min_size=n, max_size=n))
    rows = [
        ("a", f"{8 + m // 60:02d}:{m % 60:02d}", s, r)
        for m, (s, r) in zip(minutes, picks, strict=True)
    ]
    cut = sorted(draw(st.lists(st.integers(1, 23), min_size=2, max_size=2, unique=True)))
    plan = [
        (
            "a",
            f"{8 + cut[0] * 10 // 60:02d}:{cut[0] * 10 % 60:02d}",
            f"{8 + cut[1] * 10 // 60:02d}:{cut[1] * 10 % 60:02d}",
            "voice",
        )
    ]
    return rows, plan


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(day_logs())
def test_figures_add_up_and_presets_are_ordered(log_and_plan):
    rows, plan_rows = log_and_plan
    amap = default_adherence_map()
    amap.rules.insert(
        0,
        AdherenceRule(
            state="not_ready", reason_code="meeting", activity="work", adherence="neutral"
        ),
    )
    log, plan = events(*rows), schedule(*plan_rows)
    result = adherence(log, plan, amap, start=t("07:00"), end=t("13:00"))
    row = day_row(result)
    assert row["in_s"] + row["out_s"] + row["neutral_s"] == pytest.approx(row["scheduled_s"])
    assert row["not_present_s"] + row["wrong_activity_s"] == pytest.approx(row["out_s"])
    span = pd.Timestamp(plan["end"][0]) - pd.Timestamp(plan["start"][0])
    assert row["scheduled_s"] == span.total_seconds()
    # per interval figures sum to the day
    assert result.by_interval["scheduled_s"].sum() == pytest.approx(row["scheduled_s"])
    assert result.by_interval["out_s"].sum() == pytest.approx(row["out_s"])
    figures = {}
    for preset in ("genesys", "nice", "teleopti", "injixo"):
        value = apply_preset(result.by_day, preset)["adherence"].iloc[0]
        if not pd.isna(value):
            assert 0.0 <= value <= 1.0
        figures[preset] = value
    assert figures["genesys"] <= figures["nice"] + 1e-12
    if not pd.isna(figures["teleopti"]):
        assert figures["teleopti"] <= figures["nice"] + 1e-12
    assert figures["injixo"] == pytest.approx(figures["nice"])


def test_adherence_map_from_yaml(tmp_path):
    from openwfm.intraday import load_adherence_map

    path = tmp_path / "map.yaml"
    path.write_text(
        "absent_states: [logged_out]\n"
        "rules:\n"
        "  - {state: available, activity: work, adherence: in}\n"
        "  - {state: not_ready, reason_code: meeting, adherence: neutral, grace_s: 60}\n"
        "  - {state: '*', adherence: out}\n"
    )
    amap = load_adherence_map(path)
    log = events(("a", "09:00", "available"), ("a", "09:30", "not_ready", "meeting"))
    result = adherence(
        log,
        schedule(("a", "09:00", "10:00", "voice")),
        amap,
        preset="teleopti",
        start=t("09:00"),
        end=t("10:00"),
    )
    assert day_row(result)["neutral_s"] == 1800 and day_row(result)["adherence"] == 1.0
    path.write_text("rules:\n  - {state: available, adherence: maybe}\n")
    with pytest.raises(DataError, match=r"map.yaml:2: rules\[0\]\.adherence: .*\(got 'maybe'\)"):
        load_adherence_map(path)
    path.write_text("- {state: available, adherence: in}\n- {state: busy, adherence: in\n")
    with pytest.raises(DataError, match=r"map.yaml:3: not valid YAML"):
        load_adherence_map(path)


def test_state_times_in_a_custom_format_or_with_offsets(tmp_path):
    path = tmp_path / "states.csv"
    path.write_text("agent_id,ts,state\na,04/03/2024 09:00,available\na,04/03/2024 9h30,break\n")
    with pytest.raises(DataError, match=r"states.csv:3: ts: expected a time in format '%d/%m/%Y"):
        read_state_events(path, time_format="%d/%m/%Y %H:%M")
    path.write_text("agent_id,ts,state\na,04/03/2024 09:00,available\n")
    feed = read_state_events(path, time_format="%d/%m/%Y %H:%M")
    assert feed.events["ts"].tolist() == [pd.Timestamp("2024-03-04 09:00")]
    path.write_text("agent_id,ts,state\na,2024-03-04T08:00:00Z,available\n")
    assert read_state_events(path).events["ts"].iloc[0] == pd.Timestamp("2024-03-04 08:00")
    converted = read_state_events(path, timezone="Europe/Amsterdam").events["ts"].iloc[0]
    assert converted == pd.Timestamp("2024-03-04 09:00")  # UTC+1 in March

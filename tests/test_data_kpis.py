"""Interval KPIs on small hand-made logs where every figure is worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openwfm.data.intervals import interval_kpis, kpi_columns, rollup
from openwfm.data.schema import INTERACTION_COLUMNS
from openwfm.errors import ParameterError

DAY = "2024-03-04 "


def log(*rows) -> pd.DataFrame:
    """rows: (id, queue, arrival HH:MM:SS, outcome, wait_s, handle_s, agent[, segment])."""
    records = []
    for row in rows:
        ident, queue, arrival, outcome, wait, handle, agent, *rest = row
        arrival_time = pd.Timestamp(DAY + arrival)
        answered = outcome == "answered"
        answer = arrival_time + pd.Timedelta(seconds=wait) if answered else pd.NaT
        records.append(
            {
                "interaction_id": ident,
                "queue": queue,
                "channel": "voice",
                "segment": rest[0] if rest else "default",
                "arrival_time": arrival_time,
                "answer_time": answer,
                "end_time": answer + pd.Timedelta(seconds=handle) if answered else pd.NaT,
                "abandon_time": (
                    arrival_time + pd.Timedelta(seconds=wait) if outcome == "abandoned" else pd.NaT
                ),
                "wait_s": float(wait),
                "handle_s": float(handle) if answered else 0.0,
                "agent": agent,
                "outcome": outcome,
                "source": "hand",
            }
        )
    return pd.DataFrame(records).astype(INTERACTION_COLUMNS)


# Queue "sales", interval 09:00-09:15 (15 min): 6 offered, 1 IVR-only, 1 excluded.
#   a1 answered after  10 s, handled 100 s by ann   (within 20 s target)
#   a2 answered after  20 s, handled 200 s by bob   (exactly at target: counts as within)
#   a3 answered after  40 s, handled 300 s by ann   (late)
#   a4 abandoned after  3 s                         (short abandon, <= 5 s)
#   a5 abandoned after  5 s                         (short abandon, exactly at threshold)
#   a6 abandoned after 60 s
#   i1 ivr_only, x1 excluded (ignored)
# Queue "sales", 09:15 interval: a7 arrives 09:14:00? no - it arrives 09:20:00, answered after
#   0 s and handled 1200 s by bob: 09:20:00-09:40:00 -> 600 s busy in 09:15, 600 s in 09:30.
HAND = log(
    ("a1", "sales", "09:00:00", "answered", 10, 100, "ann"),
    ("a2", "sales", "09:01:00", "answered", 20, 200, "bob"),
    ("a3", "sales", "09:02:00", "answered", 40, 300, "ann"),
    ("a4", "sales", "09:03:00", "abandoned", 3, 0, None),
    ("a5", "sales", "09:04:00", "abandoned", 5, 0, None),
    ("a6", "sales", "09:05:00", "abandoned", 60, 0, None),
    ("i1", "sales", "09:06:00", "ivr_only", 0, 0, None),
    ("x1", "sales", "09:07:00", "excluded", 30, 0, None),
    ("a7", "sales", "09:20:00", "answered", 0, 1200, "bob"),
)


def first(kpis: pd.DataFrame, start: str) -> pd.Series:
    return kpis.set_index("interval_start").loc[pd.Timestamp(DAY + start)]


def test_columns_are_exactly_the_contract():
    kpis = interval_kpis(HAND, by=("queue",))
    assert list(kpis.columns) == kpi_columns(("queue",))
    assert list(kpis.columns) == [
        "interval_start",
        "queue",
        "offered",
        "answered",
        "abandoned",
        "short_abandoned",
        "answered_within_target",
        "service_level",
        "sl_definition",
        "asa_s",
        "aht_s",
        "avg_wait_s",
        "p90_wait_s",
        "agents",
        "busy_s",
        "occupancy",
        "ivr_only",
    ]


def test_counts_and_waits_by_hand():
    row = first(interval_kpis(HAND, 15, target_s=20, short_abandon_s=5), "09:00:00")
    assert (row.offered, row.answered, row.abandoned) == (6, 3, 3)
    assert row.short_abandoned == 2  # a4 (3 s) and a5 (5 s, at the threshold)
    assert row.answered_within_target == 2  # a1 (10 s) and a2 (20 s, at the target)
    assert row.ivr_only == 1
    assert row.service_level == pytest.approx(2 / 6)
    assert row.sl_definition == "offered"
    assert row.asa_s == pytest.approx((10 + 20 + 40) / 3)
    assert row.aht_s == pytest.approx((100 + 200 + 300) / 3)
    assert row.avg_wait_s == pytest.approx((10 + 20 + 40 + 3 + 5 + 60) / 6)
    # waits sorted 3 5 10 20 40 60: position 0.9 * 5 = 4.5 -> 40 + 0.5 * (60 - 40)
    assert row.p90_wait_s == pytest.approx(50.0)


def test_busy_time_agents_and_occupancy_by_hand():
    kpis = interval_kpis(HAND, 15)
    row = first(kpis, "09:00:00")
    # a1 09:00:10-09:01:50, a2 09:01:20-09:04:40, a3 09:02:40-09:07:40: all inside 09:00-09:15
    assert row.busy_s == pytest.approx(600.0)
    assert row.agents == 2  # ann and bob
    assert row.occupancy == pytest.approx(600 / (2 * 900))
    # a7: 09:20-09:40 by bob, arrival interval 09:15 holds the count, busy split 600 / 600
    later = first(kpis, "09:15:00")
    assert (later.offered, later.answered, later.agents) == (1, 1, 1)
    assert later.busy_s == pytest.approx(600.0)
    assert later.occupancy == pytest.approx(600 / 900)
    spill = first(kpis, "09:30:00")
    assert (spill.offered, spill.answered, spill.ivr_only) == (0, 0, 0)
    assert spill.busy_s == pytest.approx(600.0)
    assert spill.agents == 1
    assert math.isnan(spill.service_level) and math.isnan(spill.asa_s)


def test_the_three_service_level_definitions():
    def sl(definition):
        return first(interval_kpis(HAND, 15, definition=definition), "09:00:00").service_level

    assert sl("offered") == pytest.approx(2 / 6)
    assert sl("answered") == pytest.approx(2 / 3)
    assert sl("exclude_short_abandons") == pytest.approx(2 / (6 - 2))


def test_thresholds_are_parameters():
    row = first(interval_kpis(HAND, 15, target_s=40, short_abandon_s=2), "09:00:00")
    assert row.answered_within_target == 3
    assert row.short_abandoned == 0
    per_queue = first(interval_kpis(HAND, 15, target_s={"sales": 5.0}), "09:00:00")
    assert per_queue.answered_within_target == 0
    with pytest.raises(ParameterError, match="sales"):
        interval_kpis(HAND, 15, target_s={"support": 5.0})
    star = first(interval_kpis(HAND, 15, target_s={"*": 10.0}), "09:00:00")
    assert star.answered_within_target == 1


def test_interval_lengths_and_grouping():
    hourly = interval_kpis(HAND, 60)
    assert len(hourly) == 1
    row = hourly.iloc[0]
    assert (row.offered, row.answered, row.agents) == (7, 4, 2)
    assert row.busy_s == pytest.approx(1800.0)
    # ann busy 100 + 300 s, bob 200 + 1200 s, both in the hour
    assert row.occupancy == pytest.approx(1800 / (2 * 3600))
    six = interval_kpis(HAND, 6)
    assert list(six["interval_start"].dt.strftime("%H:%M")) == [
        "09:00",
        "09:06",
        "09:18",
        "09:24",
        "09:30",
        "09:36",
    ]
    assert six["offered"].tolist() == [6, 0, 1, 0, 0, 0]
    assert six["ivr_only"].tolist() == [0, 1, 0, 0, 0, 0]
    with pytest.raises(ParameterError, match="interval_minutes"):
        interval_kpis(HAND, 10)
    with pytest.raises(ParameterError, match="definition"):
        interval_kpis(HAND, definition="abandoned")
    with pytest.raises(ParameterError, match="by"):
        interval_kpis(HAND, by=("agent",))


def test_segments_split_the_counts():
    two = log(
        ("g1", "voice", "10:00:00", "answered", 5, 60, "ann", "gold"),
        ("s1", "voice", "10:01:00", "answered", 30, 60, "ann", "standard"),
        ("s2", "voice", "10:02:00", "abandoned", 50, 0, None, "standard"),
    )
    kpis = interval_kpis(two, 15, by=("queue", "segment"), target_s=20)
    gold = kpis[kpis["segment"] == "gold"].iloc[0]
    standard = kpis[kpis["segment"] == "standard"].iloc[0]
    assert (gold.offered, gold.service_level) == (1, 1.0)
    assert (standard.offered, standard.service_level) == (2, 0.0)
    assert standard.avg_wait_s == pytest.approx(40.0)


def test_rollup_recomputes_ratios_from_sums():
    kpis = interval_kpis(HAND, 15)
    day = rollup(kpis, "D")
    assert len(day) == 1
    row = day.iloc[0]
    assert (row.offered, row.answered, row.abandoned, row.ivr_only) == (7, 4, 3, 1)
    assert row.answered_within_target == 3
    # 3 of 7 within target: not the mean of the interval service levels (1/3 and 1)
    assert row.service_level == pytest.approx(3 / 7)
    assert row.asa_s == pytest.approx((10 + 20 + 40 + 0) / 4)
    assert row.aht_s == pytest.approx((100 + 200 + 300 + 1200) / 4)
    assert row.avg_wait_s == pytest.approx((10 + 20 + 40 + 3 + 5 + 60 + 0) / 7)
    assert row.busy_s == pytest.approx(1800.0)
    assert row.agents == 2  # peak in any interval
    # named busy 1800 s over agent-intervals 2 + 1 + 1 of 900 s
    assert row.occupancy == pytest.approx(1800 / (4 * 900))
    assert math.isnan(row.p90_wait_s)
    month = rollup(kpis, "MS")
    assert month.iloc[0].interval_start == pd.Timestamp("2024-03-01")
    assert month.iloc[0].service_level == pytest.approx(3 / 7)
    with pytest.raises(ParameterError):
        rollup(kpis, "W")


def test_empty_log_gives_empty_table():
    empty = HAND.iloc[0:0]
    kpis = interval_kpis(empty, by=("queue", "channel"))
    assert kpis.empty and list(kpis.columns) == kpi_columns(("queue", "channel"))


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 4 * 3600),  # arrival offset s
            st.sampled_from(["answered", "abandoned", "ivr_only", "excluded"]),
            st.integers(0, 300),  # wait s
            st.integers(1, 2000),  # handle s
            st.sampled_from(["ann", "bob", "cy"]),
            st.sampled_from(["q1", "q2"]),
        ),
        min_size=1,
        max_size=60,
    ),
    st.sampled_from([5, 6, 15, 30, 60]),
)
def test_kpis_conserve_totals(rows, minutes):
    frame = log(
        *[
            (
                f"c{i}",
                queue,
                str(pd.Timedelta(seconds=offset)).split(" ")[-1],
                outcome,
                wait,
                handle,
                agent if outcome == "answered" else None,
            )
            for i, (offset, outcome, wait, handle, agent, queue) in enumerate(rows)
        ]
    )
    kpis = interval_kpis(frame, minutes)
    outcomes = frame["outcome"].value_counts()
    assert kpis["answered"].sum() == outcomes.get("answered", 0)
    assert kpis["abandoned"].sum() == outcomes.get("abandoned", 0)
    assert kpis["ivr_only"].sum() == outcomes.get("ivr_only", 0)
    assert (kpis["offered"] == kpis["answered"] + kpis["abandoned"]).all()
    answered = frame[frame["outcome"] == "answered"]
    assert kpis["busy_s"].sum() == pytest.approx(answered["handle_s"].sum())
    # every answered contact here has a named agent: occupancy x agents x interval is the busy
    # time with an agent's overlapping contacts counted once, never more than the handling
    staffed = kpis["occupancy"].fillna(0) * kpis["agents"] * minutes * 60
    assert (staffed.to_numpy() <= kpis["busy_s"].to_numpy() + 1e-6).all()
    assert ((kpis["occupancy"].dropna() >= 0) & (kpis["occupancy"].dropna() <= 1 + 1e-12)).all()
    union = 0.0
    for _, spans in answered.groupby("agent"):
        covered_until = None
        for begin, finish in sorted(zip(spans["answer_time"], spans["end_time"], strict=True)):
            if covered_until is not None and begin < covered_until:
                begin = covered_until
            if finish > begin:
                union += (finish - begin).total_seconds()
            covered_until = max(covered_until or finish, finish)
    assert staffed.sum() == pytest.approx(union)
    sl = kpis["service_level"].dropna()
    assert ((sl >= 0) & (sl <= 1)).all()
    day = rollup(kpis, "D")
    assert day["offered"].sum() == kpis["offered"].sum()
    if len(answered):
        total_asa = np.average(day["asa_s"].dropna(), weights=day["answered"][day["answered"] > 0])
        assert total_asa == pytest.approx(answered["wait_s"].mean())

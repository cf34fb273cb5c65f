"""The synthetic history generator: schema, reproducibility, volumes, shapes, abandonment."""

from __future__ import annotations

import datetime as dt
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openwfm.data.schema import INTERACTION_COLUMNS, Outcome
from openwfm.data.synthetic import fifo_queue, generate_interactions
from openwfm.errors import ParameterError
from openwfm.model import WEEKDAYS
from openwfm.scenario import load_scenario, parse_scenario

START = dt.date(2026, 10, 5)  # a Monday

SMALL = """
grid:
  interval_minutes: 15
  opening_hours:
    mon: {open: "08:00", close: "18:00"}
    tue: {open: "08:00", close: "18:00"}
queues:
  - name: phone
    channel: voice
    aht_s: 200
    handle_time_distribution: lognormal
    handle_time_cv: 0.9
    patience_s: PATIENCE
    demand: {contacts_per_day: 600, peaks: {"10:00": 1.0}}
  - name: mail
    channel: email
    aht_s: 300
    demand: {contacts_per_day: 80}
agent_groups:
  - {name: team, count: 25, skills: {phone: 1.0}}
  - {name: back, count: 4, skills: {mail: 1.0, phone: 0.5}}
"""


def small(patience_s: float = 120.0):
    return parse_scenario(SMALL.replace("PATIENCE", str(patience_s)))


@pytest.fixture(scope="module")
def example():
    from openwfm.scenario import example_path

    scenario = load_scenario(example_path())
    return scenario, generate_interactions(scenario, START, 4, seed=11)


def test_schema_is_exact(example):
    _, frame = example
    assert list(frame.columns) == list(INTERACTION_COLUMNS)
    assert {c: str(t) for c, t in frame.dtypes.items()} == {
        c: str(pd.Series(dtype=t).dtype) for c, t in INTERACTION_COLUMNS.items()
    }
    assert set(frame["outcome"]) <= {o.value for o in Outcome}
    assert frame["interaction_id"].is_unique
    assert frame["arrival_time"].is_monotonic_increasing


def test_same_seed_same_table_other_seed_other_table():
    scenario = small()
    first = generate_interactions(scenario, START, 1, seed=3)
    again = generate_interactions(scenario, START, 1, seed=3)
    other = generate_interactions(scenario, START, 1, seed=4)
    pd.testing.assert_frame_equal(first, again)
    assert len(first) != len(other) or not first["arrival_time"].equals(other["arrival_time"])


def test_volumes_near_scenario_demand(example):
    scenario, frame = example
    for queue in scenario.queues:
        mean = var = 0.0
        for offset in range(28):
            day = START + dt.timedelta(days=offset)
            if scenario.grid.hours_on(day) is None:
                continue
            volume = queue.demand.contacts_per_day * queue.demand.weekday_factor.get(
                WEEKDAYS[day.weekday()], 1.0
            )
            mean += volume
            var += volume + (0.1 * volume) ** 2  # Poisson + gamma day level with cv 0.1
        count = (frame["queue"] == queue.name).sum()
        assert abs(count - mean) < 4.5 * math.sqrt(var), (queue.name, count, mean)


def test_segment_shares(example):
    _, frame = example
    voice = frame[frame["queue"] == "voice"]
    gold = (voice["segment"] == "gold").mean()
    n = len(voice)
    assert abs(gold - 0.25) < 4.5 * math.sqrt(0.25 * 0.75 / n)
    assert set(frame.loc[frame["queue"] == "chat", "segment"]) == {"standard"}


def test_weekly_and_intraday_shape(example):
    _, frame = example
    voice = frame[frame["queue"] == "voice"]
    by_weekday = voice.groupby(voice["arrival_time"].dt.dayofweek).size() / 4
    assert 6 not in by_weekday.index  # closed on Sunday
    # weekday factors mon 1.25, tue 1, fri 0.9, sat 0.45
    assert by_weekday[0] > by_weekday[1] > by_weekday[4] > by_weekday[5]
    weekdays = voice[voice["arrival_time"].dt.dayofweek < 5]
    hourly = weekdays.groupby(weekdays["arrival_time"].dt.hour).size()
    # peaks at 10:00 and 14:30, a trough at lunch, little in the evening
    assert hourly.idxmax() in (9, 10)
    assert hourly[10] > 1.3 * hourly[8] and hourly[10] > 3 * hourly[19]
    assert hourly[14] > hourly[12]
    assert voice["arrival_time"].dt.hour.between(8, 19).all()


def test_handle_times_lognormal_with_queue_mean(example):
    scenario, frame = example
    voice = frame[(frame["queue"] == "voice") & (frame["outcome"] == "answered")]
    handle = voice["handle_s"].to_numpy()
    mean, cv = scenario.queue("voice").aht_s, scenario.queue("voice").handle_time_cv
    assert abs(handle.mean() - mean) < 4.5 * mean * cv / math.sqrt(handle.size)
    log_sigma = np.log(handle).std()
    assert abs(log_sigma - math.sqrt(math.log1p(cv * cv))) < 0.03


def test_live_waits_seconds_email_waits_hours_and_no_email_abandon(example):
    scenario, frame = example
    email = frame[frame["queue"] == "email"]
    assert (email["outcome"] == "answered").all()
    assert email["wait_s"].quantile(0.9) > 1800  # deferred: a backlog, waits of hours
    voice = frame[frame["queue"] == "voice"]
    answered = voice[voice["outcome"] == "answered"]
    assert answered["wait_s"].median() < 60
    abandon_rate = (voice["outcome"] == "abandoned").mean()
    assert 0.001 < abandon_rate < 0.2
    # service level varies from day to day (staffing noise and the gamma day level)
    within = (voice["outcome"] == "answered") & (voice["wait_s"] <= 20)
    daily_sl = within.groupby(voice["arrival_time"].dt.date).mean()
    assert daily_sl.max() - daily_sl.min() > 0.05


def test_agents_have_the_skill_and_never_double_book(example):
    scenario, frame = example
    skills = {a.name: a.skills for a in scenario.all_agents()}
    answered = frame[frame["outcome"] == "answered"]
    for queue, agent in answered[["queue", "agent"]].drop_duplicates().itertuples(index=False):
        assert queue in skills[agent]
    # no agent works two queues; a voice agent holds one call at a time
    assert answered.groupby("agent")["queue"].nunique().max() == 1
    voice = answered[answered["queue"] == "voice"].sort_values(["agent", "answer_time"])
    same_agent = voice["agent"].eq(voice["agent"].shift())
    overlap = voice["answer_time"] < voice["end_time"].shift()
    assert not (same_agent & overlap).any()


def test_abandonment_rises_when_patience_is_short():
    rates = []
    for patience_s in (20.0, 120.0, 900.0):
        frame = generate_interactions(small(patience_s), START, 2, seed=5)
        phone = frame[frame["queue"] == "phone"]
        rates.append((phone["outcome"] == "abandoned").mean())
    assert rates[0] > rates[1] > rates[2]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), patience_s=st.floats(5.0, 2000.0))
def test_rows_are_internally_consistent(seed, patience_s):
    frame = generate_interactions(small(patience_s), START, 1, seed=seed)
    answered = frame["outcome"] == "answered"
    abandoned = frame["outcome"] == "abandoned"
    assert (answered | abandoned).all()
    assert (frame["wait_s"] >= 0).all()
    a = frame[answered]
    assert (a["answer_time"] - a["arrival_time"]).dt.total_seconds().eq(a["wait_s"]).all()
    assert (a["end_time"] - a["answer_time"]).dt.total_seconds().eq(a["handle_s"]).all()
    assert a["abandon_time"].isna().all() and a["agent"].notna().all()
    b = frame[abandoned]
    assert (b["abandon_time"] - b["arrival_time"]).dt.total_seconds().eq(b["wait_s"]).all()
    assert b["answer_time"].isna().all() and b["agent"].isna().all()
    assert (b["handle_s"] == 0).all() and (b["queue"] == "phone").all()


def test_bad_weeks_is_a_parameter_error():
    with pytest.raises(ParameterError, match="weeks"):
        generate_interactions(small(), START, 0, seed=1)


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_generate_cli_writes_file(tmp_path, example_scenario_path, suffix):
    out = tmp_path / f"log.{suffix}"
    args = [sys.executable, "-m", "openwfm", "generate", str(example_scenario_path)]
    args += ["--weeks", "1", "--seed", "2", "--start", "2026-10-05", "--out", str(out)]
    result = subprocess.run(args, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(out) if suffix == "csv" else pd.read_parquet(out)
    expected = generate_interactions(load_scenario(example_scenario_path), START, 1, seed=2)
    assert len(frame) == len(expected)
    assert frame["interaction_id"].tolist() == expected["interaction_id"].tolist()


def test_generate_cli_bad_output_suffix(tmp_path, example_scenario_path):
    out = tmp_path / "log.xlsx"
    args = [sys.executable, "-m", "openwfm", "generate", str(example_scenario_path)]
    result = subprocess.run(args + ["--out", str(out)], capture_output=True, text=True)
    assert result.returncode == 2
    assert "--out" in result.stderr and ".parquet" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()


def erlang_c(servers: int, load: float) -> float:
    """Probability of waiting in M/M/n (Erlang C), from the Erlang B recursion."""
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = load * blocking / (k + load * blocking)
    return servers * blocking / (servers - load * (1 - blocking))


@pytest.mark.parametrize(("servers", "load"), [(10, 8.0), (3, 2.0)])
def test_fifo_queue_matches_erlang_c(servers, load):
    """Constant staffing, Poisson arrivals, exponential service, no abandonment: M/M/n."""
    rng = np.random.default_rng(42)
    mean_handle_s, horizon_s = 100.0, 3_000_000.0
    rate_per_s = load / mean_handle_s
    arrival_s = np.cumsum(rng.exponential(1 / rate_per_s, int(rate_per_s * horizon_s)))
    handle_s = rng.exponential(mean_handle_s, arrival_s.size)
    grid = np.full(int(arrival_s[-1] // 900) + 200, servers)
    start_s, server = fifo_queue(arrival_s, np.full(arrival_s.size, np.inf), handle_s, grid, 900)
    assert (server >= 0).all() and (server < servers).all()
    wait_s = start_s - arrival_s
    p_wait = erlang_c(servers, load)
    assert (wait_s > 1e-9).mean() == pytest.approx(p_wait, abs=0.02)
    # mean wait of M/M/n: C / (n mu - lambda)
    expected_wait_s = p_wait / (servers / mean_handle_s - rate_per_s)
    assert wait_s.mean() == pytest.approx(expected_wait_s, rel=0.1)


def test_fifo_queue_starts_only_when_servers_are_on_duty():
    arrival_s = np.array([0.0, 10.0, 950.0, 1000.0])
    handle_s = np.array([100.0, 100.0, 30.0, 30.0])
    patience_s = np.array([np.inf, np.inf, np.inf, 20.0])
    grid = np.array([1, 0, 2])  # one server, then none in 900..1800, then two
    start_s, server = fifo_queue(arrival_s, patience_s, handle_s, grid, 900)
    assert start_s[0] == 0 and start_s[1] == 100  # FIFO behind the first
    assert start_s[2] == 1800  # waits for the next interval with a server
    assert np.isnan(start_s[3]) and server[3] == -1  # patience 20 s runs out
    with pytest.raises(ParameterError, match="increasing"):
        fifo_queue(arrival_s[::-1], patience_s, handle_s, grid, 900)


def test_generate_cli_scenario_without_demand(tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text("queues:\n  - {name: q, aht_s: 100}\n")
    out = tmp_path / "log.csv"
    args = [sys.executable, "-m", "openwfm", "generate", str(scenario), "--out", str(out)]
    result = subprocess.run(args, capture_output=True, text=True)
    assert result.returncode == 2 and "demand" in result.stderr
    assert not out.exists()


def test_generate_cli_bad_start_date(tmp_path, example_scenario_path):
    out = tmp_path / "log.csv"
    args = [sys.executable, "-m", "openwfm", "generate", str(example_scenario_path)]
    result = subprocess.run(
        args + ["--start", "05/10/2026", "--out", str(out)], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "--start" in result.stderr and "YYYY-MM-DD" in result.stderr
    assert not out.exists()

"""`openwfm intraday` end to end: tables and page written, bad input one line and exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "openwfm", *args], capture_output=True, text=True, timeout=900
    )


def write_day(tmp_path: Path, states_text: str) -> tuple[Path, Path, Path]:
    states = tmp_path / "states.csv"
    states.write_text(states_text)
    shifts = tmp_path / "shifts.csv"
    shifts.write_text(
        "agent,date,shift_type,shift_start,shift_end,paid_minutes,breaks\n"
        "a,2024-03-04,day,2024-03-04 09:00,2024-03-04 10:00,60,\n"
        "b,2024-03-04,day,2024-03-04 09:00,2024-03-04 17:00,480,12:00-12:30 lunch\n"
    )
    mapping = tmp_path / "map.yaml"
    mapping.write_text("columns: {Agent: agent_id, When: ts, Status: state, Aux: reason_code}\n")
    return states, shifts, mapping


def run_adherence(
    tmp_path: Path, states_text: str, *extra: str, schedule: Path | None = None
) -> tuple[subprocess.CompletedProcess, Path]:
    """``intraday adherence`` of one day (:func:`write_day`) into ``tmp_path / "out"``."""
    states, shifts, mapping = write_day(tmp_path, states_text)
    out = tmp_path / "out"
    done = run("intraday", "adherence", "--states", str(states), "--schedule",
               str(schedule or shifts), "--mapping", str(mapping), "--date", "2024-03-04",
               "--out", str(out), *extra)  # fmt: skip
    return done, out


GOOD = (
    "Agent,When,Status,Aux\n"
    "a,2024-03-04 09:10,available,\n"
    "b,2024-03-04 09:00,available,\n"
    "a,2024-03-04 10:10,logged_out,\n"
    "ghost,2024-03-04 09:00,available,\n"
    "b,2024-03-04 12:00,not_ready,lunch\n"
    "b,2024-03-04 12:30,available,\n"
    "b,2024-03-04 17:00,logged_out,\n"
)


def test_adherence_command_writes_tables_and_page(tmp_path):
    done, out = run_adherence(tmp_path, GOOD)
    assert done.returncode == 0, done.stderr
    assert "rejected rows: 1" in done.stdout
    by_day = pd.read_csv(out / "by_day.csv").set_index("agent_id")
    assert round(by_day.loc["a", "adherence"], 3) == 0.714  # Genesys worked example
    assert by_day.loc["b", "adherence"] == 1.0
    assert '"type":"heatmap"' in (out / "page.html").read_text().replace(" ", "")
    assert pd.read_csv(out / "rejected.csv")["agent_id"].tolist() == ["ghost"]


BAD_STATES = {
    "out of order": (
        GOOD.replace("a,2024-03-04 10:10,logged_out", "a,2024-03-04 08:10,logged_out"),
        "states.csv:4: ts: out-of-order",
    ),
    "unparseable time": (
        GOOD.replace("b,2024-03-04 09:00,available", "b,2024-03-04 9h00,available"),
        "states.csv:3: ts: expected an ISO 8601 time",
    ),
    "empty agent": (
        GOOD.replace("b,2024-03-04 12:00,not_ready", ",2024-03-04 12:00,not_ready"),
        "states.csv:6: agent_id: expected",
    ),
    "mapped column absent": (
        GOOD.replace("Agent,When,", "Agent,Time,"),
        "states.csv:1: When: missing column(s) When named in the mapping",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_STATES))
def test_adherence_command_bad_input_is_one_line_and_writes_nothing(case, tmp_path):
    bad, expected = BAD_STATES[case]
    done, out = run_adherence(tmp_path, bad)
    assert done.returncode == 2
    assert done.stderr.startswith("openwfm: error: ") and len(done.stderr.splitlines()) == 1
    assert expected in done.stderr
    assert not out.exists() or not any(out.iterdir())


def test_adherence_command_names_a_bad_mapping_file(tmp_path):
    states, shifts, mapping = write_day(tmp_path, GOOD)
    mapping.write_text("columns: {Agent: agent, When: ts, Status: state}\ntime_format: 5\n")
    done = run("intraday", "adherence", "--states", str(states), "--schedule", str(shifts),
               "--mapping", str(mapping), "--date", "2024-03-04")  # fmt: skip
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
    assert "map.yaml: columns: unknown column(s) agent (known columns: agent_id" in done.stderr


def write_outlook_inputs(tmp_path: Path) -> list[str]:
    scenario = tmp_path / "center.yaml"
    scenario.write_text(
        "queues: [{name: voice, aht_s: 300, patience_s: 600}]\n"
        "agents: [{name: a, skills: {voice: 1}}, {name: b, skills: {voice: 1}}]\n"
    )
    starts = pd.date_range("2024-03-04 09:00", "2024-03-04 17:00", freq="15min", inclusive="left")
    forecast = tmp_path / "forecast.csv"
    pd.DataFrame({"interval_start": starts, "queue": "voice", "forecast": 4.0}).to_csv(
        forecast, index=False
    )
    arrivals = pd.date_range("2024-03-04 09:00", periods=24, freq="150s")
    contacts = pd.DataFrame(
        {
            "queue": "voice",
            "arrival_time": arrivals,
            "answer_time": arrivals + pd.Timedelta(seconds=10),
            "end_time": arrivals + pd.Timedelta(seconds=250),
        }
    )
    interactions = tmp_path / "contacts.csv"
    contacts.to_csv(interactions, index=False)
    schedule = tmp_path / "schedule.csv"
    schedule.write_text(
        "agent_id,start,end,activity\n"
        "a,2024-03-04 09:00,2024-03-04 17:00,voice\n"
        "b,2024-03-04 09:00,2024-03-04 17:00,voice\n"
    )
    states = tmp_path / "states.csv"
    states.write_text(
        "agent_id,ts,state\n"
        "a,2024-03-04 09:00,available\n"
        "b,2024-03-04 09:00,available\n"
        "b,2024-03-04 09:45,logged_out\n"
    )
    return [
        "--scenario",
        str(scenario),
        "--forecast",
        str(forecast),
        "--interactions",
        str(interactions),
        "--schedule",
        str(schedule),
        "--states",
        str(states),
    ]


def test_outlook_command(tmp_path):
    args = write_outlook_inputs(tmp_path)
    out = tmp_path / "out"
    log = tmp_path / "alerts.csv"
    done = run(
        "intraday",
        "outlook",
        *args,
        "--as-of",
        "2024-03-04 10:00",
        "--out",
        str(out),
        "--alert-log",
        str(log),
    )
    assert done.returncode == 0, done.stderr
    assert "1 scheduled agent(s) absent" in done.stdout
    assert "voice projected SL" in (out / "page.html").read_text()
    queues = pd.read_csv(out / "queues.csv")
    # 24 arrivals in the first hour vs 16 forecast (r = 1.5): the rest of the day is scaled
    # by the shrunk ratio 1 + 16 / (16 + 150) x 0.5
    assert queues["ratio"].iloc[0] == pytest.approx(1 + 16 / 166 * 0.5)
    intervals = pd.read_csv(out / "intervals.csv")
    rest = intervals[~intervals["past"]]
    assert (rest["agents"] == 1.0).all()  # b logged out: one agent left
    assert (rest["forecast_updated"] > 4.0).all()
    assert "ALERT projected-sl" in done.stdout
    # b logged out at 09:45 while scheduled: out of adherence for 15 minutes, past the
    # default rule's 600 s
    assert "ALERT adherence: out_of_adherence_s of b" in done.stdout
    assert len(pd.read_csv(log)) >= 1
    backlog = tmp_path / "backlog.csv"
    backlog.write_text("queue,due,open_items\nemail,2024-03-04 10:45,7\nemail,2024-03-05 09:00,3\n")
    again = run(
        "intraday",
        "outlook",
        *args,
        "--as-of",
        "2024-03-04 10:05",
        "--alert-log",
        str(log),
        "--backlog",
        str(backlog),
    )
    assert "ALERT projected-sl" not in again.stdout  # cool-down read from the log
    assert "ALERT backlog: backlog_due of email is 7" in again.stdout  # due within the hour


def test_replan_command_writes_a_new_version(tmp_path):
    from test_intraday_replan import SCENARIO, forecast, shifts

    scenario = tmp_path / "center.yaml"
    scenario.write_text(SCENARIO)
    fc = tmp_path / "forecast.csv"
    forecast(1.0)[["interval_start", "queue", "forecast"]].to_csv(fc, index=False)
    shift_file = tmp_path / "shifts.csv"
    shifts().to_csv(shift_file, index=False)
    # a busy morning: 1.2 x the forecast arrived before 11:00
    volume = forecast(1.2)
    morning = volume[volume["interval_start"] < pd.Timestamp("2024-03-04 11:00")]
    arrivals = [
        row.interval_start + pd.Timedelta(seconds=900 * k / round(row.forecast))
        for row in morning.itertuples()
        for k in range(round(row.forecast))
    ]
    contacts = pd.DataFrame({"queue": "voice", "arrival_time": arrivals})
    contacts["answer_time"] = contacts["arrival_time"] + pd.Timedelta(seconds=10)
    contacts["end_time"] = contacts["answer_time"] + pd.Timedelta(seconds=300)
    interactions = tmp_path / "contacts.csv"
    contacts.to_csv(interactions, index=False)
    out = tmp_path / "out"
    version_1 = shift_file.read_bytes()
    done = run(
        "intraday",
        "replan",
        "--scenario",
        str(scenario),
        "--forecast",
        str(fc),
        "--interactions",
        str(interactions),
        "--shifts",
        str(shift_file),
        "--as-of",
        "2024-03-04 11:00",
        "--accept",
        "all",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    proposals = pd.read_csv(out / "proposals.csv")
    assert len(proposals) > 0 and "overtime" in set(proposals["kind"])
    intervals = pd.read_csv(out / "intervals.csv")
    weights = intervals["forecast"]
    after = (weights * intervals["projected_sl_after"]).sum()
    assert after > (weights * intervals["projected_sl_before"]).sum()  # over the rest of day
    assert "voice with proposals" in (out / "page.html").read_text()  # the chart is drawn
    new = pd.read_csv(out / "shifts_v2.csv")
    assert (new["version"] == 2).all()
    assert shift_file.read_bytes() == version_1  # the old version is kept as it was
    bad = run(
        "intraday",
        "replan",
        "--scenario",
        str(scenario),
        "--forecast",
        str(fc),
        "--interactions",
        str(interactions),
        "--shifts",
        str(shift_file),
        "--as-of",
        "2024-03-04 11:00",
        "--accept",
        "p999",
        "--out",
        str(tmp_path / "bad"),
    )
    assert bad.returncode == 2 and "unknown proposal 'p999'" in bad.stderr
    assert not (tmp_path / "bad").exists() or not any((tmp_path / "bad").iterdir())


def test_outlook_command_by_simulation(tmp_path):
    args = write_outlook_inputs(tmp_path)
    out = tmp_path / "out"
    done = run(
        "intraday",
        "outlook",
        *args,
        "--as-of",
        "2024-03-04 10:00",
        "--model",
        "simulate",
        "--replications",
        "3",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    intervals = pd.read_csv(out / "intervals.csv")
    rest = intervals[~intervals["past"]]
    assert rest["simulated_service_level"].notna().all()
    assert (rest["projected_service_level"] == rest["simulated_service_level"]).all()
    assert pd.read_csv(out / "queues.csv")["model"].iloc[0] == "simulation"
    bad = run("intraday", "outlook", *args, "--as-of", "2024-03-04 10:00", "--model", "magic")
    assert bad.returncode == 2 and "--model" in bad.stderr
    bad = run(
        "intraday", "outlook", *args, "--as-of", "2024-03-04 10:00", "--update-method", "magic"
    )
    assert bad.returncode == 2 and "unknown update method 'magic'" in bad.stderr


def test_outlook_uses_the_forecasts_own_interval_length(tmp_path):
    args = write_outlook_inputs(tmp_path)
    quarter = run(
        "intraday", "outlook", *args, "--as-of", "2024-03-04 10:00", "--out", str(tmp_path / "q")
    )
    hourly = tmp_path / "forecast.csv"
    starts = pd.date_range("2024-03-04 09:00", "2024-03-04 17:00", freq="60min", inclusive="left")
    pd.DataFrame({"interval_start": starts, "queue": "voice", "forecast": 16.0}).to_csv(
        hourly, index=False
    )
    hour = run(
        "intraday", "outlook", *args, "--as-of", "2024-03-04 10:00", "--out", str(tmp_path / "h")
    )
    assert quarter.returncode == 0 and hour.returncode == 0, hour.stderr
    a = pd.read_csv(tmp_path / "q" / "queues.csv")["projected_rest_service_level"].iloc[0]
    b = pd.read_csv(tmp_path / "h" / "queues.csv")["projected_rest_service_level"].iloc[0]
    assert a == pytest.approx(b, abs=0.02)  # 16 an hour is 4 a quarter: the same load


def test_a_supervisor_approves_an_exception_and_the_log_only_grows(tmp_path):
    states, shifts, mapping = write_day(tmp_path, GOOD)
    log = tmp_path / "resolutions.csv"
    base = [
        "intraday",
        "adherence",
        "--states",
        str(states),
        "--schedule",
        str(shifts),
        "--mapping",
        str(mapping),
        "--date",
        "2024-03-04",
        "--resolutions",
        str(log),
    ]
    first = run(
        *base,
        "--approve",
        "a@2024-03-04T09:00:00",
        "--by",
        "sam",
        "--note",
        "bus late",
        "--out",
        str(tmp_path / "o1"),
    )
    assert first.returncode == 0, first.stderr
    by_day = pd.read_csv(tmp_path / "o1" / "by_day.csv").set_index("agent_id")
    assert by_day.loc["a", "adherence"] == pytest.approx(1 - 10 / 70)  # only the extra 10 min
    second = run(*base, "--set-neutral", "a@2024-03-04T10:00:00", "--out", str(tmp_path / "o2"))
    assert second.returncode == 0, second.stderr
    rows = pd.read_csv(log)
    assert list(rows["resolution"]) == ["approved", "neutral"] and rows["by"][0] == "sam"
    unknown = run(*base, "--approve", "a@2024-03-04T11:11:11")
    assert unknown.returncode == 2 and "unknown exception" in unknown.stderr
    assert len(pd.read_csv(log)) == 2  # nothing written on error


UTC_STATES = (
    "Agent,When,Status,Aux\n"
    "a,2024-03-04T08:10:00Z,available,\n"
    "b,2024-03-04T08:00:00Z,available,\n"
    "a,2024-03-04T09:10:00Z,logged_out,\n"
    "ghost,2024-03-04T08:00:00Z,available,\n"
    "b,2024-03-04T11:00:00Z,not_ready,lunch\n"
    "b,2024-03-04T11:30:00Z,available,\n"
    "b,2024-03-04T16:00:00Z,logged_out,\n"
)


def _by_day(tmp_path: Path, states_text: str, *extra: str, schedule: Path | None = None):
    tmp_path.mkdir()
    done, out = run_adherence(tmp_path, states_text, *extra, schedule=schedule)
    assert done.returncode == 0, done.stderr
    columns = ["scheduled_s", "out_s", "adherence"]
    return pd.read_csv(out / "by_day.csv").set_index("agent_id")[columns]


def test_adherence_timezone_converts_utc_state_and_schedule_times(tmp_path):
    local = _by_day(tmp_path / "local", GOOD)
    # the ACD exports in UTC, the schedule is in the center's local time (UTC+1 in March)
    zoned = _by_day(tmp_path / "utc", UTC_STATES, "--timezone", "Europe/Amsterdam")
    pd.testing.assert_frame_equal(zoned, local)
    # without the zone each state time keeps its own wall clock: an hour early
    unzoned = _by_day(tmp_path / "wall", UTC_STATES)
    assert unzoned.loc["a", "adherence"] < local.loc["a", "adherence"]
    # a schedule file with offsets is converted to the same zone
    plan = tmp_path / "plan.csv"
    plan.write_text(
        "agent_id,start,end,activity\n"
        "a,2024-03-04T08:00:00Z,2024-03-04T09:00:00Z,shift\n"
        "b,2024-03-04T08:00:00Z,2024-03-04T11:00:00Z,shift\n"
        "b,2024-03-04T11:00:00Z,2024-03-04T11:30:00Z,lunch\n"
        "b,2024-03-04T11:30:00Z,2024-03-04T16:00:00Z,shift\n"
    )
    both = _by_day(tmp_path / "plan", UTC_STATES, "--timezone", "Europe/Amsterdam", schedule=plan)
    pd.testing.assert_frame_equal(both, local)
    (tmp_path / "bad").mkdir()
    states, shifts, _ = write_day(tmp_path / "bad", GOOD)
    done = run("intraday", "adherence", "--states", str(states), "--schedule", str(shifts),
               "--date", "2024-03-04", "--timezone", "Mars/Olympus")  # fmt: skip
    assert done.returncode == 2 and done.stderr.startswith("openwfm: error: --timezone: unknown")

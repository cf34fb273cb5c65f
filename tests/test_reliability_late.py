"""Reliability sweep, rows in the simulator, the scheduler and the plan.

Rows A2 (plan mixing two histories), A7 (plan outputs as one set), B1/C19 (memory guard),
B6/D8 (offsets in rates and schedules), B7-B9/B11/B12/B15/B16 (simulate options), C2, C6, C7,
C8, C9, C10, C11, D3, D10, D16 of ``shared/reliability/cli-sweep.md``.
"""

from __future__ import annotations

import pandas as pd
import pytest

import openwfm.plan.pipeline
import openwfm.schedule.solver
from _cli import one_error_line, run
from openwfm.data.store import InteractionStore
from openwfm.data.synthetic import generate_interactions
from openwfm.errors import ParameterError
from openwfm.scenario import example_path, load_scenario

CENTER = example_path()
SCHEDULE_SECTION = """
schedule:
  shift_templates:
    - {name: early, earliest_start: "08:00", latest_start: "10:00", lengths_min: [240, 360, 480]}
    - {name: late, earliest_start: "11:00", latest_start: "12:00", lengths_min: [240, 360, 480]}
"""


def _rates(tmp_path, rows, name="rates.csv"):
    path = tmp_path / name
    path.write_text("interval_start,queue,arrival_rate_per_s\n" + "".join(r + "\n" for r in rows))
    return path


# ----------------------------------------------------------------------------- simulate


def test_b1_c19_the_memory_guard_refuses_before_simulating(tmp_path, monkeypatch, capsys):
    huge = _rates(tmp_path, ["2026-11-02 08:00:00,chat,1000000.0", "2026-11-02 08:15:00,chat,0.1"])
    code, out, err = run(monkeypatch, capsys, "simulate", CENTER, "--arrivals", huge, "-r", "2")
    one_error_line(code, err, "--arrivals", "contacts per second")
    code, out, err = run(monkeypatch, capsys, "simulate", CENTER, "-r", "100000", "--days", "1")
    one_error_line(code, err, "--replications", "at most")


def test_b6_d8_offsets_in_rates_and_schedules(tmp_path, monkeypatch, capsys):
    rates = _rates(
        tmp_path,
        ["2026-11-02T08:00:00+01:00,chat,0.05", "2026-11-02T08:15:00+01:00,chat,0.05"],
    )
    out = tmp_path / "sim"
    code, stdout, err = run(
        monkeypatch, capsys, "simulate", CENTER, "--arrivals", rates, "-r", "2", "--days", "1",
        "--out", out,
    )  # fmt: skip
    assert code == 0, err
    intervals = pd.read_csv(out / "intervals.csv")
    offered = intervals[(intervals["queue"] == "chat") & (intervals["segment"] == "all")]
    busy = offered[offered["offered"] > 0]["interval_start"]
    assert busy.min().startswith("2026-11-02 08:")  # 08:00+01:00 is 08:00 in Amsterdam
    schedule = tmp_path / "sh_tz.csv"
    schedule.write_text(
        "agent,start,end,activity\nAva,2026-11-02 08:00+01:00,2026-11-02 12:00+01:00,voice\n"
        "Ava,2026-11-02 13:00,2026-11-02 16:00,voice\n"
    )
    code, stdout, err = run(
        monkeypatch, capsys, "simulate", CENTER, "--schedule", schedule, "--start",
        "2026-11-02", "--days", "1", "-r", "2",
    )  # fmt: skip
    one_error_line(code, err, f"{schedule}:2", "start")


def test_c2_arrivals_outside_the_simulated_days(tmp_path, monkeypatch, capsys):
    rates = _rates(tmp_path, ["2026-11-02 08:00:00,chat,0.1"])
    code, out, err = run(
        monkeypatch, capsys, "simulate", CENTER, "--arrivals", rates, "--start", "2030-01-01",
        "--days", "3", "-r", "2",
    )  # fmt: skip
    one_error_line(code, err, "--start", "outside")


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (("--seed", "-1"), "--seed"),
        (("--start", "1600-01-01", "--days", "1"), "--start"),
        (("--start", "2262-04-10", "--days", "3"), "--start"),
        (("--start", "2199-12-01", "--days", "30000"), "--days"),
        (("--arrivals", "."), "--arrivals"),
        (("--days", "1", "--scheduler", "tcp://127.0.0.1:9"), "--scheduler"),
    ],
)
def test_b11_b12_b15_b16_simulate_options(monkeypatch, capsys, args, flag):
    code, out, err = run(monkeypatch, capsys, "simulate", CENTER, "-r", "2", *args)
    one_error_line(code, err, flag)


def test_b7_b8_simulate_out_must_be_a_folder(tmp_path, monkeypatch, capsys):
    plain = tmp_path / "gen1.csv"
    plain.write_text("x\n")
    for out in (plain, plain / "sub"):
        code, stdout, err = run(
            monkeypatch, capsys, "simulate", CENTER, "--days", "1", "-r", "2", "--out", out
        )
        one_error_line(code, err, "--out")
    assert plain.read_text() == "x\n"


def test_c11_confidence_intervals_stay_in_the_metric_domain(tmp_path, monkeypatch, capsys):
    out = tmp_path / "sim"
    code, stdout, err = run(
        monkeypatch, capsys, "simulate", CENTER, "--days", "1", "-r", "2", "--out", out
    )
    assert code == 0, err
    intervals = pd.read_csv(out / "intervals.csv")
    lows = [c for c in intervals.columns if c.endswith("_ci_low")]
    assert (intervals[lows].fillna(0) >= 0).all().all()
    for metric in ("service_level", "abandon_rate", "p_wait"):
        assert (intervals[f"{metric}_ci_high"].fillna(0) <= 1).all()
    # two replications of a tiny interval give a wide interval: it is clipped, not negative
    assert (intervals["offered_ci_low"] == 0).any()


# ----------------------------------------------------------------------------- schedule


@pytest.fixture(scope="module")
def schedule_inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sched")
    scenario = folder / "cs.yaml"
    scenario.write_text(CENTER.read_text() + SCHEDULE_SECTION)
    from openwfm.forecast.history import history_from_interactions
    from openwfm.staffing import requirements

    frame = generate_interactions(load_scenario(CENTER), pd.Timestamp("2026-10-26").date(), 1, 1)
    history = history_from_interactions(frame, 15)
    forecast = history.rename(columns={"offered": "forecast"})
    table = requirements(forecast, load_scenario(CENTER))
    table.to_csv(folder / "req.csv", index=False)
    return scenario, folder / "req.csv"


@pytest.mark.parametrize(
    ("column", "value", "field"),
    [
        ("interval_start", "garbage", "interval_start"),
        ("required_agents", "inf", "required_agents"),
        ("queue", "fax", "queue"),
    ],
)
def test_b14_c10_bad_requirement_rows_are_refused_before_solving(
    schedule_inputs, tmp_path, monkeypatch, capsys, column, value, field
):
    scenario, req = schedule_inputs
    table = pd.read_csv(req, dtype=str)
    table.loc[0, column] = value
    bad = tmp_path / "bad.csv"
    table.to_csv(bad, index=False)
    code, out, err = run(
        monkeypatch, capsys, "schedule", scenario, "--requirements", bad, "--time-limit", "5",
        "--out", tmp_path / "s.csv",
    )  # fmt: skip
    one_error_line(code, err, f"{bad}:2", field)


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (("--time-limit", "nan"), "--time-limit"),
        (("--start", "1999-01-01", "--time-limit", "5"), "--start"),
    ],
)
def test_c6_c8_schedule_options(schedule_inputs, tmp_path, monkeypatch, capsys, args, flag):
    scenario, req = schedule_inputs
    code, out, err = run(
        monkeypatch, capsys, "schedule", scenario, "--requirements", req, "--out",
        tmp_path / "s.csv", *args,
    )  # fmt: skip
    one_error_line(code, err, flag)


def test_b7_schedule_checks_its_output_before_solving(
    schedule_inputs, tmp_path, monkeypatch, capsys
):
    scenario, req = schedule_inputs
    folder = tmp_path / "isdir.csv"
    folder.mkdir()
    code, out, err = run(
        monkeypatch, capsys, "schedule", scenario, "--requirements", req, "--out", folder
    )
    one_error_line(code, err, "--out", "folder")


def test_c7_a_timeout_states_the_users_limit(schedule_inputs, tmp_path, monkeypatch, capsys):
    scenario, req = schedule_inputs

    def timed_out(*args, **kwargs):  # a solver step that ran out of its 1-second share
        raise openwfm.schedule.solver.ScheduleTimeoutError(
            "no schedule found within the time limit of 1 s; raise --time-limit",
            field="time_limit",
        )

    monkeypatch.setattr(openwfm.schedule.solver, "_run", timed_out)
    code, out, err = run(
        monkeypatch, capsys, "schedule", scenario, "--requirements", req, "--time-limit", "5",
        "--out", tmp_path / "s.csv",
    )  # fmt: skip
    one_error_line(code, err, "--time-limit", "time limit of 5 s")


def test_c9_nobody_works_on_a_closed_day(schedule_inputs, tmp_path, monkeypatch, capsys):
    scenario, req = schedule_inputs
    out = tmp_path / "s.csv"
    code, stdout, err = run(
        monkeypatch, capsys, "schedule", scenario, "--requirements", req, "--weeks", "1",
        "--time-limit", "30", "--deterministic", "--out", out,
    )  # fmt: skip
    assert code == 0, err
    shifts = pd.read_csv(out)
    assert len(shifts) > 0
    assert not (pd.to_datetime(shifts["date"]).dt.weekday == 6).any()  # sun: null


# ----------------------------------------------------------------------------- plan


@pytest.fixture(scope="module")
def histories(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hist")
    scenario = load_scenario(CENTER)
    paths = []
    for seed in (11, 12):
        frame = generate_interactions(scenario, pd.Timestamp("2026-01-05").date(), 3, seed)
        path = folder / f"hist{seed}.csv"
        frame.to_csv(path, index=False)
        paths.append((path, len(frame)))
    return paths


def _stop_at_schedule(*args, **kwargs):
    raise ParameterError("stopped after the history stage (test)", field="--time-limit")


def test_a2_plan_twice_into_one_folder_keeps_only_the_second_history(
    histories, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(openwfm.plan.pipeline, "_schedule", _stop_at_schedule)
    out = tmp_path / "planh"
    for path, rows in histories:
        code, stdout, err = run(
            monkeypatch, capsys, "plan", CENTER, "--history", path, "--weeks", "1",
            "--out", out, "--time-limit", "20", "--replications", "2",
        )  # fmt: skip
        one_error_line(code, err, "stopped after the history stage")
        with InteractionStore(out / "openwfm.duckdb", read_only=True) as store:
            assert store.count() == rows


def test_d10_d16_plan_history_and_format_options(histories, tmp_path, monkeypatch, capsys):
    out = tmp_path / "X"
    store = tmp_path / "bank.duckdb"
    with InteractionStore(store) as opened:
        opened.ingest(pd.read_csv(histories[0][0]).head(10).astype({"wait_s": float}))
    code, stdout, err = run(
        monkeypatch, capsys, "plan", CENTER, "--history", store, "--history", histories[0][0],
        "--out", out,
    )  # fmt: skip
    one_error_line(code, err, "--history", "one store")
    assert not (out / "openwfm.duckdb").exists()
    code, stdout, err = run(monkeypatch, capsys, "plan", CENTER, "--format", "bogus", "--out", out)
    one_error_line(code, err, "--format", "bogus")
    for args in (("--seed", "-1"), ("--time-limit", "nan")):
        code, stdout, err = run(monkeypatch, capsys, "plan", CENTER, "--out", out, *args)
        one_error_line(code, err, args[0])


def test_a7_a_plan_that_fails_while_writing_leaves_the_previous_set(tmp_path, monkeypatch, capsys):
    out = tmp_path / "planc"
    # a work budget, not wall seconds (the same plan on a busy machine); a small one and no
    # correction rounds: what is tested is the writing, and a 30 s budget with the two default
    # rounds ran three schedules per plan (over 10 CPU minutes for the test)
    args = (
        "plan", CENTER, "--weeks", "1", "--out", out, "--time-limit", "4", "--deterministic",
        "--correction-rounds", "0",
    )  # fmt: skip
    code, stdout, err = run(monkeypatch, capsys, *args, "--replications", "2")
    assert code == 0, err
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert {"report.html", "summary.json", "forecast.csv"} <= set(before)

    import openwfm.plan.summary

    def killed(*args, **kwargs):  # the run dies after the report is built, before the summary
        raise KeyboardInterrupt

    monkeypatch.setattr(openwfm.plan.summary, "summary_text", killed)
    code, stdout, err = run(monkeypatch, capsys, *args, "--replications", "3")
    assert code == 130
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert after == before  # the old set, whole: no new report.html beside the old summary
    assert not [p for p in out.iterdir() if p.name.startswith(".report-")]


@pytest.mark.parametrize("command", ["plan", "demo", "simulate"])
def test_b9_read_only_output_folders_are_refused_first(tmp_path, monkeypatch, capsys, command):
    import os

    import openwfm.io

    readonly = tmp_path / "rodir"
    readonly.mkdir()
    real_access = os.access
    monkeypatch.setattr(
        openwfm.io.os,
        "access",
        lambda path, mode: False if str(path) == str(readonly) else real_access(path, mode),
    )
    target = readonly / "out"
    args = {
        "plan": ("plan", CENTER, "--out", target),
        "demo": ("demo", "--out", target),
        "simulate": ("simulate", CENTER, "--days", "1", "-r", "2", "--out", target),
    }[command]
    code, out, err = run(monkeypatch, capsys, *args)
    one_error_line(code, err, "--out", "not writable")
    assert list(readonly.iterdir()) == []

"""A newcomer following the README: its commands as written and the mistakes they make.

Each test runs the CLI in a subprocess, as a user does.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

NO_SCHEDULE_SCENARIO = """
queues: [{name: voice, aht_s: 300}]
contracts: [{name: ft, min_minutes_per_week: 1800, max_minutes_per_week: 2400,
             shift_lengths_min: [480]}]
agent_groups: [{name: team, count: 3, skills: {voice: 1}, contract: ft}]
"""


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "openwfm", *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=cwd,
    )


def one_error_line(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("openwfm: error: "), lines[0]
    return lines[0]


def test_schedule_without_schedule_section_uses_the_plans_templates(tmp_path):
    """README: `openwfm schedule center.yaml --requirements req.csv`; the example center has no
    `schedule:` section, and `plan` gives such scenarios hourly start templates: so does
    `schedule` (it refused before)."""
    scenario = tmp_path / "center.yaml"
    scenario.write_text(NO_SCHEDULE_SCENARIO)
    starts = [
        t
        for d in range(5)
        for t in pd.date_range(
            pd.Timestamp("2026-01-05") + pd.Timedelta(days=d, hours=8), periods=40, freq="15min"
        )
    ]
    requirements = tmp_path / "req.csv"
    pd.DataFrame({"interval_start": starts, "queue": "voice", "required_agents": 2}).to_csv(
        requirements, index=False
    )
    out = tmp_path / "s.csv"
    done = run(
        "schedule",
        str(scenario),
        "--requirements",
        str(requirements),
        "--weeks",
        "1",
        "--time-limit",
        "5",
        "--deterministic",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    assert "no 'schedule' section" in done.stdout
    shifts = pd.read_csv(out)
    assert len(shifts) > 0
    assert shifts["breaks"].str.contains("lunch").all()
    # bad input with such a scenario is still one line (no note before it)
    one_error_line(
        run("schedule", str(scenario), "--requirements", str(requirements), "--weeks", "9")
    )


def test_forecast_history_too_short_names_the_rule_and_the_way_out(tmp_path):
    """A KPI table of a real center has a queue seen on a few days only: the error says what
    is needed (days with data, not only days spanned) and how to leave the queue out."""
    rows = []
    for day in pd.date_range("2026-01-05", periods=60, freq="D"):
        for slot in pd.date_range(day + pd.Timedelta(hours=8), periods=20, freq="30min"):
            rows.append((slot, "main", 10))
            if day.day == 5:
                rows.append((slot, "rare", 1))
    history = tmp_path / "history.csv"
    pd.DataFrame(rows, columns=["interval_start", "queue", "offered"]).to_csv(history, index=False)
    out = tmp_path / "forecast.csv"
    line = one_error_line(
        run("forecast", "--history", str(history), "--horizon-days", "7", "--out", str(out))
    )
    assert "'rare'" in line and "7 of them with data" in line and "--queue" in line
    assert not out.exists()
    done = run(
        "forecast",
        "--history",
        str(history),
        "--horizon-days",
        "7",
        "--out",
        str(out),
        "--queue",
        "main",
    )
    assert done.returncode == 0, done.stderr
    assert set(pd.read_csv(out)["queue"]) == {"main"}


def test_erlang_negative_volume_names_the_flag_given():
    """`--calls-per-interval -100` is reported as that flag and value, not as a converted
    per-second rate under a flag the user did not type."""
    for extra in ([], ["--patience-s", "120", "--retrial-probability", "0.5"]):
        line = one_error_line(
            run("erlang", "--calls-per-interval", "-100", "--aht-s", "180", *extra)
        )
        assert "--calls-per-interval" in line and "-100" in line, line
        assert "--arrival-rate-per-s" not in line
    line = one_error_line(run("erlang", "--arrival-rate-per-s", "-0.5", "--aht-s", "180"))
    assert "--arrival-rate-per-s" in line and "-0.5" in line


def test_staff_unknown_queue_names_the_line(tmp_path):
    """A forecast row of a queue the scenario lacks: file, line and field (README: bad input
    names the file, line and field)."""
    scenario = tmp_path / "center.yaml"
    scenario.write_text(NO_SCHEDULE_SCENARIO)
    starts = pd.date_range("2026-01-05 08:00", periods=8, freq="15min")
    table = pd.DataFrame({"interval_start": starts, "queue": "voice", "forecast": 10.0})
    table.loc[5, "queue"] = "sms"
    forecast = tmp_path / "forecast.csv"
    table.to_csv(forecast, index=False)
    out = tmp_path / "req.csv"
    line = one_error_line(
        run("staff", str(scenario), "--forecast", str(forecast), "--out", str(out))
    )
    assert f"{forecast}:7: queue: unknown queue 'sms'" in line, line
    assert not out.exists()


def test_simulate_out_where_nothing_can_be_written_is_one_line(tmp_path):
    """`simulate --out` into a folder that cannot be made (here under /proc, where even root
    cannot create files): one line naming the path, exit 2, no traceback."""
    scenario = Path(__file__).parents[1] / "examples" / "center.yaml"
    line = one_error_line(
        run("simulate", str(scenario), "-r", "1", "--days", "1", "--out", "/proc/openwfm-sim")
    )
    assert "/proc/openwfm-sim" in line and "--out" in line, line


def test_simulate_schedule_of_no_known_shape_lists_the_shapes(tmp_path):
    """A schedule file without its `agent` column (say, cut from the activity grid): the error
    lists the three shapes `--schedule` reads and the columns the file has."""
    scenario = Path(__file__).parents[1] / "examples" / "center.yaml"
    schedule = tmp_path / "activities.csv"
    pd.DataFrame({"interval_start": ["2024-01-01T08:00"], "activity": ["voice"]}).to_csv(
        schedule, index=False
    )
    line = one_error_line(
        run("simulate", str(scenario), "-r", "1", "--days", "1", "--schedule", str(schedule))
    )
    assert str(schedule) in line and "activity grid (agent, interval_start, activity)" in line
    assert "the file has interval_start, activity" in line, line


def test_kpi_names_queues_the_scenario_does_not_have(tmp_path):
    """`kpi --scenario` measures each queue against its own target; a queue of the store the
    scenario does not name falls back to --target-s: said on stderr, not silently."""
    log = tmp_path / "log.csv"
    log.write_text(
        "interaction_id,arrival_time,queue,channel,wait_s,handle_s,outcome\n"
        "1,2026-01-05T08:01:00,voice,voice,5,100,answered\n"
        "2,2026-01-05T08:02:00,sales,voice,5,100,answered\n"
    )
    store = tmp_path / "s.duckdb"
    assert run("ingest", str(log), "--format", "csv", "--store", str(store)).returncode == 0
    scenario = tmp_path / "one.yaml"
    scenario.write_text("queues: [{name: voice, aht_s: 300}]\n")
    out = tmp_path / "k.csv"
    done = run("kpi", "--store", str(store), "--scenario", str(scenario), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "sales" in done.stderr and "--target-s 20" in done.stderr
    assert "voice" not in done.stderr.split("not in")[0]
    assert set(pd.read_csv(out)["queue"]) == {"voice", "sales"}


def one_contact_store(tmp_path: Path) -> Path:
    """A store holding one answered voice contact (Ava's), ingested through the CLI."""
    log = tmp_path / "log.csv"
    log.write_text(
        "interaction_id,arrival_time,queue,channel,wait_s,handle_s,outcome,agent\n"
        "1,2026-01-05T08:01:00,voice,voice,5,100,answered,Ava\n"
    )
    store = tmp_path / "s.duckdb"
    assert run("ingest", str(log), "--format", "csv", "--store", str(store)).returncode == 0
    return store


def test_group_command_errors_name_the_flag(tmp_path):
    """A command of a group (`quality sample`) names its flag (`--per-stratum`), not the
    Python parameter (`per_stratum`), as the top-level commands do."""
    store = one_contact_store(tmp_path)
    out = tmp_path / "review.csv"
    line = one_error_line(
        run("quality", "sample", "--per-stratum", "-5", "--store", str(store), "--out", str(out))
    )
    assert line.startswith("openwfm: error: --per-stratum:"), line
    assert not out.exists()


def test_a_log_file_given_as_the_store_is_named_as_such(tmp_path):
    """`kpi --store log.csv` (the log instead of the store ingest made): one line saying it is
    not a DuckDB store, not DuckDB's message about in-memory databases; the file is left as
    it was."""
    log = tmp_path / "log.csv"
    text = (
        "interaction_id,arrival_time,queue,channel,wait_s,handle_s,outcome\n"
        "1,2026-01-05T08:01:00,voice,voice,5,100,answered\n"
    )
    log.write_text(text)
    for args in (["kpi", "--store", str(log)], ["ingest", str(log), "--store", str(log)]):
        line = one_error_line(run(*args))
        assert f"{log}: not a DuckDB store" in line, line
    assert log.read_text() == text


def test_mapping_option_without_columns_section_says_where_it_goes(tmp_path):
    """A log without a queue column: the error says how to name one queue for the file, and a
    mapping file written `queue: voice` (no `columns:` section, so read as a column map) says
    the option goes beside `columns:`; with it, the log is stored."""
    log = tmp_path / "log.csv"
    log.write_text(
        "interaction_id,arrival_time,channel,wait_s,handle_s,outcome\n"
        "1,2026-01-05T08:01:00,voice,5,100,answered\n"
    )
    store = tmp_path / "s.duckdb"
    line = one_error_line(run("ingest", str(log), "--format", "csv", "--store", str(store)))
    assert "`queue:` beside `columns:` in the --mapping file" in line, line
    flat = tmp_path / "flat.yaml"
    flat.write_text("queue: voice\n")
    args = ("ingest", str(log), "--format", "csv", "--store", str(store), "--mapping")
    line = one_error_line(run(*args, str(flat)))
    assert f"{flat}: queue:" in line and "under `columns:`" in line, line
    assert not store.exists()
    nested = tmp_path / "nested.yaml"
    nested.write_text("columns: {}\nqueue: voice\n")
    assert run(*args, str(nested)).returncode == 0


def test_a_flag_is_named_once(tmp_path):
    """`kpi --interval 7`: the flag leads the line once (it read `--interval: --interval must
    be one of ...`)."""
    store = one_contact_store(tmp_path)
    line = one_error_line(run("kpi", "--interval", "7", "--store", str(store)))
    assert line.count("--interval") == 1 and "5, 6, 15, 30, 60" in line, line


def test_an_option_typer_refuses_is_named_once():
    """`simulate -r 0`: `--replications: ...`, not `--replications/-r: Invalid value for
    '--replications' / '-r': ...`; `--days -1` leads with its flag too."""
    scenario = str(Path(__file__).parents[1] / "examples" / "center.yaml")
    line = one_error_line(run("simulate", scenario, "-r", "0"))
    assert line.startswith("openwfm: error: --replications: ") and "Invalid value" not in line
    assert line.count("--replications") == 1, line
    line = one_error_line(run("simulate", scenario, "--days", "-1"))
    assert line.startswith("openwfm: error: --days: "), line


def serve_error(tmp_path: Path, *options: str) -> str:
    """``openwfm serve`` with a bad option: one line naming it, and no store file made."""
    import os

    (tmp_path / "examples").mkdir(exist_ok=True)
    (tmp_path / "examples" / "center.yaml").write_text(
        (Path(__file__).parents[1] / "examples" / "center.yaml").read_text()
    )
    env = {**os.environ, "OPENWFM_ADMIN_KEY": "walk-admin-key"}
    done = subprocess.run(
        [sys.executable, "-m", "openwfm", "serve", "examples/center.yaml", "--store", "", *options],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
        env=env,
    )
    line = one_error_line(done)
    assert not (tmp_path / "openwfm-router.db").exists()
    return line


def test_serve_refuses_an_unsupported_database_url(tmp_path):
    line = serve_error(tmp_path, "--db", "mysql://user@localhost/router")
    assert "--db" in line and "mysql://" in line


def test_serve_refuses_a_port_out_of_range(tmp_path):
    for port in ("-5", "99999"):
        assert "--port" in serve_error(tmp_path, "--port", port)


def test_serve_names_db_when_the_sqlite_file_cannot_be_opened(tmp_path):
    missing = tmp_path / "no-such-folder" / "router.db"
    line = serve_error(tmp_path, "--db", f"sqlite:///{missing}")
    assert "--db" in line and "cannot open" in line


def test_plan_with_a_bad_history_file_leaves_no_out_folder(tmp_path):
    history = tmp_path / "history.csv"
    history.write_text("when,line\n2024-01-01,voice\n")
    out = tmp_path / "plan-out"
    line = one_error_line(
        run(
            "plan",
            str(Path(__file__).parents[1] / "examples" / "center.yaml"),
            "--history",
            str(history),
            "--out",
            str(out),
            "--deterministic",
        )
    )
    assert "history.csv" in line
    assert not out.exists()

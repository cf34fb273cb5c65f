"""`openwfm schedule` end to end: files written, bad input one line and exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

SCENARIO = """
queues: [{name: voice, aht_s: 300}]
contracts: [{name: ft, min_minutes_per_week: 1800, max_minutes_per_week: 2400,
             shift_lengths_min: [480]}]
agent_groups: [{name: team, count: 3, skills: {voice: 1}, contract: ft}]
schedule:
  shift_templates:
    - {name: day, earliest_start: "08:00", latest_start: "10:00", start_increment_min: 60,
       lengths_min: [480], breaks: [{name: lunch, length_min: 30, earliest_after_start_min: 180,
       latest_after_start_min: 300, paid: false}]}
"""


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "openwfm", *args], capture_output=True, text=True, timeout=120
    )


def write_inputs(tmp_path: Path) -> tuple[Path, Path]:
    scenario = tmp_path / "center.yaml"
    scenario.write_text(SCENARIO)
    starts = [
        t
        for d in range(7)
        for t in pd.date_range(
            pd.Timestamp("2026-01-05") + pd.Timedelta(days=d, hours=8), periods=40, freq="15min"
        )
    ]
    requirements = tmp_path / "req.csv"
    pd.DataFrame(
        {"interval_start": starts, "queue": "voice", "required_agents": 2, "model": "erlang_c"}
    ).to_csv(requirements, index=False)
    return scenario, requirements


def test_schedule_command_writes_every_table(tmp_path):
    scenario, requirements = write_inputs(tmp_path)
    out = tmp_path / "plan" / "s.csv"
    html = tmp_path / "plan" / "s.html"
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
        "--html",
        str(html),
    )
    assert done.returncode == 0, done.stderr
    shifts = pd.read_csv(out)
    assert {"agent", "date", "shift_start", "shift_end", "breaks"} <= set(shifts.columns)
    assert shifts["breaks"].str.contains("lunch").all()
    coverage = pd.read_csv(tmp_path / "plan" / "s.coverage.csv")
    assert {"queue", "interval_start", "required", "scheduled", "under", "over"} <= set(
        coverage.columns
    )
    assert (pd.read_csv(tmp_path / "plan" / "s.rules.csv")["violated"] >= 0).all()
    assert "plotly" in html.read_text()[:200000].lower()


def test_bad_requirements_column_is_one_line_exit_2(tmp_path):
    scenario, requirements = write_inputs(tmp_path)
    pd.read_csv(requirements).drop(columns="required_agents").to_csv(requirements, index=False)
    out = tmp_path / "s.csv"
    done = run("schedule", str(scenario), "--requirements", str(requirements), "--out", str(out))
    assert done.returncode == 2
    assert "required_agents" in done.stderr and str(requirements) in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not out.exists()

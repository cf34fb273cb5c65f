"""A plan whose schedule stage finds no schedule still reports: forecast, requirement, why."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from openwfm.plan import run_plan
from openwfm.scenario import parse_scenario
from test_plan import small_center

# 3,400 minutes a week from 8-hour shifts (3,360 at most on seven days): no schedule
IMPOSSIBLE = small_center(3).replace(
    "min_minutes_per_week: 0, max_minutes_per_week: 2400",
    "min_minutes_per_week: 3400, max_minutes_per_week: 3600",
)


def test_plan_without_a_schedule_writes_a_partial_report(tmp_path):
    result = run_plan(
        parse_scenario(IMPOSSIBLE, source="impossible.yaml"),
        weeks=1,
        out_dir=tmp_path / "plan",
        time_limit_s=2,
        deterministic=True,
        replications=2,
        progress=False,
    )
    summary = result.summary
    assert summary["verdict"] == "no schedule"
    assert result.stages["schedule"].startswith("failed: ")
    assert "min_minutes_per_week" in result.stages["schedule"]  # the contradiction is named
    assert any(reason.startswith("schedule stage:") for reason in summary["why"])
    assert any("what to do" in reason for reason in summary["why"])
    for name in ("forecast.csv", "requirements.csv", "summary.json", "report.html"):
        assert (result.out_dir / name).stat().st_size > 0, name
    assert not (result.out_dir / "schedule.csv").exists()
    assert "no schedule" in (result.out_dir / "report.html").read_text()


def test_cli_prints_the_partial_summary_and_exits_1(tmp_path):
    scenario = tmp_path / "impossible.yaml"
    scenario.write_text(IMPOSSIBLE)
    out = tmp_path / "out"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "openwfm",
            "plan",
            str(scenario),
            "--weeks",
            "1",
            "--out",
            str(out),
            "--time-limit",
            "2",
            "--deterministic",
            "--replications",
            "2",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1, done.stderr
    assert "VERDICT: no schedule" in done.stdout
    assert "openwfm: error" not in done.stderr
    assert json.loads((out / "summary.json").read_text())["verdict"] == "no schedule"


def test_a_plan_without_simulation_or_schedule_failure_has_no_summary(tmp_path):
    # a found schedule is always simulated (run_plan); no other outcome has a verdict
    from typing import get_args

    from openwfm.plan.pipeline import PlanResult
    from openwfm.plan.summary import Verdict, plan_summary
    from openwfm.scenario import example_path, load_scenario

    assert "unavailable" not in get_args(Verdict)
    with pytest.raises(ValueError, match="simulated schedule or a schedule failure"):
        plan_summary(
            load_scenario(example_path()),
            PlanResult(out_dir=tmp_path, report_path=None),
            weeks=1,
            replications=2,
            history_source="none",
        )

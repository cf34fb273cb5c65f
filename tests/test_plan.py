"""openwfm plan: end to end on a small center, the understaffed flag, caching, the CLI contract."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from openwfm.plan import run_plan
from openwfm.scenario import parse_scenario
from openwfm.sim.uncertainty import sample_rate_factors


def small_center(agents: int) -> str:
    """One voice queue, Mon-Fri 09:00-17:00 on 30-minute intervals, ``agents`` full-timers.

    Load: 320 calls a day of 180 s, about 2 Erlangs at the peak: four or five agents on line
    meet 80% in 20 s, eight comfortably do, two cannot.
    """
    names = "".join(
        f"  - {{name: a{i}, skills: {{voice: 1.0}}, contract: full_time}}\n" for i in range(agents)
    )
    return f"""
name: small center
shrinkage: 0.0
grid:
  interval_minutes: 30
  timezone: UTC
  opening_hours:
    mon: {{open: "09:00", close: "17:00"}}
    tue: {{open: "09:00", close: "17:00"}}
    wed: {{open: "09:00", close: "17:00"}}
    thu: {{open: "09:00", close: "17:00"}}
    fri: {{open: "09:00", close: "17:00"}}
queues:
  - name: voice
    aht_s: 180
    patience_s: 300
    target: {{service_level: 0.80, within_s: 20, max_abandon: 0.10}}
    demand: {{contacts_per_day: 320, peaks: {{"11:00": 1.0, "15:00": 0.8}}}}
contracts:
  - {{name: full_time, min_minutes_per_week: 0, max_minutes_per_week: 2400,
      shift_lengths_min: [480], hourly_cost: 25}}
agents:
{names}"""


def plan(tmp_path, agents: int, name: str):
    scenario = parse_scenario(small_center(agents), source=f"{name}.yaml")
    return run_plan(
        scenario,
        weeks=1,
        out_dir=tmp_path / name,
        time_limit_s=5,
        deterministic=True,
        replications=6,
        seed=3,
        progress=False,
    )


@pytest.fixture(scope="module")
def staffed(tmp_path_factory):
    return plan(tmp_path_factory.mktemp("plan"), 8, "staffed")


def test_staffed_plan_meets_its_targets_in_simulation(staffed):
    summary = staffed.summary
    assert summary["verdict"] in ("met", "met within CI"), summary["headline"]
    statuses = {(t["queue"], t["metric"]): t["status"] for t in summary["targets"]}
    assert statuses[("voice", "service_level")] in ("met", "within CI")
    assert all(status != "missed" for status in statuses.values())
    sim = staffed.simulation_summary
    row = sim[(sim["queue"] == "voice") & (sim["segment"] == "all")].iloc[0]
    assert row["service_level_ci_high"] >= 0.80


def test_plan_writes_its_tables_and_every_requirement_names_its_model(staffed):
    out = staffed.out_dir
    for name in (
        "forecast.csv",
        "requirements.csv",
        "schedule.csv",
        "coverage.csv",
        "simulation.csv",
        "summary.json",
        "report.html",
        "forecast.png",
        "coverage.png",
        "simulation.png",
        "gantt.png",
    ):
        assert (out / name).stat().st_size > 0, name
    requirements = pd.read_csv(out / "requirements.csv")
    assert requirements["model"].notna().all() and requirements["sl_definition"].notna().all()
    forecast = pd.read_csv(out / "forecast.csv")
    assert (forecast["lower_95"] <= forecast["forecast"]).all()
    assert (forecast["forecast"] <= forecast["upper_95"]).all()

    def no_nan(constant):
        raise AssertionError(f"summary.json is not strict JSON: {constant}")

    saved = json.loads((out / "summary.json").read_text(), parse_constant=no_nan)
    assert saved["verdict"] == staffed.summary["verdict"]
    rules = pd.read_csv(out / "rules.csv")
    assert {"rule", "binds", "at_limit", "violated"} <= set(rules.columns)
    # the cost is the paid hours times the contract's hourly cost
    paid = pd.read_csv(out / "schedule.csv")["paid_minutes"].sum() / 60
    assert saved["cost"]["paid_hours"] == pytest.approx(paid)
    assert saved["cost"]["cost"] == pytest.approx(25 * paid)
    html = (out / "report.html").read_text()
    for heading in (
        "Summary",
        "History and forecast",
        "Requirement vs scheduled coverage",
        "Simulated service level, ASA and abandonment",
        "Agent schedule",
        "Cost",
    ):
        assert f"<h2>{heading}</h2>" in html


def test_understaffed_center_is_flagged_with_where_and_why(tmp_path):
    result = plan(tmp_path, 2, "understaffed")
    summary = result.summary
    assert summary["verdict"] == "missed"
    assert "MISSED" in summary["headline"]
    missed = [t for t in summary["targets"] if t["status"] == "missed"]
    assert any(t["metric"] == "service_level" and t["queue"] == "voice" for t in missed)
    assert summary["where"], "no intervals named"
    assert summary["where"][0]["queue"] == "voice"
    assert any(
        "under-coverage" in w["reason"] or "uncovered" in w["reason"] for w in summary["where"]
    )
    assert any("under-coverage" in reason for reason in summary["why"])
    assert "MISSED" in (result.out_dir / "summary.txt").read_text()


def test_rerun_with_same_inputs_reuses_every_stage(staffed, tmp_path):
    again = run_plan(
        parse_scenario(small_center(8), source="staffed.yaml"),
        weeks=1,
        out_dir=staffed.out_dir,
        time_limit_s=5,
        deterministic=True,
        replications=6,
        seed=3,
        progress=False,
    )
    for stage in ("history", "forecast", "staffing", "schedule", "simulation"):
        assert again.stages[stage] == "cached", stage
    pd.testing.assert_frame_equal(again.simulation_summary, staffed.simulation_summary)
    # a changed parameter recomputes the stage it feeds (and what follows), not the ones before
    changed = run_plan(
        parse_scenario(small_center(8), source="staffed.yaml"),
        weeks=1,
        out_dir=staffed.out_dir,
        time_limit_s=5,
        deterministic=True,
        replications=4,
        seed=3,
        progress=False,
    )
    assert changed.stages["schedule"] == "cached"
    assert changed.stages["simulation"] == "computed"


def test_rate_factors_reproduce_the_forecast_dispersion():
    # var(Poisson(f * G)) = f + phi f^2 when G ~ Gamma(mean 1, variance phi)
    f, phi = 40.0, 0.05
    forecast = pd.DataFrame(
        {
            "interval_start": pd.date_range("2024-01-01 09:00", periods=5, freq="D"),
            "queue": "q",
            "forecast": f,
            "dispersion": phi,
        }
    )
    factors = sample_rate_factors(forecast, 20000, np.random.default_rng(1))
    assert factors.mean() == pytest.approx(1.0, abs=0.01)
    assert factors.var() == pytest.approx(phi, rel=0.05)
    counts = np.random.default_rng(2).poisson(f * factors[:, 0])
    assert counts.var() == pytest.approx(f + phi * f**2, rel=0.06)


def test_cli_bad_weeks_is_one_line_error(tmp_path):
    args = [
        sys.executable,
        "-m",
        "openwfm",
        "plan",
        "examples/center.yaml",
        "--weeks",
        "0",
        "--out",
        str(tmp_path / "x"),
    ]
    result = subprocess.run(args, capture_output=True, text=True)
    assert result.returncode == 2
    assert "--weeks" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_cli_missing_history_file_is_one_line_error(tmp_path):
    args = [
        sys.executable,
        "-m",
        "openwfm",
        "plan",
        "examples/center.yaml",
        "--history",
        str(tmp_path / "nope.csv"),
        "--out",
        str(tmp_path / "x"),
    ]
    result = subprocess.run(args, capture_output=True, text=True)
    assert result.returncode == 2
    assert "nope.csv" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_no_pools_plans_per_queue_only(tmp_path):
    """Agents trained on two queues make a pool; --no-pools plans without it (the CLI)."""
    text = small_center(6).replace("{voice: 1.0}", "{voice: 1.0, sales: 1.0}")
    sales = (
        "  - name: sales\n    aht_s: 240\n    patience_s: 300\n"
        "    target: {service_level: 0.80, within_s: 20}\n"
        '    demand: {contacts_per_day: 120, peaks: {"12:00": 1.0}}\n'
    )
    text = text.replace("contracts:\n", sales + "contracts:\n", 1)
    center = tmp_path / "two-queues.yaml"
    center.write_text(text)
    outputs = {}
    for flag in ("--pools", "--no-pools"):
        out = tmp_path / flag.strip("-")
        done = subprocess.run(
            [sys.executable, "-m", "openwfm", "plan", str(center), "--out", str(out),
             "--time-limit", "4", "--deterministic", "--replications", "2", flag],
            capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        outputs[flag] = out
    pools = pd.read_csv(outputs["--pools"] / "pool_requirements.csv")
    assert len(pools) > 0 and pools["pool"].astype(str).str.contains("sales").all()
    assert not (outputs["--no-pools"] / "pool_requirements.csv").exists()
    assert (outputs["--no-pools"] / "verdicts.csv").stat().st_size > 0


def test_summary_prints_outbound_made_vs_asked(tmp_path):
    """A center with outbound work: the summary gives calls made (simulated) vs asked."""
    text = small_center(8).replace(
        "    patience_s: 300\n", "    patience_s: 300\n    outbound_per_hour: 6\n", 1
    )
    result = run_plan(
        parse_scenario(text, source="outbound.yaml"),
        weeks=1,
        out_dir=tmp_path / "outbound",
        time_limit_s=5,
        deterministic=True,
        replications=4,
        progress=False,
    )
    (figures,) = result.plan_summary.outbound
    # 6 an hour over the open hours of the planned week (Mon-Fri 09:00-17:00)
    assert figures.queue == "voice" and figures.asked == pytest.approx(6 * 8 * 5)
    assert 0 < figures.made <= figures.asked * 1.01
    assert figures.ci_low <= figures.made <= figures.ci_high
    assert "Outbound voice:" in (tmp_path / "outbound" / "summary.txt").read_text()
    written = json.loads((tmp_path / "outbound" / "summary.json").read_text())
    assert written["outbound"][0]["queue"] == "voice"

"""``openwfm capacity`` end to end: outputs, required FTE from interval staffing, the band,
scenarios side by side, and one-line errors for bad plan files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import PROJECT_ROOT
from openwfm.capacity.band import simulate_productive
from openwfm.capacity.flow import plan_table, resolve_classes
from openwfm.capacity.inputs import check_roster, parse_plan
from openwfm.capacity.required import profile_from_scenario, required_fte
from openwfm.scenario import parse_scenario

SCENARIO = """
name: one queue
shrinkage: 0.3
grid:
  interval_minutes: 60
  opening_hours:
    mon: {open: "08:00", close: "18:00"}
    tue: {open: "08:00", close: "18:00"}
    wed: {open: "08:00", close: "18:00"}
    thu: {open: "08:00", close: "18:00"}
    fri: {open: "08:00", close: "18:00"}
queues:
  - name: sales
    aht_s: 300
    target: {service_level: 0.8, within_s: 20}
    demand: {contacts_per_day: 1000, peaks: {"10:00": 1.0, "15:00": 0.7}}
  - name: service
    aht_s: 240
    target: {service_level: 0.8, within_s: 30}
"""

PLAN = """
start: 2026-01-05
forecast: weekly.csv
roster: roster.csv
hours_per_fte_week: 38
attrition: [{min_weeks: 0, max_weeks: 26, weekly_rate: 0.012}, {min_weeks: 26, weekly_rate: 0.005}]
class_template: {training_weeks: 3, nesting: [{productivity: 0.6, aht_uplift: 0.3}],
                 yield_training: 0.9, yield_nesting: 0.95}
classes: [{name: feb, start: 2026-02-02, size: 4}]
costs: {hire_per_start: 2000, wage_per_fte_week: 800, shortage_per_fte_week: 3000}
band: {simulations: 200, seed: 3}
scenarios:
  - name: campaign
    adjustments: [{queue: sales, start: 2026-02-01, end: 2026-02-28, value: 20}]
"""


def openwfm(*args: str, cwd: Path = PROJECT_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "openwfm", *args], capture_output=True, text=True, cwd=cwd
    )


@pytest.fixture
def center(tmp_path: Path) -> Path:
    (tmp_path / "center.yaml").write_text(SCENARIO)
    weeks = pd.date_range("2026-01-05", periods=16, freq="7D")
    weekly = pd.DataFrame(
        [(w.date(), "sales", 5000.0, 300.0) for w in weeks]
        + [(w.date(), "service", 2000.0, 240.0) for w in weeks],
        columns=["week_start", "queue", "offered", "aht_s"],
    )
    weekly.to_csv(tmp_path / "weekly.csv", index=False)
    roster = pd.DataFrame(
        {"agent": [f"a{i}" for i in range(28)], "hire_date": "2023-05-01", "site": "north"}
    )
    roster.to_csv(tmp_path / "roster.csv", index=False)
    (tmp_path / "capacity.yaml").write_text(PLAN)
    return tmp_path


def test_capacity_cli_writes_the_weekly_plan_for_every_scenario(center: Path):
    out = center / "out"
    run = openwfm(
        "capacity",
        str(center / "center.yaml"),
        "--plan",
        str(center / "capacity.yaml"),
        "--weeks",
        "12",
        "--out",
        str(out),
    )
    assert run.returncode == 0, run.stderr
    for name in (
        "capacity.csv",
        "capacity.parquet",
        "classes.csv",
        "requirements.csv",
        "capacity.html",
    ):
        assert (out / name).stat().st_size > 0
    plan = pd.read_parquet(out / "capacity.parquet")
    assert plan.groupby("scenario").size().to_dict() == {"baseline": 12, "campaign": 12}
    baseline = plan[plan["scenario"] == "baseline"].reset_index(drop=True)
    campaign = plan[plan["scenario"] == "campaign"].reset_index(drop=True)
    february = campaign["week_start"].between("2026-02-01", "2026-02-28")
    assert (campaign.loc[february, "required_fte"] > baseline.loc[february, "required_fte"]).all()
    assert np.allclose(
        campaign.loc[~february & (campaign.index > 8), "required_fte"],
        baseline.loc[~february & (baseline.index > 8), "required_fte"],
    )
    assert (plan["productive_fte_p10"] <= plan["productive_fte_p90"]).all()
    classes = pd.read_csv(out / "classes.csv")
    assert "plan" in set(classes["origin"])
    html = (out / "capacity.html").read_text()
    for heading in ("Required vs planned FTE", "Hire classes", "Scenarios compared"):
        assert heading in html


def test_required_fte_comes_from_interval_staffing_not_workload(center: Path):
    scenario = parse_scenario(SCENARIO)
    weekly = pd.DataFrame(
        {
            "week_start": pd.to_datetime(["2026-01-05"]),
            "queue": ["sales"],
            "offered": [600.0],
            "aht_s": [300.0],
        }
    )
    need = required_fte(weekly, scenario, hours_per_fte_week=40.0, shrinkage=0.3)
    workload_fte = 600 * 300 / 3600 / 40
    assert need["required_fte_net"].iloc[0] > 1.3 * workload_fte  # small queues need slack
    # the same figure from openwfm.staffing over the representative week, by hand
    from openwfm.staffing import requirements

    profile = profile_from_scenario(scenario)
    sales = profile[profile["queue"] == "sales"].set_index("offset_s")["share"]
    monday = pd.Timestamp("2026-01-05")
    intervals = pd.DataFrame(
        {
            "interval_start": monday + pd.to_timedelta(sales.index, unit="s"),
            "queue": "sales",
            "forecast": 600.0 * sales.to_numpy(),
            "aht_s": 300.0,
        }
    )
    agents = requirements(intervals, scenario)["required_agents"].sum()
    assert need["agent_hours"].iloc[0] == pytest.approx(agents * 1.0)
    assert need["required_fte"].iloc[0] == pytest.approx(agents / 40 / 0.7)


def test_holidays_close_days_and_move_the_volume_to_open_ones():
    scenario = parse_scenario(SCENARIO)
    weekly = pd.DataFrame(
        {
            "week_start": pd.to_datetime(["2026-01-05"]),
            "queue": ["sales"],
            "offered": [3000.0],
            "aht_s": [300.0],
        }
    )
    normal = required_fte(weekly, scenario)
    holiday = required_fte(weekly, scenario, holidays=[pd.Timestamp("2026-01-06").date()])
    # four days carry the week's volume: busier intervals, fewer hours -> fewer agent hours
    # than 5/4 x normal would be, but more per open interval
    assert 0 < holiday["agent_hours"].iloc[0] < normal["agent_hours"].iloc[0] * 1.25


def test_band_is_seeded_and_brackets_the_expected_plan(center: Path):
    plan = parse_plan(PLAN)
    roster = check_roster(pd.read_csv(center / "roster.csv"))
    classes = resolve_classes(plan)
    one = simulate_productive(plan, roster, classes, 16, simulations=300, seed=5)
    two = simulate_productive(plan, roster, classes, 16, simulations=300, seed=5)
    np.testing.assert_array_equal(one, two)
    required = pd.DataFrame({"week_start": plan.week_starts(16), "required_fte_net": 20.0})
    expected = plan_table(required, plan, roster, classes, shrinkage=0.3)["productive_fte"]
    # the simulated mean agrees with the expected flow (binomial attrition and yields)
    np.testing.assert_allclose(one.mean(axis=0), expected, rtol=0.03, atol=0.3)
    p10, p90 = np.percentile(one, [10, 90], axis=0)
    assert (p10 <= expected + 1e-9).all() and (expected <= p90 + 1e-9).all()
    assert (p90 - p10)[-1] > 0  # attrition spreads the outcomes


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (("feb, start: 2026-02-02", "feb, start: 2025-12-29"), "classes[0].start"),
        (("yield_training: 0.9", "yield_training: 1.2"), "class_template.yield_training"),
        (("weekly_rate: 0.005", "weekly_rate: 1.5"), "attrition[1].weekly_rate"),
        (("queue: sales, start", "queue: billing, start"), "scenarios[0].adjustments[0].queue"),
    ],
)
def test_bad_plan_is_one_line_naming_file_and_field(center: Path, edit, field):
    plan = center / "capacity.yaml"
    plan.write_text(PLAN.replace(*edit))
    out = center / "out"
    run = openwfm("capacity", str(center / "center.yaml"), "--plan", str(plan), "--out", str(out))
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("openwfm: error: ")
    assert str(plan) in lines[0] and field in lines[0]
    assert not out.exists()


def test_bad_forecast_table_names_file_and_column(center: Path):
    weekly = pd.read_csv(center / "weekly.csv")
    weekly.loc[3, "aht_s"] = -5
    weekly.to_csv(center / "weekly.csv", index=False)
    run = openwfm(
        "capacity",
        str(center / "center.yaml"),
        "--plan",
        str(center / "capacity.yaml"),
        "--out",
        str(center / "out"),
    )
    assert run.returncode == 2
    assert "weekly.csv:5: aht_s" in run.stderr and len(run.stderr.strip().splitlines()) == 1

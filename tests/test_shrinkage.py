"""Shrinkage: one meaning (time lost beyond the scheduled breaks), planned for by the schedule,
taken away by the simulator, and reported by the plan."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from openwfm.plan import run_plan
from openwfm.scenario import parse_scenario
from openwfm.sim import simulate
from openwfm.sim.agents import AvailableSpans
from openwfm.sim.shrinkage import apply_shrinkage
from test_plan import small_center


def _seconds(availability: AvailableSpans) -> float:
    return float((availability.end_s - availability.start_s).sum())


@pytest.mark.parametrize("shrinkage", [0.0, 0.1, 0.3, 0.5])
def test_simulated_shrinkage_takes_that_share_of_the_time_away(shrinkage):
    agents = np.repeat(np.arange(40), 5)
    start = np.tile(np.arange(5) * 86400.0 + 8 * 3600.0 + 450.0, 40)  # off the grid on purpose
    full = AvailableSpans(agents, start, start + 8 * 3600.0)
    rng = np.random.default_rng(1)
    thinned = apply_shrinkage(full, shrinkage, 900.0, rng)
    lost = 1.0 - _seconds(thinned) / _seconds(full)
    # 40 agents x 5 days x 33 blocks: the share lost is within 3 points of the shrinkage
    assert lost == pytest.approx(shrinkage, abs=0.03)
    assert np.all(thinned.end_s > thinned.start_s)
    # never outside the scheduled time
    for agent in range(40):
        mine = thinned.agent == agent
        assert thinned.start_s[mine].min(initial=np.inf) >= start[agents == agent].min()
    again = apply_shrinkage(full, shrinkage, 900.0, np.random.default_rng(1))
    np.testing.assert_array_equal(again.start_s, thinned.start_s)


def test_simulator_with_shrinkage_serves_worse_than_without():
    scenario = parse_scenario(small_center(6), source="c.yaml")
    start = pd.Timestamp("2026-01-05")
    rows = [
        {
            "agent": f"a{i}",
            "start": start + pd.Timedelta(hours=9),
            "end": start + pd.Timedelta(hours=17),
            "activity": "shift",
        }
        for i in range(6)
    ]
    schedule = pd.DataFrame(rows)
    common = dict(schedule=schedule, start=start.date(), days=1, replications=6, seed=4)
    without = simulate(scenario, **common)
    with_shrinkage = simulate(scenario, shrinkage=0.4, **common)
    sl_without = without.metric("service_level", "voice")[0]
    sl_with = with_shrinkage.metric("service_level", "voice")[0]
    assert sl_with < sl_without - 0.05
    assert with_shrinkage.info["shrinkage"] == 0.4


def _plan(tmp_path, name, **options):
    text = small_center(10).replace("shrinkage: 0.0", "shrinkage: 0.4")
    return run_plan(
        parse_scenario(text, source=f"{name}.yaml"),
        weeks=1,
        out_dir=tmp_path / name,
        time_limit_s=3,
        deterministic=True,
        replications=6,
        seed=3,
        progress=False,
        **options,
    )


def test_center_scheduled_without_shrinkage_is_shown_to_miss(tmp_path):
    planned = _plan(tmp_path, "planned")  # the scenario's 40% by default
    ignored = _plan(tmp_path, "ignored", shrinkage=0.0)
    assert planned.summary["shrinkage"] == {
        "staffing": 0.4,
        "schedule": 0.4,
        "schedule_source": "scenario",
        "simulation": 0.4,
    }
    assert ignored.summary["shrinkage"]["schedule"] == 0.0
    assert ignored.summary["shrinkage"]["schedule_source"] == "--shrinkage"
    # the schedule grossed up by 1 / (1 - 0.4) covers more agent-intervals
    assert (
        planned.summary["schedule"]["required_agent_intervals"]
        > 1.3 * (ignored.summary["schedule"]["required_agent_intervals"])
    )
    assert ignored.summary["verdict"] == "missed"
    assert planned.summary["verdict"] != "missed"
    assert any(reason.startswith("shrinkage:") for reason in ignored.summary["why"])
    text = (ignored.out_dir / "summary.txt").read_text()
    assert "Shrinkage (beyond the scheduled breaks)" in text
    assert "shrinkage" in (ignored.out_dir / "report.html").read_text().lower()

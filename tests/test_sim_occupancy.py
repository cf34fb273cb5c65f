"""Occupancy of multi-skilled agents in ``openwfm simulate``: busy time over busy plus idle
time, an agent's idle time split over its skills, so a queue's occupancy is at most 1 however
its agents share their time between queues."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from openwfm.scenario import example_path

DAY = pd.Timestamp("2024-01-01")  # a Monday


def _loaded_day(path) -> None:
    """Few agents for the example's Monday demand, 08:00-18:00: email is carried by Chloe,
    Dev, four of the digital team and four blended agents, who spend most of their day on
    it (a third or half of their time, split evenly over their skills, gave email 1.24)."""
    names = ["Ava", "Ben", "Chloe", "Dev"]
    names += [f"digital-team-{i}" for i in range(1, 5)] + [f"blended-{i}" for i in range(1, 5)]
    names += [f"voice-team-{i}" for i in range(1, 15)]
    start, end = DAY + pd.Timedelta(hours=8), DAY + pd.Timedelta(hours=18)
    pd.DataFrame(
        [{"agent": n, "start": start, "end": end, "activity": "work"} for n in names]
    ).to_csv(path, index=False)


def test_occupancy_of_a_queue_worked_by_blended_agents_stays_within_one(tmp_path):
    from openwfm.cli import app

    schedule = tmp_path / "schedule.csv"
    _loaded_day(schedule)
    args = ["simulate", str(example_path()), "--schedule", str(schedule), "--start"]
    args += [DAY.date().isoformat(), "--days", "1", "-r", "2", "--shrinkage", "0", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["summary"]
    occupancy = {r["queue"]: r["occupancy"] for r in rows if r["segment"] == "all"}
    assert set(occupancy) >= {"voice", "chat", "email", "all"}
    for queue, value in occupancy.items():
        assert 0.0 < value <= 1.0 + 1e-9, (queue, value)
    # a loaded day: email's agents are busy most of the time (not an empty day)
    assert occupancy["email"] > 0.8
    for r in rows:
        if r["segment"] == "all":
            assert r["occupancy_ci_high"] <= 1.0 + 1e-9

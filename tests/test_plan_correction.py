"""openwfm plan with pools corrects its requirements by simulation (the CLI, deterministic).

The center: two voice queues; ``b`` (small, 90% within 10 s) is served only by 8 agents who
also serve ``a`` (large, 80% within 20 s), whose other 12 agents serve ``a`` alone; 20%
shrinkage. The pool requirement (the merged queue of a and b) assumes every agent of the pool
can take a ``b`` call, and ``b``'s own row counts every cross-trained agent at work, though
they spend most of their time on ``a``'s calls (first come, first served): uncorrected, the
pooled plan misses ``b``'s target in simulation. The plan's simulation-based correction
(default) raises the requirements where the simulated schedule misses, by steps sized from
the gap on the agents the schedule had (:mod:`openwfm.staffing.shortfall`), and re-schedules:
it meets. (A priority segment's pool requirement: ``tests/test_pool_priority.py``.)
"""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd

CENTER = """
name: nested pair
shrinkage: 0.2
grid:
  interval_minutes: 30
  timezone: UTC
  opening_hours:
    mon: {open: "09:00", close: "17:00"}
    tue: {open: "09:00", close: "17:00"}
    wed: {open: "09:00", close: "17:00"}
queues:
  - name: a
    aht_s: 240
    patience_s: 300
    target: {service_level: 0.80, within_s: 20, max_abandon: 0.10}
    demand: {contacts_per_day: 450, peaks: {"11:00": 1.0, "15:00": 0.8}}
  - name: b
    aht_s: 240
    patience_s: 300
    target: {service_level: 0.90, within_s: 10, max_abandon: 0.05}
    demand: {contacts_per_day: 120, peaks: {"12:00": 1.0}}
contracts:
  - {name: full_time, min_minutes_per_week: 0, max_minutes_per_week: 2400,
     shift_lengths_min: [240, 480]}
agent_groups:
  - {name: ab, count: 8, skills: {a: 1.0, b: 1.0}, contract: full_time}
  - {name: a, count: 12, skills: {a: 1.0}, contract: full_time}
"""


def _plan(center, out, *extra: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "openwfm", "plan", str(center), "--out", str(out),
         "--time-limit", "4", "--deterministic", "--replications", "6", *extra],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads((out / "summary.json").read_text())


def test_pooled_plan_is_corrected_by_simulation(tmp_path):
    center = tmp_path / "pooled-pair.yaml"
    center.write_text(CENTER)
    uncorrected = _plan(center, tmp_path / "uncorrected", "--correction-rounds", "0")
    corrected = _plan(center, tmp_path / "corrected")
    assert uncorrected["verdict"] == "missed"
    assert corrected["verdict"] in ("met", "met within CI"), corrected["headline"]
    assert corrected["verdicts"]["agreement"] >= 0.9
    pools = pd.read_csv(tmp_path / "corrected" / "pool_requirements.csv")
    assert pools["correction"].sum() > 0  # the raised pool requirements are the plan's
    notes = corrected["schedule"]["notes"]
    assert any(note.startswith("simulation-based correction") for note in notes)
    paid = [s["cost"]["paid_hours"] for s in (uncorrected, corrected)]
    assert paid[1] >= paid[0]  # meeting the targets took hours the merged queue left out

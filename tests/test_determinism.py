"""`openwfm plan --deterministic` and `openwfm simulate` give the same files in every process.

Python hashes strings with a per-process seed (``PYTHONHASHSEED``), so a set of queue names,
pool names or skill groups iterates in a different order in each process. Where such an order
builds the schedule model (CP-SAT and HiGHS search in the order the model was built), breaks a
tie or orders the simulator's agents and queues, two runs of the same plan differ. The plan
below runs the built-in example (three queues, pools of blended agents, two segments) in two
processes whose hash seeds order those names differently, and compares what they write.
The simulator draws each replication from its own child of ``SeedSequence(seed)``: the same
whatever the hash seed, the scheduler's threads, or the number of replications run beside it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd

from openwfm.scenario import example_path, load_scenario

# two hash seeds that order the example's queue names, pool names and skill groups
# differently (checked below: the test could not fail otherwise)
HASH_SEEDS = ("1", "2")
SETS_OF_NAMES = (
    "[list({'voice', 'chat', 'email'}), "
    "list({'voice+chat', 'chat+email', 'voice+email', 'voice+chat+email'}), "
    "list({('voice',), ('chat', 'email'), ('voice', 'chat'), ('voice', 'chat', 'email')})]"
)
# what a run may differ in: wall-clock seconds and the folder it wrote into
VOLATILE = ("timings_s", "report")


def _with_hash_seed(hash_seed: str) -> dict[str, str]:
    return {**os.environ, "PYTHONHASHSEED": hash_seed}


def _set_orders(hash_seed: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", f"print({SETS_OF_NAMES})"],
        env=_with_hash_seed(hash_seed),
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def _stable_summary(path) -> dict:
    summary = json.loads(path.read_text())
    for key in VOLATILE:
        summary.pop(key, None)
    summary["schedule"].pop("solver_s", None)  # wall seconds
    return summary


def test_deterministic_plan_writes_the_same_files_whatever_the_hash_seed(tmp_path):
    orders = [_set_orders(seed) for seed in HASH_SEEDS]
    assert orders[0] != orders[1], "the hash seeds must order the example's names differently"
    # a small work budget and no correction round keep the two runs short (they run side by
    # side); the budget is deterministic work, so the runs are comparable on any machine
    runs = {}
    for hash_seed in HASH_SEEDS:
        out = tmp_path / f"hash-seed-{hash_seed}"
        args = [
            sys.executable, "-m", "openwfm", "plan", str(example_path()), "--out", str(out),
            "--time-limit", "1", "--deterministic", "--replications", "2",
            "--correction-rounds", "0",
        ]  # fmt: skip
        process = subprocess.Popen(
            args,
            env=_with_hash_seed(hash_seed),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        runs[hash_seed] = out, process
    for _, process in runs.values():
        _, stderr = process.communicate(timeout=900)
        assert process.returncode == 0, stderr
    (first, _), (second, _) = runs.values()
    tables = sorted(p.name for p in first.glob("*.csv"))
    assert {"requirements.csv", "pool_requirements.csv", "schedule.csv", "activities.csv"} <= set(
        tables
    )
    assert {"coverage.csv", "simulation.csv", "verdicts.csv"} <= set(tables)
    assert tables == sorted(p.name for p in second.glob("*.csv"))
    differ = [n for n in tables if (first / n).read_bytes() != (second / n).read_bytes()]
    assert differ == [], f"hash seeds {HASH_SEEDS} wrote different {differ}"
    assert _stable_summary(first / "summary.json") == _stable_summary(second / "summary.json")
    # the stage cache's keys too: a re-run in another process reuses the stages
    cached = sorted(p.name for p in (first / ".cache").iterdir())
    assert cached and cached == sorted(p.name for p in (second / ".cache").iterdir())


def _example_timeline(path) -> None:
    """Every other agent of the example on 08:00-16:00 on Monday 2026-03-02 (a break at noon
    for every third), the rest off: a schedule the simulator reads by agent name."""
    rows = []
    for k, agent in enumerate(load_scenario(example_path()).all_agents()):
        if k % 2:
            continue
        rows.append((agent.name, "2026-03-02 08:00", "2026-03-02 16:00", "shift"))
        if k % 3 == 0:
            rows.append((agent.name, "2026-03-02 12:00", "2026-03-02 12:30", "break"))
    pd.DataFrame(rows, columns=["agent", "start", "end", "activity"]).to_csv(path, index=False)


def _simulate(out, hash_seed: str, replications: int, schedule) -> None:
    args = [
        sys.executable, "-m", "openwfm", "simulate", str(example_path()), "--schedule",
        str(schedule), "--start", "2026-03-02", "--days", "1", "--seed", "4",
        "--replications", str(replications), "--scheduler", "threads", "--out", str(out),
    ]  # fmt: skip
    done = subprocess.run(args, env=_with_hash_seed(hash_seed), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_simulate_draws_each_replication_from_its_own_seed_whatever_the_hash_seed(tmp_path):
    schedule = tmp_path / "timeline.csv"
    _example_timeline(schedule)
    for hash_seed in HASH_SEEDS:
        _simulate(tmp_path / hash_seed, hash_seed, 3, schedule)
    _simulate(tmp_path / "two", HASH_SEEDS[0], 2, schedule)
    first, second = (tmp_path / seed for seed in HASH_SEEDS)
    for name in ("intervals.csv", "summary.csv", "replications.csv"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    # replications 0 and 1 are the same when a third runs beside them
    three = pd.read_csv(first / "replications.csv")
    two = pd.read_csv(tmp_path / "two" / "replications.csv")
    assert sorted(two["replication"].unique()) == [0, 1]
    pd.testing.assert_frame_equal(
        three[three["replication"] < 2].reset_index(drop=True), two.reset_index(drop=True)
    )

"""The plan's stage cache: a changed input, option or code recomputes what it feeds."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from openwfm.data.synthetic import generate_interactions
from openwfm.plan import cache as plan_cache
from openwfm.plan import run_plan
from openwfm.scenario import parse_scenario
from test_plan import small_center

STAGES = ("history", "forecast", "staffing", "schedule", "simulation")


def _plan(history, out_dir, **options):
    arguments = dict(
        weeks=1,
        out_dir=out_dir,
        time_limit_s=2,
        deterministic=True,
        replications=2,
        seed=3,
        progress=False,
    )
    arguments.update(options)
    return run_plan(parse_scenario(small_center(6), source="c.yaml"), history, **arguments)


@pytest.fixture(scope="module")
def history_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cache")
    scenario = parse_scenario(small_center(6), source="c.yaml")
    log = generate_interactions(scenario, pd.Timestamp("2026-01-05").date(), 3, 1)
    path = folder / "log.csv"
    log.to_csv(path, index=False)
    return path


def test_edited_history_file_with_the_same_size_and_time_is_read_again(history_file, tmp_path):
    out = tmp_path / "plan"
    first = _plan([history_file], out)
    assert all(first.stages[s] == "computed" for s in STAGES)
    again = _plan([history_file], out)
    assert all(again.stages[s] == "cached" for s in STAGES)
    # same size, same modification time, different content: one digit changed in place
    stat = history_file.stat()
    text = history_file.read_text()
    position = text.index("\n", text.index("\n") + 1) - 1  # the first row's last character
    digit = text[position]
    assert digit.isdigit()
    edited = text[:position] + str((int(digit) + 1) % 10) + text[position + 1 :]
    history_file.write_text(edited)
    os.utime(history_file, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert history_file.stat().st_size == stat.st_size
    changed = _plan([history_file], out)
    assert changed.stages["history"] == "computed"
    history_file.write_text(text)
    os.utime(history_file, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_new_code_or_library_versions_recompute_every_stage(history_file, tmp_path, monkeypatch):
    out = tmp_path / "plan"
    _plan([history_file], out)
    # a changed openwfm source file (or an upgraded solver) changes the fingerprint
    monkeypatch.setattr(plan_cache, "code_fingerprint", lambda: "another build")
    monkeypatch.setattr("openwfm.plan.stages.code_fingerprint", lambda: "another build")
    upgraded = _plan([history_file], out)
    assert all(upgraded.stages[s] == "computed" for s in STAGES)


def test_fingerprint_covers_sources_and_solver_versions(tmp_path, monkeypatch):
    plan_cache.code_fingerprint.cache_clear()
    before = plan_cache.code_fingerprint()
    plan_cache.code_fingerprint.cache_clear()
    real = plan_cache.metadata.version
    monkeypatch.setattr(
        plan_cache.metadata,
        "version",
        lambda name: "99.0" if name == "ortools" else real(name),
    )
    assert plan_cache.code_fingerprint() != before
    plan_cache.code_fingerprint.cache_clear()


def test_scenario_change_that_only_the_forecast_sees_recomputes_it(history_file, tmp_path):
    out = tmp_path / "plan"
    _plan([history_file], out)
    text = small_center(6).replace("aht_s: 180", "aht_s: 200")
    changed = run_plan(
        parse_scenario(text, source="c.yaml"),
        [history_file],
        weeks=1,
        out_dir=out,
        time_limit_s=2,
        deterministic=True,
        replications=2,
        seed=3,
        progress=False,
    )
    assert changed.stages["history"] == "cached"
    assert changed.stages["forecast"] == "computed"

"""Quality-based routing of the gold segment in the simulator (small, seeded)."""

from __future__ import annotations

import datetime as dt

import pytest

from openwfm.errors import ParameterError
from openwfm.quality.routing import compare_routing
from openwfm.scenario import parse_scenario

SCENARIO = """
name: small
grid: {interval_minutes: 15, opening_hours: {mon: {open: "08:00", close: "12:00"}}}
queues:
  - {name: voice, aht_s: 180, patience_s: 300, demand: {contacts_per_day: 200}}
segments:
  - {name: gold, priority: 2, share: {voice: 0.3}}
  - {name: standard, priority: 1, share: {voice: 0.7}}
agents:
  - {name: best, skills: {voice: 1.0}}
  - {name: good, skills: {voice: 0.8}}
  - {name: fair, skills: {voice: 0.5}}
  - {name: weak, skills: {voice: 0.3}}
"""
RESOLUTION = {"best": 0.9, "good": 0.7, "fair": 0.5, "weak": 0.3}


@pytest.fixture(scope="module")
def table():
    scenario = parse_scenario(SCENARIO)
    result = compare_routing(scenario, RESOLUTION, segment="gold", replications=4, seed=3,
                             start=dt.date(2024, 1, 1), days=1)  # fmt: skip
    return result.set_index(["policy", "segment", "metric"])


def test_quality_routing_resolves_more_gold_contacts(table):
    gain = table.loc[("quality-priority", "gold", "resolution")]
    assert gain["mean"] > 0 and gain["ci_low"] > 0
    for policy in ("longest_idle", "priority", "quality"):
        value = table.loc[(policy, "all", "resolution"), "mean"]
        assert min(RESOLUTION.values()) <= value <= max(RESOLUTION.values())
    for metric in ("service_level", "aht_s", "resolution"):
        row = table.loc[("quality", "gold", metric)]
        assert row["ci_low"] <= row["mean"] <= row["ci_high"]


def test_agent_choice_alone_does_not_change_waiting_when_speeds_are_equal(table):
    # proficiency_slope is 0: every agent is equally fast, so choosing the best agent instead of
    # the longest idle one changes who answers, not how long anyone waits (same seeds)
    for metric in ("service_level", "asa_s", "abandon_rate"):
        assert table.loc[("quality-priority", "all", metric), "mean"] == pytest.approx(0.0)


def test_every_agent_needs_a_resolution_rate():
    scenario = parse_scenario(SCENARIO)
    with pytest.raises(ParameterError, match="weak"):
        compare_routing(scenario, {k: v for k, v in RESOLUTION.items() if k != "weak"},
                        replications=1)  # fmt: skip

from __future__ import annotations

import subprocess
import sys

import pytest

from openwfm.errors import ScenarioError
from openwfm.model import Channel
from openwfm.scenario import load_scenario, parse_scenario

MINIMAL = """
queues:
  - name: voice
    aht_s: 180
"""


def test_example_scenario_loads(example_scenario_path):
    scenario = load_scenario(example_scenario_path)
    assert scenario.queue_names == ["voice", "chat", "email"]
    assert scenario.queue("chat").channel is Channel.CHAT
    assert scenario.target_for("voice", "gold").within_s == 10
    assert scenario.target_for("voice", "standard").within_s == 20
    assert scenario.segment_shares("voice") == {"gold": 0.25, "standard": 0.75}
    assert len(scenario.all_agents()) == 4 + 44 + 16 + 16


def test_minimal_scenario_defaults():
    scenario = parse_scenario(MINIMAL)
    assert scenario.grid.interval_minutes == 15
    assert scenario.segment_shares("voice") == {"default": 1.0}
    # Default opening hours: Mon-Fri 08-20 -> 48 quarter hours per day.
    import datetime as dt

    assert len(scenario.grid.intervals(dt.date(2026, 11, 23), 7)) == 5 * 48


@pytest.mark.parametrize(
    ("text", "field", "line", "fragment"),
    [
        ("queues:\n  - name: voice\n    aht_s: -5\n", "queues[0].aht_s", 3, "greater than 0"),
        (
            "queues:\n  - name: voice\n    aht_s: 100\nsegments:\n  - name: gold\n"
            "    targets:\n      phone: {service_level: 0.9}\n",
            "segments[0].targets.phone",
            7,
            "unknown queue 'phone'",
        ),
        (
            "queues:\n  - name: voice\n    aht_s: 100\n"
            "agents:\n  - name: A\n    skills: {chat: 1}\n",
            "agents[0].skills.chat",
            6,
            "unknown queue 'chat'",
        ),
        (
            "queues:\n  - name: voice\n    aht_s: 100\n    colour: red\n",
            "queues[0].colour",
            4,
            "Extra",
        ),
        ("grid:\n  interval_minutes: 7\nqueues: []\n", "grid.interval_minutes", 2, "5, 6, 15"),
        (
            "queues:\n  - name: v\n    aht_s: 10\n    channel: fax\n",
            "queues[0].channel",
            4,
            "voice",
        ),
    ],
)
def test_bad_scenarios_name_the_field_and_line(text, field, line, fragment):
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, source="bad.yaml")
    error = caught.value
    assert error.field == field
    assert error.line == line
    assert fragment in str(error)
    assert "\n" not in str(error)
    assert str(error).startswith(f"bad.yaml:{line}: {field}: ")


def test_invalid_yaml_and_non_mapping():
    with pytest.raises(ScenarioError, match=r"bad.yaml:3: not valid YAML"):
        parse_scenario("queues:\n  - [unclosed\n", source="bad.yaml")
    with pytest.raises(ScenarioError, match="mapping"):
        parse_scenario("- just a list\n", source="bad.yaml")


def test_cli_check_one_line_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("queues:\n  - name: voice\n    aht_s: -5\n")
    result = subprocess.run(
        [sys.executable, "-m", "openwfm", "check", str(bad)], capture_output=True, text=True
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "queues[0].aht_s" in lines[0] and ":3:" in lines[0]


def test_cli_check_ok(example_scenario_path):
    result = subprocess.run(
        [sys.executable, "-m", "openwfm", "check", str(example_scenario_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "voice" in result.stdout


def test_anonymous_bank_scenario_loads():
    from conftest import PROJECT_ROOT

    scenario = load_scenario(PROJECT_ROOT / "examples" / "anonymous-bank.yaml")
    assert scenario.queue_names == ["PS", "NW", "NE", "IN", "TT"]
    assert scenario.grid.interval_minutes == 30
    assert scenario.target_for("PS", "2").within_s == 30
    assert scenario.target_for("PS", "0").within_s == 60
    # Segment shares of each queue add up to one (measured from the records).
    for queue in scenario.queue_names:
        assert abs(sum(scenario.segment_shares(queue).values()) - 1.0) < 0.01
    assert len(scenario.agents) >= 40
    # NAAMA and ANAT once each (the raw files' NO_SERVERAMA / ANO_SERVERT are the same people)
    assert not any("NO_SERVER" in agent.name for agent in scenario.agents)


def test_capacity_plans_and_forms_refuse_a_key_given_twice(tmp_path):
    from openwfm.capacity.inputs import parse_plan
    from openwfm.errors import DataError
    from openwfm.quality.forms import parse_form

    plan = "start: 2026-01-05\nhours_per_fte_week: 40\nstart: 2026-02-02\n"
    with pytest.raises(ScenarioError, match=r"plan.yaml:3: start: key 'start' is given twice"):
        parse_plan(plan, "plan.yaml")
    form = "form: f\nversion: 1\ngroups: []\nversion: 2\n"
    with pytest.raises(DataError, match=r"form.yaml:4: version: key 'version' is given twice"):
        parse_form(form, "form.yaml")

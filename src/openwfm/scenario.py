"""The scenario file (YAML) -> a validated :class:`openwfm.model.Scenario`.

Errors name the file, the line and the YAML path of the bad field, e.g.
``center.yaml:14: queues[0].aht_s: Input should be greater than 0 (got -5)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openwfm.errors import ScenarioError
from openwfm.model import Scenario
from openwfm.yaml_input import parse_yaml_model, raise_at, read_text_file

# the example scenarios ship inside the package (``openwfm demo`` works from an installed wheel);
# the repository's top-level ``examples/*.yaml`` are links to these files
EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"


def example_path(name: str = "center.yaml") -> Path:
    """Path of a scenario shipped with openwfm (``openwfm/examples/``)."""
    return EXAMPLES_DIR / name


Problem = tuple[tuple[Any, ...], str]  # (YAML path, message)


def _check_references(scenario: Scenario) -> list[Problem]:
    """Cross-field checks pydantic cannot express: names that must refer to something."""
    queues = {queue.name for queue in scenario.queues}
    return [
        *_duplicates("queues", scenario.queues, "duplicate queue name"),
        *_segment_problems(scenario, queues),
        *_agent_problems(scenario, queues),
        *_routing_problems(scenario, queues),
        *_check_schedule_section(scenario),
    ]


def _duplicates(kind: str, items, what: str) -> list[Problem]:
    seen: set[str] = set()
    problems = []
    for index, item in enumerate(items):
        if item.name in seen:
            problems.append(((kind, index, "name"), f"{what} {item.name!r}"))
        seen.add(item.name)
    return problems


def _unknown_queue(location: tuple[Any, ...], name: str, queues: set[str]) -> list[Problem]:
    if name in queues:
        return []
    return [(location, f"unknown queue {name!r} (known: {', '.join(sorted(queues))})")]


def _segment_problems(scenario: Scenario, queues: set[str]) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[str] = set()
    for index, segment in enumerate(scenario.segments):
        if segment.name in seen:
            problems.append((("segments", index, "name"), f"duplicate segment {segment.name!r}"))
        seen.add(segment.name)
        for field in ("share", "targets"):
            for queue_name in getattr(segment, field):
                location = ("segments", index, field, queue_name)
                problems += _unknown_queue(location, queue_name, queues)
    for queue_name in queues:
        total = sum(s.share.get(queue_name, 0.0) for s in scenario.segments)
        if total > 1.0 + 1e-9:
            problems.append(
                (("segments",), f"segment shares of queue {queue_name!r} add up to {total:g} > 1")
            )
    return problems


def _agent_problems(scenario: Scenario, queues: set[str]) -> list[Problem]:
    problems: list[Problem] = []
    contracts = {contract.name for contract in scenario.contracts}
    names: set[str] = set()
    for kind in ("agents", "agent_groups"):
        for index, agent in enumerate(getattr(scenario, kind)):
            if agent.name in names:
                problems.append(((kind, index, "name"), f"duplicate agent name {agent.name!r}"))
            names.add(agent.name)
            if not agent.skills:
                problems.append(((kind, index, "skills"), "an agent needs at least one skill"))
            for queue_name in agent.skills:
                problems += _unknown_queue((kind, index, "skills", queue_name), queue_name, queues)
            if agent.contract is not None and agent.contract not in contracts:
                problems.append(((kind, index, "contract"), f"unknown contract {agent.contract!r}"))
    return problems


def _routing_problems(scenario: Scenario, queues: set[str]) -> list[Problem]:
    routing = scenario.routing
    segments = {segment.name for segment in scenario.segments}
    problems: list[Problem] = [
        (("routing", "a_team_segments", index), f"unknown segment {name!r}")
        for index, name in enumerate(routing.a_team_segments)
        if name not in segments
    ]
    for index, step in enumerate(routing.escalation):
        for queue_name in step.extra_queues:
            location = ("routing", "escalation", index, "extra_queues")
            problems += _unknown_queue(location, queue_name, queues)
    return problems


def _check_schedule_section(scenario: Scenario) -> list[tuple[tuple[Any, ...], str]]:
    """The schedule section's names (rules, agents, shift types) and availability windows,
    checked by ``openwfm check`` rather than after minutes of solving."""
    from openwfm.model import clock_seconds
    from openwfm.schedule.rules import RULES

    settings = scenario.schedule
    if settings is None:
        return []
    problems: list[tuple[tuple[Any, ...], str]] = []
    for name in settings.rules:
        if name not in RULES:
            problems.append(
                (("schedule", "rules", name), f"unknown rule {name!r} (known: {', '.join(RULES)})")
            )
    who = (
        {"*"}
        | {a.name for a in scenario.all_agents()}
        | {a.team for a in scenario.all_agents() if a.team}
    )
    for kind in ("fixed_days_off", "availability", "requests"):
        for index, rule in enumerate(getattr(settings, kind)):
            if rule.agent not in who:
                problems.append(
                    (("schedule", kind, index, "agent"), f"unknown agent or team {rule.agent!r}")
                )
    for index, rule in enumerate(settings.availability):
        if rule.available and clock_seconds(rule.available_from) >= clock_seconds(
            rule.available_until
        ):
            problems.append(
                (
                    ("schedule", "availability", index, "available_until"),
                    f"available_until {rule.available_until} is not after available_from "
                    f"{rule.available_from}",
                )
            )
    types = {t.name for t in settings.shift_templates}
    for index, contract in enumerate(scenario.contracts):
        for name in contract.max_shifts_per_horizon_by_type:
            if name not in types:
                problems.append(
                    (
                        ("contracts", index, "max_shifts_per_horizon_by_type", name),
                        f"unknown shift type {name!r} (known: {', '.join(sorted(types))})",
                    )
                )
    for index, pair in enumerate(settings.forbidden_successions):
        for position, name in enumerate(pair):
            if name not in types:
                problems.append(
                    (
                        ("schedule", "forbidden_successions", index, position),
                        f"unknown shift type {name!r} (known: {', '.join(sorted(types))})",
                    )
                )
    return problems


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """Validate scenario YAML text; raise :class:`ScenarioError` naming the first bad field."""
    root, scenario = parse_yaml_model(
        text,
        source,
        Scenario,
        ScenarioError,
        "expected a mapping of scenario fields at the top level",
    )
    for location, message in _check_references(scenario)[:1]:
        raise_at(ScenarioError, message, source, root, location)
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file."""
    text = read_text_file(path, ScenarioError, "scenario file")
    return parse_scenario(text, source=str(path))

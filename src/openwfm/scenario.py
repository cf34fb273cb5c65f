"""The scenario file (YAML) -> a validated :class:`openwfm.model.Scenario`.

Errors name the file, the line and the YAML path of the bad field, e.g.
``center.yaml:14: queues[0].aht_s: Input should be greater than 0 (got -5)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from openwfm.errors import ScenarioError
from openwfm.model import Scenario

# the example scenarios ship inside the package (``openwfm demo`` works from an installed wheel);
# the repository's top-level ``examples/*.yaml`` are links to these files
EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"


def example_path(name: str = "center.yaml") -> Path:
    """Path of a scenario shipped with openwfm (``openwfm/examples/``)."""
    return EXAMPLES_DIR / name


def _format_path(location: tuple[Any, ...]) -> str:
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or "(top level)"


def _line_of(root: yaml.Node | None, location: tuple[Any, ...]) -> int | None:
    """1-based line of the YAML node at ``location`` (or its nearest existing parent)."""
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for part in location:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if getattr(k, "value", None) == str(part)), None)
            if match is None:
                key = next(
                    (k for k, _ in node.value if getattr(k, "value", None) == str(part)), None
                )
                return key.start_mark.line + 1 if key is not None else line
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
        else:
            return line
        line = node.start_mark.line + 1
    return line


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


def _check_duplicate_keys(node: yaml.Node | None, source: str, path: str = "") -> None:
    """ScenarioError for a key given twice in one mapping (YAML keeps the last silently)."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            name = str(key.value)
            where = f"{path}.{name}" if path else name
            if name in seen:
                raise ScenarioError(
                    f"key {name!r} is given twice (first on line {seen[name]}); the first "
                    f"value would be ignored",
                    file=source,
                    line=key.start_mark.line + 1,
                    field=where,
                )
            seen[name] = key.start_mark.line + 1
            _check_duplicate_keys(value, source, where)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _check_duplicate_keys(item, source, f"{path}[{index}]")


def read_yaml_mapping(text: str, source: str, error: type, not_a_mapping: str):
    """(node tree, data) of YAML text whose top level is a mapping; else ``error`` (an
    :class:`openwfm.errors.OpenWFMError` class) naming ``source`` and the line. The node tree
    gives the line of a field (:func:`_line_of`) when validation fails later."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as problem_error:
        mark = getattr(problem_error, "problem_mark", None)
        problem = getattr(problem_error, "problem", None) or str(problem_error)
        raise error(
            f"not valid YAML: {problem}",
            file=source,
            line=mark.line + 1 if mark is not None else None,
        ) from None
    if not isinstance(data, dict):
        raise error(not_a_mapping, file=source)
    return root, data


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """Validate scenario YAML text; raise :class:`ScenarioError` naming the first bad field."""
    root, data = read_yaml_mapping(
        text, source, ScenarioError, "expected a mapping of scenario fields at the top level"
    )
    _check_duplicate_keys(root, source)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        location = tuple(first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        if "input" in first and first["type"] not in ("missing", "extra_forbidden"):
            shown = first["input"]
            if not isinstance(shown, dict | list):
                message += f" (got {shown!r})"
        more = error.error_count() - 1
        if more:
            message += f" [and {more} more problem{'s' if more > 1 else ''}]"
        raise ScenarioError(
            message,
            file=source,
            line=_line_of(root, location),
            field=_format_path(location),
        ) from None
    problems = _check_references(scenario)
    if problems:
        location, message = problems[0]
        raise ScenarioError(
            message, file=source, line=_line_of(root, location), field=_format_path(location)
        )
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError("file not found", file=str(path)) from None
    except UnicodeDecodeError:
        from openwfm.io import undecodable_line

        raise ScenarioError(
            "not UTF-8 text; save the file as UTF-8", file=str(path), line=undecodable_line(path)
        ) from None
    except IsADirectoryError:
        raise ScenarioError("is a folder, expected a scenario file", file=str(path)) from None
    except OSError as error:
        raise ScenarioError(f"cannot read: {error.strerror or error}", file=str(path)) from None
    return parse_scenario(text, source=str(path))

"""The named scheduling rules: defaults for hardness and weight, and their units.

Every rule instance in a model carries one of these names, so a violation (soft) or a
contradiction (hard) is reported by name. Weights are in the objective's unit: one missing
agent during one interval of coverage costs 1 (before service weighting).
"""

from __future__ import annotations

from dataclasses import dataclass

from openwfm.errors import ScenarioError
from openwfm.model import Contract, RuleSetting, ScheduleSettings


@dataclass(frozen=True)
class RuleInfo:
    hard: bool
    weight: float
    unit: str
    description: str


RULES: dict[str, RuleInfo] = {
    "min_minutes_per_week": RuleInfo(True, 0.05, "minute", "contract minimum paid minutes/week"),
    "max_minutes_per_week": RuleInfo(True, 0.05, "minute", "contract maximum paid minutes/week"),
    "min_minutes_per_horizon": RuleInfo(True, 0.05, "minute", "minimum paid minutes in horizon"),
    "max_minutes_per_horizon": RuleInfo(True, 0.05, "minute", "maximum paid minutes in horizon"),
    "max_shifts_of_type": RuleInfo(True, 4.0, "shift", "at most n shifts of a type per week"),
    "max_shifts_of_type_per_horizon": RuleInfo(
        True, 4.0, "shift", "at most n shifts of a type in the horizon"
    ),
    "days_off_per_week": RuleInfo(True, 8.0, "day", "at least n days off per week"),
    "max_consecutive_days": RuleInfo(True, 8.0, "day", "at most n working days in a row"),
    "min_consecutive_days": RuleInfo(False, 4.0, "stretch", "no working stretch shorter than n"),
    "min_consecutive_days_off": RuleInfo(False, 4.0, "stretch", "no day-off stretch shorter"),
    "min_rest": RuleInfo(True, 8.0, "pair", "minimum rest between two shifts"),
    "forbidden_succession": RuleInfo(True, 8.0, "pair", "shift type A then B next day"),
    "max_working_weekends": RuleInfo(True, 8.0, "weekend", "at most n weekends with work"),
    "fixed_days_off": RuleInfo(True, 8.0, "day", "agent does not work this day"),
    "availability": RuleInfo(True, 8.0, "shift", "shift inside the agent's availability"),
    "shift_request": RuleInfo(False, 1.0, "request", "wanted / unwanted shift or day off"),
    "fair_weekends": RuleInfo(False, 2.0, "day", "spread of weekend days worked (per contract)"),
    "fair_unpopular": RuleInfo(False, 2.0, "shift", "spread of unpopular shifts (per contract)"),
}


def stretch_is_judged(first: int, length: int, days: int, ignore_edges: bool) -> bool:
    """Whether the minimum-stretch rules (``min_consecutive_days``, ``min_consecutive_days_off``)
    judge the maximal stretch of ``length`` days from day ``first`` of a ``days``-day horizon:
    always when it lies strictly inside; when it touches the first or last day only if
    ``ignore_edges`` is false (``schedule.ignore_edge_stretches``: the days outside the horizon
    are unknown); never when it fills the whole horizon."""
    touches = first == 0 or first + length == days
    whole = first == 0 and length == days
    return not whole and not (ignore_edges and touches)


def rule_settings(settings: ScheduleSettings | None) -> dict[str, RuleSetting]:
    """Hardness and weight per rule name: the defaults overridden by ``schedule.rules``."""
    resolved = {
        name: RuleSetting(hard=info.hard, weight=info.weight) for name, info in RULES.items()
    }
    if settings is not None:
        for name, setting in settings.rules.items():
            if name not in RULES:
                raise ScenarioError(
                    f"unknown rule {name!r} (known: {', '.join(RULES)})",
                    field=f"schedule.rules.{name}",
                )
            resolved[name] = setting
    return resolved


# A permissive contract for agents without one: only the templates limit them.
OPEN_CONTRACT = Contract(
    name="(none)",
    max_minutes_per_week=7 * 1440,
    shift_lengths_min=[],
    min_days_off_per_week=0,
    max_consecutive_days=10**6,
    min_rest_between_shifts_min=0,
)

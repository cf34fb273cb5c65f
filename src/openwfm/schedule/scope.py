"""What one scheduling model covers: the agents (and anonymous pools), the days and slots of
the horizon, the shift options, the rules' settings and the requirement with its costs.

:class:`ModelScope` is the input every model variant shares (:mod:`openwfm.schedule.variants`);
the helpers here answer the small questions every rule asks: which agents a day rule names,
whether it applies on a day, which skill group an agent belongs to.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from openwfm.errors import ScenarioError
from openwfm.model import WEEKDAYS, Contract, DayRule, RuleSetting, ScheduleSettings
from openwfm.schedule.templates import Horizon, ShiftOption


@dataclass
class AgentSpec:
    """A named agent as the model sees it: contract and the queues it can take (in skill order)."""

    name: str
    team: str | None
    contract: Contract
    skills: tuple[str, ...]


@dataclass
class PoolSpec:
    """``size`` anonymous interchangeable agents per day (slot-based planning)."""

    name: str
    skills: tuple[str, ...]
    size: int


@dataclass
class ModelScope:
    """The inputs of every model variant.

    ``required``: agents wanted per queue as an array over the horizon's slots;
    ``marginals``: per (queue, slot), the cost of the 1st..k-th missing agent (cost units);
    ``over_weight``: cost of one surplus agent during one interval;
    ``count_every_skill``: an agent at work counts toward every requirement key among its skills
    (skill-set requirements, :mod:`openwfm.schedule.skill_sets`), not toward one queue.
    """

    horizon: Horizon
    options: list[ShiftOption]
    agents: list[AgentSpec]
    pools: list[PoolSpec]
    settings: ScheduleSettings | None
    rules: dict[str, RuleSetting]
    required: dict[str, np.ndarray]
    marginals: dict[tuple[str, int], np.ndarray]
    over_weight: float
    count_every_skill: bool = False

    def replace(self, **changes) -> ModelScope:
        """A copy with some fields changed (e.g. the requirement left by earlier agents)."""
        return dataclasses.replace(self, **changes)

    @property
    def queues(self) -> set[str]:
        return set(self.required)

    def skill_key(self, agent: AgentSpec) -> tuple[str, ...]:
        """The agent's skill group: its skills that have a requirement, in its own order."""
        queues = self.queues
        return tuple(q for q in agent.skills if q in queues)

    def skill_groups(self) -> dict[tuple[str, ...], list[int]]:
        """Agent indices per skill group (first appearance order)."""
        groups: dict[tuple[str, ...], list[int]] = defaultdict(list)
        for a, agent in enumerate(self.agents):
            groups[self.skill_key(agent)].append(a)
        return groups


def day_matches(rule: DayRule, horizon: Horizon, day: int) -> bool:
    """Whether a day rule (a date, a weekday or every day) applies on ``day`` of the horizon."""
    date = horizon.date(day)
    if rule.date is not None and rule.date != date:
        return False
    return rule.weekday is None or WEEKDAYS[date.weekday()] == rule.weekday


def agents_for(rule: DayRule, agents: list[AgentSpec], where: str) -> list[int]:
    """Indices of the agents a day rule names (an agent, a team or ``*``)."""
    if rule.agent == "*":
        return list(range(len(agents)))
    found = [i for i, a in enumerate(agents) if rule.agent in (a.name, a.team)]
    if not found:
        raise ScenarioError(f"unknown agent or team {rule.agent!r}", field=f"{where}.agent")
    return found


def allowed_lengths(contract: Contract, horizon: Horizon) -> set[int] | None:
    """Shift lengths (slots) the contract allows, or None for any."""
    if not contract.shift_lengths_min:
        return None
    return {length // horizon.interval_minutes for length in contract.shift_lengths_min}

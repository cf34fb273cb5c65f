"""Scheduling: shifts, breaks and days off for named agents, optimised with OR-Tools CP-SAT.

``schedule_agents(scenario, requirements, weeks=...)`` returns a :class:`ScheduleResult`
(shifts, activities per interval, coverage vs requirement, per-rule penalties, bound and gap);
``check_schedule`` verifies every hard rule on a returned schedule independently of the model;
``plan_shift_counts`` is slot-based planning with anonymous agents.
"""

from openwfm.schedule.check import check_schedule
from openwfm.schedule.rules import RULES
from openwfm.schedule.solver import (
    ScheduleResult,
    ScheduleTimeoutError,
    coverage_table,
    plan_shift_counts,
    schedule_agents,
)
from openwfm.schedule.templates import Horizon, expand_templates

__all__ = [
    "RULES",
    "Horizon",
    "ScheduleResult",
    "ScheduleTimeoutError",
    "check_schedule",
    "coverage_table",
    "expand_templates",
    "plan_shift_counts",
    "schedule_agents",
]

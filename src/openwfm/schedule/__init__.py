"""Scheduling: shifts, breaks and days off for named agents, optimised with OR-Tools CP-SAT
(the pooled first phase as a MIP with HiGHS when it is linear).

``schedule_agents(scenario, requirements, weeks=...)`` returns a :class:`ScheduleResult`
(shifts, activities per interval, coverage vs requirement, per-rule penalties, bound and gap);
``check_schedule`` verifies every hard rule on a returned schedule independently of the model;
``plan_shift_counts`` is slot-based planning with anonymous agents; ``schedule_slots`` rosters
named agents on shift types per date against a cover per slot (``check_slot_roster`` checks it).
"""

from openwfm._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "check": ["check_schedule"],
        "rules": ["RULES"],
        "slot_check": ["check_slot_roster", "slot_cover_cost", "slot_roster_checker"],
        "slots": ["SlotRosterResult", "schedule_slots"],
        "solver": [
            "ScheduleResult",
            "ScheduleTimeoutError",
            "coverage_table",
            "plan_shift_counts",
            "schedule_agents",
        ],
        "templates": ["Horizon", "expand_templates"],
    },
)

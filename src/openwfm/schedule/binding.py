"""Which scheduling rules bind: the solver's per-rule counts plus agents at a contract limit."""

from __future__ import annotations

from typing import Any

import pandas as pd

from openwfm.model import Scenario

# contract limits the shifts show directly: is an agent-week (minutes, days) at the limit?
CONTRACT_LIMITS = {
    "max_minutes_per_week": lambda contract, week: week.minutes >= contract.max_minutes_per_week,
    "min_minutes_per_week": lambda contract, week: week.minutes <= contract.min_minutes_per_week,
    "days_off_per_week": lambda contract, week: 7 - week.days <= contract.min_days_off_per_week,
}


def _agent_weeks_at_limit(scenario: Scenario, result: Any) -> dict[str, int]:
    """Agent-weeks at each contract limit of :data:`CONTRACT_LIMITS`."""
    counts = dict.fromkeys(CONTRACT_LIMITS, 0)
    shifts = result.shifts
    contracts = {c.name: c for c in scenario.contracts}
    if shifts.empty or not contracts:
        return counts
    frame = shifts.assign(
        week=(pd.to_datetime(shifts["date"]) - pd.Timestamp(result.horizon.start)).dt.days // 7
    )
    per_week = frame.groupby(["agent", "contract", "week"], as_index=False).agg(
        minutes=("paid_minutes", "sum"), days=("date", "nunique")
    )
    for week in per_week.itertuples(index=False):
        contract = contracts.get(week.contract)
        if contract is None:
            continue
        for name, at_limit in CONTRACT_LIMITS.items():
            counts[name] += int(at_limit(contract, week))
    return counts


def binding_rules(scenario: Scenario, result: Any) -> pd.DataFrame:
    """``result.rules`` (a :class:`~openwfm.schedule.ScheduleResult`'s) with ``at_limit`` and
    ``binds``.

    A hard rule binds when agents sit exactly at its limit (e.g. at their contract's maximum
    minutes per week); a soft rule binds when it is violated. ``at_limit`` counts agent-weeks at
    the limit for the contract rules the shifts show directly.
    """
    rules = result.rules.copy()
    counts = _agent_weeks_at_limit(scenario, result)
    rules["at_limit"] = [counts.get(name, 0) for name in rules["rule"]]
    rules["binds"] = (rules["violated"] > 0) | (rules["at_limit"] > 0)
    return rules

"""The capacity plan in one call: forecast -> required FTE -> FTE flow -> classes -> band.

``capacity_plan(scenario, plan, forecast, roster=..., weeks=52)`` returns a
:class:`CapacityResult` with the weekly table of every scenario (the baseline first), the
classes (planned and suggested) and the requirement per queue and week.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from openwfm.capacity.band import productive_band
from openwfm.capacity.flow import plan_table, resolve_classes
from openwfm.capacity.hiring import back_solve_table, suggest_classes
from openwfm.capacity.inputs import CapacityPlan
from openwfm.capacity.required import required_fte
from openwfm.capacity.scenarios import BASELINE, apply_adjustments, stacked_adjustments
from openwfm.errors import DataError
from openwfm.model import Scenario

PLAN_COLUMNS = [
    "scenario",
    "week_start",
    "required_fte_net",
    "required_fte",
    "starting_fte",
    "attrition_fte",
    "attrition_pct",
    "new_hire_fte",
    "transfers_fte",
    "planned_fte",
    "productive_fte",
    "productive_fte_p10",
    "productive_fte_p90",
    "net_fte",
    "gap_fte",
    "gap_pct",
    "planned_fte_committed",
    "gap_fte_committed",
    "class_starts",
    "hires_in_training",
    "hires_in_nesting",
    "hiring_cost",
    "staff_cost",
    "shortage_cost",
    "over_cost",
    "cost",
]


@dataclass
class CapacityResult:
    """``plan``: the weekly table (``PLAN_COLUMNS``, one row per scenario and week);
    ``classes``: every class per scenario (``origin`` plan / optimise / back_solve);
    ``requirements``: required FTE per scenario, week and queue."""

    plan: pd.DataFrame
    classes: pd.DataFrame
    requirements: pd.DataFrame


def plan_weeks(plan: CapacityPlan, forecast: pd.DataFrame, weeks: int, source: str) -> pd.DataFrame:
    """The forecast rows of the plan's weeks: each plan week takes the forecast week starting
    within 3 days of it (the forecast's own week convention may differ)."""
    week_starts = plan.week_starts(weeks)
    forecast_weeks = pd.DatetimeIndex(sorted(forecast["week_start"].unique()))
    if not len(forecast_weeks):
        raise DataError("the weekly forecast is empty", file=source, field="week_start")
    position = forecast_weeks.get_indexer(week_starts, method="nearest")
    distance = np.abs((forecast_weeks[position] - week_starts).days)
    if (distance > 3).any():
        missing = week_starts[np.flatnonzero(distance > 3)[0]]
        raise DataError(
            f"no forecast for the plan week of {missing.date()} (forecast covers "
            f"{forecast_weeks[0].date()}..{forecast_weeks[-1].date()})",
            file=source,
            field="week_start",
        )
    mapping = pd.DataFrame({"week_start": week_starts, "_forecast_week": forecast_weeks[position]})
    rows = mapping.merge(
        forecast.rename(columns={"week_start": "_forecast_week"}), on="_forecast_week"
    )
    return rows.drop(columns="_forecast_week")


def capacity_plan(
    scenario: Scenario,
    plan: CapacityPlan,
    forecast: pd.DataFrame,
    *,
    roster: pd.DataFrame | None = None,
    profile: pd.DataFrame | None = None,
    weeks: int = 52,
    forecast_source: str = "forecast",
    band: bool = True,
) -> CapacityResult:
    """Plan ``weeks`` weeks from ``plan.start`` for the baseline and each scenario."""
    from openwfm.capacity.inputs import check_weekly_forecast

    forecast = check_weekly_forecast(forecast, forecast_source, set(scenario.queue_names))
    base = plan_weeks(plan, forecast, weeks, forecast_source)
    shrinkage = scenario.shrinkage if plan.shrinkage is None else plan.shrinkage
    committed = resolve_classes(plan)
    tables, classes, requirements = [], [], []
    for name, adjustments in stacked_adjustments(plan).items():
        weekly = apply_adjustments(base, adjustments)
        need = required_fte(
            weekly,
            scenario,
            profile=profile,
            hours_per_fte_week=plan.hours_per_fte_week,
            shrinkage=shrinkage,
            holidays=plan.holidays,
            source=forecast_source,
        )
        requirements.append(need.assign(scenario=name))
        total = need.groupby("week_start", as_index=False)[["required_fte_net"]].sum()
        committed_table = plan_table(total, plan, roster, committed, shrinkage=shrinkage)
        suggested = suggest_classes(
            plan, committed_table["required_fte"].to_numpy(float), roster, committed
        )
        every = committed + suggested
        table = plan_table(total, plan, roster, every, shrinkage=shrinkage)
        table["planned_fte_committed"] = committed_table["planned_fte"]
        table["gap_fte_committed"] = committed_table["gap_fte"]
        if band:
            table = pd.concat([table, productive_band(plan, roster, every, weeks)], axis=1)
        else:
            table["productive_fte_p10"] = np.nan
            table["productive_fte_p90"] = np.nan
        table["scenario"] = name
        tables.append(table[PLAN_COLUMNS])
        classes.append(back_solve_table(plan, every).assign(scenario=name))
    return CapacityResult(
        pd.concat(tables, ignore_index=True),
        pd.concat(classes, ignore_index=True)[["scenario", *classes[0].columns[:-1]]],
        pd.concat(requirements, ignore_index=True),
    )


__all__ = ["BASELINE", "PLAN_COLUMNS", "CapacityResult", "capacity_plan", "plan_weeks"]

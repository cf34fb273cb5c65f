"""A capacity plan made from interaction records alone, checked against what happened.

:func:`plan_from_records` stands at ``as_of`` with only the records before it: the roster is
each agent's first and last day (:mod:`.roster`), the weekly attrition rate is the exits per
agent-week in the history, the weekly forecast is the given table or AutoETS on the weekly
totals, and the intraday profile is the history's. It plans ``weeks`` weeks and joins what
really happened: offered contacts and the agents who answered at least one contact each week.

A record-based center has no FTE contract: an agent is one head, whatever hours they work. So
the plan counts heads, and one head is ``hours_per_head`` paid hours a week: the median over
the history's weeks of the agent hours the same model requires (interval Erlang staffing with
shrinkage) for the volume that really arrived, per agent who answered a contact that week. The
required FTE at 40 hours is shown beside it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from openwfm.capacity.history import autoets_weekly_forecast, weekly_agents, weekly_totals
from openwfm.capacity.inputs import CapacityPlan, check_weekly_forecast
from openwfm.capacity.planner import CapacityResult, capacity_plan
from openwfm.capacity.required import profile_from_history, required_fte
from openwfm.capacity.roster import roster_from_interactions, weekly_attrition_rate
from openwfm.model import Scenario


@dataclass
class RecordsCase:
    """``weeks``: per plan week the forecast and actual volume, required FTE and heads,
    planned FTE and the agents who really worked; ``result``: the full capacity plan."""

    weeks: pd.DataFrame
    result: CapacityResult
    roster: pd.DataFrame
    attrition_rate: float
    hours_per_head: float
    forecast_method: str


def _week_starts_on(as_of: dt.date) -> int:
    return as_of.weekday()


def plan_from_records(
    interactions: pd.DataFrame,
    scenario: Scenario,
    as_of: dt.date,
    weeks: int = 26,
    *,
    forecast: pd.DataFrame | None = None,
    forecaster: str = "openwfm",
    country: str | None = None,
    history_weeks: int | None = None,
) -> RecordsCase:
    """Plan ``weeks`` weeks from ``as_of`` (a week start) with the records before it.

    Without a ``forecast`` table: ``forecaster="openwfm"`` is openwfm's long-term weekly
    forecast (:class:`openwfm.forecast.longterm.LongTermForecaster`, holidays of ``country``)
    on the interval history; ``"autoets"`` is statsforecast's AutoETS on weekly totals."""
    queues = set(scenario.queue_names)
    records = interactions[interactions["queue"].isin(queues)]
    arrival = pd.to_datetime(records["arrival_time"])
    before = records[arrival < pd.Timestamp(as_of)]
    starts_on = _week_starts_on(as_of)
    history = weekly_totals(before, starts_on)
    first_full_week = pd.Timestamp(before["arrival_time"].min()).normalize()
    history = history[history["week_start"] >= first_full_week]
    if history_weeks is not None:
        history = history[
            history["week_start"] >= pd.Timestamp(as_of) - pd.Timedelta(weeks=history_weeks)
        ]
    from openwfm.forecast.history import history_from_interactions

    intervals = history_from_interactions(before, scenario.grid.interval_minutes)
    method = "given"
    if forecast is None and forecaster == "autoets":
        forecast = autoets_weekly_forecast(history, weeks)
        method = "statsforecast AutoETS on weekly totals"
    elif forecast is None:
        from openwfm.forecast.longterm import LongTermForecaster

        model = LongTermForecaster(granularity="week", country=country).fit(intervals)
        forecast = model.predict(horizon_days=weeks * 7 + 7)
        method = f"openwfm LongTermForecaster (weekly, holidays: {country or 'none'})"
    forecast = check_weekly_forecast(forecast, "forecast", queues)
    roster = roster_from_interactions(before, as_of=as_of)
    rate = weekly_attrition_rate(roster, before["arrival_time"].min().date(), as_of)
    profile = profile_from_history(intervals)
    hours_per_head = _hours_per_head(before, history, scenario, profile, starts_on)
    plan = CapacityPlan(
        start=as_of,
        hours_per_fte_week=hours_per_head,
        attrition=[{"weekly_rate": rate}],
        hiring={"method": "back_solve"},
        band={"simulations": 400, "seed": 1},
    )
    result = capacity_plan(scenario, plan, forecast, roster=roster, profile=profile, weeks=weeks)
    table = result.plan[result.plan["scenario"] == "baseline"].drop(columns="scenario")
    actual = weekly_totals(records, starts_on).groupby("week_start")["offered"].sum()
    agents = weekly_agents(records, starts_on).set_index("week_start")
    full = agents["days_with_records"] == 7
    predicted = forecast.groupby("week_start")["offered"].sum()
    weeks_table = pd.DataFrame(
        {
            "week_start": table["week_start"].to_numpy(),
            "forecast_offered": predicted.reindex(
                table["week_start"], method="nearest", tolerance=pd.Timedelta(days=3)
            ).to_numpy(),
            "actual_offered": actual.reindex(table["week_start"]).to_numpy(),
            "required_fte_40h": table["required_fte"].to_numpy() * hours_per_head / 40.0,
            "required_heads": table["required_fte"].to_numpy(),
            "planned_heads": table["planned_fte"].to_numpy(),
            "planned_heads_p10": table["productive_fte_p10"].to_numpy(),
            "planned_heads_p90": table["productive_fte_p90"].to_numpy(),
            "agents_worked": agents["agents"].where(full).reindex(table["week_start"]).to_numpy(),
        }
    )
    return RecordsCase(weeks_table, result, roster, rate, hours_per_head, method)


def _hours_per_head(before, history, scenario, profile, starts_on) -> float:
    """Median over full history weeks of required paid hours (actual volume) per agent."""
    need = required_fte(history, scenario, profile=profile, hours_per_fte_week=1.0)
    hours = need.groupby("week_start")["required_fte"].sum()  # paid hours, with shrinkage
    agents = weekly_agents(before, starts_on).set_index("week_start")
    agents = agents.loc[agents["days_with_records"] == 7, "agents"]
    ratio = (hours.reindex(agents.index) / agents).dropna()
    return float(np.median(ratio)) if len(ratio) else 40.0


def case_summary(case: RecordsCase) -> dict[str, float]:
    """Forecast WAPE and the required-heads error against the agents who worked (weeks with
    records only)."""
    weeks = case.weeks.dropna(subset=["actual_offered", "agents_worked"])
    wape = (
        float(
            np.abs(weeks["forecast_offered"] - weeks["actual_offered"]).sum()
            / weeks["actual_offered"].sum()
        )
        if len(weeks)
        else float("nan")
    )
    error = weeks["required_heads"] - weeks["agents_worked"]
    return {
        "weeks_with_records": float(len(weeks)),
        "forecast_wape": wape,
        "heads_mean_error": float(error.mean()) if len(weeks) else float("nan"),
        "heads_mean_abs_error": float(error.abs().mean()) if len(weeks) else float("nan"),
        "heads_mape": float((error.abs() / weeks["agents_worked"]).mean())
        if len(weeks)
        else float("nan"),
    }

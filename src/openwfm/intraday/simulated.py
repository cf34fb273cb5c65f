"""The rest-of-day outlook by simulation, for multi-skill centers.

The queueing formulas treat each queue alone with a share of each multi-skilled agent; the
simulator (:mod:`openwfm.sim`) routes every contact by the center's routing policy over the
agents' real skills. :func:`simulate_rest_of_day` runs it from ``as_of`` to the end of the day:

- arrivals: Poisson at the updated forecast rate of each remaining interval (contacts arriving
  before ``as_of`` are warm-up and left out of the figures);
- agents: the schedule's working time (any queue activity or ``work``; breaks and other
  activities are away), agents absent now cut off from ``as_of`` on; a scheduled queue
  activity does not restrict an agent to that queue (the simulator routes by skills);
- the queue starts empty at the start of the current interval (contacts waiting at ``as_of``
  are not carried over: the queue-now figures of the outlook report them).

Per queue x interval: ``simulated_service_level`` and ``simulated_abandon`` with their 95%
confidence intervals over ``replications`` seeded replications.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from openwfm.model import Scenario

if TYPE_CHECKING:
    from openwfm.intraday.rest_of_day import OutlookResult


def simulation_schedule(
    schedule: pd.DataFrame, scenario: Scenario, absent: set[str], as_of: pd.Timestamp | str
) -> pd.DataFrame:
    """The scheduled-activity table as the simulator's (agent, start, end, activity)."""
    as_of = pd.Timestamp(as_of)
    table = schedule.rename(columns={"agent_id": "agent"}).copy()
    working = table["activity"].isin(scenario.queue_names) | (
        table["activity"].str.lower() == "work"
    )
    table["activity"] = table["activity"].where(~working, "work")
    gone = table["agent"].isin(absent)
    table.loc[gone, "end"] = table.loc[gone, "end"].clip(upper=as_of)
    table = table[table["end"] > table["start"]]
    return table[["agent", "start", "end", "activity"]].reset_index(drop=True)


def simulate_rest_of_day(
    scenario: Scenario,
    forecast_day: pd.DataFrame,
    schedule: pd.DataFrame,
    *,
    as_of: pd.Timestamp | str,
    absent: set[str] | None = None,
    interval_minutes: int | None = None,
    replications: int = 10,
    seed: int = 0,
    scheduler: str = "threads",
) -> pd.DataFrame:
    """Simulated service level and abandonment per queue x remaining interval (module doc).
    ``forecast_day``: the outlook's day table (``interval_start, queue, forecast_updated``)."""
    from openwfm.sim import simulate

    as_of = pd.Timestamp(as_of)
    interval_minutes = interval_minutes or scenario.grid.interval_minutes
    step = pd.Timedelta(minutes=interval_minutes)
    rest = forecast_day[pd.to_datetime(forecast_day["interval_start"]) + step > as_of]
    column = "forecast_updated" if "forecast_updated" in rest.columns else "forecast"
    rates = pd.DataFrame(
        {
            "interval_start": pd.to_datetime(rest["interval_start"]),
            "queue": rest["queue"].astype(str),
            "arrival_rate_per_s": rest[column].astype(float) / step.total_seconds(),
        }
    )
    origin = as_of.normalize()
    result = simulate(
        scenario,
        rates=rates,
        schedule=simulation_schedule(schedule, scenario, absent or set(), as_of),
        start=origin.date(),
        days=1,
        interval_s=step.total_seconds(),
        warmup_s=(as_of - origin).total_seconds(),
        replications=replications,
        seed=seed,
        scheduler=scheduler,
    )
    rows = result.intervals
    rows = rows[(rows["segment"] == "all") & (rows["queue"] != "all")]
    rows = rows[pd.to_datetime(rows["interval_start"]) + step > as_of]
    out = pd.DataFrame(
        {
            "interval_start": pd.to_datetime(rows["interval_start"]),
            "queue": rows["queue"].astype(str),
            "simulated_service_level": rows["service_level"],
            "simulated_service_level_ci_low": rows["service_level_ci_low"],
            "simulated_service_level_ci_high": rows["service_level_ci_high"],
            "simulated_abandon": rows["abandon_rate"],
            "simulated_abandon_ci_low": rows["abandon_rate_ci_low"],
            "simulated_abandon_ci_high": rows["abandon_rate_ci_high"],
        }
    )
    return out.reset_index(drop=True)


def use_simulation(result: OutlookResult, simulated: pd.DataFrame) -> OutlookResult:
    """The outlook with the simulated figures as its projection: ``projected_service_level``
    and ``projected_abandon`` of the remaining intervals become the simulated means (the
    Erlang values stay as ``erlang_service_level`` / ``erlang_abandon``; CI columns added),
    and the per-queue rest-of-day figures are recomputed from them."""
    import numpy as np

    table = result.intervals.merge(simulated, on=["interval_start", "queue"], how="left")
    table["erlang_service_level"] = table["projected_service_level"]
    table["erlang_abandon"] = table["projected_abandon"]
    rest = ~table["past"]
    table.loc[rest, "projected_service_level"] = table.loc[rest, "simulated_service_level"]
    table.loc[rest, "projected_abandon"] = table.loc[rest, "simulated_abandon"]
    queues = result.queues.copy()
    for index, row in queues.iterrows():
        part = table[(table["queue"] == row["queue"]) & rest]
        part = part[part["projected_service_level"].notna()]
        weights = part["forecast_updated"].to_numpy(float)
        if weights.sum() > 0:
            queues.loc[index, "projected_rest_service_level"] = float(
                np.average(part["projected_service_level"], weights=weights)
            )
            queues.loc[index, "projected_rest_abandon"] = float(
                np.average(part["projected_abandon"], weights=weights)
            )
    queues["model"] = "simulation"
    return type(result)(table, queues, result.as_of)

"""Weekly forecast -> required FTE per week, from interval-level Erlang staffing.

Workload / hours understates the need (the queue needs spare agents to answer in time, more so
at small volumes). So each plan week is spread over a representative week of intervals: the
week's offered contacts x the intraday profile's share of each (weekday, time) slot, the week's
AHT in every interval; the open intervals come from the scenario's opening hours, without the
holidays (a closed day's share goes to the week's open slots). :func:`openwfm.staffing.requirements`
then gives the agents each interval needs to meet the scenario's targets (Erlang C / A, chat,
deferred work, segments), and::

    agent_hours        = sum over intervals of required_agents x interval length (h)
    required_fte_net   = agent_hours / hours_per_fte_week            (on contacts, no shrinkage)
    required_fte       = required_fte_net / (1 - shrinkage)           (shrinkage is a divisor)
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from openwfm.errors import DataError
from openwfm.model import Scenario

WEEK_S = 7 * 86400
_PROFILE_MONDAY = dt.date(2024, 1, 1)  # any Monday: offsets are Monday-based


def profile_from_scenario(scenario: Scenario) -> pd.DataFrame:
    """Intraday profile (``queue, offset_s, share``; offset from Monday 00:00) from each queue's
    ``demand`` in the scenario (weekday factors and peaks); a queue without demand is flat over
    the open intervals."""
    from openwfm.sim.arrivals import demand_rates

    rates = demand_rates(scenario, _PROFILE_MONDAY, 7)
    interval_s = scenario.grid.interval_s
    frames = []
    if len(rates):
        rates = rates.groupby(["queue", "interval_start"], as_index=False)[
            "arrival_rate_per_s"
        ].sum()
        offsets = (rates["interval_start"] - pd.Timestamp(_PROFILE_MONDAY)).dt.total_seconds()
        frames.append(
            pd.DataFrame(
                {
                    "queue": rates["queue"].astype(str),
                    "offset_s": offsets.astype(int),
                    "share": rates["arrival_rate_per_s"] * interval_s,
                }
            )
        )
    with_demand = set(rates["queue"]) if len(rates) else set()
    open_offsets = _open_offsets(scenario)
    for queue in scenario.queue_names:
        if queue not in with_demand:
            frames.append(pd.DataFrame({"queue": queue, "offset_s": open_offsets, "share": 1.0}))
    return _normalise(pd.concat(frames, ignore_index=True))


def profile_from_history(history: pd.DataFrame) -> pd.DataFrame:
    """Intraday profile from an interval history (``interval_start, queue, offered``): the
    mean volume of each (weekday, time) slot over the history's weeks, as shares."""
    for column in ("interval_start", "queue", "offered"):
        if column not in history.columns:
            raise DataError("missing column", field=column)
    starts = pd.to_datetime(history["interval_start"])
    offset = (
        starts.dt.weekday * 86400 + starts.dt.hour * 3600 + starts.dt.minute * 60 + starts.dt.second
    )
    frame = pd.DataFrame(
        {
            "queue": history["queue"].astype(str),
            "offset_s": offset.astype(int),
            "share": pd.to_numeric(history["offered"], errors="coerce").fillna(0.0),
        }
    )
    return _normalise(frame.groupby(["queue", "offset_s"], as_index=False)["share"].sum())


def _normalise(profile: pd.DataFrame) -> pd.DataFrame:
    profile = profile.groupby(["queue", "offset_s"], as_index=False)["share"].sum()
    totals = profile.groupby("queue")["share"].transform("sum")
    profile["share"] = profile["share"] / totals.where(totals > 0, 1.0)
    return profile


def _open_offsets(scenario: Scenario) -> np.ndarray:
    """Monday-based offsets (s) of the scenario's open intervals over one week."""
    monday = pd.Timestamp(_PROFILE_MONDAY)
    return np.array(
        [
            int((pd.Timestamp(t) - monday).total_seconds())
            for t in scenario.grid.intervals(_PROFILE_MONDAY, 7)
        ],
        dtype=np.int64,
    )


def representative_intervals(
    weekly: pd.DataFrame,
    scenario: Scenario,
    profile: pd.DataFrame,
    holidays: list[dt.date] | tuple = (),
    source: str = "forecast",
) -> pd.DataFrame:
    """Interval forecast (``interval_start, queue, forecast, aht_s, week_start``) for every row
    of ``weekly`` (``week_start, queue, offered, aht_s``): the week's volume over its open,
    non-holiday intervals in proportion to the profile."""
    open_offsets = _open_offsets(scenario)
    holiday_days = {pd.Timestamp(day).normalize() for day in holidays}
    shares = {
        queue: rows.set_index("offset_s")["share"] for queue, rows in profile.groupby("queue")
    }
    parts = []
    for row in weekly.itertuples(index=False):
        week_start = pd.Timestamp(row.week_start).normalize()
        shift_s = week_start.weekday() * 86400
        relative = np.sort((open_offsets - shift_s) % WEEK_S)
        starts = week_start + pd.to_timedelta(relative, unit="s")
        keep = (
            ~starts.normalize().isin(list(holiday_days))
            if holiday_days
            else np.ones(len(starts), bool)
        )
        starts = starts[keep]
        monday_offsets = (relative[keep] + shift_s) % WEEK_S
        queue_shares = shares.get(str(row.queue))
        if queue_shares is None:
            raise DataError(
                f"no intraday profile for queue {row.queue!r}", file=source, field="queue"
            )
        weights = queue_shares.reindex(monday_offsets).fillna(0.0).to_numpy(float)
        if weights.sum() <= 0:
            if row.offered > 0:
                raise DataError(
                    f"queue {row.queue!r}: week {week_start.date()} has volume but no open "
                    "interval in the profile",
                    file=source,
                    field="week_start",
                )
            weights = np.ones(len(starts))
        parts.append(
            pd.DataFrame(
                {
                    "interval_start": starts,
                    "queue": str(row.queue),
                    "forecast": row.offered * weights / weights.sum(),
                    "aht_s": float(row.aht_s),
                    "week_start": week_start,
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=["interval_start", "queue", "forecast", "aht_s", "week_start"])
    return pd.concat(parts, ignore_index=True)


def required_fte(
    weekly: pd.DataFrame,
    scenario: Scenario,
    *,
    profile: pd.DataFrame | None = None,
    hours_per_fte_week: float = 40.0,
    shrinkage: float | None = None,
    holidays: list[dt.date] | tuple = (),
    source: str = "forecast",
) -> pd.DataFrame:
    """Required FTE per week and queue (see the module doc). Columns: ``week_start, queue,
    offered, aht_s, agent_hours, required_fte_net, required_fte`` (FTE of
    ``hours_per_fte_week`` paid hours)."""
    from openwfm.staffing import requirements

    shrinkage = scenario.shrinkage if shrinkage is None else shrinkage
    profile = profile_from_scenario(scenario) if profile is None else profile
    intervals = representative_intervals(weekly, scenario, profile, holidays, source)
    interval_h = scenario.grid.interval_s / 3600.0
    if len(intervals):
        staffed = requirements(intervals.drop(columns="week_start"), scenario)
        staffed = staffed.merge(
            intervals[["interval_start", "queue", "week_start"]], on=["interval_start", "queue"]
        )
        hours = (
            staffed.assign(agent_hours=staffed["required_agents"] * interval_h)
            .groupby(["week_start", "queue"], as_index=False)["agent_hours"]
            .sum()
        )
    else:
        hours = pd.DataFrame(columns=["week_start", "queue", "agent_hours"])
    out = weekly.assign(week_start=pd.to_datetime(weekly["week_start"]).dt.normalize()).merge(
        hours, on=["week_start", "queue"], how="left"
    )
    out["agent_hours"] = out["agent_hours"].fillna(0.0).astype(float)
    out["required_fte_net"] = out["agent_hours"] / hours_per_fte_week
    out["required_fte"] = out["required_fte_net"] / (1.0 - shrinkage)
    return out[
        [
            "week_start",
            "queue",
            "offered",
            "aht_s",
            "agent_hours",
            "required_fte_net",
            "required_fte",
        ]
    ]

"""A roster from interaction records: each agent's first and last day of work.

When no HR roster exists (the Anonymous Bank), the first day an agent answered a contact
stands for the hire date and the last for the exit. ``as_of`` keeps the planner honest: only
records before it are read, and an agent not seen in the ``inactive_days`` before it is taken
to have left on their last day.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from openwfm.errors import DataError


def agent_days(interactions: pd.DataFrame) -> pd.DataFrame:
    """``agent, day`` for every day each agent answered at least one contact."""
    for column in ("agent", "arrival_time"):
        if column not in interactions.columns:
            raise DataError("missing column", field=column)
    answered = interactions.dropna(subset=["agent"])
    days = pd.to_datetime(answered["arrival_time"]).dt.normalize()
    return (
        pd.DataFrame({"agent": answered["agent"].astype(str), "day": days})
        .drop_duplicates()
        .sort_values(["day", "agent"])
        .reset_index(drop=True)
    )


def roster_from_interactions(
    interactions: pd.DataFrame, as_of: dt.date | None = None, inactive_days: int = 14
) -> pd.DataFrame:
    """Roster table (``agent, hire_date, exit_date, skills, fte, site``) from the records;
    ``skills`` lists the queues the agent answered (``;``-separated), ``fte`` is 1."""
    days = agent_days(interactions)
    frame = interactions.dropna(subset=["agent"])
    if as_of is not None:
        cut = pd.Timestamp(as_of)
        keep = pd.to_datetime(frame["arrival_time"]) < cut
        frame = frame[keep]
        days = days[days["day"] < cut]
    spans = days.groupby("agent")["day"].agg(["min", "max"])
    skills = frame.groupby(frame["agent"].astype(str))["queue"].agg(
        lambda values: ";".join(sorted(set(map(str, values))))
    )
    exit_date = spans["max"]
    if as_of is not None:
        still_active = spans["max"] >= pd.Timestamp(as_of) - pd.Timedelta(days=inactive_days)
        exit_date = exit_date.where(~still_active)
    return pd.DataFrame(
        {
            "agent": spans.index.astype(str),
            "hire_date": spans["min"].to_numpy(),
            "exit_date": exit_date.to_numpy(),
            "skills": skills.reindex(spans.index).fillna("").to_numpy(),
            "fte": 1.0,
            "site": "",
        }
    ).reset_index(drop=True)


def weekly_attrition_rate(roster: pd.DataFrame, since: dt.date, until: dt.date) -> float:
    """Exits per agent-week between ``since`` and ``until`` (exposure: the weeks each agent
    was employed inside the window); 0 when nobody was employed."""
    start, end = pd.Timestamp(since), pd.Timestamp(until)
    first = roster["hire_date"].where(roster["hire_date"] > start, start)
    last = roster["exit_date"].fillna(end)
    last = last.where(last < end, end)
    weeks = ((last - first).dt.days.clip(lower=0) / 7.0).sum()
    exits = roster["exit_date"].between(start, end).sum()
    return float(exits / weeks) if weeks > 0 else 0.0

"""Weekly tables from interaction records, and a weekly forecast when none is given.

- :func:`weekly_totals`: offered contacts and AHT per queue and week (the input shape of the
  capacity plan, ``week_start, queue, offered, aht_s``);
- :func:`weekly_agents`: the agents who answered at least one contact each week;
- :func:`autoets_weekly_forecast`: statsforecast's AutoETS on weekly totals per queue (volume
  and AHT), the long-term forecast to use until a better one is at hand.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from openwfm.errors import DataError

OFFERED = ("answered", "abandoned")


def week_start_of(times: pd.Series, week_starts_on: int = 0) -> pd.Series:
    """Midnight of the first day of the week (``week_starts_on``: 0 = Monday .. 6 = Sunday)."""
    days = pd.to_datetime(times).dt.normalize()
    back = (days.dt.weekday - week_starts_on) % 7
    return days - pd.to_timedelta(back, unit="D")


def weekly_totals(interactions: pd.DataFrame, week_starts_on: int = 0) -> pd.DataFrame:
    """``week_start, queue, offered, aht_s`` from the interactions table (offered = answered
    or abandoned; AHT = mean handle time of answered contacts)."""
    for column in ("arrival_time", "queue", "outcome", "handle_s"):
        if column not in interactions.columns:
            raise DataError("missing column", field=column)
    offered = interactions[interactions["outcome"].isin(OFFERED)]
    frame = pd.DataFrame(
        {
            "week_start": week_start_of(offered["arrival_time"], week_starts_on),
            "queue": offered["queue"].astype(str),
            "handle_s": offered["handle_s"].where(offered["outcome"] == "answered"),
        }
    )
    out = frame.groupby(["week_start", "queue"], as_index=False).agg(
        offered=("queue", "size"), aht_s=("handle_s", "mean")
    )
    out["offered"] = out["offered"].astype(float)
    return out


def weekly_agents(interactions: pd.DataFrame, week_starts_on: int = 0) -> pd.DataFrame:
    """``week_start, agents, days_with_records``: distinct agents who answered a contact in
    the week, and on how many of its days there are any records (7: a full week)."""
    answered = interactions.dropna(subset=["agent"])
    weeks = week_start_of(answered["arrival_time"], week_starts_on)
    counts = answered.groupby(weeks)["agent"].nunique()
    arrival = pd.to_datetime(interactions["arrival_time"])
    days = arrival.dt.normalize().groupby(week_start_of(arrival, week_starts_on)).nunique()
    return pd.DataFrame(
        {
            "week_start": counts.index,
            "agents": counts.to_numpy(),
            "days_with_records": days.reindex(counts.index).fillna(0).astype(int).to_numpy(),
        }
    )


def autoets_weekly_forecast(
    weekly: pd.DataFrame, horizon_weeks: int, season_length: int = 1
) -> pd.DataFrame:
    """AutoETS (statsforecast) per queue on weekly ``offered`` and ``aht_s``; weeks with no
    record inside the history are filled by interpolation. Returns the weekly forecast table
    for the ``horizon_weeks`` weeks after the history's last week."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS

    frames = []
    for queue, rows in weekly.groupby("queue"):
        rows = rows.set_index("week_start").sort_index()[["offered", "aht_s"]].astype(float)
        index = pd.date_range(rows.index.min(), rows.index.max(), freq="7D")
        rows = rows.reindex(index).interpolate(limit_direction="both")
        for column in ("offered", "aht_s"):
            frames.append(
                pd.DataFrame(
                    {"unique_id": f"{queue}|{column}", "ds": index, "y": rows[column].to_numpy()}
                )
            )
    long = pd.concat(frames, ignore_index=True)
    model = StatsForecast(models=[AutoETS(season_length=season_length)], freq="7D", n_jobs=1)
    predicted = model.forecast(df=long, h=horizon_weeks)
    predicted = predicted.reset_index() if "unique_id" not in predicted.columns else predicted
    parts = predicted["unique_id"].str.split("|", expand=True)
    table = pd.DataFrame(
        {
            "week_start": predicted["ds"],
            "queue": parts[0],
            "metric": parts[1],
            "value": np.maximum(predicted["AutoETS"].to_numpy(float), 0.0),
        }
    )
    out = table.pivot_table(index=["week_start", "queue"], columns="metric", values="value")
    return out.reset_index()[["week_start", "queue", "offered", "aht_s"]]

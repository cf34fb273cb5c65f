"""The intraday-updated forecast behind one function, :func:`update_forecast`.

Until the forecast stage's ``Forecaster.update(actuals, as_of)`` (issue 15) is on main, the
update is the suites' documented ratio method, shrunk toward 1 (the variant that did not make
early-day forecasts worse on the bank data, see the research note):

    r = offered so far / forecast so far (per queue, intervals that ended by ``as_of``)
    w = F_so_far / (F_so_far + prior_contacts)          (a credibility weight in 0..1)
    forecast' = forecast x (1 + w (r - 1))              (future intervals only)

so a handful of contacts barely moves the forecast and a busy morning moves it almost fully.
Handle time is updated the same way when the forecast has ``aht_s`` (ratio of the answered
handle time so far to the forecast handle time so far). Past intervals keep their forecast
(the version the schedule used is never rewritten: the result is a new table).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from openwfm.data.schema import OFFERED_OUTCOMES
from openwfm.errors import DataError

DEFAULT_PRIOR_CONTACTS = 50.0


def check_forecast(forecast: pd.DataFrame) -> pd.DataFrame:
    """``interval_start, queue, forecast [, aht_s]`` with parsed times and numbers."""
    for column in ("interval_start", "queue", "forecast"):
        if column not in forecast.columns:
            raise DataError(f"missing column {column}", file="forecast", field=column)
    out = forecast.copy()
    out["interval_start"] = pd.to_datetime(out["interval_start"])
    out["queue"] = out["queue"].astype(str)
    out["forecast"] = pd.to_numeric(out["forecast"], errors="coerce")
    bad = out["forecast"].isna() | (out["forecast"] < 0)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"expected a number >= 0, got {forecast['forecast'].iloc[row]!r}",
            file="forecast",
            line=row + 2,
            field="forecast",
        )
    return out.sort_values(["queue", "interval_start"]).reset_index(drop=True)


def ratio_update(
    forecast: pd.DataFrame,
    contacts: pd.DataFrame,
    as_of,
    *,
    interval_minutes: int,
    prior_contacts: float = DEFAULT_PRIOR_CONTACTS,
) -> pd.DataFrame:
    """The shrunk ratio update (module doc). Adds ``forecast_updated``, ``ratio``,
    ``weight`` [and ``aht_s_updated``] to the forecast rows of ``as_of``'s day."""
    as_of = pd.Timestamp(as_of)
    step = pd.Timedelta(minutes=interval_minutes)
    table = check_forecast(forecast)
    day = table[table["interval_start"].dt.normalize() == as_of.normalize()].copy()
    offered = contacts[
        contacts["outcome"].isin(OFFERED_OUTCOMES)
        & (contacts["arrival_time"] >= as_of.normalize())
        & (contacts["arrival_time"] < as_of)
    ]
    elapsed = day["interval_start"] + step <= as_of
    day["ratio"] = 1.0
    day["weight"] = 0.0
    day["forecast_updated"] = day["forecast"].astype(float)
    has_aht = "aht_s" in day.columns
    if has_aht:
        day["aht_s_updated"] = day["aht_s"].astype(float)
    for queue, rows in day.groupby("queue"):
        past = rows[elapsed[rows.index]]
        if past.empty:
            continue
        cut = past["interval_start"].max() + step
        mine = offered[(offered["queue"].astype(str) == queue) & (offered["arrival_time"] < cut)]
        so_far = float(past["forecast"].sum())
        actual = float(len(mine))
        ratio = actual / so_far if so_far > 0 else 1.0
        weight = so_far / (so_far + prior_contacts) if so_far > 0 else 0.0
        future = rows.index[~elapsed[rows.index]]
        day.loc[rows.index, "ratio"] = ratio
        day.loc[rows.index, "weight"] = weight
        day.loc[future, "forecast_updated"] = rows.loc[future, "forecast"] * (
            1.0 + weight * (ratio - 1.0)
        )
        handled = mine[(mine["outcome"] == "answered") & (mine["handle_s"] > 0)]
        if has_aht and len(handled) and (past["forecast"] * past["aht_s"]).sum() > 0:
            planned = (past["forecast"] * past["aht_s"]).sum() / so_far
            aht_ratio = float(handled["handle_s"].mean()) / planned
            aht_weight = len(handled) / (len(handled) + prior_contacts)
            day.loc[future, "aht_s_updated"] = rows.loc[future, "aht_s"] * (
                1.0 + aht_weight * (aht_ratio - 1.0)
            )
    return day.reset_index(drop=True)


def update_forecast(
    forecast: pd.DataFrame,
    contacts: pd.DataFrame,
    as_of,
    *,
    interval_minutes: int,
    prior_contacts: float = DEFAULT_PRIOR_CONTACTS,
) -> pd.DataFrame:
    """The intraday-updated forecast of ``as_of``'s day (the one swap point for the forecast
    stage's own update): rows of that day with ``forecast_updated`` for every interval."""
    return ratio_update(
        forecast, contacts, as_of, interval_minutes=interval_minutes, prior_contacts=prior_contacts
    )

"""The intraday-updated forecast behind one function, :func:`update_forecast`.

The volume update is the forecast stage's (``openwfm.forecast``, issue 15):

- with a fitted ``Forecaster``: :meth:`Forecaster.update(actuals, as_of, forecast=...)
  <openwfm.forecast.Forecaster.update>` (``method="auto"``: the ratio shrunk with the
  pseudo-count learned per cut-off hour from its own backtest, averaged with the two-hour
  window ratio shrunk halfway);
- without one: :func:`openwfm.forecast.intraday.update_forecast` with ``method`` (default
  ``ratio_shrunk``: ``forecast' = forecast x (1 + w (r - 1))``, ``r`` = offered so far /
  forecast so far, ``w = F / (F + k)``, ``k`` = ``prior_contacts`` or the stage's default).

The actuals are the contacts offered per queue x interval of ``as_of``'s day, for the
intervals that ended by ``as_of`` and that the forecast has (contacts in intervals the forecast
does not cover are not part of its ratio). Handle time is updated here when the forecast has
``aht_s``: the ratio of the answered handle time so far to the forecast handle time so far,
shrunk the same way with ``w = n / (n + k)`` over the ``n`` handled contacts. Past intervals
keep their forecast (the version the schedule used is never rewritten: the result is a new
table).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from openwfm.data.schema import OFFERED_OUTCOMES
from openwfm.errors import DataError

DEFAULT_AHT_PRIOR_CONTACTS = 150.0


def check_forecast(forecast: pd.DataFrame) -> pd.DataFrame:
    """``interval_start, queue, forecast [, aht_s]`` (:data:`openwfm.tables.FORECAST`) with
    parsed times and numbers."""
    from openwfm.tables import FORECAST, check_table

    names = ["interval_start", "queue", "forecast"]
    out = check_table(forecast, FORECAST, source="forecast", columns=names, keys=False)
    return out.sort_values(["queue", "interval_start"]).reset_index(drop=True)


def offered_actuals(
    contacts: pd.DataFrame, day: pd.DataFrame, as_of: pd.Timestamp | str, interval_minutes: int
) -> pd.DataFrame:
    """``interval_start, queue, offered`` of the forecast's intervals that ended by ``as_of``."""
    step = pd.Timedelta(minutes=interval_minutes)
    as_of = pd.Timestamp(as_of)
    ended = day[day["interval_start"] + step <= as_of][["interval_start", "queue"]]
    offered = contacts[
        contacts["outcome"].isin(OFFERED_OUTCOMES)
        & (contacts["arrival_time"] >= as_of.normalize())
        & (contacts["arrival_time"] < as_of)
    ]
    counts = (
        offered.assign(
            interval_start=offered["arrival_time"].dt.floor(step),
            queue=offered["queue"].astype(str),
        )
        .groupby(["interval_start", "queue"])
        .size()
        .rename("offered")
        .reset_index()
    )
    table = ended.merge(counts, on=["interval_start", "queue"], how="left")
    table["offered"] = table["offered"].fillna(0.0).astype(float)
    return table


def _aht_update(day, contacts, as_of, step, prior_contacts):
    handled = contacts[
        (contacts["outcome"] == "answered")
        & (contacts["handle_s"] > 0)
        & (contacts["arrival_time"] >= as_of.normalize())
        & (contacts["answer_time"] < as_of)
    ]
    day["aht_s_updated"] = day["aht_s"].astype(float)
    for queue, rows in day.groupby("queue"):
        past = rows[rows["interval_start"] + step <= as_of]
        mine = handled[handled["queue"].astype(str) == queue]
        planned_work = float((past["forecast"] * past["aht_s"]).sum())
        if not len(mine) or planned_work <= 0 or past["forecast"].sum() <= 0:
            continue
        ratio = float(mine["handle_s"].mean()) / (planned_work / float(past["forecast"].sum()))
        weight = len(mine) / (len(mine) + prior_contacts)
        future = rows.index[rows["interval_start"] + step > as_of]
        day.loc[future, "aht_s_updated"] = rows.loc[future, "aht_s"] * (1 + weight * (ratio - 1))


def update_forecast(
    forecast: pd.DataFrame,
    contacts: pd.DataFrame,
    as_of: pd.Timestamp | str,
    *,
    interval_minutes: int,
    method: str = "ratio_shrunk",
    prior_contacts: float | None = None,
    forecaster: Any = None,
) -> pd.DataFrame:
    """Every forecast row of ``as_of``'s day with ``forecast_updated`` (the update for the
    intervals ending after ``as_of``, the forecast itself before), ``ratio`` (updated /
    original), ``update_method`` [and ``aht_s_updated``]; see the module doc."""
    from openwfm.forecast.intraday import DEFAULT_SHRINK_K, validate_actuals
    from openwfm.forecast.intraday import update_forecast as stage_update

    as_of = pd.Timestamp(as_of)
    step = pd.Timedelta(minutes=interval_minutes)
    table = check_forecast(forecast)
    day = table[table["interval_start"].dt.normalize() == as_of.normalize()].copy()
    day = day.reset_index(drop=True)
    if day.empty:
        raise DataError(
            f"the forecast has no interval on {as_of.date()}", file="forecast", field="as_of"
        )
    actuals = offered_actuals(contacts, day, as_of, interval_minutes)
    if forecaster is not None:
        updated = forecaster.update(actuals, as_of, forecast=table, method=method)
    else:
        checked = validate_actuals(actuals, table, as_of, interval_minutes)
        k = prior_contacts if prior_contacts is not None else DEFAULT_SHRINK_K
        shrink = {q: k for q in day["queue"].unique()}
        updated = stage_update(table, checked, as_of, interval_minutes, method, shrink_k=shrink)
    updated = updated.assign(
        interval_start=pd.to_datetime(updated["interval_start"]),
        queue=updated["queue"].astype(str),
    )[["interval_start", "queue", "forecast", "method"]].rename(
        columns={"forecast": "forecast_updated", "method": "update_method"}
    )
    day = day.merge(updated, on=["interval_start", "queue"], how="left")
    day["forecast_updated"] = day["forecast_updated"].fillna(day["forecast"]).astype(float)
    day["update_method"] = day["update_method"].fillna(method)
    with np.errstate(invalid="ignore", divide="ignore"):
        day["ratio"] = np.where(
            day["forecast"] > 0,
            day["forecast_updated"] / day["forecast"].where(day["forecast"] > 0, 1),
            1.0,
        )
    if "aht_s" in day.columns:
        k = prior_contacts if prior_contacts is not None else DEFAULT_AHT_PRIOR_CONTACTS
        _aht_update(day, contacts, as_of, step, k)
    return day

"""Interval history: validation, interval-length inference, and the per-queue day x slot grid.

A history is a long table ``interval_start, queue, offered`` (optionally ``aht_s``), one row per
queue and interval, intervals labelled by their start (local-naive wall clock).

Gaps. The grid tells two kinds of gap apart:

* **closed**: a (weekday, time-of-day) slot that never has a row anywhere in the history of the
  queue (e.g. Saturday 10:00 in a Sun-Fri center). Closed slots are not modelled and never
  forecast; the forecast table has no row for them.
* **missing**: a slot that is open for that weekday but has no row on a given date (an outage in
  the export, a missing day). Missing cells are NaN: models skip them when they average, and
  interval-level time-series models see them imputed with the same slot's recent average.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from openwfm.errors import DataError

REQUIRED_COLUMNS = ("interval_start", "queue", "offered")
ALLOWED_INTERVAL_MINUTES = (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60)
MIN_WEEKLY_HISTORY_DAYS = 14


def read_history_csv(path: str | Path) -> pd.DataFrame:
    """Read and validate a history CSV (``interval_start,queue,offered[,aht_s]``)."""
    path = Path(path)
    if not path.exists():
        raise DataError("file not found", file=str(path))
    try:
        raw = pd.read_csv(path, dtype={"queue": "string"})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataError(f"not a readable CSV ({error})", file=str(path)) from None
    return validate_history(raw, source=str(path))


def validate_history(history: pd.DataFrame, source: str | None = None) -> pd.DataFrame:
    """Check and normalise a history table; raise :class:`DataError` naming the row and field.

    Returns a copy with ``interval_start`` as datetime64 (timezone dropped: wall clock kept),
    ``queue`` as str, ``offered`` as float (>= 0), sorted by queue and time. Row numbers in errors
    are CSV line numbers (header = line 1) when ``source`` is a file.
    """
    from openwfm.tables import HISTORY, check_table

    where = source or "history"
    # offsets may change within a file (DST): each label keeps its own wall-clock time
    out = check_table(history, HISTORY, source=where)
    if len(out) == 0:
        raise DataError("no rows; expected at least two weeks of intervals", file=where)
    return out.sort_values(["queue", "interval_start"], kind="stable").reset_index(drop=True)


def infer_interval_minutes(history: pd.DataFrame, source: str | None = None) -> int:
    """Interval length in minutes: the greatest common step between interval starts.

    Uses the time-of-day offsets of every row (so gaps of closed hours or missing days do not
    matter) and checks the result divides a day.
    """
    seconds = (
        history["interval_start"] - history["interval_start"].dt.normalize()
    ).dt.total_seconds()
    seconds = np.unique(seconds.to_numpy().astype(np.int64))
    step = 0
    for s in seconds:
        step = math.gcd(step, int(s))
    if step == 0:
        # every row at midnight: one interval per day or a single slot; use the spacing
        diffs = np.diff(np.unique(history["interval_start"].to_numpy())).astype("timedelta64[s]")
        step = int(diffs.min().astype(np.int64)) if len(diffs) else 86400
    step = min(step, 86400)
    minutes = step / 60
    if minutes not in ALLOWED_INTERVAL_MINUTES and minutes != 1440:
        raise DataError(
            f"cannot infer the interval length (time-of-day step {step} s); expected interval "
            f"starts on a regular grid of {ALLOWED_INTERVAL_MINUTES} minutes",
            file=source or "history",
            field="interval_start",
        )
    return int(minutes)


@dataclass
class QueueSeries:
    """One queue's history as a calendar-day x slot grid.

    ``values[d, s]`` is the count offered in slot ``s`` (of ``interval_minutes``) of day
    ``days[d]``; NaN when missing or closed. ``open_slots[w, s]`` says whether slot ``s`` is open on
    weekday ``w`` (Monday = 0), i.e. whether the history ever has a row there. ``aht_s`` is the
    same grid of average handle times in seconds (NaN where unknown), or None.
    """

    queue: str
    days: pd.DatetimeIndex
    interval_minutes: int
    values: np.ndarray
    open_slots: np.ndarray
    aht_s: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    @property
    def slots_per_day(self) -> int:
        return self.values.shape[1]

    @property
    def n_days(self) -> int:
        return self.values.shape[0]

    def open_mask(self, days: pd.DatetimeIndex) -> np.ndarray:
        """Open-slot mask (len(days) x slots) for any calendar days."""
        return self.open_slots[np.asarray(days.dayofweek)]

    def head(self, n_days: int) -> QueueSeries:
        """The first ``n_days`` days (a forecast origin at the end of day ``n_days - 1``)."""
        return QueueSeries(
            self.queue,
            self.days[:n_days],
            self.interval_minutes,
            self.values[:n_days],
            self.open_slots,
            None if self.aht_s is None else self.aht_s[:n_days],
            self.meta,
        )


def to_series(
    history: pd.DataFrame, interval_minutes: int | None = None, source: str | None = None
) -> dict[str, QueueSeries]:
    """Split a validated history into one :class:`QueueSeries` per queue."""
    if interval_minutes is None:
        interval_minutes = infer_interval_minutes(history, source)
    slots = 1440 // interval_minutes
    result: dict[str, QueueSeries] = {}
    for queue, part in history.groupby("queue", sort=True):
        ts = part["interval_start"]
        day = ts.dt.normalize()
        first, last = day.min(), day.max()
        days = pd.date_range(first, last, freq="D")
        d_idx = ((day - first).dt.days).to_numpy()
        s_idx = ((ts - day).dt.total_seconds().to_numpy() // (interval_minutes * 60)).astype(int)
        values = np.full((len(days), slots), np.nan)
        values[d_idx, s_idx] = part["offered"].to_numpy(float)
        open_slots = np.zeros((7, slots), dtype=bool)
        open_slots[day.dt.dayofweek.to_numpy(), s_idx] = True
        aht = None
        if "aht_s" in part.columns:
            aht = np.full((len(days), slots), np.nan)
            aht[d_idx, s_idx] = part["aht_s"].to_numpy(float)
        result[str(queue)] = QueueSeries(
            str(queue), days, interval_minutes, values, open_slots, aht
        )
    return result


def require_history_days(series: QueueSeries, min_days: int, what: str) -> None:
    """Raise a one-line DataError when a queue has fewer days than ``what`` needs."""
    observed = int(np.isfinite(series.values).any(axis=1).sum())
    if series.n_days < min_days or observed < min_days // 2:
        raise DataError(
            f"queue {series.queue!r} has {series.n_days} days of history, {observed} of them "
            f"with data; {what} needs at least {min_days} days ({min_days // 7} weeks), "
            f"{min_days // 2} of them with data (leave the queue out: forecast --queue)",
            field="history",
        )


def history_from_interactions(
    interactions: pd.DataFrame, interval_minutes: int = 30, queues: list[str] | None = None
) -> pd.DataFrame:
    """Interval history (``interval_start, queue, offered, aht_s``) from an interactions table.

    Counts come from :func:`openwfm.data.intervals.interval_kpis`. Because the records are the
    contacts themselves, an interval with no contact on a day the store has records for is a
    real zero, not missing: every queue gets a row for each (day with any record) x (time of day
    at which that queue was ever offered a contact on that weekday). Days without any record at
    all (e.g. months absent from the source) stay missing; slots never offered stay closed.
    """
    from openwfm.data.intervals import interval_kpis

    if queues is not None:
        interactions = interactions[interactions["queue"].isin(queues)]
    if len(interactions) == 0:
        raise DataError("no interactions to build a history from", field="interactions")
    kpis = interval_kpis(interactions, interval_minutes=interval_minutes, by=("queue",))
    kpis = kpis[["interval_start", "queue", "offered", "aht_s"]]
    kpis = kpis[kpis["offered"] > 0]
    days = pd.DatetimeIndex(interactions["arrival_time"].dropna().dt.normalize().unique())
    frames = []
    for queue, part in kpis.groupby("queue", sort=True):
        day = part["interval_start"].dt.normalize()
        offset = part["interval_start"] - day
        slots = pd.DataFrame({"weekday": day.dt.dayofweek, "offset": offset}).drop_duplicates()
        grid = pd.DataFrame({"day": days, "weekday": days.dayofweek}).merge(slots, on="weekday")
        grid["interval_start"] = grid["day"] + grid["offset"]
        grid["queue"] = str(queue)
        merged = grid[["interval_start", "queue"]].merge(
            part.assign(queue=str(queue)), on=["interval_start", "queue"], how="left"
        )
        merged["offered"] = merged["offered"].fillna(0.0).astype(float)
        frames.append(merged)
    out = pd.concat(frames, ignore_index=True)
    out["aht_s"] = out["aht_s"].astype(float)
    return out.sort_values(["queue", "interval_start"]).reset_index(drop=True)

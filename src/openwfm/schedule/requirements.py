"""The requirement table as the model reads it: required agents per queue and slot, and the
cost of each missing agent (:mod:`openwfm.schedule.weights`)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from openwfm.errors import DataError
from openwfm.schedule.templates import Horizon
from openwfm.schedule.weights import under_marginal_costs


def expand_requirements(
    requirements: pd.DataFrame, horizon: Horizon, column: str, source: str
) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """Required agents per queue as an array over the horizon's slots (ceil of the column).

    Rows on a coarser grid than the schedule's apply to every slot they span. Returns the
    arrays and the per-slot rows (with any arrival_rate_per_s / aht_s / target_s columns).
    """
    for needed in ("interval_start", "queue", column):
        if needed not in requirements.columns:
            raise DataError(
                f"missing column {needed!r} (have: {', '.join(map(str, requirements.columns))})",
                file=source,
                field=needed,
            )
    table = requirements.copy()
    try:
        table["interval_start"] = pd.to_datetime(table["interval_start"])
    except (ValueError, TypeError) as error:
        raise DataError(
            f"unparseable timestamp: {error}", file=source, field="interval_start"
        ) from None
    if getattr(table["interval_start"].dt, "tz", None) is not None:
        table["interval_start"] = table["interval_start"].dt.tz_localize(None)
    values = pd.to_numeric(table[column], errors="coerce")
    bad = values.isna() | (values < 0)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"expected a number >= 0, got {table[column].iloc[row]!r}",
            file=source,
            line=row + 2,
            field=column,
        )
    table["required"] = np.ceil(values.to_numpy(float) - 1e-9).astype(int)
    step = horizon.interval_minutes
    rows = []
    arrays: dict[str, np.ndarray] = {}
    for queue, part in table.groupby("queue", sort=True):
        part = part.sort_values("interval_start")
        starts = part["interval_start"]
        minutes = (starts - pd.Timestamp(horizon.start)).dt.total_seconds() / 60
        if ((minutes % step) != 0).any():
            row = int(part.index[(minutes % step != 0).to_numpy()][0])
            raise DataError(
                f"interval start not on the {step}-minute grid",
                file=source,
                line=row + 2,
                field="interval_start",
            )
        diffs = np.diff(minutes.to_numpy())
        diffs = diffs[diffs > 0]
        span = int(diffs.min()) if diffs.size else step
        repeat = max(span // step, 1) if span % step == 0 else 1
        array = np.zeros(horizon.n_slots, dtype=int)
        first = (minutes // step).astype(int).to_numpy()
        for k in range(repeat):
            slots = first + k
            keep = (slots >= 0) & (slots < horizon.days * horizon.slots_per_day)
            array[slots[keep]] = np.maximum(array[slots[keep]], part["required"].to_numpy()[keep])
            expanded = part[keep].copy()
            expanded["slot"] = slots[keep]
            rows.append(expanded)
        arrays[str(queue)] = array
    per_slot = pd.concat(rows, ignore_index=True) if rows else table.assign(slot=[])
    per_slot = per_slot.drop_duplicates(["queue", "slot"])
    return arrays, per_slot


def under_costs(
    per_slot: pd.DataFrame, horizon: Horizon, under_weight: float, weighting: str
) -> tuple[dict[tuple[str, int], np.ndarray], str]:
    """Marginal cost of each missing agent per (queue, slot), and the weighting used."""
    if per_slot.empty:
        return {}, weighting
    table, method = under_marginal_costs(
        per_slot,
        per_slot["required"].to_numpy(int),
        horizon.interval_minutes * 60.0,
        under_weight,
        weighting,
    )
    keys = zip(per_slot["queue"].astype(str), per_slot["slot"].astype(int), strict=True)
    return {key: table[i] for i, key in enumerate(keys)}, method


def start_date(requirements: pd.DataFrame, start: dt.date | None) -> dt.date:
    """``start``, or the first requirement interval's date."""
    if start is not None:
        return start
    if requirements.empty or "interval_start" not in requirements.columns:
        raise DataError("no requirements to take the start date from", field="interval_start")
    return pd.to_datetime(requirements["interval_start"]).min().date()

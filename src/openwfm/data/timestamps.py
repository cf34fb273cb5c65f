"""Timestamps from files -> the center's local wall-clock time: the one place that does it.

openwfm's tables hold *local-naive* timestamps: the wall-clock time of the center (the
scenario's ``grid.timezone``), because opening hours, shifts and intervals are local. Files may
carry UTC offsets (``2026-10-05T08:00:00Z``, ``...+02:00``) or a time-zone-aware Parquet
column. :func:`to_local_times` turns every such value into the center's wall-clock time:

- naive values are already local and kept as they are;
- values with an offset are converted to ``timezone`` (``08:00Z`` and ``08:00+02:00`` stay
  two hours apart; offsets that change across a DST switch are fine);
- values with an offset and no ``timezone`` to convert them to are an error naming the line
  and how to give the zone (dropping the offset would shift the instant silently);
- a column that mixes values with and without offsets is an error naming the first line of the
  minority kind (the naive ones could be local or UTC).

Bad values are a :class:`~openwfm.errors.DataError` naming file, line and field.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pandas as pd

from openwfm.errors import DataError, ParameterError

# An ISO-like time of day followed by a UTC offset (Z, +HH, +HHMM, +HH:MM).
_OFFSET = re.compile(r"\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)$")
# Timestamps pandas can hold (nanoseconds since 1970 in int64).
EARLIEST = pd.Timestamp("1678-01-01")
LATEST = pd.Timestamp("2262-04-01")


def check_timezone(name: str, field: str) -> str:
    """``name`` if it is an IANA time zone (a ``--timezone`` option), else a ParameterError
    naming ``field``."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ParameterError(
            f"unknown time zone {name!r} (expected an IANA name such as Europe/Amsterdam)",
            field=field,
        ) from None
    return name


def _where(position: int, line_of: Callable[[int], int] | None) -> int | None:
    return line_of(position) if line_of is not None else position + 1


def _aware_to_local(
    values: pd.Series, timezone: str | None, file, field, line_of, zone_hint: str
) -> pd.Series:
    if timezone is None:
        position = int(np.flatnonzero(values.notna().to_numpy())[0]) if values.notna().any() else 0
        raise DataError(
            f"the times carry a UTC offset or time zone; give the center's time zone "
            f"({zone_hint}) to convert them to local time",
            file=file,
            line=_where(position, line_of),
            field=field,
        )
    return values.dt.tz_convert(timezone).dt.tz_localize(None)


def to_local_times(
    values: pd.Series,
    *,
    timezone: str | None = None,
    time_format: str | None = None,
    file: str | None = None,
    field: str = "time",
    line_of: Callable[[int], int] | None = None,
    zone_hint: str = "the scenario's grid.timezone",
) -> pd.Series:
    """Text or datetime ``values`` -> local-naive ``datetime64[ns]``; blanks become NaT.

    ``time_format`` is a ``strptime`` format (default ISO 8601); ``line_of`` maps a row
    position to the line (or row) named in errors; ``zone_hint`` tells the user how to give a
    time zone when the values carry offsets and ``timezone`` is None.
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return _aware_to_local(values, timezone, file, field, line_of, zone_hint).astype(
            "datetime64[ns]"
        )
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.astype("datetime64[ns]")
    text = values.astype("string").str.strip()
    blank = (text.isna() | (text == "")).to_numpy()
    has_offset = np.zeros(len(text), dtype=bool)
    if time_format is None:
        has_offset = text.fillna("").str.contains(_OFFSET).to_numpy() & ~blank
    elif "%z" in time_format or "%Z" in time_format:
        has_offset = ~blank
    filled = np.flatnonzero(~blank)
    if len(filled) and has_offset[filled].any() and not has_offset[filled].all():
        # point at the odd one out: the first row of the rarer kind (offsets when tied)
        with_offset = filled[has_offset[filled]]
        without = filled[~has_offset[filled]]
        odd, other = (
            (without, with_offset)
            if len(without) < len(with_offset)
            else (
                with_offset,
                without,
            )
        )
        position, contrast = int(odd[0]), int(other[0])
        kinds = ("has no UTC offset", "has a UTC offset")
        raise DataError(
            f"{text.iloc[position]!r} {kinds[int(has_offset[position])]} while line "
            f"{_where(contrast, line_of)} {kinds[int(has_offset[contrast])]}: a column must "
            f"give every time with an offset or none",
            file=file,
            line=_where(position, line_of),
            field=field,
        )
    fmt = time_format or "ISO8601"
    try:
        if has_offset.any():
            parsed = pd.to_datetime(text.where(~blank), format=fmt, utc=True, errors="coerce")
        else:
            parsed = pd.to_datetime(text.where(~blank), format=fmt, errors="coerce")
    except (ValueError, TypeError) as error:
        raise DataError(
            f"invalid time format {time_format!r} ({error})", file=file, field="time_format"
        ) from None
    bad = parsed.isna().to_numpy() & ~blank
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        expected = f"a time in format {time_format!r}" if time_format else "an ISO 8601 time"
        raise DataError(
            f"expected {expected} between {EARLIEST.year} and {LATEST.year - 1}, "
            f"got {text.iloc[position]!r}",
            file=file,
            line=_where(position, line_of),
            field=field,
        )
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = _aware_to_local(parsed, timezone, file, field, line_of, zone_hint)
    return parsed.astype("datetime64[ns]")


_OFFSET_SUFFIX = re.compile(r"(?<=\d)\s*(?:Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)$")


def wall_clock_text(values: pd.Series) -> pd.Series:
    """Timestamp texts with their UTC offsets removed: each value's own wall-clock time.

    For tables whose times are *labels* of local intervals (a history per interval exported
    with offsets): the label ``2026-10-26T10:00+01:00`` is the local interval 10:00, whatever
    the offset. Datetime columns are returned as they are (time-zone-aware ones as wall clock).
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_localize(None)
    if pd.api.types.is_datetime64_any_dtype(values):
        return values
    text = values.astype("string").str.strip()
    return text.str.replace(_OFFSET_SUFFIX, "", regex=True)

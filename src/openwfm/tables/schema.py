"""Declared tables and the one check: :class:`Column`, :class:`Table`, :func:`check_table`.

See :mod:`openwfm.tables` for the conventions and the declarations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import pandas as pd

from openwfm.errors import DataError

Kind = Literal["string", "time", "date", "time_of_day", "number"]
_DTYPES = {
    "string": "string",
    "time": "datetime64[ns]",
    "date": "datetime64[ns]",
    "time_of_day": "float64",
}
ISO_EXAMPLE = "2026-11-02T08:00:00"


@dataclass(frozen=True)
class Column:
    """One column of a declared table.

    ``unit`` is the unit of a number (``s``, ``contacts``, ``contacts/s``, ``agents``,
    ``fraction``, ``minutes``) or empty. ``expected`` is how errors describe a good value
    (``"a rate >= 0 contacts per second"``); ``messages`` replaces the whole message for one
    kind of problem (keys: ``missing`` empty cell, ``type`` unparseable, ``infinite``,
    ``below`` under ``min``, ``above`` over ``max``, ``whole`` not an integer, ``unknown`` not
    among the allowed values), formatted with ``value`` (the cell as given), ``number``,
    ``expected``, ``column`` and ``choices``.
    """

    name: str
    kind: Kind = "string"
    unit: str = ""
    doc: str = ""
    required: bool = True
    nullable: bool = False
    min: float | None = None
    max: float | None = None
    min_exclusive: bool = False
    whole: bool = False
    choices: tuple[str, ...] = ()
    clock: Literal["wall", "local"] = "wall"
    time_format: str | None = None  # strptime format of a time column's text (None: ISO 8601)
    expected: str | None = None
    messages: Mapping[str, str] = field(default_factory=dict)

    @property
    def dtype(self) -> str:
        """The pandas dtype of the column in a checked table."""
        if self.kind == "number":
            return "int64" if self.whole and not self.nullable else "float64"
        return _DTYPES[self.kind]

    def describe(self) -> str:
        """How an error message describes a good value of this column."""
        if self.expected:
            return self.expected
        if self.kind == "time_of_day":
            return "HH:MM"
        if self.kind == "time" and self.time_format:
            return f"a time in format {self.time_format!r}"
        if self.kind in ("time", "date"):
            return f"an ISO 8601 {'date' if self.kind == 'date' else 'time'} such as " + (
                ISO_EXAMPLE[:10] if self.kind == "date" else ISO_EXAMPLE
            )
        if self.kind == "string":
            article = "an" if self.name[:1].lower() in tuple("aeiou") else "a"
            return f"{article} {self.name}"
        noun = "a whole number" if self.whole else "a finite number"
        if self.min is not None:
            noun += f" {'>' if self.min_exclusive else '>='} {self.min:g}"
        if self.max is not None:
            noun += f" {'and ' if self.min is not None else ''}<= {self.max:g}"
        return noun + (f" ({self.unit})" if self.unit else "")


@dataclass(frozen=True)
class Table:
    """A declared table: its columns in order and the columns that identify a row (``keys``)."""

    name: str
    doc: str
    columns: tuple[Column, ...]
    keys: tuple[str, ...] = ()
    duplicate_message: str | None = None  # formatted with the keys' values and first_line

    def __getitem__(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.name} has no column {name!r}")

    def subset(self, names: Iterable[str], rename: Mapping[str, str] | None = None) -> Table:
        """This table with only the columns ``names`` (in that order), renamed by ``rename``
        (a count read from a column the user picks)."""
        rename = rename or {}
        columns = tuple(replace(self[n], name=rename.get(n, n)) for n in names)
        keys = tuple(rename.get(k, k) for k in self.keys if k in set(names))
        return replace(self, columns=columns, keys=keys)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def dtypes(self) -> dict[str, str]:
        """column -> pandas dtype (strings as pandas ``string``)."""
        return {c.name: c.dtype for c in self.columns}

    def empty(self) -> pd.DataFrame:
        """A table with no rows and every declared column."""
        return pd.DataFrame({c.name: pd.Series(dtype=c.dtype) for c in self.columns})


def _problem(column: Column, kind: str, value: object, number: float = np.nan, **extra) -> str:
    template = column.messages.get(kind)
    if template is None:
        template = (
            "unknown {column} {value!r} (known: {choices})"
            if kind == "unknown"
            else "expected {expected}, got {value!r}"
        )
    if kind == "missing" and "missing" not in column.messages:
        template = "expected {expected}, got an empty cell"
    return template.format(
        value=value, number=number, expected=column.describe(), column=column.name, **extra
    )


def _known(allowed: Iterable[str], shown: int = 12) -> str:
    """The allowed values for an error message (the first ``shown``, sorted)."""
    names = sorted(map(str, allowed))
    more = f", ... ({len(names)} in all)" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _blank(values: pd.Series) -> np.ndarray:
    """Missing cells: NaN / NaT / <NA>, or text that is empty after stripping."""
    missing = values.isna().to_numpy(dtype=bool)
    if values.dtype.kind in "biufcmM":  # numbers and datetimes hold no text
        return missing
    text = values.astype("string").str.strip()
    return missing | (text == "").fillna(True).to_numpy(dtype=bool)


def _parse_times(values: pd.Series, column: Column, timezone, where, line_of) -> pd.Series:
    from openwfm.data.timestamps import to_local_times, wall_clock_text

    if column.kind == "date":
        return pd.to_datetime(values, errors="coerce").dt.normalize()
    if column.clock == "local":
        return to_local_times(
            values,
            timezone=timezone,
            time_format=column.time_format,
            file=where,
            field=column.name,
            line_of=line_of,
        )
    text = values if column.time_format else wall_clock_text(values)  # a format may hold %z
    parsed = pd.to_datetime(text, errors="coerce", format=column.time_format or "ISO8601")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    return parsed.astype("datetime64[ns]")


def _check_column(
    values: pd.Series,
    column: Column,
    choices: Iterable[str] | None,
    timezone: str | None,
    where: str | None,
    line_of: Callable[[int], int],
) -> tuple[pd.Series, int | None, str]:
    """(parsed values, position of the first bad row or None, what is wrong there)."""
    blank = _blank(values)
    problems: list[tuple[np.ndarray, str]] = []
    if column.kind == "number":
        parsed = pd.to_numeric(values, errors="coerce").astype(float)
        number = parsed.to_numpy()
        problems.append((np.isnan(number) & ~blank, "type"))
        problems.append((np.isinf(number), "infinite"))
        if column.min is not None:
            low = number <= column.min if column.min_exclusive else number < column.min
            problems.append((low, "below"))
        if column.max is not None:
            problems.append((number > column.max, "above"))
        if column.whole:
            problems.append((np.isfinite(number) & (number != np.round(number)), "whole"))
    elif column.kind == "time_of_day":
        text = values.astype(str).str.strip()
        span = pd.to_timedelta(text + ":00", errors="coerce")
        span = span.where(span.notna(), pd.to_timedelta(text, errors="coerce"))
        parsed = span.dt.total_seconds()
        day = (parsed >= 0) & (parsed < 86400)
        problems.append((~day.to_numpy() & ~blank, "type"))
    elif column.kind in ("time", "date"):
        parsed = _parse_times(values, column, timezone, where, line_of)
        problems.append((parsed.isna().to_numpy() & ~blank, "type"))
    else:
        text = values.astype(str)
        parsed = values.where(blank, text).astype(object) if column.nullable else text
        allowed = tuple(choices) if choices is not None else column.choices
        if allowed:
            problems.append((~blank & ~text.isin(allowed).to_numpy(), "unknown"))
    if not column.nullable:
        problems.insert(0, (blank, "missing"))
    first, kind = None, ""
    for mask, what in problems:
        if mask.any():
            position = int(np.flatnonzero(mask)[0])
            if first is None or position < first:
                first, kind = position, what
    return parsed, first, kind


def _check_keys(out: pd.DataFrame, table: Table, where, line_of) -> None:
    keys = [k for k in table.keys if k in out.columns]
    if not keys or any(table[k].required and k not in keys for k in table.keys):
        return
    repeated = out.duplicated(keys, keep="first").to_numpy()
    if not repeated.any():
        return
    position = int(np.flatnonzero(repeated)[0])
    same = (out[keys] == out[keys].iloc[position]).all(axis=1).to_numpy()
    first = int(np.flatnonzero(same)[0])
    values = {
        k: v.isoformat() if isinstance(v, pd.Timestamp) else v
        for k, v in out[keys].iloc[position].items()
    }
    shown = ", ".join(f"{k} {v!r}" for k, v in values.items())
    template = table.duplicate_message or (
        "duplicate row for {shown} (first at line {first_line}); expected one row per {keys}"
    )
    raise DataError(
        template.format(shown=shown, first_line=line_of(first), keys=" and ".join(keys), **values),
        file=where,
        line=line_of(position),
        field=keys[-1],
    )


def check_table(
    frame: pd.DataFrame,
    table: Table,
    *,
    source: str | None = None,
    columns: Iterable[str] | None = None,
    choices: Mapping[str, Iterable[str]] | None = None,
    timezone: str | None = None,
    time_formats: Mapping[str, str] | None = None,
    line_of: Callable[[int], int] | None = None,
    keys: bool = True,
) -> pd.DataFrame:
    """``frame`` checked against ``table``: a copy with its declared columns parsed.

    Raises a one-line :class:`DataError` naming ``source`` (a file name or the table's name),
    the line of the first bad row (``line_of(position)``, default ``position + 2``: the CSV
    line with the header on line 1) and the field. Columns are checked in declaration order:
    a missing required column first, then each column's first bad cell, then duplicate
    ``keys``. ``columns`` limits the check to those columns (required ones among them must be
    present); ``choices`` gives the allowed values of a column known only at run time (the
    scenario's queues); ``time_formats`` a ``strptime`` format per time column (a user's
    export; default ISO 8601). Columns the table does not declare pass through unchanged.
    """
    if time_formats:
        table = replace(
            table,
            columns=tuple(
                replace(c, time_format=time_formats[c.name], expected=None)
                if c.name in time_formats
                else c
                for c in table.columns
            ),
        )
    where = source or table.name
    line_of = line_of or (lambda position: position + 2)
    wanted = table.names if columns is None else [c for c in table.names if c in set(columns)]
    choices = choices or {}
    for name in wanted:
        if table[name].required and name not in frame.columns:
            raise DataError(
                f"missing column {name!r} (the {table.name} table has {', '.join(table.required)})",
                file=where,
                field=name,
            )
    out = frame.reset_index(drop=True)  # a new frame: setting its columns leaves ``frame`` be
    for name in wanted:
        if name not in out.columns:
            continue
        column = table[name]
        parsed, position, kind = _check_column(
            out[name], column, choices.get(name), timezone, where, line_of
        )
        if position is not None:
            value = out[name].iloc[position]
            number = parsed.iloc[position] if column.kind == "number" else np.nan
            message = _problem(
                column, kind, value, number, choices=_known(choices.get(name, column.choices))
            )
            raise DataError(message, file=where, line=line_of(position), field=name)
        out[name] = parsed.astype("int64") if column.dtype == "int64" else parsed
    if keys:
        _check_keys(out, table, where, line_of)
    return out


def rename_columns(
    raw: pd.DataFrame,
    mapping: Mapping[str, str] | None,
    *,
    source: str,
    required: Iterable[str] = (),
    known: Iterable[str] | None = None,
    line: int | None = 1,
    hints: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """``raw`` (a file's cells) with its column names stripped and renamed by ``mapping``
    (``{source column: table column}``; unmapped columns keep their names, a name that appears
    twice after renaming keeps its first column).

    Raises a one-line :class:`DataError` naming ``source``, the header ``line`` (None for a
    Parquet file) and the field when ``mapping`` targets a column outside ``known`` (when
    given), names a source column the file lacks, or when a ``required`` column is missing
    after renaming (``hints[column]`` says how to supply it; default: map a source column to
    it). The input frame is left unchanged.
    """
    mapping = dict(mapping or {})
    if known is not None:
        known = list(known)
        unknown = sorted(set(mapping.values()) - set(known))
        if unknown:
            raise DataError(
                f"mapping targets unknown column(s) {', '.join(unknown)} "
                f"(known columns: {', '.join(known)})",
                file=source,
                field="mapping",
            )
    frame = raw.set_axis([str(c).strip() for c in raw.columns], axis=1)
    has = ", ".join(frame.columns)
    absent = [name for name in mapping if name not in frame.columns]
    if absent:
        raise DataError(
            f"missing column(s) {', '.join(absent)} named in the mapping (file has: {has})",
            file=source,
            line=line,
            field=absent[0],
        )
    frame = frame.rename(columns=mapping)
    frame = frame.loc[:, ~frame.columns.duplicated()]
    hints = hints or {}
    for name in required:
        if name not in frame.columns:
            hint = hints.get(name, "map a source column to it")
            raise DataError(
                f"missing column {name!r} ({hint}; file has: {has})",
                file=source,
                line=line,
                field=name,
            )
    return frame

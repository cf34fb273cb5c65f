"""Readers: interaction logs in their source formats -> the normalised interactions table.

Every reader returns a DataFrame with exactly the columns and dtypes of
:data:`openwfm.data.schema.INTERACTION_COLUMNS` (declared in :data:`openwfm.tables.INTERACTIONS`)
and ``outcome`` values of :class:`openwfm.data.schema.Outcome`. Timestamps are local-naive,
durations in seconds. :func:`read_interactions` picks the reader: the Anonymous Bank format
(:mod:`openwfm.data.anonymous_bank`) or a generic CSV / Parquet log with a column mapping
(:mod:`openwfm.data.generic`).

Bad input raises :class:`openwfm.errors.DataError` naming the file, the line as numbered in the
file (the header is line 1) and the field. All parsing is vectorised (pandas); a row-level
problem is located afterwards from the boolean mask of bad values.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from openwfm.data.anonymous_bank import ANONYMOUS_BANK_COLUMNS, read_anonymous_bank
from openwfm.data.generic import OUTCOME_ALIASES, content_ids, read_table
from openwfm.data.schema import INTERACTION_COLUMNS
from openwfm.data.text import MAX_DURATION_S, check_delimiter, decode_error, header_line
from openwfm.errors import DataError

FORMATS = ("auto", "anonymous-bank", "csv", "parquet", "openwfm")

__all__ = [
    "ANONYMOUS_BANK_COLUMNS",
    "FORMATS",
    "MAX_DURATION_S",
    "OUTCOME_ALIASES",
    "content_ids",
    "decode_error",
    "empty_interactions",
    "read_anonymous_bank",
    "read_interactions",
    "read_table",
    "row_locations",
]


def empty_interactions() -> pd.DataFrame:
    """An empty interactions table with the schema's columns and dtypes."""
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in INTERACTION_COLUMNS.items()})


def row_locations(path: str | Path, rows: int) -> pd.Series:
    """``file:line`` of each row a reader returned (Parquet: ``file:row N``, 1-based)."""
    path = Path(path)
    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.Series([f"{path}:row {i + 1}" for i in range(rows)], dtype="string")
    return pd.Series([f"{path}:{i + 2}" for i in range(rows)], dtype="string")


def read_interactions(
    path: str | Path,
    format: str = "auto",
    mapping: Mapping[str, str] | None = None,
    **options,
) -> pd.DataFrame:
    """Read an interaction log of ``format`` into the normalised table.

    Formats: ``anonymous-bank`` (:func:`read_anonymous_bank`), ``csv`` and ``parquet`` (generic,
    with ``mapping``: :func:`read_table`), ``openwfm`` (CSV or Parquet already in the schema, as
    the synthetic generator writes it: every schema column but ``source`` is required), and
    ``auto``: Parquet by extension; otherwise the header decides (``vru+line`` -> Anonymous
    Bank, all schema columns -> openwfm, else generic CSV). ``options`` go to :func:`read_table`.
    """
    path = Path(path)
    if format not in FORMATS:
        raise DataError(
            f"unknown format {format!r} (expected one of: {', '.join(FORMATS)})",
            file=str(path),
            field="format",
        )
    is_parquet = path.suffix.lower() in (".parquet", ".pq")
    if format == "auto":
        if is_parquet:
            format = "parquet"
        else:
            header = header_line(path)
            if "vru+line" in header:
                format = "anonymous-bank"
            else:
                format = "csv"
    if format == "anonymous-bank":
        return read_anonymous_bank(path)
    if format == "openwfm":
        return _read_openwfm(path, is_parquet, **options)
    if format == "parquet" and not is_parquet:
        raise DataError("format parquet needs a .parquet file", file=str(path), field="format")
    return read_table(path, mapping, **options)


def _read_openwfm(path: Path, is_parquet: bool, **options) -> pd.DataFrame:
    required = [c for c in INTERACTION_COLUMNS if c != "source"]
    if is_parquet:
        if not path.exists():
            raise DataError("file not found", file=str(path))
        import pyarrow.parquet as pq

        columns = pq.read_schema(path).names
        where = {}
    else:
        header = header_line(path)
        delimiter = check_delimiter(path, header, (options.get("delimiter", ","),), 2)
        columns = [c.strip() for c in header.split(delimiter)]
        where = {"line": 1}
    missing = [c for c in required if c not in columns]
    if missing:
        raise DataError(
            f"missing column(s) {', '.join(missing)} (format openwfm needs every schema column)",
            file=str(path),
            field=missing[0],
            **where,
        )
    return read_table(path, None, **options)

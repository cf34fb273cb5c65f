"""Reading evaluation, survey and customer-key files (CSV or Parquet) with a column mapping.

Every reader returns a DataFrame of strings plus ``_line``: the line in the file (CSV: the header
is line 1) or the 1-based row (Parquet), so later checks can name where a bad value is.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from openwfm.errors import DataError
from openwfm.tables import rename_columns


def load_mapping_file(path: str | Path | None) -> dict[str, str]:
    """A YAML mapping ``{source column: openwfm column}`` (or ``{columns: {...}}``)."""
    if path is None:
        return {}
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError("mapping file not found", file=str(path)) from None
    except yaml.YAMLError as error:
        raise DataError(f"not valid YAML: {error}", file=str(path)) from None
    if isinstance(data, dict) and isinstance(data.get("columns"), dict):
        data = data["columns"]
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise DataError("expected a mapping of source column -> column", file=str(path))
    return {str(k): v for k, v in data.items()}


def read_mapped_table(
    path: str | Path,
    mapping: Mapping[str, str] | None,
    required: tuple[str, ...],
    optional: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Read ``path`` (``.csv``, ``.csv.gz``, ``.parquet``) as strings, rename by ``mapping``,
    check the ``required`` columns, keep required + optional ones and add ``_line``."""
    path = Path(path)
    if not path.exists():
        raise DataError("file not found", file=str(path))
    is_parquet = path.suffix.lower() in (".parquet", ".pq")
    try:
        if is_parquet:
            raw = pd.read_parquet(path)
            raw = raw.astype("string").astype(object).where(raw.notna(), "")
        else:
            raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except Exception as error:  # pandas and pyarrow raise many types for unreadable files
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DataError(f"cannot read the table ({message})", file=str(path)) from None
    frame = rename_columns(
        raw, mapping, source=str(path), required=required, line=None if is_parquet else 1
    )
    keep = [c for c in (*required, *optional) if c in frame.columns]
    frame = frame[keep].apply(lambda column: column.astype(str).str.strip())
    frame["_line"] = range(1 if is_parquet else 2, len(frame) + (1 if is_parquet else 2))
    return frame.reset_index(drop=True)


def fail(path: str | Path, frame: pd.DataFrame, position: int, field: str, message: str):
    """Raise a :class:`DataError` for row ``position`` of a frame from :func:`read_mapped_table`."""
    raise DataError(message, file=str(path), line=int(frame["_line"].iloc[position]), field=field)


def parse_timestamps(path, frame: pd.DataFrame, column: str) -> pd.Series:
    """Parse an optional time column (ISO 8601; empty -> NaT), naming the first bad line."""
    if column not in frame.columns:
        return pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    text = frame[column].replace("", None)
    parsed = pd.to_datetime(text, errors="coerce", format="ISO8601")
    bad = parsed.isna() & text.notna()
    if bad.any():
        position = int(bad.to_numpy().nonzero()[0][0])
        fail(path, frame, position, column, f"expected a time, got {text.iloc[position]!r}")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    return parsed.astype("datetime64[ns]")

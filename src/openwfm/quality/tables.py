"""Reading evaluation, survey and customer-key files (CSV or Parquet) with a column mapping.

Every reader returns a DataFrame of strings plus ``_line``: the line in the file (CSV: the header
is line 1) or the 1-based row (Parquet), so later checks can name where a bad value is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from openwfm.errors import DataError
from openwfm.quality.store import SURVEY_SCALES
from openwfm.tables import Column, Table, check_table, rename_columns

EVALUATION_ROWS = Table(
    "evaluations",
    "One answer per row: evaluation_id, interaction_id, evaluator, item, answer (the answer is "
    "checked against the form, openwfm.quality.scoring).",
    (
        *(
            Column(name, expected="a value")
            for name in ("evaluation_id", "interaction_id", "evaluator", "item")
        ),
        Column("evaluated_at", "time", doc="when (ISO 8601)", required=False, nullable=True),
    ),
)
SURVEY_RESPONSES = Table(
    "survey responses",
    "One response per interaction and kind (a wide file's csat / ces / nps columns melted).",
    (
        Column("interaction_id", doc="the surveyed interaction (in the store)", expected="a value"),
        Column("kind", doc="which survey", choices=tuple(SURVEY_SCALES)),
        Column("responded_at", "time", doc="when (ISO 8601)", required=False, nullable=True),
    ),
    keys=("kind", "interaction_id"),
    duplicate_message="a second {kind} response for this interaction (first at line {first_line})",
)

HANDLED_BY = Table(
    "attributions",
    "Whose work a row judges: a stored interaction and, when the file names one, an agent of "
    "the store (openwfm.quality.imports checks that this agent handled that interaction).",
    (
        Column("interaction_id", messages={"unknown": "interaction {value!r} is not in the store"}),
        Column(
            "agent",
            required=False,
            nullable=True,
            messages={
                "unknown": "unknown agent {value!r} (no stored interaction was handled by this "
                "agent)"
            },
        ),
    ),
)


def _score_column(kind: str, low: int, high: int) -> Column:
    wrong = f"{kind} expects an integer {low}..{high}, got {{value!r}}"
    return Column(
        "value",
        "number",
        "points",
        f"{kind} score",
        min=low,
        max=high,
        whole=True,
        messages={k: wrong for k in ("missing", "type", "infinite", "below", "above", "whole")},
    )


SURVEY_SCORES: dict[str, Column] = {k: _score_column(k, *s) for k, s in SURVEY_SCALES.items()}


def load_mapping_file(path: str | Path | None) -> dict[str, str]:
    """A YAML mapping ``{source column: openwfm column}`` (or ``{columns: {...}}``)."""
    from openwfm.tables import load_mapping_file as load

    return load(path).get("mapping", {})


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


def times(checked: pd.DataFrame, column: str) -> pd.Series:
    """An optional time column of a frame from :func:`check_rows` (NaT where absent)."""
    if column in checked.columns:
        return checked[column]
    return pd.Series(pd.NaT, index=checked.index, dtype="datetime64[ns]")


def _line_of(frame: pd.DataFrame, rows: np.ndarray | None = None):
    """Row position -> line in the file, for a frame from :func:`read_mapped_table`."""
    lines = frame["_line"].to_numpy()
    if rows is not None:
        lines = lines[rows]
    return lambda position: int(lines[position])


def check_rows(
    path, frame: pd.DataFrame, table: Table, choices: Mapping[str, Iterable[str]] | None = None
) -> pd.DataFrame:
    """``frame`` (from :func:`read_mapped_table`) checked against ``table`` (``choices``: the
    allowed values of a column, known at run time), errors naming the file's line
    (:func:`openwfm.tables.check_table`)."""
    return check_table(frame, table, source=str(path), choices=choices, line_of=_line_of(frame))


def survey_scores(path, frame: pd.DataFrame, wide: bool) -> pd.Series:
    """The responses' values as numbers, each checked against its kind's scale
    (:data:`SURVEY_SCORES`); the error names the first bad line and the column the value is
    in (the kind's column of a wide file, else ``value``)."""
    values = pd.Series(np.nan, index=frame.index)
    first = None
    kinds = frame["kind"].to_numpy()
    for kind in sorted(SURVEY_SCORES):  # the melted frame's order within a line
        rows = np.flatnonzero(kinds == kind)
        if not len(rows):
            continue
        column = replace(SURVEY_SCORES[kind], name=kind if wide else "value")
        cells = frame[["value"]].iloc[rows].set_axis([column.name], axis=1)
        try:
            checked = check_table(
                cells,
                Table(f"{kind} responses", "", (column,)),
                source=str(path),
                line_of=_line_of(frame, rows),
            )
        except DataError as error:
            first = error if first is None or error.line < first.line else first
            continue
        values.iloc[rows] = checked[column.name].to_numpy()
    if first is not None:
        raise first
    return values

"""Generic interaction logs (CSV, ``.csv.gz``, Parquet) with a column mapping -> the
normalised interactions table; missing columns are derived (:func:`read_table`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from openwfm.data.schema import INTERACTION_COLUMNS, Outcome
from openwfm.data.text import (
    MAX_DURATION_S,
    check_delimiter,
    fail_at,
    finish_interactions,
    header_line,
    read_text_table,
)
from openwfm.data.timestamps import to_local_times
from openwfm.errors import DataError
from openwfm.tables import Column, Table, check_table, rename_columns

# Outcome spellings accepted by the generic reader (case-insensitive) -> Outcome value.
OUTCOME_ALIASES: dict[str, str] = {
    **{o.value: o.value for o in Outcome},
    "answer": Outcome.ANSWERED.value,
    "handled": Outcome.ANSWERED.value,
    "agent": Outcome.ANSWERED.value,
    "served": Outcome.ANSWERED.value,
    "abandon": Outcome.ABANDONED.value,
    "abandoned_in_queue": Outcome.ABANDONED.value,
    "hang": Outcome.ABANDONED.value,
    "ivr": Outcome.IVR_ONLY.value,
    "phantom": Outcome.EXCLUDED.value,
}


def _parse_times(
    values: pd.Series, path: Path, field: str, time_format: str | None, line_of, timezone
):
    return to_local_times(
        values,
        timezone=timezone,
        time_format=time_format,
        file=str(path),
        field=field,
        line_of=line_of,
        zone_hint="ingest --timezone, e.g. Europe/Amsterdam; plan uses the scenario's",
    )


def _duration(name: str) -> Column:
    return Column(
        name,
        "number",
        "s",
        required=False,
        nullable=True,
        min=0.0,
        max=MAX_DURATION_S,
        expected=f"a number of seconds from 0 to {MAX_DURATION_S:,} (31 days)",
    )


# The cells of a generic log checked as given, before the missing columns are derived: blank
# durations are unknown; an outcome is any spelling of OUTCOME_ALIASES in any case (the
# spellings a file uses are the run-time choices, see _outcome_spellings).
LOG_CELLS = Table(
    "interaction log",
    "durations and outcomes of a generic interaction log as given",
    (
        _duration("wait_s"),
        _duration("handle_s"),
        Column(
            "outcome",
            required=False,
            expected=f"an outcome ({', '.join(o.value for o in Outcome)})",
            messages={"unknown": "expected {expected}, got {value!r}"},
        ),
    ),
)


def _outcome_spellings(values: pd.Series) -> list[str]:
    """The values of an outcome column that name an outcome (:data:`OUTCOME_ALIASES`, any
    case, surrounding blanks ignored), as they are written."""
    written = pd.Series(values.dropna().unique()).astype(str)
    return [*OUTCOME_ALIASES, *written[written.str.strip().str.lower().isin(OUTCOME_ALIASES)]]


def read_table(
    path: str | Path,
    mapping: Mapping[str, str] | None = None,
    *,
    channel: str | None = None,
    queue: str | None = None,
    time_format: str | None = None,
    delimiter: str = ",",
    timezone: str | None = None,
) -> pd.DataFrame:
    """Read a generic CSV (``.csv``, ``.csv.gz``) or Parquet interaction log.

    ``mapping`` maps source column -> schema column (see ``INTERACTION_COLUMNS``); columns not
    mapped keep their name, so a file already in the schema needs no mapping. ``channel`` and
    ``queue`` fill those columns when the file has none; ``time_format`` is a ``strptime``
    format for the time columns (default ISO 8601); ``timezone`` the center's IANA time zone,
    to which times with a UTC offset are converted (:func:`openwfm.data.timestamps.
    to_local_times`; without it such times are an error). Only ``arrival_time`` is required, plus a
    queue (column or argument) and enough to tell the outcome. Missing columns are derived:

    - ``wait_s`` from ``answer_time`` or ``abandon_time`` minus ``arrival_time``;
    - ``outcome`` (when absent): answered if there is an ``answer_time`` (or ``handle_s`` > 0
      without answer times), abandoned if there is an ``abandon_time`` (or a known wait and no
      answer), otherwise a DataError; outcome spellings in :data:`OUTCOME_ALIASES` are accepted;
    - ``answer_time`` = arrival + wait for answered contacts; ``abandon_time`` = arrival + wait
      for abandoned ones; ``handle_s`` from ``end_time`` - ``answer_time``; ``end_time`` =
      answer + handle;
    - ``channel`` defaults to ``voice``, ``segment`` to ``default``, ``agent`` to <NA>;
    - ``interaction_id`` (when absent) = a hash of the row's content (every schema column but
      the id and the source) plus the row's occurrence number among identical rows of the
      file: stable when the file is re-ingested, moved, renamed or edited elsewhere, and
      different for different contacts in different files (:func:`content_ids`);
    - ``source`` = the file name (kept if the file has a non-empty ``source`` column).

    Errors name the file, the line (CSV, header = line 1) or row (Parquet, 1-based) and field.
    """
    path = Path(path)
    mapping = dict(mapping or {})
    raw, line_of = _load(path, mapping, delimiter)
    frame = _mapped(raw, mapping, path, queue, header=not _is_parquet(path))
    has = set(frame.columns) & set(INTERACTION_COLUMNS)
    times = {
        column: _parse_times(frame[column], path, column, time_format, line_of, timezone)
        for column in TIME_COLUMNS
        if column in has
    }
    arrival = times["arrival_time"]
    fail_at(arrival.isna(), path, "arrival_time", "a time (the value is empty)")
    cells = check_table(
        frame,
        LOG_CELLS,
        source=str(path),
        columns=has,
        choices={"outcome": _outcome_spellings(frame["outcome"])} if "outcome" in has else None,
        line_of=line_of,
        keys=False,
    ).set_axis(frame.index)
    numbers = {column: cells[column] for column in ("wait_s", "handle_s") if column in has}
    outcome = _outcomes(cells, has, times, numbers, path)
    out = _times_and_durations(outcome, times, numbers, path)
    if "interaction_id" in has:
        ids = _text(frame, "interaction_id", None)
        fail_at(ids.isna().to_numpy(), path, "interaction_id", "an id (the value is empty)")
    else:
        ids = pd.Series(pd.NA, index=frame.index)
    out.update(
        interaction_id=ids,
        queue=_text(frame, "queue", queue),
        channel=_text(frame, "channel", channel or "voice"),
        segment=_text(frame, "segment", "default"),
        agent=_text(frame, "agent", None).where(_answered(outcome)),
        outcome=outcome,
        source=_text(frame, "source", path.name) if "source" in has else path.name,
    )
    fail_at(out["queue"].isna().to_numpy(), path, "queue", "a queue name (the value is empty)")
    _check_consistent(times, numbers, path, line_of)
    table = finish_interactions(out, frame.index)
    if "interaction_id" not in has:
        table["interaction_id"] = content_ids(table)
    return table


TIME_COLUMNS = ("arrival_time", "answer_time", "end_time", "abandon_time")


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() in (".parquet", ".pq")


def _load(path: Path, mapping: Mapping[str, str], delimiter: str):
    """(raw cells, row position -> line or row number) of a CSV or Parquet file."""
    if _is_parquet(path):
        if not path.exists():
            raise DataError("file not found", file=str(path))
        try:
            raw = pd.read_parquet(path)
        except Exception as error:  # pyarrow raises several types for corrupt files
            raise DataError(f"cannot read Parquet ({error})", file=str(path)) from None
        if raw.empty:
            raise DataError("empty file (no rows)", file=str(path))
        return raw, lambda position: position + 1
    header = header_line(path)
    delimiter = check_delimiter(path, header, (delimiter,), max(2, len(mapping) or 2))
    return read_text_table(path, delimiter, None), lambda position: position + 2


def _mapped(
    raw: pd.DataFrame, mapping: Mapping[str, str], path: Path, queue: str | None, header: bool
) -> pd.DataFrame:
    """Source columns renamed to the schema's; DataError for a column the reader needs."""
    return rename_columns(
        raw,
        mapping,
        source=str(path),
        required=("arrival_time",) if queue is not None else ("arrival_time", "queue"),
        known=INTERACTION_COLUMNS,
        line=1 if header else None,
        hints={
            "queue": "map a source column to it, or name one queue for the file: "
            "`queue:` beside `columns:` in the --mapping file"
        },
    )


def _text(frame: pd.DataFrame, name: str, default: str | None) -> pd.Series:
    """A text column stripped, blanks as <NA> (or ``default``); all ``default`` if absent."""
    if name in frame.columns:
        values = frame[name].astype("string").str.strip()
        values = values.where(values != "")
        if default is not None:
            values = values.fillna(default)
        return values
    return pd.Series(default, index=frame.index, dtype="string")


def _answered(outcome: pd.Series) -> np.ndarray:
    return (outcome == Outcome.ANSWERED.value).to_numpy()


def _outcomes(frame, has, times: dict, numbers: dict, path: Path) -> pd.Series:
    """The outcome column as given (checked: a spelling in :data:`OUTCOME_ALIASES`) or derived."""
    if "outcome" in has:
        return frame["outcome"].astype("string").str.strip().str.lower().map(OUTCOME_ALIASES)
    answered = pd.Series(False, index=frame.index)
    abandoned = pd.Series(False, index=frame.index)
    if "answer_time" in times:
        answered |= times["answer_time"].notna()
    elif "handle_s" in numbers:
        answered |= numbers["handle_s"].fillna(0) > 0
    if "abandon_time" in times:
        abandoned |= times["abandon_time"].notna() & ~answered
    elif "wait_s" in numbers:
        abandoned |= numbers["wait_s"].notna() & ~answered
    fail_at(
        ~(answered | abandoned),
        path,
        "outcome",
        "an outcome column, or answer_time / abandon_time / handle_s / wait_s to derive it",
    )
    return pd.Series(
        np.where(answered, Outcome.ANSWERED.value, Outcome.ABANDONED.value), index=frame.index
    )


def _wait_s(times: dict, numbers: dict, answered, abandoned, path: Path) -> pd.Series:
    """Seconds in the queue: given, or answer / abandon time minus arrival."""
    if "wait_s" in numbers:
        return numbers["wait_s"]
    arrival = times["arrival_time"]
    wait_s = pd.Series(np.nan, index=arrival.index)
    for column in ("answer_time", "abandon_time"):
        if column in times:
            wait_s = wait_s.fillna((times[column] - arrival).dt.total_seconds())
    fail_at(wait_s.lt(0).to_numpy(), path, "wait_s", "answer/abandon time not before arrival_time")
    return wait_s.where(answered | abandoned | wait_s.notna(), 0.0)


def _times_and_durations(outcome: pd.Series, times: dict, numbers: dict, path: Path) -> dict:
    """Arrival, answer, end and abandon times, wait and handle seconds: given or derived."""
    answered = _answered(outcome)
    abandoned = (outcome == Outcome.ABANDONED.value).to_numpy()
    arrival = times["arrival_time"]
    wait_s = _wait_s(times, numbers, answered, abandoned, path)
    waited = pd.to_timedelta(wait_s, unit="s")
    answer_time = times.get("answer_time", arrival + waited).where(answered)
    if "handle_s" in numbers:
        handle_s = numbers["handle_s"]
    elif "end_time" in times:
        handle_s = (times["end_time"] - answer_time).dt.total_seconds()
        fail_at(handle_s.lt(0).to_numpy(), path, "end_time", "end_time not before answer")
    else:
        handle_s = pd.Series(np.nan, index=arrival.index)
    handle_s = handle_s.where(answered, 0.0)
    end_time = times.get("end_time", answer_time + pd.to_timedelta(handle_s, unit="s"))
    return {
        "arrival_time": arrival,
        "answer_time": answer_time,
        "end_time": end_time.where(answered),
        "abandon_time": times.get("abandon_time", arrival + waited).where(abandoned),
        "wait_s": wait_s.astype(float),
        "handle_s": handle_s.astype(float),
    }


_CONTENT_COLUMNS = [c for c in INTERACTION_COLUMNS if c not in ("interaction_id", "source")]
WAIT_TOLERANCE_S = 60.0  # clocks and durations of one record may disagree by this much


def content_ids(table: pd.DataFrame) -> pd.Series:
    """Ids for rows without one: ``c{hash of the content}`` plus ``-{k}`` for the k-th repeat.

    The hash covers every schema column but the id and the source, so the same contact gets the
    same id in any file (re-ingesting adds nothing) and different contacts different ids, while
    identical rows within one file (two contacts nobody can tell apart) stay two rows.
    """
    content = table[_CONTENT_COLUMNS].astype("string").fillna("\x00")
    hashes = pd.util.hash_pandas_object(content, index=False, categorize=False).to_numpy()
    repeat = pd.Series(hashes).groupby(hashes).cumcount().to_numpy()
    ids = [
        f"c{h:016x}" if k == 0 else f"c{h:016x}-{k}"
        for h, k in zip(hashes.tolist(), repeat.tolist(), strict=True)
    ]
    return pd.Series(ids, index=table.index, dtype="string")


def _check_consistent(times: dict, numbers: dict, path: Path, line_of) -> None:
    """DataError for a row whose times and durations contradict each other."""
    arrival = times["arrival_time"]

    def fail(mask, field: str, expected: str) -> None:
        mask = np.asarray(mask.fillna(False) if hasattr(mask, "fillna") else mask, dtype=bool)
        if mask.any():
            position = int(np.flatnonzero(mask)[0])
            raise DataError(
                f"expected {expected} ({int(mask.sum())} row(s) contradict themselves)",
                file=str(path),
                line=line_of(position),
                field=field,
            )

    for column in ("answer_time", "abandon_time"):
        if column in times:
            fail(times[column] < arrival, column, f"{column} not before arrival_time")
    if "end_time" in times:
        start = times.get("answer_time", arrival)
        fail(times["end_time"] < start, "end_time", "end_time not before answer_time")
    if "wait_s" in numbers:
        for column in ("answer_time", "abandon_time"):
            if column in times:
                elapsed = (times[column] - arrival).dt.total_seconds()
                fail(
                    numbers["wait_s"] > elapsed + WAIT_TOLERANCE_S,
                    "wait_s",
                    f"wait_s at most {column} - arrival_time (+{WAIT_TOLERANCE_S:g} s)",
                )
    for column in ("answer_time", "abandon_time", "end_time"):
        if column in times:
            span = (times[column] - arrival).dt.total_seconds()
            fail(
                span > 2 * MAX_DURATION_S,
                column,
                f"{column} within {2 * MAX_DURATION_S // 86400} days of arrival_time",
            )

"""Readers: interaction logs in their source formats -> the normalised interactions table.

Every reader returns a DataFrame with exactly the columns and dtypes of
:data:`openwfm.data.schema.INTERACTION_COLUMNS` and ``outcome`` values of
:class:`openwfm.data.schema.Outcome`. Timestamps are local-naive, durations in seconds.

Bad input raises :class:`openwfm.errors.DataError` naming the file, the line as numbered in the
file (the header is line 1) and the field. All parsing is vectorised (pandas); a row-level
problem is located afterwards from the boolean mask of bad values.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from openwfm.data.schema import INTERACTION_COLUMNS, Outcome
from openwfm.data.timestamps import to_local_times
from openwfm.errors import DataError

FORMATS = ("auto", "anonymous-bank", "csv", "parquet", "openwfm")

ANONYMOUS_BANK_COLUMNS = (
    "vru+line",
    "call_id",
    "customer_id",
    "priority",
    "type",
    "date",
    "vru_entry",
    "vru_exit",
    "vru_time",
    "q_start",
    "q_exit",
    "q_time",
    "outcome",
    "ser_start",
    "ser_exit",
    "ser_time",
    "server",
)
# customer_id is not part of the normalised table; it is never parsed (180 records hold
# spreadsheet-mangled values such as 6.02701E+11).
_AB_USED = tuple(c for c in ANONYMOUS_BANK_COLUMNS if c != "customer_id")

_DELIMITER_NAMES = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}
_CLOCK_PATTERN = r"(?:[01]?\d|2[0-3]):[0-5]\d:[0-5]\d"
_SECONDS_PER_DAY = 86400

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


# --------------------------------------------------------------------------------------------
# helpers


def empty_interactions() -> pd.DataFrame:
    """An empty interactions table with the schema's columns and dtypes."""
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in INTERACTION_COLUMNS.items()})


def _open_text(path: Path):
    # utf-8-sig: a byte-order mark (as spreadsheet programs write it) is not part of the header
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def decode_error(path: Path, error: UnicodeDecodeError) -> DataError:
    """A DataError naming the line of the first byte that is not UTF-8, with a hint."""
    from openwfm.io import undecodable_line

    byte = error.object[error.start : error.start + 1].hex() if error.object else "?"
    return DataError(
        f"not UTF-8 text (byte 0x{byte}); save the file as UTF-8 "
        f"(it looks like {'UTF-16' if byte in ('ff', 'fe') else 'Latin-1 / Windows-1252'})",
        file=str(path),
        line=undecodable_line(path),
    )


def _header_line(path: Path) -> str:
    """First line of a text file; DataError if the file is missing or empty."""
    if not path.exists():
        raise DataError("file not found", file=str(path))
    if path.is_dir():
        raise DataError("is a folder, expected a file", file=str(path))
    try:
        with _open_text(path) as handle:
            header = handle.readline()
    except UnicodeDecodeError as error:
        raise decode_error(path, error) from None
    except (OSError, EOFError) as error:
        raise DataError(f"cannot read as text ({error})", file=str(path)) from None
    if not header.strip():
        raise DataError("empty file (expected a header line and data rows)", file=str(path))
    return header.rstrip("\r\n")


def _check_delimiter(path: Path, header: str, expected: tuple[str, ...], needed: int) -> str:
    """The delimiter of ``header`` among ``expected``; a clear DataError for another one."""
    for delimiter in expected:
        if len(header.split(delimiter)) >= needed:
            return delimiter
    counts = {d: header.count(d) for d in _DELIMITER_NAMES if d not in expected}
    found = max(counts, key=counts.get) if counts else None
    wanted = " or ".join(_DELIMITER_NAMES.get(d, repr(d)) for d in expected)
    if found is not None and counts[found] > 0:
        raise DataError(
            f"wrong delimiter: the header is {_DELIMITER_NAMES[found]}-separated, "
            f"expected {wanted}-separated",
            file=str(path),
            line=1,
        )
    return expected[0]


def _read_text_table(
    path: Path, delimiter: str, usecols: list[str] | None, dtype: str | type = str
) -> pd.DataFrame:
    """All cells as strings (missing cells as <NA>), line numbers kept by row position."""
    try:
        frame = pd.read_csv(
            path,
            sep=delimiter,
            dtype=dtype,
            keep_default_na=False,
            na_values=[],
            usecols=usecols,
            skip_blank_lines=False,
            engine="c",
            encoding="utf-8-sig",
        )
    except UnicodeDecodeError as error:
        raise decode_error(path, error) from None
    except pd.errors.ParserError as error:
        if "Calling read(nbytes) on source failed" in str(error):
            # the C parser turns an interrupted read (Ctrl-C) into a ParserError
            raise KeyboardInterrupt from None
        text = str(error).strip().splitlines()[-1]
        text = text.replace("Error tokenizing data. C error: ", "")
        line = None
        words = text.replace(",", " ").split()
        if "line" in words:
            try:
                line = int(words[words.index("line") + 1])
            except (ValueError, IndexError):
                line = None
        quote = re.search(r"EOF inside string starting at row (\d+)", text)
        if quote:  # rows are counted from 0 at the first data row; the header is line 1
            line = int(quote.group(1)) + 1
            text = 'a quote (") opens here and is never closed'
        raise DataError(f"malformed row: {text}", file=str(path), line=line) from None
    except pd.errors.EmptyDataError:
        raise DataError("empty file", file=str(path)) from None
    if frame.empty:
        raise DataError("no data rows after the header", file=str(path))
    return frame


def _fail_at(mask: pd.Series | np.ndarray, path: Path, field: str, expected: str, values=None):
    """Raise a DataError at the first True of ``mask`` (row position -> file line)."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return
    position = int(np.flatnonzero(mask)[0])
    shown = ""
    if values is not None:
        shown = f", got {str(np.asarray(values, dtype=object)[position])!r}"
    raise DataError(
        f"expected {expected}{shown} ({int(mask.sum())} bad value(s) in this column)",
        file=str(path),
        line=position + 2,  # header is line 1
        field=field,
    )


def _clock_seconds(values: pd.Series, path: Path, field: str) -> np.ndarray:
    """``H:MM:SS`` clock strings -> seconds after midnight (float)."""
    text = values.fillna("").str.strip()
    _fail_at(~text.str.fullmatch(_CLOCK_PATTERN), path, field, "a clock time H:MM:SS", text)
    if len(text) == 0:
        return np.zeros(0)
    import pyarrow as pa
    import pyarrow.compute as pc

    # Validated above, so every value splits into exactly three integers (Arrow: vectorised).
    parts = pc.split_pattern(pa.array(text.astype("string[pyarrow]").array), ":")
    hms = pc.cast(pc.list_flatten(parts), pa.int64()).to_numpy().reshape(-1, 3)
    return (hms @ np.array([3600, 60, 1])).astype(float)


# The longest duration a log may give (wait, handle or VRU time): 31 days. Longer values are
# typing or export errors, and they would overflow timestamps if added to an arrival.
MAX_DURATION_S = 31 * 86400


def _integers(values: pd.Series, path: Path, field: str, *, minimum=None) -> np.ndarray:
    text = values.fillna("").str.strip()
    numbers = pd.to_numeric(text, errors="coerce").astype(float)
    bad = numbers.isna() | ~np.isfinite(numbers) | (numbers != np.floor(numbers))
    _fail_at(bad, path, field, "an integer", text)
    if minimum is not None:
        _fail_at(numbers < minimum, path, field, f"an integer >= {minimum}", text)
    _fail_at(
        numbers.abs() > MAX_DURATION_S,
        path,
        field,
        f"a duration of at most {MAX_DURATION_S:,} s (31 days)",
        text,
    )
    return numbers.to_numpy(dtype=float)


def _finish(columns: dict[str, object], index: pd.Index) -> pd.DataFrame:
    """Assemble the schema columns in order with their dtypes."""
    frame = pd.DataFrame(columns, index=index)
    frame = frame[list(INTERACTION_COLUMNS)].reset_index(drop=True)
    return frame.astype(INTERACTION_COLUMNS)


# --------------------------------------------------------------------------------------------
# Anonymous Bank


def _repair_agent_names(server: pd.Series) -> pd.Series:
    """Undo the source's "NA" -> "NO_SERVER" substitution inside agent names."""
    damaged = server.str.contains("NO_SERVER", regex=False) & (server != "NO_SERVER")
    return server.where(~damaged, server.str.replace("NO_SERVER", "NA", regex=False))


def read_anonymous_bank(path: str | Path) -> pd.DataFrame:
    """Read one raw Anonymous Bank file (tab-separated, or the comma-separated concatenation).

    Mapping to the normalised table (one row per record, all records kept):

    - ``interaction_id`` = ``"{vru+line}-{call_id}"`` (unique over the nine months);
      ``queue`` = ``type`` (``AA``, undocumented, is kept as its own queue); ``channel`` =
      ``voice``; ``segment`` = the ``priority`` digit as a string (``"0"``, ``"1"``, ``"2"``).
    - ``arrival_time`` = ``date`` + ``vru_exit`` (when the call left the VRU for the queue). A
      ``vru_exit`` more than 12 h before ``vru_entry`` crossed midnight and gets the next day;
      smaller negative VRU times (clock offsets, down to -348 s in the data) are kept as is.
    - Later times come from the *durations*, never from the clock fields, because clock times
      carry no date, cross midnight, and ``0:00:00`` means both "none" and a real midnight:
      ``answer_time`` = arrival + ``q_time``, ``end_time`` = answer + ``ser_time``,
      ``abandon_time`` = arrival + ``q_time``. ``wait_s`` = ``q_time``. The rebuilt end time
      agrees with ``ser_exit`` within 5 s for about 99% of served calls; in the rest
      ``ser_start`` lies before ``q_exit`` (by up to minutes) and ``q_time`` is kept as the wait.
    - ``outcome``: AGENT -> answered; HANG with ``q_time`` > 0 -> abandoned (in the agent
      queue); HANG with no queue time -> ivr_only; PHANTOM -> excluded (stored, never offered).
    - ``handle_s`` = ``ser_time`` for answered calls; NaN (unknown) for the AGENT records with
      no service data (``ser_start`` = ``ser_exit`` = ``0:00:00`` and ``ser_time`` 0), which
      then also have no ``end_time``; 0 for calls not answered.
    - ``agent`` = ``server`` for answered calls; <NA> for ``NO_SERVER`` and for calls not
      answered (4 HANG records name an agent who did not serve them). The source replaced the
      letters "NA" with "NO_SERVER" inside two names in May and June (NAAMA appears as
      ``NO_SERVERAMA`` 883 times, ANAT as ``ANO_SERVERT`` 338 times); every name that holds
      ``NO_SERVER`` but is not ``NO_SERVER`` itself is mapped back, so each agent is one name.
    - ``source`` = the file name.

    ``customer_id`` is not read (some values are in scientific notation).
    """
    path = Path(path)
    header = _header_line(path)
    delimiter = _check_delimiter(path, header, ("\t", ","), len(ANONYMOUS_BANK_COLUMNS))
    names = [name.strip() for name in header.split(delimiter)]
    missing = [c for c in _AB_USED if c not in names]
    if missing:
        raise DataError(
            f"missing column(s) {', '.join(missing)} (Anonymous Bank header: "
            f"{' '.join(ANONYMOUS_BANK_COLUMNS)})",
            file=str(path),
            line=1,
            field=missing[0],
        )
    # All columns are read (not usecols) so that a row with too many fields is an error;
    # Arrow-backed strings make the string checks below vectorised in C++.
    raw = _read_text_table(path, delimiter, None, dtype="string[pyarrow]")
    raw.columns = [c.strip() for c in raw.columns]
    raw = pd.DataFrame({c: raw[c].str.strip() for c in _AB_USED})
    empty = pd.DataFrame({c: raw[c].isna() | (raw[c] == "") for c in _AB_USED})
    if empty.to_numpy().any():
        position = int(np.flatnonzero(empty.any(axis=1).to_numpy())[0])
        column = empty.columns[empty.iloc[position].to_numpy()][0]
        raise DataError(
            "expected a value, the field is empty (does the row have too few fields?)",
            file=str(path),
            line=position + 2,
            field=column,
        )

    date = pd.to_datetime(raw["date"].str.strip(), format="%y%m%d", errors="coerce")
    _fail_at(date.isna(), path, "date", "a date YYMMDD", raw["date"])
    entry_s = _clock_seconds(raw["vru_entry"], path, "vru_entry")
    exit_s = _clock_seconds(raw["vru_exit"], path, "vru_exit")
    _integers(raw["vru_time"], path, "vru_time")
    q_time = _integers(raw["q_time"], path, "q_time", minimum=0)
    ser_time = _integers(raw["ser_time"], path, "ser_time", minimum=0)
    # The clock fields of queue and service are validated but only their durations are used.
    for column in ("q_start", "q_exit", "ser_start", "ser_exit"):
        _clock_seconds(raw[column], path, column)
    priority = raw["priority"].str.strip()
    _fail_at(~priority.isin(["0", "1", "2"]), path, "priority", "0, 1 or 2", priority)
    source_outcome = raw["outcome"].str.strip().str.upper()
    _fail_at(
        ~source_outcome.isin(["AGENT", "HANG", "PHANTOM"]),
        path,
        "outcome",
        "AGENT, HANG or PHANTOM",
        raw["outcome"],
    )

    crossed = (exit_s - entry_s) < -_SECONDS_PER_DAY / 2
    arrival = date + pd.to_timedelta(exit_s + crossed * _SECONDS_PER_DAY, unit="s")

    agent_outcome = (source_outcome == "AGENT").to_numpy()
    hang = (source_outcome == "HANG").to_numpy()
    abandoned = hang & (q_time > 0)
    outcome = np.select(
        [agent_outcome, abandoned, hang],
        [Outcome.ANSWERED.value, Outcome.ABANDONED.value, Outcome.IVR_ONLY.value],
        Outcome.EXCLUDED.value,
    )
    no_service = (
        (raw["ser_start"].str.strip() == "0:00:00")
        & (raw["ser_exit"].str.strip() == "0:00:00")
        & (ser_time == 0)
    ).to_numpy()
    handle_s = np.where(agent_outcome, np.where(no_service, np.nan, ser_time), 0.0)
    wait = pd.to_timedelta(q_time, unit="s")
    answer_time = (arrival + wait).where(agent_outcome)
    end_time = (answer_time + pd.to_timedelta(handle_s, unit="s")).where(agent_outcome)
    abandon_time = (arrival + wait).where(abandoned)
    server = _repair_agent_names(raw["server"].str.strip())
    agent = server.where(agent_outcome & (server != "NO_SERVER").to_numpy() & (server != ""))

    return _finish(
        {
            "interaction_id": raw["vru+line"].str.strip() + "-" + raw["call_id"].str.strip(),
            "queue": raw["type"].str.strip(),
            "channel": "voice",
            "segment": priority,
            "arrival_time": arrival,
            "answer_time": answer_time,
            "end_time": end_time,
            "abandon_time": abandon_time,
            "wait_s": q_time,
            "handle_s": handle_s,
            "agent": agent,
            "outcome": outcome,
            "source": path.name,
        },
        raw.index,
    )


# --------------------------------------------------------------------------------------------
# generic CSV / Parquet


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


def _parse_numbers(values: pd.Series, path: Path, field: str, line_of) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values):
        numbers = values.astype(float)
        blank = numbers.isna()
    else:
        text = values.astype("string").str.strip()
        blank = text.isna() | (text == "")
        numbers = pd.to_numeric(text.where(~blank), errors="coerce").astype(float)
    bad = (numbers.isna() & ~blank) | (numbers < 0) | (numbers > MAX_DURATION_S)
    if bad.any():
        position = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"expected a number of seconds from 0 to {MAX_DURATION_S:,} (31 days), "
            f"got {str(values.iloc[position])!r}",
            file=str(path),
            line=line_of(position),
            field=field,
        )
    return numbers


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
    unknown_targets = sorted(set(mapping.values()) - set(INTERACTION_COLUMNS))
    if unknown_targets:
        raise DataError(
            f"mapping targets unknown column(s) {', '.join(unknown_targets)} "
            f"(schema columns: {', '.join(INTERACTION_COLUMNS)})",
            file=str(path),
            field="mapping",
        )
    is_parquet = path.suffix.lower() in (".parquet", ".pq")
    if is_parquet:
        if not path.exists():
            raise DataError("file not found", file=str(path))
        try:
            raw = pd.read_parquet(path)
        except Exception as error:  # pyarrow raises several types for corrupt files
            raise DataError(f"cannot read Parquet ({error})", file=str(path)) from None
        if raw.empty:
            raise DataError("empty file (no rows)", file=str(path))

        def line_of(position: int) -> int:
            return position + 1

    else:
        header = _header_line(path)
        wanted_columns = max(2, len(mapping) or 2)
        delimiter = _check_delimiter(path, header, (delimiter,), wanted_columns)
        raw = _read_text_table(path, delimiter, None)

        def line_of(position: int) -> int:
            return position + 2

    raw.columns = [str(c).strip() for c in raw.columns]
    missing_sources = [s for s in mapping if s not in raw.columns]
    if missing_sources:
        raise DataError(
            f"missing column(s) {', '.join(missing_sources)} named in the mapping "
            f"(file has: {', '.join(raw.columns)})",
            file=str(path),
            line=None if is_parquet else 1,
            field=missing_sources[0],
        )
    frame = raw.rename(columns=mapping)
    frame = frame.loc[:, ~frame.columns.duplicated()]
    has = set(frame.columns) & set(INTERACTION_COLUMNS)
    if "arrival_time" not in has:
        raise DataError(
            "missing column arrival_time (map a source column to it)",
            file=str(path),
            line=None if is_parquet else 1,
            field="arrival_time",
        )
    if "queue" not in has and queue is None:
        raise DataError(
            "missing column queue (map a source column to it or pass queue=)",
            file=str(path),
            line=None if is_parquet else 1,
            field="queue",
        )
    out: dict[str, object] = {}
    times = {}
    for column in ("arrival_time", "answer_time", "end_time", "abandon_time"):
        if column in has:
            times[column] = _parse_times(
                frame[column], path, column, time_format, line_of, timezone
            )
    arrival = times["arrival_time"]
    _fail_at(arrival.isna(), path, "arrival_time", "a time (the value is empty)")
    numbers = {}
    for column in ("wait_s", "handle_s"):
        if column in has:
            numbers[column] = _parse_numbers(frame[column], path, column, line_of)

    def text_column(name: str, default: str | None) -> pd.Series:
        if name in has:
            values = frame[name].astype("string").str.strip()
            values = values.where(values != "")
            if default is not None:
                values = values.fillna(default)
            return values
        return pd.Series(default, index=frame.index, dtype="string")

    # outcome
    if "outcome" in has:
        given = text_column("outcome", None).str.lower()
        outcome = given.map(OUTCOME_ALIASES)
        bad = outcome.isna().to_numpy()
        if bad.any():
            position = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"expected an outcome ({', '.join(o.value for o in Outcome)}), "
                f"got {frame['outcome'].iloc[position]!r}",
                file=str(path),
                line=line_of(position),
                field="outcome",
            )
    else:
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
        _fail_at(
            ~(answered | abandoned),
            path,
            "outcome",
            "an outcome column, or answer_time / abandon_time / handle_s / wait_s to derive it",
        )
        outcome = pd.Series(
            np.where(answered, Outcome.ANSWERED.value, Outcome.ABANDONED.value),
            index=frame.index,
        )
    is_answered = (outcome == Outcome.ANSWERED.value).to_numpy()
    is_abandoned = (outcome == Outcome.ABANDONED.value).to_numpy()

    # wait
    if "wait_s" in numbers:
        wait_s = numbers["wait_s"]
    else:
        wait_s = pd.Series(np.nan, index=frame.index)
        for column in ("answer_time", "abandon_time"):
            if column in times:
                derived = (times[column] - arrival).dt.total_seconds()
                wait_s = wait_s.fillna(derived)
        _fail_at(
            wait_s.lt(0).to_numpy(),
            path,
            "wait_s",
            "answer/abandon time not before arrival_time",
        )
        wait_s = wait_s.where(is_answered | is_abandoned | wait_s.notna(), 0.0)
    waited = pd.to_timedelta(wait_s, unit="s")
    answer_time = times.get("answer_time", arrival + waited)
    answer_time = answer_time.where(is_answered)
    # handle
    if "handle_s" in numbers:
        handle_s = numbers["handle_s"]
    elif "end_time" in times:
        handle_s = (times["end_time"] - answer_time).dt.total_seconds()
        _fail_at(handle_s.lt(0).to_numpy(), path, "end_time", "end_time not before answer")
    else:
        handle_s = pd.Series(np.nan, index=frame.index)
    handle_s = handle_s.where(is_answered, 0.0)
    end_time = times.get("end_time", answer_time + pd.to_timedelta(handle_s, unit="s"))
    end_time = end_time.where(is_answered)
    abandon_time = times.get("abandon_time", arrival + waited).where(is_abandoned)

    if "interaction_id" in has:
        ids = text_column("interaction_id", None)
        _fail_at(ids.isna().to_numpy(), path, "interaction_id", "an id (the value is empty)")
    else:
        ids = None
    source = text_column("source", path.name) if "source" in has else path.name
    out.update(
        interaction_id=ids if ids is not None else pd.Series(pd.NA, index=frame.index),
        queue=text_column("queue", queue),
        channel=text_column("channel", channel or "voice"),
        segment=text_column("segment", "default"),
        arrival_time=arrival,
        answer_time=answer_time,
        end_time=end_time,
        abandon_time=abandon_time,
        wait_s=wait_s.astype(float),
        handle_s=handle_s.astype(float),
        agent=text_column("agent", None).where(is_answered),
        outcome=outcome,
        source=source,
    )
    _fail_at(out["queue"].isna().to_numpy(), path, "queue", "a queue name (the value is empty)")
    _check_consistent(times, numbers, path, line_of)
    table = _finish(out, frame.index)
    if ids is None:
        table["interaction_id"] = content_ids(table)
    return table


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
            header = _header_line(path)
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
        header = _header_line(path)
        delimiter = _check_delimiter(path, header, (options.get("delimiter", ","),), 2)
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

"""The Anonymous Bank call-center log (1999) -> the normalised interactions table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from openwfm.data.schema import Outcome
from openwfm.data.text import (
    MAX_DURATION_S,
    check_delimiter,
    fail_at,
    finish_interactions,
    header_line,
    read_text_table,
)
from openwfm.errors import DataError

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
_CLOCK_PATTERN = r"(?:[01]?\d|2[0-3]):[0-5]\d:[0-5]\d"
_SECONDS_PER_DAY = 86400


def _clock_seconds(values: pd.Series, path: Path, field: str) -> np.ndarray:
    """``H:MM:SS`` clock strings -> seconds after midnight (float)."""
    text = values.fillna("").str.strip()
    fail_at(~text.str.fullmatch(_CLOCK_PATTERN), path, field, "a clock time H:MM:SS", text)
    if len(text) == 0:
        return np.zeros(0)
    import pyarrow as pa
    import pyarrow.compute as pc

    # Validated above, so every value splits into exactly three integers (Arrow: vectorised).
    parts = pc.split_pattern(pa.array(text.astype("string[pyarrow]").array), ":")
    hms = pc.cast(pc.list_flatten(parts), pa.int64()).to_numpy().reshape(-1, 3)
    return (hms @ np.array([3600, 60, 1])).astype(float)


def _integers(values: pd.Series, path: Path, field: str, *, minimum=None) -> np.ndarray:
    text = values.fillna("").str.strip()
    numbers = pd.to_numeric(text, errors="coerce").astype(float)
    bad = numbers.isna() | ~np.isfinite(numbers) | (numbers != np.floor(numbers))
    fail_at(bad, path, field, "an integer", text)
    if minimum is not None:
        fail_at(numbers < minimum, path, field, f"an integer >= {minimum}", text)
    fail_at(
        numbers.abs() > MAX_DURATION_S,
        path,
        field,
        f"a duration of at most {MAX_DURATION_S:,} s (31 days)",
        text,
    )
    return numbers.to_numpy(dtype=float)


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
    header = header_line(path)
    delimiter = check_delimiter(path, header, ("\t", ","), len(ANONYMOUS_BANK_COLUMNS))
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
    raw = read_text_table(path, delimiter, None, dtype="string[pyarrow]")
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
    fail_at(date.isna(), path, "date", "a date YYMMDD", raw["date"])
    entry_s = _clock_seconds(raw["vru_entry"], path, "vru_entry")
    exit_s = _clock_seconds(raw["vru_exit"], path, "vru_exit")
    _integers(raw["vru_time"], path, "vru_time")
    q_time = _integers(raw["q_time"], path, "q_time", minimum=0)
    ser_time = _integers(raw["ser_time"], path, "ser_time", minimum=0)
    # The clock fields of queue and service are validated but only their durations are used.
    for column in ("q_start", "q_exit", "ser_start", "ser_exit"):
        _clock_seconds(raw[column], path, column)
    priority = raw["priority"].str.strip()
    fail_at(~priority.isin(["0", "1", "2"]), path, "priority", "0, 1 or 2", priority)
    source_outcome = raw["outcome"].str.strip().str.upper()
    fail_at(
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

    return finish_interactions(
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

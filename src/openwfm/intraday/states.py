"""Agent state events: one table ``agent_id, ts, state, reason_code, source``.

An event says "from ``ts`` on, agent ``agent_id`` is in ``state`` (with ``reason_code``)"; the
state lasts until the agent's next event. Timestamps are local-naive (the center's clock, as
for interactions). ``reason_code`` is <NA> when the source has none (ACDs give one for
not-ready/aux states only). ``source`` names the feed (file name, ``router``...).

Sources: CSV / Parquet exports of an ACD (:func:`read_state_events`, with a column mapping as
for interactions: ``source column -> schema column``) and the live router's agent events
(:func:`from_router_events`).

Bad input (decided here, for every reader and adapter):

- a missing column, an unparseable or empty time, an empty agent or state: :class:`DataError`
  naming file, line and field;
- **out-of-order timestamps** of one agent (an event earlier than that agent's previous event
  in the feed): :class:`DataError` naming both lines. Durations come from consecutive events,
  so re-sorting a feed that goes backwards would invent durations, and every adherence figure
  would silently change; the feed must be fixed (events at the *same* second keep file order).
- **unknown agents** (not in the roster given): *counted and reported*, not an error. ACD
  feeds carry logins WFM does not plan (supervisors, test users, other sites); their rows are
  left out and listed in the ``rejected`` table with the reason, so they change nobody's
  figures and the desk keeps working.
- unmapped states are decided by the adherence map (:mod:`openwfm.intraday.mapping`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from openwfm.errors import DataError
from openwfm.tables import STATE_EVENTS, check_table, rename_columns

STATE_EVENT_COLUMNS: dict[str, str] = STATE_EVENTS.dtypes()  # openwfm.tables.STATE_EVENTS
# without the center's time zone an export's offsets are dropped: each value's own wall clock
_WALL_CLOCK_EVENTS = replace(
    STATE_EVENTS,
    columns=tuple(replace(c, clock="wall") if c.name == "ts" else c for c in STATE_EVENTS.columns),
)
REJECTED_COLUMNS = ["line", "agent_id", "ts", "state", "reason_code", "source", "reason"]


@dataclass
class StateFeed:
    """A checked feed: ``events`` (sorted by agent, then time, file order kept for ties) and
    ``rejected`` rows (``line`` as numbered in the file, and the ``reason``), e.g. unknown
    agents."""

    events: pd.DataFrame
    rejected: pd.DataFrame

    @property
    def rejected_count(self) -> int:
        return len(self.rejected)


def empty_state_events() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in STATE_EVENT_COLUMNS.items()})


def _read_raw(path: Path, delimiter: str) -> tuple[pd.DataFrame, int]:
    """Cells as read, and the offset from row position to the file's line/row number."""
    if not path.exists():
        raise DataError("file not found", file=str(path))
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            raw = pd.read_parquet(path)
        except Exception as error:  # pyarrow raises several types for corrupt files
            raise DataError(f"cannot read Parquet ({error})", file=str(path)) from None
        offset = 1
    else:
        try:
            raw = pd.read_csv(path, sep=delimiter, dtype=str, keep_default_na=False)
        except pd.errors.EmptyDataError:
            raise DataError(
                "empty file (expected a header line and data rows)", file=str(path)
            ) from None
        except pd.errors.ParserError as error:
            text = str(error).strip().splitlines()[-1]
            raise DataError(f"malformed row: {text}", file=str(path)) from None
        offset = 2
    if raw.empty:
        raise DataError("no data rows", file=str(path))
    return raw, offset


def read_state_events(
    path: str | Path,
    mapping: Mapping[str, str] | None = None,
    *,
    time_format: str | None = None,
    delimiter: str = ",",
    roster: Iterable[str] | None = None,
    timezone: str | None = None,
) -> StateFeed:
    """Read an ACD agent-state export (CSV, ``.csv.gz`` or Parquet) into a :class:`StateFeed`.

    ``mapping`` maps source column -> schema column (``agent_id, ts, state, reason_code,
    source``); unmapped columns keep their names, so a file already in the schema needs none.
    ``agent_id``, ``ts`` and ``state`` are required; ``source`` defaults to the file name.
    ``time_format`` is a ``strptime`` format (default ISO 8601); times with a UTC offset are
    converted to the center's ``timezone`` (without one, each keeps its own wall clock: an
    export in the center's local offsets). ``roster``: the known agents; rows of other agents
    are rejected (counted, reported), see the module doc.
    """
    path = Path(path)
    raw, offset = _read_raw(path, delimiter)
    frame = rename_columns(
        raw,
        mapping,
        source=str(path),
        required=("agent_id", "ts", "state"),
        known=STATE_EVENT_COLUMNS,
        line=offset - 1 if offset > 1 else None,  # the header line of a CSV
    )
    if "source" not in frame.columns:
        frame["source"] = path.name
    return check_state_events(
        frame,
        roster=roster,
        time_format=time_format,
        timezone=timezone,
        file=str(path),
        line_offset=offset,
    )


def _text(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip()
    return text.where(text != "")


def check_state_events(
    frame: pd.DataFrame,
    *,
    roster: Iterable[str] | None = None,
    time_format: str | None = None,
    timezone: str | None = None,
    file: str = "state events",
    line_offset: int = 2,
) -> StateFeed:
    """Validate a state-event table (any source) into a :class:`StateFeed`; see the module doc
    for what is an error and what is a rejected row. The columns are checked against
    :data:`openwfm.tables.STATE_EVENTS` (``ts`` in ``time_format``, default ISO 8601; times
    with a UTC offset are converted to ``timezone``, or keep their own wall clock without
    one). Row ``i`` is reported as line ``i + line_offset`` (2 for a CSV with a header, 1 for
    Parquet or records)."""
    optional = ["reason_code"] if "reason_code" in frame.columns else []  # blank source: file
    checked = check_table(
        frame,
        STATE_EVENTS if timezone else _WALL_CLOCK_EVENTS,
        source=file,
        columns=["agent_id", "ts", "state", *optional],
        timezone=timezone,
        time_formats={"ts": time_format} if time_format else None,
        line_of=lambda position: position + line_offset,
    )
    reason = (
        _text(checked["reason_code"]).str.lower()
        if optional
        else pd.Series(pd.NA, index=checked.index, dtype="string")
    )
    source = _text(checked["source"]).fillna(file) if "source" in checked.columns else file
    events = pd.DataFrame(
        {
            "agent_id": _text(checked["agent_id"]),
            "ts": checked["ts"],
            "state": _text(checked["state"]).str.lower(),
            "reason_code": reason,
            "source": source,
        }
    ).astype(STATE_EVENT_COLUMNS)
    events["_line"] = np.arange(len(events)) + line_offset
    _check_order(events, file)
    rejected = pd.DataFrame(columns=REJECTED_COLUMNS)
    if roster is not None:
        known = set(roster)
        unknown = ~events["agent_id"].isin(known)
        if unknown.any():
            rejected = (
                events[unknown]
                .rename(columns={"_line": "line"})
                .assign(reason="unknown agent (not in the roster)")[REJECTED_COLUMNS]
                .reset_index(drop=True)
            )
            events = events[~unknown]
    events = events.sort_values(["agent_id", "ts", "_line"], kind="stable")
    return StateFeed(events.drop(columns="_line").reset_index(drop=True), rejected)


def _check_order(events: pd.DataFrame, file: str) -> None:
    """DataError at the first event earlier than the same agent's previous event."""
    previous_ts = events.groupby("agent_id", sort=False)["ts"].shift()
    back = (events["ts"] < previous_ts).to_numpy()
    if not back.any():
        return
    row = int(np.flatnonzero(back)[0])
    agent = events["agent_id"].iloc[row]
    earlier = events[(events["agent_id"] == agent) & (events.index < row)]
    previous_line = int(earlier["_line"].iloc[-1])
    raise DataError(
        f"out-of-order timestamp for agent {agent!r}: {events['ts'].iloc[row]} is before "
        f"{earlier['ts'].iloc[-1]} (line {previous_line}); state events of one agent must "
        f"not go back in time ({int(back.sum())} such event(s))",
        file=file,
        line=int(events["_line"].iloc[row]),
        field="ts",
    )


# The live router (openwfm.routing) emits, per center, gap-free numbered events
# ``{"seq", "at_s", "type", "contact_id", "agent_id", "offer_id", "data"}``; ``at_s`` is
# seconds on the center's clock (Unix time on the wall clock, from 0 on a virtual clock).
# Agent presence is ``available`` / ``away`` / ``offline`` (``agent.presence``, with
# ``data.status`` and an optional ``data.reason``); work on contacts shows in
# ``contact.assigned`` / ``contact.wrapping`` / ``contact.completed`` with the agent's id.
ROUTER_PRESENCE_STATES = {"available": "available", "away": "not_ready", "offline": "logged_out"}


def _router_ts(at_s: float, origin: pd.Timestamp | None, timezone: str | None) -> pd.Timestamp:
    if origin is not None:
        return origin + pd.Timedelta(seconds=float(at_s))
    moment = pd.Timestamp(float(at_s), unit="s", tz="UTC")
    return moment.tz_convert(timezone).tz_localize(None) if timezone else moment.tz_localize(None)


def from_router_events(
    events: Iterable[Mapping[str, object]],
    *,
    origin: pd.Timestamp | str | None = None,
    timezone: str | None = None,
    roster: Iterable[str] | None = None,
) -> StateFeed:
    """The live router's events (``GET /events``, SSE or webhook batches) as a StateFeed.

    - ``agent.presence``: ``available`` -> ``available``; ``away`` -> ``not_ready`` with the
      event's reason as ``reason_code``; ``offline`` -> ``logged_out``;
    - ``contact.assigned`` -> ``busy``; ``contact.wrapping`` -> ``wrap`` (when no other
      contact is still being handled); ``contact.completed`` -> back to the agent's presence
      once its last contact is done;
    - other events are skipped. ``ts``: ``origin`` + ``at_s`` seconds for a virtual clock,
      else ``at_s`` as Unix time in UTC, shown in ``timezone`` (local-naive) when given.
      Events are taken in ``seq`` order; ``source`` is ``router``.
    """
    origin = pd.Timestamp(origin) if origin is not None else None
    presence: dict[str, str] = {}
    reason_of: dict[str, str | None] = {}
    load: dict[str, int] = {}
    rows = []
    ordered = sorted(events, key=lambda e: (e.get("seq") is None, e.get("seq") or 0))
    for event in ordered:
        kind = str(event.get("type", ""))
        agent = event.get("agent_id")
        data = event.get("data") or {}
        if agent is None or event.get("at_s") is None:
            continue
        agent = str(agent)
        state = None
        reason = None
        if kind == "agent.presence":
            presence[agent] = ROUTER_PRESENCE_STATES.get(
                str(data.get("status")), str(data.get("status"))
            )
            reason_of[agent] = data.get("reason")
            if load.get(agent, 0) == 0:
                state, reason = presence[agent], reason_of[agent]
        elif kind == "contact.assigned":
            load[agent] = load.get(agent, 0) + 1
            state = "busy"
        elif kind == "contact.wrapping":
            state = "wrap" if load.get(agent, 0) <= 1 else None
        elif kind == "contact.completed":
            load[agent] = max(0, load.get(agent, 0) - 1)
            if load[agent] == 0:
                state = presence.get(agent, "available")
                reason = reason_of.get(agent)
        if state is None:
            continue
        rows.append(
            {
                "agent_id": agent,
                "ts": _router_ts(event["at_s"], origin, timezone),
                "state": state,
                "reason_code": reason,
                "source": "router",
            }
        )
    if not rows:
        return StateFeed(empty_state_events(), pd.DataFrame(columns=REJECTED_COLUMNS))
    return check_state_events(
        pd.DataFrame(rows), roster=roster, file="router events", line_offset=1
    )

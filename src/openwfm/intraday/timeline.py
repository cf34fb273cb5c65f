"""Agent timelines: state events x scheduled activities -> classified segments.

A **segment** is a stretch of time of one agent with one state and one scheduled activity,
cut at every state event, schedule change, interval boundary and resolution boundary, so every
figure of the adherence engine is a sum of segment lengths.

The scheduled-activity table is ``agent_id, start, end, activity`` (local-naive times,
non-overlapping per agent; time not covered is ``off``). :func:`scheduled_activities` builds it
from the scheduler's tables.

Before an agent's first event of the window the state is the map's first absent state
(``logged_out``): an agent with no event has not logged in.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from openwfm.errors import DataError
from openwfm.intraday.mapping import OFF, AdherenceMap

SCHEDULE_COLUMNS = ["agent_id", "start", "end", "activity"]
RESOLUTIONS = ("approved", "neutral")


def _break_rows(shifts: pd.DataFrame) -> list[dict]:
    rows = []
    for shift in shifts.itertuples(index=False):
        begin, end = pd.Timestamp(shift.shift_start), pd.Timestamp(shift.shift_end)
        cuts = []
        breaks = getattr(shift, "breaks", "")
        breaks = "" if breaks is None or pd.isna(breaks) else str(breaks)
        for text in [t.strip() for t in breaks.split(";") if t.strip()]:
            span, _, label = text.partition(" ")
            if span.count("-") != 1:
                raise DataError(
                    f"expected breaks as 'HH:MM-HH:MM name; ...', got {text!r}",
                    file="schedule",
                    field="breaks",
                )
            lo_text, hi_text = span.split("-")
            lo = begin.normalize() + pd.Timedelta(lo_text + ":00")
            if lo < begin:
                lo += pd.Timedelta(days=1)
            hi = begin.normalize() + pd.Timedelta(hi_text + ":00")
            while hi <= lo:
                hi += pd.Timedelta(days=1)
            cuts.append((lo, hi, label or "break"))
        cuts.sort()
        cursor = begin
        for lo, hi, label in cuts:
            if lo > cursor:
                rows.append(
                    {"agent_id": shift.agent, "start": cursor, "end": lo, "activity": "work"}
                )
            rows.append({"agent_id": shift.agent, "start": lo, "end": hi, "activity": label})
            cursor = hi
        if end > cursor:
            rows.append({"agent_id": shift.agent, "start": cursor, "end": end, "activity": "work"})
    return rows


def scheduled_activities(
    shifts: pd.DataFrame | None = None,
    activities: pd.DataFrame | None = None,
    interval_minutes: int | None = None,
) -> pd.DataFrame:
    """The scheduled-activity table from the scheduler's output.

    ``activities`` (``agent, interval_start, activity``: a queue or a break name per interval)
    is used when given: consecutive intervals of one activity are merged. Otherwise ``shifts``
    (``agent, shift_start, shift_end, breaks``) gives ``work`` between the breaks, and each
    break under its name.
    """
    if activities is not None and len(activities):
        frame = activities.rename(columns={"agent": "agent_id"}).copy()
        frame["start"] = pd.to_datetime(frame["interval_start"])
        frame = frame.sort_values(["agent_id", "start"]).reset_index(drop=True)
        if interval_minutes is None:
            steps = frame["start"].drop_duplicates().sort_values().diff().dropna()
            step = steps[steps > pd.Timedelta(0)].min() if len(steps) else pd.Timedelta("15min")
        else:
            step = pd.Timedelta(minutes=interval_minutes)
        frame["end"] = frame["start"] + step
        new = (
            (frame["agent_id"] != frame["agent_id"].shift())
            | (frame["activity"] != frame["activity"].shift())
            | (frame["start"] != frame["end"].shift())
        )
        frame["_run"] = new.cumsum()
        merged = frame.groupby("_run").agg(
            agent_id=("agent_id", "first"),
            start=("start", "first"),
            end=("end", "last"),
            activity=("activity", "first"),
        )
        return check_schedule_table(merged.reset_index(drop=True))
    if shifts is None:
        raise DataError("give shifts or activities", field="schedule")
    return check_schedule_table(pd.DataFrame(_break_rows(shifts), columns=SCHEDULE_COLUMNS))


def check_schedule_table(
    schedule: pd.DataFrame, file: str = "schedule", timezone: str | None = None
) -> pd.DataFrame:
    """Validate ``agent_id, start, end, activity`` (an ``agent`` column is accepted):
    times parse (times with a UTC offset are converted to ``timezone``; without one they are
    an error), end after start, no overlap per agent. Sorted by agent and start."""
    from openwfm.tables import TIMELINE, check_table

    frame = schedule.rename(columns={"agent": "agent_id"}).reset_index(drop=True)
    for column in SCHEDULE_COLUMNS:
        if column not in frame.columns:
            raise DataError(f"missing column {column}", file=file, field=column)
    declared = TIMELINE.subset(["agent", "start", "end", "activity"], {"agent": "agent_id"})
    checked = check_table(frame, declared, source=file, timezone=timezone, keys=False)
    out = pd.DataFrame(
        {
            "agent_id": checked["agent_id"].astype("string").str.strip(),
            "start": checked["start"],
            "end": checked["end"],
            "activity": checked["activity"].astype("string").str.strip(),
        }
    )
    backwards = (out["end"] <= out["start"]).to_numpy()
    if backwards.any():
        row = int(np.flatnonzero(backwards)[0])
        raise DataError("end is not after start", file=file, line=row + 2, field="end")
    out["_line"] = np.arange(len(out)) + 2
    out = out.sort_values(["agent_id", "start"], kind="stable")
    overlap = (out["start"] < out.groupby("agent_id")["end"].shift()).to_numpy()
    if overlap.any():
        row = out.iloc[int(np.flatnonzero(overlap)[0])]
        raise DataError(
            f"activities of agent {row['agent_id']!r} overlap at {row['start']}",
            file=file,
            line=int(row["_line"]),
            field="start",
        )
    return out.drop(columns="_line").reset_index(drop=True)


def check_resolutions(resolutions: pd.DataFrame | None, file: str = "resolutions") -> pd.DataFrame:
    """Supervisor resolutions ``agent_id, start, end, resolution[, by, note]`` (resolution:
    ``approved`` = counted in adherence, ``neutral`` = counted by neither side)."""
    columns = ["agent_id", "start", "end", "resolution", "by", "note"]
    if resolutions is None or resolutions.empty:
        return pd.DataFrame(columns=columns)
    from openwfm.tables import RESOLUTIONS as RESOLUTION_TABLE
    from openwfm.tables import check_table

    frame = resolutions.rename(columns={"agent": "agent_id"}).reset_index(drop=True).copy()
    if "resolution" in frame.columns:
        frame["resolution"] = frame["resolution"].astype(str).str.strip().str.lower()
    frame = check_table(frame, RESOLUTION_TABLE, source=file)
    for column in ("by", "note"):
        if column not in frame.columns:
            frame[column] = pd.NA
    return frame[columns]


def _boundaries(agents, events, schedule, resolutions, start, end, step) -> pd.DataFrame:
    grid = pd.date_range(start.floor(step), end, freq=step)
    grid = grid[(grid >= start) & (grid <= end)].append(pd.DatetimeIndex([start, end]))
    parts = [
        pd.DataFrame(
            {"agent_id": np.repeat(agents, len(grid)), "t": np.tile(grid.to_numpy(), len(agents))}
        )
    ]
    parts.append(events[["agent_id", "ts"]].rename(columns={"ts": "t"}))
    for frame in (schedule, resolutions):
        if len(frame):
            parts.append(frame[["agent_id", "start"]].rename(columns={"start": "t"}))
            parts.append(frame[["agent_id", "end"]].rename(columns={"end": "t"}))
    points = pd.concat(parts, ignore_index=True)
    points["agent_id"] = points["agent_id"].astype("string")
    points["t"] = pd.to_datetime(points["t"]).astype("datetime64[ns]")
    points = points[(points["t"] >= start) & (points["t"] <= end)]
    points = points.drop_duplicates().sort_values(["agent_id", "t"])
    points["end"] = points.groupby("agent_id")["t"].shift(-1)
    return points.dropna(subset=["end"]).rename(columns={"t": "start"}).reset_index(drop=True)


def build_segments(
    events: pd.DataFrame,
    schedule: pd.DataFrame,
    adherence_map: AdherenceMap,
    *,
    start: pd.Timestamp,
    end: pd.Timestamp,
    interval_minutes: int = 15,
    resolutions: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Classified segments of every scheduled or reporting agent over ``[start, end)``.

    Columns: agent_id, start, end, duration_s, interval_start, state, reason_code,
    state_since, activity (``off`` when nothing is scheduled), activity_class, rule,
    category_raw (the map's verdict), category (after grace and resolutions), grace_s,
    episode_start (start of the out-of-adherence episode the segment belongs to, else NaT),
    exception_type (``not_present`` / ``wrong_activity`` / ``not_scheduled`` for out time),
    resolution, present, on_queue.
    """
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    step = pd.Timedelta(minutes=interval_minutes)
    resolutions = check_resolutions(resolutions)
    agents = sorted(set(events["agent_id"].dropna()) | set(schedule["agent_id"].dropna()))
    if not agents or end <= start:
        return pd.DataFrame()
    segs = _boundaries(
        np.array(agents, dtype=object), events, schedule, resolutions, start, end, step
    )
    segs["end"] = segs["end"].astype("datetime64[ns]")
    segs = segs.sort_values("start")
    ev = events.sort_values("ts")[["agent_id", "ts", "state", "reason_code"]].copy()
    ev["agent_id"] = ev["agent_id"].astype("string")
    ev["ts"] = ev["ts"].astype("datetime64[ns]")
    segs = pd.merge_asof(
        segs, ev, left_on="start", right_on="ts", by="agent_id", direction="backward"
    )
    absent = adherence_map.absent_states[0].lower()
    segs["state"] = segs["state"].fillna(absent)
    segs = segs.rename(columns={"ts": "state_since"})
    sched = (
        schedule.sort_values("start").rename(columns={"start": "_s_start", "end": "_s_end"}).copy()
    )
    sched["_s_start"] = sched["_s_start"].astype("datetime64[ns]")
    sched["agent_id"] = sched["agent_id"].astype("string")
    segs = pd.merge_asof(
        segs, sched, left_on="start", right_on="_s_start", by="agent_id", direction="backward"
    )
    covered = segs["_s_end"].notna() & (segs["start"] < segs["_s_end"])
    segs["activity"] = segs["activity"].where(covered, OFF).fillna(OFF)
    segs = segs.drop(columns=["_s_start", "_s_end"])
    segs = adherence_map.classify(segs)
    segs = segs.sort_values(["agent_id", "start"]).reset_index(drop=True)
    segs["duration_s"] = (segs["end"] - segs["start"]).dt.total_seconds()
    segs["interval_start"] = segs["start"].dt.floor(step)
    segs["present"] = ~segs["state"].isin([s.lower() for s in adherence_map.absent_states])
    segs["on_queue"] = segs["state"].isin([s.lower() for s in adherence_map.on_queue_states])
    segs["category_raw"] = segs["category"]
    segs["exception_type"] = np.where(
        segs["activity_class"] == OFF,
        "not_scheduled",
        np.where(segs["present"], "wrong_activity", "not_present"),
    )
    _apply_grace(segs)
    _apply_resolutions(segs, resolutions)
    segs.loc[segs["category_raw"] != "out", "exception_type"] = pd.NA
    return segs[
        [
            "agent_id",
            "start",
            "end",
            "duration_s",
            "interval_start",
            "state",
            "reason_code",
            "state_since",
            "activity",
            "activity_class",
            "rule",
            "category_raw",
            "category",
            "grace_s",
            "episode_start",
            "exception_type",
            "resolution",
            "present",
            "on_queue",
        ]
    ]


def _apply_grace(segs: pd.DataFrame) -> None:
    """Out episodes (consecutive out segments of one agent) shorter than the grace of their
    first segment's rule become ``in``; ``episode_start`` marks every out segment."""
    out = segs["category_raw"] == "out"
    contiguous = (segs["agent_id"] == segs["agent_id"].shift()) & (
        segs["start"] == segs["end"].shift()
    )
    new_episode = out & ~(contiguous & out.shift(fill_value=False))
    episode = new_episode.cumsum().where(out)
    grouped = segs[out].groupby(episode[out])
    first_start = grouped["start"].transform("first")
    length = grouped["duration_s"].transform("sum")
    grace = grouped["grace_s"].transform("first")
    segs["episode_start"] = pd.Series(pd.NaT, index=segs.index, dtype="datetime64[ns]")
    segs.loc[out, "episode_start"] = first_start
    segs["_episode_s"] = np.nan
    segs["_episode_grace_s"] = np.nan
    segs.loc[out, "_episode_s"] = length
    segs.loc[out, "_episode_grace_s"] = grace
    forgiven = out & (segs["_episode_s"] < segs["_episode_grace_s"])
    segs.loc[forgiven, "category"] = "in"
    segs.drop(columns=["_episode_s", "_episode_grace_s"], inplace=True)


def _apply_resolutions(segs: pd.DataFrame, resolutions: pd.DataFrame) -> None:
    """A resolution covering an out segment makes it ``in`` (approved) or ``neutral``.
    Later rows win over earlier ones for the same time (the resolution log is append-only)."""
    segs["resolution"] = pd.Series(pd.NA, index=segs.index, dtype="string")
    for row in resolutions.itertuples(index=False):
        hit = (
            (segs["agent_id"] == row.agent_id)
            & (segs["start"] >= row.start)
            & (segs["end"] <= row.end)
            & (segs["category_raw"] == "out")
        )
        segs.loc[hit, "resolution"] = row.resolution
        segs.loc[hit, "category"] = "in" if row.resolution == "approved" else "neutral"

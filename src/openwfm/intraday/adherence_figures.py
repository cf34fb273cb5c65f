"""Adherence and conformance per agent x interval and agent x day, with vendor presets.

Every figure is a sum over classified segments (:mod:`openwfm.intraday.timeline`), in seconds:

- ``scheduled_s``: time with a scheduled activity (anything but ``off``);
- ``in_s`` / ``out_s`` / ``neutral_s``: scheduled time by category (after grace and
  supervisor resolutions: approved -> in, set neutral -> neutral);
- ``not_present_s`` / ``wrong_activity_s``: scheduled out time by injixo's types (absent
  state / present but wrong state); ``not_scheduled_s``: out time while nothing was scheduled
  (working outside the shift);
- ``worked_s``: time present (not an absent state), scheduled or not;
- ``on_queue_scheduled_s``: scheduled time of class ``work``; ``on_queue_s``: time in an
  on-queue state, scheduled or not.

Presets (:data:`PRESETS`), from each vendor's published definition:

- ``genesys``: adherence = 1 - exception_s / (scheduled_s + not_scheduled_s), exceptions =
  out_s + not_scheduled_s (working outside the shift is an exception and extends the measured
  time: 60 min scheduled, 10 min late, 10 min extra -> 1 - 20/70 = 71.4%); conformance =
  on-queue actual / on-queue scheduled (may exceed 100%).
- ``nice``: adherence = time in adherence / scheduled time = (in_s + neutral_s) / scheduled_s;
  conformance = worked / scheduled (9:00-17:00 scheduled, 9:30-17:30 worked: 100%).
- ``teleopti`` (Calabrio): adherence = in_s / (scheduled_s - neutral_s).
- ``injixo``: minutes in adherence / scheduled minutes = (in_s + neutral_s) / scheduled_s;
  *not scheduled* time is reported but does not lower the score.

Conformance for ``teleopti`` and ``injixo`` (not defined by them) is NICE's worked/scheduled.
A ratio with a zero denominator is NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from openwfm.errors import ParameterError
from openwfm.intraday.mapping import AdherenceMap, default_adherence_map
from openwfm.intraday.timeline import build_segments, check_schedule_table

PRESETS = ("genesys", "nice", "teleopti", "injixo")
SECONDS_COLUMNS = [
    "scheduled_s",
    "in_s",
    "out_s",
    "neutral_s",
    "not_present_s",
    "wrong_activity_s",
    "not_scheduled_s",
    "worked_s",
    "on_queue_scheduled_s",
    "on_queue_s",
]


def _ratio(numerator, denominator):
    numerator = np.asarray(numerator, dtype=float)
    denominator = np.asarray(denominator, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(
            denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan
        )


def apply_preset(totals: pd.DataFrame, preset: str) -> pd.DataFrame:
    """Add ``adherence`` and ``conformance`` (fractions) to a table of the seconds columns."""
    if preset not in PRESETS:
        raise ParameterError(
            f"unknown preset {preset!r} (expected one of {', '.join(PRESETS)})", field="preset"
        )
    t = totals.copy()
    if preset == "genesys":
        exceptions = t["out_s"] + t["not_scheduled_s"]
        t["adherence"] = 1.0 - _ratio(exceptions, t["scheduled_s"] + t["not_scheduled_s"])
        t["conformance"] = _ratio(t["on_queue_s"], t["on_queue_scheduled_s"])
    elif preset == "teleopti":
        t["adherence"] = _ratio(t["in_s"], t["scheduled_s"] - t["neutral_s"])
        t["conformance"] = _ratio(t["worked_s"], t["scheduled_s"])
    else:  # nice, injixo
        t["adherence"] = _ratio(t["in_s"] + t["neutral_s"], t["scheduled_s"])
        t["conformance"] = _ratio(t["worked_s"], t["scheduled_s"])
    t["preset"] = preset
    return t


def _seconds(segments: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    s = segments
    d = s["duration_s"]
    scheduled = s["activity_class"] != "off"
    out = s["category"] == "out"
    frame = pd.DataFrame(
        {
            **{k: s[k] for k in keys},
            "scheduled_s": d.where(scheduled, 0.0),
            "in_s": d.where(scheduled & (s["category"] == "in"), 0.0),
            "out_s": d.where(scheduled & out, 0.0),
            "neutral_s": d.where(scheduled & (s["category"] == "neutral"), 0.0),
            "not_present_s": d.where(out & (s["exception_type"] == "not_present"), 0.0),
            "wrong_activity_s": d.where(out & (s["exception_type"] == "wrong_activity"), 0.0),
            "not_scheduled_s": d.where(~scheduled & out, 0.0),
            "worked_s": d.where(s["present"], 0.0),
            "on_queue_scheduled_s": d.where(s["activity_class"] == "work", 0.0),
            "on_queue_s": d.where(s["on_queue"], 0.0),
        }
    )
    return frame.groupby(keys, sort=True)[SECONDS_COLUMNS].sum().reset_index()


def exceptions_table(segments: pd.DataFrame) -> pd.DataFrame:
    """One row per out-of-adherence episode beyond its grace: exception_id (agent and start,
    stable across recomputations), agent_id, start, end, duration_s, type (of its first
    segment), activity, state, resolution (approved / neutral / <NA> when open)."""
    columns = [
        "exception_id",
        "agent_id",
        "start",
        "end",
        "duration_s",
        "type",
        "activity",
        "state",
        "reason_code",
        "resolution",
    ]
    approved = (segments["resolution"] == "approved").fillna(False).astype(bool)
    kept = (segments["category_raw"] == "out") & ((segments["category"] != "in") | approved)
    s = segments[kept.fillna(False).astype(bool)]
    s = s[s["episode_start"].notna()]
    if s.empty:
        return pd.DataFrame(columns=columns)
    grouped = s.groupby(["agent_id", "episode_start"], sort=True)
    table = grouped.agg(
        start=("start", "first"),
        end=("end", "last"),
        duration_s=("duration_s", "sum"),
        type=("exception_type", "first"),
        activity=("activity", "first"),
        state=("state", "first"),
        reason_code=("reason_code", "first"),
        resolution=("resolution", "last"),  # the last non-missing decision
    ).reset_index()
    stamp = table["episode_start"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    table["exception_id"] = table["agent_id"].astype(str) + "@" + stamp
    return table[columns]


def out_of_adherence_now(segments: pd.DataFrame, as_of: pd.Timestamp | str) -> pd.DataFrame:
    """Real-time view: every agent whose last segment (ending at ``as_of``) is out of
    adherence by the map, with ``out_since`` (start of the episode), ``out_for_s``,
    ``grace_s`` and ``alarm`` (true once the episode is at least its grace), sorted longest
    first."""
    columns = [
        "agent_id",
        "state",
        "reason_code",
        "state_since",
        "activity",
        "type",
        "out_since",
        "out_for_s",
        "grace_s",
        "alarm",
    ]
    as_of = pd.Timestamp(as_of)
    last = segments[segments["end"] == as_of].drop_duplicates("agent_id", keep="last")
    last = last[last["category_raw"] == "out"]
    if last.empty:
        return pd.DataFrame(columns=columns)
    table = pd.DataFrame(
        {
            "agent_id": last["agent_id"],
            "state": last["state"],
            "reason_code": last["reason_code"],
            "state_since": last["state_since"],
            "activity": last["activity"],
            "type": last["exception_type"],
            "out_since": last["episode_start"],
            "out_for_s": (as_of - last["episode_start"]).dt.total_seconds(),
            "grace_s": last["grace_s"],
        }
    )
    table["alarm"] = table["out_for_s"] >= table["grace_s"]
    return table.sort_values("out_for_s", ascending=False).reset_index(drop=True)[columns]


@dataclass
class AdherenceResult:
    """Tables of :func:`adherence`: ``segments``, ``by_interval`` (agent x interval),
    ``by_day`` (agent x date), ``exceptions`` and ``now`` (the real-time view at ``as_of``)."""

    segments: pd.DataFrame
    by_interval: pd.DataFrame
    by_day: pd.DataFrame
    exceptions: pd.DataFrame
    now: pd.DataFrame
    preset: str


def adherence(
    events: pd.DataFrame,
    schedule: pd.DataFrame,
    adherence_map: AdherenceMap | None = None,
    *,
    start: pd.Timestamp | str,
    end: pd.Timestamp | str,
    as_of: pd.Timestamp | str | None = None,
    preset: str = "genesys",
    interval_minutes: int = 15,
    resolutions: pd.DataFrame | None = None,
) -> AdherenceResult:
    """Adherence and conformance of every agent over ``[start, min(end, as_of))``.

    ``events``: checked state events (:func:`openwfm.intraday.states.check_state_events`);
    ``schedule``: ``agent_id, start, end, activity``; ``resolutions``: supervisor decisions
    (``agent_id, start, end, resolution`` approved/neutral), re-applied on every
    recomputation and never modified. ``as_of`` (default ``end``) cuts the day at "now".
    """
    if preset not in PRESETS:
        raise ParameterError(
            f"unknown preset {preset!r} (expected one of {', '.join(PRESETS)})", field="preset"
        )
    adherence_map = adherence_map or default_adherence_map()
    schedule = check_schedule_table(schedule)
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    stop = min(end, pd.Timestamp(as_of)) if as_of is not None else end
    events = events[events["ts"] < stop]
    segments = build_segments(
        events,
        schedule,
        adherence_map,
        start=start,
        end=stop,
        interval_minutes=interval_minutes,
        resolutions=resolutions,
    )
    if segments.empty:
        empty = pd.DataFrame(columns=["agent_id", *SECONDS_COLUMNS, "adherence", "conformance"])
        return AdherenceResult(
            segments,
            empty,
            empty,
            exceptions_table(segments) if len(segments) else pd.DataFrame(),
            pd.DataFrame(),
            preset,
        )
    segments["date"] = segments["start"].dt.normalize()
    by_interval = apply_preset(_seconds(segments, ["agent_id", "interval_start"]), preset)
    by_day = apply_preset(_seconds(segments, ["agent_id", "date"]), preset)
    return AdherenceResult(
        segments=segments,
        by_interval=by_interval,
        by_day=by_day,
        exceptions=exceptions_table(segments),
        now=out_of_adherence_now(segments, stop),
        preset=preset,
    )


def resolve_exceptions(
    exceptions: pd.DataFrame,
    exception_ids: list[str],
    resolution: str,
    *,
    by: str,
    note: str | None = None,
    log: pd.DataFrame | None = None,
    at: pd.Timestamp | str | None = None,
) -> pd.DataFrame:
    """The resolution log with one row appended per exception id (``approved`` or
    ``neutral``, over the exception's time span, with who and when). Earlier rows are never
    changed: a later decision on the same span wins when the day is recomputed. Unknown ids
    are a DataError naming the first."""
    from openwfm.errors import DataError
    from openwfm.intraday.timeline import RESOLUTIONS

    if resolution not in RESOLUTIONS:
        raise ParameterError(
            f"expected approved or neutral, got {resolution!r}", field="resolution"
        )
    known = exceptions.set_index("exception_id") if len(exceptions) else pd.DataFrame()
    missing = [i for i in exception_ids if i not in known.index]
    if missing:
        raise DataError(f"unknown exception {missing[0]!r}", field="exception_id")
    stamp = pd.Timestamp.now().floor("s") if at is None else pd.Timestamp(at)
    rows = pd.DataFrame(
        [
            {
                "agent_id": known.loc[i, "agent_id"],
                "start": known.loc[i, "start"],
                "end": known.loc[i, "end"],
                "resolution": resolution,
                "by": by,
                "note": note,
                "exception_id": i,
                "resolved_at": stamp,
            }
            for i in exception_ids
        ]
    )
    if log is None or log.empty:
        return rows
    return pd.concat([log, rows], ignore_index=True)

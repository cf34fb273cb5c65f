"""When agents are available: opening hours, a schedule table, or fixed counts per interval.

All three give :class:`AvailableSpans`: per agent, the non-overlapping spans (seconds after the
origin) in which the agent takes new contacts.

- Schedule table: columns ``agent``, ``start``, ``end``, ``activity`` (timestamps). Rows whose
  activity is a working one (``shift``, ``work``, ``available``, ``open``) make the agent
  available; every other activity (``break``, ``lunch``, ``meeting``, ...) takes the time away.
- Activity grid (what ``openwfm schedule`` writes as ``*.activities.csv``): columns ``agent``,
  ``interval_start``, ``activity``; a queue name (or ``idle``) is working time.
- Counts table: columns ``interval_start``, ``agents`` and optionally ``team`` (an agent group
  name): the first ``agents`` agents (of the team) are available in that interval; the
  interval length is the table's smallest step between interval starts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from openwfm.errors import DataError
from openwfm.sim.build import SimulationModel

WORKING_ACTIVITIES = {"shift", "work", "available", "open", "working"}


@dataclass
class AvailableSpans:
    """When agents take new contacts: per span, the agent and its start and end (seconds after
    the origin); an agent's spans do not overlap. (Not the scenario's availability rule,
    :class:`openwfm.model.Availability`, which says when an agent may be scheduled.)"""

    agent: np.ndarray  # int64 agent index per span
    start_s: np.ndarray
    end_s: np.ndarray

    def events(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(time_s, agent, on) changes for the engine."""
        time_s = np.concatenate([self.start_s, self.end_s])
        agent = np.concatenate([self.agent, self.agent]).astype(np.int64)
        on = np.concatenate([np.ones(len(self.agent), bool), np.zeros(len(self.agent), bool)])
        return time_s.astype(np.float64), agent, on


def merge_spans(spans: dict[int, list[tuple[float, float]]]) -> AvailableSpans:
    """Joined spans per agent (overlapping or touching spans become one)."""
    agents, starts, ends = [], [], []
    for agent, items in spans.items():
        items = sorted(s for s in items if s[1] > s[0])
        merged: list[list[float]] = []
        for start, end in items:
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        for start, end in merged:
            agents.append(agent)
            starts.append(start)
            ends.append(end)
    return AvailableSpans(
        np.asarray(agents, dtype=np.int64), np.asarray(starts, float), np.asarray(ends, float)
    )


def opening_hours(model: SimulationModel, origin: pd.Timestamp, days: int) -> AvailableSpans:
    """Every agent available through the opening hours of every open day."""
    grid = model.scenario.grid
    spans: dict[int, list[tuple[float, float]]] = {a: [] for a in range(len(model.agent_names))}
    for offset in range(days):
        day = (origin + pd.Timedelta(days=offset)).date()
        hours = grid.hours_on(day)
        if hours is None:
            continue
        base = offset * 86400.0
        for items in spans.values():
            items.append((base + hours.open_s, base + hours.close_s))
    return merge_spans(spans)


def always(model: SimulationModel, end_s: float) -> AvailableSpans:
    """Every agent available from 0 to ``end_s`` (steady-state validation models)."""
    n = len(model.agent_names)
    return AvailableSpans(np.arange(n, dtype=np.int64), np.zeros(n), np.full(n, float(end_s)))


def _checked(frame: pd.DataFrame, table, model: SimulationModel, source: str, **kw) -> pd.DataFrame:
    """``frame`` checked against ``table``; times with a UTC offset converted to the center's
    time zone (the scenario's)."""
    from openwfm.tables import check_table

    return check_table(frame, table, source=source, timezone=model.scenario.grid.timezone, **kw)


def _seconds_after(times: pd.Series, origin: pd.Timestamp) -> np.ndarray:
    return (times - origin).dt.total_seconds().to_numpy()


def from_schedule(
    frame: pd.DataFrame, model: SimulationModel, origin: pd.Timestamp, source: str = "schedule"
) -> AvailableSpans:
    """Available spans from a schedule table (:data:`openwfm.tables.TIMELINE`: ``agent, start,
    end, activity``)."""
    from openwfm.tables import TIMELINE

    index = {name: i for i, name in enumerate(model.agent_names)}
    frame = _checked(frame, TIMELINE, model, source, choices={"agent": list(index)})
    names = frame["agent"]
    start = _seconds_after(frame["start"], origin)
    end = _seconds_after(frame["end"], origin)
    backwards = end < start
    if backwards.any():
        row = int(np.flatnonzero(backwards)[0])
        raise DataError("end is before start", file=source, line=row + 2, field="end")
    activity = (
        frame["activity"].astype(str).str.lower()
        if "activity" in frame.columns
        else pd.Series("shift", index=frame.index)
    )
    working = activity.isin(list(WORKING_ACTIVITIES)).to_numpy()
    spans: dict[int, list[tuple[float, float]]] = {}
    for row in np.flatnonzero(working):
        spans.setdefault(index[names[row]], []).append((start[row], end[row]))
    available = merge_spans(spans)
    # cut the non-working activities out of the working spans
    away: dict[int, list[tuple[float, float]]] = {}
    for row in np.flatnonzero(~working):
        away.setdefault(index[names[row]], []).append((start[row], end[row]))
    result: dict[int, list[tuple[float, float]]] = {}
    for agent, lo, hi in zip(available.agent, available.start_s, available.end_s, strict=True):
        pieces = [(lo, hi)]
        for cut_lo, cut_hi in away.get(int(agent), []):
            pieces = [
                piece
                for a, b in pieces
                for piece in ((a, min(b, cut_lo)), (max(a, cut_hi), b))
                if piece[1] > piece[0]
            ]
        result.setdefault(int(agent), []).extend(pieces)
    return merge_spans(result)


def from_counts(
    frame: pd.DataFrame,
    model: SimulationModel,
    origin: pd.Timestamp,
    interval_s: float,
    source: str = "schedule",
) -> AvailableSpans:
    """Available spans from agents per interval (:data:`openwfm.tables.AGENT_COUNTS`:
    ``interval_start, agents[, team]``)."""
    from openwfm.tables import AGENT_COUNTS

    frame = _checked(frame, AGENT_COUNTS, model, source)
    counts = frame["agents"].to_numpy()
    start = _seconds_after(frame["interval_start"], origin)
    # the table's own interval length: the smallest step between its interval starts
    steps = np.diff(np.unique(start))
    if (steps > 0).any():
        interval_s = float(steps[steps > 0].min())
    agents = model.scenario.all_agents()
    spans: dict[int, list[tuple[float, float]]] = {}
    for row in range(len(frame)):
        if "team" in frame.columns:
            pool = [i for i, a in enumerate(agents) if a.team == str(frame["team"][row])]
        else:
            pool = list(range(len(agents)))
        need = int(counts[row])
        if need > len(pool):
            raise DataError(
                f"{need} agents needed but the scenario has {len(pool)}",
                file=source,
                line=row + 2,
                field="agents",
            )
        for agent in pool[:need]:
            spans.setdefault(agent, []).append((start[row], start[row] + interval_s))
    return merge_spans(spans)


def from_activities(
    frame: pd.DataFrame,
    model: SimulationModel,
    origin: pd.Timestamp,
    interval_s: float,
    source: str = "schedule",
) -> AvailableSpans:
    """Available spans from the scheduler's activity grid (``agent, interval_start, activity``).

    An interval whose activity is a queue name (or a working activity, or ``idle``) makes the
    agent available for the whole interval; breaks, lunches and the rest do not.
    """
    from openwfm.tables import ACTIVITIES

    frame = _checked(frame, ACTIVITIES, model, source, keys=False)
    start = _seconds_after(frame["interval_start"], origin)
    steps = np.diff(np.unique(start))
    if (steps > 0).any():
        interval_s = float(steps[steps > 0].min())
    working = frame["activity"].astype(str)
    working = working.isin(model.queue_names) | working.str.lower().isin(
        WORKING_ACTIVITIES | {"idle"}
    )
    shifts = pd.DataFrame(
        {
            "agent": frame["agent"][working.to_numpy()],
            "start": origin + pd.to_timedelta(start[working.to_numpy()], unit="s"),
            "end": origin + pd.to_timedelta(start[working.to_numpy()] + interval_s, unit="s"),
            "activity": "shift",
        }
    )
    return from_schedule(shifts, model, origin, source)

"""Interval KPIs: what happened per interval x queue (x segment, x channel).

Definitions (all durations in seconds; an interval is labelled by its start):

- The **interval of a contact** is the interval of its ``arrival_time`` (when it joined the agent
  queue). Every count and wait statistic of a row belongs to its arrival interval, even when the
  contact is answered or abandoned in a later one.
- ``offered`` = ``answered`` + ``abandoned`` (outcomes ``answered`` and ``abandoned``).
  ``ivr_only`` contacts are counted in their own column and never offered; ``excluded`` ones
  (e.g. Anonymous Bank PHANTOM records) are ignored entirely.
- ``short_abandoned``: abandoned with ``wait_s <= short_abandon_s``.
- ``answered_within_target``: answered with ``wait_s <= target_s`` (the target of the row's
  queue when ``target_s`` is a dict).
- ``service_level`` under the named definition (:class:`openwfm.model.ServiceLevelDefinition`),
  NaN when its denominator is 0:

  - ``offered``: answered_within_target / offered;
  - ``answered``: answered_within_target / answered;
  - ``exclude_short_abandons``: answered_within_target / (offered - short_abandoned).

- ``asa_s``: mean ``wait_s`` over answered contacts (average speed of answer).
- ``aht_s``: mean ``handle_s`` over answered contacts whose handle time is known.
- ``avg_wait_s`` and ``p90_wait_s``: mean and 90th percentile (linear interpolation) of
  ``wait_s`` over offered contacts; an abandoned contact's wait is its time to abandon.
- ``busy_s``: seconds of handling (``answer_time`` to ``end_time``) that fall *inside* the
  interval, whatever the arrival interval, so a long call adds busy time to every interval it
  spans.
- ``agents``: distinct named agents with handling time inside the interval ("agents who handled
  work in the interval").
- ``occupancy``: an *estimate*, busy seconds of named agents / (``agents`` x interval length).
  Logs do not say when agents were logged in and idle, so staffed time is approximated by the
  agents who did work; this overstates true occupancy when agents sat idle for whole intervals,
  and understates it per queue for agents who split an interval between queues. An agent's
  overlapping contacts count once (the union of their handling spans: in the Anonymous Bank
  data 0.9% of answered calls overlap the same agent's previous call, and a chat agent handles
  several chats at once), so occupancy is the share of staffed time with at least one contact
  in hand and never exceeds 1. ``busy_s`` keeps every contact's own handling seconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from openwfm.data.schema import Outcome
from openwfm.errors import ParameterError
from openwfm.model import ServiceLevelDefinition
from openwfm.tables import INTERVAL_KPIS

INTERVAL_MINUTES = (5, 6, 15, 30, 60)
GROUP_COLUMNS = ("queue", "segment", "channel")
# the KPI columns of openwfm.tables.INTERVAL_KPIS (after the interval and the group columns)
KPI_COLUMNS = tuple(c for c in INTERVAL_KPIS.names if c not in ("interval_start", *GROUP_COLUMNS))
_COUNTS = (
    "offered",
    "answered",
    "abandoned",
    "short_abandoned",
    "answered_within_target",
    "agents",
    "ivr_only",
)
ROLLUP_FREQUENCIES = ("D", "MS")


def kpi_columns(by: Sequence[str] = ("queue",)) -> list[str]:
    """The exact output columns of :func:`interval_kpis` for grouping ``by``."""
    return ["interval_start", *by, *KPI_COLUMNS]


def service_level(
    answered_within_target,
    offered,
    answered,
    short_abandoned,
    definition: str | ServiceLevelDefinition = "offered",
):
    """Service level from counts (arrays or numbers) under a named definition; NaN for 0/0."""
    definition = _definition(definition)
    awt = np.asarray(answered_within_target, dtype=float)
    if definition is ServiceLevelDefinition.OFFERED:
        denominator = np.asarray(offered, dtype=float)
    elif definition is ServiceLevelDefinition.ANSWERED:
        denominator = np.asarray(answered, dtype=float)
    else:
        denominator = np.asarray(offered, dtype=float) - np.asarray(short_abandoned, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, awt / np.where(denominator > 0, denominator, 1), np.nan)


def _definition(definition) -> ServiceLevelDefinition:
    try:
        return ServiceLevelDefinition(definition)
    except ValueError:
        known = ", ".join(d.value for d in ServiceLevelDefinition)
        raise ParameterError(
            f"unknown service-level definition {definition!r} (expected one of: {known})",
            field="definition",
        ) from None


def _check_by(by: Sequence[str], columns) -> list[str]:
    by = [by] if isinstance(by, str) else list(by)
    for column in by:
        if column not in GROUP_COLUMNS:
            raise ParameterError(
                f"cannot group by {column!r} (expected any of: {', '.join(GROUP_COLUMNS)})",
                field="by",
            )
        if column not in columns:
            raise ParameterError(f"the interactions have no column {column!r}", field="by")
    if len(set(by)) != len(by):
        raise ParameterError(f"repeated column in {by}", field="by")
    return by


def _row_targets(rows: pd.DataFrame, target_s: float | Mapping) -> np.ndarray:
    """Answer-time target in seconds of every row: its (queue, segment) key, else its queue's."""
    queues = rows["queue"]
    if isinstance(target_s, Mapping):
        default = target_s.get("*")
        known = {str(k): float(v) for k, v in target_s.items() if not isinstance(k, tuple)}
        missing = sorted(set(queues.dropna().unique()) - set(known))
        if missing and default is None:
            raise ParameterError(
                f"no target for queue(s) {', '.join(missing)} (add them or a '*' default)",
                field="target_s",
            )
        values = queues.map(known).astype(float)
        if default is not None:
            values = values.fillna(float(default))
        targets = values.to_numpy(dtype=float)
        by_segment = {k: float(v) for k, v in target_s.items() if isinstance(k, tuple)}
        if by_segment and "segment" in rows.columns:
            pairs = pd.Series(list(zip(queues, rows["segment"], strict=True)), index=rows.index)
            segment_targets = pairs.map(by_segment).to_numpy(dtype=float)
            targets = np.where(np.isnan(segment_targets), targets, segment_targets)
    else:
        targets = np.full(len(queues), float(target_s))
    if (targets < 0).any() or np.isnan(targets).any():
        raise ParameterError("targets must be numbers of seconds >= 0", field="target_s")
    return targets


def interval_kpis(
    interactions: pd.DataFrame,
    interval_minutes: int = 15,
    by: Sequence[str] = ("queue",),
    target_s: float | Mapping[str, float] = 20.0,
    short_abandon_s: float = 5.0,
    definition: str | ServiceLevelDefinition = "offered",
) -> pd.DataFrame:
    """KPIs per arrival interval x ``by`` columns (see the module docstring for definitions).

    ``interval_minutes`` is one of 5, 6, 15, 30, 60 (intervals aligned to midnight);
    ``target_s`` the answer-time target in seconds, or a dict queue -> seconds (key ``"*"``
    for the other queues) whose ``(queue, segment)`` keys override the queue's target for that
    segment's contacts (the A-team case: gold customers measured against their own target, in
    every grouping); ``short_abandon_s`` the short-abandon threshold in seconds;
    ``definition`` the service-level definition. Returns columns :func:`kpi_columns` (``by``),
    one row per interval and group with any arrival or handling, sorted; counts are int64.
    """
    if interval_minutes not in INTERVAL_MINUTES:
        raise ParameterError(
            f"interval_minutes must be one of {', '.join(map(str, INTERVAL_MINUTES))}, "
            f"got {interval_minutes!r}",
            field="interval_minutes",
        )
    if not short_abandon_s >= 0:
        raise ParameterError("short_abandon_s must be >= 0", field="short_abandon_s")
    sl_definition = _definition(definition)
    by = _check_by(by, interactions.columns)
    keys = ["interval_start", *by]
    interval_ns = interval_minutes * 60 * 1_000_000_000

    rows = interactions[interactions["outcome"] != Outcome.EXCLUDED.value]
    outcome = rows["outcome"].to_numpy(dtype=object)
    answered = outcome == Outcome.ANSWERED.value
    abandoned = outcome == Outcome.ABANDONED.value
    offered = answered | abandoned
    wait = rows["wait_s"].to_numpy(dtype=float)
    handle = rows["handle_s"].to_numpy(dtype=float)
    targets = _row_targets(rows, target_s)
    arrival_ns = rows["arrival_time"].to_numpy(dtype="datetime64[ns]").astype(np.int64)

    per_row = pd.DataFrame(
        {
            "interval_start": (arrival_ns // interval_ns) * interval_ns,
            **{column: rows[column].to_numpy(dtype=object) for column in by},
            "offered": offered,
            "answered": answered,
            "abandoned": abandoned,
            "short_abandoned": abandoned & (wait <= short_abandon_s),
            "answered_within_target": answered & (wait <= targets),
            "ivr_only": outcome == Outcome.IVR_ONLY.value,
            "answer_wait": np.where(answered, wait, np.nan),
            "answer_handle": np.where(answered, handle, np.nan),
            "offered_wait": np.where(offered, wait, np.nan),
        }
    )
    grouped = per_row.groupby(keys, sort=False, dropna=False)
    counts = grouped[
        [
            "offered",
            "answered",
            "abandoned",
            "short_abandoned",
            "answered_within_target",
            "ivr_only",
        ]
    ].sum()
    counts["asa_s"] = grouped["answer_wait"].mean()
    counts["aht_s"] = grouped["answer_handle"].mean()
    counts["avg_wait_s"] = grouped["offered_wait"].mean()
    counts["p90_wait_s"] = grouped["offered_wait"].quantile(0.9)

    busy = _busy_by_interval(rows[answered], by, interval_ns)
    table = counts.join(busy, how="outer").reset_index()
    for column in (*_COUNTS, "busy_s", "busy_named_s"):
        table[column] = table[column].fillna(0)
    for column in _COUNTS:
        table[column] = table[column].astype("int64")
    table["interval_start"] = pd.to_datetime(table["interval_start"].astype("int64"))
    table["service_level"] = service_level(
        table["answered_within_target"],
        table["offered"],
        table["answered"],
        table["short_abandoned"],
        sl_definition,
    )
    table["sl_definition"] = sl_definition.value
    staffed_s = table["agents"] * interval_ns / 1e9
    table["occupancy"] = np.where(
        staffed_s > 0, table["busy_named_s"] / staffed_s.where(staffed_s > 0, 1), np.nan
    )
    table = table.sort_values(keys, kind="stable").reset_index(drop=True)
    for column in by:
        table[column] = table[column].astype("string")
    return table[kpi_columns(by)]


def split_by_interval(
    start_ns: np.ndarray, end_ns: np.ndarray, interval_ns: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut spans ``[start_ns, end_ns)`` (int64 nanoseconds, end > start) at interval boundaries.

    Returns, one entry per piece: the index of the span it comes from, the start of its
    interval (ns, a multiple of ``interval_ns``) and the nanoseconds of the span inside it.
    Vectorised: a contact handled across three intervals yields three pieces.
    """
    first = (start_ns // interval_ns) * interval_ns
    last = ((end_ns - 1) // interval_ns) * interval_ns
    pieces = (last - first) // interval_ns + 1
    row = np.repeat(np.arange(len(start_ns)), pieces)
    # k-th piece of each span: its position within its own run of repeats
    offsets = np.arange(len(row)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    piece_start = first[row] + offsets * interval_ns
    overlap_ns = np.minimum(end_ns[row], piece_start + interval_ns) - np.maximum(
        start_ns[row], piece_start
    )
    return row, piece_start, overlap_ns


def _union_starts(start: np.ndarray, end: np.ndarray, agents: np.ndarray) -> np.ndarray:
    """Start of each span after removing the part its agent was already busy with.

    Per agent, spans sorted by start; a span starts at the latest end of that agent's earlier
    spans if that is later (clipped to its own end, so a span inside another has length 0).
    The pieces ``[result, end)`` of one agent never overlap and cover the union of the spans.
    """
    result = start.copy()
    named = np.flatnonzero(pd.notna(agents))
    if len(named) == 0:
        return result
    codes = pd.factorize(agents[named])[0]
    order = np.lexsort((start[named], codes))
    rows, codes = named[order], codes[order]
    running = pd.Series(end[rows]).groupby(codes).cummax()
    previous = running.groupby(codes).shift(1).to_numpy()
    earliest = np.where(np.isnan(previous), -np.inf, previous)
    result[rows] = np.minimum(np.maximum(start[rows], earliest), end[rows]).astype(np.int64)
    return result


def _busy_by_interval(answered: pd.DataFrame, by: list[str], interval_ns: int) -> pd.DataFrame:
    """busy_s, busy_named_s and agents per interval x ``by``, where handling time falls."""
    keys = ["interval_start", *by]
    start = answered["answer_time"].to_numpy(dtype="datetime64[ns]")
    end = answered["end_time"].to_numpy(dtype="datetime64[ns]")
    valid = ~np.isnat(start) & ~np.isnat(end) & (end > start)
    start = start[valid].astype(np.int64)
    end = end[valid].astype(np.int64)
    if len(start) == 0:
        empty = pd.DataFrame(
            {c: pd.Series(dtype=float) for c in ("busy_s", "busy_named_s", "agents")},
            index=pd.MultiIndex.from_arrays([[] for _ in keys], names=keys),
        )
        return empty
    agents = answered["agent"].to_numpy(dtype=object)[valid]
    groups = {c: answered[c].to_numpy(dtype=object)[valid] for c in by}
    row, piece_start, overlap_ns = split_by_interval(start, end, interval_ns)
    handled = pd.DataFrame(
        {
            "interval_start": piece_start,
            **{c: values[row] for c, values in groups.items()},
            "busy_s": overlap_ns / 1e9,
            "busy_named_s": 0.0,
            "agent": agents[row],
        }
    )
    # named busy time: an agent's overlapping contacts count once (the union of their spans)
    busy_start = _union_starts(start, end, agents)
    named = np.flatnonzero(pd.notna(agents) & (busy_start < end))
    row, piece_start, overlap_ns = split_by_interval(busy_start[named], end[named], interval_ns)
    busy = pd.DataFrame(
        {
            "interval_start": piece_start,
            **{c: values[named][row] for c, values in groups.items()},
            "busy_s": 0.0,
            "busy_named_s": overlap_ns / 1e9,
            "agent": agents[named][row],
        }
    )
    frame = pd.concat([handled, busy], ignore_index=True)
    grouped = frame.groupby(keys, sort=False, dropna=False)
    result = grouped[["busy_s", "busy_named_s"]].sum()
    result["agents"] = grouped["agent"].nunique(dropna=True)
    return result


def rollup(kpis: pd.DataFrame, freq: str = "D") -> pd.DataFrame:
    """Roll interval KPIs up to days (``"D"``) or months (``"MS"``), recomputing every ratio.

    Counts and ``busy_s`` are summed; ratios are recomputed from sums, never averaged:
    ``service_level`` from the summed counts under the table's ``sl_definition``; ``asa_s`` =
    sum(asa_s x answered) / answered; ``avg_wait_s`` = sum(avg_wait_s x offered) / offered;
    ``aht_s`` = sum(aht_s x answered) / answered over the intervals with a known AHT (exact when
    every answered contact has a known handle time); ``occupancy`` = named busy seconds /
    agent-interval seconds, i.e. sum(occupancy x agents) / sum(agents) over the intervals.
    ``agents`` becomes the peak number of agents in any interval of the period. ``p90_wait_s``
    cannot be recovered from interval aggregates and is NaN: compute it from the interactions.
    ``interval_start`` holds the start of the day or month.
    """
    if freq not in ROLLUP_FREQUENCIES:
        raise ParameterError(
            f"freq must be one of {', '.join(ROLLUP_FREQUENCIES)}, got {freq!r}", field="freq"
        )
    missing = [c for c in ("interval_start", *KPI_COLUMNS) if c not in kpis.columns]
    if missing:
        raise ParameterError(f"not an interval_kpis table: no {', '.join(missing)}", field="kpis")
    by = [c for c in kpis.columns if c not in ("interval_start", *KPI_COLUMNS)]
    definitions = kpis["sl_definition"].dropna().unique()
    if len(definitions) > 1:
        raise ParameterError("mixed sl_definition values cannot be rolled up", field="kpis")
    definition = definitions[0] if len(definitions) else ServiceLevelDefinition.OFFERED.value
    starts = pd.to_datetime(kpis["interval_start"])
    period = starts.dt.floor("D") if freq == "D" else starts.dt.to_period("M").dt.to_timestamp()
    known_aht = kpis["aht_s"].notna()
    work = pd.DataFrame(
        {
            "interval_start": period,
            **{c: kpis[c] for c in by},
            **{c: kpis[c] for c in _COUNTS if c != "agents"},
            "busy_s": kpis["busy_s"],
            "agents": kpis["agents"],
            "wait_answered": kpis["asa_s"].fillna(0) * kpis["answered"],
            "wait_offered": kpis["avg_wait_s"].fillna(0) * kpis["offered"],
            "handle_sum": kpis["aht_s"].fillna(0) * kpis["answered"],
            "handle_n": kpis["answered"].where(known_aht, 0),
            "busy_named": kpis["occupancy"].fillna(0) * kpis["agents"],
        }
    )
    keys = ["interval_start", *by]
    sums = work.groupby(keys, sort=True, dropna=False).agg(
        **{c: (c, "sum") for c in _COUNTS if c != "agents"},
        busy_s=("busy_s", "sum"),
        agent_intervals=("agents", "sum"),
        agents=("agents", "max"),
        wait_answered=("wait_answered", "sum"),
        wait_offered=("wait_offered", "sum"),
        handle_sum=("handle_sum", "sum"),
        handle_n=("handle_n", "sum"),
        busy_named=("busy_named", "sum"),
    )
    sums = sums.reset_index()

    def ratio(numerator, denominator):
        denominator = np.asarray(denominator, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(
                denominator > 0, np.asarray(numerator, dtype=float) / denominator, np.nan
            )

    sums["service_level"] = service_level(
        sums["answered_within_target"],
        sums["offered"],
        sums["answered"],
        sums["short_abandoned"],
        definition,
    )
    sums["sl_definition"] = definition
    sums["asa_s"] = ratio(sums["wait_answered"], sums["answered"])
    sums["aht_s"] = ratio(sums["handle_sum"], sums["handle_n"])
    sums["avg_wait_s"] = ratio(sums["wait_offered"], sums["offered"])
    sums["p90_wait_s"] = np.nan
    sums["occupancy"] = ratio(sums["busy_named"], sums["agent_intervals"])
    for column in _COUNTS:
        sums[column] = sums[column].astype("int64")
    return sums[kpi_columns(by)]

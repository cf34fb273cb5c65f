"""Queueing parameters per queue x hour (x segment) estimated from a real interaction history.

For every hour (an interval labelled by its start; contacts belong to the hour they *arrived*
in, as in :func:`openwfm.data.intervals.interval_kpis`) and group, :func:`estimate_hours`
returns what a queueing model needs and what actually happened:

- ``arrival_rate_per_s`` = offered / interval length (offered = answered + abandoned).
- ``aht_s``: mean handle time of the answered contacts whose handle time is known (> 0 s; a
  0 s record has no service data); an hour with none takes the group's mean over the whole
  history (``aht_source`` says which).
- ``patience_s``: the maximum-likelihood mean of an *exponential* patience from censored waits:
  total time waited by all offered contacts / number of abandons. Every abandon is an observed
  patience; every answered contact's wait is a lower bound on its patience (censored), and for
  the exponential the censored-data MLE is exactly total exposure / events. An hour with fewer
  than ``min_abandons`` abandons pools over the queue (all its hours: the queue's total wait /
  its abandons), because a single hour with no abandon would give an infinite patience and one
  with a single early abandon an absurdly short one. A queue with no abandon at all has
  ``patience_s`` = inf (nobody leaves; Erlang A then equals Erlang C). ``patience_source``
  says ``hour`` or ``queue``.
- agents on duty, two estimates (logs record who *served*, not who was logged in):

  - ``agents_split``: distinct named agents who served in the hour, each counted for the share
    of their busy time in the hour spent on this group (an agent who spent 30 busy minutes on
    PS and 10 on NE is 0.75 of an agent on PS and 0.25 on NE). This is an *upper* bound on the
    agents effectively taking this queue's calls: it counts whole agent-hours for anyone who
    took a single call, although agents also did other work (the Anonymous Bank's agents also
    served internet customers and outbound work that is not in the log).
  - ``agents_busy``: busy seconds of handling inside the hour / interval length /
    ``occupancy_bound``: the agents needed to carry the observed work at the highest occupancy
    agents sustain. It includes calls with no named agent. In an hour with a queue every agent
    taking calls is busy, so busy time is the staffing that was actually on calls.

  ``agents`` is the estimate chosen by ``agents`` (``split`` by default: see
  :data:`DEFAULT_AGENTS` for why), rounded to the nearest whole agent, at least 1 when the
  hour had offered contacts.

- actuals: ``offered``, ``answered``, ``abandoned``, ``answered_within_target`` (wait <=
  ``target_s`` of the row's queue/segment), ``service_level`` (answered within target / offered),
  ``asa_s`` (mean wait of answered contacts) and ``abandon_rate`` (abandoned / offered).

``excluded`` and ``ivr_only`` contacts are never offered and are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from openwfm.data.intervals import split_by_interval
from openwfm.data.schema import Outcome
from openwfm.errors import DataError, ParameterError

# Agents: the split count of distinct agents. The busy-time estimate ties the agents to the
# *carried* load (busy time), which is below the offered load whenever callers abandon, so
# Erlang C has no steady state (load >= agents) in a third of the Anonymous Bank's scored
# queue-hours (2,608 of 6,913 over the nine months, vs 617 with the split count), and Erlang
# A's abandonment error per hour is larger (MAE 0.154 at occupancy 0.9, 0.135 at 0.8, vs 0.098
# with the split count; bench/validate.py). The split count overstates the agents a little
# (Erlang A's abandonment bias is -0.06), the busy estimate understates them more.
DEFAULT_AGENTS = "split"
# Highest sustained occupancy of agents on calls: busy time / this = agents on duty.
DEFAULT_OCCUPANCY_BOUND = 0.9
AGENT_ESTIMATES = ("busy", "split")
_REQUIRED = ("queue", "arrival_time", "answer_time", "end_time", "wait_s", "handle_s", "outcome")

ESTIMATE_COLUMNS = (
    "offered",
    "answered",
    "abandoned",
    "answered_within_target",
    "target_s",
    "service_level",
    "asa_s",
    "abandon_rate",
    "arrival_rate_per_s",
    "aht_s",
    "aht_source",
    "patience_s",
    "patience_source",
    "busy_s",
    "agents_split",
    "agents_busy",
    "agents",
)


def estimate_columns(by: Sequence[str] = ("queue",)) -> list[str]:
    """The exact output columns of :func:`estimate_hours` for grouping ``by``."""
    return ["interval_start", *by, *ESTIMATE_COLUMNS]


def _check(interactions: pd.DataFrame, by: Sequence[str]) -> list[str]:
    by = list(by)
    if "queue" not in by:
        raise ParameterError(f"`by` must include 'queue', got {by}", field="by")
    allowed = {"queue", "segment", "channel"}
    if not set(by) <= allowed:
        raise ParameterError(f"`by` takes columns of {sorted(allowed)}, got {by}", field="by")
    missing = [c for c in (*_REQUIRED, *by) if c not in interactions.columns]
    if missing:
        raise DataError(
            f"missing column(s) {', '.join(missing)} (expected the interactions table)",
            field=missing[0],
        )
    return by


def row_targets(
    frame: pd.DataFrame, target_s: float | Mapping[str, float] | Mapping[tuple, float]
) -> np.ndarray:
    """Answer-time target (s) per row: one number, or a dict keyed by queue name or by
    ``(queue, segment)``, with key ``"*"`` for the rest. A row with no target raises."""
    n = len(frame)
    if not isinstance(target_s, Mapping):
        value = float(target_s)
        if not value >= 0:
            raise ParameterError(f"target_s must be >= 0, got {target_s!r}", field="target_s")
        return np.full(n, value)
    queues = frame["queue"].astype(str).to_numpy(dtype=object)
    segments = (
        frame["segment"].astype(str).to_numpy(dtype=object)
        if "segment" in frame.columns
        else np.full(n, None, dtype=object)
    )
    default = target_s.get("*")
    out = np.empty(n)
    for (queue, segment), index in pd.Series(range(n)).groupby([queues, segments]).groups.items():
        value = target_s.get((queue, segment), target_s.get(queue, default))
        if value is None:
            raise ParameterError(
                f"no answer-time target for queue {queue!r} (give a target_s per queue or '*')",
                field="target_s",
            )
        out[np.asarray(index)] = float(value)
    return out


def busy_pieces(
    interactions: pd.DataFrame, by: Sequence[str], interval_s: float = 3600.0
) -> pd.DataFrame:
    """Handling time cut at interval boundaries: one row per contact x interval it spans.

    Columns ``interval_start`` (where the handling falls, not the arrival), ``by`` columns,
    ``agent`` (<NA> when unnamed) and ``busy_s`` (seconds of handling inside the interval).
    """
    answered = interactions[interactions["outcome"] == Outcome.ANSWERED.value]
    start = answered["answer_time"].to_numpy(dtype="datetime64[ns]")
    end = answered["end_time"].to_numpy(dtype="datetime64[ns]")
    valid = ~np.isnat(start) & ~np.isnat(end) & (end > start)
    start = start[valid].astype(np.int64)
    end = end[valid].astype(np.int64)
    row, piece_start, overlap = split_by_interval(start, end, int(round(interval_s * 1e9)))
    agent_values = (
        answered["agent"].to_numpy(dtype=object)
        if "agent" in answered.columns
        else np.full(len(answered), None, dtype=object)
    )
    return pd.DataFrame(
        {
            "interval_start": pd.to_datetime(piece_start),
            **{c: answered[c].astype(str).to_numpy(dtype=object)[valid][row] for c in by},
            "agent": agent_values[valid][row],
            "busy_s": overlap / 1e9,
        }
    )


def agents_on_duty(
    interactions: pd.DataFrame,
    by: Sequence[str] = ("queue",),
    interval_s: float = 3600.0,
    occupancy_bound: float = DEFAULT_OCCUPANCY_BOUND,
) -> pd.DataFrame:
    """Per interval x ``by``: ``busy_s``, ``agents_split`` and ``agents_busy`` (see module doc).

    An agent's interval is split between groups in proportion to their busy time in each.
    """
    if not 0 < occupancy_bound <= 1:
        raise ParameterError(
            f"occupancy_bound must be in (0, 1], got {occupancy_bound!r}", field="occupancy_bound"
        )
    by = list(by)
    keys = ["interval_start", *by]
    pieces = busy_pieces(interactions, by, interval_s)
    busy = pieces.groupby(keys, sort=False)["busy_s"].sum()
    named = pieces[pd.notna(pieces["agent"])]
    per_agent = named.groupby([*keys, "agent"], sort=False)["busy_s"].sum().reset_index()
    agent_total = per_agent.groupby(["interval_start", "agent"])["busy_s"].transform("sum")
    per_agent["share"] = per_agent["busy_s"] / agent_total
    split = per_agent.groupby(keys, sort=False)["share"].sum()
    out = pd.DataFrame({"busy_s": busy}).join(split.rename("agents_split"), how="left")
    out["agents_split"] = out["agents_split"].fillna(0.0)
    out["agents_busy"] = out["busy_s"] / interval_s / occupancy_bound
    return out.reset_index()


def estimate_hours(
    interactions: pd.DataFrame,
    *,
    by: Sequence[str] = ("queue",),
    target_s: float | Mapping = 20.0,
    interval_minutes: int = 60,
    agents: str = DEFAULT_AGENTS,
    occupancy_bound: float = DEFAULT_OCCUPANCY_BOUND,
    min_abandons: int = 1,
) -> pd.DataFrame:
    """Arrival rate, handle time, patience, agents and actual KPIs per interval x ``by``.

    ``interactions``: the normalised interactions table (:mod:`openwfm.data.schema`).
    ``target_s``: answer-time target in seconds for the actual service level, one number or a
    dict (queue or (queue, segment) -> seconds, ``"*"`` for the rest). ``interval_minutes``:
    the interval length (60: per hour). ``agents``: ``busy`` or ``split`` (module docstring).
    ``occupancy_bound``: in (0, 1], divides busy time in ``agents_busy``. ``min_abandons``:
    hours with fewer abandons take the queue's pooled patience.

    Returns :func:`estimate_columns` (``by``): one row per interval and group with offered
    contacts, sorted by interval then group.
    """
    by = _check(interactions, by)
    if agents not in AGENT_ESTIMATES:
        raise ParameterError(
            f"agents must be one of {', '.join(AGENT_ESTIMATES)}, got {agents!r}", field="agents"
        )
    if interval_minutes not in (15, 30, 60):
        raise ParameterError(
            f"interval_minutes must be 15, 30 or 60, got {interval_minutes!r}",
            field="interval_minutes",
        )
    if min_abandons < 1:
        raise ParameterError(f"min_abandons must be >= 1, got {min_abandons}", field="min_abandons")
    interval_s = interval_minutes * 60.0
    keys = ["interval_start", *by]
    outcome = interactions["outcome"].astype(str)
    offered_rows = interactions[outcome.isin([Outcome.ANSWERED.value, Outcome.ABANDONED.value])]
    if offered_rows.empty:
        raise DataError("no offered contacts (answered or abandoned) in the history")
    is_answered = (offered_rows["outcome"] == Outcome.ANSWERED.value).to_numpy()
    wait = offered_rows["wait_s"].to_numpy(dtype=float)
    handle = offered_rows["handle_s"].to_numpy(dtype=float)
    if np.isnan(wait).any():
        raise DataError("wait_s is missing for an offered contact", field="wait_s")
    targets = row_targets(offered_rows, target_s)
    step = int(interval_s * 1e9)
    arrival_ns = offered_rows["arrival_time"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    rows = pd.DataFrame(
        {
            "interval_start": pd.to_datetime((arrival_ns // step) * step),
            **{c: offered_rows[c].astype(str).to_numpy(dtype=object) for c in by},
            "offered": 1,
            "answered": is_answered.astype(int),
            "abandoned": (~is_answered).astype(int),
            "answered_within_target": (is_answered & (wait <= targets)).astype(int),
            "target_s": targets,
            "wait_s": wait,
            "answer_wait_s": np.where(is_answered, wait, np.nan),
            "known_handle_s": np.where(is_answered & (handle > 0), handle, np.nan),
        }
    )
    grouped = rows.groupby(keys, sort=False)
    table = grouped[["offered", "answered", "abandoned", "answered_within_target"]].sum()
    table["target_s"] = grouped["target_s"].mean()
    table["total_wait_s"] = grouped["wait_s"].sum()
    table["asa_s"] = grouped["answer_wait_s"].mean()
    table["aht_s"] = grouped["known_handle_s"].mean()
    table = table.reset_index()
    group_keys = by  # the whole-history pool of a group (queue, or queue x segment)

    # Handle time: the group's whole-history mean where an hour has no known handle time.
    pooled_aht = rows.groupby(group_keys)["known_handle_s"].mean()
    fallback_aht = table[group_keys].merge(
        pooled_aht.rename("pooled").reset_index(), on=group_keys, how="left"
    )["pooled"]
    table["aht_source"] = np.where(table["aht_s"].notna(), "hour", "pooled")
    table["aht_s"] = table["aht_s"].fillna(fallback_aht)
    # a group that never had a known handle time: no queueing model applies; drop it loudly
    if table["aht_s"].isna().any():
        bad = table.loc[table["aht_s"].isna(), "queue"].iloc[0]
        raise DataError(
            f"queue {bad!r} has offered contacts but no answered contact with a handle time",
            field="handle_s",
        )

    # Patience: exponential MLE from censored waits, pooled over the queue when abandons are few.
    queue_wait = rows.groupby("queue")["wait_s"].sum()
    queue_abandons = rows.groupby("queue")["abandoned"].sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        queue_patience = (queue_wait / queue_abandons.where(queue_abandons > 0)).fillna(np.inf)
        hour_patience = table["total_wait_s"] / table["abandoned"].where(table["abandoned"] > 0)
    own = table["abandoned"] >= min_abandons
    table["patience_s"] = np.where(
        own, hour_patience, table["queue"].map(queue_patience).to_numpy(dtype=float)
    )
    table["patience_source"] = np.where(own, "hour", "queue")

    table["arrival_rate_per_s"] = table["offered"] / interval_s
    table["service_level"] = table["answered_within_target"] / table["offered"]
    table["abandon_rate"] = table["abandoned"] / table["offered"]

    duty = agents_on_duty(interactions, by, interval_s, occupancy_bound)
    table = table.merge(duty, on=keys, how="left")
    for column in ("busy_s", "agents_split", "agents_busy"):
        table[column] = table[column].fillna(0.0)
    chosen = table["agents_busy"] if agents == "busy" else table["agents_split"]
    table["agents"] = np.maximum(np.round(chosen.to_numpy()), 1).astype("int64")

    table = table.sort_values(keys, kind="stable").reset_index(drop=True)
    for column in ("offered", "answered", "abandoned", "answered_within_target"):
        table[column] = table[column].astype("int64")
    for column in by:
        table[column] = table[column].astype("string")
    table.attrs.update(
        interval_s=interval_s,
        agents=agents,
        occupancy_bound=occupancy_bound,
        min_abandons=min_abandons,
        queue_patience_s=queue_patience.to_dict(),
    )
    return table[estimate_columns(by)]


__all__ = [
    "AGENT_ESTIMATES",
    "DEFAULT_AGENTS",
    "DEFAULT_OCCUPANCY_BOUND",
    "agents_on_duty",
    "busy_pieces",
    "estimate_columns",
    "estimate_hours",
    "row_targets",
]

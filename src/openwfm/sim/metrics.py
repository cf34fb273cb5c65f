"""KPIs of simulated contacts: counts per replication, then means with 95% confidence intervals.

Per contact, the interval is the one it arrived in. Service level follows the contact's own
target (:meth:`openwfm.model.Scenario.target_for`) and its definition
(:class:`openwfm.model.ServiceLevelDefinition`): numerator = answered within ``within_s``;
denominator = offered, answered, or offered minus abandons within ``short_abandon_s``. For
deferred channels (email) "within" is the time to *finish* the item, in open (business) seconds
of the grid when the target says ``business_hours``. Because numerator and denominator are
counted per contact, any roll-up (all segments, all queues) stays consistent.

Occupancy is per queue: busy agent-seconds on the queue's contacts (handle + wrap-up, a chat
counting 1/k of an agent holding up to k) over those busy seconds plus the idle agent-seconds
of the agents skilled for it, an agent's idle time split evenly over its skills, over the
intervals in which the queue was offered contacts. So it is at most 1, and a multi-skilled
agent's time counts where it went: splitting all of its time evenly (the earlier definition)
gave email 1.24 on a loaded day of the example, its blended agents working email far more
than a third of their time. An agent finishing a contact after its shift (or into a break)
is busy then, not idle: that time counts in both terms (1% of email's busy time there).
Confidence intervals are Student-t intervals over independent replications.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
from numba import njit
from scipy import stats

from openwfm.model import Channel, ServiceLevelDefinition
from openwfm.sim import engine as E
from openwfm.sim.agents import AvailableSpans
from openwfm.sim.build import SimulationModel

COUNTS = (
    "offered",
    "answered",
    "abandoned",
    "waited",
    "sl_numerator",
    "sl_denominator",
    "wait_answered_s",
    "handle_s",
    "past_deadline",
    "outbound",
)
METRICS = (
    "offered",
    "answered",
    "abandoned",
    "abandon_rate",
    "p_wait",
    "service_level",
    "asa_s",
    "aht_s",
    "occupancy",
    "past_deadline_rate",
    "outbound",
)
OUTBOUND_METRICS = ("outbound",)  # only in the tables of centers with outbound work
ALL = "all"
# Metrics that are fractions: their confidence intervals are clipped to [0, 1]; every metric's
# interval is clipped at 0 (counts, rates and seconds are never negative).
FRACTION_METRICS = ("abandon_rate", "p_wait", "service_level", "past_deadline_rate", "occupancy")


def _overlap_by_interval(start, end, weight, edges):
    """Sum over spans of weight x overlap([start, end), each [edges[i], edges[i+1]))."""
    start = np.asarray(start, dtype=float)
    end = np.asarray(end, dtype=float)
    weight = np.asarray(weight, dtype=float)

    def cumulative(t):
        # sum of weight * (min(t, end) - start) for start < t
        order_s = np.argsort(start)
        s_sorted, w_s = start[order_s], weight[order_s]
        cw_s = np.concatenate([[0.0], np.cumsum(w_s)])
        cws_s = np.concatenate([[0.0], np.cumsum(w_s * s_sorted)])
        order_e = np.argsort(end)
        e_sorted, w_e = end[order_e], weight[order_e]
        cw_e = np.concatenate([[0.0], np.cumsum(w_e)])
        cwe_e = np.concatenate([[0.0], np.cumsum(w_e * e_sorted)])
        k_s = np.searchsorted(s_sorted, t, side="left")
        k_e = np.searchsorted(e_sorted, t, side="left")
        return (t * cw_s[k_s] - cws_s[k_s]) - (t * cw_e[k_e] - cwe_e[k_e])

    if start.size == 0:
        return np.zeros(len(edges) - 1)
    return np.diff(cumulative(np.asarray(edges, dtype=float)))


def business_seconds(
    model: SimulationModel, origin: pd.Timestamp, days: int
) -> Callable[[np.ndarray], np.ndarray]:
    """A function t -> open seconds of the grid between the origin and t (vectorised)."""
    points, values, total = [0.0], [0.0], 0.0
    for offset in range(days):
        day = (origin + pd.Timedelta(days=offset)).date()
        hours = model.scenario.grid.hours_on(day)
        if hours is None:
            continue
        lo, hi = offset * 86400.0 + hours.open_s, offset * 86400.0 + hours.close_s
        points += [lo, hi]
        values += [total, total + hi - lo]
        total += hi - lo
    xp, fp = np.asarray(points), np.asarray(values)
    return lambda t: np.interp(t, xp, fp)


def target_arrays(model: SimulationModel) -> dict[str, np.ndarray]:
    """Per (queue, segment): within_s, short_abandon_s, definition code, business-hours flag,
    deadline (s, inf = none); per queue: live flag. Computed once per model."""
    cached = getattr(model, "_target_arrays", None)
    if cached is not None:
        return cached
    nq, ns = model.n_queues, model.n_segments
    scenario = model.scenario
    out = {
        "within": np.empty((nq, ns)),
        "short": np.empty((nq, ns)),
        "definition": np.empty((nq, ns), dtype=np.int64),
        "business": np.zeros((nq, ns), dtype=bool),
        "deadline": np.full((nq, ns), np.inf),
        "live": np.array([Channel(q.channel).is_live for q in scenario.queues]),
    }
    codes = list(ServiceLevelDefinition)
    for q, name in enumerate(model.queue_names):
        live = out["live"][q]
        for s, segment_name in enumerate(model.segment_names):
            target = scenario.target_for(name, segment_name)
            out["within"][q, s] = target.within_s
            out["short"][q, s] = target.short_abandon_s
            out["definition"][q, s] = codes.index(target.definition)
            out["business"][q, s] = (not live) and target.business_hours
            if not live and target.all_within_s is not None:
                out["deadline"][q, s] = target.all_within_s
    model._target_arrays = out
    return out


def available_seconds(
    model: SimulationModel, availability: AvailableSpans, edges: np.ndarray
) -> np.ndarray:
    """Available agent-seconds per queue and interval (an agent split over its skills)."""
    key = (len(edges), float(edges[-1]))
    cached = getattr(availability, "_available", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    available = np.zeros((model.n_queues, len(edges) - 1))
    skills = model.proficiency[availability.agent] >= 0.0
    share = 1.0 / np.maximum(skills.sum(axis=1), 1)
    for q in range(model.n_queues):
        available[q] = _overlap_by_interval(
            availability.start_s[skills[:, q]],
            availability.end_s[skills[:, q]],
            share[skills[:, q]],
            edges,
        )
    availability._available = (key, available)
    return available


def staffed_seconds(
    model: SimulationModel,
    availability: AvailableSpans,
    busy: np.ndarray,
    busy_by_agent: np.ndarray,
    interval_s: float,
) -> np.ndarray:
    """Occupancy's denominator per queue and interval: the busy agent-seconds on the queue
    (``busy[q, i]``) plus the idle agent-seconds of the agents skilled for it, each agent's
    idle time (on duty and not busy: ``busy_by_agent[a, i]``, any queue) split evenly over its
    skills. Busy time off duty (a contact finished after the shift) is never idle time."""
    n_agents, n_intervals = busy_by_agent.shape
    on_duty = np.zeros((n_agents, n_intervals))
    _add_spans(
        on_duty,
        np.asarray(availability.agent, dtype=np.int64),
        np.asarray(availability.start_s, dtype=np.float64),
        np.asarray(availability.end_s, dtype=np.float64),
        float(interval_s),
        n_intervals,
    )
    idle = np.maximum(on_duty - busy_by_agent, 0.0)
    skills = model.proficiency >= 0.0
    share = skills / np.maximum(skills.sum(axis=1, keepdims=True), 1)
    return busy + share.T @ idle


@njit(cache=True, nogil=True)
def _add_spans(out, agent, start, end, interval_s, n_intervals):
    """Add each span's seconds to ``out[agent, interval]``."""
    for j in range(agent.shape[0]):
        _add_busy(out, agent[j], start[j], end[j], 1.0, interval_s, n_intervals)


@njit(cache=True, nogil=True)
def _bin_contacts(
    floats, ints, measured, n_segments, interval_s, n_intervals, warmup_s,
    within, short, definition, deadline, live, slots, wrap_up_s, counts, busy, busy_by_agent,
):  # fmt: skip
    """One pass over the contacts: add to ``counts[k, q, s, i]``, ``busy[q, i]`` and
    ``busy_by_agent[a, i]``."""
    for c in range(floats.shape[0]):
        arrival = floats[c, E.ARRIVAL]
        if arrival < warmup_s:
            continue
        q = ints[c, E.QUEUE]
        s = ints[c, E.SEGMENT]
        i = min(max(int(arrival // interval_s), 0), n_intervals - 1)
        if ints[c, E.ATTEMPT] == E.OUTBOUND:  # an outbound call (blending): count, busy time
            counts[9, q, s, i] += 1.0
            _add_busy(busy, q, arrival, floats[c, E.END], 1.0, interval_s, n_intervals)
            a = ints[c, E.AGENT]
            if a >= 0:
                _add_busy(busy_by_agent, a, arrival, floats[c, E.END], 1.0, interval_s, n_intervals)
            continue
        answered = not np.isnan(floats[c, E.ANSWER])
        abandoned = not np.isnan(floats[c, E.ABANDON])
        wait = (floats[c, E.ANSWER] if answered else floats[c, E.ABANDON]) - arrival
        counts[0, q, s, i] += 1.0
        if answered:
            counts[1, q, s, i] += 1.0
            counts[6, q, s, i] += wait
            counts[7, q, s, i] += floats[c, E.HANDLE]
        if abandoned:
            counts[2, q, s, i] += 1.0
        if not (answered and wait <= 0.0):
            counts[3, q, s, i] += 1.0
        taken = measured[c] if not live[q] else wait
        if answered and taken <= within[q, s]:
            counts[4, q, s, i] += 1.0
        if definition[q, s] == 1:  # answered
            counts[5, q, s, i] += 1.0 if answered else 0.0
        elif definition[q, s] == 2:  # exclude short abandons
            counts[5, q, s, i] += 0.0 if (abandoned and wait <= short[q, s]) else 1.0
        else:
            counts[5, q, s, i] += 1.0
        if not live[q] and np.isfinite(deadline[q, s]):
            if not answered or taken > deadline[q, s]:
                counts[8, q, s, i] += 1.0
        if answered:
            # busy agent-seconds from answer to end of wrap-up, split over the intervals
            stop = floats[c, E.END] + wrap_up_s[q]
            start, weight = floats[c, E.ANSWER], 1.0 / slots[c]
            _add_busy(busy, q, start, stop, weight, interval_s, n_intervals)
            _add_busy(busy_by_agent, ints[c, E.AGENT], start, stop, weight, interval_s, n_intervals)


@njit(cache=True, nogil=True, inline="always")
def _add_busy(busy, q, start, stop, weight, interval_s, n_intervals):
    """Add ``weight`` agent-seconds per second of ``[start, stop)`` to ``busy[q, interval]``."""
    k = int(start // interval_s)
    while k < n_intervals and k * interval_s < stop:
        lo = max(start, k * interval_s)
        hi = min(stop, (k + 1) * interval_s)
        if hi > lo and k >= 0:
            busy[q, k] += (hi - lo) * weight
        k += 1


def replication_counts(
    floats: np.ndarray,
    ints: np.ndarray,
    model: SimulationModel,
    availability: AvailableSpans,
    origin: pd.Timestamp,
    interval_s: float,
    n_intervals: int,
    warmup_s: float = 0.0,
) -> dict[str, np.ndarray]:
    """Counts of one replication: arrays [queue, segment, interval]; busy/available [q, i]."""
    nq, ns = model.n_queues, model.n_segments
    targets = target_arrays(model)
    arrival = floats[:, E.ARRIVAL]
    measured = np.zeros(len(floats))
    if not targets["live"].all():
        elapsed = floats[:, E.END] - arrival  # deferred: time to finish the item
        if targets["business"].any():
            finished = floats[:, E.END]
            days = int(np.ceil(np.nanmax(finished) / 86400)) if np.isfinite(finished).any() else 0
            to_business = business_seconds(model, origin, days + 2)
            in_business = to_business(finished) - to_business(arrival)
            use = targets["business"][ints[:, E.QUEUE], ints[:, E.SEGMENT]]
            elapsed = np.where(use, in_business, elapsed)
        measured = np.where(np.isnan(elapsed), np.inf, elapsed)
    agent = np.maximum(ints[:, E.AGENT], 0)
    channel_code = model.tables.queue_channel[ints[:, E.QUEUE]]
    slots = np.maximum(model.capacity[agent, channel_code], 1).astype(np.float64)
    table = np.zeros((len(COUNTS), nq, ns, n_intervals))
    busy = np.zeros((nq, n_intervals))
    busy_by_agent = np.zeros((model.proficiency.shape[0], n_intervals))
    _bin_contacts(
        floats, ints, measured, ns, float(interval_s), n_intervals, float(warmup_s),
        targets["within"], targets["short"], targets["definition"], targets["deadline"],
        targets["live"], slots, model.queues.wrap_up_s, table, busy, busy_by_agent,
    )  # fmt: skip
    counts = {name: table[k] for k, name in enumerate(COUNTS)}
    available = staffed_seconds(model, availability, busy, busy_by_agent, interval_s)
    # occupancy counts the intervals a queue was offered contacts in (after the warm-up)
    idle = counts["offered"].sum(axis=1) == 0
    busy[idle] = 0.0
    available[idle] = 0.0
    counts["busy_s"] = busy
    counts["available_s"] = available
    return counts


def _ratios(c: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "offered": c["offered"],
            "answered": c["answered"],
            "abandoned": c["abandoned"],
            "abandon_rate": c["abandoned"] / c["offered"],
            "p_wait": c["waited"] / c["offered"],
            "service_level": c["sl_numerator"] / c["sl_denominator"],
            "asa_s": c["wait_answered_s"] / c["answered"],
            "aht_s": c["handle_s"] / c["answered"],
            "occupancy": c["busy_s"] / c["available_s"],
            # deferred work: share of items not finished within the target's all_within_s
            "past_deadline_rate": c["past_deadline"] / c["offered"],
            # outbound calls started (blending), per interval or over the horizon
            "outbound": c["outbound"],
        }


def mean_ci(
    values: np.ndarray, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over axis 0 and the Student-t interval (NaN replications are left out)."""
    values = np.asarray(values, dtype=float)
    n = np.sum(~np.isnan(values), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN cells: no offered contacts
        mean = np.nanmean(values, axis=0) if values.size else np.nan
        sd = np.nanstd(values, axis=0, ddof=1)
        half = stats.t.ppf(0.5 + confidence / 2, np.maximum(n - 1, 1)) * sd / np.sqrt(n)
    half = np.where(n > 1, half, np.nan)
    return mean, mean - half, mean + half


def _level_rows(
    stacked: dict[str, np.ndarray], queue_axis_names, segment_names, intervals, with_outbound
):
    """Rows of one roll-up level; ``stacked`` arrays are [replication, q, s, i] (summed axes 1)."""
    ratios = _ratios(stacked)
    columns: dict[str, np.ndarray] = {}
    for name in METRICS if with_outbound else METRICS[: -len(OUTBOUND_METRICS)]:
        mean, low, high = mean_ci(ratios[name])
        # the Student-t interval is symmetric; a KPI's domain is not: clip it (NaN stays NaN)
        low = np.where(np.isnan(low), low, np.maximum(low, 0.0))
        if name in FRACTION_METRICS:
            high = np.where(np.isnan(high), high, np.minimum(high, 1.0))
        columns[name] = mean
        columns[f"{name}_ci_low"] = low
        columns[f"{name}_ci_high"] = high
    shape = next(iter(columns.values())).shape
    q_idx, s_idx, i_idx = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    frame = pd.DataFrame(
        {
            "queue": np.asarray(queue_axis_names, dtype=object)[q_idx.ravel()],
            "segment": np.asarray(segment_names, dtype=object)[s_idx.ravel()],
            "interval_start": np.asarray(intervals, dtype=object)[i_idx.ravel()],
        }
    )
    for name, value in columns.items():
        frame[name] = np.asarray(value).ravel()
    return frame


def summarize(
    counts: list[dict[str, np.ndarray]],
    model: SimulationModel,
    origin: pd.Timestamp,
    interval_s: float,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(intervals, summary, per-replication summary) tables from the replications' counts.

    Rows per (queue, segment), per (queue, ``all``) and (``all``, ``all``); ``intervals`` has
    these per interval (intervals nobody was offered in are dropped), ``summary`` over the
    whole horizon. Occupancy is only given on ``all``-segment rows.
    """
    n_intervals = counts[0]["offered"].shape[2]
    with_outbound = bool(np.any(model.queues.outbound_aht_s > 0))
    stacked = {k: np.stack([c[k] for c in counts]) for k in counts[0]}  # [r, q, s, i]
    starts = [origin + pd.Timedelta(seconds=i * interval_s) for i in range(n_intervals)]
    nan_segments = {k: v for k, v in stacked.items() if k not in ("busy_s", "available_s")}

    def level(by_segment: bool, by_queue: bool, over_time: bool):
        data = {}
        for key, value in nan_segments.items():
            v = value
            if not by_segment:
                v = v.sum(axis=2, keepdims=True)
            if not by_queue:
                v = v.sum(axis=1, keepdims=True)
            if not over_time:
                v = v.sum(axis=3, keepdims=True)
            data[key] = v
        for key in ("busy_s", "available_s"):
            v = stacked[key][:, :, None, :]
            if not by_queue:
                v = v.sum(axis=1, keepdims=True)
            if not over_time:
                v = v.sum(axis=3, keepdims=True)
            if by_segment:
                v = np.broadcast_to(np.nan, data["offered"].shape)
            data[key] = v
        queue_names = model.queue_names if by_queue else [ALL]
        segments = model.segment_names if by_segment else [ALL]
        times = starts if over_time else [pd.NaT]
        return _level_rows(data, queue_names, segments, times, with_outbound)

    intervals = pd.concat(
        [level(True, True, True), level(False, True, True), level(False, False, True)],
        ignore_index=True,
    )
    intervals = intervals[intervals["offered"] > 0].reset_index(drop=True)
    summary = pd.concat(
        [level(True, True, False), level(False, True, False), level(False, False, False)],
        ignore_index=True,
    ).drop(columns="interval_start")
    summary = summary[summary["offered"] > 0].reset_index(drop=True)
    # per replication, over the horizon: [r, q, s] and the (q, all) roll-up, in two frames
    n_reps = len(counts)
    per_rep = []
    for by_segment in (True, False):
        totals = {}
        for key, value in stacked.items():  # [r, q, s, i] or [r, q, i]
            if value.ndim == 4:
                total = value.sum(axis=3)
                totals[key] = total if by_segment else total.sum(axis=2, keepdims=True)
            else:
                total = value.sum(axis=2)[:, :, None]
                shape = (n_reps, model.n_queues, model.n_segments)
                totals[key] = np.broadcast_to(np.nan, shape) if by_segment else total
        segments = model.segment_names if by_segment else [ALL]
        ratios = _ratios(totals)
        if not with_outbound:
            ratios = {k: v for k, v in ratios.items() if k not in OUTBOUND_METRICS}
        r_idx, q_idx, s_idx = np.meshgrid(
            np.arange(n_reps), np.arange(model.n_queues), np.arange(len(segments)), indexing="ij"
        )
        frame = pd.DataFrame(
            {
                "replication": r_idx.ravel(),
                "queue": np.asarray(model.queue_names, dtype=object)[q_idx.ravel()],
                "segment": np.asarray(segments, dtype=object)[s_idx.ravel()],
                **{name: np.asarray(v).ravel() for name, v in ratios.items()},
            }
        )
        per_rep.append(frame[frame["offered"] > 0])
    per_rep = [
        pd.concat(per_rep, ignore_index=True).sort_values(
            ["replication", "queue", "segment"], kind="stable", ignore_index=True
        )
    ]
    return intervals, summary, pd.concat(per_rep, ignore_index=True)

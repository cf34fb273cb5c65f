"""KPIs of simulated contacts: counts per replication, then means with 95% confidence intervals.

Per contact, the interval is the one it arrived in. Service level follows the contact's own
target (:meth:`openwfm.model.Scenario.target_for`) and its definition
(:class:`openwfm.model.ServiceLevelDefinition`): numerator = answered within ``within_s``;
denominator = offered, answered, or offered minus abandons within ``short_abandon_s``. For
deferred channels (email) "within" is the time to *finish* the item, in open (business) seconds
of the grid when the target says ``business_hours``. Because numerator and denominator are
counted per contact, any roll-up (all segments, all queues) stays consistent.

Occupancy is per queue: busy agent-seconds on the queue's contacts (handle + wrap-up, a chat
counting 1/k of an agent holding up to k) over available agent-seconds of the agents skilled
for it, an agent's time split evenly over its skills (exact for single-skill agents), over
the intervals in which the queue was offered contacts.
Confidence intervals are Student-t intervals over independent replications.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from openwfm.model import Channel, ServiceLevelDefinition
from openwfm.sim import engine as E
from openwfm.sim.agents import Availability
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
)
ALL = "all"


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


def business_seconds(model: SimulationModel, origin: pd.Timestamp, days: int):
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


def replication_counts(
    floats: np.ndarray,
    ints: np.ndarray,
    model: SimulationModel,
    availability: Availability,
    origin: pd.Timestamp,
    interval_s: float,
    n_intervals: int,
    warmup_s: float = 0.0,
) -> dict[str, np.ndarray]:
    """Counts of one replication: arrays [queue, segment, interval]; busy/available [q, i]."""
    nq, ns = model.n_queues, model.n_segments
    arrival = floats[:, E.ARRIVAL]
    keep = arrival >= warmup_s
    floats, ints, arrival = floats[keep], ints[keep], arrival[keep]
    queue, segment = ints[:, E.QUEUE], ints[:, E.SEGMENT]
    interval = np.clip((arrival // interval_s).astype(np.int64), 0, n_intervals - 1)
    cell = (queue * ns + segment) * n_intervals + interval
    size = nq * ns * n_intervals
    answered = ~np.isnan(floats[:, E.ANSWER])
    abandoned = ~np.isnan(floats[:, E.ABANDON])
    wait = np.where(answered, floats[:, E.ANSWER], floats[:, E.ABANDON]) - arrival
    # targets per (queue, segment)
    scenario = model.scenario
    within = np.empty((nq, ns))
    short = np.empty((nq, ns))
    definition = np.empty((nq, ns), dtype=np.int64)
    business = np.zeros((nq, ns), dtype=bool)
    deadline = np.full((nq, ns), np.inf)
    codes = list(ServiceLevelDefinition)
    for q, name in enumerate(model.queue_names):
        live = scenario.queues[q].channel.is_live
        for s, segment_name in enumerate(model.segment_names):
            target = scenario.target_for(name, segment_name)
            within[q, s] = target.within_s
            short[q, s] = target.short_abandon_s
            definition[q, s] = codes.index(target.definition)
            business[q, s] = (not live) and target.business_hours
            if not live and target.all_within_s is not None:
                deadline[q, s] = target.all_within_s
    live_queue = np.array([Channel(q.channel).is_live for q in scenario.queues])
    if live_queue.all():
        measured = wait
    else:
        elapsed = floats[:, E.END] - arrival  # deferred: time to finish
        if business.any():
            days = int(np.ceil((np.nanmax(floats[:, E.END]) if answered.any() else 0) / 86400))
            to_business = business_seconds(model, origin, days + 2)
            elapsed_business = to_business(floats[:, E.END]) - to_business(arrival)
            elapsed = np.where(business[queue, segment], elapsed_business, elapsed)
        measured = np.where(live_queue[queue], wait, elapsed)
    within_target = answered & (measured <= within[queue, segment])
    kind = definition[queue, segment]
    denominator = np.where(
        kind == codes.index(ServiceLevelDefinition.ANSWERED),
        answered,
        np.where(
            kind == codes.index(ServiceLevelDefinition.EXCLUDE_SHORT_ABANDONS),
            ~(abandoned & (wait <= short[queue, segment])),
            True,
        ),
    )
    late = ~live_queue[queue] & (~answered | (measured > deadline[queue, segment]))
    late &= np.isfinite(deadline[queue, segment])
    counts = {
        "offered": np.bincount(cell, minlength=size),
        "answered": np.bincount(cell, weights=answered, minlength=size),
        "abandoned": np.bincount(cell, weights=abandoned, minlength=size),
        "waited": np.bincount(cell, weights=~(answered & (wait <= 0.0)), minlength=size),
        "sl_numerator": np.bincount(cell, weights=within_target, minlength=size),
        "sl_denominator": np.bincount(cell, weights=denominator, minlength=size),
        "wait_answered_s": np.bincount(cell, weights=np.where(answered, wait, 0.0), minlength=size),
        "handle_s": np.bincount(
            cell, weights=np.where(answered, floats[:, E.HANDLE], 0.0), minlength=size
        ),
        "past_deadline": np.bincount(cell, weights=late, minlength=size),
    }
    counts = {k: v.astype(float).reshape(nq, ns, n_intervals) for k, v in counts.items()}
    # occupancy: busy and available agent-seconds per queue and interval
    edges = np.arange(n_intervals + 1) * interval_s
    agent = ints[answered, E.AGENT]
    channel_code = model.tables.queue_channel[queue[answered]]
    slots = np.maximum(model.capacity[agent, channel_code], 1)
    busy_end = floats[answered, E.END] + model.queues.wrap_up_s[queue[answered]]
    busy = np.zeros((nq, n_intervals))
    available = np.zeros((nq, n_intervals))
    for q in range(nq):
        mine = queue[answered] == q
        busy[q] = _overlap_by_interval(
            floats[answered, E.ANSWER][mine], busy_end[mine], 1.0 / slots[mine], edges
        )
        skilled = model.proficiency[availability.agent, q] >= 0.0
        share = 1.0 / (model.proficiency[availability.agent] >= 0.0).sum(axis=1)
        available[q] = _overlap_by_interval(
            availability.start_s[skilled],
            availability.end_s[skilled],
            share[skilled],
            edges,
        )
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
        }


def mean_ci(values: np.ndarray, confidence: float = 0.95):
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


def _level_rows(stacked: dict[str, np.ndarray], queue_axis_names, segment_names, intervals):
    """Rows of one roll-up level; ``stacked`` arrays are [replication, q, s, i] (summed axes 1)."""
    ratios = _ratios(stacked)
    columns: dict[str, np.ndarray] = {}
    for name in METRICS:
        mean, low, high = mean_ci(ratios[name])
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
        return _level_rows(data, queue_names, segments, times)

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
    per_rep = []
    for r, c in enumerate(counts):
        for by_segment in (True, False):
            totals = {}
            for key, value in c.items():
                if value.ndim == 3:  # [q, s, i]
                    total = value.sum(axis=2)
                    totals[key] = total if by_segment else total.sum(axis=1, keepdims=True)
                else:  # busy / available [q, i]: queue level only
                    total = value.sum(axis=1)[:, None]
                    totals[key] = (
                        np.broadcast_to(np.nan, (len(total), model.n_segments))
                        if (by_segment)
                        else total
                    )
            segments = model.segment_names if by_segment else [ALL]
            ratios = _ratios(totals)
            frame = pd.DataFrame(
                {
                    "replication": r,
                    "queue": np.repeat(model.queue_names, len(segments)),
                    "segment": np.tile(segments, model.n_queues),
                    **{name: np.asarray(v).ravel() for name, v in ratios.items()},
                }
            )
            per_rep.append(frame[frame["offered"] > 0])
    return intervals, summary, pd.concat(per_rep, ignore_index=True)

"""Forecast + service targets -> required agents per queue x interval (single-skill, analytic).

``requirements(forecast, scenario, interval_minutes=...)`` picks a model per queue:

- live voice-like queues (voice, callback, messaging with concurrency 1): Erlang A when the
  queue has ``patience_s``, else Erlang C;
- chat (and messaging with concurrency > 1): the birth-death chat model
  (:mod:`openwfm.queueing.birthdeath`) with handle time per concurrency level;
- email / social (deferred): the greedy deadline model (:mod:`openwfm.queueing.deferred`) over
  the open intervals, backlog carried over; closed intervals' volume joins the next open one.

Segments with their own targets (``scenario.segments``): we model the queue as non-preemptive
priority M/M/n (higher ``priority`` served first, equal handle times). A contact of the top
class waits iff all agents are busy (Erlang C of the whole load) and then for the top-class
queue only, so ``P(W_1 > t) = C exp(-(n mu - lambda_1) t)`` exactly. Lower classes get their
mean wait from Cobham's formula ``W_k = C / (n mu (1 - s_{k-1}) (1 - s_k))`` (s_k: load of
classes 1..k over n mu) and an exponential conditional wait with that mean (an
approximation). Abandonment of a class is bounded by ``C theta / (theta + C / W_k)`` (waits
computed without abandonment, which is conservative). Each segment must meet its own target
(``scenario.target_for``); the queue-level model (Erlang A/C on the whole volume) must meet the
queue's target; the requirement is the larger, and ``binding_segment`` names what bound
("queue" when the queue-level target did). One row per queue x interval.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from openwfm.errors import DataError, ParameterError
from openwfm.limits import check_offered_load
from openwfm.model import Channel, Queue, Scenario
from openwfm.queueing import erlang_a, erlang_c
from openwfm.queueing.birthdeath import chat_metrics
from openwfm.queueing.deferred import deferred_requirements
from openwfm.queueing.inversion import least_integer, required_agents
from openwfm.staffing.blending import OUTBOUND_COLUMNS as _OUTBOUND_COLUMNS
from openwfm.tables import FORECAST, REQUIREMENTS, Table, check_table

COLUMNS = REQUIREMENTS.names  # the requirements table (openwfm.tables.REQUIREMENTS)


def _volume_column(forecast: pd.DataFrame) -> str:
    for name in ("forecast", "offered"):
        if name in forecast.columns:
            return name
    raise DataError(
        "expected a 'forecast' (forecast table) or 'offered' (KPI table) column",
        field="forecast",
    )


INTERVAL_CHOICES = (5, 6, 15, 30, 60)
# a handle-time forecast per row: > 0 s; an empty cell takes the queue's aht_s
_ROW_AHT = replace(
    FORECAST["aht_s"],
    min_exclusive=True,
    expected="a handle time > 0 seconds (or an empty cell for the queue's aht_s)",
)


def _declared_forecast(forecast: pd.DataFrame, volume_column: str) -> Table:
    """The forecast columns staffing reads (the volume under its own name, aht_s if given)."""
    names = ["interval_start", "queue", "forecast"]
    declared = FORECAST.subset(names, {"forecast": volume_column})
    if "aht_s" in forecast.columns:
        declared = replace(declared, columns=(*declared.columns, _ROW_AHT))
    return declared


def _check_spacing(table: pd.DataFrame, interval_minutes: int, given: bool) -> None:
    """DataError if the rows are spaced more finely than ``interval_minutes`` (or, for an
    explicit option, differently): counts per 15 minutes read as counts per hour would staff
    four times too low."""
    keys = ["queue"] + (["segment"] if "segment" in table.columns else [])
    ordered = table.sort_values([*keys, "interval_start"])
    steps = ordered.groupby(keys, sort=False)["interval_start"].diff().dt.total_seconds()
    steps = steps[steps > 0]
    if steps.empty:
        return
    spacing = float(steps.min()) / 60.0
    if spacing < interval_minutes or (given and spacing != interval_minutes):
        how = "--interval-minutes" if given else "the scenario's grid.interval_minutes"
        raise DataError(
            f"the rows are {spacing:g} minutes apart but {how} is {interval_minutes}: "
            f"volumes per {spacing:g} minutes would be read as per {interval_minutes}",
            field="interval_start",
        )


def requirements(
    forecast: pd.DataFrame, scenario: Scenario, *, interval_minutes: int | None = None
) -> pd.DataFrame:
    """Requirements table (see module doc and ``COLUMNS``) for a forecast table with columns
    ``interval_start, queue, forecast`` (contacts per interval) [``aht_s``] [``segment``]."""
    given_minutes = interval_minutes
    if interval_minutes is None:
        interval_minutes = scenario.grid.interval_minutes
    if interval_minutes not in INTERVAL_CHOICES:
        raise ParameterError(
            f"expected one of {', '.join(map(str, INTERVAL_CHOICES))}, got {interval_minutes}",
            field="interval_minutes",
        )
    for column in ("interval_start", "queue"):
        if column not in forecast.columns:
            raise DataError(f"missing column {column!r}", field=column)
    if forecast.empty:
        raise DataError("no rows (expected one row per queue and interval)")
    volume_column = _volume_column(forecast)
    declared = _declared_forecast(forecast, volume_column)
    table = check_table(forecast, declared, source="forecast", keys=False)
    volumes = table[volume_column]
    _check_spacing(table, interval_minutes, given_minutes is not None)
    table["_volume"] = volumes
    queue_aht = {queue.name: recorded_aht_s(queue) for queue in scenario.queues}
    default_aht = table["queue"].astype(str).map(queue_aht).astype(float)
    # rows without a handle-time forecast (empty) use the queue's AHT; volume-weighted
    row_aht = table["aht_s"].fillna(default_aht) if "aht_s" in table.columns else default_aht
    check_offered_load(
        (volumes / (interval_minutes * 60.0) * row_aht.fillna(0)).to_numpy(),
        line_of=lambda position: position + 2,
        field=volume_column,
    )
    table["_aht_weight"] = row_aht * table["_volume"]
    grouped = (
        table.groupby(["queue", "interval_start"], sort=True)
        .agg(_volume=("_volume", "sum"), _aht_weight=("_aht_weight", "sum"))
        .reset_index()
    )
    known = set(scenario.queue_names)
    unknown = sorted(set(grouped["queue"].astype(str)) - known)
    if unknown:
        first = int(np.flatnonzero((table["queue"].astype(str) == unknown[0]).to_numpy())[0])
        raise DataError(
            f"unknown queue {unknown[0]!r} (known: {', '.join(sorted(known))})",
            field="queue",
            line=first + 2,
        )
    interval_s = interval_minutes * 60.0
    parts = []
    for name, rows in grouped.groupby("queue", sort=False):
        queue = scenario.queue(str(name))
        rows = rows.sort_values("interval_start").reset_index(drop=True)
        aht = np.where(
            rows["_volume"] > 0,
            rows["_aht_weight"] / rows["_volume"].where(rows["_volume"] > 0, 1),
            np.nan,
        )
        aht = np.where(np.isfinite(aht) & (aht > 0), aht, recorded_aht_s(queue))
        parts.append(_queue_requirements(rows, queue, scenario, aht, interval_s))
    if not parts:
        return pd.DataFrame(columns=COLUMNS)
    result = pd.concat(parts, ignore_index=True)
    # queues with outbound work (blending) add their columns (openwfm.staffing.blending)
    return result[COLUMNS + [c for c in _OUTBOUND_COLUMNS if c in result.columns]]


def _queue_requirements(rows, queue: Queue, scenario: Scenario, aht, interval_s):
    lam = rows["_volume"].to_numpy(float) / interval_s
    target = queue.target
    out = pd.DataFrame(
        {
            "interval_start": rows["interval_start"],
            "queue": queue.name,
            "arrival_rate_per_s": lam,
            "aht_s": aht,
            "target_s": target.within_s,
            "target_service_level": target.service_level,
            "sl_definition": target.definition.value,
            "binding_segment": "queue",
        }
    )
    is_chat = queue.channel == Channel.CHAT or (
        queue.channel == Channel.MESSAGING and queue.max_concurrency > 1
    )
    if not queue.channel.is_live and queue.channel != Channel.CALLBACK:
        return _deferred(out, rows, queue, scenario, interval_s)
    if is_chat:
        return _chat(out, queue, scenario, lam)
    pat = queue.patience_s
    n = required_agents(
        lam,
        aht,
        target.within_s,
        target.service_level,
        patience_s=pat,
        max_occupancy=target.max_occupancy,
        max_abandon=target.max_abandon if pat else None,
        max_asa_s=target.max_asa_s,
        definition=target.definition.value,
    )
    n = np.atleast_1d(n)
    n, binding = _segments(n, lam, aht, queue, scenario)
    out["binding_segment"] = binding
    if queue.outbound_per_hour > 0:  # blending (no redials in that model: Erlang X's floor)
        from openwfm.staffing.blending import with_outbound

        if _with_redials(queue):
            n = _redials(out, n, lam, aht, queue)["required_agents"].to_numpy()
        else:
            out = _erlang_a_metrics(out, n, lam, aht, queue)
        return _scheduled(with_outbound(out, n, queue, scenario, interval_s), scenario)
    if _with_redials(queue):
        return _scheduled(_redials(out, n, lam, aht, queue), scenario)
    return _scheduled(_erlang_a_metrics(out, n, lam, aht, queue), scenario)


def _erlang_a_metrics(out, n, lam, aht, queue: Queue):
    """``out`` with ``n`` agents and Erlang A's (C's without patience) metrics for them."""
    target = queue.target
    pat = queue.patience_s
    metrics = erlang_a(lam, aht, np.inf if pat is None else pat, n, target.within_s)
    attr = {
        "offered": "service_level",
        "answered": "service_level_answered",
        "exclude_short_abandons": "service_level_excl_short",
    }[target.definition.value]
    out["required_agents"] = n
    out["model"] = "erlang_c" if pat is None else "erlang_a"
    out["expected_service_level"] = np.atleast_1d(getattr(metrics, attr))
    out["expected_asa_s"] = np.atleast_1d(metrics.asa_s)
    out["expected_abandon"] = np.atleast_1d(metrics.p_abandon)
    out["expected_occupancy"] = np.atleast_1d(metrics.occupancy)
    return out


def _with_redials(queue: Queue) -> bool:
    """Erlang X staffs the queue: callers abandon (``patience_s``) and redial
    (``redial_probability``), under a definition Erlang X computes (offered or answered)."""
    return (
        queue.redial_probability > 0
        and queue.patience_s is not None
        and queue.target.definition.value in ("offered", "answered")
    )


def _redials(out, n, lam, aht, queue: Queue):
    """Raise ``n`` (the Erlang A answer for every other target) to what Erlang X with the
    queue's redials needs (redials after ``redial_delay_s`` on average add load in bursts),
    and report Erlang X's metrics."""
    from openwfm.queueing import erlang_x, erlang_x_required_agents

    target = queue.target
    options = {
        "retrial_probability": queue.redial_probability,
        "retry_mean_s": queue.redial_delay_s,
    }
    need = erlang_x_required_agents(
        lam,
        aht,
        queue.patience_s,
        target.within_s,
        target.service_level,
        definition=target.definition.value,
        max_abandon=target.max_abandon,
        **options,
    )
    n = np.maximum(n, np.atleast_1d(need))
    metrics = erlang_x(lam, aht, queue.patience_s, n, np.inf, target.within_s, **options)
    key = "service_level" if target.definition.value == "offered" else "service_level_answered"
    out["required_agents"] = n
    out["model"] = "erlang_x"
    out["expected_service_level"] = np.atleast_1d(metrics[key])
    out["expected_asa_s"] = np.atleast_1d(metrics["asa_s"])
    out["expected_abandon"] = np.atleast_1d(metrics["p_abandon"])
    out["expected_occupancy"] = np.atleast_1d(metrics["occupancy"])
    return out


def _segments(n, lam, aht, queue: Queue, scenario: Scenario):
    """Raise ``n`` where a segment's own target needs more (non-preemptive priority model)."""
    binding = np.full(n.shape, "queue", dtype=object)
    shares = scenario.segment_shares(queue.name)
    if not any(queue.name in s.targets for s in scenario.segments) or len(shares) < 1:
        return n, binding
    classes = sorted(shares.items(), key=lambda item: -scenario.segment_priority(item[0]))
    theta = 0.0 if queue.patience_s is None else 1.0 / queue.patience_s
    a = lam * aht
    for position, (segment, share) in enumerate(classes):
        if share <= 0:
            continue
        target = scenario.target_for(queue.name, segment)
        higher = sum(s for _, s in classes[:position])

        def ok(index, agents, higher=higher, share=share, target=target):
            agents = agents.astype(float)
            mu_n = agents / aht[index]
            c = erlang_c(a[index], agents)
            with np.errstate(divide="ignore", invalid="ignore"):
                s_prev = lam[index] * higher / mu_n
                s_k = lam[index] * (higher + share) / mu_n
                rate = mu_n * (1 - s_prev) * (1 - s_k)  # C / W_k
                good = (s_k < 1) | (a[index] == 0)
                sl = 1 - c * np.exp(-rate * target.within_s)
                good &= (sl >= target.service_level - 1e-12) | (a[index] == 0)
                if target.max_abandon is not None and theta > 0:
                    good &= (c * theta / (theta + rate) <= target.max_abandon) | (a[index] == 0)
            return good

        lower = np.floor(a) + np.where(a > 0, 1, 0)
        need = least_integer(ok, lower, np.maximum(n, lower), np.ceil(a + 60 * np.sqrt(a) + 1000))
        raise_it = need > n
        binding[raise_it] = segment
        n = np.maximum(n, need)
    return n, binding


def recorded_aht_s(queue: Queue) -> float:
    """The per-contact handle time (s) a history records for ``queue`` when the scenario holds:
    for chat with ``aht_s_by_concurrency``, the time at full concurrency (the level a chat
    center runs at, and the one :mod:`openwfm.data.synthetic` generates), else ``aht_s``."""
    if queue.aht_s_by_concurrency:
        return float(queue.aht_s_by_concurrency[-1])
    return float(queue.aht_s)


def _chat(out, queue: Queue, scenario: Scenario, lam):
    target = queue.target
    levels = queue.aht_s_by_concurrency or [queue.aht_s] * queue.max_concurrency
    # the forecast's handle time is per chat as the history recorded it (at full concurrency):
    # it scales the levels against that one, not against the first level
    scale = out["aht_s"].to_numpy(float) / recorded_aht_s(queue)
    k = queue.max_concurrency
    n = np.zeros(lam.size, dtype=np.int64)
    metrics = {key: np.zeros(lam.size) for key in ("service_level", "p_abandon", "occupancy")}
    for factor in np.unique(scale):
        rows = np.flatnonzero(scale == factor)
        aht_levels = np.asarray(levels) * factor

        def ok(index, agents, rows=rows, aht_levels=aht_levels):
            m = chat_metrics(
                lam[rows][index], aht_levels, agents, target.within_s, queue.patience_s
            )
            good = m["service_level"] >= target.service_level - 1e-12
            if target.max_abandon is not None:
                good &= m["p_abandon"] <= target.max_abandon + 1e-12
            if target.max_occupancy is not None:
                good &= m["occupancy"] <= target.max_occupancy + 1e-12
            return good

        offered = lam[rows] * aht_levels[-1] / k
        guess = np.ceil(offered)
        need = least_integer(
            ok,
            np.zeros(rows.size),
            guess,
            np.ceil(lam[rows] * aht_levels[0] * 2 + 60 * np.sqrt(offered) + 50),
        )
        n[rows] = need
        m = chat_metrics(lam[rows], aht_levels, need, target.within_s, queue.patience_s)
        for key in metrics:
            metrics[key][rows] = m[key]
    out["required_agents"] = n
    out["model"] = "chat"
    out["expected_service_level"] = metrics["service_level"]
    out["expected_asa_s"] = np.nan
    out["expected_abandon"] = metrics["p_abandon"]
    out["expected_occupancy"] = metrics["occupancy"]
    return _scheduled(out, scenario)


def _deferred(out, rows, queue: Queue, scenario: Scenario, interval_s):
    target = queue.target
    starts = pd.to_datetime(rows["interval_start"])
    is_open = np.array([scenario.grid.is_open(ts.to_pydatetime()) for ts in starts])
    volume = rows["_volume"].to_numpy(float)
    # closed intervals' volume waits for the next open interval
    carried = np.zeros(volume.size)
    pending = 0.0
    for i in range(volume.size):
        pending += volume[i]
        if is_open[i]:
            carried[i], pending = pending, 0.0
    open_idx = np.flatnonzero(is_open)
    n = np.zeros(volume.size, dtype=np.int64)
    on_time = np.ones(volume.size)
    occupancy = np.zeros(volume.size)
    if open_idx.size:
        if target.business_hours:
            clock = np.arange(open_idx.size) * interval_s
        else:
            clock = (starts.iloc[open_idx] - starts.iloc[open_idx[0]]).dt.total_seconds().to_numpy()
        aht = float(
            np.average(
                out["aht_s"].to_numpy(float)[open_idx], weights=np.maximum(carried[open_idx], 1e-12)
            )
        )
        result = deferred_requirements(
            carried[open_idx],
            aht,
            interval_s,
            target.within_s,
            target.service_level,
            all_within_s=target.all_within_s,
            clock_s=clock,
        )
        n[open_idx] = result["agents"]
        on_time[open_idx] = result["on_time"]
        occupancy[open_idx] = result["occupancy"]
    out["required_agents"] = n
    out["model"] = "deferred"
    out["expected_service_level"] = on_time
    out["expected_asa_s"] = np.nan
    out["expected_abandon"] = 0.0
    out["expected_occupancy"] = occupancy
    return _scheduled(out, scenario)


def _scheduled(out, scenario: Scenario):
    out["required_agents"] = out["required_agents"].astype("int64")
    out["scheduled_agents"] = np.ceil(
        out["required_agents"] / (1.0 - scenario.shrinkage) - 1e-9
    ).astype("int64")
    return out

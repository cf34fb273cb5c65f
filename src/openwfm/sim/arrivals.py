"""Arrivals for the simulator: per-interval rates (non-homogeneous Poisson) or a replayed trace.

Rates tables have columns ``interval_start`` (local-naive timestamp), ``queue``, optional
``segment`` and ``arrival_rate_per_s`` (contacts per second, constant within the interval).
Without a ``segment`` column a queue's rate is split by the scenario's segment shares.
Simulation time is seconds after ``origin`` (a local-naive timestamp, midnight of day one).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from openwfm.data.schema import OFFERED_OUTCOMES
from openwfm.errors import DataError
from openwfm.model import Scenario, clock_seconds
from openwfm.sim.build import SimulationModel

PROFILE_STEP_S = 60  # resolution of the intraday demand shape
PROFILE_FLOOR = 0.05  # the quietest minute still gets 5% of the peak rate (no empty hours)


@dataclass
class Arrivals:
    """Sorted arrival stream: time (s after origin), queue and segment index, and the contact's
    own handle time and patience (-1: draw from the queue's distributions)."""

    time_s: np.ndarray
    queue: np.ndarray
    segment: np.ndarray
    handle_s: np.ndarray
    patience_s: np.ndarray

    def __len__(self) -> int:
        return int(self.time_s.shape[0])


def demand_rates(scenario: Scenario, start: dt.date, days: int) -> pd.DataFrame:
    """Rates per interval from each queue's ``demand`` (volume per day x weekday x peaks).

    The intraday shape is the sum of Gaussian peaks over the opening hours (flat without peaks,
    with a floor of 5% of the peak), normalised so that a day sums to ``contacts_per_day``.
    """
    grid = scenario.grid
    step = grid.interval_s
    rows = []
    for queue in scenario.queues:
        if queue.demand is None:
            continue
        demand = queue.demand
        shares = scenario.segment_shares(queue.name)
        for offset in range(days):
            day = start + dt.timedelta(days=offset)
            hours = grid.hours_on(day)
            if hours is None:
                continue
            weekday = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[day.weekday()]
            volume = demand.contacts_per_day * demand.weekday_factor.get(weekday, 1.0)
            centres = np.arange(hours.open_s, hours.close_s, PROFILE_STEP_S) + PROFILE_STEP_S / 2
            shape = np.zeros(centres.shape)
            for clock, weight in demand.peaks.items():
                shape += weight * np.exp(
                    -0.5 * ((centres - clock_seconds(clock)) / demand.peak_width_s) ** 2
                )
            shape = shape + (PROFILE_FLOOR * shape.max() if shape.max() > 0 else 1.0)
            shape = shape / shape.sum() * volume
            bins = (centres // step).astype(int)
            per_interval = np.bincount(bins - bins.min(), weights=shape)
            midnight = pd.Timestamp(day)
            for i, count in enumerate(per_interval):
                interval_start = midnight + pd.Timedelta(seconds=int((bins.min() + i) * step))
                lo = max(hours.open_s, (bins.min() + i) * step)
                hi = min(hours.close_s, (bins.min() + i + 1) * step)
                for segment, share in shares.items():
                    rows.append((interval_start, queue.name, segment, count * share / (hi - lo)))
    return pd.DataFrame(rows, columns=["interval_start", "queue", "segment", "arrival_rate_per_s"])


def check_rates(frame: pd.DataFrame, scenario: Scenario, source: str = "rates") -> pd.DataFrame:
    """Validate a rates table (:data:`openwfm.tables.RATES`; one-line :class:`DataError`
    naming the row); add segments.

    The result's index is the row's position in ``frame`` (a row split into segments keeps
    it), so per-row inputs such as rate factors follow their rows."""
    from openwfm.tables import RATES, check_table

    # offsets are converted to the center's time zone, the one place that does it
    checked = check_table(
        frame,
        RATES,
        source=source,
        choices={"queue": scenario.queue_names},
        timezone=scenario.grid.timezone,
    )
    out = checked[["interval_start", "queue", "arrival_rate_per_s"]].copy()
    if "segment" in checked.columns:
        out["segment"] = checked["segment"]
        return out
    parts = []
    for queue, group in out.groupby("queue", sort=False):
        for segment, share in scenario.segment_shares(queue).items():
            part = group.copy()
            part["segment"] = segment
            part["arrival_rate_per_s"] = part["arrival_rate_per_s"] * share
            parts.append(part)
    return pd.concat(parts)


@dataclass
class CompiledRates:
    """A checked rates table as arrays: interval start (s after origin), queue and segment
    index, expected contacts in the interval, and the row of the rates table as given
    (``source_row``, of ``source_rows``) each one came from."""

    start_s: np.ndarray
    queue: np.ndarray
    segment: np.ndarray
    expected: np.ndarray
    interval_s: float
    source_row: np.ndarray
    source_rows: int

    def scaled(self, factor: np.ndarray) -> CompiledRates:
        """These rates with each given row's expected contacts multiplied by ``factor[row]``
        (``source_rows`` factors)."""
        return dataclasses.replace(self, expected=self.expected * factor[self.source_row])


def compile_rates(
    rates: pd.DataFrame,
    model: SimulationModel,
    origin: pd.Timestamp,
    interval_s: float,
    source_rows: int | None = None,
) -> CompiledRates:
    """``rates`` as :func:`check_rates` returns it (index: the row as given, of
    ``source_rows``, default ``len(rates)``) as arrays on the simulation clock."""
    if source_rows is None:
        source_rows = len(rates)
    queue_index = {name: i for i, name in enumerate(model.queue_names)}
    segment_index = {name: i for i, name in enumerate(model.segment_names)}
    unknown = set(rates["segment"]) - set(segment_index)
    if unknown:
        raise DataError(f"unknown segment {sorted(unknown)[0]!r}", field="segment")
    start_s = (pd.to_datetime(rates["interval_start"]) - origin).dt.total_seconds().to_numpy()
    # the table's own interval length: the smallest step between its interval starts
    steps = np.diff(np.unique(start_s))
    length_s = float(steps[steps > 0].min()) if (steps > 0).any() else float(interval_s)
    return CompiledRates(
        start_s=start_s,
        queue=rates["queue"].map(queue_index).to_numpy(dtype=np.int64),
        segment=rates["segment"].map(segment_index).to_numpy(dtype=np.int64),
        expected=rates["arrival_rate_per_s"].to_numpy(dtype=float) * length_s,
        interval_s=length_s,
        source_row=rates.index.to_numpy(dtype=np.int64),
        source_rows=source_rows,
    )


def sample_arrivals(rates: CompiledRates, rng: np.random.Generator) -> Arrivals:
    """Draw a non-homogeneous Poisson stream: per row, Poisson(rate x length) uniform times."""
    counts = rng.poisson(rates.expected)
    total = int(counts.sum())
    row = np.repeat(np.arange(len(counts)), counts)
    times = rates.start_s[row] + rng.random(total) * rates.interval_s
    order = np.argsort(times, kind="stable")
    row = row[order]
    return Arrivals(
        time_s=times[order],
        queue=rates.queue[row],
        segment=rates.segment[row],
        handle_s=np.full(total, -1.0),
        patience_s=np.full(total, -1.0),
    )


def trace_arrivals(
    interactions: pd.DataFrame,
    model: SimulationModel,
    origin: pd.Timestamp,
    queue_map: dict[str, str] | None = None,
    source: str = "interactions",
    drop_unknown_queues: bool = False,
) -> Arrivals:
    """Replay the offered contacts of an interactions table (schema in openwfm.data.schema).

    Arrival times, queues and segments are the recorded ones; answered contacts keep their
    recorded handle time, the others draw one. Patience is always drawn (it is only censored
    in the data). ``queue_map`` renames source queues (e.g. all to one queue); unknown queues
    are an error unless ``drop_unknown_queues``; unknown segments become ``default``.
    """
    offered = interactions[interactions["outcome"].isin(OFFERED_OUTCOMES)]
    queues = offered["queue"].astype(str)
    if queue_map:
        queues = queues.map(lambda name: queue_map.get(name, name))
    queue_index = {name: i for i, name in enumerate(model.queue_names)}
    unknown = ~queues.isin(list(queue_index))
    if unknown.any() and drop_unknown_queues:
        offered, queues = offered[~unknown], queues[~unknown]
    elif unknown.any():
        raise DataError(
            f"unknown queue {queues[unknown].iloc[0]!r} (known: {', '.join(model.queue_names)})",
            file=source,
            field="queue",
        )
    segment_index = {name: i for i, name in enumerate(model.segment_names)}
    segments = (
        offered["segment"]
        .astype(str)
        .where(offered["segment"].astype(str).isin(list(segment_index)), "default")
    )
    if "default" not in segment_index and (segments == "default").any():
        raise DataError("unknown segment in the trace", file=source, field="segment")
    time_s = (offered["arrival_time"] - origin).dt.total_seconds().to_numpy()
    handle = offered["handle_s"].to_numpy(dtype=float)
    handle = np.where(
        (offered["outcome"] == "answered").to_numpy() & np.isfinite(handle), handle, -1
    )
    order = np.argsort(time_s, kind="stable")
    return Arrivals(
        time_s=time_s[order],
        queue=queues.map(queue_index).to_numpy(dtype=np.int64)[order],
        segment=segments.map(segment_index).to_numpy(dtype=np.int64)[order],
        handle_s=handle[order],
        patience_s=np.full(len(order), -1.0),
    )

"""Replications: seeded, independent, run through Dask, summarised with confidence intervals.

Each replication gets its own seeds from ``numpy.random.SeedSequence(seed).spawn(n)``, so a
run is reproducible whatever the scheduler and the order replications finish in.

Schedulers: ``threads`` (default): Dask's threaded scheduler; the compiled engine releases the
GIL, so replications run in parallel on all local cores without starting processes or copying
the model. ``sync``: one after another (debugging). ``local``: a ``distributed.LocalCluster``
(one single-threaded worker process per core). Anything else is the address of a running Dask
scheduler (``tcp://host:8786``).
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from openwfm.errors import DataError, ParameterError
from openwfm.model import RoutingConfig, Scenario
from openwfm.sim import agents as agent_sources
from openwfm.sim.agents import AvailableSpans
from openwfm.sim.arrivals import (
    Arrivals,
    CompiledRates,
    check_rates,
    compile_rates,
    demand_rates,
    sample_arrivals,
)
from openwfm.sim.build import SimulationModel, build_model
from openwfm.sim.engine import run_replication
from openwfm.sim.metrics import replication_counts, summarize
from openwfm.sim.shrinkage import apply_shrinkage

DEFAULT_START = dt.date(2024, 1, 1)  # a Monday: the default horizon is one fixed week


@dataclass
class SimulationResult:
    """Tables of a simulation run.

    ``intervals``: per queue x segment x interval (plus ``all`` roll-ups), each metric with
    ``_ci_low`` / ``_ci_high``; ``summary``: the same over the horizon; ``replications``: per
    replication and queue. ``events``: engine events processed over all replications;
    ``elapsed_s``: wall time of the replications.
    """

    intervals: pd.DataFrame
    summary: pd.DataFrame
    replications: pd.DataFrame
    events: int
    contacts: int
    elapsed_s: float
    info: dict = field(default_factory=dict)

    def metric(self, name: str, queue: str = "all", segment: str = "all") -> tuple:
        """(mean, ci_low, ci_high) of a summary metric."""
        row = self.summary[(self.summary["queue"] == queue) & (self.summary["segment"] == segment)]
        if row.empty:
            raise ParameterError(f"no summary row for {queue}/{segment}", field="queue")
        row = row.iloc[0]
        return row[name], row[f"{name}_ci_low"], row[f"{name}_ci_high"]


@dataclass
class PreparedSimulation:
    """Checked and compiled inputs: what one replication needs (small, picklable)."""

    model: SimulationModel
    origin: pd.Timestamp
    interval_s: float
    n_intervals: int
    availability: AvailableSpans
    rates: CompiledRates | None
    trace: Arrivals | None
    warmup_s: float
    shrinkage: float = 0.0  # share of available time lost at random (openwfm.sim.shrinkage)


@dataclass
class Replication:
    """One replication's draws and the event engine's rows (columns: :mod:`openwfm.sim.engine`).

    ``availability`` is the prepared spans after shrinkage took its random share away; the first
    ``n_contacts`` rows of ``floats`` / ``ints`` are the contacts in arrival order."""

    arrivals: Arrivals
    availability: AvailableSpans
    floats: np.ndarray
    ints: np.ndarray
    n_contacts: int
    n_events: int


def simulate_replication(
    prepared: PreparedSimulation,
    seed: np.random.SeedSequence,
    rate_factor: np.ndarray | None = None,
) -> Replication:
    """Draw one replication (arrivals, absences, the engine's seed) from ``seed`` and run it.

    ``rate_factor``: this replication's multiplier of the expected arrivals, one per row of the
    rates table given to :func:`prepare` (forecast uncertainty); None = the rates as given.

    The one place that turns a seed into a simulated day: ``run_one``, the digital twin and
    the quality routing comparison all call it, so they draw exactly the same day."""
    # the first two children are the same whether two or three are spawned: a run without
    # shrinkage draws exactly what it drew before shrinkage was modelled
    arrival_seed, engine_seed, absence_seed = seed.spawn(3)
    if prepared.trace is not None:
        arrivals = prepared.trace
    else:
        rates = prepared.rates if rate_factor is None else prepared.rates.scaled(rate_factor)
        arrivals = sample_arrivals(rates, np.random.default_rng(arrival_seed))
    availability = apply_shrinkage(
        prepared.availability,
        prepared.shrinkage,
        prepared.interval_s,
        np.random.default_rng(absence_seed),
    )
    shift_s, shift_agent, shift_on = availability.events()
    m = prepared.model
    floats, ints, n_contacts, n_events = run_replication(
        int(engine_seed.generate_state(1)[0] % (2**31 - 1)),
        m.tables,
        m.queues,
        m.proficiency,
        m.capacity,
        m.n_segments,
        arrivals.time_s,
        arrivals.queue,
        arrivals.segment,
        arrivals.handle_s,
        arrivals.patience_s,
        shift_s,
        shift_agent,
        shift_on,
    )
    return Replication(arrivals, availability, floats, ints, int(n_contacts), int(n_events))


def replication_table(prepared: PreparedSimulation, replication: Replication) -> dict:
    """Interval counts of one replication (:func:`openwfm.sim.metrics.replication_counts`)."""
    return replication_counts(
        replication.floats,
        replication.ints,
        prepared.model,
        replication.availability,
        prepared.origin,
        prepared.interval_s,
        prepared.n_intervals,
        prepared.warmup_s,
    )


def run_one(
    prepared: PreparedSimulation,
    seed: np.random.SeedSequence,
    rate_factor: np.ndarray | None = None,
) -> tuple[dict, int, int]:
    """One replication: (counts, events, contacts)."""
    replication = simulate_replication(prepared, seed, rate_factor)
    counts = replication_table(prepared, replication)
    return counts, replication.n_events, replication.n_contacts


def _execute(
    prepared: PreparedSimulation,
    seeds: list[np.random.SeedSequence],
    rate_factors: np.ndarray | None,
    scheduler: str,
    advance: Callable[[], None],
) -> list[tuple[dict, int, int]]:
    """Run the replications through Dask; returns results in seed order. ``advance`` is called
    once per finished replication."""
    factors = [None] * len(seeds) if rate_factors is None else list(rate_factors)
    if scheduler in ("threads", "sync"):
        import dask
        from dask.callbacks import Callback

        class Advance(Callback):
            def _posttask(self, key, result, dsk, state, worker_id):
                name = key[0] if isinstance(key, tuple) else key
                if str(name).startswith("run_one"):
                    advance()

        # the inputs are shared, not traversed: Dask must not unpack their arrays and tables
        shared = dask.delayed(prepared, traverse=False)
        jobs = [
            dask.delayed(run_one, pure=False)(shared, s, dask.delayed(f, traverse=False))
            for s, f in zip(seeds, factors, strict=True)
        ]
        with Advance():
            return list(dask.compute(*jobs, scheduler=scheduler))
    from distributed import Client, LocalCluster, as_completed

    if scheduler == "local":
        cluster = LocalCluster(n_workers=None, threads_per_worker=1, processes=True)
        client = Client(cluster)
    else:
        try:
            cluster, client = None, Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as error:
            raise ParameterError(
                f"cannot reach the Dask scheduler at {scheduler} ({type(error).__name__})",
                field="--scheduler",
            ) from None
    try:
        futures = client.map(run_one, [prepared] * len(seeds), seeds, factors, pure=False)
        for _ in as_completed(futures):
            advance()
        return client.gather(futures)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _empirical_handle_s(
    trace: pd.DataFrame, scenario: Scenario, trace_queue_map: dict | None
) -> dict[str, np.ndarray]:
    """A replayed log's handle times per queue (s): contacts without a recorded handle time
    (abandoned ones) draw from the log's own handle times of the same queue."""
    answered = trace[(trace["outcome"] == "answered") & (trace["handle_s"] > 0)]
    queues = answered["queue"].astype(str)
    if trace_queue_map:
        queues = queues.map(lambda name: trace_queue_map.get(name, name))
    return {
        name: group.to_numpy(dtype=float)
        for name, group in answered["handle_s"].groupby(queues)
        if name in scenario.queue_names
    }


def _first_day(
    trace: pd.DataFrame | None, rates: pd.DataFrame | None, schedule: pd.DataFrame | None
) -> dt.date:
    """The first simulated day: the trace's, else the rates', else the schedule's first day."""
    if trace is not None:
        return pd.to_datetime(trace["arrival_time"]).min().date()
    if rates is not None and len(rates):
        return rates["interval_start"].min().date()
    if schedule is not None:
        first = "interval_start" if "interval_start" in schedule.columns else "start"
        return pd.to_datetime(schedule[first]).min().date()
    return DEFAULT_START


def _days_covered(
    origin: pd.Timestamp, trace: pd.DataFrame | None, rates: pd.DataFrame | None
) -> int:
    """Whole days from ``origin`` to the last arrival or rate row (a week without either)."""
    if trace is not None:
        last = pd.to_datetime(trace["arrival_time"]).max()
    elif rates is not None and len(rates):
        last = rates["interval_start"].max()
    else:
        return 7
    return max(1, (last.normalize() - origin).days + 1)


def _available_spans(
    model: SimulationModel,
    schedule: pd.DataFrame | None,
    origin: pd.Timestamp,
    days: int,
    interval_s: float,
    always_on_s: float | None,
    source: str,
) -> AvailableSpans:
    """When the agents work: always (``always_on_s``), the opening hours, or the schedule in
    one of its three shapes (activity grid, shifts, counts; :mod:`openwfm.sim.agents`)."""
    if always_on_s is not None:
        return agent_sources.always(model, always_on_s)
    if schedule is None:
        return agent_sources.opening_hours(model, origin, days)
    if {"agent", "interval_start", "activity"} <= set(schedule.columns):
        return agent_sources.from_activities(schedule, model, origin, interval_s, source)
    if "agent" in schedule.columns:
        return agent_sources.from_schedule(schedule, model, origin, source)
    if "agents" not in schedule.columns:
        raise DataError(
            "expected one of three shapes: shifts (agent, start, end, activity), an activity "
            "grid (agent, interval_start, activity) or agents per interval (interval_start, "
            f"agents); the file has {', '.join(map(str, schedule.columns))}",
            file=source,
            field="agent",
        )
    return agent_sources.from_counts(schedule, model, origin, interval_s, source)


def _check_rates_inside(rates: pd.DataFrame, origin: pd.Timestamp, days: int) -> None:
    """ParameterError when no given rate row lies in the simulated days."""
    end = origin + pd.Timedelta(days=days)
    inside = (rates["interval_start"] >= origin) & (rates["interval_start"] < end)
    if not inside.any():
        raise ParameterError(
            f"the arrivals ({rates['interval_start'].min():%Y-%m-%d} to "
            f"{rates['interval_start'].max():%Y-%m-%d}) lie outside the simulated days "
            f"({origin:%Y-%m-%d} + {days} days): nothing would arrive",
            field="--start",
        )


def prepare(
    scenario: Scenario,
    *,
    routing: RoutingConfig | None = None,
    rates: pd.DataFrame | None = None,
    trace: pd.DataFrame | None = None,
    schedule: pd.DataFrame | None = None,
    start: dt.date | None = None,
    days: int | None = None,
    always_on_s: float | None = None,
    warmup_s: float = 0.0,
    interval_s: float | None = None,
    empirical_handle_s: dict | None = None,
    patience_mean_s: dict | None = None,
    trace_queue_map: dict | None = None,
    drop_unknown_queues: bool = False,
    sources: dict | None = None,
    shrinkage: float = 0.0,
) -> PreparedSimulation:
    """Check and compile all inputs before anything runs (bad input fails here, in one line).

    ``shrinkage`` (0..1): the share of the agents' available time lost at random beyond the
    schedule's breaks (meetings, absence; see :mod:`openwfm.sim.shrinkage`); 0 = none."""
    from openwfm.sim.arrivals import trace_arrivals

    if not 0.0 <= shrinkage < 1.0:
        raise ParameterError(f"expected 0 <= shrinkage < 1, got {shrinkage}", field="shrinkage")
    sources = sources or {}
    if trace is not None and empirical_handle_s is None:
        empirical_handle_s = _empirical_handle_s(trace, scenario, trace_queue_map)
    model = build_model(scenario, routing, empirical_handle_s, patience_mean_s)
    interval_s = float(interval_s or scenario.grid.interval_s)
    given_rows = None if rates is None else len(rates)
    if rates is not None:
        rates = check_rates(rates, scenario, sources.get("arrivals", "arrivals"))
    start = start or _first_day(trace, rates, schedule)
    origin = pd.Timestamp(start)
    if days is None:
        days = _days_covered(origin, trace, rates)
    if always_on_s is not None:
        days = max(days, math.ceil(always_on_s / 86400))
    if rates is None and trace is None:
        rates = check_rates(demand_rates(scenario, start, days), scenario, "scenario demand")
        if rates.empty:
            raise ParameterError("no queue has demand and no arrivals given", field="arrivals")
    availability = _available_spans(
        model, schedule, origin, days, interval_s, always_on_s, sources.get("schedule", "schedule")
    )
    arrivals = None
    if trace is not None:
        arrivals = trace_arrivals(
            trace,
            model,
            origin,
            trace_queue_map,
            sources.get("arrivals", "arrivals"),
            drop_unknown_queues,
        )
    n_intervals = int(math.ceil(days * 86400 / interval_s))
    if rates is not None and len(rates) and given_rows is not None:
        _check_rates_inside(rates, origin, days)
    compiled = None
    if rates is not None:
        compiled = compile_rates(rates, model, origin, interval_s, given_rows)
    _outbound_thresholds(model, compiled, availability, origin, interval_s, n_intervals)
    return PreparedSimulation(
        model,
        origin,
        interval_s,
        n_intervals,
        availability,
        compiled,
        arrivals,
        warmup_s,
        shrinkage,
    )


def _outbound_thresholds(model, rates, availability, origin, interval_s, n_intervals) -> None:
    """Outbound work (blending): the calls asked by each interval boundary, and thresholds
    per interval where none is declared (:mod:`openwfm.sim.outbound`)."""
    if not np.any(model.queues.outbound_aht_s > 0):
        return
    from openwfm.sim.outbound import asked_by_boundary, interval_thresholds

    table = interval_thresholds(model, rates, availability, interval_s, n_intervals)
    model.queues = model.queues._replace(
        outbound_threshold=model.queues.outbound_threshold if table is None else table,
        outbound_asked=asked_by_boundary(model, origin, interval_s, n_intervals),
        outbound_interval_s=np.array([float(interval_s)]),
    )


def check_scheduler(scheduler: str) -> None:
    """``threads``, ``sync``, ``local`` or a scheduler address (``host:port``)."""
    if scheduler not in ("threads", "sync", "local") and ":" not in scheduler:
        raise ParameterError(
            f"expected threads, sync, local or a scheduler address host:port, got {scheduler!r}",
            field="--scheduler",
        )


def _check_rate_factors(
    prepared: PreparedSimulation, rate_factors: np.ndarray | None, replications: int
) -> np.ndarray | None:
    """``rate_factors`` as a float array ``[replication, rates row]`` of finite values >= 0."""
    if rate_factors is None:
        return None
    factors = np.asarray(rate_factors, dtype=float)
    if prepared.rates is None:
        raise ParameterError("rate factors need a rates table (not a trace)", field="rate_factors")
    expected = (replications, prepared.rates.source_rows)
    if factors.shape != expected:
        raise ParameterError(
            f"expected shape {expected} (replications x rates rows), got {factors.shape}",
            field="rate_factors",
        )
    if not (np.isfinite(factors).all() and (factors >= 0).all()):
        raise ParameterError("expected finite factors >= 0", field="rate_factors")
    return factors


def _contacts_per_replication(prepared: PreparedSimulation, factors: np.ndarray | None) -> float:
    """Expected contacts of the busiest replication (for the memory guard)."""
    contacts = 0.0
    if prepared.rates is not None:
        expected = prepared.rates.expected
        if factors is None:
            contacts += float(np.sum(expected))
        else:
            contacts += float(np.max(factors[:, prepared.rates.source_row] @ expected))
    if prepared.trace is not None:
        contacts += float(len(prepared.trace))
    return contacts


def run_prepared(
    prepared: PreparedSimulation,
    replications: int = 10,
    seed: int = 0,
    scheduler: str = "threads",
    progress: bool = False,
    *,
    rate_factors: np.ndarray | None = None,
    on_replication: Callable[[], None] | None = None,
) -> SimulationResult:
    """Run ``replications`` seeded replications of ``prepared`` through Dask (``scheduler``).

    ``rate_factors`` (``[replication, row of the rates table]``, >= 0): replication ``r``
    draws its arrivals from the rates times ``rate_factors[r]`` (forecast uncertainty; see
    :func:`openwfm.sim.uncertainty.sample_rate_factors`). ``progress`` shows a progress bar;
    ``on_replication`` is called instead once per finished replication."""
    check_scheduler(scheduler)
    if replications < 1:
        raise ParameterError(f"expected >= 1 replication, got {replications}", field="replications")
    if isinstance(seed, bool) or int(seed) < 0:
        raise ParameterError(f"expected a seed >= 0, got {seed}", field="seed")
    from openwfm.limits import check_simulated_contacts

    factors = _check_rate_factors(prepared, rate_factors, replications)
    check_simulated_contacts(_contacts_per_replication(prepared, factors), replications)
    seeds = np.random.SeedSequence(seed).spawn(replications)
    began = time.perf_counter()
    if on_replication is not None:
        results = _execute(prepared, seeds, factors, scheduler, on_replication)
    else:
        from rich.progress import Progress

        with Progress(transient=True, disable=not progress) as bar:
            task = bar.add_task(f"simulating {replications} replications", total=replications)
            results = _execute(prepared, seeds, factors, scheduler, lambda: bar.advance(task))
    elapsed = time.perf_counter() - began
    counts = [r[0] for r in results]
    intervals, summary, per_rep = summarize(
        counts, prepared.model, prepared.origin, prepared.interval_s
    )
    model = prepared.model
    return SimulationResult(
        intervals=intervals,
        summary=summary,
        replications=per_rep,
        events=sum(r[1] for r in results),
        contacts=sum(r[2] for r in results),
        elapsed_s=elapsed,
        info={
            "replications": replications,
            "seed": seed,
            "start": str(prepared.origin.date()),
            "interval_s": prepared.interval_s,
            "shrinkage": prepared.shrinkage,
            "policy": model.scenario.routing.policy
            if model.tables is None
            else list(model.policy.config.model_dump().items())[0][1],
        },
    )


def simulate(
    scenario: Scenario,
    *,
    replications: int = 10,
    seed: int = 0,
    scheduler: str = "threads",
    progress: bool = False,
    rate_factors: np.ndarray | None = None,
    on_replication: Callable[[], None] | None = None,
    **inputs,
) -> SimulationResult:
    """Simulate ``scenario`` ``replications`` times; see :func:`prepare` for the inputs.

    Arrivals: ``rates`` (per-interval table), ``trace`` (interactions table to replay), or the
    scenario's queue demand from ``start`` over ``days`` (default: the week of 2024-01-01).
    Agents: ``schedule`` (shifts and breaks, or counts per interval), ``always_on_s`` (all
    agents from 0 to that time) or the opening hours. ``warmup_s``: contacts arriving earlier
    are left out of the KPIs (steady-state studies). ``rate_factors``
    (``[replication, rates row]``): per-replication multipliers of the ``rates`` (forecast
    uncertainty, :func:`openwfm.sim.uncertainty.sample_rate_factors`). ``on_replication``:
    called once per finished replication (a caller's own progress display).
    """
    prepared = prepare(scenario, **inputs)
    return run_prepared(
        prepared,
        replications,
        seed,
        scheduler,
        progress,
        rate_factors=rate_factors,
        on_replication=on_replication,
    )

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
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from openwfm.errors import ParameterError
from openwfm.model import RoutingConfig, Scenario
from openwfm.sim import agents as agent_sources
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
class Plan:
    """What one replication needs (small, picklable)."""

    model: SimulationModel
    origin: pd.Timestamp
    interval_s: float
    n_intervals: int
    availability: agent_sources.Availability
    rates: CompiledRates | None
    trace: Arrivals | None
    warmup_s: float
    shrinkage: float = 0.0  # share of available time lost at random (openwfm.sim.shrinkage)


@dataclass
class Replication:
    """One replication's draws and the event engine's rows (columns: :mod:`openwfm.sim.engine`).

    ``availability`` is the plan's after shrinkage took its random share away; the first
    ``n_contacts`` rows of ``floats`` / ``ints`` are the contacts in arrival order."""

    arrivals: Arrivals
    availability: agent_sources.Availability
    floats: np.ndarray
    ints: np.ndarray
    n_contacts: int
    n_events: int


def simulate_replication(plan: Plan, seed: np.random.SeedSequence) -> Replication:
    """Draw one replication (arrivals, absences, the engine's seed) from ``seed`` and run it.

    The one place that turns a seed into a simulated day: ``run_one``, the digital twin and
    the quality routing comparison all call it, so they draw exactly the same day."""
    # the first two children are the same whether two or three are spawned: a run without
    # shrinkage draws exactly what it drew before shrinkage was modelled
    arrival_seed, engine_seed, absence_seed = seed.spawn(3)
    if plan.trace is not None:
        arrivals = plan.trace
    else:
        arrivals = sample_arrivals(plan.rates, np.random.default_rng(arrival_seed))
    availability = apply_shrinkage(
        plan.availability, plan.shrinkage, plan.interval_s, np.random.default_rng(absence_seed)
    )
    shift_s, shift_agent, shift_on = availability.events()
    m = plan.model
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


def replication_table(plan: Plan, replication: Replication) -> dict:
    """Interval counts of one replication (:func:`openwfm.sim.metrics.replication_counts`)."""
    return replication_counts(
        replication.floats,
        replication.ints,
        plan.model,
        replication.availability,
        plan.origin,
        plan.interval_s,
        plan.n_intervals,
        plan.warmup_s,
    )


def run_one(plan: Plan, seed: np.random.SeedSequence) -> tuple[dict, int, int]:
    """One replication: (counts, events, contacts)."""
    replication = simulate_replication(plan, seed)
    counts = replication_table(plan, replication)
    return counts, replication.n_events, replication.n_contacts


def _execute(plan: Plan, seeds, scheduler: str, progress: bool):
    """Run the replications through Dask; returns results in seed order."""
    from rich.progress import Progress

    n = len(seeds)
    with Progress(transient=True, disable=not progress) as bar:
        task = bar.add_task(f"simulating {n} replications", total=n)
        if scheduler in ("threads", "sync"):
            import dask
            from dask.callbacks import Callback

            class Advance(Callback):
                def _posttask(self, key, result, dsk, state, worker_id):
                    if isinstance(key, tuple) and str(key[0]).startswith("run_one"):
                        bar.advance(task)
                    elif str(key).startswith("run_one"):
                        bar.advance(task)

            # the plan is shared, not traversed: Dask must not unpack its arrays and tables
            shared = dask.delayed(plan, traverse=False)
            jobs = [dask.delayed(run_one, pure=False)(shared, s) for s in seeds]
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
            futures = client.map(run_one, [plan] * n, seeds, pure=False)
            for _ in as_completed(futures):
                bar.advance(task)
            return client.gather(futures)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


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
) -> Plan:
    """Check and compile all inputs before anything runs (bad input fails here, in one line).

    ``shrinkage`` (0..1): the share of the agents' available time lost at random beyond the
    schedule's breaks (meetings, absence; see :mod:`openwfm.sim.shrinkage`); 0 = none."""
    from openwfm.sim.arrivals import trace_arrivals

    if not 0.0 <= shrinkage < 1.0:
        raise ParameterError(f"expected 0 <= shrinkage < 1, got {shrinkage}", field="shrinkage")
    sources = sources or {}
    if trace is not None and empirical_handle_s is None:
        # a replayed log: contacts without a recorded handle time (abandoned ones) draw from
        # the log's own handle times of the same queue (the empirical distribution)
        answered = trace[(trace["outcome"] == "answered") & (trace["handle_s"] > 0)]
        queues = answered["queue"].astype(str)
        if trace_queue_map:
            queues = queues.map(lambda name: trace_queue_map.get(name, name))
        empirical_handle_s = {
            name: group.to_numpy(dtype=float)
            for name, group in answered["handle_s"].groupby(queues)
            if name in scenario.queue_names
        }
    model = build_model(scenario, routing, empirical_handle_s, patience_mean_s)
    interval_s = float(interval_s or scenario.grid.interval_s)
    user_rates = rates is not None
    if rates is not None:
        rates = check_rates(rates, scenario, sources.get("arrivals", "arrivals"))
    if trace is not None and start is None:
        start = pd.to_datetime(trace["arrival_time"]).min().date()
    if rates is not None and start is None and len(rates):
        start = rates["interval_start"].min().date()
    if schedule is not None and start is None:
        first = "interval_start" if "interval_start" in schedule.columns else "start"
        start = pd.to_datetime(schedule[first]).min().date()
    start = start or DEFAULT_START
    origin = pd.Timestamp(start)
    if days is None:
        if trace is not None:
            last = pd.to_datetime(trace["arrival_time"]).max()
        elif rates is not None and len(rates):
            last = rates["interval_start"].max()
        else:
            last = None
        days = 7 if last is None else max(1, (last.normalize() - origin).days + 1)
    if always_on_s is not None:
        days = max(days, math.ceil(always_on_s / 86400))
    if rates is None and trace is None:
        rates = check_rates(demand_rates(scenario, start, days), scenario, "scenario demand")
        if rates.empty:
            raise ParameterError("no queue has demand and no arrivals given", field="arrivals")
    source = sources.get("schedule", "schedule")
    if always_on_s is not None:
        availability = agent_sources.always(model, always_on_s)
    elif schedule is None:
        availability = agent_sources.opening_hours(model, origin, days)
    elif {"agent", "interval_start", "activity"} <= set(schedule.columns):
        availability = agent_sources.from_activities(schedule, model, origin, interval_s, source)
    elif "agent" in schedule.columns:
        availability = agent_sources.from_schedule(schedule, model, origin, source)
    else:
        availability = agent_sources.from_counts(schedule, model, origin, interval_s, source)
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
    if rates is not None and len(rates) and user_rates:
        end = origin + pd.Timedelta(days=days)
        inside = (rates["interval_start"] >= origin) & (rates["interval_start"] < end)
        if not inside.any():
            raise ParameterError(
                f"the arrivals ({rates['interval_start'].min():%Y-%m-%d} to "
                f"{rates['interval_start'].max():%Y-%m-%d}) lie outside the simulated days "
                f"({origin:%Y-%m-%d} + {days} days): nothing would arrive",
                field="--start",
            )
    if rates is not None:
        rates = compile_rates(rates, model, origin, interval_s)
    return Plan(
        model, origin, interval_s, n_intervals, availability, rates, arrivals, warmup_s, shrinkage
    )


def check_scheduler(scheduler: str) -> None:
    """``threads``, ``sync``, ``local`` or a scheduler address (``host:port``)."""
    if scheduler not in ("threads", "sync", "local") and ":" not in scheduler:
        raise ParameterError(
            f"expected threads, sync, local or a scheduler address host:port, got {scheduler!r}",
            field="--scheduler",
        )


def run_plan(
    plan: Plan,
    replications: int = 10,
    seed: int = 0,
    scheduler: str = "threads",
    progress: bool = False,
) -> SimulationResult:
    check_scheduler(scheduler)
    if replications < 1:
        raise ParameterError(f"expected >= 1 replication, got {replications}", field="replications")
    if isinstance(seed, bool) or int(seed) < 0:
        raise ParameterError(f"expected a seed >= 0, got {seed}", field="seed")
    from openwfm.limits import check_simulated_contacts

    per_replication = 0.0
    if plan.rates is not None:
        per_replication += float(np.sum(plan.rates.expected))
    if plan.trace is not None:
        per_replication += float(len(plan.trace))
    check_simulated_contacts(per_replication, replications)
    seeds = np.random.SeedSequence(seed).spawn(replications)
    began = time.perf_counter()
    results = _execute(plan, seeds, scheduler, progress)
    elapsed = time.perf_counter() - began
    counts = [r[0] for r in results]
    intervals, summary, per_rep = summarize(counts, plan.model, plan.origin, plan.interval_s)
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
            "start": str(plan.origin.date()),
            "interval_s": plan.interval_s,
            "shrinkage": plan.shrinkage,
            "policy": plan.model.scenario.routing.policy
            if plan.model.tables is None
            else list(plan.model.policy.config.model_dump().items())[0][1],
        },
    )


def simulate(
    scenario: Scenario,
    *,
    replications: int = 10,
    seed: int = 0,
    scheduler: str = "threads",
    progress: bool = False,
    **inputs,
) -> SimulationResult:
    """Simulate ``scenario`` ``replications`` times; see :func:`prepare` for the inputs.

    Arrivals: ``rates`` (per-interval table), ``trace`` (interactions table to replay), or the
    scenario's queue demand from ``start`` over ``days`` (default: the week of 2024-01-01).
    Agents: ``schedule`` (shifts and breaks, or counts per interval), ``always_on_s`` (all
    agents from 0 to that time) or the opening hours. ``warmup_s``: contacts arriving earlier
    are left out of the KPIs (steady-state studies).
    """
    plan = prepare(scenario, **inputs)
    return run_plan(plan, replications, seed, scheduler, progress)

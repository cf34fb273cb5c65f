"""The plan's stages as typed functions, each a call into its own package, cached by key.

Each stage takes the upstream stage's key and output, looks itself up in the
:class:`~openwfm.plan.cache.StageCache` under a key hashed from everything that can change it
(the upstream key, the scenario, its options, :func:`~openwfm.plan.cache.code_fingerprint`) and
returns a :class:`StageOutput`: the key for the stages after it, the value and whether it was
read from the cache.

1. :func:`history_stage`: interactions from log files (ingested into ``out_dir/openwfm.duckdb``),
   an existing DuckDB store, an interactions table, or generated from the scenario's demand
   (:func:`openwfm.data.synthetic.generate_interactions`); aggregated to the scenario's grid.
2. :func:`forecast_stage`: :class:`openwfm.forecast.Forecaster` (auto pick), ``7 * weeks`` days
   after the history, with prediction intervals, dispersion and handle times.
3. :func:`staffing_stage`: :func:`openwfm.staffing.requirements` per queue x interval, and
   :func:`pool_stage`: :func:`openwfm.staffing.skill_set_requirements` per set of queues that
   shares agents (the pools; none when no agent serves two queues).
4. :func:`schedule_stage`: :func:`openwfm.schedule.schedule_agents` against both (an agent
   counts toward every queue and pool it can serve).
5. :func:`simulation_stage`: the schedule against the forecast with forecast uncertainty
   (:func:`openwfm.sim.uncertainty.sample_rate_factors`) through :func:`openwfm.sim.simulate`,
   with the forecast's handle times (:func:`with_forecast_handle_times`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np
import pandas as pd

from openwfm.errors import DataError, ParameterError
from openwfm.model import Scenario
from openwfm.plan.cache import StageCache, code_fingerprint, file_digest, stage_key

GENERATED_START = dt.date(2026, 1, 5)  # a Monday: generated histories are whole weeks
GENERATED_WEEKS = 6
FIT_WEEKS = 16  # the forecast learns from the last 16 weeks (recent behaviour matters most)

T = TypeVar("T")
HistoryInput = str | Path | Sequence[str | Path] | pd.DataFrame | None


@dataclass(frozen=True)
class StageOutput(Generic[T]):
    """A stage's result: its cache ``key`` (the next stage's input key), its ``value``, whether
    it came from the cache, and a description of its source (history only)."""

    key: str
    value: T
    cached: bool
    source: str = ""

    @property
    def state(self) -> str:
        return "cached" if self.cached else "computed"


@dataclass(frozen=True)
class ScheduleOptions:
    """The schedule stage's options (see :func:`openwfm.plan.run_plan`)."""

    weeks: int
    start: dt.date
    time_limit_s: float
    shrinkage: float
    seed: int
    strategy: str = "auto"
    deterministic: bool = False


@dataclass(frozen=True)
class SimulatedPlan:
    """The simulation stage's tables (:class:`openwfm.sim.SimulationResult`'s) and contacts
    simulated per replication."""

    intervals: pd.DataFrame
    summary: pd.DataFrame
    replications: pd.DataFrame
    contacts: int


def _scenario_key(scenario: Scenario) -> str:
    return scenario.model_dump_json()


def history_paths(history: str | Path | Sequence[str | Path]) -> list[Path]:
    """The history's files: one path or several; ParameterError / DataError for none, a store
    mixed with log files, or a file that does not exist."""
    paths = [Path(history)] if isinstance(history, str | Path) else [Path(p) for p in history]
    if not paths:
        raise ParameterError("expected a store or at least one file", field="--history")
    stores = [p for p in paths if p.suffix.lower() == ".duckdb"]
    if stores and len(paths) > 1:
        raise ParameterError(
            f"give one store ({stores[0]}) or log files, not both", field="--history"
        )
    for path in paths:
        if not path.is_file():
            raise DataError("file not found", file=str(path), field="--history")
    return paths


def _read_files(
    scenario: Scenario, paths: list[Path], fmt: str, out_dir: Path
) -> tuple[pd.DataFrame, str]:
    """Interactions of the scenario's queues from one store or from log files (ingested into a
    fresh ``out_dir/openwfm.duckdb``), and where they came from."""
    from openwfm.data.readers import read_interactions, row_locations
    from openwfm.data.store import InteractionStore, replace_store

    queues = scenario.queue_names
    if len(paths) == 1 and paths[0].suffix.lower() == ".duckdb":
        with InteractionStore(paths[0], read_only=True) as store:
            return store.interactions(queues=queues), f"store {paths[0]}"
    # every file is read first; the store then holds exactly this history (a previous run's
    # history in the same folder is replaced, never mixed in)
    frames, locations = [], []
    for path in paths:
        frame = read_interactions(path, format=fmt, timezone=scenario.grid.timezone)
        frames.append(frame)
        locations.append(row_locations(path, len(frame)))
    store_path = out_dir / "openwfm.duckdb"
    replace_store(
        pd.concat(frames, ignore_index=True),
        store_path,
        where=", ".join(str(p) for p in paths[:3]),
        locations=pd.concat(locations, ignore_index=True),
    )
    with InteractionStore(store_path, read_only=True) as store:
        interactions = store.interactions(queues=queues)
    return interactions, f"{len(paths)} file(s) ingested into {store_path}"


def _history_source(
    scenario: Scenario, history: HistoryInput, fmt: str, seed: int
) -> tuple[str, str, Callable[[Path], tuple[pd.DataFrame, str]]]:
    """(cache key, short description, reader of the interactions) of the history input."""
    interval = scenario.grid.interval_minutes
    queues = scenario.queue_names
    if history is None:
        from openwfm.data.synthetic import generate_interactions

        key = stage_key(
            "generated", _scenario_key(scenario), seed, GENERATED_WEEKS, code_fingerprint()
        )
        described = f"generated {GENERATED_WEEKS} weeks (seed {seed})"
        return (
            key,
            described,
            lambda _: (
                generate_interactions(scenario, GENERATED_START, GENERATED_WEEKS, seed),
                described,
            ),
        )
    if isinstance(history, pd.DataFrame):
        key = stage_key("frame", history, interval, queues, code_fingerprint())
        return key, "interactions table", lambda _: (history, "interactions table")
    paths = history_paths(history)
    # by content, not name or time stamp: an edited file is read again
    digests = [file_digest(p) for p in paths]
    key = stage_key("files", digests, fmt, interval, queues, code_fingerprint())
    return key, f"{len(paths)} file(s)", lambda out_dir: _read_files(scenario, paths, fmt, out_dir)


def history_stage(
    scenario: Scenario,
    history: HistoryInput,
    fmt: str,
    out_dir: Path,
    seed: int,
    cache: StageCache,
) -> StageOutput[pd.DataFrame]:
    """The interval history (:func:`openwfm.forecast.history.history_from_interactions`) of the
    scenario's queues; ``source`` says where it came from."""
    from openwfm.forecast.history import history_from_interactions

    key, described, read = _history_source(scenario, history, fmt, seed)
    hit = cache.get("history", key)
    if hit is not None:
        return StageOutput(key, hit, True, described)
    interactions, source = read(out_dir)
    queues = scenario.queue_names
    interactions = interactions[interactions["queue"].astype(str).isin(queues)]
    if interactions.empty:
        raise DataError(
            f"the history has no contacts of the scenario's queues ({', '.join(queues)})",
            field="--history",
        )
    table = history_from_interactions(interactions, scenario.grid.interval_minutes, queues=queues)
    cache.put("history", key, table)
    return StageOutput(key, table, False, source)


def forecast_stage(
    scenario: Scenario, history: StageOutput[pd.DataFrame], weeks: int, cache: StageCache
) -> StageOutput[pd.DataFrame]:
    """The forecast table for ``7 * weeks`` days after the history; rows without a handle-time
    forecast take the queue's ``aht_s``."""
    from openwfm.forecast import Forecaster

    key = stage_key(
        "forecast", history.key, _scenario_key(scenario), weeks, FIT_WEEKS, code_fingerprint()
    )
    hit = cache.get("forecast", key)
    if hit is not None:
        return StageOutput(key, hit, True)
    table = history.value
    last = table["interval_start"].max().normalize()
    recent = table[table["interval_start"] >= last - pd.Timedelta(weeks=FIT_WEEKS)]
    forecast = Forecaster(method="auto", horizon_days=7 * weeks).fit(recent).predict()
    from openwfm.staffing.single_skill import recorded_aht_s

    recorded = {q.name: recorded_aht_s(q) for q in scenario.queues}
    fallback = forecast["queue"].map(recorded).astype(float)
    if "aht_s" not in forecast.columns:
        forecast["aht_s"] = fallback
    # slots with no handled contact in the history: the scenario's handle time as recorded
    forecast["aht_s"] = forecast["aht_s"].astype(float).fillna(fallback)
    cache.put("forecast", key, forecast)
    return StageOutput(key, forecast, False)


def staffing_stage(
    scenario: Scenario, forecast: StageOutput[pd.DataFrame], cache: StageCache
) -> StageOutput[pd.DataFrame]:
    """The requirements table (:func:`openwfm.staffing.requirements`) of the forecast."""
    from openwfm.staffing import requirements

    key = stage_key("staffing", forecast.key, _scenario_key(scenario), code_fingerprint())
    hit = cache.get("staffing", key)
    if hit is not None:
        return StageOutput(key, hit, True)
    table = requirements(forecast.value, scenario, interval_minutes=scenario.grid.interval_minutes)
    cache.put("staffing", key, table)
    return StageOutput(key, table, False)


def pool_stage(
    scenario: Scenario, requirements: StageOutput[pd.DataFrame], cache: StageCache
) -> StageOutput[pd.DataFrame]:
    """The pool requirements (:func:`openwfm.staffing.skill_set_requirements`) of the
    per-queue requirement; empty when no agent serves two queues."""
    from openwfm.staffing import skill_set_requirements

    key = stage_key("pools", requirements.key, _scenario_key(scenario), code_fingerprint())
    hit = cache.get("pools", key)
    if hit is not None:
        return StageOutput(key, hit, True)
    table = skill_set_requirements(None, scenario, per_queue=requirements.value)
    cache.put("pools", key, table)
    return StageOutput(key, table, False)


MIN_RETRY_S = 5.0  # after a failed two-phase run the single model is tried with this left


def schedule_stage(
    scenario: Scenario,
    requirements: StageOutput[pd.DataFrame],
    options: ScheduleOptions,
    cache: StageCache,
    status: Callable[[str], None],
    pools: StageOutput[pd.DataFrame] | None = None,
) -> StageOutput[Any]:
    """The schedule (:class:`openwfm.schedule.ScheduleResult`) covering the requirement and,
    with ``pools`` (not empty), the pool requirements.

    When ``auto`` or ``two_phase`` finds no schedule in time, the single model is tried in the
    time that is left of ``options.time_limit_s`` (one budget clock for both: the stage keeps
    the limit).
    Raises :class:`~openwfm.errors.InfeasibleError` or
    :class:`~openwfm.schedule.ScheduleTimeoutError` when no schedule is found."""
    from openwfm.schedule import ScheduleTimeoutError, schedule_agents
    from openwfm.schedule.budget import clock_now, use_budget

    o = options
    key = stage_key(
        "schedule",
        requirements.key,
        None if pools is None else pools.key,
        _scenario_key(scenario),
        o.weeks,
        str(o.start),
        o.time_limit_s,
        o.shrinkage,
        o.seed,
        o.strategy,
        o.deterministic,
        code_fingerprint(),
    )
    hit = cache.get("schedule", key)
    if hit is not None:
        return StageOutput(key, hit, True)

    def progress(objective: float, bound: float, seconds: float) -> None:
        status(f"schedule: {seconds:4.0f} s, objective {objective:.1f}, bound {bound:.1f}")

    arguments = dict(
        weeks=o.weeks,
        start=o.start,
        time_limit_s=o.time_limit_s,
        extra_shrinkage=o.shrinkage,
        seed=o.seed,
        progress=progress,
        source="requirements",
        deterministic=o.deterministic,
        pool_requirements=None if pools is None or pools.value.empty else pools.value,
    )
    with use_budget(o.deterministic):  # one clock for both tries: --time-limit bounds the stage
        began = clock_now()
        try:
            result = schedule_agents(scenario, requirements.value, strategy=o.strategy, **arguments)
        except ScheduleTimeoutError:
            left_s = o.time_limit_s - (clock_now() - began)
            if o.strategy == "single" or left_s < MIN_RETRY_S:
                raise
            # the two-phase decomposition can fail to find phase 1's first solution where the
            # single model finds one: try that, in the time that is left, before giving up
            status("schedule: two-phase found nothing; single model")
            arguments["time_limit_s"] = left_s
            result = schedule_agents(scenario, requirements.value, strategy="single", **arguments)
            result.notes.append(f"strategy {o.strategy} found no schedule; the single model did")
    cache.put("schedule", key, result)
    return StageOutput(key, result, False)


def forecast_rates(forecast: pd.DataFrame, interval_s: float) -> pd.DataFrame:
    """The forecast as a simulator rates table: one row per forecast row, contacts per second."""
    return pd.DataFrame(
        {
            "interval_start": pd.to_datetime(forecast["interval_start"]),
            "queue": forecast["queue"].astype(str),
            "arrival_rate_per_s": forecast["forecast"].to_numpy(dtype=float) / interval_s,
        }
    )


def with_forecast_handle_times(scenario: Scenario, forecast: pd.DataFrame) -> Scenario:
    """The scenario with each queue's mean handle time the forecast's: its ``aht_s`` weighted by
    forecast contacts over the planned days (chat: every concurrency level scaled alike, against
    the level the history records, :func:`openwfm.staffing.single_skill.recorded_aht_s`).

    Staffing plans for the forecast's handle time, so the simulated proof must draw the same
    work: with the scenario's ``aht_s`` instead, the Anonymous Bank's week (forecast from the
    last 16 weeks of 1999: PS 160 s, NE 244 s against the scenario's 185 s and 277 s, the
    year's means) simulated 13-16% more work than was staffed, and a tight (pooled) plan
    missed for that alone. The simulator keeps one mean per queue: the forecast's profile
    within the week is not simulated. Queues without forecast contacts keep theirs; outbound
    calls keep their own handle time."""
    from openwfm.staffing.single_skill import recorded_aht_s

    if "aht_s" not in forecast.columns or forecast.empty:
        return scenario
    table = forecast[["queue", "forecast", "aht_s"]].dropna()
    table = table[(table["forecast"] > 0) & (table["aht_s"] > 0)]
    work = (table["forecast"] * table["aht_s"]).groupby(table["queue"].astype(str)).sum()
    contacts = table.groupby(table["queue"].astype(str))["forecast"].sum()
    queues = []
    for queue in scenario.queues:
        if queue.name not in contacts.index or not contacts[queue.name] > 0:
            queues.append(queue)
            continue
        factor = float(work[queue.name] / contacts[queue.name]) / recorded_aht_s(queue)
        update: dict[str, Any] = {"aht_s": queue.aht_s * factor}
        if queue.aht_s_by_concurrency:
            update["aht_s_by_concurrency"] = [a * factor for a in queue.aht_s_by_concurrency]
        if queue.outbound_per_hour > 0:
            update["outbound_aht_s"] = queue.outbound_aht_s or queue.aht_s
        queues.append(queue.model_copy(update=update))
    return scenario.model_copy(update={"queues": queues})


def simulation_stage(
    scenario: Scenario,
    forecast: StageOutput[pd.DataFrame],
    schedule: StageOutput[Any],
    *,
    start: dt.date,
    weeks: int,
    replications: int,
    seed: int,
    shrinkage: float,
    cache: StageCache,
    on_replication: Callable[[], None],
) -> StageOutput[SimulatedPlan]:
    """The schedule's activities against the forecast, ``replications`` times: each
    replication scales the forecast by its own rate factors (forecast uncertainty) and the
    simulator draws Poisson arrivals from them, handled in the forecast's mean handle time
    (:func:`with_forecast_handle_times`); ``shrinkage`` takes agents away at random."""
    from openwfm.sim import simulate
    from openwfm.sim.uncertainty import sample_rate_factors

    key = stage_key(
        "simulation",
        stage_key(schedule.key, forecast.key),
        replications,
        seed,
        shrinkage,
        code_fingerprint(),
    )
    hit = cache.get("simulation", key)
    if hit is not None:
        return StageOutput(key, hit, True)
    table = forecast.value
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    factors = sample_rate_factors(table, replications, rng)
    result = simulate(
        with_forecast_handle_times(scenario, table),
        replications=replications,
        seed=seed,
        rates=forecast_rates(table, scenario.grid.interval_s),
        rate_factors=factors,
        schedule=schedule.value.activities,
        start=start,
        days=7 * weeks,
        sources={"arrivals": "forecast", "schedule": "schedule"},
        shrinkage=shrinkage,
        on_replication=on_replication,
    )
    value = SimulatedPlan(result.intervals, result.summary, result.replications, result.contacts)
    cache.put("simulation", key, value)
    return StageOutput(key, value, False)

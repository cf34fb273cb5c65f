"""``run_plan``: the whole planning job, one stage after another, each cached in ``out_dir``.

Stages (each a call into its own package, never a copy of it):

1. **history**: interactions from log files (ingested into ``out_dir/openwfm.duckdb``), from an
   existing DuckDB store, or, when no history is given, generated from the scenario's demand
   (:func:`openwfm.data.synthetic.generate_interactions`); aggregated to the scenario's grid.
2. **forecast**: :class:`openwfm.forecast.Forecaster` with the auto pick, ``7 * weeks`` days
   after the history, with 80% / 95% prediction intervals and handle times.
3. **staffing**: :func:`openwfm.staffing.requirements` per queue (x segment where it gives one)
   x interval; every row names its model and service-level definition.
4. **schedule**: :func:`openwfm.schedule.schedule_agents` (CP-SAT) against the requirement.
5. **simulation**: the schedule against the forecast with forecast uncertainty: each
   replication draws its own arrival rates (see :func:`sample_rate_factors`), then the
   simulator (:mod:`openwfm.sim`) draws Poisson arrivals from them.
6. **report**: :mod:`openwfm.plan.report` (HTML + PNG) and :mod:`openwfm.plan.summary`.

Caching (:mod:`openwfm.plan.cache`): each stage's output is pickled in ``out_dir/.cache`` under
a key hashed from everything that can change it (the upstream key, the input files' contents, the
scenario, the options, the installed openwfm sources and the solver and numeric libraries'
versions); a re-run with the same inputs reads it back instead of recomputing. Tables are
written atomically to ``out_dir``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from openwfm.errors import DataError, ParameterError
from openwfm.io import check_output_folder, write_tables
from openwfm.model import BreakTemplate, Scenario, ScheduleSettings, ShiftTemplate
from openwfm.plan.cache import StageCache, _hash, code_fingerprint, file_digest

STAGES = ("history", "forecast", "staffing", "schedule", "simulation", "report")
GENERATED_START = dt.date(2026, 1, 5)  # a Monday: generated histories are whole weeks
GENERATED_WEEKS = 6
FIT_WEEKS = 16  # the forecast learns from the last 16 weeks (recent behaviour matters most)
Z80 = 1.2815515655446004


@dataclass
class PlanResult:
    """What :func:`run_plan` produced. Tables are DataFrames (``None`` when a stage was
    unavailable); ``stages`` maps stage -> ``computed``, ``cached`` or ``unavailable: why``;
    ``timings_s`` maps stage -> wall seconds of this run."""

    out_dir: Path
    report_path: Path | None
    summary: dict
    history: pd.DataFrame | None = None
    forecast: pd.DataFrame | None = None
    requirements: pd.DataFrame | None = None
    schedule: Any = None  # openwfm.schedule.ScheduleResult
    simulation: pd.DataFrame | None = None
    simulation_summary: pd.DataFrame | None = None
    binding_rules: pd.DataFrame | None = None
    stages: dict[str, str] = field(default_factory=dict)
    start: dt.date | None = None  # first day of the plan
    shrinkage: dict = field(default_factory=dict)  # which shrinkage was applied where
    timings_s: dict[str, float] = field(default_factory=dict)


# ----------------------------------------------------------------------------- helpers


def default_schedule_settings(scenario: Scenario) -> ScheduleSettings:
    """Shift templates for a scenario without a ``schedule`` section.

    One template ``day``: starts every hour from the earliest opening to the latest
    closing minus the shortest contract shift, lengths = the contracts' ``shift_lengths_min``;
    a paid 15-minute break 60-150 minutes into shifts of 4 hours or more and a paid 30-minute
    lunch 180-300 minutes into shifts of 6 hours or more.
    """
    hours = [h for h in scenario.grid.opening_hours.values() if h is not None]
    if not hours:
        raise ParameterError("the scenario's center is never open", field="grid.opening_hours")
    lengths = sorted({n for c in scenario.contracts for n in c.shift_lengths_min} or {480})
    first = min(h.open_s for h in hours)
    last_close = max(h.close_s for h in hours)
    latest = max(first, last_close - lengths[0] * 60)
    latest -= (latest - first) % 3600

    def clock(seconds: int) -> str:
        return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"

    template = ShiftTemplate(
        name="day",
        earliest_start=clock(first),
        latest_start=clock(latest),
        start_increment_min=60,
        lengths_min=lengths,
        breaks=[
            BreakTemplate(
                name="break",
                length_min=15,
                earliest_after_start_min=60,
                latest_after_start_min=150,
                min_shift_length_min=240,
            ),
            BreakTemplate(
                name="lunch",
                length_min=30,
                earliest_after_start_min=180,
                latest_after_start_min=300,
                min_shift_length_min=360,
            ),
        ],
    )
    return ScheduleSettings(shift_templates=[template])


def sample_rate_factors(
    forecast: pd.DataFrame, replications: int, rng: np.random.Generator
) -> np.ndarray:
    """Multiplicative arrival-rate factors, ``[replication, forecast row]``, mean 1.

    The forecaster's intervals are negative-binomial shaped: ``var = f + phi * f**2``. A
    Poisson count whose rate is ``f`` times a gamma factor of mean 1 and variance ``phi`` has
    exactly that variance, so each replication draws one gamma factor per queue and day (a
    forecast error moves a whole day, not single intervals independently) and the simulator
    draws Poisson arrivals at the scaled rate. ``phi`` is recovered per row from the 80% upper
    bound: ``sd = (upper_80 - f) / z_0.9``.
    """
    f = forecast["forecast"].to_numpy(dtype=float)
    sd = (forecast["upper_80"].to_numpy(dtype=float) - f) / Z80
    with np.errstate(invalid="ignore", divide="ignore"):
        phi_row = np.where(f > 0, np.maximum(sd**2 - f, 0.0) / f**2, 0.0)
    day = pd.to_datetime(forecast["interval_start"]).dt.normalize()
    groups = pd.Series(list(zip(forecast["queue"].astype(str), day, strict=True)))
    codes, uniques = pd.factorize(groups)
    # one dispersion per (queue, day): the volume-weighted mean of its rows
    weight = np.bincount(codes, weights=f, minlength=len(uniques))
    phi = np.bincount(codes, weights=phi_row * f, minlength=len(uniques))
    phi = np.divide(phi, weight, out=np.zeros_like(phi), where=weight > 0)
    factors = np.ones((replications, len(uniques)))
    spread = phi > 1e-12
    shape = 1.0 / phi[spread]
    factors[:, spread] = rng.gamma(shape, 1.0 / shape, size=(replications, int(spread.sum())))
    return factors[:, codes]


def queue_requirements(requirements: pd.DataFrame) -> pd.DataFrame:
    """One requirement row per queue x interval for the scheduler.

    When staffing gives rows per segment, its queue-level rows (segment ``all``) are used if
    present; otherwise the segments' agents are added up (a conservative cover: agents of one
    queue serve all its segments).
    """
    if "segment" not in requirements.columns:
        return requirements
    segment = requirements["segment"].astype(str)
    if (segment == "all").any():
        return requirements[segment == "all"].reset_index(drop=True)
    sums = {"required_agents": "sum"}
    if "scheduled_agents" in requirements.columns:
        sums["scheduled_agents"] = "sum"
    if "arrival_rate_per_s" in requirements.columns:
        sums["arrival_rate_per_s"] = "sum"
    firsts = {c: "first" for c in ("aht_s", "target_s") if c in requirements.columns}
    return (
        requirements.groupby(["interval_start", "queue"], as_index=False, sort=True)
        .agg({**sums, **firsts})
        .reset_index(drop=True)
    )


def binding_rules(scenario: Scenario, result) -> pd.DataFrame:
    """Which scheduling rules bind: the solver's per-rule counts plus agents at a limit.

    A hard rule binds when agents sit exactly at its limit (e.g. at their contract's maximum
    minutes per week); a soft rule binds when it is violated. ``at_limit`` counts agent-weeks at
    the limit for the contract rules the shifts show directly.
    """
    rules = result.rules.copy()
    rules["at_limit"] = 0
    shifts = result.shifts
    contracts = {c.name: c for c in scenario.contracts}
    if not shifts.empty and contracts:
        frame = shifts.assign(
            week=(pd.to_datetime(shifts["date"]) - pd.Timestamp(result.horizon.start)).dt.days // 7
        )
        per_week = frame.groupby(["agent", "contract", "week"], as_index=False).agg(
            minutes=("paid_minutes", "sum"), days=("date", "nunique")
        )
        limits = {
            "max_minutes_per_week": lambda c, r: r.minutes >= c.max_minutes_per_week,
            "min_minutes_per_week": lambda c, r: r.minutes <= c.min_minutes_per_week,
            "days_off_per_week": lambda c, r: 7 - r.days <= c.min_days_off_per_week,
        }
        counts = dict.fromkeys(limits, 0)
        for row in per_week.itertuples(index=False):
            contract = contracts.get(row.contract)
            if contract is None:
                continue
            for name, test in limits.items():
                counts[name] += int(test(contract, row))
        rules["at_limit"] = [counts.get(name, 0) for name in rules["rule"]]
    rules["binds"] = (rules["violated"] > 0) | (rules["at_limit"] > 0)
    return rules


def shrinkage_applied(scenario: Scenario, override: float | None) -> dict:
    """Which shrinkage each stage applies: ``staffing`` (its ``scheduled_agents`` column),
    ``schedule`` (requirements grossed up by ``1 / (1 - s)``) and ``simulation`` (agents away
    at random for that share of their time), with where the schedule's came from."""
    scenario_value = float(scenario.shrinkage)
    return {
        "staffing": scenario_value,
        "schedule": scenario_value if override is None else float(override),
        "schedule_source": "scenario" if override is None else "--shrinkage",
        "simulation": scenario_value,
    }


def _json_ready(value: Any) -> Any:
    """Strict JSON: NaN / infinity become null, NumPy scalars plain numbers, dates strings."""
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    return str(value)


def _scenario_key(scenario: Scenario) -> str:
    return scenario.model_dump_json()


def _version() -> str:
    """What the stages' code is: the installed openwfm sources and the solver and numeric
    libraries' versions (:func:`openwfm.plan.cache.code_fingerprint`)."""
    return code_fingerprint()


def _as_paths(history: Any) -> list[Path]:
    if isinstance(history, str | Path):
        return [Path(history)]
    return [Path(p) for p in history]


# ----------------------------------------------------------------------------- stages


def _history(scenario, history, fmt, out_dir, seed, cache):
    """(key, interval history table, source description)."""
    from openwfm.forecast.history import history_from_interactions

    interval = scenario.grid.interval_minutes
    queues = scenario.queue_names
    if history is None:
        key = _hash("generated", _scenario_key(scenario), seed, GENERATED_WEEKS, _version())
        hit = cache.get("history", key)
        if hit is not None:
            return key, hit, f"generated {GENERATED_WEEKS} weeks (seed {seed})", True
        from openwfm.data.synthetic import generate_interactions

        interactions = generate_interactions(scenario, GENERATED_START, GENERATED_WEEKS, seed)
        source = f"generated {GENERATED_WEEKS} weeks (seed {seed})"
    elif isinstance(history, pd.DataFrame):
        key = _hash("frame", history, interval, queues, _version())
        hit = cache.get("history", key)
        if hit is not None:
            return key, hit, "interactions table", True
        interactions, source = history, "interactions table"
    else:
        paths = _as_paths(history)
        if not paths:
            raise ParameterError("expected a store or at least one file", field="--history")
        for path in paths:
            if not path.exists():
                raise DataError("file not found", file=str(path), field="--history")
        # by content, not name or time stamp: an edited file is read again
        digests = [file_digest(p) for p in paths]
        key = _hash("files", digests, fmt, interval, queues, _version())
        hit = cache.get("history", key)
        if hit is not None:
            return key, hit, f"{len(paths)} file(s)", True
        from openwfm.data.store import InteractionStore

        if len(paths) == 1 and paths[0].suffix.lower() == ".duckdb":
            with InteractionStore(paths[0], read_only=True) as store:
                interactions = store.interactions(queues=queues)
            source = f"store {paths[0]}"
        else:
            from openwfm.data.readers import read_interactions, row_locations
            from openwfm.data.store import replace_store

            # every file is read first; the store then holds exactly this history (a previous
            # run's history in the same folder is replaced, never mixed in)
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
            source = f"{len(paths)} file(s) ingested into {store_path}"
    interactions = interactions[interactions["queue"].astype(str).isin(queues)]
    if interactions.empty:
        raise DataError(
            f"the history has no contacts of the scenario's queues ({', '.join(queues)})",
            field="--history",
        )
    table = history_from_interactions(interactions, interval, queues=queues)
    cache.put("history", key, table)
    return key, table, source, False


def _forecast(scenario, history, weeks, history_key, cache):
    from openwfm.forecast import Forecaster

    key = _hash("forecast", history_key, _scenario_key(scenario), weeks, FIT_WEEKS, _version())
    hit = cache.get("forecast", key)
    if hit is not None:
        return key, hit, True
    last = history["interval_start"].max().normalize()
    recent = history[history["interval_start"] >= last - pd.Timedelta(weeks=FIT_WEEKS)]
    forecaster = Forecaster(method="auto", horizon_days=7 * weeks).fit(recent)
    table = forecaster.predict()
    default_aht = {q.name: q.aht_s for q in scenario.queues}
    fallback = table["queue"].map(default_aht).astype(float)
    if "aht_s" not in table.columns:
        table["aht_s"] = fallback
    # slots with no handled contact in the history: the scenario's mean handle time
    table["aht_s"] = table["aht_s"].astype(float).fillna(fallback)
    cache.put("forecast", key, table)
    return key, table, False


def _staffing(scenario, forecast, forecast_key, cache):
    from openwfm import staffing  # ImportError: the stage has not landed

    key = _hash("staffing", forecast_key, _scenario_key(scenario), _version())
    hit = cache.get("staffing", key)
    if hit is not None:
        return key, hit, True
    table = staffing.requirements(
        forecast, scenario, interval_minutes=scenario.grid.interval_minutes
    )
    cache.put("staffing", key, table)
    return key, table, False


def _schedule(
    scenario,
    requirements,
    weeks,
    start,
    time_limit_s,
    shrinkage,
    seed,
    key_in,
    cache,
    status,
    strategy="auto",
    deterministic=False,
):
    from openwfm.schedule import schedule_agents

    key = _hash(
        "schedule",
        key_in,
        _scenario_key(scenario),
        weeks,
        str(start),
        time_limit_s,
        shrinkage,
        seed,
        strategy,
        deterministic,
        _version(),
    )
    hit = cache.get("schedule", key)
    if hit is not None:
        return key, hit, True

    def progress(objective: float, bound: float, seconds: float) -> None:
        status(f"schedule: {seconds:4.0f} s, objective {objective:.1f}, bound {bound:.1f}")

    from openwfm.schedule import ScheduleTimeoutError

    arguments = dict(
        weeks=weeks,
        start=start,
        time_limit_s=time_limit_s,
        extra_shrinkage=shrinkage,
        seed=seed,
        progress=progress,
        source="requirements",
        deterministic=deterministic,
    )
    table = queue_requirements(requirements)
    try:
        result = schedule_agents(scenario, table, strategy=strategy, **arguments)
    except ScheduleTimeoutError:
        if strategy == "single":
            raise
        # the two-phase decomposition can fail to find phase 1's first solution where the
        # single model finds one: try that before giving up
        status("schedule: two-phase found nothing; single model")
        result = schedule_agents(scenario, table, strategy="single", **arguments)
        result.notes.append(f"strategy {strategy} found no schedule; the single model did")
    cache.put("schedule", key, result)
    return key, result, False


def _schedule_or_failure(*args):
    """:func:`_schedule`, or ``(None, None, "failed: why")`` when no schedule was found (the
    hard rules contradict each other, or nothing was found in the time limit)."""
    from openwfm.errors import InfeasibleError
    from openwfm.schedule import ScheduleTimeoutError

    try:
        return _schedule(*args)
    except (InfeasibleError, ScheduleTimeoutError) as error:
        return None, None, f"failed: {error}"


def _simulate(
    scenario,
    forecast,
    activities,
    start,
    weeks,
    replications,
    seed,
    key_in,
    cache,
    advance,
    shrinkage=0.0,
):
    from openwfm.sim.arrivals import check_rates
    from openwfm.sim.metrics import summarize
    from openwfm.sim.run import prepare, run_one

    key = _hash("simulation", key_in, replications, seed, shrinkage, _version())
    hit = cache.get("simulation", key)
    if hit is not None:
        return key, hit, True
    interval_s = scenario.grid.interval_s
    rates = pd.DataFrame(
        {
            "interval_start": pd.to_datetime(forecast["interval_start"]),
            "queue": forecast["queue"].astype(str),
            "arrival_rate_per_s": forecast["forecast"].to_numpy(dtype=float) / interval_s,
        }
    )
    expanded = check_rates(rates, scenario, "forecast")  # split into segments by share
    row_of = pd.Series(
        np.arange(len(forecast)),
        index=pd.MultiIndex.from_arrays([rates["interval_start"], rates["queue"]]),
    )
    forecast_row = row_of.reindex(
        pd.MultiIndex.from_arrays([expanded["interval_start"], expanded["queue"]])
    ).to_numpy()
    plan = prepare(
        scenario,
        rates=expanded,
        schedule=activities,
        start=start,
        days=7 * weeks,
        sources={"arrivals": "forecast", "schedule": "schedule"},
        shrinkage=shrinkage,
    )
    base = plan.rates.expected.copy()
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    factors = sample_rate_factors(forecast, replications, rng)
    seeds = np.random.SeedSequence(seed).spawn(replications)
    counts, volume = [], []
    for r in range(replications):
        scaled = dataclasses.replace(plan.rates, expected=base * factors[r, forecast_row])
        rep_plan = dataclasses.replace(plan, rates=scaled)
        rep_counts, _, contacts = run_one(rep_plan, seeds[r])
        counts.append(rep_counts)
        volume.append(contacts)
        advance()
    intervals, summary, per_rep = summarize(counts, plan.model, plan.origin, plan.interval_s)
    value = {
        "intervals": intervals,
        "summary": summary,
        "replications": per_rep,
        "contacts": volume,
    }
    cache.put("simulation", key, value)
    return key, value, False


# ----------------------------------------------------------------------------- the plan


def run_plan(
    scenario: Scenario | str | Path,
    history: str | Path | Sequence[str | Path] | pd.DataFrame | None = None,
    weeks: int = 1,
    out_dir: str | Path = "out/plan",
    *,
    format: str = "auto",
    time_limit_s: float = 120.0,
    replications: int = 10,
    seed: int = 0,
    shrinkage: float | None = None,
    strategy: str = "auto",
    deterministic: bool = False,
    console=None,
    progress: bool = True,
) -> PlanResult:
    """Plan ``weeks`` weeks for ``scenario`` and prove it in simulation; write into ``out_dir``.

    ``history``: interaction log files (ingested into ``out_dir/openwfm.duckdb``; ``format`` as
    :func:`openwfm.data.readers.read_interactions`), one ``.duckdb`` store, an interactions
    DataFrame, or None to generate a history from the scenario's demand. ``time_limit_s`` bounds
    the schedule solver (seconds); ``replications`` simulated weeks, each with its own forecast
    draw; ``shrinkage`` (0..1): the share of scheduled time lost beyond the breaks the
    schedule places, which the schedule plans for by covering ``required / (1 - shrinkage)``
    (default: the scenario's ``shrinkage``; an override changes the schedule only: the
    simulation always takes the scenario's shrinkage away, at random, as the center's reality);
    ``strategy`` the scheduler's (``auto``, ``single``, ``two_phase``; when ``auto`` or
    ``two_phase`` finds no schedule in time, the single model is tried); ``deterministic``: the
    time limit is solver work, not wall seconds (:mod:`openwfm.schedule.budget`), so the plan is
    the same on any machine.

    Writes ``forecast.csv``, ``requirements.csv``, ``schedule.csv`` (shifts),
    ``activities.csv``, ``coverage.csv``, ``rules.csv``, ``simulation.csv`` (KPIs per queue x
    segment x interval with 95% CIs), ``simulation_summary.csv``, ``summary.json``,
    ``report.html`` and PNG charts. A stage that cannot run (a package not installed) is named
    in ``summary.json`` and the report as unavailable, and the stages after it are skipped.
    """
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from openwfm.plan.summary import plan_summary, summary_text
    from openwfm.scenario import load_scenario

    if isinstance(weeks, bool) or not isinstance(weeks, int) or not 1 <= weeks <= 6:
        raise ParameterError(f"expected 1..6 weeks, got {weeks!r}", field="--weeks")
    if replications < 2:
        raise ParameterError(
            f"expected >= 2 replications (a confidence interval needs two), got {replications}",
            field="--replications",
        )
    if not (np.isfinite(time_limit_s) and time_limit_s > 0):
        raise ParameterError(
            f"expected a positive time limit, got {time_limit_s}", field="--time-limit"
        )
    if isinstance(seed, bool) or int(seed) < 0:
        raise ParameterError(f"expected a seed >= 0, got {seed}", field="--seed")
    if shrinkage is not None and not 0.0 <= shrinkage < 1.0:
        raise ParameterError(f"expected 0 <= shrinkage < 1, got {shrinkage}", field="--shrinkage")
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    applied = shrinkage_applied(scenario, shrinkage)
    shrinkage = applied["schedule"]
    if scenario.schedule is None:
        scenario = scenario.model_copy(update={"schedule": default_schedule_settings(scenario)})
    from openwfm.data.readers import FORMATS

    if format not in FORMATS:  # also without --history: an option is never ignored silently
        raise ParameterError(
            f"unknown format {format!r} (expected one of: {', '.join(FORMATS)})",
            field="--format",
        )
    if history is not None and not isinstance(history, pd.DataFrame):
        # bad input fails before any stage runs (and before the progress display starts)
        paths = _as_paths(history)
        stores = [p for p in paths if p.suffix.lower() == ".duckdb"]
        if stores and len(paths) > 1:
            raise ParameterError(
                f"give one store ({stores[0]}) or log files, not both", field="--history"
            )
        if not paths:
            raise ParameterError("expected a store or at least one file", field="--history")
        for path in paths:
            if not path.is_file():
                raise DataError("file not found", file=str(path), field="--history")
    out_dir = check_output_folder(Path(out_dir))
    out_dir.mkdir(parents=True, exist_ok=True)
    cache = StageCache(out_dir / ".cache")
    console = console or Console(stderr=True)
    result = PlanResult(out_dir=out_dir, report_path=None, summary={}, shrinkage=applied)
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(bar_width=20),
        TimeElapsedColumn(),
    )
    with Progress(
        *columns, console=console, disable=not progress or not console.is_terminal
    ) as bar:
        tasks = {s: bar.add_task(f"[dim]{s}", total=1, start=False) for s in STAGES}

        def begin(stage: str, text: str | None = None) -> float:
            bar.start_task(tasks[stage])
            bar.update(tasks[stage], description=text or stage)
            return time.perf_counter()

        def end(stage: str, began: float, state: str, text: str | None = None) -> None:
            result.stages[stage] = state
            result.timings_s[stage] = time.perf_counter() - began
            label = text or stage
            bar.update(tasks[stage], completed=1, total=1, description=f"{label} ({state})")

        # 1. history
        began = begin("history", "history: reading")
        history_key, table, source, hit = _history(scenario, history, format, out_dir, seed, cache)
        result.history = table
        end("history", began, "cached" if hit else "computed", f"history: {len(table):,} rows")

        # 2. forecast
        began = begin("forecast", f"forecast: auto pick, {7 * weeks} days")
        forecast_key, forecast, hit = _forecast(scenario, table, weeks, history_key, cache)
        result.forecast = forecast
        end("forecast", began, "cached" if hit else "computed", f"forecast: {7 * weeks} days")
        # the plan starts the day after the history, as the forecast does (even when that day
        # is closed and has no forecast rows)
        start = (table["interval_start"].max().normalize() + pd.Timedelta(days=1)).date()
        result.start = start

        # 3. staffing
        began = begin("staffing", "staffing: requirements per interval")
        requirements = None
        try:
            staffing_key, requirements, hit = _staffing(scenario, forecast, forecast_key, cache)
            result.requirements = requirements
            end("staffing", began, "cached" if hit else "computed")
        except ImportError as error:
            end("staffing", began, f"unavailable: openwfm.staffing cannot be imported ({error})")

        # 4. schedule
        schedule = None
        if requirements is not None:
            began = begin("schedule", f"schedule: HiGHS + CP-SAT, up to {time_limit_s:g} s")
            schedule_key, schedule, hit = _schedule_or_failure(
                scenario,
                requirements,
                weeks,
                start,
                time_limit_s,
                shrinkage,
                seed,
                staffing_key,
                cache,
                lambda text: bar.update(tasks["schedule"], description=text),
                strategy,
                deterministic,
            )
            if schedule is None:  # the failure is the state: the plan reports it, no traceback
                end("schedule", began, hit, "schedule: none found")
            else:
                result.schedule = schedule
                result.binding_rules = binding_rules(scenario, schedule)
                end(
                    "schedule",
                    began,
                    "cached" if hit else "computed",
                    f"schedule: {schedule.status}, {len(schedule.shifts)} shifts",
                )
        else:
            result.stages["schedule"] = "unavailable: no requirements (staffing unavailable)"
            bar.update(tasks["schedule"], completed=1, description="schedule (unavailable)")

        # 5. simulation
        if schedule is not None:
            began = begin("simulation", f"simulation: {replications} replications")
            bar.update(tasks["simulation"], total=replications, completed=0)
            _, simulated, hit = _simulate(
                scenario,
                forecast,
                schedule.activities,
                start,
                weeks,
                replications,
                seed,
                _hash(schedule_key, forecast_key),
                cache,
                lambda: bar.advance(tasks["simulation"]),
                applied["simulation"],
            )
            result.simulation = simulated["intervals"]
            result.simulation_summary = simulated["summary"]
            end("simulation", began, "cached" if hit else "computed")
            bar.update(tasks["simulation"], completed=replications, total=replications)
        else:
            result.stages["simulation"] = "unavailable: no schedule"
            bar.update(tasks["simulation"], completed=1, description="simulation (unavailable)")

        # 6. summary and report
        began = begin("report", "report: summary, HTML and PNG charts")
        from openwfm.plan.report import plan_report_files

        result.summary = plan_summary(
            scenario, result, weeks=weeks, replications=replications, history_source=source
        )
        tables: dict[Path, pd.DataFrame | str] = {out_dir / "forecast.csv": forecast}
        if requirements is not None:
            tables[out_dir / "requirements.csv"] = requirements
        if schedule is not None:
            tables[out_dir / "schedule.csv"] = schedule.shifts
            tables[out_dir / "activities.csv"] = schedule.activities
            tables[out_dir / "coverage.csv"] = schedule.coverage
            tables[out_dir / "rules.csv"] = result.binding_rules
        if result.simulation is not None:
            tables[out_dir / "simulation.csv"] = result.simulation
            tables[out_dir / "simulation_summary.csv"] = result.simulation_summary
        staging = Path(tempfile.mkdtemp(prefix=".report-", dir=out_dir))
        try:
            report_html, charts = plan_report_files(scenario, result, staging)
            result.report_path = out_dir / "report.html"
            result.timings_s["report"] = time.perf_counter() - began
            result.stages["report"] = "computed"
            result.summary["stages"] = dict(result.stages)
            result.summary["timings_s"] = {k: round(v, 2) for k, v in result.timings_s.items()}
            result.summary["report"] = str(result.report_path)
            tables[out_dir / "summary.json"] = json.dumps(
                _json_ready(result.summary), indent=2, allow_nan=False
            )
            tables[out_dir / "summary.txt"] = summary_text(result.summary)
            # one set: every table, the PNGs and report.html land together, summary.json last
            summary_files = {
                k: tables.pop(k) for k in (out_dir / "summary.json", out_dir / "summary.txt")
            }
            tables.update({out_dir / chart.name: chart.read_bytes() for chart in charts})
            tables[result.report_path] = report_html
            tables.update(summary_files)
            write_tables(tables)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        end("report", began, "computed", "report")
    return result

"""``run_plan``: the whole planning job, one stage after another, each cached in ``out_dir``.

The stages are :mod:`openwfm.plan.stages` (history, forecast, staffing, schedule, simulation),
each a call into its own package; then the summary (:mod:`openwfm.plan.summary`) and the
report (:mod:`openwfm.plan.report`). The cache is :mod:`openwfm.plan.cache`, the progress
display :mod:`openwfm.plan.progress`. Tables, charts, ``report.html`` and ``summary.json`` are
written into ``out_dir`` as one set (:func:`openwfm.io.write_tables`).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from openwfm.errors import ParameterError
from openwfm.io import check_output_folder, write_tables
from openwfm.model import Scenario
from openwfm.plan.cache import StageCache
from openwfm.plan.correction import (
    CHECK_SEED_OFFSET,
    DEFAULT_ROUNDS,
    CorrectionRound,
    correction_note,
    raised,
)
from openwfm.plan.progress import PlanProgress
from openwfm.plan.stages import (
    HistoryInput,
    ScheduleOptions,
    StageOutput,
    forecast_stage,
    history_paths,
    history_stage,
    pool_stage,
    schedule_stage,
    simulation_stage,
    staffing_stage,
)
from openwfm.plan.summary import PlanSummary, ShrinkageApplied, plan_summary

STAGES = ("history", "forecast", "staffing", "schedule", "simulation", "report")
Strategy = Literal["auto", "single", "two_phase"]


@dataclass
class PlanResult:
    """What :func:`run_plan` produced. Tables are DataFrames (``None`` when a stage did not
    run); ``stages`` maps stage -> ``computed``, ``cached``, ``failed: why`` or
    ``unavailable: why``; ``timings_s`` maps stage -> wall seconds of this run;
    ``plan_summary`` is the typed summary and ``summary`` its JSON (``summary.json``)."""

    out_dir: Path
    report_path: Path | None
    plan_summary: PlanSummary | None = None
    history: pd.DataFrame | None = None
    forecast: pd.DataFrame | None = None
    requirements: pd.DataFrame | None = None
    pool_requirements: pd.DataFrame | None = None  # per set of queues sharing agents
    schedule: Any = None  # openwfm.schedule.ScheduleResult
    schedule_failure: str | None = None  # why no schedule was found
    simulation: pd.DataFrame | None = None
    simulation_summary: pd.DataFrame | None = None
    binding_rules: pd.DataFrame | None = None
    verdicts: pd.DataFrame | None = None  # coverage vs simulated verdict per queue x block
    stages: dict[str, str] = field(default_factory=dict)
    start: dt.date | None = None  # first day of the plan
    shrinkage: ShrinkageApplied | None = None  # which shrinkage was applied where
    timings_s: dict[str, float] = field(default_factory=dict)

    @property
    def summary(self) -> dict[str, Any]:
        """The summary as ``summary.json`` holds it (strict JSON values)."""
        return {} if self.plan_summary is None else self.plan_summary.as_json()


def check_plan_options(
    weeks: int,
    replications: int,
    time_limit_s: float,
    seed: int,
    shrinkage: float | None,
    format: str,
) -> None:
    """ParameterError naming the option, before any stage runs."""
    from openwfm.data.readers import FORMATS

    if isinstance(weeks, bool) or not isinstance(weeks, int) or not 1 <= weeks <= 6:
        raise ParameterError(f"expected 1..6 weeks, got {weeks!r}", field="--weeks")
    if replications < 2:
        raise ParameterError(
            f"expected >= 2 replications (a confidence interval needs two), got {replications}",
            field="--replications",
        )
    if not (math.isfinite(time_limit_s) and time_limit_s > 0):
        raise ParameterError(
            f"expected a positive time limit, got {time_limit_s}", field="--time-limit"
        )
    if isinstance(seed, bool) or int(seed) < 0:
        raise ParameterError(f"expected a seed >= 0, got {seed}", field="--seed")
    if shrinkage is not None and not 0.0 <= shrinkage < 1.0:
        raise ParameterError(f"expected 0 <= shrinkage < 1, got {shrinkage}", field="--shrinkage")
    if format not in FORMATS:  # also without --history: an option is never ignored silently
        raise ParameterError(
            f"unknown format {format!r} (expected one of: {', '.join(FORMATS)})",
            field="--format",
        )


def _scenario(scenario: Scenario | str | Path) -> Scenario:
    """The scenario (loaded from its file), with default shift templates when it has none."""
    from openwfm.scenario import load_scenario
    from openwfm.schedule.templates import default_schedule_settings

    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if scenario.schedule is None:
        scenario = scenario.model_copy(update={"schedule": default_schedule_settings(scenario)})
    return scenario


def run_plan(
    scenario: Scenario | str | Path,
    history: HistoryInput = None,
    weeks: int = 1,
    out_dir: str | Path = "out/plan",
    *,
    format: str = "auto",
    time_limit_s: float = 120.0,
    replications: int = 10,
    seed: int = 0,
    shrinkage: float | None = None,
    strategy: Strategy = "auto",
    deterministic: bool = False,
    pools: bool = True,
    correction_rounds: int = DEFAULT_ROUNDS,
    console: Any = None,
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
    the same on any machine. ``pools=False`` schedules against the per-queue requirement
    alone, each agent counting toward one queue per interval. With pools, the plan corrects
    its requirements by simulation (:mod:`openwfm.plan.correction`): up to
    ``correction_rounds`` rounds of simulate, raise where clearly missed, re-schedule (0: the
    merged-queue model uncorrected).

    Writes ``forecast.csv``, ``requirements.csv``, ``pool_requirements.csv`` (sets of queues
    that share agents; :func:`openwfm.staffing.skill_set_requirements`), ``schedule.csv``
    (shifts), ``activities.csv``, ``coverage.csv`` (per queue and pool), ``rules.csv``,
    ``simulation.csv`` (KPIs per queue x segment x interval with 95% CIs),
    ``simulation_summary.csv``, ``verdicts.csv`` (coverage verdict vs simulated verdict per
    queue x 2-hour block, :mod:`openwfm.plan.verdicts`), ``summary.json``, ``report.html`` and
    PNG charts. When no schedule is found, the schedule stage is
    ``failed: why``, the simulation does not run and the report is partial.
    """
    check_plan_options(weeks, replications, time_limit_s, seed, shrinkage, format)
    if isinstance(correction_rounds, bool) or not 0 <= int(correction_rounds) <= 10:
        raise ParameterError(
            f"expected 0..10 correction rounds, got {correction_rounds!r}",
            field="--correction-rounds",
        )
    scenario = _scenario(scenario)
    applied = ShrinkageApplied.of(scenario, shrinkage)
    if history is not None and not isinstance(history, pd.DataFrame):
        history_paths(history)  # bad input fails before any stage runs (and any display)
    out_dir = check_output_folder(Path(out_dir))
    options = _RunOptions(
        format=format,
        weeks=weeks,
        seed=seed,
        time_limit_s=time_limit_s,
        replications=replications,
        strategy=strategy,
        deterministic=deterministic,
        pools=pools,
        correction_rounds=correction_rounds,
    )
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        return _run_stages(scenario, history, out_dir, applied, console, progress, options)
    except BaseException:
        if created:
            _remove_if_empty(out_dir)
        raise


def _remove_if_empty(out_dir: Path) -> None:
    """A run that failed before any stage was stored leaves no empty OUT folder behind (a bad
    --history file must not look like a plan); a folder holding cached stages is kept, so a
    re-run after the fix reuses them."""
    if any(path.is_file() for path in out_dir.rglob("*")):
        return
    for folder in sorted(out_dir.rglob("*"), reverse=True):
        folder.rmdir()
    out_dir.rmdir()


def _run_stages(
    scenario: Scenario,
    history: HistoryInput,
    out_dir: Path,
    applied: ShrinkageApplied,
    console: Any,
    progress: bool,
    options: _RunOptions,
) -> PlanResult:
    from rich.console import Console

    cache = StageCache(out_dir / ".cache")
    result = PlanResult(out_dir=out_dir, report_path=None, shrinkage=applied)
    console = console or Console(stderr=True)
    with PlanProgress(STAGES, console, progress) as display:
        source = _plan_stages(scenario, history, result, cache, display, options)
        began = display.begin("report", "report: summary, HTML and PNG charts")
        if result.simulation is not None:
            from openwfm.plan.verdicts import plan_verdicts

            result.verdicts = plan_verdicts(scenario, result)
        result.plan_summary = plan_summary(
            scenario,
            result,
            weeks=options.weeks,
            replications=options.replications,
            history_source=source,
        )
        _write_outputs(scenario, result, began)
        display.end("report", began, "computed", "report")
    return result


@dataclass(frozen=True)
class _RunOptions:
    """The options :func:`run_plan` passes to its stages."""

    format: str
    weeks: int
    seed: int
    time_limit_s: float
    replications: int
    strategy: str
    deterministic: bool
    pools: bool = True
    correction_rounds: int = DEFAULT_ROUNDS


def _record(
    result: PlanResult, display: PlanProgress, stage: str, began: float, state: str, text: str
) -> None:
    result.stages[stage] = state
    # a stage run more than once (the correction's rounds) counts all its wall time
    result.timings_s[stage] = result.timings_s.get(stage, 0.0) + display.end(
        stage, began, state, text
    )


def _plan_stages(
    scenario: Scenario,
    history: HistoryInput,
    result: PlanResult,
    cache: StageCache,
    display: PlanProgress,
    o: _RunOptions,
) -> str:
    """Run the stages up to the simulation into ``result``; returns the history's source."""
    began = display.begin("history", "history: reading")
    past = history_stage(scenario, history, o.format, result.out_dir, o.seed, cache)
    result.history = past.value
    _record(result, display, "history", began, past.state, f"history: {len(past.value):,} rows")

    began = display.begin("forecast", f"forecast: auto pick, {7 * o.weeks} days")
    forecast = forecast_stage(scenario, past, o.weeks, cache)
    result.forecast = forecast.value
    _record(result, display, "forecast", began, forecast.state, f"forecast: {7 * o.weeks} days")
    # the plan starts the day after the history, as the forecast does (even when that day
    # is closed and has no forecast rows)
    result.start = (past.value["interval_start"].max().normalize() + pd.Timedelta(days=1)).date()

    began = display.begin("staffing", "staffing: requirements per interval and pool")
    requirements = staffing_stage(scenario, forecast, cache)
    pools = (
        pool_stage(scenario, requirements, cache)
        if o.pools
        else StageOutput("no pools", pd.DataFrame(), True)
    )
    result.requirements = requirements.value
    result.pool_requirements = pools.value
    state = "cached" if requirements.cached and pools.cached else "computed"
    _record(result, display, "staffing", began, state, "staffing")

    schedule = _schedule(scenario, requirements, pools, result, cache, display, o)
    if schedule is None:
        result.stages["simulation"] = "unavailable: no schedule"
        display.skip("simulation", "unavailable")
        return past.source
    if o.pools and len(pools.value) and o.correction_rounds > 0:
        schedule = _corrected(
            scenario, forecast, requirements, pools, schedule, result, cache, display, o
        )
    simulated = _simulate(scenario, forecast, schedule, result, cache, display, o, o.seed)
    result.simulation = simulated.value.intervals
    result.simulation_summary = simulated.value.summary
    return past.source


def _simulate(
    scenario: Scenario,
    forecast: StageOutput[pd.DataFrame],
    schedule: StageOutput[Any],
    result: PlanResult,
    cache: StageCache,
    display: PlanProgress,
    o: _RunOptions,
    seed: int,
    text: str = "simulation",
) -> StageOutput[Any]:
    """The simulation stage with ``seed``, recorded as the ``simulation`` stage."""
    began = display.begin(
        "simulation", f"{text}: {o.replications} replications", total=o.replications
    )
    simulated = simulation_stage(
        scenario,
        forecast,
        schedule,
        start=result.start,
        weeks=o.weeks,
        replications=o.replications,
        seed=seed,
        shrinkage=result.shrinkage.simulation,
        cache=cache,
        on_replication=lambda: display.advance("simulation"),
    )
    _record(result, display, "simulation", began, simulated.state, text)
    return simulated


def _corrected(
    scenario: Scenario,
    forecast: StageOutput[pd.DataFrame],
    requirements: StageOutput[pd.DataFrame],
    pools: StageOutput[pd.DataFrame],
    schedule: StageOutput[Any],
    result: PlanResult,
    cache: StageCache,
    display: PlanProgress,
    o: _RunOptions,
) -> StageOutput[Any]:
    """The simulation-based correction (:mod:`openwfm.plan.correction`): simulate, raise the
    requirements where the simulation clearly misses, re-schedule; at most
    ``o.correction_rounds`` rounds. ``result`` gets the raised requirements; the schedule's
    notes say what was added. A round whose schedule fails keeps the previous one."""
    rounds: list[CorrectionRound] = []
    for index in range(o.correction_rounds):
        seed = o.seed + CHECK_SEED_OFFSET + index
        check = _simulate(
            scenario,
            forecast,
            schedule,
            result,
            cache,
            display,
            o,
            seed,
            f"simulation: correction check {index + 1}",
        )
        more_requirements, added = raised(requirements, check, scenario, schedule)
        more_pools, pooled = raised(pools, check, scenario, schedule)
        rounds.append(CorrectionRound(added, pooled))
        if added + pooled == 0:
            break
        state = dict(result.stages)
        again = _schedule(scenario, more_requirements, more_pools, result, cache, display, o)
        if again is None:  # keep the schedule that was found
            result.stages.update(state)
            result.schedule_failure = None
            break
        schedule, requirements, pools = again, more_requirements, more_pools
    result.requirements = requirements.value
    result.pool_requirements = pools.value
    result.schedule.notes.append(correction_note(rounds, o.correction_rounds))
    return schedule


def _schedule(
    scenario: Scenario,
    requirements: StageOutput[pd.DataFrame],
    pools: StageOutput[pd.DataFrame],
    result: PlanResult,
    cache: StageCache,
    display: PlanProgress,
    o: _RunOptions,
) -> StageOutput[Any] | None:
    """The schedule stage; None (and ``result.schedule_failure``) when no schedule was found:
    the hard rules contradict each other, or nothing was found in the time limit."""
    from openwfm.errors import InfeasibleError
    from openwfm.schedule import ScheduleTimeoutError
    from openwfm.schedule.binding import binding_rules

    options = ScheduleOptions(
        weeks=o.weeks,
        start=result.start,
        time_limit_s=o.time_limit_s,
        shrinkage=result.shrinkage.schedule,
        seed=o.seed,
        strategy=o.strategy,
        deterministic=o.deterministic,
    )
    began = display.begin("schedule", f"schedule: HiGHS + CP-SAT, up to {o.time_limit_s:g} s")
    try:
        schedule = schedule_stage(
            scenario,
            requirements,
            options,
            cache,
            lambda text: display.status("schedule", text),
            pools=pools,
        )
    except (InfeasibleError, ScheduleTimeoutError) as error:
        # the failure is the state: the plan reports it, no traceback
        result.schedule_failure = str(error)
        _record(result, display, "schedule", began, f"failed: {error}", "schedule: none found")
        return None
    result.schedule = schedule.value
    result.binding_rules = binding_rules(scenario, schedule.value)
    text = f"schedule: {schedule.value.status}, {len(schedule.value.shifts)} shifts"
    _record(result, display, "schedule", began, schedule.state, text)
    return schedule


def _output_tables(result: PlanResult) -> dict[Path, pd.DataFrame]:
    out_dir = result.out_dir
    tables: dict[Path, pd.DataFrame] = {out_dir / "forecast.csv": result.forecast}
    if result.requirements is not None:
        tables[out_dir / "requirements.csv"] = result.requirements
    if result.pool_requirements is not None and len(result.pool_requirements):
        tables[out_dir / "pool_requirements.csv"] = result.pool_requirements
    if result.schedule is not None:
        tables[out_dir / "schedule.csv"] = result.schedule.shifts
        tables[out_dir / "activities.csv"] = result.schedule.activities
        tables[out_dir / "coverage.csv"] = result.schedule.coverage
        tables[out_dir / "rules.csv"] = result.binding_rules
    if result.simulation is not None:
        tables[out_dir / "simulation.csv"] = result.simulation
        tables[out_dir / "simulation_summary.csv"] = result.simulation_summary
    if result.verdicts is not None:
        tables[out_dir / "verdicts.csv"] = result.verdicts
    return tables


def _write_outputs(scenario: Scenario, result: PlanResult, began: float) -> None:
    """Tables, PNG charts, ``report.html``, then ``summary.json`` and ``summary.txt``, as one
    set (a failure leaves none of them half-written)."""
    from openwfm.plan.report import plan_report_files
    from openwfm.plan.summary import summary_text

    out_dir = result.out_dir
    files: dict[Path, Any] = dict(_output_tables(result))
    staging = Path(tempfile.mkdtemp(prefix=".report-", dir=out_dir))
    try:
        report_html, charts = plan_report_files(scenario, result, staging)
        result.report_path = out_dir / "report.html"
        result.timings_s["report"] = time.perf_counter() - began
        result.stages["report"] = "computed"
        summary = result.plan_summary
        summary.stages = dict(result.stages)
        summary.timings_s = {k: round(v, 2) for k, v in result.timings_s.items()}
        summary.report = str(result.report_path)
        files.update({out_dir / chart.name: chart.read_bytes() for chart in charts})
        files[result.report_path] = report_html
        # summary.json last: its presence says the set is complete
        files[out_dir / "summary.json"] = json.dumps(summary.as_json(), indent=2, allow_nan=False)
        files[out_dir / "summary.txt"] = summary_text(summary)
        write_tables(files)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

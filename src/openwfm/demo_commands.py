"""CLI: ``openwfm generate`` (synthetic history) and ``openwfm demo`` (the whole job).

``demo`` runs openwfm end to end on the example center: generate four weeks of interactions,
store them in DuckDB, compute interval and daily KPIs, write the history report, then plan the
next week from that store (:func:`openwfm.plan.run_plan`: forecast, staffing, schedule,
simulation, plan report) and print the plan report's path and its summary.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from openwfm.errors import ParameterError
from openwfm.io import check_date_span, check_output_folder, check_output_path, parse_date

DEMO_START = dt.date(2026, 10, 5)  # a Monday, so the four weeks are whole weeks
DEMO_WEEKS = 4
DEMO_SEED = 2026
DEMO_PLAN_WEEKS = 1
DEMO_TIME_LIMIT_S = 40.0  # the schedule solver's limit: the demo stays well under 5 minutes
DEMO_REPLICATIONS = 10


def register(app: typer.Typer) -> None:
    @app.command("generate")
    def generate(
        scenario: Annotated[Path, typer.Argument(help="Scenario YAML file with queue demand.")],
        out: Annotated[Path, typer.Option("--out", help="Output file, .csv or .parquet.")],
        weeks: Annotated[int, typer.Option("--weeks", help="Number of weeks to generate.")] = 4,
        seed: Annotated[
            int, typer.Option("--seed", min=0, help="Random seed (same seed, same log).")
        ] = 0,
        start: Annotated[
            str, typer.Option("--start", help="First day, YYYY-MM-DD.")
        ] = DEMO_START.isoformat(),
    ) -> None:
        """Generate a seeded synthetic interaction log for a scenario."""
        from rich.console import Console

        from openwfm.data.synthetic import generate_interactions, write_interactions
        from openwfm.scenario import load_scenario

        if out.suffix.lower() not in (".csv", ".parquet"):
            raise ParameterError(
                f"expected an output file ending in .csv or .parquet, got {out.name!r}",
                field="--out",
            )
        if weeks < 1:
            raise ParameterError(f"expected at least 1 week, got {weeks}", field="--weeks")
        first_day = parse_date(start, "--start")
        check_date_span(first_day, 7 * weeks, "--weeks")
        check_output_path(out)
        loaded = load_scenario(scenario)
        console = Console(stderr=True)
        with console.status(f"generating {weeks} weeks of {loaded.name}"):
            frame = generate_interactions(loaded, first_day, weeks, seed)
            write_interactions(frame, out)
        Console().print(f"{len(frame):,} interactions -> {out}")

    @app.command("demo")
    def demo(
        out: Annotated[Path, typer.Option("--out", help="Folder for the demo's files.")] = Path(
            "out/demo"
        ),
        weeks: Annotated[
            int, typer.Option("--weeks", help="Weeks of history to generate.")
        ] = DEMO_WEEKS,
        seed: Annotated[int, typer.Option("--seed", min=0, help="Random seed.")] = DEMO_SEED,
        time_limit: Annotated[
            float, typer.Option("--time-limit", help="Schedule solver limit, s.")
        ] = DEMO_TIME_LIMIT_S,
        replications: Annotated[
            int, typer.Option("--replications", help="Simulated replications of the plan.")
        ] = DEMO_REPLICATIONS,
        deterministic: Annotated[
            bool,
            typer.Option(
                "--deterministic",
                help="Count --time-limit as solver work, not wall seconds (the same plan on any "
                "machine).",
            ),
        ] = False,
    ) -> None:
        """Run openwfm on the example center: history, KPIs, report, then next week's plan."""
        run_demo(
            out,
            weeks=weeks,
            seed=seed,
            time_limit_s=time_limit,
            replications=replications,
            deterministic=deterministic,
        )


def run_demo(
    out: Path,
    *,
    weeks: int = DEMO_WEEKS,
    seed: int = DEMO_SEED,
    time_limit_s: float = DEMO_TIME_LIMIT_S,
    replications: int = DEMO_REPLICATIONS,
    deterministic: bool = False,
) -> Path:
    """Generate ``weeks`` weeks for ``examples/center.yaml`` and write into ``out``:
    ``interactions.parquet``, ``openwfm.duckdb``, ``kpis.csv`` (15-minute intervals x queue),
    ``kpis_daily.csv`` and ``report.html``; then plan the week after the history into
    ``out/plan`` (:func:`openwfm.plan.run_plan`). Prints a per-queue summary, the history
    report's path, the plan's summary and the plan report's path; returns the plan report path.

    Every option is checked before anything is written. The history files replace those of a
    previous run as one set (the store holds this run's history only), and the previous run's
    plan files are removed before planning, so ``out`` never mixes two runs.
    """
    import time

    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from openwfm.data.intervals import interval_kpis, rollup
    from openwfm.data.store import InteractionStore, replace_store
    from openwfm.data.synthetic import generate_interactions
    from openwfm.io import write_tables
    from openwfm.report.html import history_report
    from openwfm.report.tables import kpi_summary, scenario_targets
    from openwfm.scenario import example_path, load_scenario

    _check_demo_options(out, weeks, seed, time_limit_s, replications)
    out.mkdir(parents=True, exist_ok=True)
    console = Console()
    began = time.perf_counter()
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:

        def step(description: str):
            return progress.add_task(description, total=1)

        task = step("load the example scenario")
        scenario = load_scenario(example_path())
        progress.advance(task)

        task = step(f"generate {weeks} weeks of interactions")
        interactions = generate_interactions(scenario, DEMO_START, weeks, seed)
        progress.advance(task)

        task = step("store in a new DuckDB store")
        result = replace_store(
            interactions, out / "openwfm.duckdb", where=str(out / "interactions.parquet")
        )
        with InteractionStore(out / "openwfm.duckdb", read_only=True) as store:
            stored = store.interactions()
        progress.advance(task)

        task = step("compute interval and daily KPIs")
        target_s, definition, levels = scenario_targets(scenario)
        kpis = interval_kpis(
            stored,
            interval_minutes=scenario.grid.interval_minutes,
            target_s=target_s,
            definition=definition,
        )
        progress.advance(task)

        task = step("write the HTML report")
        page = history_report(stored, kpis, title=f"{scenario.name}: history", targets=levels)
        report = out / "report.html"
        write_tables(
            {
                out / "interactions.parquet": lambda path: interactions.to_parquet(
                    path, index=False
                ),
                out / "kpis.csv": kpis,
                out / "kpis_daily.csv": rollup(kpis, freq="D"),
                report: page.to_html(),
            }
        )
        progress.advance(task)

    summary = kpi_summary(kpis)
    table = Table(title=f"{scenario.name}: {DEMO_START} + {weeks} weeks, seed {seed}")
    for column in ("queue", "offered", "answered", "abandoned", "SL", "ASA s", "AHT s"):
        table.add_column(column, justify="left" if column == "queue" else "right")
    for row in summary.itertuples(index=False):
        table.add_row(
            row.queue,
            f"{row.offered:,}",
            f"{row.answered:,}",
            f"{row.abandoned:,} ({row.abandon_rate:.1%})",
            f"{row.service_level:.1%}",
            f"{row.asa_s:.1f}",
            f"{row.aht_s:.1f}",
        )
    console.print(table)
    console.print(
        f"stored {result.added:,} interactions (a new store: this run's history only); "
        f"done in {time.perf_counter() - began:.1f} s"
    )
    console.print(f"report: {report}")

    from openwfm.plan import run_plan
    from openwfm.plan.summary import summary_text

    _remove_previous_plan(out / "plan")
    console.print(f"planning {DEMO_PLAN_WEEKS} week after the history (out: {out / 'plan'})")
    plan = run_plan(
        scenario,
        history=out / "openwfm.duckdb",
        weeks=DEMO_PLAN_WEEKS,
        out_dir=out / "plan",
        time_limit_s=time_limit_s,
        replications=replications,
        seed=seed,
        # the phased strategy: the single model finds no first schedule within the demo's
        # limit once the pools of blended agents are constraints (issue 14)
        strategy="auto",
        deterministic=deterministic,
        console=console,
    )
    console.print(summary_text(plan.plan_summary), highlight=False, markup=False)
    console.print(f"plan report: {plan.report_path}", highlight=False)
    console.print(f"demo done in {time.perf_counter() - began:.1f} s", highlight=False)
    return plan.report_path


# The plan's output files (the cache in plan/.cache stays: it is keyed by its inputs).
PLAN_OUTPUT_PATTERNS = ("*.csv", "*.json", "*.txt", "*.html", "*.png")


def _remove_previous_plan(folder: Path) -> None:
    """Remove a previous run's plan files, so a failed plan leaves no plan of another history."""
    if folder.is_dir():
        for pattern in PLAN_OUTPUT_PATTERNS:
            for path in folder.glob(pattern):
                path.unlink(missing_ok=True)


def _check_demo_options(
    out: Path, weeks: int, seed: int, time_limit_s: float, replications: int
) -> None:
    """ParameterError naming the option, before the demo writes anything."""
    import math

    if weeks < 3:
        raise ParameterError(
            f"expected at least 3 weeks (the plan's forecast needs 14 days of history and the "
            f"example center is closed on Sundays), got {weeks}",
            field="--weeks",
        )
    if weeks > 52:
        raise ParameterError(f"expected at most 52 weeks, got {weeks}", field="--weeks")
    if seed < 0:
        raise ParameterError(f"expected an integer >= 0, got {seed}", field="--seed")
    if not (math.isfinite(time_limit_s) and time_limit_s > 0):
        raise ParameterError(
            f"expected a positive time limit, got {time_limit_s}", field="--time-limit"
        )
    if replications < 2:
        raise ParameterError(
            f"expected >= 2 replications (a confidence interval needs two), got {replications}",
            field="--replications",
        )
    check_output_folder(out)

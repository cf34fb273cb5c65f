"""CLI: ``openwfm generate`` (synthetic history) and ``openwfm demo`` (the whole first job).

``demo`` runs the foundation end to end on the example center: generate four weeks of
interactions, store them in DuckDB, compute interval and daily KPIs, and write the HTML report.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer

from openwfm.errors import ParameterError

DEMO_START = dt.date(2026, 10, 5)  # a Monday, so the four weeks are whole weeks
DEMO_WEEKS = 4
DEMO_SEED = 2026


def _parse_date(text: str, argument: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ParameterError(f"expected a date YYYY-MM-DD, got {text!r}", field=argument) from None


def register(app: typer.Typer) -> None:
    @app.command("generate")
    def generate(
        scenario: Path = typer.Argument(..., help="Scenario YAML file with queue demand."),
        out: Path = typer.Option(..., "--out", help="Output file, .csv or .parquet."),
        weeks: int = typer.Option(4, "--weeks", help="Number of weeks to generate."),
        seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same log)."),
        start: str = typer.Option(DEMO_START.isoformat(), "--start", help="First day, YYYY-MM-DD."),
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
        first_day = _parse_date(start, "--start")
        loaded = load_scenario(scenario)
        console = Console(stderr=True)
        with console.status(f"generating {weeks} weeks of {loaded.name}"):
            frame = generate_interactions(loaded, first_day, weeks, seed)
            write_interactions(frame, out)
        Console().print(f"{len(frame):,} interactions -> {out}")

    @app.command("demo")
    def demo(
        out: Path = typer.Option(Path("out/demo"), "--out", help="Folder for the demo's files."),
        weeks: int = typer.Option(DEMO_WEEKS, "--weeks", help="Weeks of history to generate."),
        seed: int = typer.Option(DEMO_SEED, "--seed", help="Random seed."),
    ) -> None:
        """Run the first job on the example center: generate, ingest, KPIs, HTML report."""
        run_demo(out, weeks=weeks, seed=seed)


def run_demo(out: Path, *, weeks: int = DEMO_WEEKS, seed: int = DEMO_SEED) -> Path:
    """Generate ``weeks`` weeks for ``examples/center.yaml`` and write into ``out``:
    ``interactions.parquet``, ``openwfm.duckdb``, ``kpis.csv`` (15-minute intervals x queue),
    ``kpis_daily.csv`` and ``report.html``. Prints a per-queue summary; returns the report path.
    """
    import time

    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from openwfm.data.intervals import interval_kpis, rollup
    from openwfm.data.store import InteractionStore
    from openwfm.data.synthetic import generate_interactions, write_interactions
    from openwfm.report.html import build_report
    from openwfm.report.tables import kpi_summary, scenario_targets
    from openwfm.scenario import example_path, load_scenario

    if weeks < 1:
        raise ParameterError(f"expected at least 1 week, got {weeks}", field="--weeks")
    if out.exists() and not out.is_dir():
        raise ParameterError("expected a folder, found a file", field="--out", file=str(out))
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
        write_interactions(interactions, out / "interactions.parquet")
        progress.advance(task)

        task = step("ingest into the DuckDB store")
        with InteractionStore(out / "openwfm.duckdb") as store:
            result = store.ingest(interactions, where=str(out / "interactions.parquet"))
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
        _write_csv(kpis, out / "kpis.csv")
        _write_csv(rollup(kpis, freq="D"), out / "kpis_daily.csv")
        progress.advance(task)

        task = step("write the HTML report")
        report = build_report(
            stored,
            kpis,
            title=f"{scenario.name}: history",
            path=out / "report.html",
            targets=levels,
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
        f"stored {result.added:,} new interactions ({len(stored):,} in the store); "
        f"done in {time.perf_counter() - began:.1f} s"
    )
    console.print(f"report: {report}")
    return report


def _write_csv(frame, path: Path) -> None:
    """Write a CSV atomically (temporary file, then rename)."""
    import os

    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        frame.to_csv(temporary, index=False)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)

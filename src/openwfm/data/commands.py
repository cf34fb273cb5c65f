"""CLI: ``openwfm ingest`` (logs -> store) and ``openwfm kpi`` (store -> interval KPIs)."""

from __future__ import annotations

from pathlib import Path

import typer

from openwfm.errors import DataError, ParameterError


def load_mapping(path: Path) -> dict:
    """A mapping file (YAML): either ``{source column: schema column}`` or a dict with
    ``columns`` (that mapping) and optional ``channel``, ``queue``, ``time_format``,
    ``delimiter``. Returns keyword arguments for :func:`openwfm.data.readers.read_interactions`.
    """
    from openwfm.data.schema import INTERACTION_COLUMNS
    from openwfm.tables import load_mapping_file

    return load_mapping_file(
        path,
        options=("channel", "queue", "time_format", "delimiter"),
        targets=INTERACTION_COLUMNS,
    )


def _write_table(frame, out: Path) -> None:
    from openwfm.io import write_table

    write_table(frame, out)


def ingest_files(
    files: list[Path],
    format: str = "auto",
    mapping: Path | None = None,
    store: Path = Path("openwfm.duckdb"),
    timezone: str | None = None,
) -> None:
    """``openwfm ingest``: read every file, then add all rows to the store in one transaction."""
    import pandas as pd
    from rich.console import Console
    from rich.progress import Progress

    from openwfm.data.readers import FORMATS, read_interactions, row_locations
    from openwfm.data.store import InteractionStore

    if format not in FORMATS:
        raise DataError(
            f"unknown format {format!r} (expected one of: {', '.join(FORMATS)})",
            field="--format",
        )
    options = load_mapping(mapping) if mapping is not None else {}
    if timezone is not None:
        from openwfm.data.timestamps import check_timezone

        options["timezone"] = check_timezone(timezone, "--timezone")
    console = Console(stderr=True)
    frames, locations = [], []
    # Read every file before writing anything: a bad row anywhere leaves the store unchanged.
    with Progress(console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task("reading", total=len(files))
        for path in files:
            bar.update(task, description=f"reading {path.name}")
            frame = read_interactions(path, format, **options)
            frames.append(frame)
            locations.append(row_locations(path, len(frame)))
            bar.advance(task)
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    located = pd.concat(locations, ignore_index=True)
    with InteractionStore(store) as target:
        where = ", ".join(str(f) for f in files[:3]) + (" ..." if len(files) > 3 else "")
        result = target.ingest(frame, where=where, locations=located)
        total = target.count()
    Console().print(_ingest_summary(result, total, store))


def _ingest_summary(result, total: int, store: Path):
    from rich.table import Table

    table = Table(title=f"ingest into {store}")
    table.add_column("")
    table.add_column("rows", justify="right")
    table.add_row("read", f"{result.read:,}")
    table.add_row("added", f"{result.added:,}")
    table.add_row("skipped (already stored)", f"{result.skipped:,}")
    if result.repeated:
        table.add_row("skipped (exact repeat in these files)", f"{result.repeated:,}")
    for outcome, count in result.outcomes.items():
        table.add_row(f"  added {outcome}", f"{count:,}")
    table.add_row("stored in total", f"{total:,}")
    return table


ROLLUPS = {"interval": None, "day": "D", "month": "MS"}
# The screen shows the headline figures; --out writes every column.
_KPI_HEADERS = {
    "interval_start": "start",
    "answered_within_target": "in target",
    "short_abandoned": "short ab.",
    "service_level": "SL",
    "offered": "offer",
    "answered": "ans",
    "abandoned": "aband",
    "p90_wait_s": "p90 wait",
    "occupancy": "occ",
    "ivr_only": "ivr",
}
_KPI_HIDDEN = {"sl_definition", "short_abandoned", "answered_within_target", "avg_wait_s", "busy_s"}


def _kpi_targets(scenario: Path | None, target_s: float) -> float | dict:
    """The answer-time target: one number, or per queue and (queue, segment) from a scenario."""
    if scenario is None:
        return target_s
    from openwfm.scenario import load_scenario

    return load_scenario(scenario).answer_targets_s(target_s, by_segment=True)


def _kpi_cell(column: str, value, rollup_to: str) -> str:
    if column == "interval_start":
        return str(value)[: 10 if rollup_to != "interval" else 16]
    if not isinstance(value, float):
        return str(value)
    if value != value:  # NaN
        return "-"
    if column in ("service_level", "occupancy"):
        return f"{value:.1%}"
    return f"{value:,.1f}"


def _kpi_view(table, limit: int, rollup_to: str, interval: int):
    """The first ``limit`` rows as a rich table of the headline columns."""
    from rich.table import Table

    shown = table.head(limit)
    view = Table(
        title=f"KPIs per {rollup_to if rollup_to != 'interval' else f'{interval} min'} "
        f"({len(shown)} of {len(table):,} rows; --out writes all)"
    )
    hidden = set(_KPI_HIDDEN)
    if rollup_to != "interval":
        hidden.add("p90_wait_s")  # percentiles do not roll up from interval sums
    columns = [c for c in table.columns if c not in hidden]
    for column in columns:
        view.add_column(_KPI_HEADERS.get(column, column), justify="right")
    for row in shown[columns].itertuples(index=False):
        view.add_row(*(_kpi_cell(c, v, rollup_to) for c, v in zip(columns, row, strict=True)))
    return view


def interval_kpi_command(
    store: Path,
    interval: int,
    by: str,
    target_s: float,
    short_abandon_s: float,
    definition: str,
    rollup_to: str,
    scenario: Path | None,
    out: Path | None,
    limit: int,
) -> None:
    """``openwfm kpi``: interval KPIs (or roll-ups) of the store, to a file or the screen."""
    from rich.console import Console

    from openwfm.data.intervals import interval_kpis, rollup
    from openwfm.data.store import InteractionStore

    if rollup_to not in ROLLUPS:
        raise ParameterError(
            f"--rollup must be interval, day or month, got {rollup_to!r}", field="--rollup"
        )
    if limit < 0:
        raise ParameterError(f"expected a number of rows >= 0, got {limit}", field="--limit")
    if out is not None:
        from openwfm.io import check_output_path, check_table_path

        check_output_path(check_table_path(out))
    if not store.exists():
        raise DataError("store not found (run openwfm ingest first)", file=str(store))
    targets = _kpi_targets(scenario, target_s)
    with InteractionStore(store, read_only=True) as source:
        interactions = source.interactions()
    table = interval_kpis(
        interactions,
        interval_minutes=interval,
        by=[c.strip() for c in by.split(",") if c.strip()],
        target_s=targets,
        short_abandon_s=short_abandon_s,
        definition=definition,
    )
    if ROLLUPS[rollup_to] is not None:
        table = rollup(table, ROLLUPS[rollup_to])
    if isinstance(targets, dict) and "queue" in table.columns:
        known = {key for key in targets if isinstance(key, str) and key != "*"}
        unknown = sorted(set(table["queue"].astype(str)) - known)
        if unknown:
            Console(stderr=True).print(
                f"note: queue(s) {', '.join(unknown)} not in {scenario}: measured against "
                f"--target-s {target_s:g} s"
            )
    if out is not None:
        _write_table(table, out)
        Console().print(f"{len(table):,} rows written to {out}")
        return
    console = Console()
    if not console.is_terminal:  # piped or captured: do not squeeze into 80 columns
        console = Console(width=max(console.width, 150))
    console.print(_kpi_view(table, limit, rollup_to, interval))
    used = table["sl_definition"].iloc[0] if len(table) else definition
    Console().print(f"service level definition: {used}")


def register(app: typer.Typer) -> None:
    @app.command("ingest")
    def ingest(
        files: list[Path] = typer.Argument(..., help="Interaction log files."),
        format: str = typer.Option(
            "auto", "--format", "-f", help="anonymous-bank, csv, parquet, openwfm or auto."
        ),
        mapping: Path | None = typer.Option(
            None, "--mapping", help="YAML column mapping (source column: schema column)."
        ),
        store: Path = typer.Option(Path("openwfm.duckdb"), "--store", help="DuckDB store file."),
        timezone: str | None = typer.Option(
            None,
            "--timezone",
            help="The center's IANA time zone (e.g. Europe/Amsterdam): times with a UTC offset "
            "are converted to it. Without it, such times are an error.",
        ),
    ) -> None:
        """Read logs and add them to the store: idempotent (known ids are skipped) and atomic
        (all files in one transaction; any bad row stores nothing). An id given twice with
        different content is an error naming both lines."""
        ingest_files(files, format, mapping, store, timezone)

    @app.command("kpi")
    def kpi(
        store: Path = typer.Option(Path("openwfm.duckdb"), "--store", help="DuckDB store file."),
        interval: int = typer.Option(15, "--interval", help="Interval minutes: 5, 6, 15, 30, 60."),
        by: str = typer.Option("queue", "--by", help="Group columns: queue,segment,channel."),
        target_s: float = typer.Option(20.0, "--target-s", help="Answer-time target, seconds."),
        short_abandon_s: float = typer.Option(
            5.0, "--short-abandon-s", help="Short-abandon threshold, seconds."
        ),
        definition: str = typer.Option(
            "offered", "--definition", help="offered, answered or exclude_short_abandons."
        ),
        rollup_to: str = typer.Option("interval", "--rollup", help="interval, day or month."),
        scenario: Path | None = typer.Option(
            None,
            "--scenario",
            help="Scenario YAML: per-queue and per-segment targets (others: --target-s).",
        ),
        out: Path | None = typer.Option(None, "--out", help="Write F.csv or F.parquet."),
        limit: int = typer.Option(40, "--limit", help="Rows shown on screen without --out."),
    ) -> None:
        """Interval KPIs from the store: offered, answered, abandoned, service level, ASA, AHT,
        waits, agents, busy time and estimated occupancy; or daily / monthly roll-ups."""
        interval_kpi_command(
            store, interval, by, target_s, short_abandon_s, definition, rollup_to, scenario,
            out, limit,
        )  # fmt: skip

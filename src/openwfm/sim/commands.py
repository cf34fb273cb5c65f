"""CLI: ``openwfm simulate SCENARIO [--schedule S] [--arrivals F] --replications R --seed N``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    import pandas as pd

    from openwfm.model import Scenario
    from openwfm.sim.run import SimulationResult


def read_table_file(path: Path, what: str) -> pd.DataFrame:
    """A CSV or Parquet table; a missing or unreadable file is a one-line DataError."""
    import pandas as pd

    from openwfm.errors import DataError

    if not path.exists():
        raise DataError("file not found", file=str(path), field=what)
    if path.is_dir():
        raise DataError("is a folder, expected a file", file=str(path), field=what)
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except (ValueError, OSError) as error:
        raise DataError(f"cannot read {what}: {error}", file=str(path)) from None


def read_arrivals(path: Path) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """(rates, trace): a rates table, or an interaction log to replay (any openwfm format)."""
    from openwfm.data.readers import read_interactions
    from openwfm.errors import DataError

    if path.is_dir():
        raise DataError("is a folder, expected a file", file=str(path), field="--arrivals")
    is_parquet = path.suffix.lower() in (".parquet", ".pq")
    if not is_parquet and path.exists():
        with open(path, encoding="utf-8", errors="replace") as handle:
            header = handle.readline()
        if "arrival_rate_per_s" in header:
            return read_table_file(path, "arrivals"), None
    elif is_parquet:
        frame = read_table_file(path, "arrivals")
        if "arrival_rate_per_s" in frame.columns:
            return frame, None
    return None, read_interactions(path)


def write_outputs(result: SimulationResult, out: Path) -> None:
    """intervals.csv, summary.csv, replications.csv in folder ``out``, renamed into place
    together (:func:`openwfm.io.write_tables`; a file system error is one line naming the
    path)."""
    from openwfm.io import write_tables

    write_tables(
        {
            out / "intervals.csv": result.intervals,
            out / "replications.csv": result.replications,
            out / "summary.csv": result.summary,
        }
    )


def _shrinkage(given: float | None, scenario: Scenario, scheduled: bool) -> float:
    """The shrinkage to simulate: the option's, else the scenario's for a schedule."""
    if given is not None:
        if not 0.0 <= given < 1.0:
            from openwfm.errors import ParameterError

            raise ParameterError(f"expected 0 <= shrinkage < 1, got {given}", field="--shrinkage")
        return float(given)
    return float(scenario.shrinkage) if scheduled else 0.0


def _prepare_naming_file(path: Path, scenario, **options):
    """:func:`openwfm.sim.run.prepare`; its outbound (blending) checks name the scenario file."""
    from openwfm.errors import ScenarioError
    from openwfm.sim.run import prepare

    try:
        return prepare(scenario, **options)
    except ScenarioError as error:
        if error.file is None and "outbound" in (error.field or ""):
            raise ScenarioError(error.message, file=str(path), field=error.field) from None
        raise


def register(app: typer.Typer) -> None:
    @app.command("simulate")
    def simulate_command(
        scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
        schedule: Annotated[
            Path | None,
            typer.Option(
                "--schedule",
                help="Agents: shifts and breaks (agent,start,end,activity) or counts per "
                "interval (interval_start,agents[,team]). Default: every agent through the "
                "opening hours.",
            ),
        ] = None,
        arrivals: Annotated[
            Path | None,
            typer.Option(
                "--arrivals",
                help="Rates per interval (interval_start,queue[,segment],arrival_rate_per_s) "
                "or an interaction log to replay. Default: the scenario's queue demand.",
            ),
        ] = None,
        replications: Annotated[int, typer.Option("--replications", "-r", min=1)] = 10,
        seed: Annotated[int, typer.Option("--seed", min=0)] = 0,
        start: Annotated[
            str | None,
            typer.Option(
                "--start", help="First day (YYYY-MM-DD) when the demand comes from the scenario."
            ),
        ] = None,
        days: Annotated[int | None, typer.Option("--days", min=1, help="Days to simulate.")] = None,
        scheduler: Annotated[
            str,
            typer.Option(
                "--scheduler",
                help="threads (default), sync, local (a Dask LocalCluster) or a scheduler "
                "address host:port.",
            ),
        ] = "threads",
        drop_unknown_queues: Annotated[
            bool,
            typer.Option(
                "--drop-unknown-queues",
                help="Replay: leave out logged contacts of queues the scenario does not have.",
            ),
        ] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
        out: Annotated[
            Path | None, typer.Option("--out", help="Folder for the CSV tables.")
        ] = None,
        shrinkage: Annotated[
            float | None,
            typer.Option(
                "--shrinkage",
                help="Share of scheduled time agents are away at random beyond the schedule's "
                "breaks (meetings, absence), 0..1. Default: the scenario's shrinkage with "
                "--schedule, 0 without (every agent on through the opening hours).",
            ),
        ] = None,
    ) -> None:
        """Simulate the center; KPIs per queue x segment x interval with 95% CIs."""
        import json

        from rich.console import Console
        from rich.table import Table

        from openwfm.io import check_date_span, check_output_folder, parse_date
        from openwfm.scenario import load_scenario
        from openwfm.sim.run import DEFAULT_START, check_scheduler, run_prepared

        check_scheduler(scheduler)
        loaded = load_scenario(scenario)
        first_day = parse_date(start, "--start")
        if days is not None:
            check_date_span(first_day or DEFAULT_START, days, "--days")
        if out is not None:
            check_output_folder(out)
        rates = trace = schedule_frame = None
        if arrivals is not None:
            rates, trace = read_arrivals(arrivals)
        if schedule is not None:
            schedule_frame = read_table_file(schedule, "schedule")
        prepared = _prepare_naming_file(
            scenario,
            loaded,
            rates=rates,
            trace=trace,
            schedule=schedule_frame,
            start=first_day,
            days=days,
            drop_unknown_queues=drop_unknown_queues,
            sources={"arrivals": str(arrivals), "schedule": str(schedule)},
            shrinkage=_shrinkage(shrinkage, loaded, schedule is not None),
        )
        result = run_prepared(prepared, replications, seed, scheduler, progress=not as_json)
        if out is not None:
            write_outputs(result, out)
        from openwfm.sim.outbound import outbound_report

        outbound = outbound_report(prepared, result)  # blending: calls made vs asked
        if as_json:
            payload = {
                "info": result.info,
                "events": result.events,
                "elapsed_s": result.elapsed_s,
                "summary": json.loads(result.summary.to_json(orient="records")),
            }
            if not outbound.empty:
                payload["outbound"] = json.loads(outbound.to_json(orient="records"))
            typer.echo(json.dumps(payload, indent=2))
            return
        table = Table(
            title=f"{loaded.name}: {replications} replications, seed {seed} "
            f"({result.events:,} events in {result.elapsed_s:.1f} s)"
        )
        for column in ("queue", "segment", "offered", "abandoned", "SL", "ASA s", "occupancy"):
            table.add_column(column)

        def ci(row, name, fmt):
            mean, low, high = row[name], row[f"{name}_ci_low"], row[f"{name}_ci_high"]
            if mean != mean:  # NaN
                return "-"
            if low != low:
                return format(mean, fmt)
            return f"{format(mean, fmt)} [{format(low, fmt)}, {format(high, fmt)}]"

        for _, row in result.summary.iterrows():
            table.add_row(
                row["queue"],
                row["segment"],
                ci(row, "offered", ".0f"),
                ci(row, "abandon_rate", ".1%"),
                ci(row, "service_level", ".1%"),
                ci(row, "asa_s", ".1f"),
                ci(row, "occupancy", ".1%"),
            )
        Console().print(table)
        for _, row in outbound.iterrows():
            Console().print(
                f"outbound {row['queue']}: {row['delivered']:.0f} calls made "
                f"[{row['delivered_ci_low']:.0f}, {row['delivered_ci_high']:.0f}] vs "
                f"{row['asked']:.0f} asked"
            )

"""CLI: ``openwfm capacity SCENARIO --plan capacity.yaml --weeks 52 --out DIR``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer

from openwfm.errors import ParameterError

HiringMethod = Literal["optimise", "back_solve", "none"]


def _inputs(plan, forecast: Path | None, roster: Path | None, profile: Path | None, queues):
    from openwfm.capacity.inputs import read_profile, read_roster, read_weekly_forecast

    forecast_path = forecast or plan.path(plan.forecast)
    if forecast_path is None:
        raise ParameterError(
            "no weekly forecast: give --forecast or 'forecast:' in the plan file",
            field="--forecast",
        )
    weekly = read_weekly_forecast(forecast_path, queues)
    roster_path = roster or plan.path(plan.roster)
    roster_table = read_roster(roster_path) if roster_path is not None else None
    profile_path = profile or plan.path(plan.profile)
    profile_table = read_profile(profile_path) if profile_path is not None else None
    return weekly, str(forecast_path), roster_table, profile_table


def write_outputs(result, out: Path, title: str) -> list[Path]:
    """``capacity.csv``, ``capacity.parquet``, ``classes.csv``, ``requirements.csv`` and
    ``capacity.html`` in ``out``; all or none land (temporary files renamed at the end)."""
    import os
    import tempfile

    from openwfm.capacity.report import capacity_report
    from openwfm.io import write_tables

    html = capacity_report(result, title).to_html()
    out.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".capacity.parquet.", suffix=".tmp", dir=out)
    os.close(handle)
    try:
        result.plan.to_parquet(temporary, index=False)
        paths = {
            out / "capacity.csv": result.plan,
            out / "classes.csv": result.classes,
            out / "requirements.csv": result.requirements,
            out / "capacity.html": html,
        }
        write_tables(paths)
        os.chmod(temporary, 0o644)
        os.replace(temporary, out / "capacity.parquet")
    finally:
        Path(temporary).unlink(missing_ok=True)
    return [*paths, out / "capacity.parquet"]


def register(app: typer.Typer) -> None:
    @app.command("capacity")
    def capacity(
        scenario: Path = typer.Argument(..., help="Scenario YAML (queues, targets, hours)."),
        plan: Path = typer.Option(
            ..., "--plan", help="Capacity plan YAML (fields: openwfm.capacity.inputs)."
        ),
        weeks: int = typer.Option(52, "--weeks", help="Weeks to plan from the plan's start."),
        out: Path = typer.Option(..., "--out", help="Output folder."),
        forecast: Path = typer.Option(
            None, "--forecast", help="Weekly forecast CSV/Parquet: week_start,queue,offered,aht_s."
        ),
        roster: Path = typer.Option(None, "--roster", help="Roster CSV: agent,hire_date,..."),
        profile: Path = typer.Option(
            None, "--profile", help="Intraday profile CSV: queue,weekday,time,share."
        ),
        hiring: HiringMethod | None = typer.Option(
            None, "--hiring", help="optimise, back_solve or none (default: the plan's)."
        ),
    ) -> None:
        """Weekly FTE plan: required vs planned FTE, gap, hire classes, scenarios, P10/P90.

        Writes DIR/capacity.csv and .parquet (one row per scenario and week), classes.csv,
        requirements.csv (per queue) and capacity.html.
        """
        from rich.console import Console
        from rich.table import Table

        from openwfm.capacity.inputs import load_plan
        from openwfm.capacity.planner import capacity_plan
        from openwfm.capacity.report import scenario_summary
        from openwfm.scenario import load_scenario

        if weeks < 1 or weeks > 520:
            raise ParameterError(f"expected 1..520 weeks, got {weeks}", field="--weeks")
        loaded = load_scenario(scenario)
        queues = set(loaded.queue_names)
        capacity_file = load_plan(plan, known_queues=queues)
        if hiring is not None:
            capacity_file = capacity_file.model_copy(
                update={"hiring": capacity_file.hiring.model_copy(update={"method": hiring})}
            )
        weekly, source, roster_table, profile_table = _inputs(
            capacity_file, forecast, roster, profile, queues
        )
        result = capacity_plan(
            loaded,
            capacity_file,
            weekly,
            roster=roster_table,
            profile=profile_table,
            weeks=weeks,
            forecast_source=source,
        )
        write_outputs(result, out, f"Capacity plan: {loaded.name}")
        summary = scenario_summary(result.plan, result.classes)
        table = Table(title=f"capacity: {weeks} weeks -> {out}")
        shown = {
            "scenario": "scenario",
            "mean_required_fte": "required FTE",
            "mean_productive_fte": "productive FTE",
            "weeks_short": "weeks short",
            "worst_gap_fte": "worst gap",
            "class_starts": "starts",
            "total_cost": "cost",
        }
        for heading in shown.values():
            table.add_column(heading, overflow="fold")
        for row in summary[list(shown)].itertuples(index=False):
            table.add_row(
                *[f"{value:,.1f}" if isinstance(value, float) else str(value) for value in row]
            )
        Console().print(table)

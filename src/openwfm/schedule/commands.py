"""CLI: ``openwfm schedule SCENARIO --requirements R.csv --weeks N --time-limit S --out S.csv``."""

from __future__ import annotations

from pathlib import Path

import typer

from openwfm.io import parse_date, write_tables


def _read_requirements(path: Path):
    import pandas as pd

    from openwfm.errors import DataError

    if not path.exists():
        raise DataError("file not found", file=str(path))
    if path.is_dir():
        raise DataError("is a folder, expected a file", file=str(path))
    try:
        if path.suffix.lower() == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except (OSError, ValueError) as error:
        raise DataError(f"cannot read: {error}", file=str(path)) from None


def check_requirements(table, scenario, column: str, path: Path, start, weeks: int):
    """The requirement table with parsed times; DataError naming file:line:field for a bad
    time, a count that is not a finite number >= 0 or a queue the scenario does not have;
    ParameterError when no requirement falls in the planned days."""
    import pandas as pd

    from openwfm.errors import ParameterError
    from openwfm.tables import REQUIREMENTS, check_table

    names = ["interval_start", "queue", "required_agents"]
    declared = REQUIREMENTS.subset(names, {"required_agents": column})
    table = check_table(
        table, declared, source=str(path), choices={"queue": scenario.queue_names}, keys=False
    )
    times = table["interval_start"]
    if start is not None:
        end = pd.Timestamp(start) + pd.Timedelta(days=7 * weeks)
        inside = (times >= pd.Timestamp(start)) & (times < end)
        if not inside.any():
            raise ParameterError(
                f"no requirement falls in the planned days ({start} + {weeks} week(s)); "
                f"{path} covers {times.min():%Y-%m-%d} to {times.max():%Y-%m-%d}",
                field="--start",
            )
    return table


def register(app: typer.Typer) -> None:
    @app.command("schedule")
    def schedule(
        scenario: Path = typer.Argument(
            ...,
            help="Scenario YAML (its 'schedule' section; without one: hourly start templates).",
        ),
        requirements: Path = typer.Option(
            None, "--requirements", "-r", help="Requirements CSV/Parquet (openwfm staff output)."
        ),
        slots: Path = typer.Option(
            None,
            "--slots",
            help="Slot roster instead: CSV with date,shift,required,under_weight,over_weight "
            "(shift types with a fixed start and length; see schedule_slots).",
        ),
        weeks: int = typer.Option(
            None, "--weeks", help="Planning horizon in weeks (1-6; default 1, slots: the file's)."
        ),
        time_limit: float = typer.Option(60.0, "--time-limit", help="Solver time limit, s."),
        out: Path = typer.Option(Path("schedule.csv"), "--out", help="Shift table CSV."),
        start: str = typer.Option(None, "--start", help="First day YYYY-MM-DD (default: data)."),
        column: str = typer.Option(
            "required_agents", "--column", help="Requirement column to cover (on-line agents)."
        ),
        weighting: str = typer.Option(
            "service", "--weighting", help="Under-coverage cost: service, convex or linear."
        ),
        shrinkage: float | None = typer.Option(
            None,
            "--shrinkage",
            help="Shrinkage beyond the breaks the schedule places (meetings, absence), 0..1: "
            "the column is covered / (1 - shrinkage). Default: the scenario's for "
            "required_agents, 0 for another column (scheduled_agents already carries it).",
        ),
        strategy: str = typer.Option("auto", "--strategy", help="auto, single or two_phase."),
        html: Path = typer.Option(None, "--html", help="Also write an HTML page with charts."),
        deterministic: bool = typer.Option(
            False,
            "--deterministic",
            help="Count --time-limit as solver work (CP-SAT deterministic seconds, one worker; "
            "HiGHS nodes), not wall seconds: the same schedule on any machine.",
        ),
    ) -> None:
        """Shifts, breaks and days off for the scenario's agents against a requirement.

        Writes OUT (one row per shift), OUT.activities.csv (activity per agent and interval),
        OUT.coverage.csv (scheduled vs required per queue and interval) and OUT.rules.csv
        (per-rule instances, violations and penalties).

        With --slots instead of --requirements: a slot roster (agents on shift types per date
        against a cover per slot); writes OUT, OUT.coverage.csv (per slot) and OUT.rules.csv.
        """
        import math

        from rich.console import Console
        from rich.table import Table

        from openwfm.errors import ParameterError
        from openwfm.io import check_output_path
        from openwfm.scenario import load_scenario
        from openwfm.schedule import schedule_agents

        console = Console(stderr=True)
        first_day = parse_date(start, "--start")
        if not (math.isfinite(time_limit) and time_limit > 0):
            raise ParameterError(
                f"expected a positive time limit, got {time_limit}", field="--time-limit"
            )
        if (requirements is None) == (slots is None):
            raise ParameterError("give one of --requirements or --slots", field="--requirements")
        if slots is not None:
            from openwfm.schedule.slot_commands import run_slots

            return run_slots(
                scenario,
                slots,
                out=out,
                start=first_day,
                weeks=weeks,
                time_limit_s=time_limit,
                deterministic=deterministic,
                html=html,
            )
        weeks = 1 if weeks is None else weeks
        check_output_path(out)
        if html is not None:
            check_output_path(html, "--html")
        loaded = load_scenario(scenario)
        default_templates = loaded.schedule is None
        if default_templates:
            from openwfm.schedule.templates import default_schedule_settings

            loaded = loaded.model_copy(update={"schedule": default_schedule_settings(loaded)})
        table = check_requirements(
            _read_requirements(requirements), loaded, column, requirements, first_day, weeks
        )
        with console.status("scheduling...") as status:

            def progress(objective: float, bound: float, seconds: float) -> None:
                status.update(
                    f"scheduling... {seconds:5.1f} s  objective {objective:.1f}  bound {bound:.1f}"
                )

            result = schedule_agents(
                loaded,
                table,
                weeks=weeks,
                start=first_day,
                time_limit_s=time_limit,
                cover_column=column,
                weighting=weighting,
                extra_shrinkage=(
                    shrinkage
                    if shrinkage is not None
                    else (loaded.shrinkage if column == "required_agents" else 0.0)
                ),
                progress=progress,
                source=str(requirements),
                strategy=strategy,
                deterministic=deterministic,
            )
        stem = out.with_suffix("")
        write_tables(
            {
                out: result.shifts,
                Path(f"{stem}.activities.csv"): result.activities,
                Path(f"{stem}.coverage.csv"): result.coverage,
                Path(f"{stem}.rules.csv"): result.rules,
            }
        )
        if html is not None:
            from openwfm.report.html import Report
            from openwfm.schedule.charts import add_to_report

            add_to_report(Report(title=f"Schedule: {loaded.name}"), result).write(html)
        summary = Table(title=f"{loaded.name}: {len(result.shifts)} shifts -> {out}")
        for name in ("status", "objective", "bound", "gap", "time s", "uncovered agent-intervals"):
            summary.add_column(name)
        summary.add_row(
            result.status,
            f"{result.objective:.1f}",
            f"{result.bound:.1f}",
            f"{result.gap:.2%}",
            f"{result.wall_time_s:.1f}",
            str(int(result.coverage["under"].sum())),
        )
        out_console = Console()
        out_console.print(summary)
        violated = result.rules[result.rules["violated"] > 0]
        if not violated.empty:
            out_console.print(violated.to_string(index=False))
        for note in result.notes:
            out_console.print(f"note: {note}")
        if default_templates:  # after the work: an error stays one line
            out_console.print(
                "note: the scenario has no 'schedule' section: hourly start templates with a "
                "break and a lunch, as `openwfm plan` uses"
            )

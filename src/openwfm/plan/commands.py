"""CLI: ``openwfm plan SCENARIO [--history STORE_OR_FILES] --weeks N --out DIR``."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("plan")
    def plan(
        scenario: Path = typer.Argument(..., help="Scenario YAML file."),
        history: list[Path] = typer.Option(
            None,
            "--history",
            help="Interaction logs to ingest, or one .duckdb store (repeatable; a shell glob "
            "after it also works). None: generate a history from the scenario's demand.",
        ),
        extra: list[Path] = typer.Argument(None, hidden=True),
        format: str = typer.Option("auto", "--format", help="auto, anonymous-bank, csv, ..."),
        weeks: int = typer.Option(1, "--weeks", help="Weeks to plan (1-6)."),
        out: Path = typer.Option(Path("out/plan"), "--out", help="Folder for the plan's files."),
        time_limit: float = typer.Option(120.0, "--time-limit", help="Schedule solver limit, s."),
        replications: int = typer.Option(10, "--replications", help="Simulated replications."),
        seed: int = typer.Option(0, "--seed", min=0, help="Random seed."),
        shrinkage: float | None = typer.Option(
            None,
            "--shrinkage",
            help="Shrinkage beyond the breaks the schedule places (meetings, absence), 0..1: "
            "the schedule covers required / (1 - shrinkage). Default: the scenario's. The "
            "simulation always takes the scenario's shrinkage away.",
        ),
        deterministic: bool = typer.Option(
            False,
            "--deterministic",
            help="Count --time-limit as solver work (CP-SAT deterministic seconds, one worker; "
            "HiGHS nodes), not wall seconds: the same plan on any machine.",
        ),
    ) -> None:
        """Forecast, staff, schedule and simulate WEEKS weeks; write tables and a report.

        Writes forecast.csv, requirements.csv, schedule.csv, coverage.csv, simulation.csv,
        summary.json and report.html (+ PNG charts) into OUT; prints the summary. When no
        schedule is found, the report is partial (forecast, requirement, why the schedule stage
        failed), the verdict is "no schedule" and the exit code 1. Re-running
        with the same inputs reuses each stage's earlier result (OUT/.cache).
        """
        import time

        from rich.console import Console

        from openwfm.plan.pipeline import run_plan
        from openwfm.plan.summary import summary_text

        # `--history a.txt b.txt c.txt` (a shell glob): the files after the first arrive as
        # extra arguments; join them to the history.
        files = list(history or []) + list(extra or [])
        began = time.perf_counter()
        result = run_plan(
            scenario,
            history=files or None,
            weeks=weeks,
            out_dir=out,
            format=format,
            time_limit_s=time_limit,
            replications=replications,
            seed=seed,
            shrinkage=shrinkage,
            deterministic=deterministic,
        )
        console = Console()
        console.print(summary_text(result.summary), highlight=False, markup=False)
        console.print(f"report: {result.report_path}", highlight=False)
        console.print(f"done in {time.perf_counter() - began:.1f} s", highlight=False)
        if result.summary.get("verdict") == "no schedule":
            raise typer.Exit(1)  # the partial report is written; scripts see the plan failed

"""CLI: ``openwfm plan SCENARIO [--history STORE_OR_FILES] --weeks N --out DIR``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

# the readers' formats (openwfm.data.readers.FORMATS), spelled here so --help needs no pandas
HistoryFormat = Literal["auto", "anonymous-bank", "csv", "parquet", "openwfm"]


def register(app: typer.Typer) -> None:
    @app.command("plan")
    def plan(
        scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
        history: Annotated[
            list[Path] | None,
            typer.Option(
                "--history",
                help="Interaction logs to ingest, or one .duckdb store (repeatable; a shell "
                "glob after it also works). None: generate a history from the scenario's demand.",
            ),
        ] = None,
        extra: Annotated[list[Path] | None, typer.Argument(hidden=True)] = None,
        format: Annotated[
            HistoryFormat, typer.Option("--format", help="Format of the history's log files.")
        ] = "auto",
        weeks: Annotated[int, typer.Option("--weeks", help="Weeks to plan (1-6).")] = 1,
        out: Annotated[Path, typer.Option("--out", help="Folder for the plan's files.")] = Path(
            "out/plan"
        ),
        time_limit: Annotated[
            float,
            typer.Option(
                "--time-limit",
                help="Schedule solver limit, s (each correction round's re-schedule too).",
            ),
        ] = 120.0,
        replications: Annotated[
            int, typer.Option("--replications", help="Simulated replications.")
        ] = 10,
        seed: Annotated[int, typer.Option("--seed", min=0, help="Random seed.")] = 0,
        shrinkage: Annotated[
            float | None,
            typer.Option(
                "--shrinkage",
                help="Shrinkage beyond the breaks the schedule places (meetings, absence), "
                "0..1: the schedule covers required / (1 - shrinkage). Default: the "
                "scenario's. The simulation always takes the scenario's shrinkage away.",
            ),
        ] = None,
        deterministic: Annotated[
            bool,
            typer.Option(
                "--deterministic",
                help="Count --time-limit as solver work (CP-SAT deterministic seconds, one "
                "worker; HiGHS nodes), not wall seconds: the same plan on any machine.",
            ),
        ] = False,
        pools: Annotated[
            bool,
            typer.Option(
                "--pools/--no-pools",
                help="Staff and schedule the sets of queues that share agents as pools (an "
                "agent counts toward every queue it can serve). --no-pools: per queue only, "
                "each agent toward one queue per interval.",
            ),
        ] = True,
        correction_rounds: Annotated[
            int,
            typer.Option(
                "--correction-rounds",
                help="With pools: at most this many rounds of simulate the schedule, raise the "
                "requirements where it clearly misses, re-schedule (0: none).",
            ),
        ] = 2,
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
            pools=pools,
            correction_rounds=correction_rounds,
        )
        console = Console()
        console.print(summary_text(result.plan_summary), highlight=False, markup=False)
        console.print(f"report: {result.report_path}", highlight=False)
        console.print(f"done in {time.perf_counter() - began:.1f} s", highlight=False)
        if result.plan_summary.verdict == "no schedule":
            raise typer.Exit(1)  # the partial report is written; scripts see the plan failed

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

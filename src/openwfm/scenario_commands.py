"""CLI: ``openwfm check SCENARIO`` validates a scenario file and summarises it."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("check")
    def check(scenario: Path = typer.Argument(..., help="Scenario YAML file.")) -> None:
        """Validate a scenario file; print a one-line error naming the bad field, or a summary."""
        from rich.console import Console
        from rich.table import Table

        from openwfm.scenario import load_scenario

        loaded = load_scenario(scenario)
        table = Table(title=f"{loaded.name}: {len(loaded.all_agents())} agents")
        for column in ("queue", "channel", "AHT s", "patience s", "target"):
            table.add_column(column)
        for queue in loaded.queues:
            target = queue.target
            table.add_row(
                queue.name,
                queue.channel.value,
                f"{queue.aht_s:g}",
                "-" if queue.patience_s is None else f"{queue.patience_s:g}",
                f"{target.service_level:.0%} within {target.within_s:g} s",
            )
        Console().print(table)

"""CLI: ``openwfm report`` writes the self-contained HTML history report from the store."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer

IntervalMinutes = Literal[5, 6, 15, 30, 60]


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report(
        out: Path = typer.Option(..., "--out", help="HTML file to write."),
        store: Path = typer.Option(
            Path("openwfm.duckdb"), "--store", help="Interaction store (DuckDB file)."
        ),
        interval: IntervalMinutes = typer.Option(
            15, "--interval", help="Interval minutes: 5/6/15/30/60."
        ),
        scenario: Path | None = typer.Option(
            None, "--scenario", help="Scenario YAML: per-queue targets and the report title."
        ),
    ) -> None:
        """Write an HTML report (KPIs, volume, intraday profile, SL, AHT, waits) of the store."""
        from rich.console import Console

        from openwfm.errors import DataError, ParameterError, StoreError

        if out.suffix.lower() not in (".html", ".htm"):
            raise ParameterError(
                f"expected an output file ending in .html, got {out.name!r}", field="--out"
            )
        if not store.is_file():
            raise StoreError("no interaction store here (run `openwfm ingest` first)", file=store)
        from openwfm.io import check_output_path

        check_output_path(out)

        from openwfm.data.intervals import interval_kpis
        from openwfm.data.store import InteractionStore
        from openwfm.report.html import build_report
        from openwfm.report.tables import scenario_targets
        from openwfm.scenario import load_scenario

        title, target_s, definition, levels = "openwfm report", 20.0, "offered", None
        if scenario is not None:
            loaded = load_scenario(scenario)
            title = loaded.name
            target_s, definition, levels = scenario_targets(loaded)
        console = Console(stderr=True)
        with console.status("reading the store"):
            with InteractionStore(store, read_only=True) as opened:
                interactions = opened.interactions()
        if interactions.empty:
            raise DataError("the store holds no interactions", file=str(store))
        with console.status("computing interval KPIs"):
            kpis = interval_kpis(
                interactions, interval_minutes=interval, target_s=target_s, definition=definition
            )
        with console.status("writing the report"):
            path = build_report(interactions, kpis, title=title, path=out, targets=levels)
        Console().print(f"report: {path}")

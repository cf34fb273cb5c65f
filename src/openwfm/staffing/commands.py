"""CLI: ``openwfm staff`` (forecast + scenario targets -> requirements)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

if TYPE_CHECKING:
    import pandas as pd

# the interval lengths staffing accepts (openwfm.staffing.INTERVAL_CHOICES)
IntervalMinutes = Literal[5, 6, 15, 30, 60]


def read_forecast_table(path: Path) -> pd.DataFrame:
    """A forecast / KPI table (CSV or Parquet); DataError naming the file for unreadable input."""
    import pandas as pd

    from openwfm.errors import DataError

    if not path.exists():
        raise DataError("file not found", file=str(path))
    if path.is_dir():
        raise DataError("is a folder, expected a file", file=str(path))
    try:
        if path.suffix.lower() == ".parquet":
            return pd.read_parquet(path)
        table = pd.read_csv(path, dtype={"queue": "string", "interval_start": "string"})
    except UnicodeDecodeError:
        raise DataError("not UTF-8 text; save the file as UTF-8", file=str(path)) from None
    except Exception as error:  # noqa: BLE001 - any reader failure is bad input
        text = " ".join(str(error).split())
        raise DataError(f"cannot read table: {text}", file=str(path)) from None
    if len(table.columns) == 1:
        header = str(table.columns[0])
        for delimiter, name in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
            if delimiter in header:
                raise DataError(
                    f"wrong delimiter: the header is {name}-separated, expected comma-separated",
                    file=str(path),
                    line=1,
                )
    return table


def register(app: typer.Typer) -> None:
    @app.command("staff")
    def staff(
        scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
        forecast: Annotated[
            Path,
            typer.Option(help="Forecast (forecast column) or KPI (offered) table, CSV/Parquet."),
        ],
        out: Annotated[
            Path | None, typer.Option(help="Write the requirements table (.csv or .parquet).")
        ] = None,
        interval_minutes: Annotated[
            IntervalMinutes | None,
            typer.Option(help="Interval length, minutes (default: scenario grid)."),
        ] = None,
    ) -> None:
        """Forecast + scenario targets -> required and scheduled agents per queue x interval."""

        from rich.console import Console

        from openwfm.errors import DataError
        from openwfm.scenario import load_scenario
        from openwfm.staffing import requirements

        if out is not None:
            from openwfm.io import check_output_path, check_table_path

            check_output_path(check_table_path(out))
        loaded = load_scenario(scenario)
        table = read_forecast_table(forecast)
        try:
            result = requirements(table, loaded, interval_minutes=interval_minutes)
        except DataError as error:
            raise DataError(
                error.message, file=str(forecast), line=error.line, field=error.field
            ) from None
        console = Console()
        if out is not None:
            from openwfm.io import write_table

            write_table(result, out)
            console.print(f"wrote {len(result)} rows to {out}")
        summary = result.groupby(["queue", "model"])[["required_agents", "scheduled_agents"]].agg(
            ["max", "mean"]
        )
        console.print(summary.round(2).to_string())
        if "outbound_per_interval" in result.columns:  # blending: outbound asked vs expected
            outbound = result.groupby("queue")[
                ["outbound_per_interval", "expected_outbound_per_interval"]
            ].sum()
            outbound = outbound[outbound["outbound_per_interval"] > 0]
            outbound.columns = ["outbound calls asked", "outbound calls expected"]
            console.print(outbound.round(1).to_string())

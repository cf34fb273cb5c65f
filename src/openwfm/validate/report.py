"""The fidelity result as a rich table (terminal) and an HTML report (Plotly charts, tables)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from openwfm.validate.fidelity import FidelityResult

_UNITS = {"service_level": "fraction", "asa_s": "s", "abandon_rate": "fraction"}
NOTE = (
    "Errors are predicted - actual per queue-hour (MAE: mean absolute error; bias: mean error). "
    "Erlang C has no abandonment (it predicts none), so it is compared on service level and ASA "
    "only. ASA is scored on the hours where every model is finite; 'unstable' counts the hours "
    "a model had no finite ASA (Erlang C with load >= agents). queue_mean is the naive baseline: "
    "each queue's whole-history value every hour."
)


def error_table(result: FidelityResult):
    """A rich Table: model x metric with hours scored, MAE, bias and unstable hours."""
    from rich.table import Table

    info = result.info
    table = Table(
        title=(
            f"Model fidelity over {info['hours']} hours ({info['rows']} queue-hours; scored: "
            f">= {info['min_offered']} offered; agents: {info.get('agents')})"
        ),
        caption=NOTE,
    )
    for column in ("metric", "model", "hours", "MAE", "bias", "unstable"):
        table.add_column(column, justify="left" if column in ("metric", "model") else "right")
    for row in result.errors.itertuples():
        digits = ".1f" if row.metric == "asa_s" else ".3f"
        table.add_row(
            f"{row.metric} ({_UNITS[row.metric]})",
            row.model,
            str(row.hours),
            format(row.mae, digits),
            format(row.bias, "+" + digits),
            str(int(row.unstable_hours)),
        )
    return table


def pivot_by_hour(by_hour: pd.DataFrame, metric: str) -> pd.DataFrame:
    """MAE by hour of day (rows) and model (columns) for one metric."""
    frame = by_hour[by_hour["metric"] == metric]
    return frame.pivot(index="hour", columns="model", values="mae").reset_index()


def _rounded(frame: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """Float columns rounded to ``digits`` decimals for reading (the result keeps all digits)."""
    floats = frame.select_dtypes("float").columns
    return frame.assign(**{c: frame[c].round(digits) for c in floats})


def write_report(result: FidelityResult, path: str | Path, *, title: str) -> Path:
    """Write one self-contained HTML file: the error tables, MAE by hour, predicted vs actual."""
    from openwfm.report.html import Report

    figures = result.figures()
    report = Report(title)
    report.add_section("Errors per model", [_rounded(result.errors)], note=NOTE)
    report.add_section("By hour of day", [figures[0]])
    for metric in ("abandon_rate", "service_level", "asa_s"):
        if metric in set(result.by_hour["metric"]):
            report.add_section(
                f"MAE by hour of day: {metric}", [_rounded(pivot_by_hour(result.by_hour, metric))]
            )
    report.add_section("Per queue", [_rounded(result.by_queue)])
    report.add_section("Predicted vs actual", figures[1:])
    summary = result.estimates.groupby("queue").agg(
        hours=("offered", "size"),
        offered=("offered", "sum"),
        mean_agents=("agents", "mean"),
        aht_s=("aht_s", "mean"),
        patience_s=("patience_s", "median"),
    )
    report.add_section(
        "Estimated parameters per queue (means over hours; median patience)",
        [_rounded(summary.reset_index(), 1)],
    )
    return report.write(path)

"""Plotly charts of a backtest: accuracy per lead day and forecasts against actuals."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from openwfm.io import atomic_write_text


def backtest_figures(results: pd.DataFrame, by_lead: pd.DataFrame) -> list:
    """Figures: WAPE per lead day per method; actual vs forecast at the last origin."""
    import plotly.graph_objects as go

    figures = []
    fig = go.Figure()
    for method, part in by_lead.groupby("method"):
        fig.add_trace(
            go.Scatter(x=part["lead_day"], y=part["wape"], mode="lines+markers", name=str(method))
        )
    fig.update_layout(title="WAPE by lead time", xaxis_title="lead (days)", yaxis_title="WAPE")
    figures.append(fig)

    for queue, part in results.groupby("queue"):
        last = part[part["origin"] == part["origin"].max()]
        fig = go.Figure()
        actual = last.drop_duplicates("interval_start").sort_values("interval_start")
        fig.add_trace(
            go.Scatter(
                x=actual["interval_start"],
                y=actual["actual"],
                name="actual",
                line={"color": "black"},
            )
        )
        for method, m in last.groupby("method"):
            m = m.sort_values("interval_start")
            fig.add_trace(go.Scatter(x=m["interval_start"], y=m["forecast"], name=str(method)))
            if "lower_80" in m.columns and m["lower_80"].notna().any():
                fig.add_trace(
                    go.Scatter(
                        x=m["interval_start"],
                        y=m["upper_80"],
                        line={"width": 0},
                        showlegend=False,
                        name=f"{method} upper 80%",
                    )
                )
                fig.add_trace(
                    go.Scatter(
                        x=m["interval_start"],
                        y=m["lower_80"],
                        line={"width": 0},
                        fill="tonexty",
                        name=f"{method} 80% interval",
                    )
                )
        fig.update_layout(
            title=f"{queue}: forecasts from the last origin "
            f"({pd.Timestamp(last['origin'].iloc[0]).date()})",
            yaxis_title="offered per interval",
        )
        figures.append(fig)
    return figures


def backtest_report(results: pd.DataFrame, by_lead: pd.DataFrame, path: str | Path) -> Path:
    """Write the backtest charts to a standalone HTML file (atomically)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figures = backtest_figures(results, by_lead)
    parts = [
        "<html><head><meta charset='utf-8'><title>openwfm backtest</title></head><body>",
        "<h1>openwfm backtest</h1>",
    ]
    table = by_lead.pivot(index="lead_day", columns="method", values="wape").round(3)
    parts.append("<h2>WAPE per method and lead day</h2>" + table.to_html())
    for i, fig in enumerate(figures):
        parts.append(fig.to_html(full_html=False, include_plotlyjs=(i == 0)))
    parts.append("</body></html>")
    return atomic_write_text(path, "\n".join(parts))

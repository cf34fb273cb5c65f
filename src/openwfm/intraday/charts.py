"""Chart pages of the intraday commands (one self-contained HTML page each)."""

from __future__ import annotations

import pandas as pd


def adherence_page(result, title: str) -> str:
    """Heat map of adherence per agent x interval, the day table, exceptions, who is out now."""
    import plotly.graph_objects as go

    from openwfm.report.html import Report

    table = result.by_interval
    report = Report(title)
    if len(table):
        grid = table.pivot(index="agent_id", columns="interval_start", values="adherence")
        figure = go.Figure(
            go.Heatmap(
                z=grid.to_numpy(),
                x=list(grid.columns),
                y=list(grid.index),
                zmin=0,
                zmax=1,
                colorscale="RdYlGn",
                colorbar={"title": "adherence"},
            )
        )
        figure.update_layout(height=max(300, 22 * len(grid) + 120), margin={"l": 120})
        report.add_section("Adherence per agent and interval", figure)
    report.add_section("Per agent and day", result.by_day)
    report.add_section(
        "Exceptions",
        result.exceptions if len(result.exceptions) else pd.DataFrame({"exceptions": ["none"]}),
    )
    if len(result.now):
        report.add_section("Out of adherence now", result.now)
    return report.to_html()

"""Chart pages of the intraday commands (one self-contained HTML page each)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from openwfm.intraday.adherence_figures import AdherenceResult
    from openwfm.intraday.replanning import ReplanResult
    from openwfm.intraday.rest_of_day import OutlookResult


def adherence_page(result: AdherenceResult, title: str) -> str:
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
        report.add_section("Adherence per agent and interval", [figure])
    report.add_section("Per agent and day", [result.by_day.round(3)])
    report.add_section(
        "Exceptions",
        result.exceptions if len(result.exceptions) else pd.DataFrame({"exceptions": ["none"]}),
    )
    if len(result.now):
        report.add_section("Out of adherence now", [result.now.round(1)])
    return report.to_html()


def outlook_page(result: OutlookResult, alerts: pd.DataFrame, title: str) -> str:
    """Projected service level and abandonment per queue x interval, the queue table, alerts."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from openwfm.report.html import Report

    table = result.intervals
    queues = sorted(table["queue"].unique())
    figure = make_subplots(rows=len(queues), cols=1, shared_xaxes=True, subplot_titles=queues)
    for row, queue in enumerate(queues, start=1):
        part = table[table["queue"] == queue].sort_values("interval_start")
        figure.add_trace(
            go.Scatter(
                x=part["interval_start"],
                y=part["projected_service_level"],
                name=f"{queue} projected SL",
                line={"shape": "hv"},
            ),
            row=row,
            col=1,
        )
        figure.add_trace(
            go.Scatter(
                x=part["interval_start"],
                y=part["projected_abandon"],
                name=f"{queue} projected abandonment",
                line={"shape": "hv", "dash": "dot"},
            ),
            row=row,
            col=1,
        )
        figure.add_trace(
            go.Scatter(
                x=part["interval_start"],
                y=part["target_service_level"],
                name=f"{queue} target",
                line={"color": "#d62728"},
            ),
            row=row,
            col=1,
        )
    figure.add_vline(x=result.as_of, line_dash="dash")
    figure.update_layout(height=280 * len(queues) + 80)
    report = Report(title)
    report.add_section("Rest of the day", [figure])
    report.add_section("Queues now", [result.queues.round(3)])
    report.add_section("Alerts", alerts if len(alerts) else pd.DataFrame({"alerts": ["none"]}))
    return report.to_html()


def replan_page(result: ReplanResult, title: str) -> str:
    """Agents on line and projected service level per interval, now and with every proposal;
    the proposals table."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from openwfm.report.html import Report

    report = Report(title)
    table = result.intervals
    if table is not None and len(table):
        queues = sorted(table["queue"].unique())
        figure = make_subplots(
            rows=2 * len(queues),
            cols=1,
            shared_xaxes=True,
            subplot_titles=[
                f"{q} {what}" for q in queues for what in ("agents on line", "projected SL")
            ],
        )
        for k, queue in enumerate(queues):
            part = table[table["queue"] == queue]
            for column, name, row in (
                ("agents_before", "now", 2 * k + 1),
                ("agents_after", "with proposals", 2 * k + 1),
                ("projected_sl_before", "now", 2 * k + 2),
                ("projected_sl_after", "with proposals", 2 * k + 2),
            ):
                figure.add_trace(
                    go.Scatter(
                        x=part["interval_start"],
                        y=part[column],
                        name=f"{queue} {name}",
                        line={"shape": "hv"},
                    ),
                    row=row,
                    col=1,
                )
        figure.update_layout(height=260 * 2 * len(queues) + 80)
        report.add_section("Rest of the day", [figure])
    report.add_section(
        "Proposals",
        result.proposals.round(4)
        if len(result.proposals)
        else pd.DataFrame({"proposals": ["none"]}),
    )
    return report.to_html()

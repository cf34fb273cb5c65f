"""Plotly figures of a schedule: coverage against requirement, and an agent Gantt chart.

``add_to_report(report, result)`` appends both (and the rule table) to an
:class:`openwfm.report.html.Report`; the figures are plain ``plotly.graph_objects.Figure``
objects any other page can embed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from openwfm.schedule.solver import ScheduleResult

if TYPE_CHECKING:
    import plotly.graph_objects as go


def coverage_figure(result: ScheduleResult) -> go.Figure:
    """Scheduled agents (step line) against the requirement per queue and interval."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    coverage = result.coverage
    queues = sorted(coverage["queue"].unique()) or ["(none)"]
    fig = make_subplots(rows=len(queues), cols=1, shared_xaxes=True, subplot_titles=queues)
    for row, queue in enumerate(queues, start=1):
        part = coverage[coverage["queue"] == queue].sort_values("interval_start")
        for column, name, colour in (
            ("required", "required", "#d62728"),
            ("scheduled", "scheduled", "#1f77b4"),
        ):
            fig.add_trace(
                go.Scatter(
                    x=part["interval_start"],
                    y=part[column],
                    name=f"{queue} {name}",
                    line={"shape": "hv", "color": colour},
                    legendgroup=name,
                    showlegend=row == 1,
                ),
                row=row,
                col=1,
            )
        short = part[part["under"] > 0]
        fig.add_trace(
            go.Bar(
                x=short["interval_start"],
                y=short["under"],
                name="under-covered",
                marker_color="#ff7f0e",
                opacity=0.6,
                legendgroup="under",
                showlegend=row == 1,
            ),
            row=row,
            col=1,
        )
    fig.update_layout(
        title=f"Coverage vs requirement (gap {result.gap:.1%}, {result.status})",
        height=260 * len(queues) + 80,
        yaxis_title="agents",
    )
    return fig


def gantt_figure(result: ScheduleResult, max_agents: int = 60) -> go.Figure:
    """One bar per shift and agent (the first ``max_agents`` agents), breaks drawn on top."""
    import plotly.graph_objects as go

    shifts = result.shifts
    agents = sorted(shifts["agent"].unique())[:max_agents]
    part = shifts[shifts["agent"].isin(agents)]
    fig = go.Figure()
    for shift_type, rows in part.groupby("shift_type"):
        fig.add_trace(
            go.Bar(
                y=rows["agent"],
                x=(rows["shift_end"] - rows["shift_start"]).dt.total_seconds() * 1000,
                base=rows["shift_start"],
                orientation="h",
                name=str(shift_type),
                hovertext=rows["breaks"],
            )
        )
    acts = result.activities
    on_break = acts[acts["agent"].isin(agents) & ~acts["activity"].isin(result.coverage["queue"])]
    if not on_break.empty:
        width = pd.Timedelta(minutes=result.horizon.interval_minutes).total_seconds() * 1000
        fig.add_trace(
            go.Bar(
                y=on_break["agent"],
                x=[width] * len(on_break),
                base=on_break["interval_start"],
                orientation="h",
                name="break",
                marker_color="#222",
                hovertext=on_break["activity"],
            )
        )
    fig.update_layout(
        barmode="overlay",
        title=f"Shifts of {len(agents)} agents",
        xaxis_type="date",
        height=max(300, 18 * len(agents) + 120),
        yaxis={"autorange": "reversed"},
    )
    return fig


def add_to_report(report, result: ScheduleResult, max_agents: int = 60):
    """Append coverage, Gantt and rule sections to an ``openwfm.report.html.Report``."""
    note = (
        f"objective {result.objective:.1f}, bound {result.bound:.1f}, gap {result.gap:.2%}, "
        f"{result.status}, {result.wall_time_s:.1f} s"
    )
    report.add_section("Schedule coverage vs requirement", coverage_figure(result), note=note)
    report.add_section("Agent shifts", gantt_figure(result, max_agents))
    report.add_section("Scheduling rules", result.rules, note="; ".join(result.notes) or None)
    return report

"""An HTML page of a slot roster: cover per shift type and date, the roster grid, the rules.

``add_slots_to_report(report, result)`` appends the three sections to an
:class:`openwfm.report.html.Report` (``openwfm schedule --slots ... --html page.html``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from openwfm.schedule.slots import SlotRosterResult

if TYPE_CHECKING:
    import plotly.graph_objects as go


def slot_cover_figure(result: SlotRosterResult) -> go.Figure:
    """Scheduled (bars) against required (markers) per date, one panel per shift type."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    coverage = result.coverage
    types = sorted(coverage["shift"].unique()) or ["(none)"]
    fig = make_subplots(rows=len(types), cols=1, shared_xaxes=True, subplot_titles=types)
    for row, shift in enumerate(types, start=1):
        part = coverage[coverage["shift"] == shift].sort_values("date")
        dates = pd.to_datetime(part["date"])
        fig.add_trace(
            go.Bar(x=dates, y=part["scheduled"], name="scheduled", marker_color="#1f77b4",
                   legendgroup="scheduled", showlegend=row == 1),
            row=row, col=1,
        )  # fmt: skip
        fig.add_trace(
            go.Scatter(x=dates, y=part["required"], name="required", mode="markers",
                       marker={"color": "#d62728", "symbol": "line-ew-open", "size": 18},
                       legendgroup="required", showlegend=row == 1),
            row=row, col=1,
        )  # fmt: skip
    fig.update_layout(
        title=f"Cover per slot (objective {result.objective:.1f}, {result.status})",
        height=240 * len(types) + 80,
        yaxis_title="agents",
    )
    return fig


def roster_grid(result: SlotRosterResult) -> pd.DataFrame:
    """Agent x date table of shift type names (blank: day off)."""
    shifts = result.shifts
    dates = [result.start + pd.Timedelta(days=d) for d in range(result.days)]
    columns = [pd.Timestamp(d).strftime("%a %d") for d in dates]
    if shifts.empty:
        return pd.DataFrame(columns=["agent", *columns])
    grid = shifts.pivot_table(index="agent", columns="date", values="shift", aggfunc="first")
    grid = grid.reindex(columns=[pd.Timestamp(d).date() for d in dates]).fillna("")
    grid.columns = columns
    return grid.reset_index()


def add_slots_to_report(report, result: SlotRosterResult):
    """Append cover, roster grid and rule sections to an ``openwfm.report.html.Report``."""
    note = (
        f"objective {result.objective:.2f}, bound {result.bound:.2f}, gap {result.gap:.2%}, "
        f"{result.status}, {result.wall_time_s:.1f} s"
    )
    report.add_section("Cover per shift type and date", slot_cover_figure(result), note=note)
    report.add_section("Roster", roster_grid(result))
    report.add_section("Scheduling rules", result.rules, note="; ".join(result.notes) or None)
    return report

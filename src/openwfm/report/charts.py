"""Plotly figures over the interval-KPI table and the interactions table.

Every function takes plain DataFrames and returns one :class:`plotly.graph_objects.Figure`, so
any stage can put them into a :class:`openwfm.report.html.Report` section or show them alone.
KPI inputs are the output of :func:`openwfm.data.intervals.interval_kpis` (columns
``interval_start``, ``queue``, ``offered``, ``answered``, ``abandoned``,
``answered_within_target``, ``sl_definition``, ``aht_s`` ...). Rates are recomputed from counts
(never averaged over intervals), so a chart agrees with the summary table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_LAYOUT = {"template": "plotly_white", "margin": {"l": 60, "r": 20, "t": 60, "b": 40}}


def service_level_base(kpis: pd.DataFrame) -> pd.Series:
    """Denominator of the service level per row under the row's ``sl_definition``.

    ``offered``: offered; ``answered``: answered; ``exclude_short_abandons``: offered - short
    abandons.
    """
    definition = kpis["sl_definition"].astype(str)
    base = kpis["offered"].astype(float)
    base = base.where(definition != "answered", kpis["answered"].astype(float))
    short = kpis["offered"] - kpis["short_abandoned"]
    return base.where(definition != "exclude_short_abandons", short.astype(float))


def _queues(frame: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(frame["queue"].astype(str)))


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    return (numerator / denominator.where(denominator > 0)).astype(float)


def daily_volume(kpis: pd.DataFrame) -> go.Figure:
    """Offered contacts per day, one line per queue."""
    day = kpis["interval_start"].dt.floor("D")
    daily = kpis.groupby([day, kpis["queue"].astype(str)])["offered"].sum().unstack(fill_value=0)
    figure = go.Figure()
    for queue in _queues(kpis):
        figure.add_trace(
            go.Scatter(x=daily.index, y=daily[queue], mode="lines+markers", name=queue)
        )
    figure.update_layout(title="Offered contacts per day", yaxis_title="contacts", **_LAYOUT)
    return figure


def intraday_profile(kpis: pd.DataFrame) -> go.Figure:
    """Mean offered contacts per interval of the day, one line per weekday, a panel per queue."""
    queues = _queues(kpis)
    start = kpis["interval_start"]
    frame = pd.DataFrame(
        {
            "queue": kpis["queue"].astype(str),
            "weekday": start.dt.dayofweek,
            "clock": start.dt.strftime("%H:%M"),
            "date": start.dt.normalize(),
            "offered": kpis["offered"],
        }
    )
    # mean over the days of that weekday on which the queue had intervals
    days = frame.groupby(["queue", "weekday"])["date"].nunique()
    totals = frame.groupby(["queue", "weekday", "clock"])["offered"].sum()
    means = totals / days.reindex(totals.index.droplevel("clock")).to_numpy()
    figure = make_subplots(rows=len(queues), cols=1, subplot_titles=queues, shared_xaxes=True)
    for row, queue in enumerate(queues, start=1):
        for weekday in sorted(means.loc[queue].index.get_level_values("weekday").unique()):
            series = means.loc[(queue, weekday)].sort_index()
            figure.add_trace(
                go.Scatter(
                    x=series.index,
                    y=series.to_numpy(),
                    mode="lines",
                    name=WEEKDAY_NAMES[weekday],
                    legendgroup=WEEKDAY_NAMES[weekday],
                    showlegend=row == 1,
                    line={"color": _weekday_colour(weekday)},
                ),
                row=row,
                col=1,
            )
        figure.update_yaxes(title_text="contacts", row=row, col=1)
    # clock labels are categories: keep them in time order whichever weekday opens first
    figure.update_xaxes(type="category", categoryorder="category ascending")
    figure.update_layout(
        title="Intraday profile by weekday (mean offered per interval)",
        height=260 * len(queues) + 80,
        **_LAYOUT,
    )
    return figure


def _weekday_colour(weekday: int) -> str:
    palette = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#7f7f7f")
    return palette[weekday % 7]


def service_level_by_interval(
    kpis: pd.DataFrame, targets: dict[str, float] | None = None
) -> go.Figure:
    """Service level and abandonment rate per interval of the day over all days, per queue.

    Both are pooled counts (sum over days, then divide). ``targets`` (queue -> service-level
    fraction) draws each queue's goal as a dotted line.
    """
    frame = kpis.assign(
        clock=kpis["interval_start"].dt.strftime("%H:%M"),
        base=service_level_base(kpis),
        queue=kpis["queue"].astype(str),
    )
    sums = frame.groupby(["queue", "clock"])[
        ["answered_within_target", "base", "abandoned", "offered"]
    ].sum()
    figure = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        subplot_titles=("Service level", "Abandonment rate"),
        vertical_spacing=0.1,
    )
    for index, queue in enumerate(_queues(kpis)):
        colour = _weekday_colour(index)
        part = sums.loc[queue].sort_index()
        sl = _ratio(part["answered_within_target"], part["base"])
        abandon = _ratio(part["abandoned"], part["offered"])
        figure.add_trace(
            go.Scatter(x=part.index, y=sl, name=queue, legendgroup=queue, line={"color": colour}),
            row=1,
            col=1,
        )
        figure.add_trace(
            go.Scatter(
                x=part.index,
                y=abandon,
                name=queue,
                legendgroup=queue,
                showlegend=False,
                line={"color": colour},
            ),
            row=2,
            col=1,
        )
        if targets and queue in targets:
            figure.add_trace(
                go.Scatter(
                    x=[part.index[0], part.index[-1]],
                    y=[targets[queue]] * 2,
                    name=f"{queue} target",
                    legendgroup=queue,
                    mode="lines",
                    line={"color": colour, "dash": "dot"},
                ),
                row=1,
                col=1,
            )
    figure.update_yaxes(tickformat=".0%", row=1, col=1)
    figure.update_yaxes(tickformat=".0%", row=2, col=1)
    figure.update_xaxes(type="category", categoryorder="category ascending")
    figure.update_layout(
        title="Service level and abandonment by interval of the day", height=620, **_LAYOUT
    )
    return figure


def daily_service_level(kpis: pd.DataFrame) -> go.Figure:
    """Service level per day and queue (pooled counts of the day)."""
    frame = kpis.assign(
        day=kpis["interval_start"].dt.floor("D"),
        base=service_level_base(kpis),
        queue=kpis["queue"].astype(str),
    )
    sums = frame.groupby(["queue", "day"])[["answered_within_target", "base"]].sum()
    figure = go.Figure()
    for queue in _queues(kpis):
        part = sums.loc[queue]
        sl = _ratio(part["answered_within_target"], part["base"])
        figure.add_trace(go.Scatter(x=part.index, y=sl, mode="lines+markers", name=queue))
    figure.update_layout(title="Service level per day", yaxis_tickformat=".0%", **_LAYOUT)
    return figure


def aht_by_queue(kpis: pd.DataFrame) -> go.Figure:
    """Average handle time per queue: overall (bars) and per day (lines), in seconds."""
    frame = kpis.assign(
        day=kpis["interval_start"].dt.floor("D"),
        handle_s=kpis["aht_s"].fillna(0.0) * kpis["answered"],
        handled=kpis["answered"].where(kpis["aht_s"].notna(), 0),
        queue=kpis["queue"].astype(str),
    )
    queues = _queues(kpis)
    overall = frame.groupby("queue")[["handle_s", "handled"]].sum().reindex(queues)
    daily = frame.groupby(["queue", "day"])[["handle_s", "handled"]].sum()
    figure = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.3, 0.7],
        subplot_titles=("All days", "Per day"),
    )
    figure.add_trace(
        go.Bar(
            x=queues,
            y=_ratio(overall["handle_s"], overall["handled"]),
            marker_color=[_weekday_colour(i) for i in range(len(queues))],
            showlegend=False,
        ),
        row=1,
        col=1,
    )
    for index, queue in enumerate(queues):
        part = daily.loc[queue]
        figure.add_trace(
            go.Scatter(
                x=part.index,
                y=_ratio(part["handle_s"], part["handled"]),
                name=queue,
                line={"color": _weekday_colour(index)},
            ),
            row=1,
            col=2,
        )
    figure.update_yaxes(title_text="AHT s", row=1, col=1)
    figure.update_layout(title="Average handle time by queue", **_LAYOUT)
    return figure


def wait_distribution(interactions: pd.DataFrame, bins: int = 40) -> go.Figure:
    """Histogram of the wait in the agent queue per queue, answered and abandoned stacked.

    The counts are binned here (up to each queue's 99th percentile wait; the last bar holds
    the longer waits), so the report stays small however long the log.
    """
    offered = interactions[interactions["outcome"].isin(["answered", "abandoned"])]
    queues = _queues(offered)
    figure = make_subplots(
        rows=len(queues), cols=1, subplot_titles=queues, vertical_spacing=0.25 / max(len(queues), 1)
    )
    for row, queue in enumerate(queues, start=1):
        part = offered[offered["queue"].astype(str) == queue]
        waits = part["wait_s"].to_numpy(dtype=float)
        upper = max(float(np.nanquantile(waits, 0.99)), 1.0) if waits.size else 1.0
        unit, scale = ("min", 60.0) if upper > 1800 else ("s", 1.0)
        edges = np.linspace(0.0, upper, bins + 1)
        centres = (edges[:-1] + edges[1:]) / 2 / scale
        for outcome, colour in (("answered", "#2ca02c"), ("abandoned", "#d62728")):
            values = part.loc[part["outcome"] == outcome, "wait_s"].to_numpy(dtype=float)
            counts, _ = np.histogram(np.clip(values, 0.0, upper), bins=edges)
            figure.add_trace(
                go.Bar(
                    x=centres,
                    y=counts,
                    name=outcome,
                    legendgroup=outcome,
                    showlegend=row == 1,
                    marker_color=colour,
                ),
                row=row,
                col=1,
            )
        figure.update_xaxes(title_text=f"wait ({unit})", row=row, col=1)
        figure.update_yaxes(title_text="contacts", row=row, col=1)
    figure.update_layout(
        title="Wait distribution (time in the agent queue)",
        barmode="stack",
        bargap=0.05,
        height=260 * len(queues) + 80,
        **_LAYOUT,
    )
    return figure

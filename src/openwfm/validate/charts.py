"""Plotly figures of model fidelity (inputs: the tables of :mod:`openwfm.validate.fidelity`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

_TITLES = {
    "service_level": "service level (fraction of offered)",
    "asa_s": "ASA (s)",
    "abandon_rate": "abandonment (fraction of offered)",
}
_COLORS = {
    "erlang_c": "#1f77b4",
    "erlang_a": "#d62728",
    "simulation": "#2ca02c",
    "queue_mean": "#7f7f7f",
}
_LAYOUT = {"template": "plotly_white", "margin": {"l": 60, "r": 20, "t": 70, "b": 40}}


def error_by_hour_figure(by_hour: pd.DataFrame) -> go.Figure:
    """Mean absolute error by hour of day, one panel per metric, one line per model."""
    metrics = [m for m in _TITLES if m in set(by_hour["metric"])]
    figure = make_subplots(
        rows=len(metrics), cols=1, shared_xaxes=True, subplot_titles=[_TITLES[m] for m in metrics]
    )
    for row, metric in enumerate(metrics, start=1):
        for model, frame in by_hour[by_hour["metric"] == metric].groupby("model", sort=False):
            frame = frame.sort_values("hour")
            figure.add_trace(
                go.Scatter(
                    x=frame["hour"],
                    y=frame["mae"],
                    mode="lines+markers",
                    name=model,
                    legendgroup=model,
                    showlegend=row == 1,
                    line={"color": _COLORS.get(model)},
                    customdata=frame[["hours", "bias"]].to_numpy(),
                    hovertemplate="%{x}:00 MAE %{y:.3g} (bias %{customdata[1]:.3g}, "
                    "%{customdata[0]} hours)<extra>" + model + "</extra>",
                ),
                row=row,
                col=1,
            )
    figure.update_xaxes(title_text="hour of day", dtick=1, row=len(metrics), col=1)
    figure.update_layout(
        title="Mean absolute error of each model, by hour of day",
        height=260 * len(metrics) + 80,
        **_LAYOUT,
    )
    return figure


def predicted_vs_actual_figure(
    predictions: pd.DataFrame, metric: str, min_offered: int = 10
) -> go.Figure:
    """Predicted against actual per hour (hours with >= ``min_offered`` offered), per model."""
    table = predictions[(predictions["metric"] == metric) & (predictions["offered"] >= min_offered)]
    table = table[np.isfinite(table["predicted"]) & np.isfinite(table["actual"])]
    figure = go.Figure()
    for model, frame in table.groupby("model", sort=False):
        figure.add_trace(
            go.Scatter(  # SVG: opens without WebGL (headless browsers)
                x=frame["actual"],
                y=frame["predicted"],
                mode="markers",
                name=model,
                marker={"size": 4, "opacity": 0.35, "color": _COLORS.get(model)},
            )
        )
    if len(table):
        top = float(max(table["actual"].max(), table["predicted"].max()))
        figure.add_trace(
            go.Scatter(x=[0, top], y=[0, top], mode="lines", name="perfect", line={"dash": "dot"})
        )
    figure.update_layout(
        title=f"Predicted vs actual {_TITLES.get(metric, metric)}, one point per queue-hour",
        xaxis_title="actual",
        yaxis_title="predicted",
        height=520,
        **_LAYOUT,
    )
    return figure

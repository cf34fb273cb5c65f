"""Charts and the HTML page of a capacity plan (:class:`openwfm.report.Report` sections)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from openwfm.capacity.planner import CapacityResult
from openwfm.capacity.scenarios import BASELINE

_LAYOUT = {"template": "plotly_white", "margin": {"l": 60, "r": 20, "t": 60, "b": 40}}


def required_vs_planned(plan: pd.DataFrame, scenario: str = BASELINE) -> go.Figure:
    """Required FTE (with shrinkage), planned and productive FTE with the P10/P90 band."""
    rows = plan[plan["scenario"] == scenario]
    x = rows["week_start"]
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=x, y=rows["productive_fte_p90"], line={"width": 0}, showlegend=False, hoverinfo="skip"
        )
    )
    figure.add_trace(
        go.Scatter(
            x=x,
            y=rows["productive_fte_p10"],
            line={"width": 0},
            fill="tonexty",
            fillcolor="rgba(31,119,180,0.18)",
            name="productive P10-P90",
        )
    )
    figure.add_trace(
        go.Scatter(x=x, y=rows["productive_fte"], name="productive FTE", line={"color": "#1f77b4"})
    )
    figure.add_trace(
        go.Scatter(
            x=x, y=rows["planned_fte"], name="planned FTE", line={"color": "#1f77b4", "dash": "dot"}
        )
    )
    figure.add_trace(
        go.Scatter(
            x=x,
            y=rows["required_fte"],
            name="required FTE (with shrinkage)",
            line={"color": "#d62728"},
        )
    )
    figure.add_trace(
        go.Scatter(
            x=x,
            y=rows["required_fte_net"],
            name="required FTE (without shrinkage)",
            line={"color": "#d62728", "dash": "dash"},
        )
    )
    figure.update_layout(
        title=f"Required vs planned FTE ({scenario})", yaxis_title="FTE", **_LAYOUT
    )
    return figure


def gap_by_scenario(plan: pd.DataFrame) -> go.Figure:
    figure = go.Figure()
    for name, rows in plan.groupby("scenario", sort=False):
        figure.add_trace(go.Bar(x=rows["week_start"], y=rows["gap_fte"], name=str(name)))
    figure.update_layout(
        title="Gap: productive - required FTE, by scenario",
        barmode="group",
        yaxis_title="FTE",
        **_LAYOUT,
    )
    return figure


def required_by_scenario(plan: pd.DataFrame) -> go.Figure:
    figure = go.Figure()
    for name, rows in plan.groupby("scenario", sort=False):
        figure.add_trace(go.Scatter(x=rows["week_start"], y=rows["required_fte"], name=str(name)))
    figure.update_layout(title="Required FTE by scenario", yaxis_title="FTE", **_LAYOUT)
    return figure


def class_timeline(classes: pd.DataFrame) -> go.Figure:
    """Hire classes on a time line: training, then nesting, until production."""
    figure = go.Figure()
    week_ms = 7 * 86400 * 1000
    for phase, colour in (("training", "#ff7f0e"), ("nesting", "#2ca02c")):
        rows = classes
        if phase == "training":
            base = rows["start"]
            length = rows["training_weeks"]
        else:
            base = rows["start"] + pd.to_timedelta(rows["training_weeks"] * 7, unit="D")
            length = rows["nesting_weeks"]
        figure.add_trace(
            go.Bar(
                y=rows["scenario"]
                + ": "
                + rows["name"]
                + " ("
                + rows["starts"].map("{:g}".format)
                + ")",
                x=length * week_ms,
                base=base,
                orientation="h",
                name=phase,
                marker_color=colour,
            )
        )
    figure.update_layout(
        title="Hire classes: training and nesting until production",
        barmode="overlay",
        xaxis_type="date",
        **_LAYOUT,
    )
    return figure


def scenario_summary(plan: pd.DataFrame, classes: pd.DataFrame) -> pd.DataFrame:
    """One row per scenario: mean required and planned FTE, weeks short, worst gap, starts,
    total cost."""
    rows = []
    for name, weeks in plan.groupby("scenario", sort=False):
        starts = classes.loc[classes["scenario"] == name, "starts"].sum()
        rows.append(
            {
                "scenario": name,
                "mean_required_fte": weeks["required_fte"].mean(),
                "mean_productive_fte": weeks["productive_fte"].mean(),
                "weeks_short": int((weeks["gap_fte"] < -1e-9).sum()),
                "worst_gap_fte": weeks["gap_fte"].min(),
                "weeks_short_committed_only": int((weeks["gap_fte_committed"] < -1e-9).sum()),
                "class_starts": starts,
                "total_cost": weeks["cost"].sum(),
            }
        )
    return pd.DataFrame(rows).round(2)


def _dates_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    for column in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[column]):
            frame[column] = frame[column].dt.strftime("%Y-%m-%d")
    return frame


def capacity_report(result: CapacityResult, title: str = "Capacity plan"):
    """The :class:`openwfm.report.Report` of a capacity plan."""
    from openwfm.report import Report

    plan = result.plan
    start, end = plan["week_start"].min(), plan["week_start"].max()
    report = Report(title, subtitle=f"weeks {start:%Y-%m-%d} .. {end:%Y-%m-%d}")
    report.add_section(
        "Required vs planned FTE",
        [required_vs_planned(plan)],
        note="Required FTE from interval-level Erlang staffing over a representative week; "
        "shrinkage as a divisor. The band is P10-P90 of productive FTE over simulated attrition.",
    )
    report.add_section("Gap by scenario", [gap_by_scenario(plan)])
    if len(result.classes):
        report.add_section(
            "Hire classes", [class_timeline(result.classes), _dates_as_text(result.classes)]
        )
    report.add_section(
        "Scenarios compared",
        [required_by_scenario(plan), scenario_summary(plan, result.classes)],
    )
    baseline = plan[plan["scenario"] == BASELINE].drop(columns="scenario")
    report.add_section("Weekly plan (baseline)", [_dates_as_text(baseline.round(2))])
    return report

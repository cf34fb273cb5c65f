"""The plan report: one self-contained HTML file (Plotly, via :class:`openwfm.report.html.Report`)
and PNG charts drawn with matplotlib (Plotly's PNG export needs kaleido and a browser, which an
offline machine may not have; matplotlib renders anywhere).

Sections: the one-page summary, history and forecast with prediction intervals, requirement vs
scheduled coverage per queue, simulated service level / ASA / abandonment per interval with 95%
confidence bands against the targets, the agent Gantt chart, the cost summary, the requirement's
models and service-level definitions, the binding scheduling rules, and the stages.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from openwfm.model import Scenario
from openwfm.plan.summary import PlanSummary, fmt

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from openwfm.plan.pipeline import PlanResult
    from openwfm.report.html import Report

HISTORY_DAYS_SHOWN = 14
METRICS = (
    ("service_level", "service level", "target_sl"),
    ("asa_s", "ASA (s)", "max_asa_s"),
    ("abandon_rate", "abandonment", "max_abandon"),
)
_COLOURS = {"met": "#2ca02c", "within CI": "#ff7f0e", "missed": "#d62728"}


def _add_band(
    fig, x, low, high, *, row, name, group, alpha, show_legend, connect_gaps=None
) -> None:
    """A shaded band between ``low`` and ``high`` (an invisible upper line filled down to low)."""
    import plotly.graph_objects as go

    upper = {"connectgaps": connect_gaps} if connect_gaps is not None else {}
    fig.add_trace(
        go.Scatter(
            x=x,
            y=high,
            mode="lines",
            line={"width": 0},
            showlegend=False,
            hoverinfo="skip",
            **upper,
        ),
        row=row,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=low,
            mode="lines",
            line={"width": 0},
            fill="tonexty",
            fillcolor=f"rgba(31,119,180,{alpha})",
            name=name,
            legendgroup=group,
            showlegend=show_legend,
        ),
        row=row,
        col=1,
    )


def _metric_series(part: pd.DataFrame, metric: str, step: pd.Timedelta) -> pd.DataFrame:
    """``metric`` with its CI on the full interval grid (NaN where nothing was offered, so
    lines break over closed hours), the band clipped to the metric's range."""
    frame = part.assign(interval_start=pd.to_datetime(part["interval_start"]))
    frame = frame.set_index("interval_start")[[metric, f"{metric}_ci_low", f"{metric}_ci_high"]]
    if len(frame):
        grid = pd.date_range(frame.index.min(), frame.index.max(), freq=step)
        frame = frame.reindex(grid)
    upper = 1.0 if metric in ("service_level", "abandon_rate") else None
    frame = frame.clip(lower=0.0, upper=upper)
    return frame.rename_axis("interval_start").reset_index()


def summary_html(summary: PlanSummary) -> str:
    """The manager's page: verdict, targets, where and why, cost."""
    e = html.escape
    colour = {"met": "#2ca02c", "met within CI": "#ff7f0e", "missed": "#d62728"}.get(
        summary.verdict, "#666"
    )
    parts = [
        f'<div id="verdict" style="border-left:8px solid {colour};padding:0.5rem 1rem;'
        f'background:#fafafa"><p style="font-size:1.3rem;margin:0"><b>{e(summary.verdict)}'
        f"</b>: {e(summary.headline)}</p>"
        f'<p class="meta">Horizon {e(summary.horizon.start)} to '
        f"{e(summary.horizon.end)}; history: {e(summary.history)}; "
        f"{summary.replications} simulated replications with forecast uncertainty.</p></div>"
    ]
    if summary.targets:
        rows = "".join(
            f"<tr><td>{e(str(t.queue))}</td><td>{e(str(t.segment))}</td>"
            f"<td>{e(t.metric)}</td><td class=num>{fmt(t.metric, t.target)}</td>"
            f"<td class=num>{fmt(t.metric, t.simulated)}</td>"
            f"<td class=num>{fmt(t.metric, t.ci_low)} - {fmt(t.metric, t.ci_high)}"
            f'</td><td style="color:{_COLOURS.get(t.status, "#666")}"><b>{e(t.status)}'
            "</b></td></tr>"
            for t in summary.targets
        )
        parts.append(
            "<h3>Targets</h3><table class=kpi><tr><th>queue</th><th>segment</th><th>metric</th>"
            "<th>target</th><th>simulated</th><th>95% CI</th><th>status</th></tr>"
            f"{rows}</table>"
        )
    if summary.where:
        rows = "".join(
            f"<tr><td>{e(str(w.queue))}/{e(str(w.segment))}</td><td>{e(w.weekday)} "
            f"{e(w.date)}</td><td>{e(w.hours)}</td><td class=num>"
            f"{w.service_level:.0%} vs {w.target:.0%}</td><td>{e(w.reason)}</td></tr>"
            for w in summary.where
        )
        parts.append(
            f"<h3>Where ({summary.missed_interval_blocks} block(s) of intervals below target, "
            "worst first)</h3><table class=kpi><tr><th>queue</th><th>day</th><th>hours</th>"
            f"<th>SL</th><th>why</th></tr>{rows}</table>"
        )
    if summary.why:
        items = "".join(f"<li>{e(reason)}</li>" for reason in summary.why)
        parts.append(f"<h3>Why</h3><ul>{items}</ul>")
    if summary.verdicts is not None:
        from openwfm.plan.summary import verdict_sentence

        parts.append(f"<p id=verdicts>{e(verdict_sentence(summary.verdicts))}.</p>")
    if summary.shrinkage:
        parts.append(f"<p id=shrinkage>{e(summary.shrinkage.text())}.</p>")
    if summary.cost is not None:
        parts.append(
            f"<p><b>Cost</b>: {summary.cost.paid_hours:,.1f} paid hours, "
            f"{summary.cost.cost:,.2f} (paid hours x contract hourly cost"
            + ("; the contracts give no hourly_cost" if summary.cost.cost == 0 else "")
            + ").</p>"
        )
    for stage, state in summary.unavailable.items():
        parts.append(f"<p><b>{e(stage)}</b>: {e(state)}</p>")
    return "".join(parts)


def forecast_figure(history: pd.DataFrame, forecast: pd.DataFrame) -> go.Figure:
    """Per queue: the last two weeks of history and the forecast with 80% / 95% bands."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    queues = sorted(forecast["queue"].astype(str).unique())
    fig = make_subplots(rows=len(queues), cols=1, subplot_titles=queues)
    start = pd.to_datetime(forecast["interval_start"]).min()
    shown = history[history["interval_start"] >= start - pd.Timedelta(days=HISTORY_DAYS_SHOWN)]
    for row, queue in enumerate(queues, start=1):
        h = shown[shown["queue"] == queue]
        f = forecast[forecast["queue"] == queue].sort_values("interval_start")
        first = row == 1
        for level, alpha in ((95, 0.15), (80, 0.3)):
            _add_band(
                fig,
                f["interval_start"],
                f[f"lower_{level}"],
                f[f"upper_{level}"],
                row=row,
                name=f"{level}% interval",
                group=str(level),
                alpha=alpha,
                show_legend=first,
            )
        fig.add_trace(
            go.Scatter(
                x=h["interval_start"],
                y=h["offered"],
                mode="lines",
                line={"color": "#444", "width": 1},
                name="history",
                legendgroup="h",
                showlegend=first,
            ),
            row=row,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=f["interval_start"],
                y=f["forecast"],
                mode="lines",
                line={"color": "#1f77b4"},
                name="forecast",
                legendgroup="f",
                showlegend=first,
            ),
            row=row,
            col=1,
        )
    fig.update_layout(
        title="Offered contacts per interval: history and forecast", height=250 * len(queues) + 80
    )
    return fig


def _targets(scenario: Scenario, queue: str) -> dict[str, float | None]:
    target = scenario.queue(queue).target
    return {
        "target_sl": target.service_level,
        "max_asa_s": target.max_asa_s,
        "max_abandon": target.max_abandon,
    }


def simulation_figure(
    scenario: Scenario, intervals: pd.DataFrame, metric: str, label: str, target_key: str
) -> go.Figure:
    """Per queue (all segments): the simulated ``metric`` per interval, its 95% CI band, and
    the queue's target as a dashed line."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    frame = intervals[(intervals["segment"] == "all") & (intervals["queue"] != "all")]
    queues = sorted(frame["queue"].astype(str).unique()) or ["(none)"]
    fig = make_subplots(rows=len(queues), cols=1, subplot_titles=queues)
    step = pd.Timedelta(seconds=scenario.grid.interval_s)
    for row, queue in enumerate(queues, start=1):
        part = _metric_series(frame[frame["queue"] == queue], metric, step)
        first = row == 1
        _add_band(
            fig,
            part["interval_start"],
            part[f"{metric}_ci_low"],
            part[f"{metric}_ci_high"],
            row=row,
            name="95% CI",
            group="ci",
            alpha=0.25,
            show_legend=first,
            connect_gaps=False,
        )
        fig.add_trace(
            go.Scatter(
                x=part["interval_start"],
                y=part[metric],
                mode="lines",
                line={"color": "#1f77b4"},
                name="simulated mean",
                legendgroup="m",
                showlegend=first,
            ),
            row=row,
            col=1,
        )
        goal = _targets(scenario, queue)[target_key] if queue in scenario.queue_names else None
        if goal is not None and len(part):
            fig.add_trace(
                go.Scatter(
                    x=[part["interval_start"].min(), part["interval_start"].max()],
                    y=[goal, goal],
                    mode="lines",
                    line={"color": "#d62728", "dash": "dash"},
                    name="target",
                    legendgroup="t",
                    showlegend=first,
                ),
                row=row,
                col=1,
            )
    fig.update_layout(
        title=f"Simulated {label} per interval (95% CI) vs target", height=220 * len(queues) + 80
    )
    return fig


# ----------------------------------------------------------------------------- PNG charts


def write_pngs(scenario: Scenario, result: PlanResult, out_dir: Path) -> list[Path]:
    """Matplotlib PNGs: forecast.png, coverage.png, simulation.png, gantt.png (those whose
    data exist). Each file is written to a temporary name first."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written: list[Path] = []

    def save(fig, name: str) -> None:
        path = out_dir / name
        tmp = path.with_name(f".{name}.tmp.png")
        import warnings

        import matplotlib.dates as mdates

        for ax in fig.axes:
            locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
            ax.tick_params(labelsize=7)
        with warnings.catch_warnings():
            # a one-day axis has no "nice" date step; matplotlib's fallback is fine
            warnings.simplefilter("ignore", UserWarning)
            fig.tight_layout()
            fig.savefig(tmp, dpi=90, bbox_inches="tight")
        plt.close(fig)
        tmp.replace(path)
        written.append(path)

    forecast = result.forecast
    queues = sorted(forecast["queue"].astype(str).unique())
    fig, axes = plt.subplots(len(queues), 1, figsize=(11, 2.4 * len(queues)), squeeze=False)
    start = pd.to_datetime(forecast["interval_start"]).min()
    history = result.history
    for ax, queue in zip(axes[:, 0], queues, strict=True):
        f = forecast[forecast["queue"] == queue].sort_values("interval_start")
        h = history[
            (history["queue"] == queue)
            & (history["interval_start"] >= start - pd.Timedelta(days=HISTORY_DAYS_SHOWN))
        ]
        ax.fill_between(
            f["interval_start"], f["lower_95"], f["upper_95"], alpha=0.15, lw=0, label="95%"
        )
        ax.fill_between(
            f["interval_start"], f["lower_80"], f["upper_80"], alpha=0.3, lw=0, label="80%"
        )
        ax.plot(h["interval_start"], h["offered"], color="#444", lw=0.6, label="history")
        ax.plot(f["interval_start"], f["forecast"], lw=0.9, label="forecast")
        ax.set_title(queue, fontsize=9)
    axes[0, 0].legend(fontsize=7, ncol=4)
    save(fig, "forecast.png")

    if result.schedule is not None:
        cov = result.schedule.coverage
        cq = sorted(cov["queue"].unique())
        if cq:
            fig, axes = plt.subplots(len(cq), 1, figsize=(11, 2.2 * len(cq)), squeeze=False)
            for ax, queue in zip(axes[:, 0], cq, strict=True):
                part = cov[cov["queue"] == queue].sort_values("interval_start")
                ax.step(
                    part["interval_start"],
                    part["required"],
                    where="post",
                    color="#d62728",
                    lw=0.8,
                    label="required",
                )
                ax.step(
                    part["interval_start"],
                    part["scheduled"],
                    where="post",
                    color="#1f77b4",
                    lw=0.8,
                    label="scheduled",
                )
                ax.set_title(queue, fontsize=9)
            axes[0, 0].legend(fontsize=7)
            save(fig, "coverage.png")
        shifts = result.schedule.shifts
        if not shifts.empty:
            agents = sorted(shifts["agent"].unique())[:60]
            fig, ax = plt.subplots(figsize=(11, max(2.0, 0.18 * len(agents))))
            for i, agent in enumerate(agents):
                for s in shifts[shifts["agent"] == agent].itertuples(index=False):
                    ax.barh(
                        i,
                        s.shift_end - s.shift_start,
                        left=s.shift_start,
                        height=0.7,
                        color="#1f77b4",
                    )
            ax.set_yticks(range(len(agents)), agents, fontsize=6)
            ax.set_title("Shifts per agent (first 60 agents)", fontsize=9)
            save(fig, "gantt.png")

    if result.simulation is not None:
        frame = result.simulation
        frame = frame[(frame["segment"] == "all") & (frame["queue"] != "all")]
        sq = sorted(frame["queue"].unique())
        if sq:
            fig, axes = plt.subplots(len(sq), 3, figsize=(14, 2.2 * len(sq)), squeeze=False)
            for r, queue in enumerate(sq):
                goals = _targets(scenario, queue)
                for c, (metric, label, key) in enumerate(METRICS):
                    ax = axes[r, c]
                    part = _metric_series(
                        frame[frame["queue"] == queue],
                        metric,
                        pd.Timedelta(seconds=scenario.grid.interval_s),
                    )
                    ax.fill_between(
                        part["interval_start"],
                        part[f"{metric}_ci_low"],
                        part[f"{metric}_ci_high"],
                        alpha=0.3,
                        lw=0,
                    )
                    ax.plot(part["interval_start"], part[metric], lw=0.7)
                    if goals[key] is not None:
                        ax.axhline(goals[key], color="#d62728", ls="--", lw=0.8)
                    ax.set_title(f"{queue}: {label}", fontsize=8)
                    ax.tick_params(labelsize=6)
            save(fig, "simulation.png")
    return written


# ----------------------------------------------------------------------------- the report


def write_plan_report(scenario: Scenario, result: PlanResult, path: Path) -> Path:
    """Write ``report.html`` and the PNG charts beside it; returns the HTML path."""
    page = plan_report(scenario, result)
    path = page.write(path)
    write_pngs(scenario, result, path.parent)
    return path


def plan_report_files(
    scenario: Scenario, result: PlanResult, folder: Path
) -> tuple[str, list[Path]]:
    """The report's HTML text and its PNG charts written into ``folder`` (a staging folder),
    for a writer that puts the plan's files in place as one set."""
    html = plan_report(scenario, result).to_html()
    written = write_pngs(scenario, result, folder)
    return html, sorted(Path(p) for p in written)


def _coverage_table(coverage: pd.DataFrame) -> pd.DataFrame:
    from openwfm.plan.verdicts import coverage_by_queue_and_pool

    return coverage_by_queue_and_pool(coverage)


def _verdict_section(summary: PlanSummary, table: pd.DataFrame) -> tuple[str, pd.DataFrame, str]:
    """The one-verdict table: per queue x block the coverage verdict, the simulated verdict
    and, where they differ, why (the differing blocks first)."""
    from openwfm.plan.summary import verdict_sentence

    shown = table.assign(
        block=pd.to_datetime(table["block"]).dt.strftime("%a %Y-%m-%d %H:%M"),
        coverage=np.where(table["covered"], "met", "short"),
        simulated=np.where(table["met"], "met", "missed"),
        service_level=table["service_level"].map(lambda v: f"{v:.1%}"),
    )
    shown = shown.sort_values(["agree", "queue"], kind="stable")
    columns = ["queue", "block", "coverage", "simulated", "service_level", "offered", "why"]
    note = (
        verdict_sentence(summary.verdicts) + ". Coverage: the scheduled agents carry the "
        "queue's requirement and every pool holding it over the block; simulated: the block's "
        "service level (and abandonment) meets the target within its 95% confidence interval."
        if summary.verdicts is not None
        else ""
    )
    return "One verdict: coverage vs simulation", shown[columns], note


def plan_report(scenario: Scenario, result: PlanResult) -> Report:
    """The plan report as a :class:`openwfm.report.html.Report`."""
    from openwfm.report.html import Report

    summary = result.plan_summary
    report = Report(
        title=f"Plan: {scenario.name}",
        subtitle=f"{summary.horizon.start} to {summary.horizon.end}",
    )
    report.add_section("Summary", summary_html(summary))
    report.add_section(
        "History and forecast",
        [forecast_figure(result.history, result.forecast)],
        note="Methods (auto pick per queue): "
        + ", ".join(f"{q}: {m}" for q, m in summary.forecast_methods.items()),
    )
    if result.requirements is not None:
        req = result.requirements
        keys = [
            c
            for c in ("queue", "segment", "model", "sl_definition", "binding_segment")
            if c in req.columns
        ]
        table = req.groupby(keys, as_index=False).agg(
            intervals=("required_agents", "size"), peak_required=("required_agents", "max")
        )
        report.add_section(
            "Requirement: models and service-level definitions",
            table,
            note="Every requirement row in requirements.csv names the model and the "
            "service-level definition that produced it.",
        )
    schedule = result.schedule
    if schedule is not None:
        from openwfm.plan.findings import cost_table
        from openwfm.schedule.charts import coverage_figure, gantt_figure

        report.add_section(
            "Requirement vs scheduled coverage",
            [coverage_figure(schedule), _coverage_table(schedule.coverage)],
            note="Per queue and per pool (a set of queues that shares agents, named a+b): an "
            "agent at work counts toward every queue and pool they can serve; a pool's "
            "requirement (pool_requirements.csv) is what its merged queue needs.",
        )
    if result.verdicts is not None:
        heading, table, note = _verdict_section(summary, result.verdicts)
        report.add_section(heading, table, note=note)
    if result.simulation is not None:
        report.add_section(
            "Simulated service level, ASA and abandonment",
            [
                simulation_figure(scenario, result.simulation, m, label, key)
                for m, label, key in METRICS
            ],
            note="Each replication draws its own arrival rates from the forecast's prediction "
            "intervals, then Poisson arrivals; bands are 95% confidence intervals over the "
            "replications; dashed lines are the queue targets.",
        )
    if schedule is not None:
        report.add_section("Agent schedule", [gantt_figure(schedule)])
        report.add_section(
            "Cost",
            cost_table(scenario, schedule.shifts),
            note="Paid hours x the contract's hourly_cost.",
        )
        rules = result.binding_rules
        report.add_section(
            "Scheduling rules",
            rules,
            note="binds: violated (soft) or agents at the rule's limit (at_limit).",
        )
    stages = pd.DataFrame(
        [
            {"stage": s, "state": v, "seconds": round(result.timings_s.get(s, 0.0), 2)}
            for s, v in result.stages.items()
        ]
    )
    report.add_section("Stages", stages)
    return report

"""The quality report page: scores by agent and queue, CSAT / effort / FCR trends, calibration.

Built with :class:`openwfm.report.Report`, so it is one HTML file with plotly.js inline.
"""

from __future__ import annotations

import pandas as pd

from openwfm.quality.agents import agent_quality
from openwfm.quality.calibration import calibration_spread
from openwfm.quality.fcr import fcr_rates, repeat_flags
from openwfm.quality.store import QualityStore


def _weekly(frame: pd.DataFrame, value: str, name: str) -> pd.DataFrame:
    week = pd.to_datetime(frame["arrival_time"]).dt.to_period("W").dt.start_time
    return frame.assign(week=week).groupby("week")[value].mean().rename(name).reset_index()


def trend_table(surveys: pd.DataFrame, flags: pd.DataFrame, window: str = "1d") -> pd.DataFrame:
    """Weekly CSAT mean, CES mean and FCR(window), by the week of the contact's arrival."""
    parts = []
    for kind, name in (("csat", "csat_mean"), ("ces", "ces_mean")):
        rows = surveys[surveys["kind"] == kind] if len(surveys) else surveys
        if len(rows):
            parts.append(_weekly(rows, "value", name))
    if len(flags):
        resolved = flags.assign(_resolved=(~flags[f"repeat_{window}"]).astype(float))
        parts.append(_weekly(resolved, "_resolved", f"fcr_{window}"))
    if not parts:
        return pd.DataFrame(columns=["week"])
    table = parts[0]
    for part in parts[1:]:
        table = table.merge(part, on="week", how="outer")
    return table.sort_values("week").reset_index(drop=True)


def build_quality_report(quality: QualityStore, *, window: str = "1d", title: str | None = None):
    """A :class:`Report` of the store's evaluations, surveys and repeat contacts."""
    import plotly.graph_objects as go

    from openwfm.report import Report

    days = float(window.removesuffix("d"))
    evaluations = quality.evaluations()
    surveys = quality.surveys()
    flags = repeat_flags(quality.contacts_with_customers(), days=(days,))
    window = f"{days:g}d"
    report = Report(
        title or "Quality and customer experience",
        subtitle=f"{len(evaluations):,} evaluations, {len(surveys):,} survey "
        f"responses, {len(flags):,} contacts with a customer key",
    )
    by_agent = agent_quality(evaluations, flags, surveys, window=window)
    by_queue = agent_quality(evaluations, flags, surveys, window=window, by=("agent", "queue"))
    if len(by_agent):
        figure = go.Figure()
        for column, label in (
            ("score", "evaluation score (shrunk)"),
            ("fcr", f"FCR {window} (shrunk)"),
            ("csat_top2", "CSAT 4-5 share (shrunk)"),
        ):
            if column in by_agent:
                figure.add_bar(x=by_agent["agent"], y=by_agent[column], name=label)
        figure.update_layout(barmode="group", yaxis_title="fraction", yaxis_range=[0, 1])
        report.add_section(
            "Scores by agent",
            [figure, by_agent.round(4)],
            note="Shrunk toward the team mean: beta-binomial empirical Bayes for rates, "
            "normal-normal for evaluation scores; calibration evaluations left out.",
        )
        report.add_section("Scores by agent and queue", [by_queue.round(4)])
    trends = trend_table(surveys, flags, window)
    if len(trends) and trends.shape[1] > 1:
        figure = go.Figure()
        for column in trends.columns[1:]:
            figure.add_scatter(
                x=trends["week"], y=trends[column], name=column, mode="lines+markers"
            )
        figure.update_layout(xaxis_title="week", yaxis_title="CSAT 1-5, CES 1-7, FCR fraction")
        report.add_section("CSAT, effort and FCR trends", [figure, trends.round(4)])
    if len(flags):
        report.add_section(
            "First-contact resolution by queue and segment",
            [fcr_rates(flags, by=["queue"]).round(4), fcr_rates(flags, by=["segment"]).round(4)],
            note="Repeat contact = the same customer reaches the agent queue again within "
            f"{window}; reasons are not matched (see openwfm.quality.fcr for the caveats).",
        )
    sessions, evaluators = calibration_spread(evaluations, quality.table("eval_answer"))
    if len(sessions):
        figure = go.Figure(go.Bar(x=sessions["calibration_id"], y=sessions["score_range"]))
        figure.update_layout(xaxis_title="calibration session", yaxis_title="score range (max-min)")
        report.add_section("Calibration spread", [figure, sessions.round(4), evaluators.round(4)])
    return report

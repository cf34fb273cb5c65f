"""The manager's summary of a plan: targets met or not, where (queue, day, hours), and why.

Verdict per target, from the simulated horizon KPIs (mean and 95% CI over replications):
``met`` when the mean meets the target, ``within CI`` when only the confidence interval reaches
it (the shortfall is within simulation noise and forecast uncertainty), ``missed`` when the
whole interval is on the wrong side; ``too few contacts`` (fewer than ``MIN_CONTACTS`` per
replication over the horizon) gives no verdict.

Where: intervals whose simulated mean misses the target (service level below it, or
abandonment above ``max_abandon``), per queue x segment, joined into blocks of consecutive
intervals on one day. Why, per block, in this order: *uncovered* (no agent scheduled on the
queue while the requirement is positive), *under-coverage* (fewer agents scheduled than
required), else *forecast uncertainty* (coverage meets the requirement; the shortfall comes
from replications whose volume ran above the point forecast, and from randomness) when the
block's CI reaches the target, else *routing / model gap* (coverage meets the analytic
requirement but the simulated center with shared agents and priorities still misses).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from openwfm.model import Scenario

WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MAX_BLOCKS = 8
# a queue x segment with fewer simulated contacts per replication over the horizon gets no
# verdict: its service level is a ratio of a handful of calls
MIN_CONTACTS = 20


def _status(mean: float, low: float, high: float, target: float, upper: bool) -> str:
    """``upper``: the target is a ceiling (abandonment, ASA); else a floor (service level)."""
    if not np.isfinite(mean):
        return "no contacts"
    if (mean <= target) if upper else (mean >= target):
        return "met"
    reach = low if upper else high
    if np.isfinite(reach) and ((reach <= target) if upper else (reach >= target)):
        return "within CI"
    return "missed"


def target_table(scenario: Scenario, simulated: pd.DataFrame) -> pd.DataFrame:
    """One row per queue x segment x targeted metric: target, simulated mean, CI, status."""
    rows = []
    for item in simulated.itertuples(index=False):
        if item.queue == "all" or item.segment == "all":
            continue
        segment = None if item.segment == "default" else str(item.segment)
        target = scenario.target_for(str(item.queue), segment)
        checks = [("service_level", target.service_level, False)]
        if target.max_abandon is not None:
            checks.append(("abandon_rate", target.max_abandon, True))
        if target.max_asa_s is not None:
            checks.append(("asa_s", target.max_asa_s, True))
        for metric, goal, upper in checks:
            mean = float(getattr(item, metric))
            low = float(getattr(item, f"{metric}_ci_low"))
            high = float(getattr(item, f"{metric}_ci_high"))
            status = _status(mean, low, high, goal, upper)
            if float(item.offered) < MIN_CONTACTS:
                status = "too few contacts"
            rows.append(
                {
                    "queue": item.queue,
                    "segment": item.segment,
                    "metric": metric,
                    "target": goal,
                    "simulated": mean,
                    "ci_low": low,
                    "ci_high": high,
                    "status": status,
                    "offered": float(item.offered),
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "queue",
            "segment",
            "metric",
            "target",
            "simulated",
            "ci_low",
            "ci_high",
            "status",
            "offered",
        ],
    )


def _blocks(missed: pd.DataFrame, step: pd.Timedelta) -> list[pd.DataFrame]:
    blocks = []
    for _, part in missed.groupby(["queue", "segment", "day"], sort=False):
        part = part.sort_values("interval_start")
        breaks = part["interval_start"].diff() != step
        for _, block in part.groupby(breaks.cumsum()):
            blocks.append(block)
    return blocks


def missed_blocks(
    scenario: Scenario,
    intervals: pd.DataFrame,
    coverage: pd.DataFrame | None,
) -> pd.DataFrame:
    """Blocks of consecutive intervals (one queue x segment, one day) that miss the target,
    with the reason, ranked by contacts short of the target (most first)."""
    columns = [
        "queue",
        "segment",
        "date",
        "weekday",
        "hours",
        "intervals",
        "offered",
        "service_level",
        "target",
        "abandon_rate",
        "short_contacts",
        "under_agent_intervals",
        "uncovered_intervals",
        "reason",
    ]
    frame = intervals[(intervals["queue"] != "all") & (intervals["segment"] != "all")].copy()
    if frame.empty:
        return pd.DataFrame(columns=columns)
    frame["interval_start"] = pd.to_datetime(frame["interval_start"])
    goals = {}
    for queue, segment in frame[["queue", "segment"]].drop_duplicates().itertuples(index=False):
        goals[queue, segment] = scenario.target_for(
            str(queue), None if segment == "default" else str(segment)
        )
    keys = list(zip(frame["queue"], frame["segment"], strict=True))
    frame["target"] = [goals[k].service_level for k in keys]
    frame["max_abandon"] = [
        goals[k].max_abandon if goals[k].max_abandon is not None else np.inf for k in keys
    ]
    bad = (frame["service_level"] < frame["target"]) | (
        frame["abandon_rate"] > frame["max_abandon"]
    )
    missed = frame[bad.fillna(False)].copy()
    if missed.empty:
        return pd.DataFrame(columns=columns)
    missed["day"] = missed["interval_start"].dt.normalize()
    step = pd.Timedelta(seconds=scenario.grid.interval_s)
    cover = None
    if coverage is not None and not coverage.empty:
        cover = coverage.assign(interval_start=pd.to_datetime(coverage["interval_start"]))
        cover = cover.set_index(["queue", "interval_start"])
    rows = []
    for block in _blocks(missed, step):
        queue, segment = block["queue"].iloc[0], block["segment"].iloc[0]
        first, last = block["interval_start"].min(), block["interval_start"].max() + step
        offered = float(block["offered"].sum())
        sl = float(np.average(block["service_level"].fillna(0), weights=block["offered"] + 1e-9))
        target = float(block["target"].iloc[0])
        short = float((block["offered"] * (block["target"] - block["service_level"]).clip(0)).sum())
        abandon = float(
            np.average(block["abandon_rate"].fillna(0), weights=block["offered"] + 1e-9)
        )
        under = uncovered = 0
        if cover is not None:
            index = pd.MultiIndex.from_arrays([[queue] * len(block), block["interval_start"]])
            part = cover.reindex(index)
            under = int(part["under"].fillna(0).sum())
            uncovered = int(
                ((part["scheduled"].fillna(0) == 0) & (part["required"].fillna(0) > 0)).sum()
            )
        if uncovered:
            reason = f"uncovered: no agent scheduled on {queue} in {uncovered} interval(s)"
        elif under:
            reason = f"under-coverage: {under} agent-interval(s) short of the requirement"
        elif (block["service_level_ci_high"] >= block["target"]).all():
            reason = (
                "forecast uncertainty: coverage meets the requirement; the target is missed in "
                "replications whose volume runs above the forecast"
            )
        else:
            reason = (
                "routing / model gap: coverage meets the requirement, yet the simulated center "
                "(shared agents, priorities) misses"
            )
        rows.append(
            {
                "queue": queue,
                "segment": segment,
                "date": first.date().isoformat(),
                "weekday": WEEKDAY_NAMES[first.weekday()],
                "hours": f"{first:%H:%M}-{last:%H:%M}"
                if last.date() == first.date()
                else f"{first:%H:%M}-24:00",
                "intervals": len(block),
                "offered": offered,
                "service_level": sl,
                "target": target,
                "abandon_rate": abandon,
                "short_contacts": short,
                "under_agent_intervals": under,
                "uncovered_intervals": uncovered,
                "reason": reason,
            }
        )
    table = pd.DataFrame(rows, columns=columns)
    return table.sort_values(["short_contacts", "offered"], ascending=False, ignore_index=True)


def cost_table(scenario: Scenario, shifts: pd.DataFrame) -> pd.DataFrame:
    """Paid hours and cost (paid hours x the contract's ``hourly_cost``) per contract."""
    rates = {c.name: c.hourly_cost for c in scenario.contracts}
    if shifts.empty:
        return pd.DataFrame(columns=["contract", "agents", "shifts", "paid_hours", "cost"])
    frame = shifts.assign(contract=shifts["contract"].fillna("(none)").astype(str))
    table = frame.groupby("contract", as_index=False).agg(
        agents=("agent", "nunique"), shifts=("agent", "size"), paid_minutes=("paid_minutes", "sum")
    )
    table["paid_hours"] = table["paid_minutes"] / 60.0
    table["cost"] = table["paid_hours"] * table["contract"].map(rates).fillna(0.0)
    return table.drop(columns="paid_minutes")


def plan_summary(
    scenario: Scenario, result, *, weeks: int, replications: int, history_source: str
) -> dict:
    """The summary as a JSON-ready dict (also what the report's first page shows)."""
    forecast = result.forecast
    start = pd.Timestamp(result.start)
    summary: dict = {
        "scenario": scenario.name,
        "horizon": {
            "start": start.date().isoformat(),
            "end": (start + pd.Timedelta(days=7 * weeks - 1)).date().isoformat(),
            "weeks": weeks,
        },
        "history": history_source,
        "forecast_methods": forecast.groupby("queue")["method"].first().to_dict(),
        "forecast_contacts": float(forecast["forecast"].sum()),
        "replications": replications,
        "unavailable": {k: v for k, v in result.stages.items() if v.startswith("unavailable")},
    }
    if getattr(result, "shrinkage", None):
        summary["shrinkage"] = dict(result.shrinkage)
    if result.requirements is not None:
        req = result.requirements
        models = (
            req.groupby(["model", "sl_definition"]).size()
            if {"model", "sl_definition"} <= set(req.columns)
            else pd.Series(dtype=int)
        )
        summary["requirement_models"] = [
            {"model": m, "sl_definition": d, "rows": int(n)} for (m, d), n in models.items()
        ]
    schedule = result.schedule
    failure = result.stages.get("schedule", "")
    if schedule is None and failure.startswith("failed"):
        return _no_schedule(summary, scenario, result, failure.removeprefix("failed: "))
    if schedule is not None:
        cov = schedule.coverage
        summary["schedule"] = {
            "status": schedule.status,
            "objective": float(schedule.objective),
            "bound": float(schedule.bound),
            "gap": float(schedule.gap),
            "solver_s": float(schedule.wall_time_s),
            "shifts": int(len(schedule.shifts)),
            "agents_scheduled": int(schedule.shifts["agent"].nunique()),
            "agents_available": len(scenario.all_agents()),
            "required_agent_intervals": int(cov["required"].sum()),
            "under_agent_intervals": int(cov["under"].sum()),
            "uncovered_intervals": int(((cov["scheduled"] == 0) & (cov["required"] > 0)).sum()),
            "notes": list(schedule.notes),
        }
        costs = cost_table(scenario, schedule.shifts)
        summary["cost"] = {
            "paid_hours": float(costs["paid_hours"].sum()),
            "cost": float(costs["cost"].sum()),
            "by_contract": costs.to_dict(orient="records"),
        }
        rules = result.binding_rules
        summary["binding_rules"] = [
            {
                "rule": r.rule,
                "hard": bool(r.hard),
                "violated": int(r.violated),
                "at_limit": int(r.at_limit),
            }
            for r in rules[rules["binds"]].itertuples(index=False)
        ]
    if result.simulation_summary is None:
        summary["verdict"] = "unavailable"
        summary["headline"] = "No simulated proof: " + "; ".join(
            f"{k} {v}" for k, v in summary["unavailable"].items()
        )
        summary["targets"], summary["where"], summary["why"] = [], [], []
        return summary
    targets = target_table(scenario, result.simulation_summary)
    blocks = missed_blocks(scenario, result.simulation, schedule.coverage)
    statuses = set(targets["status"])
    if "missed" in statuses:
        verdict = "missed"
    elif "within CI" in statuses:
        verdict = "met within CI"
    else:
        verdict = "met"
    summary["verdict"] = verdict
    summary["targets"] = targets.to_dict(orient="records")
    summary["missed_interval_blocks"] = int(len(blocks))
    summary["where"] = blocks.head(MAX_BLOCKS).to_dict(orient="records")
    why = []
    if schedule is not None and summary["schedule"]["uncovered_intervals"]:
        why.append(
            f"{summary['schedule']['uncovered_intervals']} queue-interval(s) have no "
            "agent scheduled although the requirement is positive"
        )
    if schedule is not None and summary["schedule"]["under_agent_intervals"]:
        s = summary["schedule"]
        why.append(
            f"under-coverage: the schedule is {s['under_agent_intervals']} agent-intervals short "
            f"of the requirement ({s['agents_scheduled']} of {s['agents_available']} agents "
            "scheduled)"
        )
    applied = summary.get("shrinkage")
    if applied and applied["schedule"] < applied["simulation"] - 1e-9:
        why.append(
            f"shrinkage: the schedule plans for {applied['schedule']:.0%} "
            f"({applied['schedule_source']}) but agents are away {applied['simulation']:.0%} of "
            "their scheduled time (the scenario's shrinkage, simulated)"
        )
    reasons = blocks["reason"].str.split(":").str[0].value_counts()
    for reason, count in reasons.items():
        if reason in ("forecast uncertainty", "routing / model gap"):
            why.append(
                f"{reason}: {count} block(s) of intervals miss although coverage "
                "meets the requirement"
            )
    summary["why"] = why
    missed = targets[targets["status"] == "missed"]
    if verdict == "met":
        headline = "All targets met in simulation"
    elif verdict == "met within CI":
        near = targets[targets["status"] == "within CI"]
        headline = (
            "Targets met within the 95% confidence interval ("
            + ", ".join(f"{r.queue}/{r.segment} {r.metric}" for r in near.itertuples(index=False))
            + " at the edge)"
        )
    else:
        headline = "Targets MISSED: " + ", ".join(
            f"{r.queue}/{r.segment} {r.metric} {_fmt(r.metric, r.simulated)} vs "
            f"{_fmt(r.metric, r.target)}"
            for r in missed.itertuples(index=False)
        )
    summary["headline"] = headline
    return summary


def _fmt(metric: str, value: float) -> str:
    if metric == "asa_s":
        return f"{value:.0f} s"
    return f"{value:.1%}"


def _no_schedule(summary: dict, scenario: Scenario, result, why: str) -> dict:
    """The partial summary of a plan whose schedule stage found no schedule: the forecast and
    the requirement stand, the schedule stage says what it could not do and why."""
    summary["verdict"] = "no schedule"
    summary["headline"] = f"No schedule found, so no simulated proof: {why}"
    reasons = [f"schedule stage: {why}"]
    requirements = result.requirements
    if requirements is not None and len(requirements):
        from openwfm.plan.pipeline import queue_requirements

        table = queue_requirements(requirements)
        shrinkage = summary.get("shrinkage", {}).get("schedule", 0.0)
        peak = table.groupby("interval_start")["required_agents"].sum().max() / (1 - shrinkage)
        reasons.append(
            f"the requirement peaks at {peak:.0f} agents at once (after shrinkage); the "
            f"scenario has {len(scenario.all_agents())} agents"
        )
    if "time limit" in why:
        reasons.append("what to do: raise --time-limit, or relax hard rules in the scenario")
    else:
        reasons.append("what to do: make the named hard rules soft, or change them")
    summary["schedule"] = {"status": "none", "failure": why}
    summary["targets"], summary["where"], summary["why"] = [], [], reasons
    summary["missed_interval_blocks"] = 0
    return summary


def shrinkage_text(applied: dict) -> str:
    """One sentence: which shrinkage each stage applied."""
    return (
        f"Shrinkage (beyond the scheduled breaks): schedule covers required / "
        f"(1 - {applied['schedule']:.2f}) ({applied['schedule_source']}); simulation takes "
        f"{applied['simulation']:.0%} of scheduled time away at random (scenario); staffing's "
        f"scheduled_agents = required / (1 - {applied['staffing']:.2f}) (scenario)"
    )


def summary_text(summary: dict) -> str:
    """The one-page summary as plain text (what ``openwfm plan`` prints)."""
    lines = [
        f"{summary['scenario']}: plan {summary['horizon']['start']} .. {summary['horizon']['end']}",
        f"VERDICT: {summary['verdict']} - {summary['headline']}",
    ]
    if summary.get("targets"):
        lines.append("Targets (simulated mean [95% CI]):")
        for t in summary["targets"]:
            lines.append(
                f"  {t['queue']}/{t['segment']:<9} {t['metric']:<14} "
                f"{_fmt(t['metric'], t['simulated'])} [{_fmt(t['metric'], t['ci_low'])}, "
                f"{_fmt(t['metric'], t['ci_high'])}] target {_fmt(t['metric'], t['target'])}"
                f" -> {t['status']}"
            )
    if summary.get("where"):
        lines.append(
            f"Where ({summary['missed_interval_blocks']} block(s) of intervals below "
            "target; worst first):"
        )
        for w in summary["where"]:
            lines.append(
                f"  {w['queue']}/{w['segment']} {w['weekday']} {w['date']} {w['hours']}: SL "
                f"{w['service_level']:.0%} vs {w['target']:.0%} - {w['reason']}"
            )
    if summary.get("why"):
        lines.append("Why:")
        lines.extend(f"  - {reason}" for reason in summary["why"])
    schedule = summary.get("schedule")
    if schedule and "gap" in schedule:
        lines.append(
            f"Schedule: {schedule['status']}, objective {schedule['objective']:.1f}, bound "
            f"{schedule['bound']:.1f}, gap {schedule['gap']:.1%} (solver {schedule['solver_s']:.0f}"
            f" s); {schedule['shifts']} shifts for {schedule['agents_scheduled']} of "
            f"{schedule['agents_available']} agents"
        )
    if summary.get("shrinkage"):
        lines.append(shrinkage_text(summary["shrinkage"]))
    if "cost" in summary:
        lines.append(
            f"Cost: {summary['cost']['paid_hours']:,.1f} paid hours, "
            f"{summary['cost']['cost']:,.2f} (paid hours x contract hourly_cost"
            + ("; the contracts give no hourly_cost)" if summary["cost"]["cost"] == 0 else ")")
        )
    for stage, state in summary.get("unavailable", {}).items():
        lines.append(f"Stage {stage}: {state}")
    return "\n".join(lines) + "\n"

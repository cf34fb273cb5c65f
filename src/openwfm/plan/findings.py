"""What the simulated plan shows: targets met or not, where they are missed and why, and cost.

Verdict per target, from the simulated horizon KPIs (mean and 95% CI over replications):
``met`` when the mean meets the target, ``within CI`` when only the confidence interval reaches
it (the shortfall is within simulation noise and forecast uncertainty), ``missed`` when the
whole interval is on the wrong side; ``too few contacts`` (fewer than ``MIN_CONTACTS`` per
replication over the horizon) gives no verdict.

Where: intervals whose simulated mean misses the target (service level below it, or
abandonment above ``max_abandon``), per queue x segment, joined into blocks of consecutive
intervals on one day. Why, per block (:class:`MissCause`), in this order: *uncovered* (no agent
scheduled on the queue while the requirement is positive), *under-coverage* (fewer agents
scheduled than required), else *forecast uncertainty* (coverage meets the requirement; the
shortfall comes from replications whose volume ran above the point forecast, and from
randomness) when the block's CI reaches the target, else *routing / model gap* (coverage meets
the analytic requirement but the simulated center with shared agents and priorities still
misses).
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import pandas as pd

from openwfm.model import Scenario

WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# a queue x segment with fewer simulated contacts per replication over the horizon gets no
# verdict: its service level is a ratio of a handful of calls
MIN_CONTACTS = 20


class MissCause(StrEnum):
    """Why a block of intervals misses its target (checked in this order)."""

    UNCOVERED = "uncovered"
    UNDER_COVERAGE = "under-coverage"
    FORECAST_UNCERTAINTY = "forecast uncertainty"
    ROUTING_GAP = "routing / model gap"

    def explain(self, queue: str, uncovered: int, under: int) -> str:
        """The cause as a sentence for the manager's summary."""
        if self is MissCause.UNCOVERED:
            return f"{self}: no agent scheduled on {queue} in {uncovered} interval(s)"
        if self is MissCause.UNDER_COVERAGE:
            return f"{self}: {under} agent-interval(s) short of the requirement"
        if self is MissCause.FORECAST_UNCERTAINTY:
            return (
                f"{self}: coverage meets the requirement; the target is missed in "
                "replications whose volume runs above the forecast"
            )
        return (
            f"{self}: coverage meets the requirement, yet the simulated center "
            "(shared agents, priorities) misses"
        )


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
        "cause",
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
            cause = MissCause.UNCOVERED
        elif under:
            cause = MissCause.UNDER_COVERAGE
        elif (block["service_level_ci_high"] >= block["target"]).all():
            cause = MissCause.FORECAST_UNCERTAINTY
        else:
            cause = MissCause.ROUTING_GAP
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
                "cause": cause.value,
                "reason": cause.explain(queue, uncovered, under),
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

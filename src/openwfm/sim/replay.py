"""Trace-driven replay of one real day: simulated vs actual service level and abandonment.

The day's offered calls (answered or abandoned in the agent queue) arrive exactly when they
did, in their recorded segment. Answered calls keep their recorded handle time; the others draw
one from the day's recorded handle times. Agents per hour are the ones observed: by default the
agent-hours of service in that hour, rounded up (in an hour with a queue every agent taking
calls is serving, so this is the staffing actually on calls); alternatives are the peak number
in service at once, or the distinct agents who answered (both overstate: the bank's agents did
other work too, and the replay is then far too optimistic). Patience is
exponential with the maximum-likelihood mean from censored waits, estimated on the *other* days
of the table (the replayed day is left out): mean = total waiting time of all offered calls /
number of abandons (each abandon is an observed patience, each answered wait a lower bound).
Routing is priority with aging: one segment-priority step per ``credit_s`` of wait, which
reproduces a waiting-time credit for priority customers (the Anonymous Bank credited its
priority-2 customers with 90 s).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from openwfm.data.schema import OFFERED_OUTCOMES
from openwfm.errors import DataError
from openwfm.model import Scenario


def exponential_patience_mle(calls: pd.DataFrame) -> float:
    """Mean patience (s): total wait of offered calls / abandons (censored-data MLE)."""
    offered = calls[calls["outcome"].isin(OFFERED_OUTCOMES)]
    abandons = int((offered["outcome"] == "abandoned").sum())
    if abandons == 0:
        return float("inf")
    return float(offered["wait_s"].sum() / abandons)


def busy_agents_per_hour(answered: pd.DataFrame, date: pd.Timestamp) -> pd.Series:
    """Agent-hours of service per hour of ``date``, rounded up (the mean number serving)."""
    start = (answered["answer_time"] - date).dt.total_seconds().to_numpy()
    end = (answered["end_time"] - date).dt.total_seconds().to_numpy()
    ok = np.isfinite(start) & np.isfinite(end)
    edges = np.arange(25) * 3600.0
    overlap = np.clip(
        np.minimum(end[ok, None], edges[None, 1:]) - np.maximum(start[ok, None], edges[None, :-1]),
        0,
        None,
    ).sum(axis=0)
    return pd.Series(np.ceil(overlap / 3600.0).astype(int), index=range(24))


def peak_serving_per_hour(answered: pd.DataFrame, date: pd.Timestamp) -> pd.Series:
    """Most calls in service at the same time, per hour of ``date`` (0..23)."""
    start = (answered["answer_time"] - date).dt.total_seconds().to_numpy()
    end = (answered["end_time"] - date).dt.total_seconds().to_numpy()
    ok = np.isfinite(start) & np.isfinite(end)
    times = np.concatenate([start[ok], end[ok]])
    steps = np.concatenate([np.ones(ok.sum()), -np.ones(ok.sum())])
    order = np.lexsort((steps, times))  # at equal times, ends (-1) before starts
    level = np.cumsum(steps[order])
    hour = np.clip(times[order] // 3600, 0, 23).astype(int)
    peak = np.zeros(24)
    np.maximum.at(peak, hour, level)
    # the level carried into an hour counts for it too
    carried = np.zeros(24)
    for h in range(1, 24):
        before = times[order] < h * 3600
        carried[h] = level[before][-1] if before.any() else 0
    return pd.Series(np.maximum(peak, carried).astype(int), index=range(24))


def replay_day(
    calls: pd.DataFrame,
    day: str,
    *,
    target_s: float = 60.0,
    priority_segments: dict[str, int] | None = None,
    credit_s: float = 90.0,
    replications: int = 10,
    seed: int = 0,
    scheduler: str = "threads",
    agents: str = "busy",
) -> pd.DataFrame:
    """Per hour of ``day``: agents, offered, actual and simulated SL (within ``target_s``,
    over offered calls) and abandonment, with the simulated 95% CIs.

    ``agents``: ``busy`` (default) = agent-hours of service in the hour, rounded up (the agents
    effectively on calls; exact in hours with a queue, when every agent on calls is serving);
    ``peak`` = the most calls in service at once during the hour;
    ``distinct`` = the distinct agents who answered a call that hour (far more: agents also did
    other work, so it overstates who was taking calls).
    ``calls``: an interactions table (e.g. from ``read_anonymous_bank``) holding ``day`` and
    other days for the patience estimate. ``priority_segments``: segment -> priority (default:
    the Anonymous Bank's ``"2"`` = 2, others 1).
    """
    from openwfm.sim.run import prepare, run_prepared

    date = pd.Timestamp(day).normalize()
    on_day = calls["arrival_time"].dt.normalize() == date
    today = calls[on_day & calls["outcome"].isin(OFFERED_OUTCOMES)].copy()
    if today.empty:
        raise DataError(f"no offered calls on {date.date()}", field="day")
    others = calls[~on_day]
    patience_s = exponential_patience_mle(others if len(others) else calls)
    answered = today[today["outcome"] == "answered"]
    handle = answered["handle_s"].dropna().to_numpy(dtype=float)
    handle = handle[handle > 0]
    hour = today["arrival_time"].dt.hour
    served_hour = answered["answer_time"].dt.hour
    if agents == "busy":
        agents_per_hour = busy_agents_per_hour(answered, date)
    elif agents == "distinct":
        named = answered.dropna(subset=["agent"])
        agents_per_hour = named.groupby(served_hour)["agent"].nunique()
    else:
        agents_per_hour = peak_serving_per_hour(answered, date)
    agents_per_hour = agents_per_hour.reindex(range(24), fill_value=0)
    # an hour with calls but no recorded agent still had somebody: the hour's answered count > 0
    peak = int(max(agents_per_hour.max(), 1))
    segments = sorted(today["segment"].astype(str).unique())
    priorities = priority_segments or {s: (2 if s == "2" else 1) for s in segments}
    scenario = Scenario.model_validate(
        {
            "name": f"replay {date.date()}",
            "grid": {"interval_minutes": 60},
            "queues": [
                {
                    "name": "calls",
                    "aht_s": float(handle.mean()),
                    "patience_s": patience_s,
                    "target": {"service_level": 0.8, "within_s": target_s},
                }
            ],
            "segments": [
                {"name": s, "priority": priorities.get(s, 1), "share": {}} for s in segments
            ],
            "agent_groups": [{"name": "observed", "count": peak, "skills": {"calls": 1.0}}],
            "routing": {"policy": "priority_aging", "aging_per_s": 1.0 / credit_s},
        }
    )
    counts = pd.DataFrame(
        {
            "interval_start": [date + pd.Timedelta(hours=h) for h in range(24)],
            "agents": agents_per_hour.to_numpy(),
        }
    )
    trace = today.assign(queue="calls", segment=today["segment"].astype(str))
    prepared = prepare(
        scenario,
        trace=trace,
        schedule=counts,
        start=date.date(),
        days=2,
        interval_s=3600.0,
        empirical_handle_s={"calls": handle},
    )
    result = run_prepared(prepared, replications, seed, scheduler)
    rows = result.intervals[(result.intervals["queue"] == "calls")]
    rows = rows[rows["segment"] == "all"]
    rows = rows.set_index(rows["interval_start"].dt.hour)
    actual = pd.DataFrame(
        {
            "offered": today.groupby(hour).size(),
            "answered_in_target": ((today["outcome"] == "answered") & (today["wait_s"] <= target_s))
            .groupby(hour)
            .sum(),
            "abandoned": (today["outcome"] == "abandoned").groupby(hour).sum(),
        }
    )
    table = pd.DataFrame({"hour": actual.index})
    table["agents"] = agents_per_hour.reindex(actual.index).to_numpy()
    table["offered"] = actual["offered"].to_numpy()
    table["actual_service_level"] = (actual["answered_in_target"] / actual["offered"]).to_numpy()
    table["actual_abandon_rate"] = (actual["abandoned"] / actual["offered"]).to_numpy()
    for name, column in (("service_level", "service_level"), ("abandon_rate", "abandon_rate")):
        for suffix in ("", "_ci_low", "_ci_high"):
            values = rows[column + suffix].reindex(actual.index).to_numpy()
            table[f"simulated_{name}{suffix}"] = values
    table.attrs["patience_mean_s"] = patience_s
    table.attrs["events"] = result.events
    table.attrs["elapsed_s"] = result.elapsed_s
    return table.reset_index(drop=True)


__all__ = ["exponential_patience_mle", "replay_day"]

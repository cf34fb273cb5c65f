"""Rest-of-day outlook per queue x interval, and the queue right now.

At ``as_of`` the outlook combines

- the intraday-updated forecast (:func:`openwfm.intraday.reforecast.update_forecast`);
- the agents on line per queue x interval (:func:`agents_on_line`: the schedule, minus the
  agents whose current state says they are not there);
- the queueing models (:func:`openwfm.queueing.erlang_a`; Erlang C when the queue has no
  patience) for the projected service level, ASA and abandonment of each remaining interval;
- the contacts so far (interactions table, only what is known at ``as_of``): service level so
  far, contacts waiting now, the current longest wait, and the estimated wait of a new contact.

Estimated wait of a new contact (the queue-length predictor of Ibrahim & Whitt, with
abandonment): with ``n`` agents on line, all busy, and ``k`` contacts waiting ahead, the new
contact is answered after ``k + 1`` departures from the head of the queue, each at rate
``n / aht + (waiting) / patience``: ``sum_{i=0..k} 1 / (n / aht + i / patience)``. With a free
agent it is 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from openwfm.data.schema import OFFERED_OUTCOMES
from openwfm.errors import DataError
from openwfm.intraday.mapping import AdherenceMap, default_adherence_map
from openwfm.intraday.reforecast import update_forecast
from openwfm.model import Scenario
from openwfm.queueing import erlang_a


def _agent_queues(agent_id: str, activity: str, scenario: Scenario) -> dict[str, float]:
    """Share of the agent's on-line time per queue for a scheduled activity."""
    if activity in scenario.queue_names:
        return {activity: 1.0}
    if activity.lower() != "work":
        return {}
    skills = next((a.skills for a in scenario.all_agents() if a.name == agent_id), None)
    if skills is None:
        skills = {scenario.queue_names[0]: 1.0} if len(scenario.queues) == 1 else {}
    live = [q for q in skills if q in scenario.queue_names]
    return {q: 1.0 / len(live) for q in live}


def absent_now(
    events: pd.DataFrame, as_of: pd.Timestamp | str, adherence_map: AdherenceMap | None = None
) -> set[str]:
    """Agents whose last state at ``as_of`` is an absent state (logged out)."""
    adherence_map = adherence_map or default_adherence_map()
    known = events[events["ts"] <= pd.Timestamp(as_of)]
    last = known.sort_values("ts").groupby("agent_id").tail(1)
    absent = {s.lower() for s in adherence_map.absent_states}
    return set(last.loc[last["state"].isin(absent), "agent_id"])


def agents_on_line(
    schedule: pd.DataFrame,
    scenario: Scenario,
    *,
    start: pd.Timestamp | str,
    end: pd.Timestamp | str,
    interval_minutes: int,
    absent: set[str] | None = None,
    as_of: pd.Timestamp | str | None = None,
) -> pd.DataFrame:
    """Agents on line per queue x interval (``interval_start, queue, agents``; fractional:
    time-weighted within the interval, a multi-skilled ``work`` activity split evenly over the
    agent's queues). Agents in ``absent`` count from ``as_of`` on as not coming back today
    (conservative: a logged-out agent is not assumed to return)."""
    step = pd.Timedelta(minutes=interval_minutes)
    grid = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq=step, inclusive="left")
    edges = np.append(grid.asi8, (grid[-1] + step).value) if len(grid) else np.array([])
    counts = {q: np.zeros(len(grid)) for q in scenario.queue_names}
    absent = absent or set()
    cut = pd.Timestamp(as_of).value if as_of is not None else None
    for row in schedule.itertuples(index=False):
        shares = _agent_queues(str(row.agent_id), str(row.activity), scenario)
        if not shares or not len(grid):
            continue
        lo, hi = pd.Timestamp(row.start).value, pd.Timestamp(row.end).value
        if row.agent_id in absent and cut is not None:
            hi = min(hi, cut)
        overlap = np.clip(np.minimum(edges[1:], hi) - np.maximum(edges[:-1], lo), 0, None)
        fraction = overlap / step.value
        for queue, share in shares.items():
            counts[queue] += fraction * share
    return pd.concat(
        [
            pd.DataFrame({"interval_start": grid, "queue": q, "agents": c})
            for q, c in counts.items()
        ],
        ignore_index=True,
    )


def queue_now(contacts: pd.DataFrame, as_of: pd.Timestamp | str) -> pd.DataFrame:
    """Per queue at ``as_of``: ``waiting_now``, ``longest_wait_s`` (0 with nobody waiting) and
    ``in_service_now`` from the interactions known so far."""
    as_of = pd.Timestamp(as_of)
    offered = contacts[
        contacts["outcome"].isin(OFFERED_OUTCOMES) & (contacts["arrival_time"] <= as_of)
    ]
    left = offered["answer_time"].fillna(offered["abandon_time"])
    waiting = offered[left.isna() | (left > as_of)]
    serving = offered[(offered["answer_time"] <= as_of) & (offered["end_time"] > as_of)]
    rows = []
    for queue in sorted(set(offered["queue"].astype(str))):
        mine = waiting[waiting["queue"].astype(str) == queue]
        oldest = mine["arrival_time"].min()
        rows.append(
            {
                "queue": queue,
                "waiting_now": len(mine),
                "longest_wait_s": (as_of - oldest).total_seconds() if len(mine) else 0.0,
                "in_service_now": int((serving["queue"].astype(str) == queue).sum()),
            }
        )
    return pd.DataFrame(rows, columns=["queue", "waiting_now", "longest_wait_s", "in_service_now"])


def estimated_wait_s(
    waiting: int, busy: float, agents: float, aht_s: float, patience_s: float | None
) -> float:
    """Expected wait of a contact arriving now (module doc); inf with no agent on line."""
    if agents <= 0:
        return float("inf")
    if busy < agents and waiting == 0:
        return 0.0
    theta = 0.0 if patience_s is None else 1.0 / patience_s
    rates = agents / aht_s + np.arange(waiting + 1) * theta
    return float(np.sum(1.0 / rates))


def service_so_far(
    contacts: pd.DataFrame, as_of: pd.Timestamp | str, scenario: Scenario
) -> pd.DataFrame:
    """Per queue over ``as_of``'s day so far: offered, answered, abandoned and the service
    level (answered within target by ``as_of`` / offered contacts whose fate against the
    target is known: answered, abandoned, or already waiting longer than the target)."""
    as_of = pd.Timestamp(as_of)
    day = contacts[
        contacts["outcome"].isin(OFFERED_OUTCOMES)
        & (contacts["arrival_time"] >= as_of.normalize())
        & (contacts["arrival_time"] <= as_of)
    ]
    rows = []
    for queue in scenario.queue_names:
        mine = day[day["queue"].astype(str) == queue]
        target = scenario.queue(queue).target.within_s
        answered = mine["answer_time"] <= as_of
        abandoned = mine["abandon_time"] <= as_of
        overdue = (
            ~answered & ~abandoned & ((as_of - mine["arrival_time"]).dt.total_seconds() > target)
        )
        known = answered | abandoned | overdue
        within = answered & (mine["wait_s"] <= target)
        rows.append(
            {
                "queue": queue,
                "offered_so_far": int(known.sum()),
                "answered_so_far": int(answered.sum()),
                "abandoned_so_far": int(abandoned.sum()),
                "sl_so_far": within.sum() / known.sum() if known.sum() else np.nan,
            }
        )
    return pd.DataFrame(rows)


@dataclass
class OutlookResult:
    """``intervals``: per queue x interval of the day (past ones with ``past`` true and the
    projection only for the rest); ``queues``: per queue, the day so far, the queue now and
    the projected rest of the day and whole day."""

    intervals: pd.DataFrame
    queues: pd.DataFrame
    as_of: pd.Timestamp


def project(
    forecast_day: pd.DataFrame, agents: pd.DataFrame, scenario: Scenario, interval_minutes: int
) -> pd.DataFrame:
    """Erlang A (C without patience) per queue x interval of ``forecast_updated`` with
    ``agents`` on line: projected_service_level, projected_asa_s, projected_abandon."""
    table = forecast_day.merge(agents, on=["interval_start", "queue"], how="left")
    table["agents"] = table["agents"].fillna(0.0)
    interval_s = interval_minutes * 60.0
    aht_column = "aht_s_updated" if "aht_s_updated" in table.columns else None
    parts = []
    for queue, rows in table.groupby("queue", sort=True):
        spec = scenario.queue(str(queue))
        aht = (
            rows[aht_column].fillna(spec.aht_s).to_numpy(float)
            if aht_column
            else np.full(len(rows), spec.aht_s)
        )
        aht = np.where(aht > 0, aht, spec.aht_s)
        patience = spec.patience_s if spec.patience_s is not None else np.inf
        result = erlang_a(
            rows["forecast_updated"].to_numpy(float) / interval_s,
            aht,
            patience,
            rows["agents"].to_numpy(float),
            spec.target.within_s,
        )
        rows = rows.copy()
        rows["aht_s_used"] = aht
        rows["projected_service_level"] = result.service_level
        rows["projected_asa_s"] = result.asa_s
        rows["projected_abandon"] = result.p_abandon
        rows["target_service_level"] = spec.target.service_level
        parts.append(rows)
    return pd.concat(parts, ignore_index=True)


def outlook(
    forecast: pd.DataFrame,
    contacts: pd.DataFrame,
    agents: pd.DataFrame,
    scenario: Scenario,
    *,
    as_of: pd.Timestamp | str,
    interval_minutes: int | None = None,
    update_options: dict | None = None,
) -> OutlookResult:
    """The rest-of-day outlook at ``as_of`` (module doc). ``forecast``: ``interval_start,
    queue, forecast [, aht_s]`` (the version the schedule used); ``contacts``: interactions
    (anything after ``as_of`` is ignored); ``agents``: ``interval_start, queue, agents`` on
    line (:func:`agents_on_line`). ``update_options`` go to
    :func:`openwfm.intraday.reforecast.update_forecast` (``method``, ``prior_contacts``,
    ``forecaster``)."""
    as_of = pd.Timestamp(as_of)
    interval_minutes = interval_minutes or scenario.grid.interval_minutes
    step = pd.Timedelta(minutes=interval_minutes)
    unknown = sorted(set(forecast["queue"].astype(str)) - set(scenario.queue_names))
    if unknown:
        raise DataError(
            f"unknown queue {unknown[0]!r} (known: {', '.join(scenario.queue_names)})",
            file="forecast",
            field="queue",
        )
    known = contacts[contacts["arrival_time"] <= as_of].copy()
    for column in ("answer_time", "end_time", "abandon_time"):
        known.loc[known[column] > as_of, column] = pd.NaT
    day = update_forecast(
        forecast, known, as_of, interval_minutes=interval_minutes, **(update_options or {})
    )
    table = project(day, agents, scenario, interval_minutes)
    table["past"] = table["interval_start"] + step <= as_of
    for column in ("projected_service_level", "projected_asa_s", "projected_abandon"):
        table.loc[table["past"], column] = np.nan
    so_far = service_so_far(known, as_of, scenario)
    now = queue_now(known, as_of)
    rows = []
    for queue in scenario.queue_names:
        spec = scenario.queue(queue)
        rest = table[(table["queue"] == queue) & ~table["past"]]
        current = rest.head(1)
        state = now[now["queue"] == queue]
        waiting = int(state["waiting_now"].sum())
        busy = float(state["in_service_now"].sum())
        n_now = float(current["agents"].sum())
        volume = rest["forecast_updated"].to_numpy(float)
        mine = so_far[so_far["queue"] == queue].iloc[0]
        rest_sl = (
            np.sum(volume * rest["projected_service_level"]) / volume.sum()
            if volume.sum() > 0
            else np.nan
        )
        rest_abandon = (
            np.sum(volume * rest["projected_abandon"]) / volume.sum()
            if volume.sum() > 0
            else np.nan
        )
        known_n = mine["offered_so_far"]
        day_sl = (
            (
                (
                    np.nan_to_num(mine["sl_so_far"]) * known_n
                    + (0 if np.isnan(rest_sl) else rest_sl * volume.sum())
                )
                / (known_n + volume.sum())
            )
            if known_n + volume.sum() > 0
            else np.nan
        )
        rows.append(
            {
                "queue": queue,
                "as_of": as_of,
                "target_service_level": spec.target.service_level,
                "ratio": float(current["ratio"].iloc[0]) if len(current) else np.nan,
                **{
                    k: mine[k]
                    for k in ("offered_so_far", "answered_so_far", "abandoned_so_far", "sl_so_far")
                },
                "waiting_now": waiting,
                "longest_wait_s": float(state["longest_wait_s"].sum()),
                "agents_now": n_now,
                "estimated_wait_new_s": estimated_wait_s(
                    waiting,
                    busy,
                    n_now,
                    float(current["aht_s_used"].sum()) or spec.aht_s,
                    spec.patience_s,
                ),
                "projected_rest_service_level": rest_sl,
                "projected_rest_abandon": rest_abandon,
                "projected_day_service_level": day_sl,
            }
        )
    return OutlookResult(table, pd.DataFrame(rows), as_of)

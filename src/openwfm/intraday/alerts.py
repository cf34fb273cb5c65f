"""Intraday alerts: rules with a threshold, a look-ahead and a cool-down.

A rule watches one metric per queue (or per agent for adherence):

- ``projected_service_level``: volume-weighted projected service level of the intervals that
  start within ``look_ahead_s`` of now (from the outlook); fires ``below`` the threshold
  (default: the queue's target);
- ``projected_abandon``: the same for abandonment, fires ``above``;
- ``longest_wait_s``: the current longest wait ("long hold"), fires ``above``;
- ``sl_so_far``: the day's service level so far, fires ``below``;
- ``out_of_adherence_s``: an agent out of adherence (past grace) for longer than the
  threshold, from the real-time adherence view; fires ``above``;
- ``backlog_due``: deferred work still open whose deadline falls within ``look_ahead_s``
  (a table ``queue, due, open_items``); fires ``above``.

Cool-down: a rule that fired for a subject (queue or agent) does not fire again for that
subject until ``cooldown_s`` has passed. Alerts are **rows** (:data:`ALERT_COLUMNS`, an
append-only log the caller stores; the log is also what the cool-down reads) and **events**
(:func:`alert_events`: dicts in the router's event shape ``{"type": "intraday.alert",
"data": {...}}``; ``emit`` receives each one; :func:`publish_alerts` writes them into the
live router's outbox, so they leave by its event stream and webhooks).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from openwfm.model import Strict

if TYPE_CHECKING:
    from openwfm.intraday.rest_of_day import OutlookResult
    from openwfm.routing.core import Router


Metric = Literal[
    "projected_service_level",
    "projected_abandon",
    "longest_wait_s",
    "sl_so_far",
    "out_of_adherence_s",
    "backlog_due",
]
ALERT_COLUMNS = [
    "alert_id",
    "rule",
    "metric",
    "subject",
    "ts",
    "value",
    "op",
    "threshold",
    "look_ahead_s",
    "message",
]
DEFAULT_OPS = {
    "projected_service_level": "below",
    "sl_so_far": "below",
    "projected_abandon": "above",
    "longest_wait_s": "above",
    "out_of_adherence_s": "above",
    "backlog_due": "above",
}


class AlertRule(Strict):
    """``metric`` crossing ``threshold`` (``op``: below / above; None for the service-level
    metrics means the queue's target) within ``look_ahead_s``; at most once per subject per
    ``cooldown_s``. ``queues`` limits the rule to some queues (empty: all)."""

    name: Annotated[str, Field(min_length=1)]
    metric: Metric
    threshold: float | None = None
    op: Literal["below", "above"] | None = None
    look_ahead_s: Annotated[float, Field(ge=0.0)] = 3600.0
    cooldown_s: Annotated[float, Field(ge=0.0)] = 1800.0
    queues: list[str] = Field(default_factory=list)

    @property
    def direction(self) -> str:
        return self.op or DEFAULT_OPS[self.metric]


class AlertRules(Strict):
    """An alert rules file: ``rules: [...]`` (or the list alone)."""

    rules: list[AlertRule]


def default_rules() -> list[AlertRule]:
    """Projected service level below target in the next hour, a long hold above 3 minutes,
    projected abandonment above 10%, an agent out of adherence for more than 10 minutes, and
    any open deferred work due within the next hour."""
    return [
        AlertRule(name="projected-sl", metric="projected_service_level"),
        AlertRule(name="long-hold", metric="longest_wait_s", threshold=180, cooldown_s=600),
        AlertRule(name="abandonment", metric="projected_abandon", threshold=0.10),
        AlertRule(name="adherence", metric="out_of_adherence_s", threshold=600),
        AlertRule(name="backlog", metric="backlog_due", threshold=0),
    ]


def _window_mean(intervals: pd.DataFrame, queue: str, column: str, as_of, look_ahead_s):
    as_of = pd.Timestamp(as_of)
    rows = intervals[(intervals["queue"] == queue) & ~intervals["past"]]
    rows = rows[rows["interval_start"] < as_of + pd.Timedelta(seconds=max(look_ahead_s, 1))]
    weights = rows["forecast_updated"].to_numpy(float)
    values = rows[column].to_numpy(float)
    if weights.sum() <= 0:
        return np.nan
    return float(np.sum(weights * values) / weights.sum())


def _values(rule: AlertRule, outlook, now_view, backlog, as_of) -> list[tuple[str, float, float]]:
    """(subject, value, threshold) for every subject the rule watches."""
    found = []
    if rule.metric == "out_of_adherence_s":
        if now_view is not None and len(now_view):
            for row in now_view[now_view["alarm"]].itertuples(index=False):
                found.append((str(row.agent_id), float(row.out_for_s), rule.threshold or 0.0))
        return found
    if rule.metric == "backlog_due":
        if backlog is not None and len(backlog):
            due = backlog[
                pd.to_datetime(backlog["due"])
                <= pd.Timestamp(as_of) + pd.Timedelta(seconds=rule.look_ahead_s)
            ]
            for queue, rows in due.groupby("queue"):
                found.append((str(queue), float(rows["open_items"].sum()), rule.threshold or 0.0))
        return found
    if outlook is None:
        return found
    for row in outlook.queues.itertuples(index=False):
        queue = str(row.queue)
        if rule.queues and queue not in rule.queues:
            continue
        threshold = rule.threshold if rule.threshold is not None else row.target_service_level
        if rule.metric == "projected_service_level":
            value = _window_mean(
                outlook.intervals, queue, "projected_service_level", as_of, rule.look_ahead_s
            )
        elif rule.metric == "projected_abandon":
            value = _window_mean(
                outlook.intervals, queue, "projected_abandon", as_of, rule.look_ahead_s
            )
        else:
            value = float(getattr(row, rule.metric))
        found.append((queue, value, threshold))
    return found


def evaluate_alerts(
    rules: list[AlertRule],
    as_of: pd.Timestamp | str,
    *,
    outlook: OutlookResult | None = None,
    now_view: pd.DataFrame | None = None,
    backlog: pd.DataFrame | None = None,
    log: pd.DataFrame | None = None,
    emit: Callable[[dict], None] | None = None,
) -> pd.DataFrame:
    """New alert rows at ``as_of`` (:data:`ALERT_COLUMNS`), honouring each rule's cool-down
    against ``log`` (earlier alert rows). ``outlook``: an OutlookResult; ``now_view``: the
    real-time adherence view; ``backlog``: ``queue, due, open_items``. Each new alert is also
    passed to ``emit`` as an event (:func:`alert_events`)."""
    as_of = pd.Timestamp(as_of)
    log = log if log is not None else pd.DataFrame(columns=ALERT_COLUMNS)
    rows = []
    for rule in rules:
        for subject, value, threshold in _values(rule, outlook, now_view, backlog, as_of):
            if value is None or np.isnan(value):
                continue
            crossed = value < threshold if rule.direction == "below" else value > threshold
            if not crossed:
                continue
            earlier = log[(log["rule"] == rule.name) & (log["subject"] == subject)]
            if len(earlier):
                last = pd.Timestamp(earlier["ts"].max())
                if (as_of - last).total_seconds() < rule.cooldown_s:
                    continue
            rows.append(
                {
                    "alert_id": f"{rule.name}:{subject}:{as_of:%Y-%m-%dT%H:%M:%S}",
                    "rule": rule.name,
                    "metric": rule.metric,
                    "subject": subject,
                    "ts": as_of,
                    "value": value,
                    "op": rule.direction,
                    "threshold": threshold,
                    "look_ahead_s": rule.look_ahead_s,
                    "message": f"{rule.metric} of {subject} is {value:.3g}, {rule.direction} "
                    f"{threshold:.3g}",
                }
            )
    alerts = pd.DataFrame(rows, columns=ALERT_COLUMNS)
    if emit is not None:
        for event in alert_events(alerts):
            emit(event)
    return alerts


def _plain(value):
    """A JSON-ready value: timestamps as ISO text, NumPy numbers as Python numbers."""
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value


def alert_events(alerts: pd.DataFrame) -> list[dict]:
    """Alert rows as events ``{"type": "intraday.alert", "id", "at", "data": {...}}``."""
    events = []
    for row in alerts.to_dict("records"):
        data = {k: _plain(v) for k, v in row.items()}
        events.append(
            {"type": "intraday.alert", "id": row["alert_id"], "at": data["ts"], "data": data}
        )
    return events


def publish_alerts(router: Router, center: str, alerts: pd.DataFrame) -> int:
    """Write alert rows into the live router's event outbox (one transaction), so they leave
    by its cursor API, server-sent events and signed webhooks like every router event
    (type ``intraday.alert``; an adherence alert carries the agent's id). Returns the count."""
    events = alert_events(alerts)
    if not events:
        return 0
    with router.tx(center) as tx:
        for event in events:
            data = dict(event["data"])
            agent = data["subject"] if data["metric"] == "out_of_adherence_s" else None
            tx.emit("intraday.alert", agent_id=agent, **data)
    return len(events)

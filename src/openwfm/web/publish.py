"""The intraday stage's outlook and alerts as the body of ``PUT /v1/intraday/outlook``.

``outlook_payload(result, alerts)`` takes an :class:`openwfm.intraday.OutlookResult` (its
``intervals``: ``interval_start, queue, projected_service_level, projected_abandon, past``)
and the alert rows of :func:`openwfm.intraday.evaluate_alerts` (``subject`` a queue or an
agent); the wallboard then shows each queue's projected service level for the rest of the day
and the alerts about queues.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from openwfm.intraday import OutlookResult


def _number(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else min(1.0, max(0.0, value))


def adherence_now(now: pd.DataFrame, roster: Iterable[str]) -> dict:
    """``{agent: {in_adherence, activity, out_since}}`` from the real-time view of
    :func:`openwfm.intraday.out_of_adherence_now` (agents listed are out; the rest of
    ``roster`` is in)."""
    result = {str(agent): {"in_adherence": True} for agent in roster}
    for row in now.to_dict("records"):
        activity = row.get("activity")
        result[str(row["agent_id"])] = {
            "in_adherence": False,
            "activity": None if activity is None or pd.isna(activity) else str(activity),
            "out_since": pd.Timestamp(row["out_since"]).isoformat(),
        }
    return result


def outlook_payload(
    result: OutlookResult,
    alerts: pd.DataFrame | None = None,
    queues: Iterable[str] | None = None,
    adherence: dict | None = None,
) -> dict:
    """The JSON body for ``PUT /v1/intraday/outlook`` (future intervals only);
    ``adherence`` from :func:`adherence_now`."""
    table = result.intervals
    if "past" in table.columns:
        table = table[~table["past"].astype(bool)]
    known = set(queues) if queues is not None else set(table["queue"].astype(str))
    outlook: dict[str, list[dict]] = {}
    for row in table.sort_values("interval_start").to_dict("records"):
        queue = str(row["queue"])
        if queue not in known:
            continue
        outlook.setdefault(queue, []).append(
            {
                "start": pd.Timestamp(row["interval_start"]).isoformat(),
                "service_level": _number(row.get("projected_service_level")),
                "abandon_rate": _number(row.get("projected_abandon")),
            }
        )
    items = []
    if alerts is not None:
        for row in alerts.to_dict("records"):
            if str(row["subject"]) not in known:
                continue  # agent alerts (adherence) belong on the supervisor's desk
            items.append(
                {
                    "queue": str(row["subject"]),
                    "rule": str(row["rule"]),
                    "message": str(row.get("message") or ""),
                    "value": None if pd.isna(row.get("value")) else float(row["value"]),
                    "threshold": None if pd.isna(row.get("threshold")) else float(row["threshold"]),
                }
            )
    as_of = getattr(result, "as_of", None)
    return {
        "outlook": outlook,
        "alerts": items,
        "adherence": adherence or {},
        "as_of": None if as_of is None else pd.Timestamp(as_of).isoformat(),
    }


def replan_payload(
    shifts: pd.DataFrame, proposals: pd.DataFrame, as_of: pd.Timestamp | str | None = None
) -> dict:
    """The JSON body for ``PUT /v1/intraday/replan``: the schedule version ``shifts`` (the
    scheduler's shifts table) and the ``proposals`` table of
    :func:`openwfm.intraday.replan` made for it (times ISO 8601, local-naive)."""
    from openwfm.intraday.api import records

    def rows(frame: pd.DataFrame) -> list[dict]:
        out = records(frame)
        for row in out:
            for key, value in row.items():
                if hasattr(value, "isoformat"):
                    row[key] = value.isoformat()
        return out

    return {
        "shifts": rows(shifts),
        "proposals": rows(proposals),
        "as_of": None if as_of is None else pd.Timestamp(as_of).isoformat(),
    }


def put_to_router(url: str, path: str, body: dict, key: str | None = None) -> dict:
    """PUT ``body`` to a running ``openwfm serve`` at ``url`` + ``path`` with ``key`` (default:
    the environment's ``OPENWFM_KEY``, else ``OPENWFM_ADMIN_KEY``); returns its JSON answer.
    ParameterError naming ``--publish`` when the router cannot be reached or refuses."""
    import os

    import httpx

    from openwfm.errors import ParameterError

    key = key or os.environ.get("OPENWFM_KEY") or os.environ.get("OPENWFM_ADMIN_KEY")
    if not key:
        raise ParameterError("set OPENWFM_KEY (a key with intraday:write)", field="--publish")
    target = url.rstrip("/") + path
    try:
        answer = httpx.put(
            target, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
    except httpx.HTTPError as error:
        raise ParameterError(f"cannot reach {target}: {error}", field="--publish") from None
    if answer.status_code >= 400:
        try:
            detail = answer.json().get("detail", answer.text)
        except ValueError:
            detail = answer.text
        raise ParameterError(f"{target} answered {answer.status_code}: {detail}", field="--publish")
    return answer.json()

"""Queue statistics for wallboards: a snapshot now, and windows (last 15 minutes, today).

Windows count the contacts that *arrived* in them. Offered = answered + abandoned (+ expired
live contacts); service level follows the queue's target and its definition
(:class:`openwfm.model.ServiceLevelDefinition`); ASA is the mean wait of answered contacts,
AHT the mean time from answer to completion (handling plus wrap-up), both in seconds.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import select

from openwfm.routing import store as S
from openwfm.routing.core import Router

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.engine import Row

    from openwfm.model import ServiceTarget


def queue_stats(router: Router, center: str, queue: str) -> dict:
    spec = router.center(center)
    now = router.now()
    channel = spec.queue_channel[queue]
    c, a = S.contacts.c, S.agents.c
    with router.store.read() as connection:
        agents = connection.execute(select(S.agents).where(a.center == center)).all()
        start_today = _day_start(router, spec, now)
        rows = connection.execute(
            select(S.contacts).where(
                c.center == center,
                c.queue == queue,
                (c.arrival_s >= min(start_today, now - 900)) | c.state.in_(S.LIVE_STATES),
            )
        ).all()
    waiting = [r for r in rows if r.state in S.LIVE_STATES]
    by_state = {"available": 0, "busy": 0, "away": 0, "offline": 0}
    free = 0
    for agent in agents:
        if queue not in agent.skills:
            continue
        if agent.status == "available":
            by_state["busy" if agent.load else "available"] += 1
            if agent.load == 0 or agent.channel == channel:
                free += max(0, agent.capacity.get(channel, 0) - agent.load)
        else:
            by_state[agent.status] += 1
    target = spec.scenario.target_for(queue)
    return {
        "queue": queue,
        "now_s": now,
        "now": {
            "waiting": len(waiting),
            "longest_wait_s": max((now - r.arrival_s for r in waiting), default=0.0),
            "agents": by_state,
            "free_capacity": free,
        },
        "last_15_min": window([r for r in rows if r.arrival_s >= now - 900], target),
        "today": window([r for r in rows if r.arrival_s >= start_today], target),
    }


def _day_start(router: Router, spec, now: float) -> float:
    if router.virtual_clock:
        return (now // 86400) * 86400
    zone = ZoneInfo(spec.scenario.grid.timezone)
    local = dt.datetime.fromtimestamp(now, zone)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def window(rows: Sequence[Row], target: ServiceTarget) -> dict:
    answered = [r for r in rows if r.answered_s is not None]
    abandoned = [r for r in rows if r.state in ("abandoned", "expired") and r.answered_s is None]
    offered = len(answered) + len(abandoned)
    within = sum(1 for r in answered if r.answered_s - r.arrival_s <= target.within_s)
    definition = str(target.definition)
    if definition == "answered":
        denominator = len(answered)
    elif definition == "exclude_short_abandons":
        short = sum(1 for r in abandoned if r.ended_s - r.arrival_s <= target.short_abandon_s)
        denominator = offered - short
    else:
        denominator = offered
    handled = [r for r in answered if r.ended_s is not None and r.state == "completed"]
    return {
        "offered": offered,
        "answered": len(answered),
        "abandoned": len(abandoned),
        "service_level": within / denominator if denominator else None,
        "target_s": target.within_s,
        "definition": definition,
        "asa_s": sum(r.answered_s - r.arrival_s for r in answered) / len(answered)
        if answered
        else None,
        "aht_s": sum(r.ended_s - r.answered_s for r in handled) / len(handled) if handled else None,
    }

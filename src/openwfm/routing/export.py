"""Ended contacts into openwfm's interactions table (the DuckDB store), so ``openwfm kpi``,
``forecast`` and ``validate`` work on live traffic.

The router's store stays the truth: a contact row is marked ``exported`` only after the
DuckDB transaction that holds it commits, and the DuckDB store skips ids it already has, so
a crash in between writes nothing twice. Outcomes: completed -> ``answered``; abandoned and
expired -> ``abandoned``; canceled (by the integration) -> ``excluded``. Times are the
center's local clock (wall clock), or ``origin`` + seconds (virtual clock).
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import select, update

from openwfm.routing import store as S

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from sqlalchemy.engine import Row


OUTCOMES = {
    "completed": "answered",
    "abandoned": "abandoned",
    "expired": "abandoned",
    "canceled": "excluded",
}


def interactions_frame(
    rows: Sequence[Row], to_time: Callable[[float], pd.Timestamp]
) -> pd.DataFrame:
    records = []
    for r in rows:
        answered = r.answered_s is not None and r.state == "completed"
        end_s = r.wrapup_s if r.wrapup_s is not None else r.ended_s
        records.append(
            {
                "interaction_id": r.contact_id,
                "queue": r.queue,
                "channel": r.channel,
                "segment": r.segment,
                "arrival_time": to_time(r.arrival_s),
                "answer_time": to_time(r.answered_s) if answered else pd.NaT,
                "end_time": to_time(end_s) if answered else pd.NaT,
                "abandon_time": to_time(r.ended_s) if OUTCOMES[r.state] == "abandoned" else pd.NaT,
                "wait_s": ((r.answered_s if answered else r.ended_s) or r.arrival_s) - r.arrival_s,
                "handle_s": (end_s - r.answered_s) if answered else 0.0,
                "agent": r.agent_id if answered else None,
                "outcome": OUTCOMES[r.state],
                "source": "router",
            }
        )
    return pd.DataFrame.from_records(records)


class Exporter:
    """Moves ended contacts of every center to the DuckDB store at ``path``."""

    def __init__(self, router, path: str, origin: dt.date | None = None) -> None:
        self.router = router
        self.path = path
        self.origin = pd.Timestamp(origin or dt.date(2024, 1, 1))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _to_time(self, center: str):
        if self.router.virtual_clock:
            return lambda s: self.origin + pd.Timedelta(seconds=s)
        zone = ZoneInfo(self.router.centers[center].scenario.grid.timezone)
        return lambda s: pd.Timestamp(dt.datetime.fromtimestamp(s, zone).replace(tzinfo=None))

    def export_once(self, limit: int = 5000) -> int:
        from openwfm.data.store import InteractionStore

        c = S.contacts.c
        total = 0
        for center in self.router.centers:
            with self.router.store.read() as connection:
                rows = connection.execute(
                    select(S.contacts)
                    .where(c.center == center, c.state.in_(S.TERMINAL_STATES), ~c.exported)
                    .order_by(c.number)
                    .limit(limit)
                ).all()
            if not rows:
                continue
            frame = interactions_frame(rows, self._to_time(center))
            with InteractionStore(self.path) as duck:
                duck.ingest(frame, where="router")
            ids = [r.contact_id for r in rows]
            with self.router.store.write() as connection:
                connection.execute(
                    update(S.contacts).where(c.contact_id.in_(ids)).values(exported=True)
                )
            total += len(rows)
        return total

    def start(self, interval_s: float = 2.0) -> None:
        def loop():
            while not self._stop.wait(interval_s):
                try:
                    self.export_once()
                except Exception:  # noqa: BLE001 - retried at the next tick
                    pass

        self._thread = threading.Thread(target=loop, name="openwfm-export", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        try:
            self.export_once()
        except Exception:  # noqa: BLE001 - left for the next start
            pass

"""Several router processes on one PostgreSQL database: per-center write order and the
routing lease.

* The routing loop of a center (:mod:`openwfm.routing.loop`: routing passes and timers) runs in
  one process at a time: the one whose dedicated session holds ``pg_try_advisory_lock`` on the
  center (:class:`RoutingLease`). When that process dies its session ends, PostgreSQL releases
  the lock and the next process to check takes the lease over (within ``sweep_interval_s``).
  API transactions then take no per-center lock: they only record their change.
* Without a routing loop (the virtual clock, command-line writes) every write transaction of a
  center first takes ``pg_advisory_xact_lock`` on that center (:func:`begin_statement`, sent
  with its ``BEGIN`` in one round trip by :meth:`openwfm.routing.store.Store.write`;
  :func:`lock_center` for a transaction already open) and routes in the same transaction, like
  SQLite's single writer. The lock goes with the transaction, so a killed process never leaves
  it held. The guarded updates and the table constraints stay the last line of defence.
"""

from __future__ import annotations

import os
import socket
import threading
import zlib
from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

WRITE_LOCK_CLASS = 0x6F78  # pg_advisory_xact_lock(class, center key): a center's writes
LEASE_LOCK_CLASS = 0x6F79  # pg_try_advisory_lock(class, center key): a center's routing loop


def center_key(center: str) -> int:
    """A stable signed 32-bit key of a center's name (advisory locks take int4 pairs)."""
    value = zlib.crc32(center.encode("utf-8"))
    return value - (1 << 32) if value >= 1 << 31 else value


def lock_center(connection: Connection, center: str) -> None:
    """PostgreSQL: wait for the center's write lock until this transaction ends (else no-op)."""
    if connection.dialect.name != "postgresql":
        return
    connection.execute(
        text("SELECT pg_advisory_xact_lock(:cls, :key)"),
        {"cls": WRITE_LOCK_CLASS, "key": center_key(center)},
    )


def begin_statement(center: str | None) -> str:
    """``BEGIN`` and, for a center, its write lock: one round trip (integers only, no input)."""
    if center is None:
        return "BEGIN"
    return f"BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK_CLASS}, {center_key(center)})"


def process_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class RoutingLease:
    """The routing-loop leases this process holds, one advisory lock per center on one
    dedicated connection (held between transactions, outside any pool)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.name = process_name()
        self._connection = None
        self._held: set[str] = set()
        self._lock = threading.Lock()
        self.takeovers = 0  # leases taken by this process (metrics)

    def holds(self, center: str) -> bool:
        """True when this process holds (or now takes) the center's lease; a lost session
        loses every lease (it is re-taken on a fresh session when free)."""
        with self._lock:
            try:
                connection = self._session()
                if center in self._held:
                    connection.execute(text("SELECT 1"))  # the session (and lock) still live
                    return True
                taken = connection.execute(
                    text("SELECT pg_try_advisory_lock(:cls, :key)"),
                    {"cls": LEASE_LOCK_CLASS, "key": center_key(center)},
                ).scalar()
            except Exception:  # noqa: BLE001 - the database is unreachable: no lease
                self._drop()
                return False
            if taken:
                self._held.add(center)
                self.takeovers += 1
            return bool(taken)

    def held(self) -> set[str]:
        return set(self._held)

    def _session(self):
        if self._connection is None:
            self._connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._connection

    def _drop(self) -> None:
        self._held.clear()
        if self._connection is not None:
            try:
                self._connection.invalidate()
                self._connection.close()
            except Exception:  # noqa: BLE001 - already gone
                pass
        self._connection = None

    def release(self) -> None:
        """Give every lease back (graceful shutdown): another process takes over at once."""
        with self._lock:
            if self._connection is not None:
                try:
                    self._connection.execute(text("SELECT pg_advisory_unlock_all()"))
                except Exception:  # noqa: BLE001 - closing the session releases them too
                    pass
            self._drop()


def lease_holders(engine: Engine, centers: Iterable[str]) -> dict[str, str]:
    """center -> the holder of its routing lease (``openwfm-router:<pid>``, the process's
    ``application_name``), for the centers whose lease is held."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT l.objid, a.application_name FROM pg_locks l "
                "JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.classid = :cls AND l.granted"
            ),
            {"cls": LEASE_LOCK_CLASS},
        ).all()
    by_key = {int(row.objid): row.application_name for row in rows}
    return {
        center: by_key[center_key(center) & 0xFFFFFFFF]
        for center in centers
        if center_key(center) & 0xFFFFFFFF in by_key
    }

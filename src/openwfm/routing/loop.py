"""The routing loop: one per center at a time, deciding for every freed slot and every waiting
contact at once, in one transaction per pass (PostgreSQL, wall clock).

API transactions only record their change (guarded updates, no routing, no per-center lock)
and leave their events in the inbox (:mod:`openwfm.routing.outbox`). The process holding the
center's lease (:class:`openwfm.routing.lease.RoutingLease`, ``pg_try_advisory_lock`` on a
dedicated session; another process takes it over within ``sweep_interval_s`` when the holder
dies) runs :class:`RoutingLoop` (with ``serve --workers`` the supervising process, which
serves no request). Due timers fire in a thread of their own (beside the passes, so a change
never waits for them), each round in a transaction whose events go to the inbox like an API
change's. A pass (:func:`run_pass`) reads, in one ``REPEATABLE READ`` snapshot and
one round trip, the ids of the inbox's events, the free agents and the waiting contacts;
decides (:meth:`openwfm.routing.policy.RoutingPolicy.decide`); then writes in ``READ
COMMITTED``, in one statement sent with its ``COMMIT``
(:func:`openwfm.routing.outbox.commit_pass`): each planned agent takes its slots with a
guarded update, the contacts planned for the agents who did are offered, and the events are
numbered - the inbox's it read first, in the order they were written, then an
``offer.created`` per offer written. An agent who moved since the read gets no offer (its
contacts stay queued for the next pass); a planned contact no longer queued fails the pass
(:class:`openwfm.routing.transitions.GuardFailed`), which runs again at once. A change the
pass did not see keeps its events in the inbox, so it wakes the next pass.

Wake-ups are coalesced, never a NOTIFY per transaction (that serialises commits): a change
committed in this process wakes the loop at once (an event); a change from another process is
seen by a poll of the inbox every ``route_poll_s`` (one indexed ``EXISTS``); changes that
arrive during a pass are all taken by the next one. So passes run back to back under load,
each deciding for everything that arrived during the previous one.

For a user the API behaves as before: a write request returns once a pass that saw its commit
has committed (``route_wait_s`` at most), so an offer made because of it exists when it
answers. In this process that is a pass started after the commit; with the loop in another
process, the inbox no longer holding the request's events.

SQLite (one process, one writer) and the virtual clock keep routing in the transaction of the
cause (:meth:`openwfm.routing.core.Router.tx`); :class:`Sweeper` fires their timers on the wall
clock.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from openwfm.routing import outbox
from openwfm.routing import transitions as T
from openwfm.routing.lease import RoutingLease

if TYPE_CHECKING:
    from openwfm.routing.core import Router

log = logging.getLogger("openwfm.router")

SWITCH_INTERVAL_S = 0.001
RETRIED_SQLSTATES = ("40001", "40P01")  # serialization failure, deadlock: run the pass again


def run_pass(
    router: Router, center: str, deadlines=None, taken: list[int] | None = None
) -> tuple[int, list[str]]:
    """One routing pass of ``center``; returns (offers made, the agents offered work, one
    entry per offer). ``deadlines``: first fire the timers (the earliest of each kind, from
    :meth:`openwfm.routing.core.Router.timer_deadlines`). ``taken``: the number of events
    the pass took from the inbox is appended to it. PostgreSQL: the timers in a
    transaction of their own whose events go to the inbox (as an API change's), then the
    pass: its reads in one snapshot, its offers and events in one transaction
    (:meth:`openwfm.routing.store.Store.routing_pass`)."""
    if router.store.is_sqlite:
        with router.store.routing_pass(center) as (connection, (inboxed, _)):
            tx = T.Tx(connection, center, router.now(), lock=False)
            if deadlines is not None:
                router.fire_timers(tx, deadlines)
            made = router.route_in(tx)
            offered = [e["agent_id"] for e in tx.pending_events if e["type"] == "offer.created"]
            tx.pending_events = inboxed + tx.pending_events
            tx.commit()
        router.decisions += made
        if taken is not None:
            taken.append(len(inboxed))
        return made, offered
    if deadlines is not None:
        fire_due_timers(router, center, deadlines)
    reads = router.pass_reads_sql(router.store.engine, center)
    with router.store.routing_pass(center, reads) as (connection, (inbox, read)):
        tx = T.Tx(connection, center, router.now(), lock=False, routing_pass=True, inbox=inbox)
        router.route_in(tx, tuple(read))
        tx.commit()
    router.decisions += len(tx.offered)
    if taken is not None:
        taken.append(len(inbox))
    return len(tx.offered), tx.offered


def fire_due_timers(router: Router, center: str, deadlines) -> int:
    """PostgreSQL: fire the due timers of ``center`` (``deadlines``: the earliest of each
    kind) in a transaction of their own whose events go to the inbox, as an API change's
    (the next routing pass takes them); returns how many fired."""
    with router.store.write() as connection:
        tx = T.Tx(connection, center, router.now(), lock=False)
        fired = router.fire_timers(tx, deadlines)
        tx.commit_to_inbox()
    return fired


def retried(error: BaseException) -> bool:
    """A pass that failed because the state moved under it (run it again at once)."""
    if isinstance(error, T.GuardFailed):
        return True
    driver_error = getattr(error, "orig", None) or error  # SQLAlchemy's, or psycopg's own
    return getattr(driver_error, "sqlstate", None) in RETRIED_SQLSTATES


class RoutingLoop:
    """This process's routing loop over the centers whose lease it holds: two threads. The
    passes' thread runs routing passes only (:meth:`_run`), so a change waits for at most the
    pass in flight; the timers' thread (:meth:`_run_timers`) checks the leases and fires due
    timers every ``sweep_interval_s``, each in a transaction of its own beside the passes
    (its events go to the inbox and wake the passes' thread, like an API change: guarded
    updates keep the two apart as they keep API changes and passes apart)."""

    def __init__(self, router: Router, lease: RoutingLease | None = None) -> None:
        self.router = router
        self.lease = lease or RoutingLease(router.store.engine)
        self.passes = 0
        self.retries = 0  # passes run again (the state moved under them)
        # benchmarks: called after each committed pass with (center, wall time, agents offered)
        self.on_pass: Callable[[str, float, list[str]], None] | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._check_now = threading.Event()  # the store failed: ask for the leases again
        self._passed = threading.Condition()
        self._started = dict.fromkeys(router.centers, 0)  # pass numbers, per center
        self._done = dict.fromkeys(router.centers, 0)  # the last pass committed
        self._active: set[str] = set()  # centers whose lease was held at the last check
        self._deadlines: dict = {}  # center -> the earliest timer of each kind
        self._busy: dict[str, bool] = {}  # center -> its last pass took events
        self.checked = threading.Event()  # set once the leases were first asked for
        self._warm = threading.Event()  # the warm-up is done: the leases may be taken
        self._thread = threading.Thread(target=self._run, name="openwfm-routing", daemon=True)
        self._timers = threading.Thread(
            target=self._run_timers, name="openwfm-routing-timers", daemon=True
        )

    # --- the loop ---------------------------------------------------------------------------
    def start(self) -> RoutingLoop:
        # a pass waits on the store several times; with request threads busy in Python each
        # wait ends with a wait for the interpreter lock, up to the switch interval (5 ms by
        # default) per busy thread: a routing process switches threads every 1 ms at most
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
        self._thread.start()
        self._timers.start()
        return self

    def stop(self) -> None:
        """Stop after the pass (and timers) in flight and give the leases back."""
        self._stop.set()
        self._wake.set()
        self._check_now.set()
        self._thread.join(timeout=10)
        self._timers.join(timeout=10)
        with self._passed:
            self._active.clear()
            self._passed.notify_all()
        self.lease.release()

    def _run(self) -> None:
        """The passes' thread: a pass whenever a center's inbox holds events (woken by a
        change of this process, polled every ``route_poll_s`` for the others'; under load
        passes run back to back, each taking what arrived during the one before)."""
        settings = self.router.settings
        try:
            warm_up(self.router)
            freeze_start_up_objects()
        finally:
            self._warm.set()
        self.checked.wait(timeout=settings.sweep_interval_s * 10)
        while not self._stop.is_set():
            woken = self._wake.is_set()
            self._wake.clear()
            ran = False
            with self._passed:
                active = sorted(self._active)
            for center in active:
                try:
                    # after a pass that took events the next one runs without asking first
                    busy = self._busy.pop(center, False)
                    if woken or busy or self._waiting(center):
                        ran = self._pass(center) or ran
                except Exception as error:  # noqa: BLE001 - e.g. the store restarting
                    log.warning("routing pass of %s failed: %s", center, _first_line(error))
                    if not retried(error):  # the store unreachable: check the lease again
                        self._check_now.set()
                        self._stop.wait(0.1)
            if not ran:
                self._wake.wait(settings.route_poll_s)

    def _run_timers(self) -> None:
        """The timers' thread: the leases and the due timers, every ``sweep_interval_s``."""
        interval_s = self.router.settings.sweep_interval_s
        while not self._warm.wait(interval_s):  # a lease is taken once warmed up
            if self._stop.is_set():
                return
        while not self._stop.is_set():
            try:
                self._check()
            except Exception as error:  # noqa: BLE001 - never end the thread; ask again
                log.warning("routing lease check failed: %s", _first_line(error))
            for center in sorted(self._active):
                try:
                    if self._due(center):
                        self._fire(center)
                except Exception as error:  # noqa: BLE001 - the store restarting, or a
                    # change under the timers (a guard): they fire again at the next round
                    log.warning("timers of %s failed: %s", center, _first_line(error))
            self._check_now.wait(interval_s)
            self._check_now.clear()

    def _check(self) -> None:
        """Which leases this process holds, and when their next timers are due."""
        active = {center for center in self.router.centers if self.lease.holds(center)}
        for center in active:
            try:
                self._deadlines[center] = self.router.timer_deadlines(center)
            except Exception:  # noqa: BLE001 - unreachable: no timers fire until it is back
                self._deadlines[center] = None
        with self._passed:
            gained = active - self._active
            self._active = active
            self._passed.notify_all()
        self.checked.set()
        if gained:  # a lease taken: route what waits at once
            self._wake.set()

    def _due(self, center: str) -> bool:
        """A timer of ``center`` is due (as the deadlines were at the last check: timers
        fire every ``sweep_interval_s`` at most, the sweeper's granularity)."""
        deadlines = self._deadlines.get(center)
        if not deadlines:
            return False
        now = self.router.now()
        return any(v is not None and v <= now for v in deadlines)

    def _fire(self, center: str) -> None:
        fired = fire_due_timers(self.router, center, self._deadlines[center])
        self._deadlines[center] = self.router.timer_deadlines(center)
        if fired:
            self._wake.set()

    def _waiting(self, center: str) -> bool:
        with self.router.store.read() as connection:
            return outbox.inbox_waiting(connection, center)

    def _pass(self, center: str) -> bool:
        """Run a pass (again while the state moves under it, three times at most)."""
        with self._passed:
            self._started[center] += 1
            number = self._started[center]
        for attempt in range(3):
            try:
                taken: list[int] = []
                _made, offered = run_pass(self.router, center, None, taken)
                self._busy[center] = bool(taken and taken[0])
                break
            except Exception as error:
                if not retried(error) or attempt == 2:
                    raise
                self.retries += 1
        committed_at = time.time()
        self.passes += 1
        with self._passed:
            self._done[center] = number
            self._passed.notify_all()
        if self.on_pass is not None:
            self.on_pass(center, committed_at, offered)
        return True

    # --- API processes --------------------------------------------------------------------------
    def after_commit(self, center: str, inbox_id: int | None) -> None:
        """A change of ``center`` committed (its events at ``inbox_id`` in the inbox): wake
        the loop, and wait (``route_wait_s`` at most) for a pass that saw it."""
        with self._passed:
            ticket = self._started.get(center, 0)
        self._wake.set()
        wait_s = self.router.settings.route_wait_s
        if inbox_id is None or wait_s <= 0:
            return
        deadline = time.monotonic() + wait_s
        while not self._stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            with self._passed:
                if center in self._active:  # this process runs the center's loop
                    if self._done[center] > ticket:
                        return
                    self._passed.wait(min(remaining, 0.05))
                    continue
            if not self._still_waiting(inbox_id):
                return
            time.sleep(min(remaining, self.router.settings.route_poll_s))

    def _still_waiting(self, inbox_id: int) -> bool:
        try:
            with self.router.store.read() as connection:
                return outbox.inbox_holds(connection, inbox_id)
        except Exception:  # noqa: BLE001 - unreachable: the change is committed; answer
            return False


class Sweeper:
    """SQLite on the wall clock: fires due timers every ``interval_s`` (a thread); routing
    runs in the transaction of each cause."""

    def __init__(self, router: Router, interval_s: float) -> None:
        self.router = router
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="openwfm-sweeper", daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            for center in self.router.centers:
                try:
                    deadline = self.router.next_deadline(center)
                    if deadline is not None and deadline <= self.router.now():
                        self.router.sweep(center)
                except Exception:  # noqa: BLE001 - the store may be briefly unreachable
                    pass

    def start(self) -> Sweeper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def start_routing(router: Router) -> RoutingLoop | Sweeper | None:
    """The background routing of ``router``: PostgreSQL on the wall clock, a routing loop
    (``router.loop``); SQLite on the wall clock, a timer sweeper; the virtual clock, none."""
    if router.store.is_sqlite:
        return (
            None
            if router.virtual_clock
            else Sweeper(router, router.settings.sweep_interval_s).start()
        )
    router.lease = RoutingLease(router.store.engine)
    if router.virtual_clock:
        return None  # the clock's driver fires the timers; nobody holds the lease
    loop = RoutingLoop(router, router.lease)
    router.loop = loop
    return loop.start()


def warm_up(router: Router) -> None:
    """Load (or compile) the policies' compiled functions and read every agent's skills and
    capacity (:meth:`openwfm.routing.core.Router.agent_static`) before the first pass, so no
    change waits for that."""
    from openwfm.routing.policy import AgentState, WaitingContact

    for name in router.centers:
        try:
            with router.store.read() as connection:
                router.agent_static(connection, name, [])
        except Exception:  # noqa: BLE001 - only a warm-up: passes read what is missing
            pass
    for center in router.centers.values():
        queue = next(iter(center.queue_channel))
        try:
            center.policy.decide(
                [WaitingContact("warm-up", queue, 0.0)],
                [AgentState("warm-up", {queue: 1.0}, {center.queue_channel[queue]: 1})],
                0.0,
            )
        except Exception:  # noqa: BLE001 - only a warm-up: the first pass compiles instead
            pass


def freeze_start_up_objects() -> None:
    """Move every object alive after the warm-up (modules, compiled policies, caches: about
    a million) out of the garbage collector's reach (``gc.freeze``): a full collection then
    scans only what was made since, instead of pausing the process for 100-200 ms (measured
    in the routing process of ``bench/router.py --db postgresql``: such a pause held up
    every change that arrived during it)."""
    import gc

    gc.collect()
    gc.freeze()


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip().splitlines()
    return text[0] if text else type(error).__name__

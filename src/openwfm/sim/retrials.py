"""A call-by-call simulation of one queue with redials, finite lines and blending.

It checks the queueing models of :mod:`openwfm.queueing` (Erlang X, blending) by simulating
the same system call by call, independently of their Markov-chain algebra: each call has its
own arrival time, patience and wait; the queue is first come, first served; a blocked (all
``lines`` busy) or abandoning call redials with probability ``retrial_probability`` after an
exponential delay (mean ``retry_mean_s``), as a new attempt; with ``outbound_aht_s`` the agents
also make outbound calls from an unlimited backlog whenever more than ``threshold`` of them
are idle, and a freed agent takes a waiting inbound call first.

The multi-skill simulator (:mod:`openwfm.sim.engine`) has redials after abandonment but no
busy signal and no outbound work; this one is small, exponential only, and pure Python (a
binary heap of events), enough for the model checks in the tests.

:func:`simulate_queue` runs independent replications and returns, per metric, the mean and
the half-width of its 95% confidence interval (Student t over replications). Metrics are per
attempt arriving after the warm-up, like the models': ``p_block``, ``p_abandon``,
``service_level`` (answered within ``target_s`` / attempts), ``asa_s`` (mean wait of answered),
``attempt_rate_per_s`` and ``outbound_per_s``.
"""

from __future__ import annotations

import heapq
import math
from collections import deque

import numpy as np

from openwfm.errors import ParameterError

__all__ = ["simulate_queue"]

_FRESH, _REDIAL, _END_IN, _END_OUT, _ABANDON = range(5)
METRICS = (
    "p_block",
    "p_abandon",
    "service_level",
    "asa_s",
    "attempt_rate_per_s",
    "outbound_per_s",
)


def simulate_queue(
    arrival_rate_per_s: float,
    aht_s: float,
    agents: int,
    target_s: float,
    *,
    patience_s: float = math.inf,
    lines: float = math.inf,
    retrial_probability: float = 0.0,
    retry_mean_s: float = 300.0,
    outbound_aht_s: float | None = None,
    threshold: int | None = None,
    horizon_s: float = 100_000.0,
    warmup_s: float = 5_000.0,
    replications: int = 8,
    seed: int = 0,
) -> dict[str, tuple[float, float]]:
    """Mean and 95% CI half-width of each metric over ``replications`` (see the module doc)."""
    checks = (
        ("arrival_rate_per_s", arrival_rate_per_s, arrival_rate_per_s > 0),
        ("aht_s", aht_s, aht_s > 0),
        ("agents", agents, agents >= 1 and agents == int(agents)),
        ("patience_s", patience_s, patience_s > 0),
        ("lines", lines, lines >= agents),
        ("retrial_probability", retrial_probability, 0.0 <= retrial_probability <= 1.0),
        ("retry_mean_s", retry_mean_s, 0 < retry_mean_s < math.inf),
        ("replications", replications, replications >= 2),
        ("horizon_s", horizon_s, horizon_s > warmup_s >= 0),
    )
    for name, value, ok in checks:
        if not ok:
            raise ParameterError(f"out of range: {value!r}", field=name)
    if outbound_aht_s is not None and (threshold is None or not 0 <= threshold <= agents):
        raise ParameterError("blending needs 0 <= threshold <= agents", field="threshold")
    rows = []
    for replication in range(replications):
        rng = np.random.default_rng([seed, replication])
        rows.append(
            _replication(
                rng,
                arrival_rate_per_s,
                aht_s,
                int(agents),
                target_s,
                patience_s,
                lines,
                retrial_probability,
                retry_mean_s,
                outbound_aht_s,
                threshold,
                horizon_s,
                warmup_s,
            )
        )
    from scipy import stats

    table = np.array([[row[m] for m in METRICS] for row in rows])
    mean = table.mean(axis=0)
    half = (
        stats.t.ppf(0.975, replications - 1) * table.std(axis=0, ddof=1) / math.sqrt(replications)
    )
    return {m: (float(mean[i]), float(half[i])) for i, m in enumerate(METRICS)}


class _Replication:
    """One replication's state: the event heap, agents busy inbound / outbound, the FIFO of
    waiting calls and the counts of attempts arriving in ``[warmup, horizon)``."""

    def __init__(
        self, rng, lam, aht, n, target, patience, lines, retrial, retry, out_aht, threshold,
        horizon, warmup,
    ) -> None:  # fmt: skip
        self.rng, self.lam, self.aht, self.n, self.target = rng, lam, aht, n, target
        self.patience, self.lines, self.retrial, self.retry = patience, lines, retrial, retry
        self.out_aht, self.threshold, self.horizon, self.warmup = (
            out_aht,
            threshold,
            horizon,
            warmup,
        )
        self.events: list = []
        self.seq = 0
        self.busy_in = self.busy_out = 0
        self.queue: deque = deque()
        self.waiting: dict[int, tuple[float, bool]] = {}  # call id -> (arrival, counted)
        self.counts = dict.fromkeys(("attempts", "blocked", "abandoned", "within", "answered"), 0)
        self.wait_sum = 0.0
        self.outbound_done = 0
        self.next_id = 0

    def push(self, time: float, kind: int, item: int = 0) -> None:
        heapq.heappush(self.events, (time, self.seq, kind, item))
        self.seq += 1

    def counted(self, time: float) -> bool:
        return self.warmup <= time < self.horizon

    def idle(self) -> int:
        return self.n - self.busy_in - self.busy_out

    def start_outbound(self, time: float) -> None:
        self.busy_out += 1
        self.push(time + self.rng.exponential(self.out_aht), _END_OUT)

    def answer(self, time: float, arrival: float, is_counted: bool) -> None:
        self.busy_in += 1
        self.push(time + self.rng.exponential(self.aht), _END_IN)
        if is_counted:
            wait = time - arrival
            self.counts["answered"] += 1
            self.wait_sum += wait
            self.counts["within"] += wait <= self.target

    def agent_freed(self, time: float) -> None:
        """A freed agent takes the oldest waiting call, else (blending) an outbound call."""
        while self.queue:
            call = self.queue.popleft()
            if call in self.waiting:  # else it abandoned already
                arrival, is_counted = self.waiting.pop(call)
                self.answer(time, arrival, is_counted)
                return
        if self.out_aht is not None and time < self.horizon and self.idle() > self.threshold:
            self.start_outbound(time)

    def lost(self, time: float) -> None:
        """A blocked or abandoning call redials with probability ``retrial``."""
        if self.retrial > 0 and self.rng.random() < self.retrial:
            self.push(time + self.rng.exponential(self.retry), _REDIAL)

    def attempt(self, time: float, kind: int) -> None:
        """A fresh call or a redial arrives: blocked, answered, or waits."""
        if kind == _FRESH:
            if time >= self.horizon:
                return  # no new calls after the horizon; the rest drain
            self.push(time + self.rng.exponential(1.0 / self.lam), _FRESH)
        is_counted = self.counted(time)
        self.counts["attempts"] += is_counted
        if self.busy_in + len(self.waiting) >= self.lines:
            self.counts["blocked"] += is_counted
            if time < self.horizon:
                self.lost(time)
        elif self.idle() > 0:
            self.answer(time, time, is_counted)
        else:
            call = self.next_id
            self.next_id += 1
            self.waiting[call] = (time, is_counted)
            self.queue.append(call)
            if self.patience < math.inf:
                self.push(time + self.rng.exponential(self.patience), _ABANDON, call)

    def run(self) -> dict[str, float]:
        if self.out_aht is not None:
            while self.idle() > self.threshold:
                self.start_outbound(0.0)
        self.push(self.rng.exponential(1.0 / self.lam), _FRESH)
        while self.events:
            time, _, kind, item = heapq.heappop(self.events)
            if kind == _FRESH or kind == _REDIAL:
                self.attempt(time, kind)
            elif kind == _END_IN:
                self.busy_in -= 1
                self.agent_freed(time)
            elif kind == _END_OUT:
                self.busy_out -= 1
                self.outbound_done += self.counted(time)
                self.agent_freed(time)
            elif kind == _ABANDON and item in self.waiting:
                _, is_counted = self.waiting.pop(item)
                self.counts["abandoned"] += is_counted
                if time < self.horizon:
                    self.lost(time)
        return self.metrics()

    def metrics(self) -> dict[str, float]:
        counts = self.counts
        span = self.horizon - self.warmup
        attempts = max(counts["attempts"], 1)
        return {
            "p_block": counts["blocked"] / attempts,
            "p_abandon": counts["abandoned"] / attempts,
            "service_level": counts["within"] / attempts,
            "asa_s": self.wait_sum / counts["answered"] if counts["answered"] else math.inf,
            "attempt_rate_per_s": counts["attempts"] / span,
            "outbound_per_s": self.outbound_done / span,
        }


def _replication(
    rng, lam, aht, n, target, patience, lines, retrial, retry, out_aht, threshold, horizon, warmup
) -> dict[str, float]:
    return _Replication(
        rng, lam, aht, n, target, patience, lines, retrial, retry, out_aht, threshold, horizon,
        warmup,
    ).run()  # fmt: skip

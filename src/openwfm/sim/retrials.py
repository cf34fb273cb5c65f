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


def _replication(
    rng, lam, aht, n, target, patience, lines, retrial, retry, out_aht, threshold, horizon, warmup
) -> dict[str, float]:
    events: list = []
    seq = 0

    def push(time, kind, item=0):
        nonlocal seq
        heapq.heappush(events, (time, seq, kind, item))
        seq += 1

    busy_in = busy_out = 0
    queue: deque = deque()
    waiting: dict[int, tuple[float, bool]] = {}  # call id -> (arrival, counted)
    counts = dict.fromkeys(("attempts", "blocked", "abandoned", "within", "answered"), 0)
    wait_sum = 0.0
    outbound_done = 0
    next_id = 0

    def counted(time):
        return warmup <= time < horizon

    def start_outbound(time):
        nonlocal busy_out
        busy_out += 1
        push(time + rng.exponential(out_aht), _END_OUT)

    def answer(time, arrival, is_counted):
        nonlocal busy_in, wait_sum
        busy_in += 1
        push(time + rng.exponential(aht), _END_IN)
        if is_counted:
            wait = time - arrival
            counts["answered"] += 1
            wait_sum += wait
            counts["within"] += wait <= target

    def agent_freed(time):
        while queue:
            call = queue.popleft()
            if call in waiting:  # else it abandoned already
                arrival, is_counted = waiting.pop(call)
                answer(time, arrival, is_counted)
                return
        if out_aht is not None and time < horizon and n - busy_in - busy_out > threshold:
            start_outbound(time)

    def lost(time):
        if retrial > 0 and rng.random() < retrial:
            push(time + rng.exponential(retry), _REDIAL)

    if out_aht is not None:
        while n - busy_in - busy_out > threshold:
            start_outbound(0.0)
    push(rng.exponential(1.0 / lam), _FRESH)
    while events:
        time, _, kind, item = heapq.heappop(events)
        if kind == _FRESH or kind == _REDIAL:
            if kind == _FRESH:
                if time >= horizon:
                    continue  # no new calls after the horizon; the rest drain
                push(time + rng.exponential(1.0 / lam), _FRESH)
            is_counted = counted(time)
            counts["attempts"] += is_counted
            in_system = busy_in + len(waiting)
            if in_system >= lines:
                counts["blocked"] += is_counted
                if time < horizon:
                    lost(time)
            elif n - busy_in - busy_out > 0:
                answer(time, time, is_counted)
            else:
                call = next_id
                next_id += 1
                waiting[call] = (time, is_counted)
                queue.append(call)
                if patience < math.inf:
                    push(time + rng.exponential(patience), _ABANDON, call)
        elif kind == _END_IN:
            busy_in -= 1
            agent_freed(time)
        elif kind == _END_OUT:
            busy_out -= 1
            outbound_done += counted(time)
            agent_freed(time)
        elif kind == _ABANDON and item in waiting:
            _, is_counted = waiting.pop(item)
            counts["abandoned"] += is_counted
            if time < horizon:
                lost(time)
    span = horizon - warmup
    attempts = max(counts["attempts"], 1)
    return {
        "p_block": counts["blocked"] / attempts,
        "p_abandon": counts["abandoned"] / attempts,
        "service_level": counts["within"] / attempts,
        "asa_s": wait_sum / counts["answered"] if counts["answered"] else math.inf,
        "attempt_rate_per_s": counts["attempts"] / span,
        "outbound_per_s": outbound_done / span,
    }

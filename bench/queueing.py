"""openwfm.queueing vs pyworkforce 0.5.4 on the same inputs, one run, ratios printed;
Erlang X (redials) beside Erlang A in the same run.

Run: ``.venv/bin/python bench/queueing.py`` (pyworkforce: ``make bench-setup``).
pyworkforce works in minutes (AHT, answer time, interval); openwfm in seconds.
"""

from __future__ import annotations

import time

import numpy as np

from openwfm.queueing import (
    erlang_a,
    erlang_c,
    erlang_x,
    long_retry_error_bound,
    orbit_mean_error_bound,
    required_agents,
    service_level,
)

try:
    from pyworkforce.queuing import ErlangA, ErlangC
except ImportError:  # pragma: no cover
    raise SystemExit(
        "pyworkforce missing: .venv/bin/pip install --ignore-requires-python pyworkforce==0.5.4"
    ) from None

RNG = np.random.default_rng(7)
INTERVAL_MIN = 15.0


def timed(function, repeat: int = 1):
    best = np.inf
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def erlang_c_throughput() -> None:
    size_peer = 3_000
    traffic = RNG.uniform(0.5, 200.0, size_peer)
    agents = np.floor(traffic) + RNG.integers(1, 20, size_peer)
    aht_min = 4.0
    calls = traffic / aht_min * INTERVAL_MIN

    def peer():
        return [
            ErlangC(
                transactions=c, aht=aht_min, asa=20 / 60, interval=INTERVAL_MIN
            ).waiting_probability(int(n))
            for c, n in zip(calls, agents, strict=True)
        ]

    t_peer, p_peer = timed(peer)
    ours_small = erlang_c(traffic, agents)
    diff = np.max(np.abs(np.asarray(p_peer) - ours_small))
    big_traffic = np.resize(traffic, 1_000_000)
    big_agents = np.resize(agents, 1_000_000)
    t_ours, _ = timed(lambda: erlang_c(big_traffic, big_agents), repeat=5)
    rate_peer, rate_ours = size_peer / t_peer, big_traffic.size / t_ours
    print(
        f"Erlang C P(wait): pyworkforce {rate_peer:,.0f} evals/s, openwfm {rate_ours:,.0f} "
        f"evals/s -> {rate_ours / rate_peer:,.0f}x (max |diff| {diff:.1e} on the shared grid)"
    )


def staffing_week() -> None:
    queues, intervals = 1_000, 672
    shape = (queues, 1)
    base = RNG.uniform(5.0, 400.0, shape)  # calls per 15 min at the daily peak
    profile = 0.3 + 0.7 * np.sin(np.linspace(0, 7 * np.pi, intervals)) ** 2
    calls = base * profile
    aht_s = RNG.uniform(120.0, 600.0, shape)
    rate = calls / (INTERVAL_MIN * 60.0)
    t_ours, need = timed(lambda: required_agents(rate, aht_s, 20.0, 0.8), repeat=2)
    sample = RNG.choice(calls.size, 200, replace=False)
    flat_calls, flat_aht = calls.ravel(), np.broadcast_to(aht_s, calls.shape).ravel()

    def peer():
        return [
            ErlangC(
                transactions=flat_calls[i], aht=flat_aht[i] / 60, asa=20 / 60, interval=INTERVAL_MIN
            ).required_positions(0.8)["raw_positions"]
            for i in sample
        ]

    t_peer, peer_need = timed(peer)
    agree = np.mean(np.asarray(peer_need) == need.ravel()[sample])
    t_peer_all = t_peer / sample.size * calls.size
    print(
        f"Required agents, {queues:,} queues x {intervals} intervals (80/20): openwfm "
        f"{t_ours:.2f} s; pyworkforce {t_peer_all:,.0f} s (extrapolated from {sample.size} "
        f"cells) -> {t_peer_all / t_ours:,.0f}x; same answer on {agree:.0%} of the sample"
    )


def erlang_a_at_100() -> None:
    aht_min, patience_min = 4.0, 2.0
    calls = 100.0 / aht_min * INTERVAL_MIN  # 100 Erlangs
    positions = [95, 100, 105, 110]

    def peer():
        model = ErlangA(
            transactions=calls,
            aht=aht_min,
            asa=20 / 60,
            interval=INTERVAL_MIN,
            patience=patience_min,
        )
        return [model.service_level(n) for n in positions]

    t_peer, sl_peer = timed(peer)
    lam = calls / (INTERVAL_MIN * 60)
    t_scalar, sl_ours = timed(
        lambda: [
            float(erlang_a(lam, aht_min * 60, patience_min * 60, n, 20.0).service_level)
            for n in positions
        ],
        repeat=3,
    )
    batch = np.resize(np.arange(80, 121), 10_000)
    t_batch, _ = timed(
        lambda: erlang_a(lam, aht_min * 60, patience_min * 60, batch, 20.0), repeat=2
    )
    per_peer = t_peer / len(positions)
    per_scalar = t_scalar / len(positions)
    per_batch = t_batch / batch.size
    print(
        f"Erlang A at 100 Erlangs: pyworkforce {per_peer * 1e3:.1f} ms/eval, openwfm "
        f"{per_scalar * 1e6:.1f} us/eval one at a time ({per_peer / per_scalar:,.0f}x), "
        f"{per_batch * 1e6:.1f} us/eval vectorised ({per_peer / per_batch:,.0f}x); "
        f"max |SL diff| {np.max(np.abs(np.subtract(sl_peer, sl_ours))):.1e}"
    )


def overstaffing_case() -> None:
    # 100 Erlangs, impatient callers (mean patience 1 min), target 60% within 60 s and at most
    # 25% abandonment: abandonment keeps the queue stable below the offered load.
    aht_min, patience_min, target_s, sl, max_ab = 4.0, 1.0, 60.0, 0.6, 0.25
    calls = 100.0 / aht_min * INTERVAL_MIN
    peer = ErlangA(
        transactions=calls,
        aht=aht_min,
        asa=target_s / 60,
        interval=INTERVAL_MIN,
        patience=patience_min,
    ).required_positions(sl, max_abandonment=max_ab)
    lam = calls / (INTERVAL_MIN * 60)
    ours = int(
        required_agents(
            lam, aht_min * 60, target_s, sl, patience_s=patience_min * 60, max_abandon=max_ab
        )
    )
    at = erlang_a(lam, aht_min * 60, patience_min * 60, [ours, peer["raw_positions"]], target_s)
    print(
        f"Erlang A staffing, 100 Erlangs, patience 60 s, {sl:.0%} in {target_s:g} s, "
        f"abandon <= {max_ab:.0%}: pyworkforce {peer['raw_positions']} agents (its search "
        f"starts at the load), openwfm {ours} agents; at {ours}: SL {at.service_level[0]:.3f}, "
        f"abandon {at.p_abandon[0]:.3f} -> pyworkforce overstaffs by "
        f"{peer['raw_positions'] - ours} agents"
    )
    # Erlang C cannot express this: below the load every caller waits forever
    print(
        f"  (Erlang C at {ours} agents: P(wait) = {erlang_c(100.0, ours):g}, "
        f"SL = {service_level(100.0, ours, 240.0, target_s):g})"
    )


def erlang_c_staffing_table() -> None:
    """A staffing table's size: 320 (traffic, agents) points in one call (per-call overhead)."""
    rng = np.random.default_rng(11)
    traffic = rng.uniform(1.0, 200.0, 320)
    agents = np.floor(traffic) + rng.integers(1, 20, 320)
    aht_min = 4.0
    calls = traffic / aht_min * INTERVAL_MIN

    def peer():
        return [
            ErlangC(transactions=c, aht=aht_min, asa=20 / 60, interval=INTERVAL_MIN).service_level(
                int(n), scale_positions=False
            )
            for c, n in zip(calls, agents, strict=True)
        ]

    t_peer, sl_peer = timed(peer, repeat=5)
    t_ours, sl_ours = timed(lambda: service_level(traffic, agents, aht_min * 60, 20.0), repeat=200)
    diff = np.max(np.abs(np.asarray(sl_peer) - sl_ours))
    print(
        f"Erlang C service level, 320 points in one call: pyworkforce {t_peer * 1e3:.2f} ms, "
        f"openwfm {t_ours * 1e6:.1f} us -> {t_peer / t_ours:,.0f}x (target >= 300x; "
        f"max |diff| {diff:.1e})"
    )


def erlang_x_beside_erlang_a() -> None:
    """Erlang X (redials: probability 0.5, patience 120 s) and Erlang A at 100 Erlangs, the
    same agents, same run: evaluations per second and the cost ratio (target <= 20x)."""
    lam, aht, patience, target = 100.0 / 240.0, 240.0, 120.0, 20.0
    positions = [95, 100, 105, 110]
    redials = {"retrial_probability": 0.5}
    finite = {"retrial_probability": 0.5, "retry_mean_s": 600.0}
    fast = {**finite, "method": "orbit_mean"}
    for options in (redials, finite, fast):  # compile
        erlang_x(lam, aht, patience, 100, np.inf, target, **options)

    def one_at_a_time(function, repeat):
        return timed(lambda: [function(n) for n in positions], repeat=repeat)[0] / len(positions)

    def x_model(options):
        return lambda n: float(
            erlang_x(lam, aht, patience, n, np.inf, target, **options)["service_level"]
        )

    per_a = one_at_a_time(
        lambda n: float(erlang_a(lam, aht, patience, n, target).service_level), 20
    )
    per_x = one_at_a_time(x_model(redials), 5)
    per_fast = one_at_a_time(x_model(fast), 10)
    per_exact = one_at_a_time(x_model(finite), 3)
    batch = np.resize(np.arange(85, 126), 2_000)
    t_a, _ = timed(lambda: erlang_a(lam, aht, patience, batch, target), repeat=3)
    t_x, _ = timed(lambda: erlang_x(lam, aht, patience, batch, np.inf, target, **redials), 2)
    # the two approximations of the 600 s retry: their stated bounds and their errors
    exact = erlang_x(lam, aht, patience, positions, np.inf, target, **finite)

    def error(options):
        got = erlang_x(lam, aht, patience, positions, np.inf, target, **options)
        keys = ("service_level", "service_level_answered", "service_level_virtual", "p_abandon")
        return max(np.max(np.abs(got[key] - exact[key])) for key in keys)

    bound_limit = float(long_retry_error_bound(aht, patience, 0.5, 600.0))
    bound_fast = float(orbit_mean_error_bound(aht, patience, 0.5, 600.0))
    print(
        f"Erlang X vs Erlang A at 100 Erlangs (redial probability 0.5, patience 120 s), one "
        f"evaluation at a time: Erlang A {1 / per_a:,.0f} evals/s. Erlang X with a 600 s "
        f"retry time: orbit-mean model (method='orbit_mean') {1 / per_fast:,.0f} evals/s -> "
        f"{per_fast / per_a:.1f}x Erlang A's cost (target <= 20x), largest error vs the exact "
        f"chain {error(fast):.1e} (validated bound {bound_fast:.1e}); exact two-dimensional "
        f"chain {1 / per_exact:,.1f} evals/s -> {per_exact / per_a:,.0f}x. Default model (no "
        f"retry time: the long-retry limit, exact for it) {1 / per_x:,.0f} evals/s -> "
        f"{per_x / per_a:.1f}x; read as an approximation of the 600 s retry its error is "
        f"{error(redials):.1e} (validated bound {bound_limit:.1e}). Vectorised: Erlang A "
        f"{batch.size / t_a:,.0f} evals/s, Erlang X default {batch.size / t_x:,.0f} evals/s "
        f"({t_x / t_a:.1f}x)"
    )


if __name__ == "__main__":
    erlang_c_throughput()
    erlang_c_staffing_table()
    staffing_week()
    erlang_a_at_100()
    overstaffing_case()
    erlang_x_beside_erlang_a()

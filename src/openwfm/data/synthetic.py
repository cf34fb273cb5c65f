"""Seeded synthetic interaction history for a scenario (the demo's data, no files needed).

The generator plays a plausible contact center forward in time, queue by queue:

1. **Arrivals** are a non-homogeneous Poisson process. A day's expected volume is the queue's
   ``demand.contacts_per_day`` x ``weekday_factor``, multiplied by a random day level drawn from
   a gamma distribution with mean 1 (coefficient of variation ``day_level_cv``), so days differ
   more than Poisson noise alone would make them. Within the opening hours the rate follows the
   sum of the Gaussian ``demand.peaks`` (width ``peak_width_s``) plus a floor of
   ``PROFILE_FLOOR`` x the peak rate, so every open interval sees some traffic.
2. **Segments** are drawn per contact with :meth:`Scenario.segment_shares`.
3. **Handle times** are lognormal (or exponential) with mean ``aht_s`` (for chat, the per-chat
   handle time at full concurrency when ``aht_s_by_concurrency`` is given) and ``handle_time_cv``.
4. **Staffing** is what a planner would have rostered against the *expected* (not the realised)
   volume: per interval, agents = ceil((a + beta sqrt(a)) x noise / concurrency) with ``a`` the
   offered load in Erlangs (the square-root safety-staffing rule) and ``noise`` a lognormal
   under/over-staffing factor per day and per interval, capped by the agents who have the skill.
   Deferred queues (email, social, callback) get a flat team sized to the week's average
   workload, so busy days build a backlog that waits hours and carries over closing time.
5. **Queueing**: a FIFO multi-server queue per queue with the time-varying number of agents;
   a live contact abandons when its exponential patience (mean ``patience_s``) runs out before
   an agent is free. Deferred contacts never abandon. Agents on duty at closing time finish the
   queue during the following interval.

All times are whole seconds, local-naive; the result has exactly the columns of
:data:`openwfm.data.schema.INTERACTION_COLUMNS`.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
from pathlib import Path

import numpy as np
import pandas as pd
from numba import njit

from openwfm.data.schema import INTERACTION_COLUMNS, Outcome
from openwfm.errors import ParameterError
from openwfm.model import WEEKDAYS, Agent, Queue, Scenario, clock_seconds

# Rate floor as a fraction of the intraday peak rate: real centers are never empty while open.
PROFILE_FLOOR = 0.1
# Square-root safety staffing coefficient: n = a + beta * sqrt(a). 0.7 puts the example center's
# voice queue near its 80/20 goal on average, with bad days below it (as in real centers).
SQRT_STAFFING_BETA = 0.7
# Deferred work is staffed at this multiple of the week's average workload (the backlog clears).
DEFERRED_CAPACITY_FACTOR = 1.05
# Days of staffing after the period so that deferred items still queued at the end are handled
# (a whole number of weeks: deferred staffing is planned per week).
TAIL_DAYS = 14
_PROFILE_STEP_S = 60


def _lognormal_params(mean: float, cv: float) -> tuple[float, float]:
    """(mu, sigma) of a lognormal with the given mean and coefficient of variation."""
    sigma2 = math.log1p(cv * cv)
    return math.log(mean) - sigma2 / 2.0, math.sqrt(sigma2)


def _handle_mean_s(queue: Queue) -> float:
    """Mean seconds one contact occupies one agent slot (chat: at full concurrency)."""
    if queue.aht_s_by_concurrency:
        return float(queue.aht_s_by_concurrency[-1])
    return float(queue.aht_s)


def _intraday_density(queue: Queue, open_s: int, close_s: int) -> np.ndarray:
    """Relative arrival rate per minute bin over [open_s, close_s), summing to 1."""
    assert queue.demand is not None
    centres = np.arange(open_s, close_s, _PROFILE_STEP_S, dtype=float) + _PROFILE_STEP_S / 2.0
    rate = np.zeros_like(centres)
    for clock, weight in queue.demand.peaks.items():
        peak_s = clock_seconds(clock)
        rate += weight * np.exp(-0.5 * ((centres - peak_s) / queue.demand.peak_width_s) ** 2)
    peak = rate.max() if rate.size else 0.0
    rate = rate + (PROFILE_FLOOR * peak if peak > 0 else 1.0)
    return rate / rate.sum()


@njit(cache=True)
def _fifo_queue(arrival_s, patience_s, handle_s, slots_on_duty, interval_s):  # pragma: no cover
    """FIFO multi-server queue with abandonment and a time-varying number of servers.

    ``slots_on_duty[i]`` servers (0..n-1) may *start* a contact in grid interval ``i``; a server
    busy when its shift ends finishes that contact. Contacts are taken in arrival order by the
    server that can start them first; a contact whose start would come after its patience
    abandons and occupies no one. Returns (start_s, server), NaN / -1 for abandoned contacts.
    """
    n_intervals = slots_on_duty.shape[0]
    max_slots = 0
    for i in range(n_intervals):
        if slots_on_duty[i] > max_slots:
            max_slots = slots_on_duty[i]
    # next_on[k, i]: first interval j >= i in which server k is on duty (n_intervals: never).
    next_on = np.empty((max_slots, n_intervals + 1), np.int64)
    for k in range(max_slots):
        following = n_intervals
        next_on[k, n_intervals] = n_intervals
        for i in range(n_intervals - 1, -1, -1):
            if slots_on_duty[i] > k:
                following = i
            next_on[k, i] = following
    free_at = np.zeros(max_slots)
    n = arrival_s.shape[0]
    start = np.full(n, np.nan)
    server = np.full(n, -1, np.int64)
    for c in range(n):
        t = arrival_s[c]
        best = np.inf
        best_k = -1
        for k in range(max_slots):
            s = max(t, free_at[k])
            i = int(s // interval_s)
            if i >= n_intervals:
                continue
            j = next_on[k, i]
            if j >= n_intervals:
                continue
            if j > i:
                s = j * interval_s
            if s < best:
                best = s
                best_k = k
        if best_k >= 0 and best - t <= patience_s[c]:
            start[c] = best
            server[c] = best_k
            free_at[best_k] = best + handle_s[c]
    return start, server


def fifo_queue(
    arrival_s: np.ndarray,
    patience_s: np.ndarray,
    handle_s: np.ndarray,
    servers_by_interval: np.ndarray,
    interval_s: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Play a FIFO multi-server queue with abandonment and time-varying staffing.

    ``arrival_s`` (sorted), ``patience_s`` (``inf``: never abandons) and ``handle_s`` are
    seconds from the start of the grid, one value per contact; ``servers_by_interval[i]``
    servers may start contacts during ``[i * interval_s, (i + 1) * interval_s)``. Returns the
    answer time in seconds per contact (NaN when it abandoned or no server came within the
    grid) and the index of the server that took it (-1 otherwise).
    """
    arrival_s = np.ascontiguousarray(arrival_s, dtype=float)
    patience_s = np.ascontiguousarray(patience_s, dtype=float)
    handle_s = np.ascontiguousarray(handle_s, dtype=float)
    servers = np.ascontiguousarray(servers_by_interval, dtype=np.int64)
    if not (arrival_s.shape == patience_s.shape == handle_s.shape):
        raise ParameterError("arrival_s, patience_s and handle_s need one value per contact")
    if arrival_s.size and (np.diff(arrival_s) < 0).any():
        raise ParameterError("expected arrival times in increasing order", field="arrival_s")
    if servers.size == 0 or (servers < 0).any():
        raise ParameterError(
            "expected a non-empty grid of server counts >= 0", field="servers_by_interval"
        )
    return _fifo_queue(arrival_s, patience_s, handle_s, servers, float(interval_s))


def _agent_pools(scenario: Scenario, peak_agents: dict[str, int]) -> dict[str, list[Agent]]:
    """Give every skilled agent to one queue, so no agent works two queues at once.

    Agents with fewer skills are placed first; each goes to the skilled queue that is furthest
    below its peak need (ties: the agent's best proficiency).
    """
    pools: dict[str, list[Agent]] = {name: [] for name in peak_agents}
    agents = [a for a in scenario.all_agents() if any(q in pools for q in a.skills)]
    agents.sort(key=lambda a: sum(q in pools for q in a.skills))
    for agent in agents:
        candidates = [q for q in agent.skills if q in pools]

        def shortfall(queue_name: str, agent: Agent = agent) -> tuple[float, float]:
            need = max(peak_agents[queue_name], 1)
            return ((need - len(pools[queue_name])) / need, agent.skills[queue_name])

        pools[max(candidates, key=shortfall)].append(agent)
    return pools


def generate_interactions(
    scenario: Scenario,
    start: dt.date,
    weeks: int,
    seed: int,
    *,
    day_level_cv: float = 0.1,
    staffing_noise_cv: float = 0.08,
) -> pd.DataFrame:
    """Synthetic interaction log of ``weeks`` weeks from ``start`` (local-naive, seconds).

    ``day_level_cv`` is the coefficient of variation of the random daily volume level (gamma,
    mean 1); ``staffing_noise_cv`` that of the lognormal under/over-staffing factors (per day and
    per interval). The same arguments always give the same table. Queues without ``demand``
    produce no contacts; a scenario where no queue has one is a :class:`ParameterError`.
    Returns the columns of ``INTERACTION_COLUMNS`` sorted by arrival time.
    """
    if isinstance(start, dt.datetime):
        start = start.date()
    if isinstance(weeks, bool) or not isinstance(weeks, numbers.Integral) or weeks < 1:
        raise ParameterError(f"expected a whole number of weeks >= 1, got {weeks!r}", field="weeks")
    if day_level_cv < 0 or staffing_noise_cv < 0:
        raise ParameterError("expected a coefficient of variation >= 0", field="day_level_cv")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ParameterError(f"expected an integer >= 0, got {seed!r}", field="seed")
    from openwfm.io import MAX_DATE, MIN_DATE, check_date_span

    if not MIN_DATE <= start <= MAX_DATE:
        raise ParameterError(
            f"expected a first day between {MIN_DATE} and {MAX_DATE}, got {start}", field="start"
        )
    check_date_span(start, 7 * int(weeks) + TAIL_DAYS, "weeks")
    grid = scenario.grid
    interval_s = grid.interval_s
    days = 7 * int(weeks)
    total_days = days + TAIL_DAYS
    n_intervals = total_days * 86400 // interval_s
    origin = np.datetime64(start.isoformat(), "ns")
    seeds = np.random.SeedSequence(seed).spawn(len(scenario.queues))

    if not any(hours is not None for hours in grid.opening_hours.values()):
        raise ParameterError(
            "the center is never open (every day of grid.opening_hours is null): no contact "
            "can arrive",
            field="grid.opening_hours",
        )
    demand_queues = [(i, q) for i, q in enumerate(scenario.queues) if q.demand is not None]
    if not demand_queues:
        raise ParameterError(
            "no queue has a `demand` (contacts_per_day ...) to generate contacts from",
            field="scenario",
        )
    plans: dict[str, dict] = {}
    for index, queue in demand_queues:
        rng = np.random.default_rng(seeds[index])
        plans[queue.name] = _plan_queue(queue, scenario, start, days, total_days, n_intervals)
        plans[queue.name]["rng"] = rng
        plans[queue.name]["day_level_cv"] = day_level_cv
    for name, plan in plans.items():
        plan["agents_on_duty"] = _staffing(
            scenario.queue(name), plan, total_days, interval_s, staffing_noise_cv
        )
    pools = _agent_pools(
        scenario, {name: int(plan["agents_on_duty"].max()) for name, plan in plans.items()}
    )

    frames = []
    for _index, queue in demand_queues:
        plan = plans[queue.name]
        frames.append(
            _simulate_queue(scenario, queue, plan, pools[queue.name], start, seed, origin)
        )
    frame = pd.concat(frames, ignore_index=True) if frames else _empty()
    frame = frame.sort_values(["arrival_time", "interaction_id"], kind="stable")
    frame = frame.reset_index(drop=True)
    return frame.astype(INTERACTION_COLUMNS)[list(INTERACTION_COLUMNS)]


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in INTERACTION_COLUMNS.items()})


def _plan_queue(
    queue: Queue,
    scenario: Scenario,
    start: dt.date,
    days: int,
    total_days: int,
    n_intervals: int,
) -> dict:
    """Expected arrivals per grid interval (the planner's forecast) and the per-day profiles."""
    assert queue.demand is not None
    interval_s = scenario.grid.interval_s
    expected = np.zeros(n_intervals)
    profiles: list[tuple[int, float, int, np.ndarray]] = []  # (day, mean volume, open_s, p)
    for offset in range(total_days):
        day = start + dt.timedelta(days=offset)
        hours = scenario.grid.hours_on(day)
        if hours is None:
            continue
        factor = queue.demand.weekday_factor.get(WEEKDAYS[day.weekday()], 1.0)
        volume = queue.demand.contacts_per_day * factor
        if volume <= 0:
            continue
        density = _intraday_density(queue, hours.open_s, hours.close_s)
        if offset < days:
            profiles.append((offset, volume, hours.open_s, density))
        bin_start = offset * 86400 + hours.open_s + np.arange(density.size) * _PROFILE_STEP_S
        np.add.at(expected, bin_start // interval_s, volume * density)
    return {"expected": expected, "profiles": profiles}


def _staffing(
    queue: Queue, plan: dict, total_days: int, interval_s: int, noise_cv: float
) -> np.ndarray:
    """Agents on duty per grid interval, planned from the expected volume with noise."""
    rng: np.random.Generator = plan["rng"]
    expected = plan["expected"]
    per_day = 86400 // interval_s
    mu, sigma = _lognormal_params(1.0, noise_cv) if noise_cv > 0 else (0.0, 0.0)
    day_noise = np.repeat(rng.lognormal(mu, sigma, total_days), per_day)
    interval_noise = rng.lognormal(mu, sigma, expected.size)
    concurrency = queue.max_concurrency
    handle_mean_s = _handle_mean_s(queue)
    open_mask = expected > 0
    if queue.channel.is_live:
        load = expected * handle_mean_s / interval_s  # Erlangs (slots busy on average)
        slots = (load + SQRT_STAFFING_BETA * np.sqrt(load)) * day_noise * interval_noise
    else:
        # Deferred: a flat team that works the week's average workload per open second, so
        # busy days (Monday) build a backlog that quieter days work off.
        weekly = expected.reshape(-1, 7 * per_day)
        open_s = np.maximum((weekly > 0).sum(axis=1), 1) * interval_s
        flat = weekly.sum(axis=1) * handle_mean_s / open_s
        slots = np.repeat(flat, 7 * per_day) * DEFERRED_CAPACITY_FACTOR * day_noise
    agents = np.where(open_mask, np.maximum(np.ceil(slots / concurrency), 1), 0).astype(np.int64)
    # Agents on duty at closing time stay one more interval to work off the queue.
    after_close = np.flatnonzero(open_mask[:-1] & ~open_mask[1:]) + 1
    agents[after_close] = agents[after_close - 1]
    return agents


def _draw_handle_s(queue: Queue, rng: np.random.Generator, size: int) -> np.ndarray:
    mean_s = _handle_mean_s(queue)
    if queue.handle_time_distribution == "lognormal":
        mu, sigma = _lognormal_params(mean_s, queue.handle_time_cv)
        values = rng.lognormal(mu, sigma, size)
    else:
        values = rng.exponential(mean_s, size)
    return np.maximum(np.round(values), 1.0)


def _local_clock(
    arrival_s: np.ndarray, origin: np.datetime64, timezone: str, rng: np.random.Generator
) -> np.ndarray:
    """Arrival seconds on the local wall clock of ``timezone`` across DST switches.

    The demand profile is drawn per local clock hour. On the spring-forward day the skipped
    hour (02:00-03:00 in Europe) does not exist: its arrivals are dropped. On the fall-back day
    the repeated hour happens twice: it gets a second set of arrivals, as many as the first.
    """
    if arrival_s.size == 0 or timezone == "UTC":
        return arrival_s
    local = pd.DatetimeIndex(origin + (arrival_s * 1e9).astype("timedelta64[ns]"))
    gap = local.tz_localize(timezone, ambiguous=True, nonexistent="NaT").isna()
    repeated = local.tz_localize(timezone, ambiguous="NaT", nonexistent="shift_forward").isna()
    if not gap.any() and not repeated.any():
        return arrival_s
    hour_s = np.floor(arrival_s[repeated] / 3600) * 3600
    extra = np.floor(hour_s + rng.random(hour_s.size) * 3600)
    return np.sort(np.concatenate([arrival_s[~gap], extra]))


def _simulate_queue(
    scenario: Scenario,
    queue: Queue,
    plan: dict,
    pool: list[Agent],
    start: dt.date,
    seed: int,
    origin: np.datetime64,
) -> pd.DataFrame:
    rng: np.random.Generator = plan["rng"]
    interval_s = scenario.grid.interval_s
    cv = plan["day_level_cv"]
    arrivals = []
    for offset, volume, open_s, density in plan["profiles"]:
        level = rng.gamma(1.0 / cv**2, cv**2) if cv > 0 else 1.0
        count = rng.poisson(volume * level)
        bins = rng.choice(density.size, size=count, p=density)
        seconds = offset * 86400 + open_s + (bins + rng.random(count)) * _PROFILE_STEP_S
        arrivals.append(np.floor(seconds))
    arrival_s = np.sort(np.concatenate(arrivals)) if arrivals else np.zeros(0)
    arrival_s = _local_clock(arrival_s, origin, scenario.grid.timezone, rng)
    n = arrival_s.size

    shares = scenario.segment_shares(queue.name)
    names = np.array(list(shares), dtype=object)
    weights = np.array(list(shares.values()), dtype=float)
    segment = names[rng.choice(names.size, size=n, p=weights / weights.sum())]
    handle_s = _draw_handle_s(queue, rng, n)
    if queue.channel.is_live and queue.patience_s is not None:
        patience_s = np.maximum(np.round(rng.exponential(queue.patience_s, n)), 0.0)
    else:
        patience_s = np.full(n, np.inf)

    on_duty = plan["agents_on_duty"]
    concurrency = queue.max_concurrency
    if pool:
        on_duty = np.minimum(on_duty, len(pool))  # cannot roster more agents than have the skill
    start_s, server = fifo_queue(arrival_s, patience_s, handle_s, on_duty * concurrency, interval_s)
    answered = server >= 0
    abandoned = ~answered & np.isfinite(patience_s)
    agent_names = np.array(
        [a.name for a in pool]
        if pool
        else [f"{queue.name}-agent-{k + 1}" for k in range(int(on_duty.max()))],
        dtype=object,
    )
    agent = np.full(n, None, dtype=object)
    agent[answered] = agent_names[server[answered] // concurrency]

    def stamp(seconds: np.ndarray, mask: np.ndarray) -> np.ndarray:
        values = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
        values[mask] = origin + (seconds[mask] * 1e9).astype("int64").astype("timedelta64[ns]")
        return values

    wait_s = np.where(answered, start_s - arrival_s, np.where(abandoned, patience_s, np.nan))
    # Deferred items still unhandled after the tail are left open (no outcome of their own yet):
    # count them as abandoned at the end of the horizon so no row is lost.
    stuck = ~answered & ~abandoned
    wait_s[stuck] = on_duty.size * interval_s - arrival_s[stuck]
    outcome = np.where(answered, Outcome.ANSWERED.value, Outcome.ABANDONED.value)
    return pd.DataFrame(
        {
            "interaction_id": [
                f"syn{seed}-{start:%Y%m%d}-{queue.name}-{i + 1:06d}" for i in range(n)
            ],
            "queue": queue.name,
            "channel": queue.channel.value,
            "segment": segment,
            "arrival_time": stamp(arrival_s, np.ones(n, bool)),
            "answer_time": stamp(start_s, answered),
            "end_time": stamp(start_s + handle_s, answered),
            "abandon_time": stamp(arrival_s + wait_s, ~answered),
            "wait_s": wait_s,
            "handle_s": np.where(answered, handle_s, 0.0),
            "agent": agent,
            "outcome": outcome,
            "source": f"synthetic:seed={seed}",
        }
    )


def write_interactions(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write an interactions table to ``.csv`` or ``.parquet`` atomically (temp file, rename)."""
    from openwfm.io import write_table

    return write_table(frame, path)

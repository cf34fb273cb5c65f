"""Erlang X: M/M/n/L+M with redials (retrials), finite lines and fractional agents.

The model (Koole's Erlang X): calls arrive as a Poisson stream (``arrival_rate_per_s``, fresh
calls), ``agents`` answer them with exponential handle times (mean ``aht_s``); a call that
finds every one of the ``lines`` places busy (agents + waiting places; ``inf``: no busy
signal) is blocked; a waiting call abandons after an exponential patience (mean
``patience_s``; ``inf``: nobody abandons). A blocked or abandoning call redials with
probability ``retrial_probability`` after an exponential time with mean ``retry_mean_s``.

The state is two-dimensional: ``x`` calls in the system and ``y`` callers waiting to redial
(the orbit). :func:`erlang_x` solves it exactly:

- ``retry_mean_s`` finite: the chain on ``0 <= x <= lines`` (or up to where the queue's mass
  is below 1e-17 for infinite lines) and ``0 <= y <= Y`` is solved as one sparse linear system;
  ``Y`` starts from the orbit's mean and is doubled until the mass of the top orbit level is
  below ``1e-12`` (the stated truncation bound: every probability is then within ~1e-12 of the
  untruncated chain's);
- ``retry_mean_s = inf`` (the default) is the long-retry-time limit: the orbit holds so many
  callers, each redialling so rarely, that the redials form a Poisson stream of constant rate
  (the law of large numbers), so the attempt rate ``R`` solves ``R = lam + p R L(R)`` with
  ``L`` the loss (blocked + abandoned) probability of the one-dimensional chain at rate ``R``;
  solved to 1e-15 relative. It is also the fast approximation for long retry times (the
  tests bound its distance to the exact chain on a grid).
- ``retrial_probability = 0``: the one-dimensional chain (Erlang A with lines; ``lines =
  inf``: Erlang A itself; no patience as well: Erlang C).

Metrics are per call attempt (fresh calls and redials, as an ACD counts them): ``p_block``,
``p_wait`` (queued, not blocked), ``p_abandon``, ``service_level`` (answered within
``target_s`` / offered attempts; blocked attempts count as not answered),
``service_level_answered`` (/ answered), ``service_level_virtual`` (P(the wait a call would
have if it never abandoned <= target_s); blocked attempts count as failures), ``asa_s`` (mean
wait of answered calls), ``mean_wait_s`` (mean time in queue over all attempts),
``queue_length``, ``occupancy``, ``attempt_rate_per_s``, ``retrial_rate_per_s`` and
``p_customer_lost`` (a fresh caller is never answered).

Fractional agents: every metric is interpolated linearly between ``floor(agents)`` and
``floor(agents) + 1`` (exact at integers, continuous and monotone between them); ``lines`` must
be at least ``ceil(agents)``.
"""

from __future__ import annotations

import numpy as np

from openwfm.errors import ParameterError
from openwfm.queueing import _retrial_core as core
from openwfm.queueing.erlang import as_param

__all__ = ["ERLANG_X_KEYS", "erlang_x"]

ERLANG_X_KEYS = (
    *core.METRIC_KEYS,
    "mean_wait_s",
    "occupancy",
    "attempt_rate_per_s",
    "retrial_rate_per_s",
    "p_customer_lost",
)
_ORBIT_TAIL = 1e-12
_MAX_ORBIT = 200_000
_MAX_STATES_2D = 3_000_000
_SWEEP_TOL = 1e-14
_BANDED_WORK = 2e7  # flops of a banded LU below which it replaces the iteration
_MAX_SWEEPS = 2_000
_BANDED_BYTES = 1.5e9


def _check_retrial(retrial_probability, retry_mean_s) -> tuple[np.ndarray, np.ndarray]:
    p = as_param("retrial_probability", retrial_probability, upper=1.0)
    retry = as_param("retry_mean_s", retry_mean_s, positive=True, allow_inf=True)
    return p, retry


def erlang_x(
    arrival_rate_per_s,
    aht_s,
    patience_s,
    agents,
    lines=np.inf,
    target_s=20.0,
    *,
    retrial_probability=0.0,
    retry_mean_s=np.inf,
) -> dict[str, np.ndarray]:
    """Erlang X metrics (see the module doc), arrays of the broadcast shape (NumPy scalars
    for scalar input).

    ``arrival_rate_per_s``: fresh calls per second; ``aht_s``, ``patience_s`` (``inf``: none)
    and ``retry_mean_s`` in seconds; ``agents`` >= 0 (may be fractional); ``lines``: places in
    all, an integer >= ``ceil(agents)`` or ``inf``; ``retrial_probability`` in [0, 1].
    """
    fast = _one_number(
        arrival_rate_per_s,
        aht_s,
        patience_s,
        agents,
        lines,
        target_s,
        retrial_probability,
        retry_mean_s,
    )
    if fast is not None:
        return fast
    lam = as_param("arrival_rate_per_s", arrival_rate_per_s)
    h = as_param("aht_s", aht_s, positive=True)
    pat = as_param("patience_s", patience_s, positive=True, allow_inf=True)
    n = as_param("agents", agents)
    lines_ = as_param("lines", lines, allow_inf=True, integer=True)
    t = as_param("target_s", target_s, allow_inf=True)
    p, retry = _check_retrial(retrial_probability, retry_mean_s)
    arrays = np.broadcast_arrays(lam, h, pat, n, lines_, t, p, retry)
    shape = arrays[0].shape
    lam, h, pat, n, lines_, t, p, retry = (np.ravel(v) for v in arrays)
    if np.any(lines_ < np.ceil(n)):
        bad = np.flatnonzero(lines_ < np.ceil(n))[0]
        raise ParameterError(
            f"expected lines >= agents (rounded up), got {lines_[bad]:g} lines for "
            f"{n[bad]:g} agents",
            field="lines",
        )
    low = np.floor(n)
    frac = n - low
    values = _integer_agents(lam, h, pat, low, lines_, t, p, retry)
    upper = frac > 0
    if np.any(upper):
        idx = np.flatnonzero(upper)
        high = _integer_agents(
            *(v[idx] for v in (lam, h, pat)), low[idx] + 1, *(v[idx] for v in (lines_, t, p, retry))
        )
        f = frac[idx]
        for key in ERLANG_X_KEYS:
            a, b = values[key][idx], high[key]
            with np.errstate(invalid="ignore"):
                mixed = (1.0 - f) * a + f * b
            values[key][idx] = np.where(np.isinf(a) | np.isinf(b), np.maximum(a, b), mixed)
    return {k: (v.reshape(shape)[()] if not shape else v.reshape(shape)) for k, v in values.items()}


_PLAIN = (float, int)


def _one_number(lam, h, pat, n, lines, t, p, retry):
    """The common one-number call (a what-if, a search step) without the array machinery:
    plain numbers, integer agents, the 1-d chain or the long-retry limit; else None (the
    array path validates and handles the rest)."""
    values = (lam, h, pat, n, lines, t, p, retry)
    if not all(type(v) in _PLAIN for v in values):
        return None
    lam, h, pat, n, lines, t, p, retry = (float(v) for v in values)
    if not (lam > 0.0 and 0.0 < h < np.inf and pat > 0.0 and t >= 0.0 and 0.0 <= p <= 1.0):
        return None
    if not (retry == np.inf or p == 0.0) or not (0.0 <= n < 1e9 and n == int(n)):
        return None
    if not (lines == np.inf or (n <= lines < 1e9 and lines == int(lines))):
        return None
    out = np.empty((core.N_METRICS, 1))
    rate = np.empty(1)
    theta = 0.0 if pat == np.inf else 1.0 / pat
    lines_int = -1 if lines == np.inf else int(lines)
    core.fixed_point_many(
        np.array([lam]),
        np.array([1.0 / h]),
        np.array([theta]),
        np.array([int(n)]),
        np.array([lines_int]),
        np.array([t]),
        np.array([p]),
        out,
        rate,
    )
    r = float(rate[0])
    if not np.isfinite(r):
        return None
    values = {key: np.float64(out[k, 0]) for k, key in enumerate(core.METRIC_KEYS)}
    loss = values["p_block"] + values["p_abandon"]
    values["mean_wait_s"] = np.float64(values["queue_length"] / r)
    values["occupancy"] = np.float64(min(r * (1.0 - loss) * h / n, 1.0) if n > 0 else 0.0)
    values["attempt_rate_per_s"] = np.float64(r)
    values["retrial_rate_per_s"] = np.float64(r - lam)
    values["p_customer_lost"] = np.float64(r * loss * (1.0 - p) / lam)
    return values


def _integer_agents(lam, h, pat, n, lines, t, p, retry) -> dict[str, np.ndarray]:
    """Erlang X for integer agents (1-d arrays)."""
    size = lam.size
    mu = 1.0 / h
    theta = np.where(np.isinf(pat), 0.0, 1.0 / pat)
    n_int = n.astype(np.int64)
    lines_int = np.where(np.isinf(lines), -1, lines).astype(np.int64)
    out = np.empty((core.N_METRICS, size))
    rate = np.empty(size)
    # the 1-d chain, or the long-retry limit, for every element (the start of the exact solve)
    limit_p = np.where(np.isinf(retry), p, 0.0)
    core.fixed_point_many(lam, mu, theta, n_int, lines_int, t, limit_p, out, rate)
    exact = np.flatnonzero(np.isfinite(retry) & (p > 0) & (lam > 0))
    for i in exact:
        rate[i] = _two_dimensional(
            lam[i],
            mu[i],
            theta[i],
            int(n_int[i]),
            int(lines_int[i]),
            t[i],
            p[i],
            retry[i],
            out[:, i],
        )
    values = dict(zip(core.METRIC_KEYS, out, strict=True))
    unstable = ~np.isfinite(rate)
    loss = values["p_block"] + values["p_abandon"]
    with np.errstate(invalid="ignore", divide="ignore"):
        values["mean_wait_s"] = np.where(rate > 0, values["queue_length"] / rate, 0.0)
        values["occupancy"] = np.where(
            n > 0, np.minimum(rate * (1.0 - loss) * h / np.maximum(n, 1.0), 1.0), 0.0
        )
        values["attempt_rate_per_s"] = rate
        values["retrial_rate_per_s"] = np.where(rate > 0, rate - lam, 0.0)
        values["p_customer_lost"] = np.where(lam > 0, rate * loss * (1.0 - p) / lam, 0.0)
    if np.any(unstable):
        # no steady state (no abandonment and too few agents): everyone waits forever
        fill = {
            "p_block": 0.0,
            "p_wait": 1.0,
            "p_abandon": 0.0,
            "service_level": 0.0,
            "service_level_answered": 0.0,
            "service_level_virtual": 0.0,
            "asa_s": np.inf,
            "queue_length": np.inf,
            "mean_wait_s": np.inf,
            "occupancy": 1.0,
            "attempt_rate_per_s": np.nan,
            "retrial_rate_per_s": np.nan,
            "p_customer_lost": np.nan,
        }
        for key, value in fill.items():
            values[key][unstable] = value
    return values


def orbit_transitions(lam, mu, theta, n, top, blocking, retrial, gamma, orbit_top):
    """Transitions of the (x, y) chain: ``x`` in ``0..top`` in system, ``y`` in
    ``0..orbit_top`` waiting to redial; state index ``x (orbit_top + 1) + y``. ``blocking``:
    arrivals at ``x = top`` are blocked (finite lines) rather than lost to the truncation of an
    infinite queue (mass below 1e-17). Redials that would leave the top orbit level stay on
    it (the truncation). Returns ``(source, target, rate, x, y)``."""
    height = orbit_top + 1
    x = np.repeat(np.arange(top + 1), height)
    y = np.tile(np.arange(height), top + 1)
    index = np.arange(x.size)
    sources, targets, rates = [], [], []

    def add(mask, dx, dy, rate):
        rate = np.broadcast_to(rate, mask.shape)[mask]
        keep = rate > 0
        sources.append(index[mask][keep])
        targets.append((x[mask][keep] + dx) * height + np.minimum(y[mask][keep] + dy, orbit_top))
        rates.append(rate[keep])

    below_top = x < top
    add(below_top, 1, 0, lam)  # fresh arrival enters
    add(below_top & (y > 0), 1, -1, y * gamma)  # redial enters
    if blocking:
        at_top = x == top
        add(at_top & (y < orbit_top), 0, 1, lam * retrial)  # blocked, joins the orbit
        add(at_top & (y > 0), 0, -1, y * gamma * (1.0 - retrial))  # blocked redial gives up
    add(x > 0, -1, 0, np.minimum(x, n) * mu)  # service
    waiting = np.maximum(x - n, 0) * theta
    add(x > n, -1, 0, waiting * (1.0 - retrial))  # abandons for good
    add((x > n) & (y < orbit_top), -1, 1, waiting * retrial)  # abandons, will redial
    source, target, rate = (np.concatenate(v) for v in (sources, targets, rates))
    return source, target, rate, x, y


def stationary_banded(source, target, rate, size, bandwidth, anchor) -> np.ndarray:
    """pi Q = 0, sum pi = 1 for a generator whose transitions stay within ``bandwidth`` of
    the diagonal: the balance equations without the ``anchor`` state's, with ``pi[anchor] =
    1``, are a banded system (LAPACK gbsv, partial pivoting), then normalised."""
    from scipy.linalg import solve_banded

    outflow = np.bincount(source, weights=rate, minlength=size)
    # equations: for every state j != anchor, sum_i pi_i q_ij - pi_j out_j = 0
    rows = np.concatenate([target, np.arange(size)])
    cols = np.concatenate([source, np.arange(size)])
    vals = np.concatenate([rate, -outflow])
    keep_row = rows != anchor
    rows, cols, vals = rows[keep_row], cols[keep_row], vals[keep_row]
    rhs = np.zeros(size)
    at_anchor = cols == anchor
    np.add.at(rhs, rows[at_anchor], -vals[at_anchor])
    rows, cols, vals = rows[~at_anchor], cols[~at_anchor], vals[~at_anchor]
    shift = lambda v: v - (v > anchor)  # noqa: E731 - indices without the anchor
    rows, cols = shift(rows), shift(cols)
    width = bandwidth + 1
    band = np.zeros((2 * width + 1, size - 1))
    np.add.at(band, (width + rows - cols, cols), vals)
    rhs = np.delete(rhs, anchor)
    solution = solve_banded((width, width), band, rhs, check_finite=False)
    pi = np.insert(solution, anchor, 1.0)
    pi = np.maximum(pi, 0.0)
    return pi / pi.sum()


def _next_orbit_top(levels: np.ndarray, orbit_top: int) -> int:
    """A taller orbit truncation: extrapolate the top levels' geometric decay to where the
    top level holds ``_ORBIT_TAIL`` (plus margin), at least 10 more levels, at most double."""
    top, below = levels[-1], levels[-4] if levels.size > 4 else 0.0
    if top > 0.0 and 0.0 < top < below:
        ratio = (top / below) ** (1.0 / 3.0)
        extra = np.log(_ORBIT_TAIL / top) / np.log(ratio) + 10.0
        if np.isfinite(extra):
            return int(min(max(orbit_top + extra, orbit_top + 10), 2 * orbit_top))
    return 2 * orbit_top


def _two_dimensional(lam, mu, theta, n, lines, t, retrial, retry_mean_s, out) -> float:
    """Exact Erlang X for one element with a finite retry time; fills ``out`` (the start
    values, from the long-retry limit, are overwritten) and returns the attempt rate."""
    gamma = 1.0 / retry_mean_s
    limit_rate = float(core.loss_fixed_point(lam, mu, theta, n, lines, t, retrial, out.copy()))
    if not np.isfinite(limit_rate):
        return np.nan
    if limit_rate - lam <= 1e-13 * lam:
        # redials below 1e-13 of the traffic: the orbit is empty to that accuracy
        core.loss_fixed_point(lam, mu, theta, n, lines, t, retrial, out)
        return limit_rate
    orbit_mean = (limit_rate - lam) / gamma
    orbit_top = int(orbit_mean + 12.0 * np.sqrt(orbit_mean + 1.0) + 10)
    spread = orbit_mean + 6.0 * np.sqrt(orbit_mean + 1.0) + 6
    while True:
        if lines >= 0:
            top = lines
        else:
            # the queue's truncation at the largest attempt rate the orbit allows
            work = np.empty(max(1024, n + 2))
            while True:
                size = core.birth_death_view(lam + gamma * spread, mu, theta, n, -1, work)
                if size != -2:
                    break
                work = np.empty(2 * work.size)
            if size < 0:
                return np.nan
            top = size - 1
        if (top + 1) * (orbit_top + 1) > _MAX_STATES_2D:
            raise ParameterError(
                f"the redial chain needs {(top + 1) * (orbit_top + 1):,} states (more than "
                f"{_MAX_STATES_2D:,}); use retry_mean_s=inf (the long-retry limit)",
                field="retry_mean_s",
            )
        states = (top + 1) * (orbit_top + 1)
        sweeps = -1
        if states * (orbit_top + 3) ** 2 > _BANDED_WORK:
            # many orbit levels: aggregation-disaggregation (cheap per sweep)
            pi, sweeps = core.orbit_chain(
                lam,
                mu,
                theta,
                n,
                top,
                lines >= 0,
                retrial,
                gamma,
                orbit_top,
                _SWEEP_TOL,
                _MAX_SWEEPS,
            )
        if sweeps < 0:
            # few orbit levels (nearly uncoupled: block iterations are ill-conditioned), or
            # the iteration did not settle: one banded LU solve with pivoting
            if states * (2 * orbit_top + 8) * 8 > _BANDED_BYTES:
                raise ParameterError(
                    f"the redial chain ({states:,} states) did not converge in {_MAX_SWEEPS} "
                    "sweeps and is too large for a direct solve; use retry_mean_s=inf",
                    field="retry_mean_s",
                )
            source, target, rate, xs, ys = orbit_transitions(
                lam, mu, theta, n, top, lines >= 0, retrial, gamma, orbit_top
            )
            anchor_x = min(top, int(limit_rate / mu))
            anchor = anchor_x * (orbit_top + 1) + min(int(orbit_mean), orbit_top)
            flat = stationary_banded(source, target, rate, xs.size, orbit_top + 2, anchor)
            pi = flat.reshape(top + 1, orbit_top + 1).T.copy()
        if pi[-1].sum() <= _ORBIT_TAIL or orbit_top >= _MAX_ORBIT:
            break
        orbit_top = _next_orbit_top(pi.sum(axis=1), orbit_top)
    y = np.arange(orbit_top + 1)[:, None]
    x = np.arange(top + 1)[None, :]
    arrivals = pi * (lam + y * gamma)
    attempt_rate = float(arrivals.sum())
    view = arrivals.sum(axis=0) / attempt_rate
    core.call_metrics(view, top + 1, n, mu, theta, lines, t, out)
    out[7] = float(np.sum(pi * np.maximum(x - n, 0)))  # time-average queue length
    return attempt_rate

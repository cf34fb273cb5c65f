"""The exact Erlang X chain for a finite retry time: its window, its solution, its metrics.

The chain (``x`` calls in the system, ``y`` callers waiting to redial) is infinite in ``y``
(and in ``x`` without a line limit). It is solved on a window ``x_low <= x <= top``, ``y_low
<= y <= y_top`` with moves that would leave it censored to its edge (see
:mod:`openwfm.queueing._orbit_core`):

- the orbit window starts from the quasi-static law of ``y`` (given ``y``, the one-dimensional
  chain at attempt rate ``lam + y gamma``) cut where its tail mass is below 1e-16, widened
  by a third (the redials' correlation with the queue spreads the orbit: bursts of
  abandonment);
- the ``x`` window: below, where the one-dimensional chain at the fresh rate (the least
  congested the queue can be) holds less than 1e-15; above, the line limit, or where the
  chain at a busy attempt rate (the orbit's quasi-static 1 - 1e-4 quantile) holds less
  than 1e-15;
- after the solve, every edge of the window that can be cut (the top and a raised bottom orbit
  level, a raised bottom ``x`` column, the top ``x`` column of an infinite queue) must hold at
  most ``EDGE_MASS`` = 1e-12 of the probability; an edge above it is moved out and the chain
  solved again. This is the stated truncation bound: the censored moves happen at rate
  (edge mass) x (edge rates), so every probability and metric is within ~1e-12 (relative to
  its scale) of the untruncated chain's.

The solve is the compiled aggregation-disaggregation iteration (to an estimated L1 error of
1e-13); if it does not settle or stalls (seen on 6 of 80 random cases at 150-500 Erlangs, in
windows of 102,706 to 1,020,608 states, with long retries or long patience: the change per
sweep cycles near 1e-7), one sparse LU solve of the same window (SuperLU,
:func:`stationary_sparse`; up to 400,000 states) replaces it. Of five of those cases retried,
two are answered that way (10 s and 100 s); in the other three the widened window passes
400,000 states and a typed error says so.
:func:`orbit_transitions` with :func:`stationary_banded` (LAPACK banded LU) or
:func:`stationary_sparse` is that second, independent construction (vectorised NumPy; the
tests compare them).
"""

from __future__ import annotations

import numpy as np

from openwfm.errors import ParameterError
from openwfm.queueing import _orbit_core as orbit
from openwfm.queueing import _retrial_core as core

__all__ = [
    "EDGE_MASS",
    "orbit_transitions",
    "stationary_banded",
    "stationary_sparse",
    "two_dimensional",
]

EDGE_MASS = 1e-12
_SWEEP_TOL = 1e-13
_MAX_SWEEPS = 3_000
_MAX_STATES = 3_000_000
_SPARSE_STATES = 400_000  # (SuperLU's factors: ~10 million entries there)
_Y_TAIL = 1e-16
_X_TAIL = 1e-15


def orbit_transitions(
    lam: float,
    mu: float,
    theta: float,
    n: int,
    top: int,
    blocking: bool,
    retrial: float,
    gamma: float,
    orbit_top: int,
    x_low: int = 0,
    y_low: int = 0,
) -> tuple[np.ndarray, ...]:
    """Transitions of the windowed chain (``x_low <= x <= top``, ``y_low <= y <= orbit_top``;
    state index ``(x - x_low) (orbit_top - y_low + 1) + y - y_low``), built with NumPy apart
    from the compiled move table. Returns ``(source, target, rate, x, y)``."""
    height = orbit_top - y_low + 1
    x = np.repeat(np.arange(x_low, top + 1), height)
    y = np.tile(np.arange(y_low, orbit_top + 1), top - x_low + 1)
    index = np.arange(x.size)
    sources, targets, rates = [], [], []

    def add(mask, to_x, to_y, rate):
        rate = np.broadcast_to(rate, mask.shape)
        to_x = np.clip(np.broadcast_to(to_x, mask.shape), x_low, top)
        to_y = np.clip(np.broadcast_to(to_y, mask.shape), y_low, orbit_top)
        keep = mask & (rate > 0) & ((to_x != x) | (to_y != y))
        sources.append(index[keep])
        targets.append((to_x[keep] - x_low) * height + to_y[keep] - y_low)
        rates.append(rate[keep])

    below_top = x < top
    add(below_top, x + 1, y, lam)  # fresh arrival enters
    add(below_top, x + 1, y - 1, y * gamma)  # redial enters
    if blocking:
        add(~below_top, x, y + 1, lam * retrial)  # blocked, joins the orbit
        add(~below_top, x, y - 1, y * gamma * (1.0 - retrial))  # blocked redial gives up
    add(x > 0, x - 1, y, np.minimum(x, n) * mu)  # service
    waiting = np.maximum(x - n, 0) * theta
    add(x > n, x - 1, y, waiting * (1.0 - retrial))  # abandons for good
    add(x > n, x - 1, y + 1, waiting * retrial)  # abandons, will redial
    source, target, rate = (np.concatenate(v) for v in (sources, targets, rates))
    return source, target, rate, x, y


def stationary_banded(
    source: np.ndarray, target: np.ndarray, rate: np.ndarray, size: int, bandwidth: int, anchor: int
) -> np.ndarray:
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
    rows, cols = rows - (rows > anchor), cols - (cols > anchor)
    width = bandwidth + 1
    band = np.zeros((2 * width + 1, size - 1))
    np.add.at(band, (width + rows - cols, cols), vals)
    rhs = np.delete(rhs, anchor)
    solution = solve_banded((width, width), band, rhs, check_finite=False)
    pi = np.insert(solution, anchor, 1.0)
    pi = np.maximum(pi, 0.0)
    return pi / pi.sum()


def stationary_sparse(
    source: np.ndarray, target: np.ndarray, rate: np.ndarray, size: int, anchor: int
) -> np.ndarray:
    """pi Q = 0, sum pi = 1 by one sparse LU solve (SuperLU, minimum-degree ordering of A^T +
    A: the window's fill stays near-linear, ~1.1 million factor entries and 0.3 s for 51,000
    states, where the banded solve would need 51,000 x 577^2 operations): the balance
    equations without the ``anchor`` state's, with ``pi[anchor] = 1``, then normalised."""
    from scipy import sparse
    from scipy.sparse.linalg import spsolve

    outflow = np.bincount(source, weights=rate, minlength=size)
    rows = np.concatenate([target, np.arange(size)])
    cols = np.concatenate([source, np.arange(size)])
    vals = np.concatenate([rate, -outflow])
    balance = sparse.csc_matrix((vals, (rows, cols)), shape=(size, size))
    keep = np.arange(size) != anchor
    rhs = -balance[:, [anchor]].toarray().ravel()[keep]
    reduced = balance[keep][:, keep].tocsc()
    solution = spsolve(reduced, rhs, permc_spec="MMD_AT_PLUS_A")
    pi = np.maximum(np.insert(solution, anchor, 1.0), 0.0)
    return pi / pi.sum()


def _one_dimensional_view(rate: float, mu: float, theta: float, n: int, lines: int) -> np.ndarray:
    """Stationary law of the one-dimensional chain at attempt rate ``rate`` (a fresh array)."""
    work = np.empty(max(1024, n + 2))
    while True:
        size = core.birth_death_view(rate, mu, theta, n, lines, work)
        if size != -2:
            break
        work = np.empty(2 * work.size)
    return work[:size] if size > 0 else np.empty(0)


def _orbit_window(lam, mu, theta, n, lines, retrial, gamma) -> tuple[int, int, int]:
    """``(y_low, y_top, y_busy)`` from the quasi-static orbit law (``y`` goes up at ``(lam + y
    gamma) retrial L(lam + y gamma)``, ``L``: P(blocked or abandons), and down at ``y
    gamma``): its 1e-16 quantiles widened, and its 1 - 1e-4 quantile (the ``x`` window's
    busiest typical orbit)."""
    weights = [1.0]
    y = 0
    while True:
        rate = lam + y * gamma
        up = rate * retrial * core.loss_probability(rate, mu, theta, n, lines)
        y += 1
        ratio = up / (y * gamma)
        if not np.isfinite(ratio):
            return -1, -1, -1
        weights.append(weights[-1] * ratio)
        if weights[-1] > 1e250:
            weights = [w * 1e-250 for w in weights]
        if ratio < 1.0 and weights[-1] < _Y_TAIL * 1e-3 * sum(weights):
            break
    law = np.asarray(weights) / sum(weights)
    below = np.cumsum(law)
    low = int(np.searchsorted(below, _Y_TAIL))
    high = int(np.searchsorted(below, 1.0 - _Y_TAIL))
    busy = int(np.searchsorted(below, 1.0 - 1e-4))
    spread = high - low
    return max(0, low - spread // 3 - 2), high + spread // 3 + 5, busy


def _x_window(lam, high_rate, mu, theta, n, lines) -> tuple[int, int]:
    """``(x_low, top)``: see the module doc; ``top < 0``: no steady state."""
    if lines >= 0:
        top = lines
    else:
        view = _one_dimensional_view(high_rate, mu, theta, n, -1)
        if view.size == 0:
            return 0, -1
        above = np.cumsum(view[::-1])[::-1]
        top = max(int(np.searchsorted(-above, -_X_TAIL)), n + 1)
    low_view = _one_dimensional_view(lam, mu, theta, n, lines)
    x_low = int(np.searchsorted(np.cumsum(low_view), _X_TAIL)) if low_view.size else 0
    return max(0, min(x_low - 1, n - 1, top - 1)), top


def _start(lam, mu, theta, n, lines, gamma, x_low, top, y_low, y_top) -> np.ndarray:
    """Quasi-static start: every orbit level's one-dimensional law (the aggregation of the
    first sweep sets the levels' weights)."""
    start = np.empty((y_top - y_low + 1, top - x_low + 1))
    cut = lines if lines >= 0 else top
    for row in range(start.shape[0]):
        view = _one_dimensional_view(lam + (y_low + row) * gamma, mu, theta, n, cut)
        part = view[x_low : top + 1]
        start[row, : part.size] = part
        start[row, part.size :] = 0.0
    return start + 1e-300


def _solve_window(lam, mu, theta, n, lines, retrial, gamma, window) -> np.ndarray:
    """``pi[y - y_low, x - x_low]`` of the windowed chain."""
    x_low, top, y_low, y_top = window
    table = orbit.move_table(
        lam, mu, theta, n, x_low, top, lines >= 0, retrial, gamma, y_low, y_top
    )
    start = _start(lam, mu, theta, n, lines, gamma, x_low, top, y_low, y_top)
    pi, sweeps = orbit.orbit_chain(start, *table, _SWEEP_TOL, _MAX_SWEEPS)
    if sweeps > 0:
        return pi
    height, width = y_top - y_low + 1, top - x_low + 1
    if height * width > _SPARSE_STATES:
        raise ParameterError(
            f"the redial chain ({height * width:,} states) did not converge in {_MAX_SWEEPS} "
            f"sweeps and is too large for a direct solve (more than {_SPARSE_STATES:,} "
            "states); use retry_mean_s=inf",
            field="retry_mean_s",
        )
    source, target, rate, _, _ = orbit_transitions(
        lam, mu, theta, n, top, lines >= 0, retrial, gamma, y_top, x_low, y_low
    )
    anchor = int(np.argmax(start.T.ravel()))
    flat = stationary_sparse(source, target, rate, height * width, anchor)
    return flat.reshape(width, height).T.copy()


def _further(masses: np.ndarray, edge: int) -> int:
    """How many more levels beyond an edge (``masses[edge]``, ``edge`` 0 or -1) until the
    mass falls to ``EDGE_MASS / 100``, extrapolating the last levels' geometric decay; at least
    10, at most the window's size."""
    inner = masses[3] if edge == 0 else masses[-4]
    if masses.size > 4 and 0.0 < masses[edge] < inner:
        ratio = (masses[edge] / inner) ** (1.0 / 3.0)
        extra = np.log(EDGE_MASS / 100.0 / masses[edge]) / np.log(ratio) + 5.0
        if np.isfinite(extra):
            return int(min(max(extra, 10.0), masses.size))
    return max(10, masses.size)


def _widen(pi: np.ndarray, window: list[int], lines: int) -> bool:
    """Move out every cuttable edge of ``window`` that holds more than ``EDGE_MASS``; False
    when none does (the solution stands)."""
    rows, cols = pi.sum(axis=1), pi.sum(axis=0)
    cuts = (
        (3, rows, -1, True),  # the top orbit level
        (2, rows, 0, window[2] > 0),  # a raised bottom orbit level
        (0, cols, 0, window[0] > 0),  # a raised bottom x column
        (1, cols, -1, lines < 0),  # the top of an infinite queue
    )
    moved = False
    for slot, masses, edge, cuttable in cuts:
        if cuttable and masses[edge] > EDGE_MASS:
            step = _further(masses, edge)
            window[slot] = window[slot] + step if edge == -1 else max(0, window[slot] - step)
            moved = True
    return moved


def two_dimensional(
    lam: float,
    mu: float,
    theta: float,
    n: int,
    lines: int,
    t: float,
    retrial: float,
    retry_mean_s: float,
    out: np.ndarray,
) -> float:
    """Exact Erlang X for one element with a finite retry time (``lines < 0``: infinite);
    fills ``out`` (``core.METRIC_KEYS``) and returns the attempt rate (NaN: no steady state)."""
    gamma = 1.0 / retry_mean_s
    limit_rate = float(core.loss_fixed_point(lam, mu, theta, n, lines, t, retrial, out.copy()))
    if not np.isfinite(limit_rate):
        return np.nan
    if limit_rate - lam <= 1e-13 * lam:
        # redials below 1e-13 of the traffic: the orbit is empty to that accuracy
        return float(core.loss_fixed_point(lam, mu, theta, n, lines, t, retrial, out))
    y_low, y_top, y_busy = _orbit_window(lam, mu, theta, n, lines, retrial, gamma)
    if y_top < 0:
        return np.nan
    x_low, top = _x_window(lam, lam + gamma * y_busy, mu, theta, n, lines)
    if top < 0:
        return np.nan
    window = [x_low, top, y_low, y_top]
    while True:
        states = (window[1] - window[0] + 1) * (window[3] - window[2] + 1)
        if states > _MAX_STATES:
            raise ParameterError(
                f"the redial chain needs {states:,} states (more than {_MAX_STATES:,}); use "
                "retry_mean_s=inf (the long-retry limit)",
                field="retry_mean_s",
            )
        pi = _solve_window(lam, mu, theta, n, lines, retrial, gamma, window)
        if not _widen(pi, window, lines):
            break
    x_low, top, y_low, y_top = window
    y = np.arange(y_low, y_top + 1)[:, None]
    x = np.arange(x_low, top + 1)[None, :]
    arrivals = pi * (lam + y * gamma)
    attempt_rate = float(arrivals.sum())
    view = np.zeros(top + 1)
    view[x_low:] = arrivals.sum(axis=0) / attempt_rate
    core.call_metrics(view, top + 1, n, mu, theta, lines, t, out)
    out[7] = float(np.sum(pi * np.maximum(x - n, 0)))  # time-average queue length
    return attempt_rate

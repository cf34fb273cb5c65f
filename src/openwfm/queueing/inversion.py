"""Staffing inversion: the least integer number of agents meeting every given target.

All the targets used here are monotone in the number of agents (more agents never lower the
service level, never raise ASA, abandonment or occupancy; true for Erlang C and Erlang A), so
the least feasible integer is found per element by a vectorised search: evaluate a
square-root-staffing guess, gallop (steps 1, 2, 4, ...) up or down until the answer is
bracketed, then bisect. Every element costs a handful of exact evaluations, all elements at
once. Erlang A searches from 0 agents, so it finds staffing *below the offered load* when
abandonment allows it; Erlang C needs ``agents > traffic`` (a stable queue) unless the traffic
is zero.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import special

from openwfm.errors import ParameterError
from openwfm.queueing import _core
from openwfm.queueing._types import ArrayLike, Values
from openwfm.queueing.erlang import _erlang_c_parts, _erlang_c_sl, as_param, erlang_a

DEFINITIONS = ("offered", "answered", "exclude_short_abandons")


def least_integer(
    predicate: Callable[[np.ndarray, np.ndarray], np.ndarray],
    lower: np.ndarray,
    guess: np.ndarray,
    upper: np.ndarray,
) -> np.ndarray:
    """Least integer ``n`` in ``[lower, upper]`` with ``predicate(index, n)`` true, per element.

    ``predicate(index, n)`` evaluates the elements ``index`` (1-d int array) at agents ``n``
    and must be monotone (false ... false true ... true) in ``n``. Elements still failing at
    ``upper`` get ``-1``.
    """
    lower = np.asarray(lower, dtype=np.int64).ravel()
    upper = np.asarray(upper, dtype=np.int64).ravel()
    size = lower.size
    lo = lower - 1  # largest n known to fail (lower - 1: by definition)
    hi = np.full(size, -1, dtype=np.int64)  # least n known to pass (-1: none yet)
    lo_tested = np.zeros(size, dtype=bool)
    step = np.ones(size, dtype=np.int64)
    probe = np.clip(np.asarray(guess, dtype=np.int64).ravel(), lower, upper)
    index = np.arange(size)
    while index.size:
        ok = np.asarray(predicate(index, probe[index]), dtype=bool)
        hi[index[ok]] = probe[index[ok]]
        lo[index[~ok]] = probe[index[~ok]]
        lo_tested[index[~ok]] = True
        unknown_hi = hi[index] < 0
        at_top = unknown_hi & (lo[index] >= upper[index])
        active = ~at_top & (unknown_hi | (hi[index] - lo[index] > 1))
        index = index[active]
        if not index.size:
            break
        lo_i, hi_i, st = lo[index], hi[index], step[index]
        up = hi_i < 0
        down = ~up & ~lo_tested[index]
        middle = ~up & ~down
        new = np.empty(index.size, dtype=np.int64)
        new[up] = np.minimum(lo_i[up] + st[up], upper[index][up])
        new[down] = np.maximum(hi_i[down] - st[down], lower[index][down])
        new[middle] = (lo_i[middle] + hi_i[middle]) // 2
        step[index] = np.where(middle, st, st * 2)
        probe[index] = new
    return hi


def _erlang_c_least(a, h, t, sl, occ, asa_cap, lower, guess, upper) -> np.ndarray:
    """Least ``n`` for Erlang C targets: one exact Erlang B at the guess, then unit steps with
    the Erlang B recursions ``B(n+1) = a B / (n + 1 + a B)`` (up) and
    ``B(n-1) = n B / (a (1 - B))`` (down). Both carry relative errors along without
    amplifying them (up: shrinks them, down: grows them by a factor 1 + B per step), so after
    the few steps from a square-root-staffing guess the values agree with direct evaluation to
    ~1e-14, far inside the 1e-12 decision tolerance."""

    def passes(index, n, b):
        ai, hi_, ti = a[index], h[index], t[index]
        stable = n > ai
        with np.errstate(divide="ignore", invalid="ignore"):
            denominator = n - ai + ai * b
            c = np.where(stable, n * b / denominator, 1.0)
            not_c = np.where(stable, (n - ai) * (1.0 - b) / denominator, 0.0)
            decay = np.where(
                np.isinf(ti),
                1.0,
                -np.expm1(-np.where(stable, n - ai, 0.0) / hi_ * np.where(np.isinf(ti), 0.0, ti)),
            )
            level = np.where(stable, np.minimum(not_c + c * decay, 1.0), 0.0)
            good = stable & (level >= sl[index] - 1e-12)
            good &= ai / n <= occ[index] + 1e-12
            good &= np.where(stable, c * hi_ / (n - ai), np.inf) <= asa_cap[index]
        return good

    size = a.size
    index = np.arange(size)
    n = np.clip(guess, lower, upper).astype(float)
    b = np.exp(-_core.log_inverse_erlang_b(a, n))
    ok = passes(index, n, b)
    answer = np.full(size, -1, dtype=np.int64)
    answer[ok] = n[ok]
    # down from passing guesses: keep the last n that passes
    down = np.flatnonzero(ok & (n > lower))
    nd, bd = n[down], b[down]
    while down.size:
        bd = nd * bd / (a[down] * (1.0 - bd))
        nd = nd - 1.0
        good = passes(down, nd, bd)
        answer[down[good]] = nd[good]
        keep = good & (nd > lower[down])
        down, nd, bd = down[keep], nd[keep], bd[keep]
    # up from failing guesses: the first n that passes
    up = np.flatnonzero(~ok)
    nu, bu = n[up], b[up]
    while up.size:
        keep_going = nu < upper[up]
        up, nu, bu = up[keep_going], nu[keep_going], bu[keep_going]
        bu = a[up] * bu / (nu + 1.0 + a[up] * bu)
        nu = nu + 1.0
        good = passes(up, nu, bu)
        answer[up[good]] = nu[good]
        up, nu, bu = up[~good], nu[~good], bu[~good]
    return answer


def _sqrt_staffing_guess(traffic: np.ndarray, service_level: np.ndarray) -> np.ndarray:
    """Square-root staffing ``a + beta sqrt(a)``, beta from the target (crude, only a start)."""
    beta = special.ndtri(np.clip(service_level, 0.05, 0.999))
    return np.ceil(traffic + np.maximum(beta, 0.0) * np.sqrt(traffic))


def required_agents(
    arrival_rate_per_s: ArrayLike,
    aht_s: ArrayLike,
    target_s: ArrayLike,
    service_level: ArrayLike,
    patience_s: ArrayLike | None = None,
    max_occupancy: ArrayLike | None = None,
    max_abandon: ArrayLike | None = None,
    *,
    max_asa_s: ArrayLike | None = None,
    definition: str = "offered",
    short_abandon_s: ArrayLike | None = None,
) -> Values:
    """Least integer number of on-line agents meeting all the given targets.

    - ``service_level`` of contacts answered within ``target_s`` seconds, under
      ``definition`` (``offered``, ``answered`` or ``exclude_short_abandons``; the three agree
      for Erlang C); ``None`` for no service-level target.
    - ``max_occupancy``: agents' busy fraction at most this; ``max_abandon``: P(abandon) at
      most this (Erlang A only); ``max_asa_s``: mean wait at most this many seconds (Erlang C:
      over all contacts; Erlang A: over answered contacts).

    Erlang C when ``patience_s`` is None (or infinite), else Erlang A with that mean patience.
    Every argument broadcasts; the result is an int64 array (NumPy integer for scalars).
    Unattainable targets (e.g. 100% within a finite time) raise ``ParameterError``.
    """
    if definition not in DEFINITIONS:
        raise ParameterError(
            f"unknown service-level definition {definition!r} (expected one of "
            f"{', '.join(DEFINITIONS)})",
            field="definition",
        )
    lam = as_param("arrival_rate_per_s", arrival_rate_per_s)
    h = as_param("aht_s", aht_s, positive=True)
    t = as_param("target_s", target_s, allow_inf=True)
    sl = (
        np.zeros(())
        if service_level is None
        else as_param("service_level", service_level, upper=1.0)
    )
    pat = (
        np.full((), np.inf)
        if patience_s is None
        else as_param("patience_s", patience_s, positive=True, allow_inf=True)
    )
    occ = (
        np.ones(())
        if max_occupancy is None
        else as_param("max_occupancy", max_occupancy, positive=True, upper=1.0)
    )
    ab = np.ones(()) if max_abandon is None else as_param("max_abandon", max_abandon, upper=1.0)
    asa_cap = (
        np.full((), np.inf)
        if max_asa_s is None
        else as_param("max_asa_s", max_asa_s, allow_inf=True)
    )
    short = t if short_abandon_s is None else as_param("short_abandon_s", short_abandon_s)
    arrays = np.broadcast_arrays(lam, h, t, sl, pat, occ, ab, asa_cap, short)
    shape = arrays[0].shape
    lam, h, t, sl, pat, occ, ab, asa_cap, short = (np.ravel(v) for v in arrays)
    a = lam * h
    check_asa = max_asa_s is not None
    erlang_c_model = np.isinf(pat)
    if np.any(erlang_c_model & (ab < 1.0) & (a > 0)):
        # Erlang C has no abandonment: the cap holds trivially (P(ab) = 0)
        pass

    lower = np.where(erlang_c_model & (a > 0), np.floor(a) + 1, 0)
    lower = np.maximum(lower, np.where(erlang_c_model, np.ceil(a / occ - 1e-9), 0))
    upper = np.ceil(a + 60.0 * np.sqrt(a) + 1000.0)
    guess = np.maximum(_sqrt_staffing_guess(a, sl), lower)
    guess = np.where(erlang_c_model, guess, np.floor(guess * 0.95))

    attribute = {
        "offered": "service_level",
        "answered": "service_level_answered",
        "exclude_short_abandons": "service_level_excl_short",
    }[definition]

    def predicate(index: np.ndarray, n: np.ndarray) -> np.ndarray:
        n = n.astype(float)
        ok = np.ones(index.size, dtype=bool)
        c_part = erlang_c_model[index]
        if np.any(c_part):
            i = index[c_part]
            nn = n[c_part]
            parts = _erlang_c_parts(a[i], nn)
            good = _erlang_c_sl(a[i], nn, h[i], t[i], parts) >= sl[i] - 1e-12
            with np.errstate(divide="ignore", invalid="ignore"):
                occupancy = np.where(nn > 0, a[i] / nn, np.where(a[i] > 0, np.inf, 0.0))
                good &= occupancy <= occ[i] + 1e-12
                if check_asa:
                    wait = np.where(
                        a[i] == 0, 0.0, np.where(nn > a[i], parts[0] * h[i] / (nn - a[i]), np.inf)
                    )
                    good &= wait <= asa_cap[i]
            ok[c_part] = good
        if np.any(~c_part):
            i = index[~c_part]
            result = erlang_a(
                lam[i],
                h[i],
                pat[i],
                n[~c_part],
                t[i],
                short_abandon_s=short[i],
                with_asa=check_asa,
            )
            good = np.atleast_1d(getattr(result, attribute)) >= sl[i] - 1e-12
            good &= np.atleast_1d(result.p_abandon) <= ab[i] + 1e-12
            good &= np.atleast_1d(result.occupancy) <= occ[i] + 1e-12
            if check_asa:
                good &= np.atleast_1d(result.asa_s) <= asa_cap[i]
            ok[~c_part] = good
        return ok

    if np.all(erlang_c_model) and a.size:
        answer = _erlang_c_least(a, h, t, sl, occ, asa_cap, lower.astype(float), guess, upper)
        zero = a == 0
        answer[zero] = 0
    else:
        answer = least_integer(predicate, lower, guess, upper)
    if np.any(answer < 0):
        bad = int(np.flatnonzero(answer < 0)[0])
        raise ParameterError(
            f"target unattainable at element {bad}: service level {sl[bad]:g} within "
            f"{t[bad]:g} s, occupancy <= {occ[bad]:g}, abandon <= {ab[bad]:g} "
            f"(traffic {a[bad]:g} Erlangs)",
            field="service_level",
        )
    answer = answer.reshape(shape)
    return answer[()] if answer.ndim == 0 else answer

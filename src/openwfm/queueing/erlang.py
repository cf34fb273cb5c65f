"""Erlang B, Erlang C and Erlang A (M/M/n+M), vectorised and exact to ~1e-12.

Conventions (all functions accept scalars or arrays and broadcast them; scalars in give NumPy
scalars out, which behave as floats):

- ``traffic`` is the offered load in Erlangs: arrival rate per second x AHT in seconds.
- ``agents`` / ``servers`` may be fractional. The continuous extension is the usual one through
  the incomplete gamma function, ``1 / B(a, n) = a * int_0^inf exp(-a t) (1 + t)**n dt =
  e**a Gamma(n+1, a) / a**n``; it agrees with the textbook sums at integers, is smooth and
  monotone in ``n`` in between. Staffing answers (:func:`required_agents`) are integers.
- Erlang C when ``agents <= traffic``: the queue is unstable, every contact waits: P(wait)=1,
  service level 0, ASA infinite. Zero agents with traffic: same. Zero traffic: nobody arrives,
  so nobody waits: P(wait)=0, service level 1, ASA 0 (whatever the agents, including 0).
- Service level here is "answered within ``target_s`` over offered" unless named otherwise.

Erlang A (Palm's M/M/n+M: exponential patience with mean ``patience_s``) follows the closed
form of Mandelbaum & Zeltyn ("The Palm/Erlang-A queue, with applications to call centers",
2007), re-derived in terms of regularised incomplete-gamma ratios (see ``_core``). The
waiting-time metrics use the exact law of the offered wait given ``j`` contacts ahead (a sum
of exponentials with rates ``n mu + m theta``, m = 0..j) mixed over the stationary queue: the
mixture has density ``theta x exp(-theta x v + y (1 - exp(-theta v)))`` (x = n mu / theta,
y = lambda / theta), whose integrals are incomplete gamma functions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from openwfm.errors import ParameterError
from openwfm.queueing import _core, _erlang_a_core, _small_calls
from openwfm.queueing._types import ArrayLike, Values

__all__ = [
    "ErlangAResult",
    "as_param",
    "asa",
    "erlang_a",
    "erlang_b",
    "erlang_c",
    "erlang_c_metrics",
    "service_level",
    "wait_percentile_s",
]


def as_param(
    name: str,
    value: ArrayLike,
    *,
    positive: bool = False,
    allow_inf: bool = False,
    integer: bool = False,
    upper: float | None = None,
) -> np.ndarray:
    """Validate a numeric argument into a float array; bad values raise ``ParameterError``.

    Rejects non-numbers, NaN, negatives (zero too with ``positive``), infinity unless
    ``allow_inf``, non-integers with ``integer``, values above ``upper``.
    """
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ParameterError(
            f"expected a number or an array of numbers, got {value!r}", field=name
        ) from None
    if array.ndim and array.size >= _SCAN_MIN_SIZE:
        _check_scanned(name, array, positive, allow_inf, integer, upper)
        return array
    if np.any(np.isnan(array)):
        raise ParameterError("expected numbers, got NaN", field=name)
    if not allow_inf and np.any(np.isinf(array)):
        raise ParameterError("expected finite numbers, got infinity", field=name)
    if positive and np.any(array <= 0.0):
        raise ParameterError(f"expected > 0, got {_first(array, array <= 0.0)}", field=name)
    if np.any(array < 0.0):
        raise ParameterError(f"expected >= 0, got {_first(array, array < 0.0)}", field=name)
    if upper is not None and np.any(array > upper):
        raise ParameterError(
            f"expected <= {upper:g}, got {_first(array, array > upper)}", field=name
        )
    if integer:
        bad = np.isfinite(array) & (array != np.round(array))
        if np.any(bad):
            raise ParameterError(f"expected an integer, got {_first(array, bad)}", field=name)
    return array


_SCAN_MIN_SIZE = 1_024  # below this, NumPy's tests are as quick as a compiled pass


def _check_scanned(name, array, positive, allow_inf, integer, upper) -> None:
    """``as_param``'s checks, in the same order and words, from one compiled pass."""
    flat = np.ascontiguousarray(array).ravel()
    nan, inf, non_positive, negative, above, fraction = _core.first_invalid(
        flat, np.inf if upper is None else float(upper)
    )
    if nan >= 0:
        raise ParameterError("expected numbers, got NaN", field=name)
    if not allow_inf and inf >= 0:
        raise ParameterError("expected finite numbers, got infinity", field=name)
    if positive and non_positive >= 0:
        raise ParameterError(f"expected > 0, got {flat[non_positive]:g}", field=name)
    if negative >= 0:
        raise ParameterError(f"expected >= 0, got {flat[negative]:g}", field=name)
    if upper is not None and above >= 0:
        raise ParameterError(f"expected <= {upper:g}, got {flat[above]:g}", field=name)
    if integer and fraction >= 0:
        raise ParameterError(f"expected an integer, got {flat[fraction]:g}", field=name)


def _first(array: np.ndarray, mask: np.ndarray) -> str:
    return f"{np.atleast_1d(array)[np.atleast_1d(mask)][0]:g}"


def _out(array: np.ndarray):
    """0-d arrays come back as NumPy scalars (so ``float(x)`` and formatting just work)."""
    array = np.asarray(array)
    return array[()] if array.ndim == 0 else array


# --------------------------------------------------------------------------- Erlang B / C


def _log_inv_b(a: np.ndarray, n: np.ndarray) -> np.ndarray:
    """log(1/B) with the edge cases: a == 0 -> B = 0 (n > 0) or 1 (n == 0)."""
    out = np.zeros(a.shape)
    zero_traffic = a == 0.0
    out[zero_traffic & (n > 0.0)] = np.inf
    regular = ~zero_traffic & (n > 0.0)
    out[regular] = _core.log_inverse_erlang_b(a[regular], n[regular])
    return out


def erlang_b(traffic: ArrayLike, servers: ArrayLike) -> Values:
    """Blocking probability of M/M/n/n (Erlang B) with ``traffic`` Erlangs on ``servers``.

    ``servers`` may be fractional (incomplete-gamma extension). B(a, 0) = 1 for a > 0;
    B(0, n) = 0 for n > 0 and 1 for n = 0.
    """
    a = as_param("traffic", traffic)
    n = as_param("servers", servers)
    a, n = np.broadcast_arrays(a, n)
    return _out(np.exp(-_log_inv_b(a, n)))


def _erlang_c_parts(
    a: np.ndarray, n: np.ndarray, with_complement: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """(C, 1 - C) with the module's edge-case conventions; both keep relative accuracy.
    ``with_complement=False``: C only (None for 1 - C)."""
    a, n = np.broadcast_arrays(a, n)
    c, not_c, general = _core.erlang_c_parts(a, n, with_complement)
    if np.any(general):
        # fractional agents or very large loads: through the incomplete gamma function
        a_g, n_g = a[general], n[general]
        b = np.exp(-_core.log_inverse_erlang_b(a_g, n_g))
        denominator = n_g - a_g + a_g * b
        c[general] = n_g * b / denominator
        if with_complement:
            not_c[general] = (n_g - a_g) * (1.0 - b) / denominator
    return c, not_c


def erlang_c(traffic: ArrayLike, agents: ArrayLike) -> Values:
    """Probability that a contact waits, P(wait > 0), in M/M/n (Erlang C).

    1 when ``agents <= traffic`` (unstable queue), 0 when ``traffic == 0``.
    """
    a = as_param("traffic", traffic)
    n = as_param("agents", agents)
    return _out(_erlang_c_parts(a, n, with_complement=False)[0])


def service_level(
    traffic: ArrayLike, agents: ArrayLike, aht_s: ArrayLike, target_s: ArrayLike
) -> Values:
    """Erlang C service level: fraction of offered contacts answered within ``target_s``.

    ``1 - C exp(-(n - a) t / AHT)``, computed as ``(1 - C) + C (1 - exp(...))`` so small and
    large values both keep their relative accuracy. 0 when ``agents <= traffic``.
    """
    fast = _small_calls.service_level(traffic, agents, aht_s, target_s, _erlang_c_sl)
    if fast is not None:
        return fast
    a = as_param("traffic", traffic)
    n = as_param("agents", agents)
    h = as_param("aht_s", aht_s, positive=True)
    t = as_param("target_s", target_s, allow_inf=True)
    a, n, h, t = np.broadcast_arrays(a, n, h, t)
    return _out(_erlang_c_sl(a, n, h, t))


def _erlang_c_sl(a, n, h, t, parts=None):
    c, not_c = _erlang_c_parts(a, n) if parts is None else parts
    stable = n > a
    rate = np.where(stable, (n - a) / h, 0.0)
    with np.errstate(invalid="ignore"):
        decay = -np.expm1(-rate * t)
    decay = np.where(np.isinf(t) & (rate > 0), 1.0, np.nan_to_num(decay))
    value = np.minimum(not_c + c * decay, 1.0)  # the two parts may round 1 ulp above 1
    return np.where(stable, value, np.where(a == 0.0, 1.0, 0.0))


def asa(traffic: ArrayLike, agents: ArrayLike, aht_s: ArrayLike) -> Values:
    """Erlang C average speed of answer in seconds: mean wait over all contacts, C AHT/(n - a).

    Infinite when ``agents <= traffic`` (and traffic > 0); 0 with zero traffic.
    """
    a = as_param("traffic", traffic)
    n = as_param("agents", agents)
    h = as_param("aht_s", aht_s, positive=True)
    a, n, h = np.broadcast_arrays(a, n, h)
    return _out(_erlang_c_asa(a, n, h))


def _erlang_c_asa(a, n, h, parts=None):
    c, _ = _erlang_c_parts(a, n) if parts is None else parts
    with np.errstate(divide="ignore", invalid="ignore"):
        value = c * h / (n - a)
    return np.where(a == 0.0, 0.0, np.where(n > a, value, np.inf))


def erlang_c_metrics(
    traffic: ArrayLike, agents: ArrayLike, aht_s: ArrayLike, target_s: ArrayLike
) -> dict:
    """All Erlang C metrics at once (arrays): ``p_wait``, ``service_level`` (offered),
    ``asa_s`` (mean wait over all contacts), ``occupancy``, ``queue_length`` (mean waiting)."""
    a = as_param("traffic", traffic)
    n = as_param("agents", agents)
    h = as_param("aht_s", aht_s, positive=True)
    t = as_param("target_s", target_s, allow_inf=True)
    a, n, h, t = np.broadcast_arrays(a, n, h, t)
    parts = _erlang_c_parts(a, n)
    mean_wait = _erlang_c_asa(a, n, h, parts)
    with np.errstate(divide="ignore", invalid="ignore"):
        occupancy = np.where(n > 0, np.minimum(a / n, 1.0), np.where(a > 0, 1.0, 0.0))
        queue_length = np.where(a == 0, 0.0, mean_wait * a / h)
    return {
        "p_wait": _out(parts[0]),
        "service_level": _out(_erlang_c_sl(a, n, h, t, parts)),
        "asa_s": _out(mean_wait),
        "occupancy": _out(occupancy),
        "queue_length": _out(queue_length),
    }


def wait_percentile_s(
    traffic: ArrayLike, agents: ArrayLike, aht_s: ArrayLike, quantile: ArrayLike
) -> Values:
    """Erlang C waiting-time quantile in seconds over all contacts (0 below P(no wait))."""
    a = as_param("traffic", traffic)
    n = as_param("agents", agents)
    h = as_param("aht_s", aht_s, positive=True)
    q = as_param("quantile", quantile, upper=1.0)
    a, n, h, q = np.broadcast_arrays(a, n, h, q)
    c, _ = _erlang_c_parts(a, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.log(c / (1.0 - q)) * h / (n - a)
    value = np.where(q <= 1.0 - c, 0.0, value)
    return _out(np.where((n <= a) & (a > 0), np.inf, np.maximum(value, 0.0)))


# --------------------------------------------------------------------------- Erlang A


@dataclass(frozen=True)
class ErlangAResult:
    """Erlang A (M/M/n+M) metrics; every attribute is an array of the broadcast shape.

    - ``p_wait``: P(a contact finds all agents busy and queues).
    - ``p_abandon``: P(a contact abandons).
    - ``asa_s``: mean wait of *answered* contacts in seconds (the industry's ASA; inf if none).
    - ``mean_wait_s``: mean time in queue over all offered contacts (abandons included).
    - ``service_level``: answered within ``target_s`` / offered.
    - ``service_level_answered``: answered within ``target_s`` / answered (0 if none answered).
    - ``service_level_excl_short``: answered within ``target_s`` / (offered - abandons within
      ``short_abandon_s``).
    - ``abandon_within_s``: P(abandon within ``short_abandon_s``).
    - ``occupancy``: busy fraction of the agents, ``lambda (1 - p_abandon) AHT / n``.
    - ``queue_length``: mean number waiting.
    """

    p_wait: np.ndarray
    p_abandon: np.ndarray
    asa_s: np.ndarray
    mean_wait_s: np.ndarray
    service_level: np.ndarray
    service_level_answered: np.ndarray
    service_level_excl_short: np.ndarray
    abandon_within_s: np.ndarray
    occupancy: np.ndarray
    queue_length: np.ndarray


# the metrics of one Erlang A element, in the order of the compiled kernel's outputs
_ERLANG_A_KEYS = ("p_wait", "p_ab", "asa", "sl", "sl_ans", "sl_short", "ab_short", "occ", "lq")


def erlang_a(
    arrival_rate_per_s: ArrayLike,
    aht_s: ArrayLike,
    patience_s: ArrayLike,
    agents: ArrayLike,
    target_s: ArrayLike,
    *,
    short_abandon_s: ArrayLike | None = None,
    with_asa: bool = True,
) -> ErlangAResult:
    """Erlang A metrics for M/M/n+M (Poisson arrivals, exponential handle time and patience).

    ``patience_s`` is the mean patience in seconds; ``inf`` gives Erlang C (no abandonment).
    ``short_abandon_s`` (default: ``target_s``) is the threshold of the "excluding short
    abandons" service-level definition. ``with_asa=False`` skips the (costlier) mean answered
    wait and leaves ``asa_s`` as NaN.
    """
    fast = _erlang_a_one_number(
        arrival_rate_per_s, aht_s, patience_s, agents, target_s, short_abandon_s, with_asa
    )
    if fast is not None:
        return fast
    lam = as_param("arrival_rate_per_s", arrival_rate_per_s)
    h = as_param("aht_s", aht_s, positive=True)
    pat = as_param("patience_s", patience_s, positive=True, allow_inf=True)
    n = as_param("agents", agents)
    t = as_param("target_s", target_s, allow_inf=True)
    short = t if short_abandon_s is None else as_param("short_abandon_s", short_abandon_s)
    lam, h, pat, n, t, short = np.broadcast_arrays(lam, h, pat, n, t, short)
    shape = lam.shape
    lam, h, pat, n, t, short = (np.ravel(v) for v in (lam, h, pat, n, t, short))
    res = {k: np.zeros(lam.shape) for k in _ERLANG_A_KEYS}
    zero = lam == 0.0
    res["sl"][zero] = res["sl_ans"][zero] = res["sl_short"][zero] = 1.0

    no_agents = ~zero & (n == 0.0)
    res["p_wait"][no_agents] = res["p_ab"][no_agents] = 1.0
    res["asa"][no_agents] = np.inf
    with np.errstate(invalid="ignore"):
        res["ab_short"][no_agents] = -np.expm1(-short[no_agents] / pat[no_agents])
    res["lq"][no_agents] = lam[no_agents] * pat[no_agents]

    patient = ~zero & ~no_agents & np.isinf(pat)
    if np.any(patient):
        a = lam[patient] * h[patient]
        nn, hh, tt = n[patient], h[patient], t[patient]
        parts = _erlang_c_parts(a, nn)
        res["p_wait"][patient] = parts[0]
        res["asa"][patient] = _erlang_c_asa(a, nn, hh, parts)
        sl = _erlang_c_sl(a, nn, hh, tt, parts)
        res["sl"][patient] = res["sl_ans"][patient] = res["sl_short"][patient] = sl
        res["occ"][patient] = np.minimum(a / nn, 1.0)
        res["lq"][patient] = res["asa"][patient] * lam[patient]

    regular = ~zero & ~no_agents & ~patient
    if np.any(regular):
        values = _erlang_a_regular(*(v[regular] for v in (lam, h, pat, n, t, short)), with_asa)
        for key, value in values.items():
            res[key][regular] = value
    if not with_asa:
        res["asa"][:] = np.nan
    with np.errstate(invalid="ignore"):
        mean_wait = np.where(np.isinf(pat), res["asa"], res["p_ab"] * pat)
    mean_wait = np.where(zero, 0.0, mean_wait)
    out = {k: v.reshape(shape) for k, v in res.items()}
    return ErlangAResult(
        p_wait=_out(out["p_wait"]),
        p_abandon=_out(out["p_ab"]),
        asa_s=_out(out["asa"]),
        mean_wait_s=_out(mean_wait.reshape(shape)),
        service_level=_out(out["sl"]),
        service_level_answered=_out(out["sl_ans"]),
        service_level_excl_short=_out(out["sl_short"]),
        abandon_within_s=_out(out["ab_short"]),
        occupancy=_out(out["occ"]),
        queue_length=_out(out["lq"]),
    )


_PLAIN_NUMBERS = (float, int, np.float64, np.float32, np.int64, np.int32)


def _erlang_a_one_number(lam, h, pat, n, t, short, with_asa) -> ErlangAResult | None:
    """The common one-number call (a what-if, a staffing search step) without the array
    machinery: plain numbers inside the compiled sums' domain, else None (the array path
    then validates, raises the typed errors, and handles the edge cases)."""
    short = t if short is None else short
    values = (lam, h, pat, n, t, short)
    if not all(type(v) in _PLAIN_NUMBERS for v in values):
        return None
    lam, h, pat, n, t, short = (float(v) for v in values)
    # comparisons with NaN are False, so NaN falls through to the validating path too
    if not (lam > 0.0 and 0.0 < h < np.inf and 0.0 < pat < np.inf and 1.0 <= n < np.inf):
        return None
    if not (t >= 0.0 and short >= 0.0 and short < np.inf):
        return None
    handled, *metrics = _erlang_a_core.erlang_a_scalar(lam, h, pat, n, t, short, bool(with_asa))
    if not handled:
        return None
    p_wait, p_ab, asa_s, sl, sl_ans, sl_short, ab_short, occ, lq = map(np.float64, metrics)
    return ErlangAResult(
        p_wait=p_wait,
        p_abandon=p_ab,
        asa_s=asa_s,
        mean_wait_s=p_ab * np.float64(pat),
        service_level=sl,
        service_level_answered=sl_ans,
        service_level_excl_short=sl_short,
        abandon_within_s=ab_short,
        occupancy=occ,
        queue_length=lq,
    )


def _erlang_a_regular(lam, h, pat, n, t, short, with_asa) -> dict:
    """Erlang A for lam > 0, n > 0, finite patience (1-d arrays): the compiled direct sums
    where they apply (integer agents, moderate loads), the general path elsewhere."""
    out = np.empty((len(_ERLANG_A_KEYS), lam.size))
    general = np.zeros(lam.size, dtype=np.bool_)
    _erlang_a_core.erlang_a_kernel(lam, h, pat, n, t, short, with_asa, out, general)
    values = dict(zip(_ERLANG_A_KEYS, out, strict=True))
    if np.any(general):
        rest = _erlang_a_general(*(v[general] for v in (lam, h, pat, n, t, short)), with_asa)
        for key, value in rest.items():
            values[key][general] = value
    return values


def _erlang_a_general(lam, h, pat, n, t, short, with_asa) -> dict:
    """Erlang A for lam > 0, n > 0, finite patience (1-d arrays), any real agents and loads.

    Notation: mu = 1/AHT, theta = 1/patience, x = n mu / theta, y = lam / theta,
    a = lam / mu. Relative to the probability of n in system: P(< n in system) is
    1/B(a, n) - 1 and P(>= n) is S(x, y); see ``_core.queue_sums``.
    """
    theta = 1.0 / pat
    a, x, y = lam * h, n / (h * theta), lam / theta
    log_inv_b = _core.log_inverse_erlang_b(a, n)
    with np.errstate(divide="ignore"):
        log_inv_b_m1 = log_inv_b + np.log(-np.expm1(-log_inv_b))  # log(1/B - 1)
    log_s, ab_given_wait = _core.queue_sums(x, y)
    p_wait = special.expit(log_s - log_inv_b_m1)
    p_no_wait = special.expit(log_inv_b_m1 - log_s)
    p_ab = p_wait * ab_given_wait

    def log_tail(t_s: np.ndarray, shift: float) -> np.ndarray:
        """log(u**(x+shift) e**(y(1-u)) S(x+shift, y u) / S(x+shift, y)), u = exp(-theta t).

        shift 1: E[exp(-theta V); V > t | wait] / E[exp(-theta V) | wait];
        shift 0: P(V > t | wait) (V: the offered wait).
        """
        finite_t = np.where(np.isinf(t_s), 0.0, t_s)
        u = np.exp(-theta * finite_t)
        log_s_u, _ = _core.queue_sums(x + shift, np.maximum(y * u, 1e-300))
        log_s_1, _ = _core.queue_sums(x + shift, y)
        value = -(x + shift) * theta * finite_t - y * np.expm1(-theta * finite_t)
        # a probability ratio: <= 1, rounding may push the log a hair above 0
        return np.where(np.isinf(t_s), -np.inf, np.minimum(value + log_s_u - log_s_1, 0.0))

    # answered within t given queued = E[exp(-theta V); V <= t | wait]
    answered_within_q = (1.0 - ab_given_wait) * -np.expm1(log_tail(t, 1.0))
    sl = p_no_wait + p_wait * answered_within_q
    # abandons within s given queued = 1 - E[exp(-theta V); V <= s | wait] - u P(V > s | wait)
    tail_s = np.exp(log_tail(short, 0.0))
    answered_short = (1.0 - ab_given_wait) * -np.expm1(log_tail(short, 1.0))
    u_short = np.exp(-theta * np.where(np.isinf(short), 0.0, short))
    u_short = np.where(np.isinf(short), 0.0, u_short)
    ab_short = p_wait * np.clip(1.0 - answered_short - u_short * tail_s, 0.0, 1.0)

    answered = p_no_wait + p_wait * (1.0 - ab_given_wait)
    out = {
        "p_wait": p_wait,
        "p_ab": p_ab,
        "sl": np.clip(sl, 0.0, 1.0),
        "sl_ans": np.where(answered > 0, sl / np.where(answered > 0, answered, 1.0), 0.0),
        "ab_short": ab_short,
        "sl_short": np.minimum(sl / np.maximum(1.0 - ab_short, 1e-300), 1.0),
        "occ": np.minimum(lam * (1.0 - p_ab) * h / n, 1.0),
        "lq": p_ab * y,  # abandonment rate theta * Lq = lam * P(ab)
    }
    if with_asa:
        out["asa"] = _answered_wait(x, y, theta, log_s, p_wait, answered)
    return out


def _answered_wait(x, y, theta, log_s, p_wait, answered) -> np.ndarray:
    """Mean wait of answered contacts: P(wait) E[V exp(-theta V) | wait] / P(answered).

    ``theta E[V exp(-theta V) | wait] = (x/y) int_0^y P(x+1, z)/z dz / P(x, y)`` (by parts on
    the offered-wait law), or the direct series over the queue where ``P(x, y)`` is tiny.
    """
    p = special.gammainc(x, y)
    closed = (p >= 1e-250) & (y > _core.TINY_MEAN)  # (x / y overflows below it)
    weighted = np.empty(x.shape)
    if np.any(closed):
        xc, yc = x[closed], y[closed]
        weighted[closed] = (xc / yc) * _core.integral_p_over_z(xc + 1.0, yc) / p[closed]
    if np.any(~closed):
        series = _core.answered_wait_series(x[~closed], y[~closed])
        weighted[~closed] = series / np.exp(log_s[~closed])
    return p_wait * weighted / theta / answered


def erlang_a_wait_percentile_s(
    arrival_rate_per_s: ArrayLike,
    aht_s: ArrayLike,
    patience_s: ArrayLike,
    agents: ArrayLike,
    quantile: ArrayLike,
) -> Values:
    """Erlang A quantile, in seconds, of the time offered contacts spend in queue (until
    answered or abandoned): ``P(W > w) = P(wait) P(V > w | wait) exp(-w / patience)``.

    0 when the quantile falls within the contacts that do not wait. Solved by bisection on
    ``w`` (60 steps, vectorised), so it is accurate to ~1e-12 relative.
    """
    lam = as_param("arrival_rate_per_s", arrival_rate_per_s, positive=True)
    h = as_param("aht_s", aht_s, positive=True)
    pat = as_param("patience_s", patience_s, positive=True)
    n = as_param("agents", agents, positive=True)
    q = as_param("quantile", quantile, upper=1.0)
    lam, h, pat, n, q = (np.ravel(v) for v in np.broadcast_arrays(lam, h, pat, n, q))
    shape = np.broadcast_shapes(
        *(np.shape(v) for v in (arrival_rate_per_s, aht_s, patience_s, agents, quantile))
    )
    theta = 1.0 / pat
    x, y = n / (h * theta), lam / theta
    p_wait = np.atleast_1d(erlang_a(lam, h, pat, n, 0.0, with_asa=False).p_wait)
    log_s0, _ = _core.queue_sums(x, y)

    def survival(w: np.ndarray) -> np.ndarray:
        u = np.exp(-theta * w)
        log_s_u, _ = _core.queue_sums(x, np.maximum(y * u, 1e-300))
        log_tail = -x * theta * w - y * np.expm1(-theta * w) + log_s_u - log_s0
        return p_wait * np.exp(np.minimum(log_tail, 0.0) - theta * w)

    goal = 1.0 - q
    lo = np.zeros(lam.size)
    hi = np.maximum(h, pat)
    for _ in range(200):  # grow the bracket until the survival drops below the goal
        high = survival(hi) > goal
        if not np.any(high):
            break
        hi = np.where(high, hi * 2.0, hi)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        above = survival(mid) > goal
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    value = np.where(goal >= p_wait, 0.0, hi)
    value = np.where(q >= 1.0, np.inf, value)
    return _out(value.reshape(shape))

"""Solve any model for any variable: least agents, largest arrival rate, target reached.

Every model here has a service level that rises with the agents and falls with the arrival
rate (Erlang C / A, Erlang X with redials and lines, the uncertain-rate mixture, blending at a
fixed threshold), so

- :func:`erlang_x_required_agents`: least integer agents meeting a service level (any of the
  three definitions) and an optional abandonment cap, by the shared galloping search
  (:func:`openwfm.queueing.inversion.least_integer`), vectorised;
- :func:`max_arrival_rate`: the largest arrival rate (per second) the given agents carry at
  the target, for any model (chosen by the arguments given), by a vectorised bisection in
  log space to 1e-12 relative after a doubling bracket;
- :func:`service_level_reached`: the target reached (service level) for given agents and
  rate, for any model.

Staffing for blending (agents and threshold) is :func:`openwfm.queueing.blend.blend_staffing`;
for uncertain rates :func:`openwfm.queueing.uncertain.uncertain_required_agents`.
"""

from __future__ import annotations

import numpy as np

from openwfm.errors import ParameterError
from openwfm.queueing._types import ArrayLike, Values
from openwfm.queueing.erlang import as_param, erlang_a
from openwfm.queueing.inversion import least_integer, required_agents

__all__ = ["erlang_x_required_agents", "max_arrival_rate", "service_level_reached"]

SL_DEFINITIONS = {
    "offered": "service_level",
    "answered": "service_level_answered",
    "virtual": "service_level_virtual",
}


def _definition_key(definition: str) -> str:
    if definition not in SL_DEFINITIONS:
        raise ParameterError(
            f"unknown service-level definition {definition!r} (expected one of "
            f"{', '.join(SL_DEFINITIONS)})",
            field="definition",
        )
    return SL_DEFINITIONS[definition]


def erlang_x_required_agents(
    arrival_rate_per_s: ArrayLike,
    aht_s: ArrayLike,
    patience_s: ArrayLike,
    target_s: ArrayLike,
    service_level: ArrayLike,
    *,
    lines: ArrayLike = np.inf,
    retrial_probability: ArrayLike = 0.0,
    retry_mean_s: ArrayLike = np.inf,
    definition: str = "offered",
    max_abandon: ArrayLike | None = None,
    method: str = "exact",
) -> Values:
    """Least integer agents for Erlang X (see :func:`openwfm.queueing.erlang_x`) whose service
    level (``definition``: offered, answered or virtual) reaches ``service_level`` and whose
    abandonment is at most ``max_abandon``. With finite ``lines`` the agents are searched up
    to the lines. ``method``: how a finite ``retry_mean_s`` is solved (``"exact"`` or
    ``"orbit_mean"``, see ``erlang_x``). Every argument broadcasts; int64 (NumPy integer for
    scalars)."""
    from openwfm.queueing.retrial import erlang_x

    key = _definition_key(definition)
    lam = as_param("arrival_rate_per_s", arrival_rate_per_s)
    h = as_param("aht_s", aht_s, positive=True)
    pat = as_param("patience_s", patience_s, positive=True, allow_inf=True)
    t = as_param("target_s", target_s, allow_inf=True)
    sl = as_param("service_level", service_level, upper=1.0)
    lines_ = as_param("lines", lines, allow_inf=True, integer=True)
    p = as_param("retrial_probability", retrial_probability, upper=1.0)
    retry = as_param("retry_mean_s", retry_mean_s, positive=True, allow_inf=True)
    ab = np.ones(()) if max_abandon is None else as_param("max_abandon", max_abandon, upper=1.0)
    arrays = np.broadcast_arrays(lam, h, pat, t, sl, lines_, p, retry, ab)
    shape = arrays[0].shape
    lam, h, pat, t, sl, lines_, p, retry, ab = (np.ravel(v) for v in arrays)
    # no redials and no busy signal: a start from Erlang A / C (redials only add load)
    base = np.atleast_1d(
        required_agents(lam, h, t, np.minimum(sl, 0.999), patience_s=pat)
        if np.all(np.isfinite(pat))
        else required_agents(lam, h, t, np.minimum(sl, 0.999))
    )
    a = lam * h
    upper = np.where(np.isfinite(lines_), lines_, np.ceil(2 * a + 60 * np.sqrt(a) + 1000))
    upper = upper.astype(np.int64)
    guess = np.minimum(base, upper)
    chain = np.isfinite(retry) & (p > 0)
    if np.any(chain):
        # the exact chain is slow: start from the long-retry model's answer (fast; most
        # often the answer itself or one below it), so the search needs ~2 exact solves
        values = (lam, h, pat, t, sl, lines_, p, ab)
        guess[chain] = np.minimum(
            _long_retry_guess(*(v[chain] for v in values), definition, guess[chain]),
            upper[chain],
        )

    def meets(index, n):
        r = erlang_x(
            lam[index],
            h[index],
            pat[index],
            n.astype(float),
            lines_[index],
            t[index],
            retrial_probability=p[index],
            retry_mean_s=retry[index],
            method=method,
        )
        good = np.atleast_1d(r[key]) >= sl[index] - 1e-12
        return good & (np.atleast_1d(r["p_abandon"]) <= ab[index] + 1e-12)

    answer = least_integer(meets, np.zeros(lam.size, dtype=np.int64), guess, upper)
    if np.any(answer < 0):
        bad = int(np.flatnonzero(answer < 0)[0])
        raise ParameterError(
            f"target unattainable at element {bad} with at most {upper[bad]} agents",
            field="service_level",
        )
    answer = answer.reshape(shape)
    return answer[()] if answer.ndim == 0 else answer


def _long_retry_guess(lam, h, pat, t, sl, lines, p, ab, definition, fallback) -> np.ndarray:
    """Least agents of the long-retry model (``retry_mean_s=inf``) for the given elements
    (1-d), or ``fallback`` where that model cannot reach the target."""
    try:
        return np.atleast_1d(
            erlang_x_required_agents(
                lam,
                h,
                pat,
                t,
                sl,
                lines=lines,
                retrial_probability=p,
                definition=definition,
                max_abandon=ab,
            )
        )
    except ParameterError:
        return fallback


def service_level_reached(
    arrival_rate_per_s: ArrayLike,
    aht_s: ArrayLike,
    agents: ArrayLike,
    target_s: ArrayLike,
    *,
    patience_s: ArrayLike | None = None,
    lines: ArrayLike = np.inf,
    retrial_probability: ArrayLike = 0.0,
    retry_mean_s: ArrayLike = np.inf,
    rate_cv: ArrayLike = 0.0,
    outbound_aht_s: ArrayLike | None = None,
    threshold: ArrayLike | None = None,
    definition: str = "offered",
    method: str = "exact",
) -> Values:
    """The service level (answered within ``target_s``) the model gives; the model follows
    from the arguments: blending when ``outbound_aht_s`` is given (with ``threshold``), the
    uncertain-rate mixture when ``rate_cv`` (the rate's coefficient of variation) > 0, Erlang
    X with finite ``lines`` or redials (``method``: see ``erlang_x``), else Erlang A
    (``patience_s``) or C."""
    pat = np.inf if patience_s is None else patience_s
    if outbound_aht_s is not None:
        from openwfm.queueing.blend import blend_metrics

        if threshold is None:
            raise ParameterError("blending needs a threshold", field="threshold")
        key = "service_level" if definition == "offered" else "service_level_answered"
        return blend_metrics(
            arrival_rate_per_s, aht_s, outbound_aht_s, agents, threshold, target_s, patience_s=pat
        )[key]
    cv = as_param("rate_cv", rate_cv)
    if np.any(cv > 0):
        from openwfm.queueing.uncertain import expected_service_level

        if definition != "offered":
            raise ParameterError(
                "uncertain rates support the offered definition", field="definition"
            )
        rate = as_param("arrival_rate_per_s", arrival_rate_per_s)
        return expected_service_level(
            rate, (cv * rate) ** 2, aht_s, agents, target_s, patience_s=patience_s
        )
    key = _definition_key(definition)
    finite_lines = np.any(np.isfinite(as_param("lines", lines, allow_inf=True)))
    if finite_lines or np.any(as_param("retrial_probability", retrial_probability) > 0):
        from openwfm.queueing.retrial import erlang_x

        return erlang_x(
            arrival_rate_per_s,
            aht_s,
            pat,
            agents,
            lines,
            target_s,
            retrial_probability=retrial_probability,
            retry_mean_s=retry_mean_s,
            method=method,
        )[key]
    if key == "service_level_virtual":
        from openwfm.queueing.retrial import erlang_x

        return erlang_x(arrival_rate_per_s, aht_s, pat, agents, np.inf, target_s)[key]
    result = erlang_a(arrival_rate_per_s, aht_s, pat, agents, target_s, with_asa=False)
    return getattr(result, key)


def max_arrival_rate(
    agents: ArrayLike,
    aht_s: ArrayLike,
    target_s: ArrayLike,
    service_level: ArrayLike,
    *,
    relative_tolerance: float = 1e-12,
    **model,
) -> Values:
    """Largest arrival rate per second at which ``agents`` still reach ``service_level``
    (``model``: the keyword arguments of :func:`service_level_reached`). 0 when even the
    smallest load misses the target. Vectorised bisection in log space."""
    n = as_param("agents", agents)
    h = as_param("aht_s", aht_s, positive=True)
    t = as_param("target_s", target_s, allow_inf=True)
    sl = as_param("service_level", service_level, upper=1.0)
    n, h, t, sl = np.broadcast_arrays(n, h, t, sl)
    shape = n.shape
    n, h, t, sl = (np.ravel(v).astype(float) for v in (n, h, t, sl))

    def ok(rate, index):
        got = service_level_reached(rate, h[index], n[index], t[index], **model)
        return np.atleast_1d(got) >= sl[index] - 1e-12

    size = n.size
    index = np.arange(size)
    # bracket: lo passes (or is tiny), hi fails; start at the agents' capacity
    hi = np.maximum(n, 1.0) / h
    lo = np.zeros(size)
    for _ in range(80):
        failing = ok(hi, index)
        if not np.any(failing):
            break
        lo = np.where(failing, hi, lo)
        hi = np.where(failing, hi * 2.0, hi)
    lo = np.where(lo > 0, lo, hi * 1e-12)
    floor_ok = ok(lo, index)
    for _ in range(200):
        if np.all(hi - lo <= relative_tolerance * hi):
            break
        mid = np.sqrt(lo * hi)
        good = ok(mid, index)
        lo, hi = np.where(good, mid, lo), np.where(good, hi, mid)
    value = np.where(floor_ok, lo, 0.0).reshape(shape)
    return value[()] if value.ndim == 0 else value

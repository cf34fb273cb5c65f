"""The long-retry limit as the fast approximation of Erlang X with a finite retry time: its
distance to the exact chain stays within the stated bound ``long_retry_error_bound`` over a
grid of loads, staffing, patience, redial probabilities and retry times (the validation the
bound rests on; the exact chain itself is checked against 50-digit references elsewhere)."""

from __future__ import annotations

import numpy as np
import pytest

from openwfm.errors import ParameterError
from openwfm.queueing import erlang_x, long_retry_error_bound

AHT = 240.0
# (Erlangs, agents, lines, patience s, redial probability, retry s)
GRID = [
    (2.0, 2, np.inf, 60.0, 0.7, 240.0),
    (2.0, 2, np.inf, 240.0, 0.7, 3_840.0),
    (2.0, 3, 5, np.inf, 0.6, 600.0),  # busy signals only, nobody abandons
    (10.0, 9, np.inf, 960.0, 0.3, 960.0),
    (10.0, 10, np.inf, 240.0, 0.7, 3_840.0),
    (10.0, 12, np.inf, 960.0, 0.7, 240.0),
    (10.0, 12, 14, 120.0, 0.5, 300.0),
    (30.0, 34, np.inf, 960.0, 0.3, 3_840.0),
    (50.0, 50, np.inf, 240.0, 0.7, 3_840.0),
    (50.0, 57, np.inf, 240.0, 0.7, 960.0),
    (100.0, 100, np.inf, 120.0, 0.5, 600.0),  # bench/queueing.py's case
    (1.0, 1, 3, 960.0, 0.7, 12.0),  # the largest of 540 small cases, retries 0.05-4 AHT: 0.91
]
KEYS = ("service_level", "service_level_answered", "service_level_virtual", "p_abandon")


@pytest.mark.parametrize(("a", "n", "lines", "patience", "p", "retry"), GRID)
def test_long_retry_limit_is_within_its_stated_bound(a, n, lines, patience, p, retry):
    lam = a / AHT
    exact = erlang_x(lam, AHT, patience, n, lines, 20.0, retrial_probability=p, retry_mean_s=retry)
    limit = erlang_x(lam, AHT, patience, n, lines, 20.0, retrial_probability=p)
    bound = float(long_retry_error_bound(AHT, patience, p, retry))
    assert 0.0 < bound < 0.25
    keys = (*KEYS, "p_block") if np.isfinite(lines) else KEYS
    for key in keys:
        assert abs(float(limit[key]) - float(exact[key])) <= bound, key
    rate = float(exact["attempt_rate_per_s"])
    assert abs(float(limit["attempt_rate_per_s"]) - rate) <= bound * rate


def test_no_bound_above_the_validated_redial_probability():
    """Above p = 0.7 both stated bounds are NaN: a one-agent loss system with quick redials
    breaks their formulas there (the long-retry limit at p 0.8, the orbit-mean model at 0.9)."""
    from openwfm.queueing import orbit_mean_error_bound

    assert np.isnan(long_retry_error_bound(AHT, 240.0, [0.8, 0.9], 600.0)).all()
    assert np.isnan(orbit_mean_error_bound(AHT, 240.0, [0.8, 0.9], 600.0)).all()
    assert np.isfinite(orbit_mean_error_bound(AHT, 240.0, [0.0, 0.7], 600.0)).all()
    lam, patience = 1.0 / AHT, 240.0
    for p, retry, method, factor in ((0.8, 12.0, None, 0.25), (0.9, 60.0, "orbit_mean", 0.01)):
        options = {"retrial_probability": p}
        exact = erlang_x(lam, AHT, patience, 1, 1, 20.0, retry_mean_s=retry, **options)
        if method is None:
            approx = erlang_x(lam, AHT, patience, 1, 1, 20.0, **options)
        else:
            approx = erlang_x(
                lam, AHT, patience, 1, 1, 20.0, retry_mean_s=retry, method=method, **options
            )
        formula = factor * p * patience / (patience + retry)
        worst = max(abs(float(approx[k]) - float(exact[k])) for k in (*KEYS, "p_block"))
        rate = float(exact["attempt_rate_per_s"])  # (the bounds cover it relative)
        worst = max(worst, abs(float(approx["attempt_rate_per_s"]) - rate) / rate)
        assert worst > 1.05 * formula, (p, worst / formula)


def test_bound_shrinks_with_the_retry_time_and_vanishes_at_infinity():
    bounds = long_retry_error_bound(240.0, 120.0, 0.5, [60.0, 600.0, 6_000.0, np.inf])
    assert np.all(np.diff(bounds) < 0) and bounds[-1] == 0.0
    assert long_retry_error_bound(240.0, 120.0, 0.0, 600.0) == 0.0
    with pytest.raises(ParameterError, match="retrial_probability"):
        long_retry_error_bound(240.0, 120.0, 1.5, 600.0)


def test_exact_chain_tends_to_the_long_retry_model_like_one_over_the_retry_time():
    """The default (``retry_mean_s=inf``) is the limit of the exact chain (the argument is in
    openwfm.queueing.retrial's doc): the distance falls like 1 / T as the retry time T grows."""
    lam, aht, patience, n, p = 10.0 / 240.0, 240.0, 240.0, 10, 0.7
    limit = erlang_x(lam, aht, patience, n, np.inf, 20.0, retrial_probability=p)
    errors = []
    for retry in (2_400.0, 24_000.0, 96_000.0):
        exact = erlang_x(
            lam, aht, patience, n, np.inf, 20.0, retrial_probability=p, retry_mean_s=retry
        )
        errors.append(max(abs(float(limit[k]) - float(exact[k])) for k in (*KEYS, "p_block")))
    assert errors[0] > 5.0 * errors[1] > 0.0
    assert 3.5 < errors[1] / errors[2] < 4.5  # four times the retry time: a quarter the error

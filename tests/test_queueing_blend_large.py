"""Blending with outbound work above 90 Erlangs (up to 5,000) against 50-digit references.

A dense or refined solve of the two-dimensional chain (test_queueing_blend, _blend_range: up
to 90 Erlangs) is out of reach at thousands of Erlangs (the code's chain at 5,000 Erlangs has
~10^5 states). The reference uses a structure of the threshold policy instead: when outbound
and inbound calls have the same mean handle time, every busy agent frees at the same rate
``mu``, so ``k = inbound in system - (agents - outbound)`` (``-k`` idle agents, or ``k``
waiting) is a birth-death chain of its own on ``k >= -threshold``:

- up at ``lam`` (an inbound arrival);
- down, for ``k > -threshold``, at ``(agents + min(k, 0)) mu + max(k, 0) theta`` (any busy
  agent frees: an inbound one lowers ``k``, an outbound one lowers ``o`` and ``k`` alike; a
  waiting call abandons); at ``k = -threshold`` a freed agent starts an outbound call and
  ``k`` stays (an outbound one restarts one).

The outbound count drops out: a call that waits behind ``j`` others is answered at the rate
``agents mu`` whatever the mix, so its laws are Erlang A's (P(answered) ``c / (c + j + 1)``,
``c = agents mu / theta``; within ``t``: that times ``P(NB(c + 1, exp(-theta t)) > j)``;
mean wait given answered: ``sum_{m <= j} 1 / (agents mu + (m + 1) theta)``), and the outbound
throughput follows from Little's law: ``mu E[busy agents] - lam P(answered)`` with ``busy =
agents + min(k, 0)``. Everything is one birth-death product and sums over ``k``, computed in
50 digits. The code knows nothing of this: it solves the two-dimensional chain by sparse LU and
the waiting law by uniformization (unequal handle times are checked up to 90 Erlangs in the
other files).
"""

from __future__ import annotations

import mpmath as mp
import pytest

from openwfm.queueing import blend_metrics

mp.mp.dps = 50
REL = 1e-9
_TAIL = mp.mpf(10) ** -60


def ref_blend_equal_handle_times(lam, aht, n, s, t, patience):
    """50-digit blending metrics for inbound and outbound handle times both ``aht``."""
    lam, mu, th, t = mp.mpf(lam), 1 / mp.mpf(aht), 1 / mp.mpf(patience), mp.mpf(t)
    weights, k, w = [mp.mpf(1)], -s, mp.mpf(1)
    while True:  # the birth-death product along k = -s, -s + 1, ...
        k += 1
        down = (n + min(k, 0)) * mu + max(k, 0) * th
        w *= lam / down
        weights.append(w)
        if k > 0 and lam < down and w < _TAIL * mp.fsum(weights):
            break
    total = mp.fsum(weights)
    pi = {-s + i: v / total for i, v in enumerate(weights)}
    c, u = n * mu / th, mp.exp(-th * t)
    p_wait = mp.fsum(p for k, p in pi.items() if k >= 0)
    answered_wait, within, wait_answered = mp.mpf(0), mp.mpf(0), mp.mpf(0)
    pmf = u ** (c + 1)  # NB(c + 1, u) at 0
    cdf, harmonic = pmf, mp.mpf(0)
    for j in range(max(pi) + 1):
        if j > 0:
            pmf *= (1 - u) * (j + c) / j
            cdf += pmf
        harmonic += 1 / (n * mu + (j + 1) * th)
        answered = c / (c + j + 1)
        answered_wait += pi[j] * answered
        within += pi[j] * answered * (1 - cdf)
        wait_answered += pi[j] * answered * harmonic
    p_answered = 1 - p_wait + answered_wait
    busy = mp.fsum(p * (n + min(k, 0)) for k, p in pi.items())
    return {
        "p_wait": p_wait,
        "p_abandon": 1 - p_answered,
        "service_level": 1 - p_wait + within,
        "service_level_answered": (1 - p_wait + within) / p_answered,
        "asa_s": wait_answered / p_answered,
        "outbound_per_s": mu * busy - lam * p_answered,
        "occupancy": busy / n,
        "p_idle_reserved": mp.fsum(p for k, p in pi.items() if k < 0),
    }


def test_reference_is_the_two_dimensional_chain_where_both_can_be_solved():
    """The structure the reference rests on, checked where the 2-d chain can be solved: the
    refined 50-digit solve of the full chain (test_queueing_blend_range's reference) gives the
    same metrics."""
    from test_queueing_blend_range import ref_blend_range

    lam, aht, n, s, t, patience = 16.0 / 200.0, 200.0, 18, 2, 20.0, 120.0
    full, top_mass = ref_blend_range(lam, aht, aht, n, s, t, patience, 48, True)
    assert top_mass < 1e-20
    one_d = ref_blend_equal_handle_times(lam, aht, n, s, t, patience)
    for key, value in full.items():
        assert abs(value - one_d[key]) <= mp.mpf(10) ** -18 * abs(one_d[key]), key


@pytest.mark.parametrize(
    ("a", "n", "s", "patience"),
    [
        (150.0, 156, 2, 120.0),
        (1_000.0, 1_020, 0, 90.0),  # threshold 0: outbound takes every idle agent
        (1_000.0, 1_030, 6, 150.0),
        (5_000.0, 5_060, 10, 60.0),
    ],
)
def test_blend_with_outbound_matches_50_digit_reference_up_to_5000_erlangs(a, n, s, patience):
    aht, t = 240.0, 20.0
    lam = a / aht
    ref = ref_blend_equal_handle_times(lam, aht, n, s, t, patience)
    got = blend_metrics(lam, aht, aht, n, s, t, patience_s=patience)
    assert float(ref["outbound_per_s"]) > 0.01 * n / aht  # real outbound work
    for key, value in ref.items():
        assert abs(float(got[key]) - float(value)) <= REL * abs(float(value)) + 1e-15, key

"""The waiting law of an inbound call in the blending model (see :mod:`openwfm.queueing.blend`).

A call that waits behind ``j`` others while ``o`` agents are on outbound calls moves, at the
total rate ``R = (n - o) mu + o nu + (j + 1) theta``, to

- ``(o, j - 1)`` at ``(n - o) mu + j theta`` (an inbound agent frees, or one ahead abandons),
- ``(o - 1, j - 1)`` at ``o nu`` (an outbound agent frees and takes the head of the queue),
- answered (``j = 0``, any agent frees) or abandoned (its own patience, ``theta``).

Every move takes one call ahead away, so P(answered) ``h`` and the mean time to answer on that
event ``m = E[wait; answered]`` follow exactly by recursions over ``j`` (vectorised over
``o``): ``h(o, j) = ((n - o) mu + j theta) h(o, j - 1) + o nu h(o - 1, j - 1)) / R`` and
``m(o, j) = h(o, j) / R + (the same mix of m)``. P(answered within ``t``) is found by
uniformization of the chain on the rows ``o`` the start law reaches (``o`` only falls), summed
until the Poisson weights past their mean fall below 1e-17.
"""

from __future__ import annotations

import math

import numpy as np

_START_TAIL = 1e-18  # rows of the start law below this share are dropped from the t-law
_WEIGHT_TAIL = 1e-17


def answered_laws(start, mu, mu_out, theta, n) -> tuple[float, float]:
    """``(P(waits and is answered), E[wait; answered])`` from the start law ``start[o, j]``."""
    top = start.shape[1] - 1
    o = np.arange(n + 1, dtype=float)
    free = (n - o) * mu + o * mu_out
    h = np.empty_like(start)
    m = np.empty_like(start)
    total = free + theta
    h[:, 0] = free / total
    m[:, 0] = h[:, 0] / total
    for j in range(1, top + 1):
        total = free + (j + 1) * theta
        same = (n - o) * mu + j * theta
        h[:, j] = same * h[:, j - 1]
        m[:, j] = same * m[:, j - 1]
        h[1:, j] += o[1:] * mu_out * h[:-1, j - 1]
        m[1:, j] += o[1:] * mu_out * m[:-1, j - 1]
        h[:, j] /= total
        m[:, j] = m[:, j] / total + h[:, j] / total
    return float(np.sum(start * h)), float(np.sum(start * m))


def answered_within(start, mu, mu_out, theta, n, t) -> float:
    """P(waits and is answered within ``t`` seconds) from the start law ``start[o, j]``."""
    top = start.shape[1] - 1
    rows = start.sum(axis=1)
    kept = np.flatnonzero(rows > _START_TAIL * rows.sum())
    if kept.size == 0:
        return 0.0
    low, high = max(0, int(kept[0]) - top - 1), int(kept[-1])
    mass = start[low : high + 1].copy()
    o = np.arange(low, high + 1, dtype=float)[:, None]
    j = np.arange(top + 1, dtype=float)[None, :]
    free_in, free_out = (n - o) * mu, o * mu_out
    leave = free_in + free_out + (j + 1) * theta
    rate = float(leave.max())
    stay = 1.0 - leave / rate
    down = (free_in + j * theta) / rate
    across = np.broadcast_to(free_out / rate, mass.shape)
    answer = (free_in[:, 0] + free_out[:, 0]) / rate
    mean = rate * t
    answered, within, step = 0.0, 0.0, 0
    while True:
        answered += float(mass[:, 0] @ answer)
        new = mass * stay
        new[:, :-1] += mass[:, 1:] * down[:, 1:]
        new[:-1, :-1] += mass[1:, 1:] * across[1:, 1:]
        mass = new
        step += 1
        weight = math.exp(-mean + step * math.log(mean) - math.lgamma(step + 1))
        within += weight * answered
        if step > mean and weight < _WEIGHT_TAIL:
            break
    return within

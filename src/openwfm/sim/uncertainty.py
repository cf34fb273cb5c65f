"""Forecast uncertainty in simulation: per-replication multipliers of the forecast's rates.

A forecast of ``f`` contacts in an interval with dispersion ``phi`` says the count is
negative-binomial shaped, ``var = f + phi * f**2``. A Poisson count whose rate is ``f`` times
a gamma factor of mean 1 and variance ``phi`` has exactly that variance, so each replication
draws one gamma factor per queue and day (a forecast error moves a whole day, not single
intervals independently) and the simulator draws Poisson arrivals at the scaled rate
(:func:`openwfm.sim.simulate` with ``rate_factors``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def sample_rate_factors(
    forecast: pd.DataFrame, replications: int, rng: np.random.Generator
) -> np.ndarray:
    """Multiplicative arrival-rate factors, ``[replication, forecast row]``, mean 1.

    ``forecast`` has ``interval_start``, ``queue``, ``forecast`` (contacts per interval) and
    ``dispersion`` (``phi`` per row: ``var = f + phi f^2``; 0 = Poisson). One factor per queue
    and day, gamma with mean 1 and variance the day's volume-weighted ``phi``.
    """
    f = forecast["forecast"].to_numpy(dtype=float)
    phi_row = np.nan_to_num(forecast["dispersion"].to_numpy(dtype=float), nan=0.0)
    day = pd.to_datetime(forecast["interval_start"]).dt.normalize()
    groups = pd.Series(list(zip(forecast["queue"].astype(str), day, strict=True)))
    codes, uniques = pd.factorize(groups)
    # one dispersion per (queue, day): the volume-weighted mean of its rows
    weight = np.bincount(codes, weights=f, minlength=len(uniques))
    phi = np.bincount(codes, weights=phi_row * f, minlength=len(uniques))
    phi = np.divide(phi, weight, out=np.zeros_like(phi), where=weight > 0)
    factors = np.ones((replications, len(uniques)))
    spread = phi > 1e-12
    shape = 1.0 / phi[spread]
    factors[:, spread] = rng.gamma(shape, 1.0 / shape, size=(replications, int(spread.sum())))
    return factors[:, codes]

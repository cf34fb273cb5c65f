"""The ``learned`` intraday update: how much of the morning's level to trust, learned from history.

At a cut-off the day so far says the day runs at ``r = (A + 1) / (F + 1)`` of its forecast
(``A`` actual, ``F`` forecast contacts over a window before the cut-off: the day so far, or its
last 1, 2 or 3 hours). The rest of the day is scaled by ``r ** beta``: ``beta = 0`` keeps the
forecast, ``beta = 1`` is the vendors' ratio. A log-linear regression of the rest-of-day level
error on the morning's, fitted per cut-off time of day on many past days.

The window and ``beta`` are learned from the forecaster's own day-ahead backtest over the last
:data:`INTRADAY_BACKTEST_DAYS` days (:func:`dayahead_backtest`): for the same cut-off time on
each past day, the rest of the day is rescaled and the pair with the least absolute error of the
rest-of-day hourly totals (the measure the update is judged by) is kept. Early in the day, when
the morning says little about the afternoon, the fit drives ``beta`` toward 0 (no update); later
it trusts the actuals more. With fewer than :data:`MIN_LEARNING_DAYS` usable past days there is
no rule (the caller falls back to the shrunk ratio). A day running exactly at forecast has
``r = 1`` and is left unchanged.

Chosen on Anonymous Bank days of April-June 1999 (``bench/intraday.py choose``; on the
smoothed-profile day-ahead base): 0.920 / 0.935 / 0.906 / 0.900 x no update at 09 / 10 / 12 /
14, beside the mean with the factor update (0.942 / 0.952 / 0.930 / 0.917 at best) and,
offline, a fixed window, the mean of per-window rules, clipped log ratios, ``beta`` pooled over
neighbouring cut-offs, a second term for the last days' day-ahead error (0.921 / 0.939 /
0.900 / 0.896: within noise, worse on the score days) and a Gaussian conditioning of the day's
errors on a covariance learned from past errors (a shape update), none clearly better there.
On the July-December score days no single rule of this family, even chosen on those days, does
better than 0.875 x no update at 12:00 (the realised rest-of-day level would give 0.780): see
``bench/intraday.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from openwfm.forecast.events import EventCalendar
    from openwfm.forecast.forecaster import AutoPick
    from openwfm.forecast.history import QueueSeries

INTRADAY_BACKTEST_DAYS = 120  # past days (day-ahead origins) the update learns from
MIN_LEARNING_DAYS = 10
LEVEL_WINDOWS_MIN: tuple[int | None, ...] = (None, 60, 120, 180)  # None: the day so far
BETA_GRID = np.linspace(0.0, 1.0, 41)  # from no update to the full ratio
PSEUDO_COUNT = 1.0  # contacts added to actual and forecast before the log ratio


@dataclass(frozen=True)
class LevelRule:
    """Learned update at one cut-off time: multiplier ``ratio ** beta`` over ``window_minutes``
    (None: the day so far), learned on ``days`` past days."""

    window_minutes: int | None
    beta: float
    days: int

    def multiplier(
        self, starts: np.ndarray, actual: np.ndarray, forecast: np.ndarray, as_of: pd.Timestamp
    ) -> float:
        """Multiplier of the rest of the day from the intervals before ``as_of``."""
        if self.beta == 0:
            return 1.0
        log_ratio = window_log_ratio(starts, actual, forecast, as_of, self.window_minutes)
        return float(np.exp(self.beta * log_ratio))


def window_log_ratio(
    starts: np.ndarray,
    actual: np.ndarray,
    forecast: np.ndarray,
    as_of: pd.Timestamp,
    window_minutes: int | None,
) -> float:
    """``log((A + 1) / (F + 1))`` over the intervals starting in the window before ``as_of``."""
    keep = np.ones(len(starts), dtype=bool)
    if window_minutes is not None:
        keep = starts >= np.datetime64(as_of - pd.Timedelta(minutes=window_minutes))
    a = float(np.nansum(actual[keep]))
    f = float(np.nansum(forecast[keep]))
    return float(np.log((a + PSEUDO_COUNT) / (f + PSEUDO_COUNT)))


def _learning_cases(
    backtest: pd.DataFrame, cutoff: pd.Timedelta, interval_minutes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per past day: log ratios per window (windows x days) and the rest-of-day hourly actual
    and forecast totals (days x 24)."""
    frame = backtest[["interval_start", "actual", "forecast"]].copy()
    frame["interval_start"] = pd.to_datetime(frame["interval_start"])
    frame = frame.groupby("interval_start", as_index=False).mean()  # one row per interval
    step = pd.Timedelta(minutes=interval_minutes)
    logs, rest_a, rest_f = [], [], []
    for day, part in frame.groupby(frame["interval_start"].dt.normalize()):
        as_of = day + cutoff
        starts = part["interval_start"]
        seen = (starts + step <= as_of).to_numpy()
        if not seen.any() or seen.all():
            continue
        a, f = part["actual"].to_numpy(float), part["forecast"].to_numpy(float)
        s = starts.to_numpy()
        logs.append(
            [window_log_ratio(s[seen], a[seen], f[seen], as_of, w) for w in LEVEL_WINDOWS_MIN]
        )
        hour = starts.dt.hour.to_numpy()[~seen]
        rest_a.append(np.bincount(hour, a[~seen], minlength=24))
        rest_f.append(np.bincount(hour, f[~seen], minlength=24))
    if not logs:
        empty = np.zeros((0, 24))
        return np.zeros((len(LEVEL_WINDOWS_MIN), 0)), empty, empty
    return np.array(logs).T, np.array(rest_a), np.array(rest_f)


def learn_level_rule(
    backtest: pd.DataFrame | None, cutoff: pd.Timedelta, interval_minutes: int
) -> LevelRule | None:
    """The window and ``beta`` with the least rest-of-day hourly absolute error on past days.

    ``backtest``: ``interval_start, actual, forecast`` rows of past days' day-ahead forecasts;
    ``cutoff``: the time of day of the update (from midnight). None with fewer than
    :data:`MIN_LEARNING_DAYS` past days open on both sides of the cut-off. Ties keep the
    smaller ``beta`` (the forecast is moved only when the past shows it helps).
    """
    if backtest is None or len(backtest) == 0:
        return None
    logs, rest_a, rest_f = _learning_cases(backtest, cutoff, interval_minutes)
    if rest_a.shape[0] < MIN_LEARNING_DAYS:
        return None
    best: tuple[float, int | None, float] | None = None
    for w, window in enumerate(LEVEL_WINDOWS_MIN):
        mult = np.exp(np.clip(np.outer(BETA_GRID, logs[w]), -5.0, 5.0))  # betas x days
        loss = np.abs(rest_a[None] - mult[:, :, None] * rest_f[None]).sum(axis=(1, 2))
        g = int(np.argmin(loss))
        if best is None or loss[g] < best[0] - 1e-9:
            best = (float(loss[g]), window, float(BETA_GRID[g]))
    assert best is not None
    return LevelRule(best[1], best[2], int(rest_a.shape[0]))


def dayahead_backtest(
    model: AutoPick,
    series: QueueSeries,
    calendar: EventCalendar | None,
    n_days: int = INTRADAY_BACKTEST_DAYS,
) -> pd.DataFrame | None:
    """Day-ahead forecasts of the auto pick's chosen method at the last ``n_days`` origins
    (one a day) against the actuals: what the ``learned`` update learns from. None without
    origins."""
    from openwfm.forecast.backtest import backtest_series, origin_indices
    from openwfm.forecast.forecaster import AUTO_CANDIDATES

    origins = origin_indices(series.n_days, 1, n_days, 1)
    if not origins:
        return None
    candidates = AUTO_CANDIDATES if model.candidates is None else model.candidates
    factory = candidates[model.chosen_]
    table = backtest_series(series, {model.chosen_: factory}, 1, calendar=calendar, origins=origins)
    return table[["interval_start", "actual", "forecast"]]

"""The model base class and the helpers every forecast model shares.

``model.fit(series, calendar=None)`` learns from a :class:`~openwfm.forecast.history.QueueSeries`
(attributes ending in ``_``); ``model.predict(n_days)`` returns an array ``(n_days, slots)`` of
expected counts per interval for the ``n_days`` calendar days after the history's last day,
NaN in closed slots. Constructors only store parameters.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from openwfm.errors import ParameterError
from openwfm.forecast.events import EventCalendar
from openwfm.forecast.history import MIN_WEEKLY_HISTORY_DAYS, QueueSeries, require_history_days


def _future_days(series: QueueSeries, n_days: int) -> pd.DatetimeIndex:
    return pd.date_range(series.days[-1] + pd.Timedelta(days=1), periods=n_days, freq="D")


def _same_weekday_rows(n_hist: int, hist_first_weekday: int, weekday: int) -> np.ndarray:
    """Row indices (ascending) of history days falling on ``weekday``."""
    first = (weekday - hist_first_weekday) % 7
    return np.arange(first, n_hist, 7)


def fill_missing(series: QueueSeries, n_weeks: int = 4) -> np.ndarray:
    """Values with missing open cells imputed (mean of the nearest same-weekday cells), 0 closed.

    Used only where a model needs a gap-free sequence (daily totals, interval-level ARIMA/ETS).
    """
    values = series.values.copy()
    open_ = series.open_mask(series.days)
    first_wd = int(series.days[0].dayofweek)
    for w in range(7):
        rows = _same_weekday_rows(series.n_days, first_wd, w)
        if len(rows) == 0:
            continue
        block = values[rows]
        holes = np.flatnonzero(np.isnan(block).any(axis=1))
        if len(holes) == 0:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            overall = np.nanmean(block, axis=0)
            for i in holes:
                # nearest same-weekday neighbours, then any observation of the slot
                near = np.nanmean(block[max(0, i - n_weeks) : i + n_weeks + 1], axis=0)
                row = block[i]
                row = np.where(np.isnan(row), near, row)
                values[rows[i]] = np.where(np.isnan(row), overall, row)
    values = np.where(open_, values, np.nan)
    values[np.isnan(values) & open_] = 0.0
    return values


class ForecastModel:
    """Base class: subclasses set ``name`` and implement ``_fit`` and ``_predict``."""

    name = "model"
    min_history_days = MIN_WEEKLY_HISTORY_DAYS

    def fit(self, series: QueueSeries, calendar: EventCalendar | None = None) -> ForecastModel:
        require_history_days(series, self.min_history_days, f"method {self.name!r}")
        self.series_ = series
        self.calendar_ = calendar
        self._fit(series)
        return self

    def predict(self, n_days: int) -> np.ndarray:
        if n_days < 1:
            raise ParameterError("horizon must be at least 1 day", field="horizon_days")
        days = _future_days(self.series_, n_days)
        out = np.asarray(self._predict(days), dtype=float)
        out = np.clip(out, 0.0, None)
        return np.where(self.series_.open_mask(days), out, np.nan)

    def _fit(self, series: QueueSeries) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _predict(self, days: pd.DatetimeIndex) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.endswith("_"))
        return f"{type(self).__name__}({params})"


def _daily_totals(series: QueueSeries, filled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Daily totals over open slots and the share of each day actually observed (0..1)."""
    observed = np.isfinite(series.values)
    weights = np.where(np.isfinite(filled), filled, 0.0)
    total = weights.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, (weights * observed).sum(axis=1) / total, 0.0)
    share[(total == 0) & observed.any(axis=1)] = 1.0
    return total, share


def _weekday_profiles(
    values: np.ndarray, days: pd.DatetimeIndex, usable: np.ndarray, n_weeks: int, half_life: float
) -> np.ndarray:
    """Intraday share per weekday (7 x slots): exponentially weighted over recent weeks."""
    return _weekday_profiles_noise(values, days, usable, n_weeks, half_life)[0]


def _weekday_profiles_noise(
    values: np.ndarray, days: pd.DatetimeIndex, usable: np.ndarray, n_weeks: int, half_life: float
) -> tuple[np.ndarray, np.ndarray]:
    """Intraday shares per weekday (7 x slots) and the sampling variance of each (7 x slots;
    NaN with fewer than two days): the exponentially weighted mean over recent weeks and its
    variance, ``sum(w^2) / sum(w)^2`` times the weighted variance of the days' shares."""
    slots = values.shape[1]
    profiles = np.zeros((7, slots))
    noise = np.full((7, slots), np.nan)
    wd = np.asarray(days.dayofweek)
    totals = np.nansum(values, axis=1)
    for w in range(7):
        rows = np.flatnonzero((wd == w) & usable & (totals > 0))[-n_weeks:]
        if len(rows) == 0:
            rows = np.flatnonzero((wd == w) & (totals > 0))[-n_weeks:]
        if len(rows) == 0:
            continue
        shares = np.nan_to_num(values[rows]) / totals[rows, None]
        age = np.arange(len(rows))[::-1]
        weight = 0.5 ** (age / half_life)
        profiles[w] = weight @ shares / weight.sum()
        if len(rows) >= 2:
            spread = weight @ (shares - profiles[w]) ** 2 / weight.sum()
            n_eff = weight.sum() ** 2 / (weight**2).sum()
            noise[w] = spread * n_eff / max(n_eff - 1.0, 1.0) / n_eff
    return profiles, noise


def pool_profiles(profiles: np.ndarray, noise: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Empirical-Bayes shrinkage of each weekday's intraday shares toward its group's mean.

    ``profiles`` and ``noise`` (7 x slots) are shares and their sampling variance; weekdays with
    the same ``groups`` label (e.g. full vs short business days) are pooled. Per weekday, the
    weight on its own profile is ``tau^2 / (tau^2 + v)``: ``v`` the mean sampling variance of its
    shares, ``tau^2`` the part of its mean squared distance to the other weekdays' mean that the
    noise does not explain. Noisy, short histories are pooled strongly; large, distinct ones
    keep their own shape. No tuned constant.
    """
    out = profiles.copy()
    has = profiles.sum(axis=1) > 0
    for w in np.flatnonzero(has):
        others = np.flatnonzero(has & (groups == groups[w]))
        others = others[others != w]
        if len(others) == 0 or not np.isfinite(noise[w]).any():
            continue
        target = profiles[others].mean(axis=0)
        v_own = float(np.nanmean(noise[w]))
        v_others = float(np.nanmean(noise[others])) if np.isfinite(noise[others]).any() else v_own
        distance = float(np.mean((profiles[w] - target) ** 2))
        tau2 = max(distance - v_own - v_others / len(others), 0.0)
        weight = tau2 / (tau2 + v_own) if tau2 + v_own > 0 else 1.0
        pooled = (profiles[w] + len(others) * target) / (len(others) + 1)
        out[w] = weight * profiles[w] + (1 - weight) * pooled
    return out


def smooth_shares(profiles: np.ndarray, open_slots: np.ndarray, weight: float) -> np.ndarray:
    """Intraday shares (rows x slots) smoothed across neighbouring intervals, rows summing to 1.

    Each open slot becomes ``(1 - 2 * weight) * own + weight * (left + right)``, a neighbour that
    is closed (or beyond the day) counting as the slot itself, so no share leaks into closed
    slots; each row is then rescaled to its original sum. ``weight`` 0 leaves the shares as they
    are; at most 0.5. A share that is the same in every open slot is unchanged.
    """
    if not 0 <= weight <= 0.5:
        raise ParameterError(f"smoothing weight must be in [0, 0.5], got {weight}", field="weight")
    shares = np.where(open_slots, profiles, 0.0)
    if weight == 0:
        return shares
    left = np.concatenate([shares[:, :1], shares[:, :-1]], axis=1)
    right = np.concatenate([shares[:, 1:], shares[:, -1:]], axis=1)
    left_open = np.concatenate([np.zeros_like(open_slots[:, :1]), open_slots[:, :-1]], axis=1)
    right_open = np.concatenate([open_slots[:, 1:], np.zeros_like(open_slots[:, :1])], axis=1)
    smoothed = (1 - 2 * weight) * shares + weight * (
        np.where(left_open, left, shares) + np.where(right_open, right, shares)
    )
    smoothed = np.where(open_slots, smoothed, 0.0)
    before = shares.sum(axis=1, keepdims=True)
    after = smoothed.sum(axis=1, keepdims=True)
    return np.divide(smoothed * before, after, out=np.zeros_like(smoothed), where=after > 0)

"""Forecast models for one queue's interval history, all with the same small surface.

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
from openwfm.forecast.base import (
    ForecastModel,
    QueueSeries,
    _daily_totals,
    _same_weekday_rows,
    _weekday_profiles,
    fill_missing,
    pool_profiles,
)
from openwfm.forecast.profile import DailyProfile

__all__ = [
    "METHODS",
    "DailyProfile",
    "ForecastModel",
    "SeasonalNaive",
    "StatsForecastModel",
    "TopDown",
    "WeekdayAverage",
    "fill_missing",
    "make_model",
    "pool_profiles",
]


class SeasonalNaive(ForecastModel):
    """Same interval one week earlier (the latest observed same weekday, for any lead time)."""

    name = "seasonal_naive"

    def _fit(self, series: QueueSeries) -> None:
        first_wd = int(series.days[0].dayofweek)
        last = np.full((7, series.slots_per_day), np.nan)
        for w in range(7):
            rows = _same_weekday_rows(series.n_days, first_wd, w)
            if len(rows):
                # latest non-missing value per slot, walking back week by week
                last[w] = pd.DataFrame(series.values[rows]).ffill().to_numpy()[-1]
        self.last_week_ = np.nan_to_num(last)

    def _predict(self, days: pd.DatetimeIndex) -> np.ndarray:
        return self.last_week_[np.asarray(days.dayofweek)]


class WeekdayAverage(ForecastModel):
    """The WFM classic: mean of the last ``n_weeks`` same weekdays, interval by interval.

    With ``trend=True`` the mean is scaled by the growth between the last two ``n_weeks``-week
    blocks, compounded to the lead time.
    """

    name = "classic"

    def __init__(self, n_weeks: int = 4, trend: bool = False) -> None:
        self.n_weeks = n_weeks
        self.trend = trend

    def _fit(self, series: QueueSeries) -> None:
        first_wd = int(series.days[0].dayofweek)
        means = np.zeros((7, series.slots_per_day))
        for w in range(7):
            rows = _same_weekday_rows(series.n_days, first_wd, w)[-self.n_weeks :]
            if len(rows):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    means[w] = np.nan_to_num(np.nanmean(series.values[rows], axis=0))
        self.means_ = means
        self.weekly_growth_ = 1.0
        if self.trend:
            span = 7 * self.n_weeks
            recent = np.nansum(series.values[-span:])
            before = np.nansum(series.values[-2 * span : -span])
            if series.n_days >= 2 * span and before > 0 and recent > 0:
                self.weekly_growth_ = float((recent / before) ** (1.0 / self.n_weeks))

    def _predict(self, days: pd.DatetimeIndex) -> np.ndarray:
        out = self.means_[np.asarray(days.dayofweek)]
        if self.trend and self.weekly_growth_ != 1.0:
            lead_weeks = (np.arange(len(days)) + 1) / 7 + (self.n_weeks + 1) / 2
            out = out * (self.weekly_growth_**lead_weeks)[:, None]
        return out


class TopDown(ForecastModel):
    """Daily totals by statsforecast AutoETS (weekly season) x a recent intraday profile.

    The profile per weekday is the mean share of each interval over the last ``profile_weeks``
    same weekdays. No event handling: the plain top-down baseline.
    """

    name = "topdown"

    def __init__(self, profile_weeks: int = 4, train_weeks: int = 26) -> None:
        self.profile_weeks = profile_weeks
        self.train_weeks = train_weeks

    def _fit(self, series: QueueSeries) -> None:
        from statsforecast.models import AutoETS

        filled = fill_missing(series)
        total, _ = _daily_totals(series, filled)
        y = total[-7 * self.train_weeks :]
        self.ets_ = AutoETS(season_length=7, model="ZZZ")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.ets_.fit(y=y.astype(float))
        usable = np.ones(series.n_days, dtype=bool)
        self.profiles_ = _weekday_profiles(
            filled, series.days, usable, self.profile_weeks, half_life=1e9
        )

    def _predict(self, days: pd.DatetimeIndex) -> np.ndarray:
        daily = np.clip(self.ets_.predict(h=len(days))["mean"], 0, None)
        return daily[:, None] * self.profiles_[np.asarray(days.dayofweek)]


class StatsForecastModel(ForecastModel):
    """A statsforecast model on the interval series of open slots only.

    The series is the last ``train_weeks`` weeks of open intervals in time order (closed slots
    left out, missing ones imputed); season lengths are counted in open intervals: a day when
    every weekday has the same number of open intervals, and a week. ``kind`` is one of
    ``seasonal_naive`` (weekly), ``autoets`` (daily season; statsforecast drops seasons > 24),
    ``mstl`` (daily and weekly seasons, AutoETS trend) and ``autoarima`` (daily season).
    """

    KINDS = ("seasonal_naive", "autoets", "mstl", "autoarima")

    def __init__(self, kind: str = "mstl", train_weeks: int = 8) -> None:
        self.kind = kind
        self.train_weeks = train_weeks

    @property
    def name(self) -> str:  # type: ignore[override]
        return "sf_" + self.kind

    def _fit(self, series: QueueSeries) -> None:
        from statsforecast import models as sf

        if self.kind not in self.KINDS:
            raise ParameterError(
                f"unknown statsforecast kind {self.kind!r}; expected one of {self.KINDS}",
                field="kind",
            )
        filled = fill_missing(series)
        n = min(series.n_days, 7 * self.train_weeks)
        days = series.days[-n:]
        mask = series.open_mask(days)
        y = filled[-n:][mask]
        per_day = series.open_slots.sum(axis=1)
        weekly = int(per_day.sum())
        daily = int(per_day[0]) if (per_day == per_day[0]).all() and per_day[0] > 1 else None
        if self.kind == "seasonal_naive":
            model = sf.SeasonalNaive(season_length=weekly)
        elif self.kind == "autoets":
            model = sf.AutoETS(season_length=daily or 1)
        elif self.kind == "autoarima":
            model = sf.AutoARIMA(season_length=daily or 1)
        else:
            seasons = [s for s in (daily, weekly) if s and s > 1 and len(y) >= 2 * s]
            model = sf.MSTL(season_length=seasons or [weekly])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.model_ = model.fit(y=y.astype(float))

    def _predict(self, days: pd.DatetimeIndex) -> np.ndarray:
        mask = self.series_.open_mask(days)
        h = int(mask.sum())
        out = np.full(mask.shape, np.nan)
        if h:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out[mask] = self.model_.predict(h=h)["mean"]
        return out


def _factor_model(blend: bool = False) -> ForecastModel:
    from openwfm.forecast.factor import FactorModel, ProfileFactorBlend

    return ProfileFactorBlend() if blend else FactorModel()


def make_model(name: str) -> ForecastModel:
    """A model by its CLI name (see :data:`METHODS`)."""
    factory = METHODS.get(name)
    if factory is None:
        raise ParameterError(
            f"unknown method {name!r}; expected auto or one of {', '.join(METHODS)}",
            field="method",
        )
    return factory()


METHODS = {
    "seasonal_naive": SeasonalNaive,
    "classic": WeekdayAverage,
    "classic_trend": lambda: WeekdayAverage(trend=True),
    "topdown": TopDown,
    "profile": DailyProfile,
    "profile_ew": lambda: DailyProfile(ets_weight=0.0),
    "factor": lambda: _factor_model(),
    "blend": lambda: _factor_model(blend=True),
    "sf_seasonal_naive": lambda: StatsForecastModel("seasonal_naive"),
    "sf_autoets": lambda: StatsForecastModel("autoets"),
    "sf_mstl": lambda: StatsForecastModel("mstl"),
    "sf_autoarima": lambda: StatsForecastModel("autoarima"),
}

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
    slots = values.shape[1]
    profiles = np.zeros((7, slots))
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
    return profiles


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


def _clip_keeping_shift(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Clip one-off outliers to [low, high], but keep a run of the latest values (two or more)
    beyond the same bound: that is a level shift, which the level must follow."""
    clipped = np.clip(values, low, high)
    for beyond in (values > high, values < low):
        run = 0
        while run < len(values) and beyond[len(values) - 1 - run]:
            run += 1
        if run >= 2:
            clipped[len(values) - run :] = values[len(values) - run :]
    return clipped


def _clean_daily(
    daily: np.ndarray, clean: np.ndarray, wd: np.ndarray, level: np.ndarray
) -> np.ndarray:
    """Daily totals with event and missing days replaced by a local same-weekday mean."""
    out = np.where(clean, daily, np.nan)
    for w in range(7):
        rows = np.flatnonzero(wd == w)
        local = pd.Series(out[rows]).rolling(7, min_periods=1, center=True).mean().to_numpy()
        local = np.where(np.isfinite(local), local, level[w])
        out[rows] = np.where(np.isfinite(out[rows]), out[rows], local)
    return out


class DailyProfile(ForecastModel):
    """openwfm's own model: event-aware daily level x smoothed intraday profile per weekday.

    Daily totals: event days (holidays, eves, user events) are taken out and re-imputed, so they
    do not pollute the level; the level per weekday is an exponentially weighted mean of the last
    ``level_weeks`` same weekdays (half-life ``level_half_life_weeks``), optionally blended
    (weight ``ets_weight``) with statsforecast AutoETS on the cleaned daily series, which follows
    recent level shifts. Intraday: the share of each interval per weekday, exponentially weighted
    over the last ``profile_weeks`` clean same weekdays and shrunk by ``shrink`` toward the
    pooled profile of weekdays with a similar shape (correlation >= 0.95), which trades a little
    bias for much less noise in low-volume intervals. Untagged outlier days (outages, one-off
    surges) are clipped to the median +- ``outlier_mad`` scaled MADs of their weekday before the
    level is averaged (None: no clipping). Defaults were chosen on a backtest of the Anonymous
    Bank's February-April 1999, before the period the benchmark scores.

    Events: for every tag (holiday, holiday_eve, holiday_period, event:<name>) and class of day
    (full vs short business day), the model learns from past tagged days the ratio of the actual
    daily total to the clean weekday level around it, and their intraday shape; both are shrunk
    toward a prior when there are few examples: "no effect", except that a public holiday is
    first taken to look like the queue's quietest weekday. A user-given uplift overrides both.
    The ETS part uses a fixed ``ets_model`` (default ANA: level + additive weekly season), which
    is ten times cheaper than a full AutoETS search and as accurate on daily call totals.
    """

    name = "profile"

    def __init__(
        self,
        level_weeks: int = 8,
        level_half_life_weeks: float = 2.0,
        ets_weight: float = 0.5,
        profile_weeks: int = 12,
        profile_half_life_weeks: float = 6.0,
        shrink: float = 0.5,
        event_prior_days: float = 0.5,
        train_weeks: int = 26,
        ets_model: str = "ANA",
        outlier_mad: float | None = 3.0,
    ) -> None:
        self.level_weeks = level_weeks
        self.level_half_life_weeks = level_half_life_weeks
        self.ets_weight = ets_weight
        self.profile_weeks = profile_weeks
        self.profile_half_life_weeks = profile_half_life_weeks
        self.shrink = shrink
        self.event_prior_days = event_prior_days
        self.train_weeks = train_weeks
        self.ets_model = ets_model
        self.outlier_mad = outlier_mad

    # -- helpers -------------------------------------------------------------------------
    def _tags(self, days: pd.DatetimeIndex) -> np.ndarray:
        if self.calendar_ is None:
            return np.array([""] * len(days), dtype=object)
        return np.array(self.calendar_.tags(days, self.series_.queue), dtype=object)

    def _class_of(self, weekday: np.ndarray) -> np.ndarray:
        return np.where(self.short_weekday_[weekday], "short", "full")

    def _fit(self, series: QueueSeries) -> None:
        filled = fill_missing(series)
        total, share = _daily_totals(series, filled)
        tags = self._tags(series.days)
        wd = np.asarray(series.days.dayofweek)
        clean = (tags == "") & (share >= 0.5)
        with np.errstate(invalid="ignore", divide="ignore"):
            scaled = np.where(share > 0, total / np.maximum(share, 1e-9), np.nan)
        # for the daily totals, use observed totals corrected for missing slots
        daily = np.where(share >= 0.5, scaled, np.nan)
        level = np.array([self._weekday_level(daily, (wd == w) & clean, wd == w) for w in range(7)])
        self.weekday_level_ = level
        top = level.max() if level.max() > 0 else 1.0
        self.short_weekday_ = level < 0.6 * top
        self.clean_daily_ = _clean_daily(daily, clean, wd, level)
        self.ets_ = self._fit_ets(self.clean_daily_) if self.ets_weight > 0 else None
        self.profiles_ = self._fit_profiles(series, filled, clean)
        self._fit_events(filled, daily, tags, wd, share)

    def _weekday_level(self, daily: np.ndarray, clean_w: np.ndarray, any_w: np.ndarray) -> float:
        """Exponentially weighted mean of the last clean same weekdays (outliers clipped)."""
        rows = np.flatnonzero(clean_w)[-self.level_weeks :]
        if len(rows) == 0:
            rows = np.flatnonzero(any_w & np.isfinite(daily))[-self.level_weeks :]
        if len(rows) == 0:
            return 0.0
        values = daily[rows]
        if self.outlier_mad is not None and len(rows) >= 4:
            # untagged anomalies (outages, one-off surges): clip to median +- k MAD
            med = np.median(values)
            # floor at 5% of the median: counts are never that regular, and a zero MAD
            # (identical weeks) would otherwise switch the guard off
            mad = max(1.4826 * np.median(np.abs(values - med)), 0.05 * abs(med))
            if mad > 0:
                k = self.outlier_mad
                values = _clip_keeping_shift(values, med - k * mad, med + k * mad)
        age = np.arange(len(rows))[::-1]
        weight = 0.5 ** (age / self.level_half_life_weeks)
        return float(weight @ values / weight.sum())

    def _fit_ets(self, clean_daily: np.ndarray):
        """statsforecast AutoETS (``ets_model``) on the cleaned daily totals; None if degenerate."""
        from statsforecast.models import AutoETS

        y = clean_daily[-7 * self.train_weeks :]
        model = AutoETS(season_length=7, model=self.ets_model)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return model.fit(y=np.maximum(y, 0).astype(float))
        except Exception:  # noqa: BLE001 - degenerate series (all zeros): EW level only
            return None

    def _fit_profiles(self, series: QueueSeries, filled: np.ndarray, clean: np.ndarray):
        """Intraday shares per weekday (7 x slots), shrunk toward similar weekdays' pool."""
        profiles = _weekday_profiles(
            filled, series.days, clean, self.profile_weeks, self.profile_half_life_weeks
        )
        if self.shrink <= 0:
            return profiles
        pooled = np.zeros_like(profiles)
        for w in range(7):
            if profiles[w].sum() == 0:
                continue
            with np.errstate(invalid="ignore"):
                corr = np.array(
                    [
                        np.corrcoef(profiles[w], profiles[v])[0, 1] if profiles[v].sum() > 0 else -1
                        for v in range(7)
                    ]
                )
            similar = np.nan_to_num(corr, nan=-1) >= 0.95
            similar[w] = True
            pooled[w] = profiles[similar].mean(axis=0)
        profiles = (1 - self.shrink) * profiles + self.shrink * pooled
        profiles = np.where(series.open_slots, profiles, 0.0)
        sums = profiles.sum(axis=1, keepdims=True)
        return np.divide(profiles, sums, out=np.zeros_like(profiles), where=sums > 0)

    def _fit_events(self, filled, daily, tags, wd, share) -> None:
        """Ratio to the clean level and intraday shape per (tag, day class) and per tag."""
        self.event_ratio_: dict[str, tuple[float, int]] = {}
        self.event_profile_: dict[str, tuple[np.ndarray, int]] = {}
        tagged = np.flatnonzero((tags != "") & (share >= 0.5))
        if len(tagged) == 0:
            return
        classes = self._class_of(wd[tagged])
        expected = self.clean_daily_[tagged]
        ratio = np.where(expected > 0, daily[tagged] / np.maximum(expected, 1e-9), np.nan)
        totals = np.nansum(filled[tagged], axis=1)
        shapes = np.nan_to_num(filled[tagged]) / np.maximum(totals, 1e-9)[:, None]
        for key_of in (lambda t, c: t + "/" + c, lambda t, c: t):
            keys = np.array([key_of(t, c) for t, c in zip(tags[tagged], classes, strict=True)])
            for key in np.unique(keys):
                sel = (keys == key) & np.isfinite(ratio)
                if sel.any():
                    self.event_ratio_[key] = (float(np.median(ratio[sel])), int(sel.sum()))
                sel_shape = (keys == key) & (totals > 0)
                if sel_shape.any():
                    self.event_profile_[key] = (
                        shapes[sel_shape].mean(axis=0),
                        int(sel_shape.sum()),
                    )

    def _daily_forecast(self, days: pd.DatetimeIndex) -> np.ndarray:
        wd = np.asarray(days.dayofweek)
        base = self.weekday_level_[wd]
        if self.ets_ is not None:
            ets = np.clip(self.ets_.predict(h=len(days))["mean"], 0, None)
            base = (1 - self.ets_weight) * base + self.ets_weight * ets
        return base

    def _predict(self, days: pd.DatetimeIndex) -> np.ndarray:
        daily = self._daily_forecast(days)
        wd = np.asarray(days.dayofweek)
        out = daily[:, None] * self.profiles_[wd]
        tags = self._tags(days)
        classes = self._class_of(wd)
        k = self.event_prior_days
        for i in np.flatnonzero(tags != ""):
            tag = str(tags[i])
            key = tag + "/" + str(classes[i])
            given = self.calendar_.given_uplift(tag) if self.calendar_ is not None else None
            prior_ratio, prior_shape = 1.0, self.profiles_[wd[i]]
            if tag == "holiday":
                # until the history shows holidays, a holiday looks like the quietest weekday
                quiet = int(
                    np.argmin(np.where(self.weekday_level_ > 0, self.weekday_level_, np.inf))
                )
                if self.weekday_level_[wd[i]] > 0:
                    prior_ratio = self.weekday_level_[quiet] / self.weekday_level_[wd[i]]
                    prior_shape = self.profiles_[quiet]
            found = self.event_ratio_.get(key) or self.event_ratio_.get(tag)
            if given is not None:
                ratio = given
            elif found is not None:
                r, n = found
                ratio = (n * r + k * prior_ratio) / (n + k)
            else:
                ratio = prior_ratio
            shape = prior_shape
            learned = self.event_profile_.get(key) or self.event_profile_.get(tag)
            if learned is not None and given is None:
                p, n = learned
                mix = n / (n + 1.0)
                shape = mix * p + (1 - mix) * shape
                total = shape.sum()
                shape = shape / total if total > 0 else shape
            out[i] = daily[i] * ratio * shape
        return out


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

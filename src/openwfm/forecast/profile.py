"""openwfm's own day-ahead model: event-aware daily level x pooled intraday profile."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from openwfm.forecast.base import (
    ForecastModel,
    QueueSeries,
    _daily_totals,
    _weekday_profiles_noise,
    fill_missing,
    pool_profiles,
    smooth_shares,
)


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


def month_day_effect(
    daily: np.ndarray, days: pd.DatetimeIndex, clean: np.ndarray, min_days: int = 56
) -> np.ndarray:
    """Log multiplier of the daily total per day of the month (index 1-31; 0 unused).

    Each clean day's total is compared with its weekday's local level (centred rolling median
    of the same weekday over 7 weeks); the mean log ratio per day of the month is shrunk toward
    0 by empirical Bayes, ``tau^2 / (tau^2 + s^2 / n)`` (``s^2`` the within-day-of-month
    variance, ``tau^2`` the variance of the true effects the means show beyond their noise).
    Banks see salary and statement days early in the month; with under ``min_days`` clean days,
    or no effect beyond noise, all zeros.
    """
    effect = np.zeros(32)
    ok = clean & np.isfinite(daily) & (daily > 0)
    if ok.sum() < min_days:
        return effect
    frame = pd.Series(np.where(ok, daily, np.nan))
    weekday = np.asarray(days.dayofweek)
    reference = frame.groupby(weekday).transform(
        lambda x: x.rolling(7, center=True, min_periods=3).median()
    )
    ratio = np.log(frame / reference).to_numpy()
    use = np.isfinite(ratio)
    month_day = np.asarray(days.day)[use]
    ratio = ratio[use]
    counts = np.bincount(month_day, minlength=32).astype(float)
    sums = np.bincount(month_day, weights=ratio, minlength=32)
    seen = counts > 0
    means = np.divide(sums, counts, out=np.zeros(32), where=seen)
    if seen.sum() < 2 or len(ratio) <= seen.sum():
        return effect
    within = float(((ratio - means[month_day]) ** 2).sum() / (len(ratio) - seen.sum()))
    noise = within / counts[seen]
    tau2 = max(float(np.var(means[seen])) - float(noise.mean()), 0.0)
    if tau2 <= 0:
        return effect
    effect[seen] = means[seen] * tau2 / (tau2 + noise)
    return effect


class DailyProfile(ForecastModel):
    """openwfm's own model: event-aware daily level x smoothed intraday profile per weekday.

    Daily totals: event days (holidays, eves, user events) are taken out and re-imputed, so they
    do not pollute the level; the level per weekday is an exponentially weighted mean of the last
    ``level_weeks`` same weekdays (half-life ``level_half_life_weeks``), optionally blended
    (weight ``ets_weight``) with statsforecast AutoETS on the cleaned daily series, which follows
    recent level shifts. Intraday: the share of each interval per weekday, exponentially weighted
    over the last ``profile_weeks`` clean same weekdays, pooled with the other weekdays of its
    class (full / short business day) by empirical Bayes (``shrink="auto"``, see
    :func:`~openwfm.forecast.base.pool_profiles`: noisy histories borrow the most), or shrunk by a
    fixed ``shrink`` toward weekdays with a similar shape (correlation >= 0.95). With
    ``day_of_month`` the daily totals carry a day-of-the-month multiplier (salary and statement
    days; :func:`month_day_effect`, shrunk to none where the history does not show one).
    The pooled shares are then smoothed across neighbouring intervals: each open interval keeps
    ``1 - 2 * smooth_slots`` of its share and takes ``smooth_slots`` from each open neighbour
    (0.2, chosen on the nested backtest's choose origins among 0, 0.1, 0.2, 0.3: the mean ratio
    to the best baseline over the three series, every day an origin, 0.799 -> 0.795).
    Untagged outlier days (outages, one-off surges) are clipped to the median +- ``outlier_mad``
    scaled MADs of their weekday before the level is averaged (None: no clipping). Level
    defaults were chosen on the Anonymous Bank's February-April 1999; the pooling and the
    day-of-month effect on the nested backtest's choose origins (bank before July 1999, IT desk
    March-April 2016), never on the origins it scores.

    Events: for every tag (holiday, holiday_eve, holiday_period, holiday_bridge, event:<name>)
    and class of day (full vs short business day), the model learns from past tagged days the
    ratio of the actual daily total to the clean weekday level around it, and their intraday
    shape; both are shrunk toward a prior when there are few examples: "no effect", except that
    a public holiday is first taken to look like the queue's quietest weekday. A user-given
    uplift overrides both.
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
        shrink: float | str = "auto",
        event_prior_days: float = 0.5,
        train_weeks: int = 26,
        ets_model: str = "ANA",
        outlier_mad: float | None = 3.0,
        day_of_month: bool = True,
        smooth_slots: float = 0.2,
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
        self.day_of_month = day_of_month
        self.smooth_slots = smooth_slots

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
        self.month_day_effect_ = (
            month_day_effect(daily, series.days, clean) if self.day_of_month else np.zeros(32)
        )
        daily = daily / np.exp(self.month_day_effect_[np.asarray(series.days.day)])
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
        """Intraday shares per weekday (7 x slots), pooled across weekdays, then smoothed
        across neighbouring intervals (:func:`~openwfm.forecast.base.smooth_shares`)."""
        pooled = self._pooled_profiles(series, filled, clean)
        return smooth_shares(pooled, series.open_slots, self.smooth_slots)

    def _pooled_profiles(self, series: QueueSeries, filled: np.ndarray, clean: np.ndarray):
        """Intraday shares per weekday (7 x slots), shrunk toward similar weekdays' pool."""
        profiles, noise = _weekday_profiles_noise(
            filled, series.days, clean, self.profile_weeks, self.profile_half_life_weeks
        )
        if self.shrink == "auto":
            pooled = pool_profiles(profiles, noise, self.short_weekday_.astype(int))
            pooled = np.where(series.open_slots, pooled, 0.0)
            sums = pooled.sum(axis=1, keepdims=True)
            return np.divide(pooled, sums, out=np.zeros_like(pooled), where=sums > 0)
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
        return base * np.exp(self.month_day_effect_[np.asarray(days.day)])

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
            found = self.event_ratio_.get(key)
            if found is None and (tag != "holiday" or classes[i] == "full"):
                # a holiday's ratio learned on business days does not carry to a quiet day (a
                # Sunday holiday is not a quarter of a Sunday): there the prior holds
                found = self.event_ratio_.get(tag)
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

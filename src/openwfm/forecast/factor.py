"""A factor model of daily profiles with correlated days (Shen & Huang 2008; Weinberg et al. 2007).

Counts are variance-stabilised (``y = sqrt(x + 1/4)``, the root-unroot transform for Poisson-like
counts). Each open day is one row of a day x interval matrix; each row minus its weekday's
recent mean is approximated by ``K`` intraday factors (the leading right singular vectors of the
centred matrix), so a day is summarised by ``K`` scores. The scores follow an AR(1) over open days
(a busy Monday makes a busy Tuesday likely), which is where the day-ahead gain over weekday
averages comes from. The same structure gives the intraday update: the morning's counts are a
noisy observation of the day's scores, and a Kalman-style step (prior = the day-ahead score
forecast, observation noise = the per-interval residual variance) re-estimates the scores and so
the rest of the day. With few observations the prior dominates, so an early update moves little.

Event days (holidays, user events) are left out of the fit; on a tagged future day the forecast
is the event-aware :class:`~openwfm.forecast.models.DailyProfile` model's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from openwfm.forecast.base import _daily_totals
from openwfm.forecast.history import QueueSeries
from openwfm.forecast.models import DailyProfile, ForecastModel, fill_missing
from openwfm.forecast.profile import month_day_effect

ROOT_SHIFT = 0.25  # y = sqrt(x + 1/4): Var(y) ~ 1/4 for Poisson counts


class FactorModel(ForecastModel):
    """Day x interval factor model with AR(1) day scores.

    Parameters: ``n_factors`` intraday factors K; ``train_weeks`` weeks of history fitted;
    ``level_half_life_weeks`` half-life of the exponentially weighted weekday mean (on the root
    scale) that the factors are centred on; ``max_ar`` upper bound of the AR(1) coefficient of
    the day scores (level shifts are followed by the weighted mean, not by a unit root);
    ``day_of_month``: counts are divided by the day-of-the-month multiplier of
    :func:`~openwfm.forecast.profile.month_day_effect` before the fit and multiplied back in the
    forecast.

    After ``fit``: ``weekday_mean_`` (7 x slots, root scale), ``factors_`` (K x slots),
    ``ar_`` (K), ``score_var_`` (K, innovation variance), ``last_scores_`` (K, of the last clean
    open day), ``noise_var_`` (slots, residual variance on the root scale).
    """

    name = "factor"

    def __init__(
        self,
        n_factors: int = 3,
        train_weeks: int = 16,
        level_half_life_weeks: float = 3.0,
        max_ar: float = 0.95,
        day_of_month: bool = True,
    ) -> None:
        self.n_factors = n_factors
        self.train_weeks = train_weeks
        self.level_half_life_weeks = level_half_life_weeks
        self.max_ar = max_ar
        self.day_of_month = day_of_month

    # -- fit -------------------------------------------------------------------------------
    def _fit(self, series: QueueSeries) -> None:
        n = min(series.n_days, 7 * self.train_weeks)
        days = series.days[-n:]
        open_ = series.open_mask(days)
        all_filled = fill_missing(series)
        self.month_day_effect_ = self._month_day_effect(series, all_filled)
        # counts per day divided by the day-of-month multiplier, restored in predict
        scale = np.exp(self.month_day_effect_[np.asarray(days.day)])[:, None]
        filled = all_filled[-n:] / scale
        observed = np.isfinite(series.values[-n:]) | ~open_
        root = np.where(open_, np.sqrt(np.nan_to_num(filled) + ROOT_SHIFT), 0.0)
        tags = self._tags(days)
        day_open = open_.any(axis=1)
        clean = day_open & (tags == "") & (observed.mean(axis=1) >= 0.5)
        wd = np.asarray(days.dayofweek)
        self.weekday_mean_ = self._weekday_means(root, wd, clean, day_open)
        resid = root - self.weekday_mean_[wd]
        self._fit_factors(resid, clean)
        scores = np.full((n, self.factors_.shape[0]), np.nan)
        scores[clean] = resid[clean] @ self.factors_.T
        self._fit_dynamics(scores[day_open])
        recon = resid[clean] - scores[clean] @ self.factors_
        noise = recon.var(axis=0) if clean.sum() > 1 else np.full(root.shape[1], ROOT_SHIFT)
        self.noise_var_ = np.maximum(noise, 0.05)
        self.history_open_days_ = day_open
        self._events_model = None

    def _tags(self, days: pd.DatetimeIndex) -> np.ndarray:
        if self.calendar_ is None:
            return np.full(len(days), "", dtype=object)
        return np.array(self.calendar_.tags(days, self.series_.queue), dtype=object)

    def _month_day_effect(self, series: QueueSeries, filled: np.ndarray) -> np.ndarray:
        """Log multiplier per day of the month (zeros unless ``day_of_month``)."""
        if not self.day_of_month:
            return np.zeros(32)
        total, share = _daily_totals(series, filled)
        with np.errstate(invalid="ignore", divide="ignore"):
            daily = np.where(share >= 0.5, total / np.maximum(share, 1e-9), np.nan)
        clean = (self._tags(series.days) == "") & (share >= 0.5)
        return month_day_effect(daily, series.days, clean)

    def _weekday_means(self, root, wd, clean, day_open) -> np.ndarray:
        means = np.zeros((7, root.shape[1]))
        for w in range(7):
            rows = np.flatnonzero((wd == w) & clean)
            if len(rows) == 0:
                rows = np.flatnonzero((wd == w) & day_open)
            if len(rows) == 0:
                continue
            age_weeks = (len(wd) - 1 - rows) / 7.0
            weight = 0.5 ** (age_weeks / self.level_half_life_weeks)
            means[w] = weight @ root[rows] / weight.sum()
        return means

    def _fit_factors(self, resid: np.ndarray, clean: np.ndarray) -> None:
        k = max(0, min(self.n_factors, int(clean.sum()) - 1, resid.shape[1]))
        if k == 0:
            self.factors_ = np.zeros((0, resid.shape[1]))
            return
        _, _, vt = np.linalg.svd(resid[clean], full_matrices=False)
        self.factors_ = vt[:k]

    def _fit_dynamics(self, scores: np.ndarray) -> None:
        """AR(1) per factor over consecutive open days; gaps (event days) break pairs."""
        k = scores.shape[1]
        ar = np.zeros(k)
        var = np.ones(k)
        last = np.zeros(k)
        steps_since = 1
        for j in range(k):
            s = scores[:, j]
            prev, cur = s[:-1], s[1:]
            ok = np.isfinite(prev) & np.isfinite(cur)
            denom = float(prev[ok] @ prev[ok]) if ok.any() else 0.0
            phi = float(prev[ok] @ cur[ok]) / denom if denom > 0 else 0.0
            ar[j] = min(max(phi, 0.0), self.max_ar)
            innov = cur[ok] - ar[j] * prev[ok]
            finite = s[np.isfinite(s)]
            var[j] = float(innov.var()) if ok.sum() > 2 else float(np.var(finite) or 1.0)
        finite_rows = np.flatnonzero(np.isfinite(scores).all(axis=1))
        if len(finite_rows):
            last = scores[finite_rows[-1]]
            steps_since = len(scores) - finite_rows[-1]
        self.ar_ = ar
        self.score_var_ = np.maximum(var, 1e-6)
        self.last_scores_ = np.asarray(last, dtype=float)
        self.last_scores_age_ = steps_since  # open days from the last clean day to the origin

    # -- predict ---------------------------------------------------------------------------
    def score_forecast(self, days: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
        """Mean (days x K) and variance (days x K) of the day scores of future ``days``."""
        open_days = self.series_.open_mask(days).any(axis=1)
        steps = np.cumsum(open_days) + (self.last_scores_age_ - 1)
        steps = np.maximum(steps, 1)
        power = self.ar_[None, :] ** steps[:, None]
        mean = power * self.last_scores_[None, :]
        # variance of a stationary AR(1) forecast: q * (1 - phi^(2h)) / (1 - phi^2)
        phi2 = self.ar_**2
        with np.errstate(divide="ignore", invalid="ignore"):
            growth = np.where(
                phi2 < 1,
                (1 - phi2[None, :] ** steps[:, None]) / (1 - phi2[None, :]),
                steps[:, None],
            )
        return mean, self.score_var_[None, :] * growth

    def root_forecast(self, days: pd.DatetimeIndex, scores: np.ndarray | None = None) -> np.ndarray:
        """Expected root-scale values (days x slots) given day scores (default: forecast)."""
        if scores is None:
            scores, _ = self.score_forecast(days)
        return self.weekday_mean_[np.asarray(days.dayofweek)] + scores @ self.factors_

    def to_counts(self, root: np.ndarray, score_var: np.ndarray | None = None) -> np.ndarray:
        """Back-transform: E[x] = E[y]^2 + Var(y) - 1/4, clipped at 0."""
        var = np.broadcast_to(self.noise_var_, root.shape).copy()
        if score_var is not None:
            var = var + score_var @ (self.factors_**2)
        return np.clip(np.maximum(root, 0.0) ** 2 + var - ROOT_SHIFT, 0.0, None)

    def _predict(self, days: pd.DatetimeIndex) -> np.ndarray:
        mean, var = self.score_forecast(days)
        out = self.to_counts(self.root_forecast(days, mean), var)
        out = out * np.exp(self.month_day_effect_[np.asarray(days.day)])[:, None]
        if self.calendar_ is not None:
            tags = np.array(self.calendar_.tags(days, self.series_.queue), dtype=object)
            if (tags != "").any():
                events = self._event_model()
                event_fc = events.predict(len(days))
                out[tags != ""] = np.nan_to_num(event_fc[tags != ""])
        return out

    def _event_model(self) -> DailyProfile:
        if self._events_model is None:
            self._events_model = DailyProfile(day_of_month=self.day_of_month).fit(
                self.series_, self.calendar_
            )
        return self._events_model

    # -- intraday ----------------------------------------------------------------------------
    def update_day(
        self,
        day: pd.Timestamp,
        observed: np.ndarray,
        expected: np.ndarray,
        prior_scale: float = 1.0,
    ) -> np.ndarray:
        """Expected counts of ``day`` (slots) after seeing some of its counts.

        ``expected`` is the forecast being updated (counts per slot, any model's); ``observed``
        has the actual counts, NaN where not yet known or closed. The day's factor scores are
        re-estimated by one Kalman step: the innovation is the root-scale gap between actual and
        expected, the prior covariance the day-ahead score forecast's, the noise the per-slot
        residual variance. The score shift moves every slot of the day along the factors, on
        the root scale. ``prior_scale`` multiplies the prior score variance (below 1: trust
        the forecast more). A day running exactly at ``expected`` is returned unchanged.
        """
        days = pd.date_range(self.series_.days[-1] + pd.Timedelta(days=1), day, freq="D")
        if len(days) == 0:
            raise ValueError("day must be after the history")
        _, var = self.score_forecast(days)
        wd = int(day.dayofweek)
        expected = np.nan_to_num(np.asarray(expected, dtype=float))
        root = np.sqrt(np.maximum(expected, 0.0) + ROOT_SHIFT)
        seen = np.isfinite(observed) & self.series_.open_slots[wd]
        if not seen.any() or self.factors_.shape[0] == 0:
            return expected.copy()
        f_obs = self.factors_[:, seen]  # K x m
        innovation = np.sqrt(observed[seen] + ROOT_SHIFT) - root[seen]
        p = np.diag(var[-1] * prior_scale)
        innov_cov = f_obs.T @ p @ f_obs + np.diag(self.noise_var_[seen])
        shift = p @ f_obs @ np.linalg.solve(innov_cov, innovation)  # K
        moved = np.maximum(root + shift @ self.factors_, 0.0)
        return np.clip(moved**2 - ROOT_SHIFT, 0.0, None)


class ProfileFactorBlend(ForecastModel):
    """Equal-weight mean of :class:`~openwfm.forecast.models.DailyProfile` and
    :class:`FactorModel`: two models with different errors (a smoothed weekday profile, and
    day scores that follow yesterday) average to a steadier forecast than either."""

    name = "blend"

    def _fit(self, series: QueueSeries) -> None:
        self.profile_ = DailyProfile().fit(series, self.calendar_)
        self.factor_ = FactorModel().fit(series, self.calendar_)

    def _predict(self, days: pd.DatetimeIndex) -> np.ndarray:
        n = len(days)
        return 0.5 * (
            np.nan_to_num(self.profile_.predict(n)) + np.nan_to_num(self.factor_.predict(n))
        )

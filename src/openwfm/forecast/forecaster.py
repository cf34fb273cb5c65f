"""The ``Forecaster`` facade: long history table in, long forecast table out.

``Forecaster(method="auto")`` picks per queue the method with the lowest WAPE in a rolling-origin
backtest over the end of that queue's own history, at the horizon asked for. Prediction
intervals come from a negative-binomial-shaped spread, ``sd = sqrt(f + phi * f**2)``, with
``phi`` chosen per queue and level so that the intervals cover 80% / 95% of the actuals in that
same backtest (calibration on past origins only, never on the period being forecast).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from openwfm.errors import DataError, ParameterError
from openwfm.forecast.backtest import backtest_series, origin_indices
from openwfm.forecast.events import Event, EventCalendar
from openwfm.forecast.factor import FactorModel
from openwfm.forecast.history import (
    QueueSeries,
    to_series,
    validate_history,
)
from openwfm.forecast.models import (
    METHODS,
    DailyProfile,
    ForecastModel,
    SeasonalNaive,
    WeekdayAverage,
    make_model,
)

# Candidates the auto pick compares: cheap enough for a per-queue backtest at every fit.
AUTO_CANDIDATES: dict[str, Callable[[], ForecastModel]] = {
    "classic": WeekdayAverage,
    "seasonal_naive": SeasonalNaive,
    "profile": DailyProfile,
    "profile_ew": lambda: DailyProfile(ets_weight=0.0),
    "factor": FactorModel,
}
Z = {80: 1.2815515655446004, 95: 1.959963984540054}
PHI_GRID = np.concatenate([[0.0], np.logspace(-4, 1, 80)])


def interval_bounds(forecast: np.ndarray, phi: float, level: int) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds of the central ``level``% interval around ``forecast``."""
    sd = np.sqrt(np.maximum(forecast, 0) + phi * forecast**2)
    z = Z[level]
    return np.maximum(forecast - z * sd, 0.0), forecast + z * sd


def calibrate_phi(actual: np.ndarray, forecast: np.ndarray, level: int) -> float:
    """Smallest dispersion ``phi`` whose ``level``% intervals cover that share of ``actual``."""
    if len(actual) == 0:
        return 0.1
    target = level / 100.0
    for phi in PHI_GRID:
        lo, hi = interval_bounds(forecast, phi, level)
        if np.mean((actual >= lo) & (actual <= hi)) >= target:
            return float(phi)
    return float(PHI_GRID[-1])


def forecast_aht(series: QueueSeries, days: pd.DatetimeIndex, weeks: int = 8) -> np.ndarray:
    """Handle time (s) per future interval: volume-weighted recent average per weekday x slot.

    Weights are the offered counts times an exponential decay (half-life 4 weeks) over the last
    ``weeks`` weeks; slots with no handled contacts fall back to the time-of-day average over all
    weekdays, then to the queue's overall average.
    """
    out = np.full((len(days), series.slots_per_day), np.nan)
    if series.aht_s is None:
        return out
    n = min(series.n_days, 7 * weeks)
    aht = series.aht_s[-n:]
    vol = np.nan_to_num(series.values[-n:])
    wd = np.asarray(series.days[-n:].dayofweek)
    age_weeks = (n - 1 - np.arange(n)) / 7
    weight = (0.5 ** (age_weeks / 4.0))[:, None] * vol * np.isfinite(aht)
    work = np.nan_to_num(aht) * weight
    overall = work.sum() / weight.sum() if weight.sum() > 0 else np.nan
    by_slot_w = weight.sum(axis=0)
    by_slot = np.divide(
        work.sum(axis=0), by_slot_w, out=np.full_like(by_slot_w, overall), where=by_slot_w > 0
    )
    table = np.empty((7, series.slots_per_day))
    for w in range(7):
        ww = weight[wd == w].sum(axis=0)
        table[w] = np.divide(work[wd == w].sum(axis=0), ww, out=by_slot.copy(), where=ww > 0)
    out = table[np.asarray(days.dayofweek)]
    return np.where(series.open_mask(days), out, np.nan)


class AutoPick(ForecastModel):
    """Best of ``candidates`` by WAPE in a rolling-origin backtest over the end of the history.

    The backtest uses ``n_origins`` origins ``step_days`` apart at the horizon ``horizon_days``.
    A few origins rank close candidates by noise: ``default`` (openwfm's own model) is kept
    unless another candidate's WAPE is lower by more than ``margin`` (a share of the default's),
    so a switch needs a clear gain, e.g. days that follow each other closely for the factor
    model. The margin (0.05) was chosen on the nested backtest's choose origins (Anonymous Bank
    before July 1999, IT service desk March-April 2016), not on the origins it scores.
    Its residuals of the chosen method also calibrate the interval dispersion ``phi_`` per level.
    With too little history for a backtest, openwfm's ``profile`` model is used (if a candidate).
    After ``fit``: ``chosen_``, ``scores_`` (method -> WAPE), ``phi_`` ({80: .., 95: ..}),
    ``model_``, ``backtest_`` (the chosen method's backtest rows, None without origins).
    """

    name = "auto"

    def __init__(
        self,
        candidates: dict[str, Callable[[], ForecastModel]] | None = None,
        horizon_days: int = 7,
        n_origins: int = 8,
        step_days: int = 2,
        default: str = "profile",
        margin: float = 0.05,
    ) -> None:
        self.candidates = candidates
        self.horizon_days = horizon_days
        self.n_origins = n_origins
        self.step_days = step_days
        self.default = default
        self.margin = margin

    def _fit(self, series: QueueSeries) -> None:
        candidates = dict(AUTO_CANDIDATES) if self.candidates is None else self.candidates
        origins = origin_indices(series.n_days, self.horizon_days, self.n_origins, self.step_days)
        if origins:
            bt = backtest_series(
                series, candidates, self.horizon_days, calendar=self.calendar_, origins=origins
            )
            err = (bt["forecast"] - bt["actual"]).abs().groupby(bt["method"]).sum()
            total = bt.groupby("method")["actual"].sum()
            wape = (err / total.where(total > 0, 1.0)).to_dict()
            best = min(candidates, key=lambda name: wape.get(name, np.inf))
            kept = wape.get(self.default, np.inf)
            if np.isfinite(kept) and wape.get(best, np.inf) >= (1 - self.margin) * kept:
                best = self.default
            picked = bt[bt["method"] == best]
            actual, fc = picked["actual"].to_numpy(), picked["forecast"].to_numpy()
            phi = {level: calibrate_phi(actual, fc, level) for level in (80, 95)}
            self.backtest_ = picked[["interval_start", "lead_day", "actual", "forecast"]]
        else:
            best = "profile" if "profile" in candidates else next(iter(candidates))
            wape, phi = {}, {80: 0.05, 95: 0.1}
            self.backtest_ = None
        self.chosen_ = best
        self.scores_ = {k: float(v) for k, v in wape.items()}
        self.phi_ = phi
        self.model_ = candidates[best]().fit(series, self.calendar_)

    def _predict(self, days: pd.DatetimeIndex) -> np.ndarray:
        return self.model_.predict(len(days))

    def bounds(self, forecast: np.ndarray, level: int) -> tuple[np.ndarray, np.ndarray]:
        """Interval bounds for a forecast of this model at ``level`` (80 or 95)."""
        return interval_bounds(forecast, self.phi_[level], level)


class Forecaster:
    """Volume (and handle-time) forecasts per queue and interval.

    Parameters: ``method`` "auto" or a name from :data:`~openwfm.forecast.models.METHODS`;
    ``models`` a list of model objects or factories to choose among instead (auto pick over
    them); ``horizon_days`` the horizon the auto pick is tuned for; ``country`` an ISO code for
    public holidays; ``events`` user events; ``backtest_origins`` / ``backtest_step_days`` the
    rolling origins of the auto pick and interval calibration; ``interval_minutes`` None to
    infer it from the history.

    After ``fit``: ``series_`` (per queue), ``chosen_`` (queue -> method name), ``scores_``
    (queue x method WAPE of the selection backtest), ``phi_`` (queue -> {80: phi, 95: phi}).
    """

    def __init__(
        self,
        method: str = "auto",
        models: Sequence[ForecastModel | Callable[[], ForecastModel]] | None = None,
        horizon_days: int = 7,
        country: str | None = None,
        events: Sequence[Event] = (),
        backtest_origins: int = 8,
        backtest_step_days: int = 2,
        interval_minutes: int | None = None,
    ) -> None:
        self.method = method
        self.models = models
        self.horizon_days = horizon_days
        self.country = country
        self.events = events
        self.backtest_origins = backtest_origins
        self.backtest_step_days = backtest_step_days
        self.interval_minutes = interval_minutes

    def _candidates(self) -> dict[str, Callable[[], ForecastModel]]:
        if self.models is not None:
            out: dict[str, Callable[[], ForecastModel]] = {}
            for m in self.models:
                if isinstance(m, ForecastModel):
                    out[m.name] = lambda m=m: _clone(m)
                else:
                    out[m().name] = m
            return out
        if self.method == "auto":
            return dict(AUTO_CANDIDATES)
        make_model(self.method)  # raises a one-line ParameterError for unknown names
        return {self.method: METHODS[self.method]}

    def fit(self, history: pd.DataFrame | dict[str, QueueSeries]) -> Forecaster:
        """Learn from a history table (``interval_start, queue, offered[, aht_s]``)."""
        if self.horizon_days < 1:
            raise ParameterError("horizon must be at least 1 day", field="horizon_days")
        if isinstance(history, dict):
            self.series_ = history
        else:
            self.series_ = to_series(validate_history(history), self.interval_minutes)
        self.calendar_ = EventCalendar(self.country, list(self.events))
        candidates = self._candidates()
        self.chosen_: dict[str, str] = {}
        self.scores_: dict[str, dict[str, float]] = {}
        self.phi_: dict[str, dict[int, float]] = {}
        self.models_: dict[str, AutoPick] = {}
        for queue, series in self.series_.items():
            model = AutoPick(
                candidates, self.horizon_days, self.backtest_origins, self.backtest_step_days
            ).fit(series, self.calendar_)
            self.chosen_[queue] = model.chosen_
            self.scores_[queue] = model.scores_
            self.phi_[queue] = model.phi_
            self.models_[queue] = model
        return self

    def predict(self, horizon_days: int | None = None) -> pd.DataFrame:
        """Forecast table for the days after each queue's history, open intervals only.

        Columns (:data:`openwfm.tables.FORECAST`): ``interval_start, queue, forecast,
        lower_80, upper_80, lower_95, upper_95, dispersion, method`` and ``aht_s`` (seconds)
        when the history has handle times. ``dispersion`` is the negative-binomial ``phi`` of
        the 80% interval: the count's variance is ``forecast + dispersion * forecast**2``.
        """
        if not hasattr(self, "models_"):
            raise ParameterError("call fit() before predict()", field="Forecaster")
        h = self.horizon_days if horizon_days is None else int(horizon_days)
        if h < 1:
            raise ParameterError("horizon must be at least 1 day", field="horizon_days")
        frames = []
        for queue, model in self.models_.items():
            series = self.series_[queue]
            fc = model.predict(h)
            days = pd.date_range(series.days[-1] + pd.Timedelta(days=1), periods=h, freq="D")
            mask = series.open_mask(days)
            step = pd.Timedelta(minutes=series.interval_minutes)
            starts = days.values[:, None] + np.arange(series.slots_per_day) * step.to_timedelta64()
            f = np.nan_to_num(fc[mask])
            frame = {"interval_start": starts[mask], "queue": queue, "forecast": f}
            for level in (80, 95):
                lo, hi = interval_bounds(f, self.phi_[queue][level], level)
                frame[f"lower_{level}"], frame[f"upper_{level}"] = lo, hi
            # what a simulation samples forecast uncertainty from (openwfm.tables.FORECAST)
            frame["dispersion"] = self.phi_[queue][80]
            frame["method"] = self.chosen_[queue]
            if series.aht_s is not None:
                frame["aht_s"] = forecast_aht(series, days)[mask]
            frames.append(pd.DataFrame(frame))
        if not frames:
            raise DataError("history has no queues", field="history")
        return pd.concat(frames, ignore_index=True)

    def update(
        self,
        actuals: pd.DataFrame,
        as_of: pd.Timestamp | str,
        forecast: pd.DataFrame | None = None,
        method: str = "auto",
    ) -> pd.DataFrame:
        """Re-forecast the rest of ``as_of``'s day from the actuals so far (intraday update).

        ``actuals``: ``interval_start, queue, offered`` of that day's intervals that ended by
        ``as_of`` (earlier days are ignored here: refit to learn from them). ``forecast``: the
        forecast table to update (a version a schedule was built on); default: this forecaster's
        own :meth:`predict` for that day, which must lie within 31 days after the history.
        ``method``: one of :data:`~openwfm.forecast.intraday.UPDATE_METHODS`; ``auto`` is
        ``learned``: the morning's level ratio raised to a power learned, with its window, for
        this cut-off time from this forecaster's day-ahead backtest over the last 120 days
        (:meth:`dayahead_backtests`), so an uninformative morning barely moves the forecast
        (without 10 such days: the shrunk ratio averaged with the half-shrunk window ratio).
        ``factor``: the day's scores of a :class:`~openwfm.forecast.factor.FactorModel`
        fitted on this history, re-estimated from the morning.

        Returns the forecast's columns for the intervals of that day ending after ``as_of`` (same
        queues), rescaled, with ``method`` naming the update used. Raises a one-line
        :class:`~openwfm.errors.DataError` for actuals after ``as_of``, of an unknown queue, of a
        closed interval, or duplicated; nothing is changed in place.
        """
        from openwfm.forecast.intraday import (
            FACTOR_METHODS,
            LEARNED_METHODS,
            update_forecast,
            validate_actuals,
        )

        if not hasattr(self, "models_"):
            raise ParameterError("call fit() before update()", field="Forecaster")
        as_of = pd.Timestamp(as_of)
        if getattr(as_of, "tz", None) is not None:
            as_of = as_of.tz_localize(None)
        minutes = next(iter(self.series_.values())).interval_minutes
        if forecast is None:
            last = max(s.days[-1] for s in self.series_.values())
            lead = (as_of.normalize() - last).days
            if not 1 <= lead <= 31:
                raise ParameterError(
                    f"as_of {as_of.isoformat()} is not within 31 days after the history "
                    f"(last day {last.date()}); pass the forecast to update",
                    field="as_of",
                )
            forecast = self.predict(lead)
        checked = validate_actuals(actuals, forecast, as_of, minutes)
        return update_forecast(
            forecast,
            checked,
            as_of,
            minutes,
            method,
            shrink_k=self.shrink_k_by_hour(),
            factor_models=self.factor_models() if method in FACTOR_METHODS else None,
            backtests=self.dayahead_backtests() if method in LEARNED_METHODS else None,
        )

    def dayahead_backtests(self) -> dict[str, pd.DataFrame | None]:
        """Per queue, the chosen method's day-ahead backtest over the last 120 days (cached):
        what the ``learned`` intraday update learns from."""
        from openwfm.forecast.level_update import dayahead_backtest

        if not hasattr(self, "dayahead_backtests_"):
            self.dayahead_backtests_ = {
                q: dayahead_backtest(m, self.series_[q], self.calendar_)
                for q, m in self.models_.items()
            }
        return self.dayahead_backtests_

    def shrink_k(self) -> dict[str, float]:
        """Per queue, the ``ratio_shrunk`` pseudo-count learned from the auto pick's backtest."""
        from openwfm.forecast.intraday import learn_shrinkage

        if not hasattr(self, "shrink_k_"):
            self.shrink_k_ = {
                q: learn_shrinkage(getattr(m, "backtest_", None)) for q, m in self.models_.items()
            }
        return self.shrink_k_

    def shrink_k_by_hour(self) -> dict[str, dict[int, float]]:
        """Per queue and cut-off hour, the learned ``ratio_shrunk`` pseudo-count (cached)."""
        from openwfm.forecast.intraday import learn_shrinkage_by_hour

        if not hasattr(self, "shrink_k_by_hour_"):
            self.shrink_k_by_hour_ = {
                q: learn_shrinkage_by_hour(getattr(m, "backtest_", None))
                for q, m in self.models_.items()
            }
        return self.shrink_k_by_hour_

    def factor_models(self) -> dict[str, FactorModel]:
        """Per queue, a factor model fitted on the history (for the model-based update; cached)."""
        if not hasattr(self, "factor_models_"):
            self.factor_models_ = {}
            for q, series in self.series_.items():
                model = self.models_[q].model_
                if not isinstance(model, FactorModel):
                    model = FactorModel().fit(series, self.calendar_)
                self.factor_models_[q] = model
        return self.factor_models_


def _clone(model: ForecastModel) -> ForecastModel:
    params = {k: v for k, v in vars(model).items() if not k.endswith("_")}
    return type(model)(**params)

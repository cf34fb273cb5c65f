"""Rolling-origin backtests and accuracy measures (WAPE, MASE, RMSE, bias) per method and lead.

An *origin* is the end of a history day: the model sees every day up to and including it and
forecasts the next ``horizon_days`` days. Only open slots with an observed actual are scored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

from openwfm.errors import DataError, ParameterError
from openwfm.forecast.events import EventCalendar
from openwfm.forecast.history import MIN_WEEKLY_HISTORY_DAYS, QueueSeries
from openwfm.forecast.models import ForecastModel

ModelFactory = Callable[[], ForecastModel]


def origin_indices(
    n_days: int,
    horizon_days: int,
    n_origins: int,
    step_days: int = 1,
    min_train_days: int = MIN_WEEKLY_HISTORY_DAYS,
) -> list[int]:
    """Training lengths (days) of the origins: the last ``n_origins`` that leave a full horizon."""
    last = n_days - horizon_days
    starts = list(range(last, min_train_days - 1, -step_days))[:n_origins]
    return sorted(starts)


def backtest_series(
    series: QueueSeries,
    factories: dict[str, ModelFactory],
    horizon_days: int,
    n_origins: int = 8,
    step_days: int = 1,
    calendar: EventCalendar | None = None,
    origins: Iterable[int] | None = None,
    on_origin: Callable[[], None] | None = None,
) -> pd.DataFrame:
    """Forecasts against actuals for one queue at rolling origins.

    Returns a long table ``queue, method, origin, interval_start, lead_day, actual, forecast``
    (open slots with an actual only). ``origins`` are training lengths in days (default: the last
    ``n_origins`` with ``step_days`` between them).
    """
    if origins is None:
        origins = origin_indices(series.n_days, horizon_days, n_origins, step_days)
    origins = list(origins)
    if not origins:
        raise DataError(
            f"queue {series.queue!r}: {series.n_days} days of history leave no backtest origin "
            f"for a {horizon_days}-day horizon; need at least "
            f"{MIN_WEEKLY_HISTORY_DAYS + horizon_days} days",
            field="history",
        )
    slots = series.slots_per_day
    step = pd.Timedelta(minutes=series.interval_minutes)
    frames = []
    for n_train in origins:
        train = series.head(n_train)
        actual = series.values[n_train : n_train + horizon_days]
        h = actual.shape[0]
        days = series.days[n_train : n_train + h]
        starts = (days.values[:, None] + np.arange(slots)[None, :] * step.to_timedelta64()).ravel()
        lead = np.repeat(np.arange(1, h + 1), slots)
        ok = np.isfinite(actual).ravel() & series.open_mask(days).ravel()
        for name, factory in factories.items():
            model = factory().fit(train, calendar)
            forecast = np.nan_to_num(model.predict(h).ravel()[ok])
            extra = {}
            if hasattr(model, "bounds"):  # models that carry calibrated intervals
                for level in (80, 95):
                    lo, hi = model.bounds(forecast, level)
                    extra[f"lower_{level}"], extra[f"upper_{level}"] = lo, hi
            frames.append(
                pd.DataFrame(
                    {
                        "queue": series.queue,
                        "method": name,
                        "origin": series.days[n_train - 1],
                        "interval_start": starts[ok],
                        "lead_day": lead[ok],
                        "actual": actual.ravel()[ok],
                        "forecast": forecast,
                        **extra,
                    }
                )
            )
        if on_origin is not None:
            on_origin()
    return pd.concat(frames, ignore_index=True)


def seasonal_scale(series: QueueSeries, until_day: int | None = None) -> float:
    """MASE scale: mean absolute change from the same interval one week earlier."""
    values = series.values if until_day is None else series.values[:until_day]
    if len(values) <= 7:
        return float("nan")
    diff = np.abs(values[7:] - values[:-7])
    return float(np.nanmean(diff)) if np.isfinite(diff).any() else float("nan")


def accuracy(
    results: pd.DataFrame,
    by: tuple[str, ...] = ("method",),
    scale: float | dict[str, float] | None = None,
) -> pd.DataFrame:
    """WAPE, MASE, RMSE and bias of a backtest table, grouped by ``by``.

    WAPE = sum|actual - forecast| / sum(actual); bias = sum(forecast - actual) / sum(actual)
    (positive = over-forecast); RMSE in contacts per interval; MASE = mean absolute error /
    ``scale`` (per queue when a dict), the in-sample weekly seasonal naive error.
    """
    if not set(by) <= set(results.columns):
        raise ParameterError(f"cannot group by {by}", field="by")
    frame = results.assign(
        abs_error=(results["forecast"] - results["actual"]).abs(),
        error=results["forecast"] - results["actual"],
        sq_error=(results["forecast"] - results["actual"]) ** 2,
    )
    if isinstance(scale, dict):
        frame["scale"] = frame["queue"].map(scale).astype(float)
    else:
        frame["scale"] = np.nan if scale is None else float(scale)
    frame["scaled_error"] = frame["abs_error"] / frame["scale"]
    grouped = frame.groupby(list(by), sort=True)
    table = pd.DataFrame(
        {
            "n": grouped.size(),
            "wape": grouped["abs_error"].sum() / grouped["actual"].sum(),
            "mase": grouped["scaled_error"].mean(),
            "rmse": np.sqrt(grouped["sq_error"].mean()),
            "bias": grouped["error"].sum() / grouped["actual"].sum(),
        }
    )
    return table.reset_index()


def poisson_mean_abs_deviation(rate: np.ndarray | float) -> np.ndarray:
    """``E|N - rate|`` for Poisson counts ``N`` with mean ``rate`` (contacts per interval).

    Closed form ``2 * rate * P(N = floor(rate))`` (the Poisson mean absolute deviation,
    Ramasubban 1958); about ``sqrt(2 * rate / pi)`` for large rates, 0 at rate 0.
    """
    from scipy.special import gammaln

    lam = np.asarray(rate, dtype=float)
    if (lam < 0).any() or not np.isfinite(lam).all():
        raise ParameterError("rates must be finite and non-negative", field="rate")
    positive = np.where(lam > 0, lam, 1.0)  # rate 0: no deviation (kept out of the logs)
    k = np.floor(positive)
    log_pmf = k * np.log(positive) - positive - gammaln(k + 1)
    return np.where(lam > 0, 2.0 * positive * np.exp(log_pmf), 0.0)


def poisson_floor_wape(rate: np.ndarray) -> float:
    """WAPE that a forecast equal to the true ``rate`` (per interval) would score when the
    counts are Poisson: ``sum E|N - rate| / sum rate``. The noise floor no forecast beats in
    expectation; it grows as intervals get shorter (about ``sqrt(2 / (pi * rate))`` each)."""
    lam = np.asarray(rate, dtype=float).ravel()
    total = float(lam.sum())
    if total <= 0:
        raise ParameterError("rates sum to zero: no floor", field="rate")
    return float(poisson_mean_abs_deviation(lam).sum() / total)


def coverage(results: pd.DataFrame, lower: str = "lower_80", upper: str = "upper_80") -> float:
    """Share of actuals inside [lower, upper]."""
    inside = (results["actual"] >= results[lower]) & (results["actual"] <= results[upper])
    return float(inside.mean())

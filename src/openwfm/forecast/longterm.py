"""Long-term forecasts: weekly or monthly totals (volume and handle time), 3-18 months ahead.

The model works on *daily* totals, so that holidays and user events, which move from year to
year and week to week, are placed on their real dates, and then sums the days into weeks
(starting Monday) or calendar months:

``daily(d) = level(week of d) x weekday(d) x yearly(d) x event(d)``

* ``weekday``: the median ratio of a clean day to its week's mean, per weekday, over the last
  ``weekday_weeks`` weeks;
* ``event``: per tag (``holiday``, ``holiday_eve``, ``holiday_period``, ``event:<name>``), the
  median ratio of tagged days to the clean level around them, shrunk toward a prior (a public
  holiday first looks like the quietest weekday; other tags: no effect) when examples are few; a
  user event's ``uplift`` (a campaign adds 20%: 1.2) is taken as given;
* ``yearly``: with at least two years of history, a smooth yearly index (``yearly_harmonics``
  Fourier terms on the log of the weekly level, fitted with a linear trend); without, none;
* ``level``: the clean, de-seasonalised weekly level follows statsforecast's AutoETS (no season;
  additive or damped trend chosen by AICc), which gives the trend and the prediction intervals
  of the level; the intervals are carried to the period totals by their relative width.

Handle time (when the history has ``aht_s``): the volume-weighted mean of the last
``aht_weeks`` weeks, with intervals from the spread of weekly means.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from openwfm.errors import DataError, ParameterError
from openwfm.forecast.events import Event, EventCalendar
from openwfm.forecast.history import QueueSeries, to_series, validate_history

GRANULARITIES = ("week", "month")
LEVELS = (80, 95)


def daily_totals(series: QueueSeries) -> pd.DataFrame:
    """Daily offered totals of a queue (``day, offered, aht_s``), NaN for days mostly missing.

    A day with some open slots missing is scaled up by the share of its weekday's volume that
    was observed (from the mean weekday profile); under half observed counts as missing.
    """
    values = series.values
    open_ = series.open_mask(series.days)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        profile = np.nanmean(np.where(open_, values, np.nan), axis=0)
    profile = np.nan_to_num(profile)
    weight = np.where(open_, profile[None, :], 0.0)
    seen = np.isfinite(values) & open_
    total_w = weight.sum(axis=1)
    share = np.divide(
        (weight * seen).sum(axis=1), total_w, out=np.zeros(len(values)), where=total_w > 0
    )
    share[(total_w == 0) & seen.any(axis=1)] = 1.0
    offered = np.nansum(np.where(seen, values, 0.0), axis=1)
    offered = np.where(share >= 0.5, offered / np.maximum(share, 1e-9), np.nan)
    offered[~open_.any(axis=1)] = 0.0  # closed all day: a real zero
    frame = pd.DataFrame({"day": series.days, "offered": offered})
    if series.aht_s is not None:
        work = np.nansum(np.where(seen, values * np.nan_to_num(series.aht_s), 0.0), axis=1)
        calls = np.nansum(np.where(seen & np.isfinite(series.aht_s), values, 0.0), axis=1)
        frame["aht_s"] = np.divide(work, calls, out=np.full(len(calls), np.nan), where=calls > 0)
        frame["calls_with_aht"] = calls
    return frame


class LongTermForecaster:
    """Weekly or monthly totals per queue with trend, yearly seasonality, holidays and events.

    Parameters: ``granularity`` ``week`` (Monday-start weeks) or ``month``; ``country`` ISO code
    for public holidays; ``events`` user events (with ``uplift`` the multiplier is given);
    ``weekday_weeks`` weeks used for the weekday pattern; ``yearly_harmonics`` Fourier terms of
    the yearly season (used with two years of history or more); ``event_prior_days`` weight of
    the prior of an event ratio, in days; ``aht_weeks`` weeks of the handle-time average.

    After ``fit``: ``daily_`` (queue -> daily totals), ``weekday_factor_``, ``event_ratio_``,
    ``yearly_`` (queue -> Fourier coefficients or None), ``level_model_`` (queue -> AutoETS).
    """

    def __init__(
        self,
        granularity: str = "week",
        country: str | None = None,
        events: Sequence[Event] = (),
        weekday_weeks: int = 12,
        yearly_harmonics: int = 4,
        event_prior_days: float = 0.5,
        aht_weeks: int = 8,
    ) -> None:
        self.granularity = granularity
        self.country = country
        self.events = events
        self.weekday_weeks = weekday_weeks
        self.yearly_harmonics = yearly_harmonics
        self.event_prior_days = event_prior_days
        self.aht_weeks = aht_weeks

    def fit(self, history: pd.DataFrame | dict[str, QueueSeries]) -> LongTermForecaster:
        """Learn from an interval history (``interval_start, queue, offered[, aht_s]``)."""
        if self.granularity not in GRANULARITIES:
            raise ParameterError(
                f"unknown granularity {self.granularity!r}; expected week or month",
                field="granularity",
            )
        series = history if isinstance(history, dict) else to_series(validate_history(history))
        self.calendar_ = EventCalendar(self.country, list(self.events))
        self.fits_ = {}
        for queue, one in series.items():
            daily = daily_totals(one)
            if np.isfinite(daily["offered"]).sum() < 28:
                raise DataError(
                    f"queue {queue!r} has {int(np.isfinite(daily['offered']).sum())} days with "
                    "data; a long-term forecast needs at least 4 weeks",
                    field="history",
                )
            self.fits_[queue] = _fit_queue(self, queue, daily, one.open_slots.any(axis=1))
        return self

    def predict(self, horizon_days: int) -> pd.DataFrame:
        """Totals per period for the ``horizon_days`` days after each queue's history.

        Columns: ``period_start, queue, days, forecast, lower_80, upper_80, lower_95,
        upper_95`` and, with handle times in the history, ``aht_s, aht_lower_80, aht_upper_80``.
        ``days`` counts the forecast days in the period (the first and last period may be
        partial: only their future days are in the total).
        """
        if not hasattr(self, "fits_"):
            raise ParameterError("call fit() before predict()", field="LongTermForecaster")
        if horizon_days < 1:
            raise ParameterError("horizon must be at least 1 day", field="horizon_days")
        frames = [_predict_queue(self, q, fit, horizon_days) for q, fit in self.fits_.items()]
        return pd.concat(frames, ignore_index=True)


# -- fitting ---------------------------------------------------------------------------------
def _fit_queue(owner: LongTermForecaster, queue: str, daily: pd.DataFrame, open_days):
    days = pd.DatetimeIndex(daily["day"])
    y = daily["offered"].to_numpy(float)
    tags = np.array(owner.calendar_.tags(days, queue), dtype=object)
    wd = np.asarray(days.dayofweek)
    clean = np.isfinite(y) & (tags == "")
    weekday = _weekday_factors(y, days, clean, open_days, owner.weekday_weeks)
    base = y / np.where(weekday[wd] > 0, weekday[wd], np.nan)
    week = days.to_period("W-SUN").start_time
    level = pd.Series(np.where(clean, base, np.nan)).groupby(week).mean()
    level = level.interpolate(limit_direction="both")
    ratios = _event_ratios(y, base, tags, weekday, wd, week, level)
    yearly = None
    if len(level) >= 104 and owner.yearly_harmonics > 0:
        yearly = _fit_yearly(level, owner.yearly_harmonics)
        level = level / np.exp(_yearly_terms(level.index, owner.yearly_harmonics) @ yearly)
    from statsforecast.models import AutoETS

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values = np.log(np.maximum(level.to_numpy(float), 1e-3))
        model = AutoETS(season_length=1, model="ZZN").fit(y=values)
    aht = None
    if "aht_s" in daily.columns:
        aht = _aht_summary(daily, week, owner.aht_weeks)
    return {
        "last_day": days[-1],
        "weekday": weekday,
        "ratios": ratios,
        "yearly": yearly,
        "level_model": model,
        "level_last_week": level.index[-1],
        "quiet": float(weekday[weekday > 0].min()) if (weekday > 0).any() else 1.0,
        "aht": aht,
        "open_days": open_days,
    }


def _weekday_factors(y, days, clean, open_days, n_weeks) -> np.ndarray:
    """Median ratio of a clean day to its week's clean mean, per weekday (1 = average day)."""
    week = days.to_period("W-SUN").start_time
    frame = pd.DataFrame({"y": np.where(clean, y, np.nan), "week": week, "wd": days.dayofweek})
    recent = frame[frame["week"] >= frame["week"].max() - pd.Timedelta(weeks=n_weeks)]
    means = recent.groupby("week")["y"].transform("mean")
    ratio = (recent["y"] / means).groupby(recent["wd"]).median()
    factors = np.array([float(ratio.get(w, np.nan)) for w in range(7)])
    factors = np.where(np.isfinite(factors), factors, 1.0)
    factors[~np.asarray(open_days)] = 0.0
    return factors


def _event_ratios(y, base, tags, weekday, wd, week, level) -> dict[str, tuple[float, int]]:
    """Per tag: median of (day / (its week's clean level x weekday)) and the number of days."""
    out: dict[str, tuple[float, int]] = {}
    expected = level.reindex(week).to_numpy(float) * weekday[wd]
    for tag in sorted(set(tags) - {""}):
        sel = (tags == tag) & np.isfinite(y) & (expected > 0)
        if sel.any():
            out[tag] = (float(np.median(y[sel] / expected[sel])), int(sel.sum()))
    return out


def _yearly_terms(index: pd.DatetimeIndex, harmonics: int) -> np.ndarray:
    t = 2 * np.pi * np.asarray(index.dayofyear, dtype=float) / 365.25
    cols = []
    for k in range(1, harmonics + 1):
        cols += [np.sin(k * t), np.cos(k * t)]
    return np.column_stack(cols)


def _fit_yearly(level: pd.Series, harmonics: int) -> np.ndarray:
    """Fourier coefficients of the log weekly level, fitted beside a linear trend."""
    index = pd.DatetimeIndex(level.index)
    terms = _yearly_terms(index, harmonics)
    trend = np.arange(len(level), dtype=float)[:, None]
    design = np.column_stack([np.ones(len(level)), trend, terms])
    coef, *_ = np.linalg.lstsq(design, np.log(np.maximum(level.to_numpy(float), 1e-3)), rcond=None)
    return coef[2:]


def _aht_summary(daily: pd.DataFrame, week, n_weeks: int) -> dict[str, float]:
    frame = pd.DataFrame(
        {
            "work": daily["aht_s"].fillna(0) * daily["calls_with_aht"],
            "calls": daily["calls_with_aht"],
            "week": week,
        }
    )
    weekly = frame.groupby("week")[["work", "calls"]].sum().tail(n_weeks)
    weekly = weekly[weekly["calls"] > 0]
    if weekly.empty:
        return {"mean": np.nan, "sd": np.nan}
    means = weekly["work"] / weekly["calls"]
    return {
        "mean": float(weekly["work"].sum() / weekly["calls"].sum()),
        "sd": float(means.std(ddof=1)) if len(means) > 1 else 0.0,
    }


# -- predicting --------------------------------------------------------------------------------
def _event_factor(owner: LongTermForecaster, fit: dict, tag: str, weekday_factor: float) -> float:
    if tag == "":
        return 1.0
    given = owner.calendar_.given_uplift(tag)
    if given is not None:
        return float(given)
    prior = 1.0
    if tag == "holiday" and weekday_factor > 0:
        prior = fit["quiet"] / weekday_factor
    found = fit["ratios"].get(tag)
    if found is None:
        return prior
    ratio, n = found
    k = owner.event_prior_days
    return (n * ratio + k * prior) / (n + k)


def _predict_queue(owner: LongTermForecaster, queue: str, fit: dict, horizon: int) -> pd.DataFrame:
    days = pd.date_range(fit["last_day"] + pd.Timedelta(days=1), periods=horizon, freq="D")
    week = days.to_period("W-SUN").start_time
    weeks = pd.DatetimeIndex(sorted(set(week)))
    ahead = ((weeks - fit["level_last_week"]).days // 7).to_numpy()
    h = int(max(ahead.max(), 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fc = fit["level_model"].predict(h=h, level=list(LEVELS))
    step = np.clip(ahead, 1, h) - 1
    log_mean = np.asarray(fc["mean"])[step]
    level = pd.Series(np.exp(log_mean), index=weeks)
    bands = {
        (lvl, side): pd.Series(np.exp(np.asarray(fc[f"{side}-{lvl}"])[step] - log_mean), weeks)
        for lvl in LEVELS
        for side in ("lo", "hi")
    }
    wd = np.asarray(days.dayofweek)
    tags = owner.calendar_.tags(days, queue)
    factor = np.array(
        [_event_factor(owner, fit, t, fit["weekday"][w]) for t, w in zip(tags, wd, strict=True)]
    )
    daily = level.reindex(week).to_numpy() * fit["weekday"][wd] * factor
    if fit["yearly"] is not None:
        daily = daily * np.exp(_yearly_terms(days, len(fit["yearly"]) // 2) @ fit["yearly"])
    if owner.granularity == "week":
        period = week
    else:
        period = days.to_period("M").start_time
    frame = pd.DataFrame({"period_start": period, "week": week, "forecast": daily})
    for (lvl, side), ratio in bands.items():
        frame[f"{side}{lvl}"] = daily * ratio.reindex(week).to_numpy()
    out = frame.groupby("period_start").agg(
        days=("forecast", "size"),
        forecast=("forecast", "sum"),
        **{f"{side}{lvl}": (f"{side}{lvl}", "sum") for lvl in LEVELS for side in ("lo", "hi")},
    )
    result = pd.DataFrame(
        {
            "period_start": out.index,
            "queue": queue,
            "days": out["days"].to_numpy(),
            "forecast": out["forecast"].to_numpy(),
        }
    )
    for lvl in LEVELS:
        result[f"lower_{lvl}"] = out[f"lo{lvl}"].to_numpy()
        result[f"upper_{lvl}"] = out[f"hi{lvl}"].to_numpy()
    if fit["aht"] is not None:
        z = 1.2815515655446004
        result["aht_s"] = fit["aht"]["mean"]
        result["aht_lower_80"] = max(fit["aht"]["mean"] - z * fit["aht"]["sd"], 0.0)
        result["aht_upper_80"] = fit["aht"]["mean"] + z * fit["aht"]["sd"]
    return result

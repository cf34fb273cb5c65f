"""Intraday re-forecast: the rest of today from the actuals so far.

A day's forecast is updated at a cut-off ``as_of`` from the actual counts of the intervals that
ended by then. Every method returns, per interval after the cut-off, a multiplier on the original
forecast:

* ``none``: 1 (the un-updated forecast);
* ``ratio``: the vendors' cumulative ratio, actual / forecast over the day so far;
* ``ratio_window``: the same ratio over the last ``window_minutes`` before ``as_of``;
* ``ratio_half``: the cumulative ratio shrunk halfway toward 1, ``1 + (r - 1) / 2``;
* ``ratio_shrunk``: the cumulative ratio shrunk toward 1 with a weight that grows with the volume
  seen, ``w = F / (F + k)`` (``F`` = forecast volume so far). ``k`` (contacts) is learned from
  history per cut-off hour by :func:`learn_shrinkage_by_hour` (the value with the lowest
  rest-of-day absolute error on past days at that hour); without history
  :data:`DEFAULT_SHRINK_K`. This is the empirical-Bayes weight ``tau^2 / (tau^2 + phi / F)``
  with ``k = phi / tau^2`` (count dispersion over the variance of the daily level error), so an
  early ratio built on few contacts barely moves the forecast;
* ``factor``: model-based: the day's factor scores of a
  :class:`~openwfm.forecast.factor.FactorModel` are re-estimated from the morning (Kalman step,
  prior = the day-ahead score forecast), and the multiplier is posterior / prior per interval.
  It also learns *shape* (a busy morning peak that predicts a busy afternoon peak);
* ``learned``: the morning's level ratio over a window, raised to a power ``beta``; window and
  ``beta`` learned per cut-off time from the forecaster's day-ahead backtest over the last 120
  days (:mod:`openwfm.forecast.level_update`), so early in the day, where the morning says
  little, it barely moves and later it trusts the actuals;
* ``learned_factor``: the mean of the ``learned`` and ``factor`` multipliers (level and shape);
* ``auto`` (default): ``learned`` when there are at least 10 past days to learn from, otherwise
  (reported as ``ratio_shrunk+window``) the mean of the ``ratio_shrunk`` multiplier and the
  window ratio over the last ``window_minutes`` shrunk halfway toward 1. ``bench/intraday.py``
  chooses on April-June and scores July-December on the Anonymous Bank.

A multiplier never turns a forecast negative; prediction bounds are scaled with the forecast.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from openwfm.errors import ParameterError

if TYPE_CHECKING:
    from openwfm.forecast.factor import FactorModel
    from openwfm.forecast.forecaster import Forecaster
    from openwfm.forecast.level_update import LevelRule

UPDATE_METHODS = (
    "auto",
    "none",
    "ratio",
    "ratio_window",
    "ratio_half",
    "ratio_shrunk",
    "learned",
    "factor",
    "learned_factor",
)
FACTOR_METHODS = ("factor", "learned_factor")  # updates that need a fitted factor model
LEARNED_METHODS = ("auto", "learned", "learned_factor")  # updates that learn from a backtest
DEFAULT_SHRINK_K = 150.0  # contacts: phi ~ 1.5 over a 10% daily level error (tau^2 = 0.01)
# Prior score variance of the factor update relative to the model's own AR(1) forecast variance;
# chosen on Anonymous Bank days of April-June 1999 (x0.5 beat x1 and x0.25 at 12:00; x1 was
# worse than no update at 09:00-12:00 there), before the July-December days the bench scores.
FACTOR_PRIOR_SCALE = 0.5
K_GRID = np.concatenate([[0.0], np.logspace(0, 5, 41)])
SCALED_COLUMNS = ("forecast", "lower_80", "upper_80", "lower_95", "upper_95")


@dataclass(frozen=True)
class CutoffState:
    """What the day so far says: forecast and actual volume before the cut-off, in contacts."""

    forecast_so_far: float
    actual_so_far: float
    forecast_window: float
    actual_window: float

    @property
    def ratio(self) -> float:
        """Cumulative actual / forecast (1 when nothing was forecast)."""
        return self.actual_so_far / self.forecast_so_far if self.forecast_so_far > 0 else 1.0


def shrunk_ratio(state: CutoffState, k: float) -> float:
    """Cumulative ratio shrunk toward 1 with weight ``F / (F + k)``."""
    f = state.forecast_so_far
    weight = f / (f + k) if f + k > 0 else 0.0
    return 1.0 + weight * (state.ratio - 1.0)


def ratio_multiplier(method: str, state: CutoffState, k: float = DEFAULT_SHRINK_K) -> float:
    """Multiplier of a ratio method (see the module docstring) for the rest of the day."""
    if method == "none":
        return 1.0
    if method == "ratio":
        return state.ratio
    if method == "ratio_window":
        f = state.forecast_window
        return state.actual_window / f if f > 0 else 1.0
    if method == "ratio_half":
        return 1.0 + 0.5 * (state.ratio - 1.0)
    if method == "ratio_shrunk":
        return shrunk_ratio(state, k)
    raise ParameterError(
        f"unknown update method {method!r}; expected one of {', '.join(UPDATE_METHODS)}",
        field="method",
    )


def learn_shrinkage(
    backtest: pd.DataFrame, cutoff_hours: tuple[int, ...] = (9, 10, 11, 12, 13, 14, 15, 16)
) -> float:
    """Pseudo-count ``k`` (contacts) of ``ratio_shrunk`` that best re-forecasts past days.

    ``backtest`` has ``interval_start, actual, forecast`` rows of past days (e.g. the auto pick's
    own rolling-origin backtest). For each day and cut-off hour, the rest of the day is scaled by
    the shrunk ratio; ``k`` minimises the total absolute error over all of them (grid search).
    Returns :data:`DEFAULT_SHRINK_K` when there are no usable days.
    """
    if backtest is None or len(backtest) == 0:
        return DEFAULT_SHRINK_K
    frame = backtest[["interval_start", "actual", "forecast"]].copy()
    frame["interval_start"] = pd.to_datetime(frame["interval_start"])
    frame = frame.groupby("interval_start", as_index=False).mean()  # one row per interval
    day = frame["interval_start"].dt.normalize()
    hour = frame["interval_start"].dt.hour.to_numpy()
    cases_f, cases_a, rest_a, rest_f = [], [], [], []
    for _, idx in frame.groupby(day).indices.items():
        a = frame["actual"].to_numpy()[idx]
        f = frame["forecast"].to_numpy()[idx]
        h = hour[idx]
        for cut in cutoff_hours:
            before, after = h < cut, h >= cut
            if not before.any() or not after.any() or f[before].sum() <= 0:
                continue
            cases_f.append(f[before].sum())
            cases_a.append(a[before].sum())
            rest_a.append(a[after])
            rest_f.append(f[after])
    if not cases_f:
        return DEFAULT_SHRINK_K
    f_so_far, a_so_far = np.array(cases_f), np.array(cases_a)
    best_k, best_err = DEFAULT_SHRINK_K, np.inf
    for k in K_GRID:
        weight = f_so_far / (f_so_far + k)
        mult = 1.0 + weight * (a_so_far / f_so_far - 1.0)
        err = sum(np.abs(ra - m * rf).sum() for ra, rf, m in zip(rest_a, rest_f, mult, strict=True))
        if err < best_err - 1e-9:
            best_k, best_err = float(k), err
    return best_k


def learn_shrinkage_by_hour(backtest: pd.DataFrame | None) -> dict[int, float]:
    """Per cut-off hour (0-23), the ``ratio_shrunk`` pseudo-count learned on that hour alone.

    How much a morning ratio says about the rest of the day depends on the time of day (the
    first hours' share of the day varies more), so ``k`` is learned per hour; hours without a
    usable past case get the ``k`` learned on all hours 9-16 (:func:`learn_shrinkage`).
    """
    pooled = learn_shrinkage(backtest)
    if backtest is None or len(backtest) == 0:
        return dict.fromkeys(range(24), pooled)
    hours = pd.to_datetime(backtest["interval_start"]).dt.hour
    out = {}
    for hour in range(24):
        usable = (hours < hour).any() and (hours >= hour).any()
        out[hour] = learn_shrinkage(backtest, (hour,)) if usable else pooled
    return out


def cutoff_state(
    forecast_before: np.ndarray,
    actual_before: np.ndarray,
    starts_before: np.ndarray,
    as_of: pd.Timestamp,
    window_minutes: int,
) -> CutoffState:
    """Totals so far and over the last ``window_minutes`` (rows with an actual only)."""
    window_start = np.datetime64(as_of - pd.Timedelta(minutes=window_minutes))
    in_window = starts_before >= window_start
    return CutoffState(
        float(forecast_before.sum()),
        float(actual_before.sum()),
        float(forecast_before[in_window].sum()),
        float(actual_before[in_window].sum()),
    )


def update_queue_day(
    forecast_day: pd.DataFrame,
    actual_day: pd.DataFrame,
    as_of: pd.Timestamp,
    interval_minutes: int,
    method: str = "auto",
    shrink_k: float | dict[int, float] = DEFAULT_SHRINK_K,
    factor_model: FactorModel | None = None,
    window_minutes: int = 120,
    level_rule: LevelRule | None = None,
) -> pd.DataFrame:
    """Re-forecast one queue's day: the rows of ``forecast_day`` after ``as_of``, rescaled.

    ``forecast_day``: that day's forecast rows (``interval_start, forecast`` and optional bound
    columns). ``actual_day``: ``interval_start, offered`` of that day's intervals ended by
    ``as_of``. ``factor_model``: a fitted :class:`~openwfm.forecast.factor.FactorModel` of the
    queue (needed by ``factor``); ``level_rule``: the
    :class:`~openwfm.forecast.level_update.LevelRule` learned for this cut-off (needed by
    ``learned``; ``auto`` uses it when given). Returns
    the rows of intervals ending after ``as_of`` with the forecast (and bounds) multiplied and a
    ``method`` column naming the update used.
    """
    if method not in UPDATE_METHODS:
        raise ParameterError(
            f"unknown update method {method!r}; expected one of {', '.join(UPDATE_METHODS)}",
            field="method",
        )
    step = pd.Timedelta(minutes=interval_minutes)
    fc = forecast_day.sort_values("interval_start").reset_index(drop=True)
    starts = pd.to_datetime(fc["interval_start"])
    rest = (starts + step) > as_of
    merged = fc.loc[~rest, ["interval_start", "forecast"]].merge(
        actual_day[["interval_start", "offered"]], on="interval_start", how="inner"
    )
    state = cutoff_state(
        merged["forecast"].to_numpy(float),
        merged["offered"].to_numpy(float),
        pd.to_datetime(merged["interval_start"]).to_numpy(),
        as_of,
        window_minutes,
    )
    if isinstance(shrink_k, dict):  # learned per cut-off hour
        shrink_k = shrink_k.get(as_of.hour, DEFAULT_SHRINK_K)
    used = method
    if method == "auto":
        used = "learned" if level_rule is not None else "ratio_shrunk+window"
    out = fc.loc[rest].copy()
    if used in ("learned", "learned_factor"):
        if level_rule is None:
            raise ParameterError(
                "the learned update needs at least 10 past days of history to learn from",
                field="method",
            )
        seen = pd.to_datetime(merged["interval_start"]).to_numpy()
        level = level_rule.multiplier(
            seen, merged["offered"].to_numpy(float), merged["forecast"].to_numpy(float), as_of
        )
        mult = np.full(len(out), level)
    if used in ("factor", "learned_factor"):
        if factor_model is None:
            raise ParameterError(
                "the factor update needs a history to fit the factor model on", field="method"
            )
        shape = factor_multipliers(factor_model, actual_day, fc, rest.to_numpy(), interval_minutes)
        mult = shape if used == "factor" else 0.5 * (mult + shape)
    elif used == "ratio_shrunk+window":
        window = ratio_multiplier("ratio_window", state)
        mult = np.full(len(out), 0.5 * (shrunk_ratio(state, shrink_k) + 1.0 + 0.5 * (window - 1)))
    elif used != "learned":
        mult = np.full(len(out), ratio_multiplier(used, state, shrink_k))
    mult = np.clip(np.nan_to_num(mult, nan=1.0), 0.0, None)
    for column in SCALED_COLUMNS:
        if column in out.columns:
            out[column] = out[column].to_numpy(float) * mult
    out["method"] = used
    return out


def factor_multipliers(
    model: FactorModel,
    actual_day: pd.DataFrame,
    forecast_day: pd.DataFrame,
    rest: np.ndarray,
    minutes: int,
) -> np.ndarray:
    """Updated / original forecast of the factor-model update for the ``rest`` rows."""
    starts = pd.to_datetime(forecast_day["interval_start"])
    day = starts.iloc[0].normalize()
    slots = model.series_.slots_per_day

    def slot_of(times: pd.Series) -> np.ndarray:
        return ((times - day).dt.total_seconds() // (minutes * 60)).astype(int).to_numpy()

    expected = np.zeros(slots)
    index = slot_of(starts)
    expected[index] = forecast_day["forecast"].to_numpy(float)
    observed = np.full(slots, np.nan)
    done = slot_of(pd.to_datetime(actual_day["interval_start"]))
    ok = (done >= 0) & (done < slots)
    observed[done[ok]] = actual_day["offered"].to_numpy(float)[ok]
    updated = model.update_day(day, observed, expected, prior_scale=FACTOR_PRIOR_SCALE)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(expected > 1e-9, updated / np.maximum(expected, 1e-9), 1.0)
    return ratio[index[rest]]


def _fail(message: str, source: str | None, position: int, field: str):
    from openwfm.errors import DataError

    if source is None:
        raise DataError(f"row {position}: {message}", file="actuals", field=field)
    raise DataError(message, file=source, line=position + 2, field=field)


def validate_actuals(
    actuals: pd.DataFrame,
    forecast: pd.DataFrame,
    as_of: pd.Timestamp,
    interval_minutes: int,
    source: str | None = None,
) -> pd.DataFrame:
    """Check an actuals table (``interval_start, queue, offered``) against a forecast and cut-off.

    Errors (one line naming the file, CSV line and field; ``row N`` for in-memory frames): a
    missing column, an unparseable time or count, a negative count, an interval that ends after
    ``as_of``, a queue the forecast does not have, an interval of ``as_of``'s day that the
    forecast has no row for (a closed interval), a duplicate (queue, interval). Rows of earlier
    days are kept as history. Returns the rows with parsed types.
    """
    from openwfm.errors import DataError

    where = source or "actuals"
    missing = [c for c in ("interval_start", "queue", "offered") if c not in actuals.columns]
    if missing:
        raise DataError(
            f"missing column(s) {', '.join(missing)}; expected interval_start,queue,offered",
            file=where,
            field=missing[0],
        )
    from openwfm.tables import HISTORY, check_table

    # the columns of a history table (openwfm.tables.HISTORY); in-memory rows as ``row N``
    try:
        out = check_table(
            actuals,
            HISTORY,
            source=where,
            columns=("interval_start", "queue", "offered"),
            line_of=None if source is not None else (lambda position: position),
            keys=False,
        )
    except DataError as error:
        if source is not None:
            raise
        _fail(error.message, None, int(error.line), str(error.field))
    step = pd.Timedelta(minutes=interval_minutes)
    late = (out["interval_start"] + step) > as_of
    if late.any():
        i = int(np.flatnonzero(late.to_numpy())[0])
        _fail(
            f"interval {out['interval_start'].iloc[i].isoformat()} ends after as_of "
            f"{as_of.isoformat()}; actuals must end by the cut-off",
            source,
            i,
            "interval_start",
        )
    known = set(forecast["queue"].astype(str))
    unknown = ~out["queue"].isin(known)
    if unknown.any():
        i = int(np.flatnonzero(unknown.to_numpy())[0])
        _fail(
            f"unknown queue {out['queue'].iloc[i]!r}; the forecast has {', '.join(sorted(known))}",
            source,
            i,
            "queue",
        )
    day = as_of.normalize()
    today = (out["interval_start"] >= day).to_numpy()
    open_keys = set(
        zip(forecast["queue"].astype(str), pd.to_datetime(forecast["interval_start"]), strict=True)
    )
    for i in np.flatnonzero(today):
        key = (out["queue"].iloc[i], out["interval_start"].iloc[i])
        if key not in open_keys:
            _fail(
                f"interval {key[1].isoformat()} of queue {key[0]!r} is closed (the forecast has "
                "no row for it)",
                source,
                int(i),
                "interval_start",
            )
    dup = out.duplicated(["queue", "interval_start"], keep="first")
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        _fail(
            f"duplicate row for queue {out['queue'].iloc[i]!r} and interval "
            f"{out['interval_start'].iloc[i].isoformat()}",
            source,
            i,
            "interval_start",
        )
    return out


def update_forecast(
    forecast: pd.DataFrame,
    actuals: pd.DataFrame,
    as_of: pd.Timestamp,
    interval_minutes: int,
    method: str = "auto",
    shrink_k: dict[str, float | dict[int, float]] | None = None,
    factor_models: dict | None = None,
    backtests: dict[str, pd.DataFrame | None] | None = None,
) -> pd.DataFrame:
    """Re-forecast every queue of ``forecast`` for the rest of ``as_of``'s day.

    ``actuals`` must already be validated (:func:`validate_actuals`). ``shrink_k``,
    ``factor_models`` and ``backtests`` are per queue (missing queues: default ``k``, no factor
    model, nothing to learn from); a queue's ``k`` may be one number or one per cut-off hour;
    ``backtests`` are past day-ahead forecasts against actuals
    (:func:`~openwfm.forecast.level_update.dayahead_backtest`) the ``learned`` update learns from.
    """
    from openwfm.forecast.level_update import learn_level_rule

    as_of = pd.Timestamp(as_of)
    day = as_of.normalize()
    starts = pd.to_datetime(forecast["interval_start"])
    in_day = (starts >= day) & (starts < day + pd.Timedelta(days=1))
    frames = []
    for queue, part in forecast[in_day.to_numpy()].groupby("queue", sort=True):
        acts = actuals[(actuals["queue"] == str(queue)) & (actuals["interval_start"] >= day)]
        rule = None
        if method in LEARNED_METHODS:
            past = (backtests or {}).get(str(queue))
            rule = learn_level_rule(past, as_of - day, interval_minutes)
        frames.append(
            update_queue_day(
                part,
                acts,
                as_of,
                interval_minutes,
                method,
                (shrink_k or {}).get(str(queue), DEFAULT_SHRINK_K),
                (factor_models or {}).get(str(queue)),
                level_rule=rule,
            )
        )
    if not frames:
        raise ParameterError(
            f"the forecast has no interval on {day.date()} (the day of as_of)", field="as_of"
        )
    return pd.concat(frames, ignore_index=True)


def read_forecast_csv(path: str | Path) -> pd.DataFrame:
    """Read a forecast CSV (``interval_start, queue, forecast[, bounds][, aht_s]``), checked."""
    from openwfm.errors import DataError

    path = Path(path)
    if not path.exists():
        raise DataError("file not found", file=str(path))
    try:
        frame = pd.read_csv(path, dtype={"queue": "string"})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataError(f"not a readable CSV ({error})", file=str(path)) from None
    missing = [c for c in ("interval_start", "queue", "forecast") if c not in frame.columns]
    if missing:
        raise DataError(
            f"missing column(s) {', '.join(missing)}; expected the columns of forecast.csv",
            file=str(path),
            field=missing[0],
        )
    times = pd.to_datetime(frame["interval_start"], errors="coerce", format="ISO8601")
    if times.isna().any():
        i = int(np.flatnonzero(times.isna().to_numpy())[0])
        _fail(
            f"unparseable time {frame['interval_start'].iloc[i]!r}", str(path), i, "interval_start"
        )
    if getattr(times.dt, "tz", None) is not None:
        times = times.dt.tz_localize(None)
    out = frame.copy()
    out["interval_start"] = times
    out["queue"] = out["queue"].astype(str)
    for column in [c for c in SCALED_COLUMNS if c in out.columns]:
        values = pd.to_numeric(out[column], errors="coerce")
        if values.isna().any():
            i = int(np.flatnonzero(values.isna().to_numpy())[0])
            _fail(f"not a number: {out[column].iloc[i]!r}", str(path), i, column)
        out[column] = values.astype(float)
    dup = out.duplicated(["queue", "interval_start"])
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        _fail("duplicate row for this queue and interval", str(path), i, "interval_start")
    return out


def fit_on_actuals_history(
    actuals: pd.DataFrame, as_of: pd.Timestamp, interval_minutes: int, country: str | None
) -> Forecaster | None:
    """A day-ahead ``profile`` forecaster fitted on the actuals' days before ``as_of``'s day.

    Gives the day-ahead backtest the ``learned`` update learns from, the learned shrinkage and
    the factor models; None when fewer than 14 days of history are given (the update then uses
    the default shrinkage, no factor model).
    """
    from openwfm.forecast.forecaster import Forecaster
    from openwfm.forecast.history import to_series

    past = actuals[actuals["interval_start"] < as_of.normalize()]
    if past.empty or past["interval_start"].dt.normalize().nunique() < 14:
        return None
    series = to_series(past[["interval_start", "queue", "offered"]], interval_minutes)
    return Forecaster(method="profile", horizon_days=1, country=country, backtest_step_days=1).fit(
        series
    )

"""Volume and handle-time forecasts per queue and interval, with backtests and events.

Public API: :class:`Forecaster` (fit on a history table, predict a forecast table), the model
classes (:class:`SeasonalNaive`, :class:`WeekdayAverage`, :class:`TopDown`,
:class:`DailyProfile`, :class:`StatsForecastModel`), :func:`backtest` and :func:`accuracy`,
and events (:class:`Event`, :class:`EventCalendar`).
"""

from openwfm.forecast.backtest import accuracy, backtest_series, coverage, origin_indices
from openwfm.forecast.events import Event, EventCalendar, read_events_csv
from openwfm.forecast.forecaster import AUTO_CANDIDATES, AutoPick, Forecaster, forecast_aht
from openwfm.forecast.history import (
    QueueSeries,
    infer_interval_minutes,
    read_history_csv,
    to_series,
    validate_history,
)
from openwfm.forecast.models import (
    METHODS,
    DailyProfile,
    ForecastModel,
    SeasonalNaive,
    StatsForecastModel,
    TopDown,
    WeekdayAverage,
    make_model,
)

__all__ = [
    "AUTO_CANDIDATES",
    "AutoPick",
    "METHODS",
    "DailyProfile",
    "Event",
    "EventCalendar",
    "ForecastModel",
    "Forecaster",
    "QueueSeries",
    "SeasonalNaive",
    "StatsForecastModel",
    "TopDown",
    "WeekdayAverage",
    "accuracy",
    "backtest_series",
    "coverage",
    "forecast_aht",
    "infer_interval_minutes",
    "make_model",
    "origin_indices",
    "read_events_csv",
    "read_history_csv",
    "to_series",
    "validate_history",
]

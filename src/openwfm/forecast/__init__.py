"""Volume and handle-time forecasts per queue and interval, with backtests and events.

Public API: :class:`Forecaster` (fit on a history table, predict a forecast table), the model
classes (:class:`SeasonalNaive`, :class:`WeekdayAverage`, :class:`TopDown`,
:class:`DailyProfile`, :class:`StatsForecastModel`), :func:`backtest` and :func:`accuracy`,
and events (:class:`Event`, :class:`EventCalendar`).
"""

from openwfm._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "backtest": [
            "accuracy",
            "backtest_series",
            "coverage",
            "origin_indices",
            "poisson_floor_wape",
            "poisson_mean_abs_deviation",
        ],
        "events": [
            "Event",
            "EventCalendar",
            "read_events_csv",
        ],
        "forecaster": [
            "AUTO_CANDIDATES",
            "AutoPick",
            "Forecaster",
            "forecast_aht",
        ],
        "history": [
            "QueueSeries",
            "infer_interval_minutes",
            "read_history_csv",
            "to_series",
            "validate_history",
        ],
        "models": [
            "METHODS",
            "DailyProfile",
            "ForecastModel",
            "SeasonalNaive",
            "StatsForecastModel",
            "TopDown",
            "WeekdayAverage",
            "make_model",
        ],
    },
)

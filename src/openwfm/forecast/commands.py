"""CLI: ``openwfm forecast`` and ``openwfm backtest``.

History comes from a CSV (``--history``: ``interval_start,queue,offered[,aht_s]``) or from the
DuckDB interaction store (``--store``, aggregated to ``--interval-minutes``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from openwfm.errors import ParameterError

if TYPE_CHECKING:
    import pandas as pd

FORECAST_COLUMNS = [
    "interval_start",
    "queue",
    "forecast",
    "lower_80",
    "upper_80",
    "lower_95",
    "upper_95",
]


def _load_history(history: Path | None, store: Path | None, interval_minutes: int, queues):
    from openwfm.forecast.history import (
        history_from_interactions,
        read_history_csv,
        validate_history,
    )

    if (history is None) == (store is None):
        raise ParameterError(
            "give exactly one of --history CSV or --store DUCKDB", field="--history"
        )
    if history is not None:
        frame = read_history_csv(history)
        _check_queues(frame["queue"].unique(), queues)
        if queues:
            frame = frame[frame["queue"].isin(queues)]
        return frame, str(history)
    from openwfm.data.store import InteractionStore
    from openwfm.errors import StoreError

    if not Path(store).exists():
        raise StoreError("store not found; run 'openwfm ingest' first", file=str(store))
    with InteractionStore(store, read_only=True) as db:
        _check_queues(db.queues(), queues)
        interactions = db.interactions(queues=queues or None)
    frame = history_from_interactions(interactions, interval_minutes)
    return validate_history(frame, source=str(store)), str(store)


def _check_queues(known, wanted) -> None:
    unknown = [q for q in wanted or () if q not in set(known)]
    if unknown:
        raise ParameterError(
            f"unknown queue(s) {', '.join(unknown)} (the history has: "
            f"{', '.join(sorted(map(str, known))) or 'none'})",
            field="--queue",
        )


def _check_event_queues(events, known, path) -> None:
    """DataError for an event that names a queue the history does not have (it would be
    ignored silently)."""
    from openwfm.errors import DataError

    known = set(map(str, known))
    for event in events:
        unknown = [q for q in event.queues or () if q not in known]
        if unknown:
            raise DataError(
                f"event {event.name!r} names unknown queue(s) {', '.join(unknown)} "
                f"(the history has: {', '.join(sorted(known))})",
                file=str(path),
                field="queues",
            )


MAX_HORIZON_DAYS = 3660  # ten years: longer horizons are long-term (capacity) plans


def _check_forecast_options(horizon_days: int, origins: int, out) -> None:
    from openwfm.io import check_output_path, check_table_path

    if horizon_days < 1:
        raise ParameterError("must be at least 1 day", field="--horizon-days")
    if horizon_days > MAX_HORIZON_DAYS:
        raise ParameterError(
            f"expected at most {MAX_HORIZON_DAYS} days, got {horizon_days}",
            field="--horizon-days",
        )
    if origins < 1:
        raise ParameterError(f"expected at least 1 origin, got {origins}", field="--origins")
    if out is not None:
        check_output_path(check_table_path(out))


def _write_csv_atomic(frame, out: Path) -> None:
    from openwfm.io import write_table

    write_table(frame, out)


def _split(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def register(app: typer.Typer) -> None:
    register_reforecast(app)

    @app.command("forecast")
    def forecast(
        horizon_days: int = typer.Option(..., "--horizon-days", help="Days to forecast."),
        out: Path = typer.Option(..., "--out", help="Forecast CSV to write."),
        history: Path = typer.Option(
            None, "--history", help="History CSV: interval_start,queue,offered[,aht_s]."
        ),
        store: Path = typer.Option(None, "--store", help="DuckDB interaction store instead."),
        method: str = typer.Option("auto", "--method", help="auto or a method name."),
        country: str = typer.Option(None, "--country", help="Holidays of this country (IL)."),
        events: Path = typer.Option(
            None, "--events", help="Events CSV: name,start,end[,queues][,uplift]."
        ),
        interval_minutes: int = typer.Option(
            30, "--interval-minutes", help="Interval length for --store histories."
        ),
        queue: str = typer.Option(None, "--queue", help="Only these queues (comma-separated)."),
        origins: int = typer.Option(8, "--origins", help="Backtest origins for the auto pick."),
        versions: Path = typer.Option(
            None,
            "--versions",
            help="Keep the forecast as an immutable version in this DuckDB store "
            "(default: the --store, if given).",
        ),
        granularity: str = typer.Option(
            "interval",
            "--granularity",
            help="interval (default), or week / month for long-term totals (3-18 months).",
        ),
    ) -> None:
        """Forecast offered volume (and handle time) per queue and interval.

        Writes interval_start,queue,forecast,lower_80,upper_80,lower_95,upper_95[,aht_s] for the
        open intervals of the HORIZON_DAYS days after the history's last day. With
        --granularity week|month: period_start,queue,days,forecast,lower_80,upper_80,lower_95,
        upper_95[,aht_s,aht_lower_80,aht_upper_80], totals per Monday-start week or month.
        """
        run_forecast(
            horizon_days, out, history, store, method, country, events, interval_minutes, queue,
            origins, versions, granularity,
        )  # fmt: skip

    @app.command("backtest")
    def backtest(
        history: Path = typer.Option(None, "--history", help="History CSV."),
        store: Path = typer.Option(None, "--store", help="DuckDB interaction store instead."),
        horizon_days: int = typer.Option(7, "--horizon-days", help="Forecast horizon (days)."),
        origins: int = typer.Option(20, "--origins", help="Number of forecast origins."),
        step_days: int = typer.Option(1, "--step-days", help="Days between origins."),
        methods: str = typer.Option(
            "classic,seasonal_naive,topdown,profile,auto",
            "--methods",
            help="Comma-separated methods (auto = the auto pick, re-run at each origin).",
        ),
        country: str = typer.Option(None, "--country", help="Holidays of this country (IL)."),
        events: Path = typer.Option(None, "--events", help="Events CSV."),
        interval_minutes: int = typer.Option(30, "--interval-minutes", help="For --store."),
        queue: str = typer.Option(None, "--queue", help="Only these queues (comma-separated)."),
        report: Path = typer.Option(None, "--report", help="Write Plotly charts to this HTML."),
        out: Path = typer.Option(None, "--out", help="Write the backtest rows to this CSV."),
    ) -> None:
        """Rolling-origin backtest: WAPE, MASE, RMSE and bias per method and lead day."""
        run_backtest(
            history, store, horizon_days, origins, step_days, methods, country, events,
            interval_minutes, queue, report, out,
        )  # fmt: skip


def run_forecast(
    horizon_days: int,
    out: Path,
    history: Path | None,
    store: Path | None,
    method: str,
    country: str | None,
    events: Path | None,
    interval_minutes: int,
    queue: str | None,
    origins: int,
    versions: Path | None,
    granularity: str,
) -> None:
    """Body of ``openwfm forecast``."""
    if granularity != "interval":
        run_longterm(
            horizon_days, out, history, store, country, events, interval_minutes, queue,
            versions, granularity,
        )  # fmt: skip
        return
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from openwfm.forecast.events import read_events_csv
    from openwfm.forecast.forecaster import Forecaster
    from openwfm.forecast.history import to_series
    from openwfm.forecast.models import METHODS

    _check_forecast_options(horizon_days, origins, out)
    if method != "auto" and method not in METHODS:
        raise ParameterError(
            f"unknown method {method!r}; expected auto or one of {', '.join(METHODS)}",
            field="--method",
        )
    user_events = read_events_csv(events) if events is not None else []
    frame, source = _load_history(history, store, interval_minutes, _split(queue))
    _check_event_queues(user_events, frame["queue"].unique(), events)
    series = to_series(frame, source=source)
    console = Console(stderr=True)
    results = []
    forecasters = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("forecasting", total=len(series))
        for name, one in series.items():
            model = Forecaster(
                method=method,
                horizon_days=horizon_days,
                country=country,
                events=user_events,
                backtest_origins=origins,
            ).fit({name: one})
            results.append(model.predict(horizon_days))
            forecasters.append(model)
            progress.advance(task)
    import pandas as pd

    table = pd.concat(results, ignore_index=True)
    columns = FORECAST_COLUMNS + (["aht_s"] if "aht_s" in table.columns else [])
    written = table[columns].copy()
    written["interval_start"] = written["interval_start"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    for column in columns[2:]:
        written[column] = written[column].round(3)
    _write_csv_atomic(written, out)
    version_path = versions if versions is not None else store
    if version_path is not None:
        chosen = sorted({c for m in forecasters for c in m.chosen_.values()})
        vid = save_version(
            version_path, written, f"{method}({','.join(chosen)})", f"{horizon_days}d"
        )
        Console(stderr=True).print(f"forecast version {vid} in {version_path}")

    summary = Table(title=f"forecast: {horizon_days} days -> {out}")
    for column in ("queue", "method", "backtest WAPE", "total forecast"):
        summary.add_column(column)
    for model in forecasters:
        for q, chosen in model.chosen_.items():
            score = model.scores_[q].get(chosen)
            total = table.loc[table["queue"] == q, "forecast"].sum()
            summary.add_row(q, chosen, "-" if score is None else f"{score:.3f}", f"{total:,.0f}")
    Console().print(summary)


def run_backtest(
    history: Path | None,
    store: Path | None,
    horizon_days: int,
    origins: int,
    step_days: int,
    methods: str,
    country: str | None,
    events: Path | None,
    interval_minutes: int,
    queue: str | None,
    report: Path | None,
    out: Path | None,
) -> None:
    """Body of ``openwfm backtest``."""
    import pandas as pd
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from openwfm.forecast.backtest import (
        accuracy,
        backtest_series,
        origin_indices,
        seasonal_scale,
    )
    from openwfm.forecast.events import EventCalendar, read_events_csv
    from openwfm.forecast.forecaster import AutoPick
    from openwfm.forecast.history import to_series
    from openwfm.forecast.models import METHODS

    names = _split(methods)
    factories = {}
    for name in names:
        if name == "auto":
            factories[name] = lambda: AutoPick(horizon_days=horizon_days)
        elif name in METHODS:
            factories[name] = METHODS[name]
        else:
            raise ParameterError(
                f"unknown method {name!r}; expected auto or one of {', '.join(METHODS)}",
                field="--methods",
            )
    if horizon_days < 1 or origins < 1 or step_days < 1:
        raise ParameterError(
            "horizon, origins and step must be >= 1", field="--horizon-days/--origins"
        )
    _check_forecast_options(horizon_days, origins, out)
    if report is not None:
        from openwfm.io import check_output_path

        check_output_path(report, "--report")
    calendar = EventCalendar(country, read_events_csv(events) if events is not None else [])
    frame, source = _load_history(history, store, interval_minutes, _split(queue))
    series = to_series(frame, source=source)
    console = Console(stderr=True)
    frames, scales = [], {}
    plan = {
        q: origin_indices(s.n_days, horizon_days, origins, step_days) for q, s in series.items()
    }
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("backtesting", total=sum(len(o) for o in plan.values()))
        for q, s in series.items():
            frames.append(
                backtest_series(
                    s,
                    factories,
                    horizon_days,
                    calendar=calendar,
                    origins=plan[q],
                    on_origin=lambda: progress.advance(task),
                )
                if plan[q]
                else backtest_series(s, factories, horizon_days, n_origins=origins)
            )
            scales[q] = seasonal_scale(s, plan[q][0] if plan[q] else None)
    results = pd.concat(frames, ignore_index=True)
    overall = accuracy(results, by=("method",), scale=scales)
    by_lead = accuracy(results, by=("method", "lead_day"), scale=scales)
    cons = Console()
    used = max((len(o) for o in plan.values()), default=0)
    told = f"{used} origins" + (
        f" (the history allows {used} of {origins})" if used < origins else ""
    )
    table = Table(title=f"backtest: {len(series)} queue(s), {told}, {horizon_days}-day horizon")
    for column in ("method", "lead day", "WAPE", "MASE", "RMSE", "bias"):
        table.add_column(column, justify="right")
    for frame_ in (by_lead, overall.assign(lead_day="all")):
        for row in frame_.itertuples():
            table.add_row(
                row.method,
                str(row.lead_day),
                f"{row.wape:.3f}",
                f"{row.mase:.3f}",
                f"{row.rmse:.2f}",
                f"{row.bias:+.3f}",
            )
    cons.print(table)
    if "lower_80" in results.columns:
        sub = results.dropna(subset=["lower_80"])
        inside = (sub["actual"] >= sub["lower_80"]) & (sub["actual"] <= sub["upper_80"])
        cons.print(f"80% interval coverage (auto): {inside.mean():.1%}")
    if out is not None:
        _write_csv_atomic(results, out)
    if report is not None:
        from openwfm.forecast.report import backtest_report

        backtest_report(results, by_lead, report)
        cons.print(f"charts: {report}")


def run_longterm(
    horizon_days: int,
    out: Path,
    history: Path | None,
    store: Path | None,
    country: str | None,
    events: Path | None,
    interval_minutes: int,
    queue: str | None,
    versions: Path | None,
    granularity: str,
) -> None:
    """Body of ``openwfm forecast --granularity week|month``."""
    from rich.console import Console

    from openwfm.forecast.events import read_events_csv
    from openwfm.forecast.longterm import GRANULARITIES, LongTermForecaster

    if granularity not in GRANULARITIES:
        raise ParameterError(
            f"unknown granularity {granularity!r}; expected interval, week or month",
            field="--granularity",
        )
    if not 1 <= horizon_days <= 560:
        raise ParameterError(
            "a long-term horizon is 1 to 560 days (18 months)", field="--horizon-days"
        )
    user_events = read_events_csv(events) if events is not None else []
    frame, _ = _load_history(history, store, interval_minutes, _split(queue))
    model = LongTermForecaster(granularity, country=country, events=user_events).fit(frame)
    table = model.predict(horizon_days)
    written = table.copy()
    written["period_start"] = written["period_start"].dt.strftime("%Y-%m-%d")
    for column in written.columns[3:]:
        written[column] = written[column].round(1)
    _write_csv_atomic(written, out)
    version_path = versions if versions is not None else store
    if version_path is not None:
        rows = table.rename(columns={"period_start": "interval_start"})
        vid = save_version(version_path, rows, "longterm", f"{horizon_days}d/{granularity}")
        Console(stderr=True).print(f"forecast version {vid} in {version_path}")
    totals = written.groupby("queue")["forecast"].sum()
    for q, total in totals.items():
        typer.echo(
            f"{q}: {len(written[written['queue'] == q])} {granularity}s, {total:,.0f} contacts"
        )


def save_version(
    path: Path, written: pd.DataFrame, method: str, horizon: str, parent: str | None = None
) -> str:
    """Store a written forecast table as an immutable version; return its id."""
    from openwfm.forecast.versions import ForecastVersions

    with ForecastVersions(path) as versions:
        return versions.save(written, method, horizon, parent=parent)


def save_reforecast_version(
    path: Path, original: pd.DataFrame, written: pd.DataFrame, method: str, as_of: str
) -> str:
    """Store a re-forecast with the version of its forecast file as parent (stored if new)."""
    from openwfm.forecast.versions import ForecastVersions

    with ForecastVersions(path) as versions:
        parent = versions.find(original)
        if parent is None:
            parent = versions.save(original, "imported", "as given")
        return versions.save(written, method, f"intraday {as_of}", parent=parent)


def run_reforecast(
    forecast: Path, actuals: Path, as_of: str, out: Path, method: str, country: str | None
) -> tuple[pd.DataFrame, list[str]]:
    """Body of ``openwfm reforecast``: read, validate, update, write atomically."""
    import pandas as pd

    from openwfm.forecast.history import infer_interval_minutes
    from openwfm.forecast.intraday import (
        FACTOR_METHODS,
        LEARNED_METHODS,
        UPDATE_METHODS,
        fit_on_actuals_history,
        read_forecast_csv,
        update_forecast,
        validate_actuals,
    )

    if method not in UPDATE_METHODS:
        raise ParameterError(
            f"unknown method {method!r}; expected one of {', '.join(UPDATE_METHODS)}",
            field="--method",
        )
    try:
        cutoff = pd.Timestamp(as_of)
    except ValueError:
        cutoff = pd.NaT
    if pd.isna(cutoff):
        raise ParameterError(
            f"unparseable time {as_of!r}; expected an ISO timestamp such as 1999-07-01T12:00",
            field="--as-of",
        )
    if cutoff.tz is not None:
        cutoff = cutoff.tz_localize(None)
    fc = read_forecast_csv(forecast)
    minutes = infer_interval_minutes(fc, source=str(forecast))
    if not Path(actuals).exists():
        from openwfm.errors import DataError

        raise DataError("file not found", file=str(actuals))
    raw = pd.read_csv(actuals, dtype={"queue": "string"})
    checked = validate_actuals(raw, fc, cutoff, minutes, source=str(actuals))
    fitted = fit_on_actuals_history(checked, cutoff, minutes, country)
    if method in FACTOR_METHODS + LEARNED_METHODS[1:] and fitted is None:
        raise ParameterError(
            f"the {method} update needs at least 14 days of history in the actuals file "
            "(rows before the day of --as-of)",
            field="--method",
        )
    updated = update_forecast(
        fc,
        checked,
        cutoff,
        minutes,
        method,
        shrink_k=None if fitted is None else fitted.shrink_k_by_hour(),
        factor_models=None
        if fitted is None or method not in FACTOR_METHODS
        else fitted.factor_models(),
        backtests=None
        if fitted is None or method not in LEARNED_METHODS
        else fitted.dayahead_backtests(),
    )
    used = sorted(set(updated["method"])) if len(updated) else [method]
    written = updated[list(fc.columns)].copy()
    written["interval_start"] = written["interval_start"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    for column in written.columns[2:]:
        if pd.api.types.is_float_dtype(written[column]):
            written[column] = written[column].round(3)
    _write_csv_atomic(written, out)
    return written, used


def register_reforecast(app: typer.Typer) -> None:
    @app.command("reforecast")
    def reforecast(
        forecast: Path = typer.Option(..., "--forecast", help="Forecast CSV (forecast.csv)."),
        actuals: Path = typer.Option(
            ..., "--actuals", help="Actuals CSV: interval_start,queue,offered up to --as-of."
        ),
        as_of: str = typer.Option(
            ..., "--as-of", help="Cut-off time (ISO), e.g. 1999-07-01T12:00."
        ),
        out: Path = typer.Option(..., "--out", help="Re-forecast CSV to write."),
        method: str = typer.Option(
            "auto",
            "--method",
            help="auto, none, ratio, ratio_window, ratio_half, ratio_shrunk, learned, factor or "
            "learned_factor.",
        ),
        country: str = typer.Option(
            None, "--country", help="Holidays of this country, for the history in --actuals."
        ),
        versions: Path = typer.Option(
            None,
            "--versions",
            help="Keep the re-forecast as an immutable version (parent: the version of "
            "--forecast) in this DuckDB store.",
        ),
    ) -> None:
        """Re-forecast the rest of the day of --as-of from the actuals so far.

        Writes the columns of the forecast CSV for that day's intervals after --as-of. Rows of
        earlier days in --actuals (14 days or more) are history: a day-ahead backtest on them
        teaches the learned update (auto) how far to trust the morning, and they train the
        model-based update; without them auto uses a default shrunk ratio.
        """
        written, used = run_reforecast(forecast, actuals, as_of, out, method, country)
        if versions is not None:
            from openwfm.forecast.intraday import read_forecast_csv

            vid = save_reforecast_version(
                versions, read_forecast_csv(forecast), written, "+".join(used), as_of
            )
            typer.echo(f"forecast version {vid} in {versions}")
        typer.echo(
            f"reforecast: {len(written)} intervals after {as_of} -> {out} "
            f"(method {', '.join(used)})"
        )

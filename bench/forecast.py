"""Forecast accuracy and speed on the Anonymous Bank (1999), openwfm beside the baselines.

1. Rolling-origin backtest on the 6-minute arrival counts aggregated to 30 minutes: 50 origins
   (every 5th day from mid-April to late December), day-ahead (next day) and week-ahead (next 7
   days). WAPE per method, in the same run: statsforecast SeasonalNaive (weekly), AutoETS
   (daily season), MSTL (daily + weekly seasons), the WFM classic (mean of the last 4 same
   weekdays per interval), and openwfm's models and auto pick (Israeli holidays on). Ratios are
   to the best of those four baselines. 80% / 95% coverage of the auto pick's intervals.
2. A 14-day, 30-minute forecast for every Anonymous Bank queue from the raw call records
   (read_anonymous_bank), auto pick included, timed.

Run: .venv/bin/python bench/forecast.py   (about 3 minutes on 2 cores)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "anonymous-bank"
ITDESK = ROOT.parent / "shared" / "data" / "it-servicedesk-2016"
BASELINES = ["sf_seasonal_naive", "sf_autoets", "sf_mstl", "classic"]


def load_arrivals_30min() -> pd.DataFrame:
    raw = pd.read_csv(DATA / "interval-6min" / "arrivals-6min-1999.csv.gz")
    start = pd.to_datetime(raw["date"]) + pd.to_timedelta(raw["start"])
    counts = pd.Series(raw["calls"].to_numpy(float), index=start).resample("30min").sum()
    # resample creates zero rows for the two days absent from the source: keep them missing
    present = pd.to_datetime(raw["date"].unique())
    counts = counts[counts.index.normalize().isin(present)]
    return pd.DataFrame(
        {"interval_start": counts.index, "queue": "bank", "offered": counts.to_numpy()}
    )


def load_bank(minutes: int = 30) -> pd.DataFrame:
    """Anonymous Bank arrivals at ``minutes`` (a multiple of 6: the full-year 6-minute counts;
    else from the raw call records, 9 months, every record counted as the interval file does)."""
    if minutes % 6 == 0:
        raw = pd.read_csv(DATA / "interval-6min" / "arrivals-6min-1999.csv.gz")
        start = pd.to_datetime(raw["date"]) + pd.to_timedelta(raw["start"])
        present = pd.DatetimeIndex(pd.to_datetime(raw["date"].unique()))
        counts = pd.Series(raw["calls"].to_numpy(float), index=start)
    else:
        raw = pd.read_csv(DATA / "calls-1999.csv.gz", usecols=["date", "vru_entry"], dtype=str)
        start = pd.to_datetime("19" + raw["date"], format="%Y%m%d") + pd.to_timedelta(
            raw["vru_entry"]
        )
        present = pd.DatetimeIndex(start.dt.normalize().unique())
        counts = pd.Series(1.0, index=start)
    return _dense(counts, minutes, present, "bank")


def load_itdesk(minutes: int = 30) -> pd.DataFrame:
    """IT service desk phone incidents (March-May 2016) at ``minutes``."""
    raw = pd.read_csv(ITDESK / "phone-incidents-1min.csv.gz", parse_dates=["timestamp"])
    counts = raw.set_index("timestamp")["count"].astype(float)
    present = pd.DatetimeIndex(counts.index.normalize().unique())
    return _dense(counts, minutes, present, "itdesk")


def _dense(counts: pd.Series, minutes: int, present, queue: str) -> pd.DataFrame:
    """Counts summed per interval on every interval of the days present (zeros kept)."""
    step = f"{minutes}min"
    grid = pd.date_range(
        present.min(), present.max() + pd.Timedelta(days=1), freq=step, inclusive="left"
    )
    grid = grid[grid.normalize().isin(present)]
    summed = counts.groupby(counts.index.floor(step)).sum().reindex(grid, fill_value=0.0)
    return pd.DataFrame(
        {"interval_start": summed.index, "queue": queue, "offered": summed.to_numpy(float)}
    )


def wape(frame: pd.DataFrame) -> float:
    return float((frame["forecast"] - frame["actual"]).abs().sum() / frame["actual"].sum())


def main() -> int:
    from openwfm.forecast import (
        METHODS,
        AutoPick,
        EventCalendar,
        Forecaster,
        backtest_series,
        to_series,
        validate_history,
    )

    if not DATA.exists():
        print(f"missing data: {DATA}")
        return 1
    t0 = time.perf_counter()
    series = to_series(validate_history(load_arrivals_30min()))["bank"]
    calendar = EventCalendar("IL")
    first = int(np.flatnonzero(series.days == pd.Timestamp("1999-04-15"))[0])
    origins = list(range(first, series.n_days - 7 + 1, 5))
    print(
        f"Anonymous Bank 1999, 30-min intervals, {series.n_days} days; {len(origins)} origins "
        f"from {series.days[origins[0] - 1].date()} to {series.days[origins[-1] - 1].date()}"
    )

    methods = [*BASELINES, "seasonal_naive", "topdown", "profile", "profile_ew"]
    timing: dict[str, float] = {}
    frames = []
    for name in methods:
        t = time.perf_counter()
        bt = backtest_series(series, {name: METHODS[name]}, 7, calendar=calendar, origins=origins)
        timing[name] = time.perf_counter() - t
        frames.append(bt)
        print(f"  {name:<18} {timing[name]:6.1f} s", flush=True)
    week = pd.concat(frames, ignore_index=True)
    # these models do not depend on the horizon: day-ahead = lead day 1 of the same run
    day = week[week["lead_day"] == 1]
    auto = {}
    for horizon in (1, 7):
        t = time.perf_counter()
        auto[horizon] = backtest_series(
            series,
            {"auto": lambda h=horizon: AutoPick(horizon_days=h)},
            horizon,
            calendar=calendar,
            origins=origins,
        )
        timing[f"auto h={horizon}"] = time.perf_counter() - t
        print(f"  auto (h={horizon})         {timing[f'auto h={horizon}']:6.1f} s", flush=True)
    day = pd.concat([day, auto[1]], ignore_index=True)
    week = pd.concat([week, auto[7]], ignore_index=True)

    print()
    print("WAPE per method (30-min intervals; ratio = WAPE / best of the four baselines)")
    print(f"{'method':<20}{'day-ahead':>10}{'ratio':>8}{'week-ahead':>12}{'ratio':>8}")
    scores = {
        h: {m: wape(part) for m, part in table.groupby("method")}
        for h, table in (("day", day), ("week", week))
    }
    best = {h: min(scores[h][m] for m in BASELINES) for h in scores}
    for m in [*methods, "auto"]:
        d, w = scores["day"][m], scores["week"][m]
        tag = " (baseline)" if m in BASELINES else ""
        print(f"{m:<20}{d:>10.3f}{d / best['day']:>8.3f}{w:>12.3f}{w / best['week']:>8.3f}{tag}")
    print(
        f"auto pick: day-ahead {scores['day']['auto'] / best['day']:.3f} x best baseline "
        f"(target <= 0.93), week-ahead {scores['week']['auto'] / best['week']:.3f} x "
        "(target <= 1.0)"
    )
    for label, table in (("day-ahead", auto[1]), ("week-ahead", auto[7])):
        cover = {
            level: float(
                (
                    (table["actual"] >= table[f"lower_{level}"])
                    & (table["actual"] <= table[f"upper_{level}"])
                ).mean()
            )
            for level in (80, 95)
        }
        print(
            f"auto {label} interval coverage: 80% -> {cover[80]:.1%} (target 75-85%), "
            f"95% -> {cover[95]:.1%}"
        )

    # holidays: accuracy on tagged days vs ordinary days (week-ahead run)
    tags = dict(zip(series.days, calendar.tags(series.days), strict=True))
    week["tag"] = pd.to_datetime(week["interval_start"]).dt.normalize().map(tags)
    tagged_days = sorted(
        {str(d.date()) for d, t in tags.items() if t}
        & set(pd.to_datetime(week["interval_start"]).dt.normalize().astype(str).str[:10])
    )
    print(f"1999 Israeli holiday/eve days inside the backtest: {len(tagged_days)}")
    print(f"{'method':<20}{'WAPE holiday days':>18}{'WAPE other days':>16}")
    for m in ("classic", "sf_mstl", "profile", "auto"):
        part = week[week["method"] == m]
        print(
            f"{m:<20}{wape(part[part['tag'] != '']):>18.3f}{wape(part[part['tag'] == '']):>16.3f}"
        )

    # 2. every queue from the raw call records, 14 days, auto pick
    from openwfm.data.readers import read_anonymous_bank
    from openwfm.forecast.history import history_from_interactions

    t = time.perf_counter()
    raw_files = sorted((DATA / "raw").glob("*.txt"))
    interactions = pd.concat([read_anonymous_bank(p) for p in raw_files], ignore_index=True)
    read_s = time.perf_counter() - t
    t = time.perf_counter()
    history = history_from_interactions(interactions, interval_minutes=30)
    model = Forecaster(method="auto", horizon_days=14, country="IL").fit(history)
    forecast = model.predict(14)
    forecast_s = time.perf_counter() - t
    print()
    print(
        f"14-day 30-min forecast, {len(model.chosen_)} queues from {len(interactions):,} call "
        f"records: read {read_s:.1f} s, history + auto pick + forecast {forecast_s:.1f} s "
        "(target < 30 s)"
    )
    for queue, chosen in model.chosen_.items():
        part = forecast[forecast["queue"] == queue]
        print(
            f"  {queue:<4} {chosen:<14} backtest WAPE {model.scores_[queue][chosen]:.3f}  "
            f"forecast {part['forecast'].sum():8.0f} calls  mean AHT "
            f"{np.nanmean(part['aht_s']):5.0f} s"
        )
    print(f"total bench time {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

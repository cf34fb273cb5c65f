"""Forecast accuracy and speed on the Anonymous Bank (1999), openwfm beside the baselines.

1. Rolling-origin backtest on the 6-minute arrival counts aggregated to 30 minutes: 50 origins
   (every 5th day from mid-April to late December), day-ahead (next day) and week-ahead (next 7
   days). WAPE per method, in the same run: statsforecast SeasonalNaive (weekly), AutoETS
   (daily season), MSTL (daily + weekly seasons), the WFM classic (mean of the last 4 same
   weekdays per interval), and openwfm's models and auto pick (Israeli holidays on). Ratios are
   to the best of those four baselines. 80% / 95% coverage of the auto pick's intervals.
2. A 14-day, 30-minute forecast for every Anonymous Bank queue from the raw call records
   (read_anonymous_bank), auto pick included, timed.

3. Nested backtest (issue 15): the defaults (auto pick variants, single models) are chosen on
   early origins (bank: forecasts before 1999-07; IT desk: March-April) by their mean ratio to
   the best baseline over all series, and scored on the later origins (bank: July-December at
   30 minutes, July-October at 15 minutes from the raw records; IT desk: May). Both printed.
4. Long term: weekly totals to year end from the bank's history up to 1999-06-30, openwfm vs
   statsforecast AutoETS and AutoARIMA.

Last nested run (2026-11-30 07:13-07:23 UTC, origins every 8 / 6 / 2 days, one process per
series: NESTED_ONLY="IT desk" | "bank 30" | "bank 15", NESTED_DIR=/tmp/s6/nested,
NESTED_REUSE_BASELINES=1 with the baselines' rows of the full run before (/tmp/fcday/final: same
series, origins and baseline code), then nested-summary; 1.5-3 min wall each at load 9-11). A
full IT desk run without reuse (NESTED_DIR=/tmp/s6/nested-full, 8 min wall at load 13-17) gave
the same figures to the last digit, baselines included.
Changes since the run before: the profile model's intraday shares are smoothed across
neighbouring intervals (weight 0.2, chosen on the choose origins with every day an origin: mean
ratio to classic over the three series 0.799 -> 0.795; 0.1 0.796, 0.3 0.798).
Score origins, day-ahead, auto | profile: bank 30-min 0.915 | 0.899 (MISSED; was 0.922 | 0.905),
bank 15-min 0.808 | 0.808 (met; was 0.814), IT desk 0.891 | 0.891 (MISSED; was 0.892).
Week-ahead: bank 0.829, IT desk 0.910 (met). Choose origins, day-ahead: 0.761 / 0.785 / 0.762.

Where the error is (the bench prints it: WAPE | with each day's total known | Poisson floor, as
ratios to the best baseline, score origins): bank 30-min 0.915 | 0.725 | 0.526, bank 15-min
0.808 | 0.745 | 0.551, IT desk 0.891 | 0.790 | 0.646. The floor (poisson_floor_wape: the WAPE a
forecast equal to the true rate scores on Poisson counts) leaves room on every series; the
target is not below it. But a perfect daily total alone would give 0.725 / 0.790: reaching 0.85
needs a third (bank 30-min) to two fifths (IT desk) of the daily level error removed, and that
error is unpredictable from the history: lag-1 correlation of the daily log error on the choose
days -0.04 (bank; lag 7 -0.08, mean of the previous week -0.14), 0.31 on the IT desk (31 days;
lag 7 0.52), where an AR(1)+AR(7) correction of the level from causal residuals did not help
on the choose origins (IT desk 0.7952 -> 0.7942, bank 30-min 0.7858 -> 0.7888, mean worse).
The within-day shape error that remains is smooth (lag-1 correlation of the level-corrected
residuals within a day 0.56 bank, 0.16 IT desk) and has no day-to-day correlation, so it is an
intraday signal, not a day-ahead one.
The profile pools the weekdays' shapes (empirical Bayes within full / short days): without
pooling the mean choose ratio to classic is 0.829, with every similar weekday pooled fully 0.809,
with the empirical Bayes weight 0.799 (before smoothing); its shape was slightly under-smoothed
at both grains (the neighbour weight 0.2 gains 0.3-0.5% on each series, 0.3 less).
Tried on the choose origins (every day) and not kept: profile history 8-26 weeks and half-life
4-26 (flat within 0.3%), level history/half-life, ETS weight 0-0.75, a level from the recent
week(s) x weekday shares, event prior weight 0.1-1, profile + classic / factor / seasonal naive
combinations (10-30% weight: all worse), factor model with 1-3 factors or 26 weeks (0.835-0.837
vs profile 0.795), forecasting at 15 minutes and summing to 30 (0.2627 vs 0.2612 at 30 directly,
214 bank days). WAPE is minimised by the median, not the mean: the profile forecast scaled by
0.97 scores 0.8% better on the choose origins (0.7992 -> 0.7933; the median of a log-normal day
factor with the measured sd 0.22 is 0.976 of its mean), not taken: staffing needs the expected
arrivals, and a forecast biased 3% low to please the metric under-staffs.
Why 15 minutes meets the target and 30 does not: mostly the days scored, not the grain. The
15-min series (raw call records) ends in October and lacks August; its 15 score days are not
the 30-min run's 23. On the 15-min run's days the 30-min profile / classic ratio is 0.809, at
15 minutes 0.773 (finer grain helps the pooled, smoothed profile over the 4-week interval mean,
whose noise grows relatively); on the 30-min run's 23 days profile / classic is 0.899 with a
bootstrap 90% interval (days resampled) of 0.77-1.05, and over every score day (184) 0.822 vs
classic (MSTL not run there). The 23-day measurement cannot tell 0.85 from 0.95. After the
August gap classic forecasts zero on 3 Sep (its last four Fridays missing). IT desk over every
score day (31): profile 0.416 vs MSTL 0.446 (0.932). The IT desk's largest misses are the
Corpus Christi bridge (27 May: 182 forecast, 81 actual; the single earlier bridge, 22 April, said
0.28 of a Friday and is shrunk toward 1 by a third; a holiday-like prior for bridges would be
wrong on the bank's, 1.15x a normal day on 8 and 22 April 1999, in the choose period) and Corpus
Christi itself (not an origin).

Classic part, same code (`nice -n 10 .venv/bin/python bench/forecast.py classic`, 516 s at load
8-13; 51 origins every 5th day, 1999-04-14 .. 12-20): auto day-ahead 0.756x the best baseline
(was 0.758), week-ahead 0.812x (was 0.813); 80% coverage 80.3% / 80.7%; 14-day forecast of 6
queues in 16.8 s. Long term (not rerun, code unchanged): 0.743x the best of AutoETS / AutoARIMA.

Run: .venv/bin/python bench/forecast.py [classic] [nested] [longterm]   (all by default;
about 3 minutes for the classic part, 20-30 for the nested one on 2 busy cores, over an hour
at load 16+). Faster loops: NESTED_ONLY="IT desk" runs one series (one process per series in
parallel, then ``nested-summary``); NESTED_REUSE_BASELINES=1 reuses the baselines' rows that
an earlier run saved in NESTED_DIR (same series, horizon and origin step) and runs openwfm's
variants only (the last run above did, with the baselines' rows of a full run on the same
baseline code).
"""

from __future__ import annotations

import os
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


# -- nested backtest: choose the defaults on early origins, score them on later ones ------------
NESTED_SERIES = {
    # name: (loader, country, choose origins from, score from, origin step in days, horizons)
    "bank 30-min": (lambda: load_bank(30), "IL", "1999-03-01", "1999-07-01", 8, (1, 7)),
    "bank 15-min": (lambda: load_bank(15), "IL", "1999-03-01", "1999-07-01", 6, (1,)),
    "IT desk 30-min": (lambda: load_itdesk(30), "BR", "2016-03-22", "2016-05-01", 2, (1, 7)),
}


def default_variants() -> dict:
    """The candidate defaults the nested protocol chooses among (the auto pick, single models)."""
    from openwfm.forecast import METHODS, AutoPick

    return {
        "auto": lambda h: lambda: AutoPick(horizon_days=h),
        "profile": lambda h: METHODS["profile"],
        "factor": lambda h: METHODS["factor"],
    }


COLUMNS = ["series", "period", "horizon", "method", "wape", "origins", "level_known", "floor"]


def level_known_and_floor(part: pd.DataFrame) -> tuple[float, float]:
    """Where a forecast's WAPE is: the WAPE it would have with each day's total known (every
    day's forecast scaled to that day's actual total: what is left is the within-day shape and
    the noise), and the Poisson noise floor (the WAPE of a forecast equal to the true rate,
    taking the level-known forecast as that rate)."""
    from openwfm.forecast import poisson_floor_wape

    day = pd.to_datetime(part["interval_start"]).dt.normalize()
    totals = part.groupby(day)[["actual", "forecast"]].transform("sum")
    scale = np.where(totals["forecast"] > 0, totals["actual"] / totals["forecast"], 0.0)
    known = part["forecast"].to_numpy() * scale
    actual = part["actual"].to_numpy()
    level_known = float(np.abs(known - actual).sum() / actual.sum())
    return level_known, poisson_floor_wape(known) * float(known.sum() / actual.sum())


def nested_one(name: str, spec: tuple) -> pd.DataFrame:
    """WAPE per (period, horizon, method) for one series; period = choose | score.

    Baselines and variants are scored on the same origins at each horizon.
    """
    from openwfm.forecast import METHODS, EventCalendar, backtest_series, to_series
    from openwfm.forecast import validate_history as validate

    loader, country, choose_from, score_from, step, horizons = spec
    series = next(iter(to_series(validate(loader())).values()))
    calendar = EventCalendar(country)
    first = int(np.searchsorted(series.days, pd.Timestamp(choose_from)))
    observed = np.isfinite(series.values).any(axis=1)
    rows = []
    for horizon in horizons:
        origins = [n for n in range(first, series.n_days - horizon + 1, step) if observed[n]]
        factories = {m: METHODS[m] for m in BASELINES}
        factories.update({v: make(horizon) for v, make in default_variants().items()})
        t = time.perf_counter()
        saved = _saved_baselines(name, horizon, step)
        if saved is not None:  # NESTED_REUSE_BASELINES=1: iterate on openwfm's models only
            rows.extend(saved.reindex(columns=COLUMNS).itertuples(index=False, name=None))
            factories = {m: f for m, f in factories.items() if m not in BASELINES}
        for method, factory in factories.items():
            bt = backtest_series(
                series, {method: factory}, horizon, calendar=calendar, origins=origins
            )
            origin_day = pd.to_datetime(bt["origin"]) + pd.Timedelta(days=1)
            bt["period"] = np.where(origin_day < pd.Timestamp(score_from), "choose", "score")
            for (period,), part in bt.groupby(["period"]):
                known, floor = level_known_and_floor(part)
                rows.append(
                    (name, period, horizon, method, wape(part), part["origin"].nunique())
                    + (known, floor)
                )
        print(
            f"  {name}: h={horizon}, {len(origins)} origins, {time.perf_counter() - t:.0f} s",
            flush=True,
        )
    table = pd.DataFrame(rows, columns=COLUMNS)
    print(table.to_string(index=False), flush=True)  # raw figures, kept if a later series fails
    for horizon in horizons:
        path = _baselines_path(name, horizon, step)
        part = table[(table["horizon"] == horizon) & table["method"].isin(BASELINES)]
        part.to_csv(path, index=False)
    return table


def _baselines_path(name: str, horizon: int, step: int) -> Path:
    folder = Path(os.environ.get("NESTED_DIR", "/tmp/openwfm-bench-nested"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"baselines_{name.replace(' ', '_')}_h{horizon}_step{step}.csv"


def _saved_baselines(name: str, horizon: int, step: int) -> pd.DataFrame | None:
    """The baselines' WAPE rows of an earlier run (same series, horizon and origins), when
    NESTED_REUSE_BASELINES=1: a faster loop while changing openwfm's models. The figures
    reported come from full runs without it."""
    path = _baselines_path(name, horizon, step)
    if os.environ.get("NESTED_REUSE_BASELINES") != "1" or not path.exists():
        return None
    return pd.read_csv(path)


def nested_backtest() -> pd.DataFrame:
    """Print the nested backtest; return the long table of WAPEs."""
    print()
    print("Nested backtest: defaults chosen on early origins, scored on later ones")
    # NESTED_ONLY="IT desk": run only the series named so (one process per series, in
    # parallel); each table is saved to NESTED_DIR, and `nested-summary` prints all saved ones
    only = os.environ.get("NESTED_ONLY")
    folder = Path(os.environ.get("NESTED_DIR", "/tmp/openwfm-bench-nested"))
    folder.mkdir(parents=True, exist_ok=True)
    chosen_series = {n: s for n, s in NESTED_SERIES.items() if not only or only in n}
    for name, spec in chosen_series.items():
        nested_one(name, spec).to_csv(folder / (name.replace(" ", "_") + ".csv"), index=False)
    return nested_summary(folder, list(chosen_series))


def nested_summary(folder: Path, names: list[str]) -> pd.DataFrame:
    """Choose the default on the choose origins of every saved series, print the scores."""
    saved = [folder / (n.replace(" ", "_") + ".csv") for n in names]
    table = pd.concat([pd.read_csv(p) for p in saved if p.exists()], ignore_index=True)
    chosen_series = [n for n in names if (table["series"] == n).any()]
    best = (
        table[table["method"].isin(BASELINES)]
        .groupby(["series", "period", "horizon"])["wape"]
        .min()
        .rename("best_baseline")
    )
    table = table.join(best, on=["series", "period", "horizon"])
    table["ratio"] = table["wape"] / table["best_baseline"]
    variants = list(default_variants())
    # the default: lowest mean ratio over every series and both horizons on the choose origins
    choose = table[(table["period"] == "choose") & table["method"].isin(variants)]
    pooled = choose.groupby("method")["ratio"].mean().sort_values()
    chosen = str(pooled.index[0])
    print("mean ratio to the best baseline on the choose origins (all series, h=1 and h=7):")
    for method, ratio in pooled.items():
        print(f"  {method:<16}{ratio:.3f}{'  <- chosen default' if method == chosen else ''}")
    for horizon, target in ((1, 0.85), (7, 0.95)):
        label = "day-ahead" if horizon == 1 else "week-ahead"
        print(f"{label}: WAPE (ratio to best baseline), choose | score; target <= {target}")
        print(f"{'method':<16}" + "".join(f"{s:>30}" for s in chosen_series))
        part = table[table["horizon"] == horizon]
        for method in [*BASELINES, *variants]:
            cells = []
            for series_name in chosen_series:
                got = part[(part["series"] == series_name) & (part["method"] == method)]
                if got.empty:
                    cells.append("-")
                    continue
                got = got.set_index("period")
                cells.append(
                    " | ".join(
                        f"{got.loc[p, 'wape']:.3f} ({got.loc[p, 'ratio']:.3f})"
                        if p in got.index
                        else "-"
                        for p in ("choose", "score")
                    )
                )
            mark = " *" if method == chosen else ""
            print(f"{method + mark:<16}" + "".join(f"{c:>30}" for c in cells))
        for series_name in chosen_series:
            for method in dict.fromkeys([chosen, "auto"]):
                got = part[
                    (part["series"] == series_name)
                    & (part["method"] == method)
                    & (part["period"] == "score")
                ]
                if got.empty:
                    continue
                ratio = float(got["ratio"].iloc[0])
                verdict = "met" if ratio <= target else "MISSED"
                print(f"  {method} on {series_name}, score origins: {ratio:.3f} ({verdict})")
        print_error_decomposition(part, chosen_series, chosen, target)
    return table


def print_error_decomposition(part: pd.DataFrame, names: list[str], chosen: str, target: float):
    """WAPE of the chosen default split into daily level / within-day shape / Poisson noise,
    beside the best baseline and the target, as ratios to the best baseline."""
    if "level_known" not in part or part["level_known"].isna().all():
        return
    print(
        f"  where {chosen}'s error is (ratio to the best baseline; target {target}): WAPE | "
        "with each day's total known | Poisson floor"
    )
    for series_name in names:
        for period in ("choose", "score"):
            got = part[
                (part["series"] == series_name)
                & (part["method"] == chosen)
                & (part["period"] == period)
            ]
            if got.empty or not np.isfinite(got["level_known"].iloc[0]):
                continue
            row = got.iloc[0]
            best = row["best_baseline"]
            print(
                f"    {series_name:<15} {period:<7} best baseline {best:.3f}: "
                f"{row['wape']:.3f} ({row['wape'] / best:.3f}) | {row['level_known']:.3f} "
                f"({row['level_known'] / best:.3f}) | {row['floor']:.3f} "
                f"({row['floor'] / best:.3f})"
            )


def main() -> int:
    parts = sys.argv[1:] or ["classic", "nested", "longterm"]
    if "classic" in parts:
        code = classic_bench()
        if code:
            return code
    if "nested" in parts:
        nested_backtest()
    if "nested-summary" in parts:
        folder = Path(os.environ.get("NESTED_DIR", "/tmp/openwfm-bench-nested"))
        nested_summary(folder, list(NESTED_SERIES))
    if "longterm" in parts:
        longterm_bench()
    return 0


def classic_bench() -> int:
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


# -- long term: weekly totals to year end -------------------------------------------------------
def longterm_bench() -> None:
    """Fit up to 1999-06-30 (6-minute counts), forecast weekly totals to year end."""
    import warnings

    from statsforecast.models import AutoARIMA, AutoETS

    from openwfm.forecast.longterm import LongTermForecaster

    history = load_bank(6)
    cut = pd.Timestamp("1999-07-01")
    train = history[history["interval_start"] < cut]
    t = time.perf_counter()
    model = LongTermForecaster("week", country="IL").fit(train)
    fc = model.predict((pd.Timestamp("1999-12-31") - cut).days + 1)
    fit_s = time.perf_counter() - t
    daily = history.groupby(history["interval_start"].dt.normalize())["offered"].sum()
    days = pd.date_range("1999-01-01", "1999-12-31", freq="D")
    daily = daily.reindex(days)  # 11-12 January missing
    week = days.to_period("W-SUN").start_time
    observed = daily.groupby(week).count()
    weekly = daily.groupby(week).sum() * 7 / observed  # a week with a missing day scaled up
    full = weekly.index[(weekly.index >= pd.Timestamp("1999-01-04"))]
    history_weeks = weekly[(full[0] <= weekly.index) & (weekly.index + pd.Timedelta(days=6) < cut)]
    scored = weekly[(weekly.index >= cut) & (weekly.index + pd.Timedelta(days=6) <= days[-1])]
    h = int((scored.index[-1] - history_weeks.index[-1]).days // 7)
    offsets = ((scored.index - history_weeks.index[-1]).days // 7).to_numpy() - 1
    base = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, peer in (("AutoETS", AutoETS(season_length=1)), ("AutoARIMA", AutoARIMA())):
            y = history_weeks.to_numpy(float)
            base[name] = np.asarray(peer.fit(y=y).predict(h=h)["mean"])[offsets]
    ours = fc.set_index("period_start")["forecast"].reindex(scored.index).to_numpy()
    actual = scored.to_numpy()
    print()
    print(
        f"Long term: weekly totals, fitted on the bank up to {cut.date() - pd.Timedelta(days=1)} "
        f"({len(history_weeks)} full weeks), {len(scored)} full weeks scored "
        f"({scored.index[0].date()} .. {scored.index[-1].date()}); fit+forecast {fit_s:.1f} s"
    )
    scores = {"openwfm": ours, **base}
    for name, values in scores.items():
        w = float(np.abs(values - actual).sum() / actual.sum())
        print(f"  {name:<10} WAPE {w:.3f}")
    best_peer = min(float(np.abs(v - actual).sum() / actual.sum()) for v in base.values())
    ours_w = float(np.abs(ours - actual).sum() / actual.sum())
    inside = fc.set_index("period_start").reindex(scored.index)
    cover = float(((actual >= inside["lower_80"]) & (actual <= inside["upper_80"])).mean())
    print(
        f"  openwfm / best peer: {ours_w / best_peer:.3f} (target <= 1); 80% interval coverage "
        f"{cover:.0%} over {len(actual)} weeks"
    )


if __name__ == "__main__":
    sys.exit(main())

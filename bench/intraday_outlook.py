"""Intraday outlook on a replayed real day: the Anonymous Bank's busiest day, projected at 10:00.

Run: ``.venv/bin/python bench/intraday_outlook.py [--day 1999-05-23] [--as-of 10:00]``
(data in ../shared/data/anonymous-bank, not committed).

What it does, all through the public API of ``openwfm.intraday``:

1. Reads the nine months of call records and picks the day with the most offered calls
   (answered + abandoned in the agent queue), all call types pooled into one queue.
2. The morning forecast (the version "the schedule used"): per hour, the mean offered calls of
   the same weekday 7, 14, 21 and 28 days earlier (those with records), handle time per hour
   from the same days.
3. The schedule: the bank has none on record, so the agents on line per hour are the agents
   the bank actually had on calls (agent-hours of service in the hour, rounded up, as the
   simulator's replay does). This is the one input taken from the day itself; it stands for a
   schedule known in advance.
4. Patience: exponential, maximum-likelihood mean from the 28 days before (censored waits).
5. At ``--as-of`` the outlook sees only the calls known by then (arrived, answered or
   abandoned before the cut-off) and projects each later hour with Erlang A from the updated
   forecast (``ratio_shrunk`` of the forecast stage), for comparison from the un-updated
   forecast (``none``), and with the simulator (``simulate_rest_of_day``, same agents, FCFS
   longest-idle routing, queue empty at the cut-off).
6. Prints per hour: forecast, updated forecast, actual offered, agents, projected vs actual
   service level (answered within 60 s / offered) and abandonment, and the afternoon (12:00 on)
   volume-weighted totals and mean absolute errors per hour.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from _timing import timed

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "anonymous-bank" / "calls-1999.csv.gz"
TARGET_S = 60.0


def load_calls() -> pd.DataFrame:
    from openwfm.data.readers import read_anonymous_bank

    calls = read_anonymous_bank(DATA)
    offered = calls[calls["outcome"].isin(["answered", "abandoned"])].copy()
    offered["queue"] = "calls"
    return offered


def morning_forecast(calls: pd.DataFrame, day: pd.Timestamp) -> pd.DataFrame:
    """Mean offered per hour of the same weekday 1-4 weeks before; AHT per hour likewise."""
    earlier = [day - pd.Timedelta(days=7 * k) for k in (1, 2, 3, 4)]
    dates = calls["arrival_time"].dt.normalize()
    history = calls[dates.isin(earlier)]
    used = sorted(set(history["arrival_time"].dt.normalize()))
    hours = history["arrival_time"].dt.hour
    volume = history.groupby(hours).size().reindex(range(24), fill_value=0) / max(len(used), 1)
    answered = history[(history["outcome"] == "answered") & (history["handle_s"] > 0)]
    aht = answered.groupby(answered["arrival_time"].dt.hour)["handle_s"].mean()
    aht = aht.reindex(range(24)).fillna(float(answered["handle_s"].mean()))
    table = pd.DataFrame(
        {
            "interval_start": [day + pd.Timedelta(hours=h) for h in range(24)],
            "queue": "calls",
            "forecast": volume.to_numpy(float),
            "aht_s": aht.to_numpy(float),
        }
    )
    table.attrs["days"] = [str(d.date()) for d in used]
    return table


def actual_by_hour(today: pd.DataFrame) -> pd.DataFrame:
    hour = today["arrival_time"].dt.hour
    within = (today["outcome"] == "answered") & (today["wait_s"] <= TARGET_S)
    table = pd.DataFrame(
        {
            "offered": today.groupby(hour).size(),
            "within": within.groupby(hour).sum(),
            "abandoned": (today["outcome"] == "abandoned").groupby(hour).sum(),
        }
    ).reindex(range(24), fill_value=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        table["actual_sl"] = table["within"] / table["offered"]
        table["actual_abandon"] = table["abandoned"] / table["offered"]
    return table


def observed_schedule(agents_per_hour: pd.Series, day: pd.Timestamp) -> pd.DataFrame:
    """Named agents ``observed-1..n`` on line for the hours the counts say (the simulator's
    schedule for the same staffing the queueing formulas get)."""
    rows = []
    for hour, count in agents_per_hour.items():
        for k in range(1, int(count) + 1):
            start = day + pd.Timedelta(hours=int(hour))
            rows.append(
                {
                    "agent_id": f"observed-{k}",
                    "start": start,
                    "end": start + pd.Timedelta(hours=1),
                    "activity": "work",
                }
            )
    table = pd.DataFrame(rows).sort_values(["agent_id", "start"])
    # merge consecutive hours of one agent (a schedule must not overlap itself)
    new = (table["agent_id"] != table["agent_id"].shift()) | (
        table["start"] != table["end"].shift()
    )
    table["_run"] = new.cumsum()
    return table.groupby("_run").agg(
        agent_id=("agent_id", "first"),
        start=("start", "first"),
        end=("end", "last"),
        activity=("activity", "first"),
    )


def bench_adherence(agents: int, events_per_agent: int = 60) -> None:
    """Time the adherence engine on a synthetic day: ``agents`` agents, 8-hour shifts with a
    lunch, random state changes (mean 8 minutes apart)."""
    from openwfm.intraday import adherence, check_state_events

    rng = np.random.default_rng(0)
    day = pd.Timestamp("2024-03-04")
    rows, plan = [], []
    states = ["available", "busy", "wrap", "not_ready", "logged_out"]
    for a in range(agents):
        start = day + pd.Timedelta(hours=7 + a % 6)
        lunch = start + pd.Timedelta(hours=3)
        for lo, hi, activity in (
            (start, lunch, "voice"),
            (lunch, lunch + pd.Timedelta(minutes=30), "lunch"),
            (lunch + pd.Timedelta(minutes=30), start + pd.Timedelta(hours=8), "voice"),
        ):
            plan.append({"agent_id": f"a{a}", "start": lo, "end": hi, "activity": activity})
        t = start + pd.Timedelta(minutes=int(rng.integers(-10, 10)))
        for state in rng.choice(states, size=events_per_agent, p=[0.3, 0.4, 0.15, 0.1, 0.05]):
            rows.append(
                {
                    "agent_id": f"a{a}",
                    "ts": t,
                    "state": state,
                    "reason_code": "break" if state == "not_ready" else None,
                }
            )
            t += pd.Timedelta(seconds=int(rng.exponential(480)))
    events = check_state_events(pd.DataFrame(rows)).events
    with timed() as timing:
        result = adherence(events, pd.DataFrame(plan), start=day, end=day + pd.Timedelta(days=1))
    elapsed = timing.wall_s
    print(
        f"adherence engine: {agents} agents, {len(events)} state events -> "
        f"{len(result.segments)} segments, {len(result.exceptions)} exceptions in {elapsed:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--day", default=None, help="YYYY-MM-DD (default: the busiest day)")
    parser.add_argument("--as-of", default="10:00", help="cut-off, HH:MM")
    parser.add_argument("--replications", type=int, default=20, help="simulation replications")
    parser.add_argument(
        "--adherence-agents",
        type=int,
        default=500,
        help="agents of the synthetic adherence timing (0: skip)",
    )
    args = parser.parse_args()
    if args.adherence_agents:
        bench_adherence(args.adherence_agents)
    if not DATA.exists():
        print(f"data missing: {DATA}")
        return
    from openwfm.intraday import default_rules, evaluate_alerts, outlook, simulate_rest_of_day
    from openwfm.model import Scenario
    from openwfm.sim.replay import busy_agents_per_hour, exponential_patience_mle

    with timed() as timing:
        calls = load_calls()
    read_s = timing.wall_s
    per_day = calls.groupby(calls["arrival_time"].dt.normalize()).size()
    day = pd.Timestamp(args.day) if args.day else per_day.idxmax()
    as_of = pd.Timestamp(f"{day.date()} {args.as_of}")
    today = calls[calls["arrival_time"].dt.normalize() == day]
    before = calls[
        (calls["arrival_time"] < day) & (calls["arrival_time"] >= day - pd.Timedelta(days=28))
    ]
    patience_s = exponential_patience_mle(before)
    forecast = morning_forecast(calls, day)
    answered = today[today["outcome"] == "answered"]
    agents_per_hour = busy_agents_per_hour(answered, day).reindex(range(24), fill_value=0)
    agents = pd.DataFrame(
        {
            "interval_start": forecast["interval_start"],
            "queue": "calls",
            "agents": agents_per_hour.to_numpy(float),
        }
    )
    scenario = Scenario.model_validate(
        {
            "grid": {"interval_minutes": 60},
            "queues": [
                {
                    "name": "calls",
                    "aht_s": float(forecast["aht_s"].mean()),
                    "patience_s": patience_s,
                    "target": {"service_level": 0.8, "within_s": TARGET_S},
                }
            ],
            "agent_groups": [
                {
                    "name": "observed",
                    "count": int(max(agents_per_hour.max(), 1)),
                    "skills": {"calls": 1.0},
                }
            ],
        }
    )
    plain = outlook(
        forecast, today, agents, scenario, as_of=as_of, update_options={"method": "none"}
    )  # also compiles the Erlang A kernel
    with timed() as timing:
        updated = outlook(forecast, today, agents, scenario, as_of=as_of)
    outlook_s = timing.wall_s
    alerts = evaluate_alerts(default_rules(), as_of, outlook=updated)
    with timed() as timing:
        simulated = simulate_rest_of_day(
            scenario,
            updated.intervals,
            observed_schedule(agents_per_hour, day),
            as_of=as_of,
            replications=args.replications,
            seed=1,
        )
    simulate_s = timing.wall_s
    simulated = simulated.set_index(simulated["interval_start"].dt.hour)
    actual = actual_by_hour(today)
    rest = updated.intervals[~updated.intervals["past"]].set_index(
        updated.intervals["interval_start"].dt.hour[~updated.intervals["past"]]
    )
    rest_plain = plain.intervals[~plain.intervals["past"]].set_index(
        plain.intervals["interval_start"].dt.hour[~plain.intervals["past"]]
    )
    hours = [h for h in rest.index if actual.loc[h, "offered"] > 0]
    table = pd.DataFrame(
        {
            "hour": hours,
            "agents": [rest.loc[h, "agents"] for h in hours],
            "forecast": [rest.loc[h, "forecast"] for h in hours],
            "updated": [rest.loc[h, "forecast_updated"] for h in hours],
            "offered": [actual.loc[h, "offered"] for h in hours],
            "sl_proj": [rest.loc[h, "projected_service_level"] for h in hours],
            "sl_proj_no_update": [rest_plain.loc[h, "projected_service_level"] for h in hours],
            "sl_sim": [simulated["simulated_service_level"].get(h, np.nan) for h in hours],
            "sl_actual": [actual.loc[h, "actual_sl"] for h in hours],
            "ab_proj": [rest.loc[h, "projected_abandon"] for h in hours],
            "ab_proj_no_update": [rest_plain.loc[h, "projected_abandon"] for h in hours],
            "ab_sim": [simulated["simulated_abandon"].get(h, np.nan) for h in hours],
            "ab_actual": [actual.loc[h, "actual_abandon"] for h in hours],
        }
    )
    now = updated.queues.iloc[0]
    print(
        f"Anonymous Bank {day.date()} ({day:%A}), the busiest of {len(per_day)} days: "
        f"{len(today)} offered calls; outlook at {as_of:%H:%M}"
    )
    print(
        f"forecast = mean of the same weekday on {', '.join(forecast.attrs['days'])}; "
        f"patience {patience_s:.0f} s (MLE, 28 days before); agents = agent-hours on calls "
        f"per hour (the bank's actual staffing stands for the schedule); SL = answered within "
        f"{TARGET_S:.0f} s / offered"
    )
    print(
        f"at {as_of:%H:%M}: {now['offered_so_far']} offered so far, SL so far "
        f"{now['sl_so_far']:.3f}; update ratio x{now['ratio']:.3f} "
        f"({updated.intervals['update_method'].iloc[0]}); waiting now {now['waiting_now']}, "
        f"longest wait {now['longest_wait_s']:.0f} s, estimated wait of a new call "
        f"{now['estimated_wait_new_s']:.0f} s"
    )
    for alert in alerts.itertuples(index=False):
        print(f"alert at {as_of:%H:%M}: {alert.rule}: {alert.message}")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    afternoon = table[table["hour"] >= 12]
    weights = afternoon["offered"].to_numpy(float)
    for label, column in (
        ("projected (updated)", "sl_proj"),
        ("projected (no update)", "sl_proj_no_update"),
        ("simulated (updated)", "sl_sim"),
        ("actual", "sl_actual"),
    ):
        sl = np.average(afternoon[column], weights=weights)
        abandon = np.average(afternoon[column.replace("sl_", "ab_")], weights=weights)
        print(f"afternoon {label:22s} SL {sl:.3f}  abandonment {abandon:.3f}")
    for label, sl_column, volume_column in (
        ("Erlang A, updated", "sl_proj", "updated"),
        ("Erlang A, no update", "sl_proj_no_update", "forecast"),
        ("simulation, updated", "sl_sim", "updated"),
    ):
        ab_column = sl_column.replace("sl_", "ab_")
        sl_mae = np.mean(np.abs(afternoon[sl_column] - afternoon["sl_actual"]))
        ab_mae = np.mean(np.abs(afternoon[ab_column] - afternoon["ab_actual"]))
        volume_mae = np.mean(np.abs(afternoon[volume_column] - afternoon["offered"]))
        print(
            f"afternoon hourly MAE ({label}): SL {sl_mae:.3f}, abandonment {ab_mae:.3f}, "
            f"volume {volume_mae:.1f} calls"
        )
    print(
        f"timings: reading the 9 months {read_s:.1f} s; one outlook {outlook_s * 1000:.0f} ms; "
        f"simulated rest of day ({args.replications} replications) {simulate_s:.1f} s"
    )


if __name__ == "__main__":
    sys.exit(main())

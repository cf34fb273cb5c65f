"""CLI: ``openwfm intraday adherence | outlook | replan``.

Each command reads its inputs, computes everything, and only then writes its tables (CSV or
Parquet) and a chart page into ``--out`` together, so bad input leaves nothing half-written.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

import typer

if TYPE_CHECKING:
    import pandas as pd

    from openwfm.intraday.alerts import AlertRule

TableFormat = Literal["csv", "parquet"]
OutlookModel = Literal["erlang", "simulate"]

intraday_app = typer.Typer(
    name="intraday",
    help="Intraday management: adherence, rest-of-day outlook, alerts, re-planning.",
    no_args_is_help=True,
)


def read_any_table(path: Path, what: str) -> pd.DataFrame:
    """A CSV or Parquet table; DataError naming the file when missing or unreadable."""
    import pandas as pd

    from openwfm.errors import DataError

    if not path.exists():
        raise DataError(f"{what} file not found", file=str(path))
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except Exception as error:  # pandas/pyarrow raise many types for a corrupt file
        raise DataError(
            f"cannot read {what} ({str(error).splitlines()[0]})", file=str(path)
        ) from None


def write_outputs(out: Path, tables: dict, fmt: str, page: str | None = None) -> list[Path]:
    """Write ``{name: DataFrame}`` as ``out/name.csv|parquet`` plus ``out/page.html``, all to
    temporary files first and renamed into place only when every one is written."""
    import os
    import tempfile

    from openwfm.errors import ParameterError

    if fmt not in ("csv", "parquet"):
        raise ParameterError(f"expected csv or parquet, got {fmt!r}", field="--format")
    out.mkdir(parents=True, exist_ok=True)
    pending: dict[Path, Path] = {}
    try:
        items = [(out / f"{name}.{fmt}", frame) for name, frame in tables.items()]
        if page is not None:
            items.append((out / "page.html", page))
        for path, content in items:
            handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=out)
            os.close(handle)
            pending[path] = Path(name)
            if isinstance(content, str):
                pending[path].write_text(content, encoding="utf-8")
            elif fmt == "csv":
                content.to_csv(pending[path], index=False)
            else:
                content.to_parquet(pending[path], index=False)
            os.chmod(pending[path], 0o644)
        for path, written in pending.items():
            os.replace(written, path)
    finally:
        for written in pending.values():
            written.unlink(missing_ok=True)
    return list(pending)


def load_column_mapping(path: Path | None) -> dict:
    """A YAML column mapping ``{source column: schema column}`` or ``{columns: {...},
    time_format, delimiter}`` (as for interactions) -> keyword arguments of the reader."""
    from openwfm.intraday.states import STATE_EVENT_COLUMNS
    from openwfm.tables import load_mapping_file

    return load_mapping_file(
        path, options=("time_format", "delimiter"), targets=STATE_EVENT_COLUMNS
    )


def load_schedule(path: Path, timezone: str | None = None) -> pd.DataFrame:
    """The scheduled-activity table from a file: ``agent_id, start, end, activity`` as is
    (times with a UTC offset converted to ``timezone``), the scheduler's ``activities``
    (agent, interval_start, activity) or ``shifts``."""
    from openwfm.intraday.timeline import check_schedule_table, scheduled_activities

    frame = read_any_table(path, "schedule")
    if "interval_start" in frame.columns:
        return scheduled_activities(activities=frame)
    if "shift_start" in frame.columns:
        return scheduled_activities(shifts=frame)
    return check_schedule_table(frame, file=str(path), timezone=timezone)


def _day_window(date: str, as_of: str | None):
    import pandas as pd

    from openwfm.errors import ParameterError
    from openwfm.io import parse_date

    day = pd.Timestamp(parse_date(date, "--date"))
    now = None
    if as_of is not None:
        try:
            now = pd.Timestamp(f"{day.date()} {as_of}") if len(as_of) <= 8 else pd.Timestamp(as_of)
        except ValueError:
            raise ParameterError(
                f"expected HH:MM or a date-time, got {as_of!r}", field="--as-of"
            ) from None
    return day, day + pd.Timedelta(days=1), now


def adherence_command(
    states: Path = typer.Option(..., "--states", help="Agent-state events (CSV or Parquet)."),
    schedule: Path = typer.Option(
        ...,
        "--schedule",
        help="Schedule: activities, shifts or agent_id,start,end,activity (CSV or Parquet).",
    ),
    date: str = typer.Option(..., "--date", help="Day to evaluate, YYYY-MM-DD."),
    as_of: str = typer.Option(
        None, "--as-of", help="Now (HH:MM or date-time); default: the whole day."
    ),
    preset: str = typer.Option("genesys", "--preset", help="genesys, nice, teleopti, injixo."),
    adherence_map: Path = typer.Option(None, "--map", help="Adherence map (YAML rules)."),
    mapping: Path = typer.Option(None, "--mapping", help="YAML column mapping of the states."),
    resolutions: Path = typer.Option(
        None,
        "--resolutions",
        help="Supervisor resolutions (agent_id,start,end,resolution approved|neutral).",
    ),
    approve: str = typer.Option(
        None,
        "--approve",
        help="Exception ids to approve (comma-separated); appended to the "
        "--resolutions log, never overwriting it.",
    ),
    set_neutral: str = typer.Option(
        None, "--set-neutral", help="Exception ids to set neutral (comma-separated), likewise."
    ),
    by: str = typer.Option("supervisor", "--by", help="Who resolves (--approve/--set-neutral)."),
    note: str = typer.Option(None, "--note", help="Why (--approve/--set-neutral)."),
    roster: Path = typer.Option(
        None,
        "--roster",
        help="Known agents (a table with agent_id); default: the schedule's agents.",
    ),
    interval_minutes: int = typer.Option(15, "--interval-minutes", help="Interval length."),
    timezone: str = typer.Option(
        None,
        "--timezone",
        help="The center's IANA time zone (e.g. Europe/Amsterdam): state and schedule times "
        "with a UTC offset are converted to it (the day and --as-of are local). Without it, "
        "a state time keeps its own wall clock and a schedule time with an offset is an error.",
    ),
    out: Path = typer.Option(None, "--out", help="Output directory for tables and page.html."),
    fmt: TableFormat = typer.Option("csv", "--format", help="csv or parquet."),
) -> None:
    """Adherence and conformance per agent x interval and day, exceptions, who is out now."""
    from rich.console import Console

    from openwfm.data.timestamps import check_timezone
    from openwfm.intraday.adherence_figures import adherence
    from openwfm.intraday.mapping import default_adherence_map, load_adherence_map
    from openwfm.intraday.states import read_state_events

    if timezone is not None:
        check_timezone(timezone, "--timezone")
    day, end, now = _day_window(date, as_of)
    plan = load_schedule(schedule, timezone)
    known = set(plan["agent_id"])
    if roster is not None:
        known = set(read_any_table(roster, "roster")["agent_id"].astype(str))
    feed = read_state_events(
        states, roster=known, timezone=timezone, **load_column_mapping(mapping)
    )
    amap = load_adherence_map(adherence_map) if adherence_map else default_adherence_map()
    decisions = None
    if resolutions is not None and resolutions.exists():
        decisions = read_any_table(resolutions, "resolutions")

    def compute(decided):
        return adherence(
            feed.events,
            plan,
            amap,
            start=day,
            end=end,
            as_of=now,
            preset=preset,
            interval_minutes=interval_minutes,
            resolutions=decided,
        )

    result = compute(decisions)
    resolved = _resolve(result.exceptions, decisions, approve, set_neutral, by, note, resolutions)
    if resolved is not None:
        decisions = resolved
        result = compute(decisions)
    console = Console()
    shown = result.by_day[
        ["agent_id", "scheduled_s", "out_s", "not_scheduled_s", "adherence", "conformance"]
    ]
    console.print(
        f"adherence ({preset}) on {day.date()}" + (f" as of {now:%H:%M}" if now is not None else "")
    )
    console.print(shown.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if len(result.now):
        console.print(f"out of adherence now: {len(result.now)}")
        console.print(
            result.now[
                ["agent_id", "state", "activity", "type", "out_since", "out_for_s"]
            ].to_string(index=False)
        )
    if feed.rejected_count:
        console.print(f"rejected rows: {feed.rejected_count} (unknown agents; see rejected)")
    if out is not None:
        from openwfm.intraday.charts import adherence_page

        write_outputs(
            out,
            {
                "by_interval": result.by_interval,
                "by_day": result.by_day,
                "exceptions": result.exceptions,
                "now": result.now,
                "segments": result.segments,
                "rejected": feed.rejected,
            },
            fmt,
            adherence_page(result, title=f"Adherence {day.date()} ({preset})"),
        )
    if resolved is not None:
        from openwfm.io import write_table

        write_table(resolved, resolutions, "--resolutions")


def _resolve(exceptions, decisions, approve, set_neutral, by, note, log_path):
    """The resolution log with the supervisor's new decisions appended (None: no decision)."""
    from openwfm.errors import ParameterError
    from openwfm.intraday.adherence_figures import resolve_exceptions

    if approve is None and set_neutral is None:
        return None
    if log_path is None:
        raise ParameterError(
            "--approve/--set-neutral need --resolutions (the log file)", field="--resolutions"
        )
    log = decisions
    for ids, resolution in ((approve, "approved"), (set_neutral, "neutral")):
        if ids:
            chosen = [i.strip() for i in ids.split(",") if i.strip()]
            log = resolve_exceptions(exceptions, chosen, resolution, by=by, note=note, log=log)
    return log


def _as_of(text: str):
    import pandas as pd

    from openwfm.errors import ParameterError

    try:
        return pd.Timestamp(text)
    except ValueError:
        raise ParameterError(
            f"expected a date-time YYYY-MM-DD HH:MM, got {text!r}", field="--as-of"
        ) from None


def load_alert_rules(path: Path | None) -> list[AlertRule]:
    """Alert rules from YAML (``rules: [{name, metric, threshold, op, look_ahead_s,
    cooldown_s, queues}]``); the defaults when no file is given."""
    from openwfm.intraday.alerts import default_rules

    if path is None:
        return default_rules()
    from openwfm.errors import DataError
    from openwfm.intraday.alerts import AlertRules
    from openwfm.yaml_input import load_yaml_model

    what = "expected a list of rules (or rules: [...])"
    return load_yaml_model(
        path, AlertRules, DataError, "alert rules file", what, list_key="rules"
    ).rules


def forecast_interval_minutes(forecast: pd.DataFrame, default: int) -> int:
    """The forecast's own interval length (smallest step between its interval starts)."""
    starts = forecast["interval_start"].drop_duplicates().sort_values()
    steps = starts.diff().dropna()
    steps = steps[steps.dt.total_seconds() > 0]
    return int(steps.min().total_seconds() // 60) if len(steps) else default


def outlook_inputs(
    scenario_path: Path,
    forecast_path: Path,
    interactions: Path,
    schedule: Path,
    states: Path | None,
    mapping: Path | None,
    as_of_text: str,
) -> tuple:
    """Everything the outlook and the re-planner read, checked before any work."""
    import pandas as pd

    from openwfm.data.readers import read_interactions
    from openwfm.intraday.reforecast import check_forecast
    from openwfm.intraday.rest_of_day import absent_now, agents_on_line
    from openwfm.intraday.states import read_state_events
    from openwfm.scenario import load_scenario

    scenario = load_scenario(scenario_path)
    as_of = _as_of(as_of_text)
    forecast = check_forecast(read_any_table(forecast_path, "forecast"))
    contacts = read_interactions(interactions)
    plan = load_schedule(schedule)
    absent = set()
    now_view = None
    if states is not None:
        from openwfm.intraday.adherence_figures import adherence

        feed = read_state_events(
            states, roster=set(plan["agent_id"]), **load_column_mapping(mapping)
        )
        absent = absent_now(feed.events, as_of)
        day = as_of.normalize()
        now_view = adherence(
            feed.events, plan, start=day, end=day + pd.Timedelta(days=1), as_of=as_of
        ).now
    step = forecast_interval_minutes(forecast, scenario.grid.interval_minutes)
    forecast.attrs["interval_minutes"] = step
    agents = agents_on_line(
        plan,
        scenario,
        start=as_of.normalize(),
        end=as_of.normalize() + pd.Timedelta(days=1),
        interval_minutes=step,
        absent=absent,
        as_of=as_of,
    )
    return scenario, as_of, forecast, contacts, plan, agents, absent, now_view


def outlook_command(
    scenario: Path = typer.Option(..., "--scenario", help="Scenario YAML (queues, targets)."),
    forecast: Path = typer.Option(
        ...,
        "--forecast",
        help="Forecast table (interval_start, queue, forecast[, aht_s]) the schedule used.",
    ),
    interactions: Path = typer.Option(
        ..., "--interactions", help="Contacts so far (any format openwfm ingest reads)."
    ),
    schedule: Path = typer.Option(
        ..., "--schedule", help="Schedule (activities, shifts, or agent_id,start,end,activity)."
    ),
    as_of: str = typer.Option(..., "--as-of", help="Now, YYYY-MM-DD HH:MM."),
    states: Path = typer.Option(
        None,
        "--states",
        help="Agent-state events (absent agents are taken off the rest of the day).",
    ),
    mapping: Path = typer.Option(None, "--mapping", help="YAML column mapping of the states."),
    rules: Path = typer.Option(None, "--alert-rules", help="Alert rules (YAML)."),
    alert_log: Path = typer.Option(
        None,
        "--alert-log",
        help="Earlier alert rows (CSV) for the cool-down; new alerts are appended to it.",
    ),
    backlog: Path = typer.Option(
        None, "--backlog", help="Open deferred work (queue, due, open_items) for its alert."
    ),
    update_method: str = typer.Option(
        "ratio_shrunk",
        "--update-method",
        help="Intraday forecast update: ratio_shrunk, ratio, ratio_window, ratio_half, none.",
    ),
    model: OutlookModel = typer.Option(
        "erlang",
        "--model",
        help="erlang (queueing formulas per queue) "
        "or simulate (the simulator, for multi-skill centers).",
    ),
    replications: int = typer.Option(10, "--replications", help="Simulation replications."),
    seed: int = typer.Option(0, "--seed", help="Simulation seed."),
    out: Path = typer.Option(None, "--out", help="Output directory for tables and page.html."),
    fmt: TableFormat = typer.Option("csv", "--format", help="csv or parquet."),
) -> None:
    """Rest-of-day outlook per queue x interval, the queue now, and alerts."""
    import pandas as pd
    from rich.console import Console

    from openwfm.errors import DataError
    from openwfm.intraday.alerts import evaluate_alerts
    from openwfm.intraday.rest_of_day import outlook

    sc, now, table, contacts, plan, agents, absent, now_view = outlook_inputs(
        scenario, forecast, interactions, schedule, states, mapping, as_of
    )
    alert_rules = load_alert_rules(rules)
    log = None
    if alert_log is not None and alert_log.exists():
        log = read_any_table(alert_log, "alert log")
    minutes = table.attrs["interval_minutes"]
    result = outlook(
        table,
        contacts,
        agents,
        sc,
        as_of=now,
        interval_minutes=minutes,
        update_options={"method": update_method},
    )
    if model == "simulate":
        from openwfm.intraday.simulated import simulate_rest_of_day, use_simulation

        with Console(stderr=True).status(
            f"simulating the rest of the day ({replications} replications)..."
        ):
            simulated = simulate_rest_of_day(
                sc,
                result.intervals,
                plan,
                as_of=now,
                absent=absent,
                interval_minutes=minutes,
                replications=replications,
                seed=seed,
            )
        result = use_simulation(result, simulated)
    open_work = read_any_table(backlog, "backlog") if backlog is not None else None
    if open_work is not None:
        missing = [c for c in ("queue", "due", "open_items") if c not in open_work.columns]
        if missing:
            raise DataError(f"missing column {missing[0]}", file=str(backlog), field=missing[0])
    alerts = evaluate_alerts(
        alert_rules, now, outlook=result, now_view=now_view, backlog=open_work, log=log
    )
    console = Console()
    console.print(f"outlook as of {now} ({len(absent)} scheduled agent(s) absent)")
    console.print(
        result.queues.drop(columns=["as_of"]).to_string(
            index=False, float_format=lambda v: f"{v:.3f}"
        )
    )
    for row in alerts.itertuples(index=False):
        console.print(f"ALERT {row.rule}: {row.message}")
    if out is not None:
        from openwfm.intraday.charts import outlook_page

        write_outputs(
            out,
            {"intervals": result.intervals, "queues": result.queues, "alerts": alerts},
            fmt,
            outlook_page(result, alerts, f"Outlook as of {now}"),
        )
    if alert_log is not None and len(alerts):
        from openwfm.io import write_table

        merged = alerts if log is None else pd.concat([log, alerts], ignore_index=True)
        write_table(merged, alert_log, "--alert-log")


def replan_command(
    scenario: Path = typer.Option(
        ..., "--scenario", help="Scenario YAML with the schedule section (templates, contracts)."
    ),
    forecast: Path = typer.Option(..., "--forecast", help="Forecast table the schedule used."),
    interactions: Path = typer.Option(..., "--interactions", help="Contacts so far."),
    shifts: Path = typer.Option(
        ...,
        "--shifts",
        help="The scheduler's shifts table (agent, "
        "date, shift_type, shift_start, shift_end, paid_minutes, "
        "breaks).",
    ),
    as_of: str = typer.Option(..., "--as-of", help="Now, YYYY-MM-DD HH:MM."),
    states: Path = typer.Option(None, "--states", help="Agent-state events."),
    mapping: Path = typer.Option(None, "--mapping", help="YAML column mapping of the states."),
    accept: str = typer.Option(
        None,
        "--accept",
        help="Accept proposals: 'all' or ids p1,p3 -> a new schedule version in --out.",
    ),
    max_overtime: int = typer.Option(10, "--max-overtime", help="Most overtime proposals."),
    max_vto: int = typer.Option(10, "--max-vto", help="Most voluntary-time-off proposals."),
    out: Path = typer.Option(None, "--out", help="Output directory."),
    fmt: TableFormat = typer.Option("csv", "--format", help="csv or parquet."),
    publish: str = typer.Option(
        None,
        "--publish",
        help="URL of a running 'openwfm serve': the shifts and proposals go to its supervisor's "
        "desk (PUT /v1/intraday/replan; key: OPENWFM_KEY, else OPENWFM_ADMIN_KEY).",
    ),
) -> None:
    """Re-plan the rest of the day: break moves, overtime, voluntary time off, each with its
    projected service level; accepted proposals make a new schedule version."""
    from rich.console import Console

    from openwfm.errors import ParameterError
    from openwfm.intraday.replanning import accept_proposals, replan
    from openwfm.intraday.rest_of_day import outlook

    sc, now, table, contacts, _, agents, _, _ = outlook_inputs(
        scenario, forecast, interactions, shifts, states, mapping, as_of
    )
    shift_table = read_any_table(shifts, "shifts")
    minutes = table.attrs["interval_minutes"]
    view = outlook(table, contacts, agents, sc, as_of=now, interval_minutes=minutes)
    with Console(stderr=True).status("searching break moves, overtime and time off..."):
        result = replan(
            shift_table,
            sc,
            view.intervals,
            as_of=now,
            interval_minutes=minutes,
            max_overtime=max_overtime,
            max_vto=max_vto,
        )
    tables = {"proposals": result.proposals}
    if accept is not None:
        if out is None:
            raise ParameterError(
                "--accept needs --out (where the new version goes)", field="--accept"
            )
        ids = (
            None
            if accept.strip().lower() == "all"
            else [p.strip() for p in accept.split(",") if p.strip()]
        )
        new = accept_proposals(shift_table, result.proposals, ids, sc)
        tables[f"shifts_v{int(new['version'].iloc[0])}"] = new
    console = Console()
    console.print(
        f"re-plan as of {now}: projected rest-of-day service level "
        f"{result.sl_before:.3f} -> {result.sl_all_accepted:.3f} with all "
        f"{len(result.proposals)} proposal(s); {result.rejected} dropped by the "
        "rule checker"
    )
    if len(result.proposals):
        console.print(
            result.proposals[
                ["proposal_id", "kind", "agent", "detail", "projected_sl_after"]
            ].to_string(index=False)
        )
    if out is not None:
        from openwfm.intraday.charts import replan_page

        tables["intervals"] = result.intervals
        write_outputs(out, tables, fmt, replan_page(result, f"Re-plan as of {now}"))
    if publish:
        from openwfm.web.publish import put_to_router, replan_payload

        answer = put_to_router(
            publish, "/v1/intraday/replan", replan_payload(shift_table, result.proposals, now)
        )
        console.print(f"published to {publish}: schedule version {answer.get('version')}")


def register(app: typer.Typer) -> None:
    intraday_app.command("adherence")(adherence_command)
    intraday_app.command("outlook")(outlook_command)
    intraday_app.command("replan")(replan_command)
    app.add_typer(intraday_app, name="intraday")

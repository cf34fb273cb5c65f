"""The declarations: one :class:`~openwfm.tables.schema.Table` per table passed between stages."""

from __future__ import annotations

from openwfm.tables.schema import Column, Table

_QUEUE = Column("queue", doc="queue name (a scenario queue)")
_SEGMENT = Column("segment", doc="customer segment ('default' or 'all' for a roll-up)")
_INTERVAL = Column("interval_start", "time", doc="start of the interval (local wall clock)")


def _count(name: str, doc: str, **kw) -> Column:
    return Column(name, "number", "contacts", doc, min=0.0, **kw)


def _seconds(name: str, doc: str, **kw) -> Column:
    return Column(name, "number", "s", doc, min=0.0, **kw)


def _fraction(name: str, doc: str, **kw) -> Column:
    return Column(name, "number", "fraction", doc, min=0.0, max=1.0, **kw)


def _time(name: str, doc: str, **kw) -> Column:
    return Column(name, "time", doc=doc, clock="local", **kw)


OUTCOMES = ("answered", "abandoned", "ivr_only", "excluded")

INTERACTIONS = Table(
    "interactions",
    "One row per contact, whatever the source (openwfm.data.schema); the readers, the store "
    "and the live router's export all produce it.",
    (
        Column("interaction_id", doc="unique within the store"),
        _QUEUE,
        Column("channel", doc="openwfm.model.Channel value"),
        Column("segment", doc="customer segment ('default' when the source has none)"),
        _time("arrival_time", "joined the agent queue (or entered, if never queued)"),
        _time("answer_time", "NaT unless answered", nullable=True),
        _time("end_time", "end of handling; NaT unless answered", nullable=True),
        _time("abandon_time", "NaT unless abandoned", nullable=True),
        _seconds("wait_s", "time in the agent queue"),
        _seconds("handle_s", "handle time (0 when not answered, NaN when unknown)", nullable=True),
        Column("agent", doc="<NA> when unknown or not answered", nullable=True),
        Column("outcome", doc="openwfm.data.schema.Outcome value", choices=OUTCOMES),
        Column("source", doc="file (or 'router') the row came from"),
    ),
    keys=("interaction_id",),
)

_KPI_GROUPS = (
    Column("queue", required=False),
    Column("segment", required=False),
    Column("channel", required=False),
)
INTERVAL_KPIS = Table(
    "interval KPIs",
    "Per interval and group (queue / segment / channel), from openwfm.data.intervals.",
    (
        _INTERVAL,
        *_KPI_GROUPS,
        _count("offered", "contacts offered to agents"),
        _count("answered", "contacts answered"),
        _count("abandoned", "contacts abandoned in the queue"),
        _count("short_abandoned", "abandoned within the short-abandon threshold"),
        _count("answered_within_target", "answered within the target time"),
        _fraction("service_level", "by sl_definition; NaN with nothing offered", nullable=True),
        Column("sl_definition", doc="openwfm.model.ServiceLevelDefinition value"),
        _seconds("asa_s", "mean wait of the answered", nullable=True),
        _seconds("aht_s", "mean handle time of the answered", nullable=True),
        _seconds("avg_wait_s", "mean wait of all offered", nullable=True),
        _seconds("p90_wait_s", "90th percentile of the wait", nullable=True),
        Column("agents", "number", "agents", "agents who handled a contact", min=0.0),
        _seconds("busy_s", "agent-seconds handling contacts in the interval"),
        Column("occupancy", "number", "fraction", "busy / staffed time", nullable=True, min=0),
        _count("ivr_only", "contacts that ended in the IVR"),
    ),
    keys=("interval_start", "queue", "segment", "channel"),
)

HISTORY = Table(
    "history",
    "Offered contacts per queue and interval: what the forecast learns from.",
    (
        Column(
            "interval_start",
            "time",
            doc="interval start (local wall clock; an offset is dropped)",
            messages={
                "type": "unparseable time {value!r}; expected an ISO timestamp such as "
                "1999-03-01T08:30:00"
            },
        ),
        Column("queue", doc="queue name", messages={"missing": "empty queue name"}),
        _count(
            "offered",
            "contacts offered in the interval",
            messages={
                "missing": "not a number: {value!r}",
                "type": "not a number: {value!r}",
                "infinite": "not a finite number: {value!r}",
                "below": "negative value {number:g}; expected a count/duration >= 0",
            },
        ),
        _seconds(
            "aht_s",
            "average handle time of the interval",
            required=False,
            nullable=True,
            messages={
                "type": "not a number: {value!r}",
                "infinite": "not a finite number: {value!r}",
                "below": "negative value {number:g}; expected a count/duration >= 0",
            },
        ),
    ),
    keys=("queue", "interval_start"),
    duplicate_message="duplicate interval {interval_start} for queue {queue!r} (first at line "
    "{first_line}); expected one row per queue and interval",
)

FORECAST = Table(
    "forecast",
    "Contacts per queue and interval ahead, with prediction intervals "
    "(openwfm.forecast.Forecaster.predict; `openwfm forecast` writes it without `dispersion` "
    "and `method`).",
    (
        _INTERVAL,
        _QUEUE,
        Column("segment", required=False, doc="customer segment (optional)"),
        _count("forecast", "expected contacts in the interval"),
        _count("lower_80", "80% prediction interval, lower bound", required=False),
        _count("upper_80", "80% prediction interval, upper bound", required=False),
        _count("lower_95", "95% prediction interval, lower bound", required=False),
        _count("upper_95", "95% prediction interval, upper bound", required=False),
        Column(
            "dispersion",
            "number",
            "1 (variance = forecast + dispersion x forecast^2, contacts^2)",
            "negative-binomial dispersion phi of the count, calibrated so the 80% interval "
            "covers 80% of a backtest's actuals (per queue): what a simulation samples "
            "forecast uncertainty from (a gamma rate factor of mean 1 and variance phi)",
            required=False,
            min=0.0,
        ),
        Column("method", doc="forecast model chosen for the queue", required=False),
        _seconds("aht_s", "forecast handle time", required=False, nullable=True),
    ),
    keys=("queue", "segment", "interval_start"),
)

REQUIREMENTS = Table(
    "requirements",
    "Required agents per queue and interval (openwfm.staffing.requirements); the scheduler's "
    "input.",
    (
        _INTERVAL,
        _QUEUE,
        Column("arrival_rate_per_s", "number", "contacts/s", required=False, min=0.0),
        _seconds("aht_s", "handle time", required=False),
        _seconds("target_s", "service-level target time", required=False),
        _fraction("target_service_level", "target share within target_s", required=False),
        Column(
            "required_agents",
            "number",
            "agents",
            "agents on the queue needed to meet the target",
            min=0.0,
            expected="a finite number of agents >= 0",
        ),
        Column("scheduled_agents", "number", "agents", required=False, nullable=True, min=0.0),
        Column(
            "model", doc="queueing model used (erlang_c, erlang_a, chat, deferred)", required=False
        ),  # fmt: skip
        Column("sl_definition", required=False),
        _fraction("expected_service_level", "at required_agents", required=False, nullable=True),
        _seconds("expected_asa_s", "at required_agents", required=False, nullable=True),
        _fraction("expected_abandon", "at required_agents", required=False, nullable=True),
        Column("expected_occupancy", "number", "fraction", required=False, nullable=True),
        Column(
            "binding_segment",
            doc="segment whose target bound ('queue': the queue's)",
            required=False,
        ),  # fmt: skip
    ),
    keys=("queue", "interval_start"),
)

SHIFTS = Table(
    "shifts",
    "One row per scheduled shift (openwfm.schedule: `openwfm schedule --out`).",
    (
        Column("agent"),
        Column("team", required=False, nullable=True),
        Column("contract", required=False, nullable=True),
        Column("date", "date", doc="day the shift starts"),
        Column("shift_type", required=False),
        Column("shift_start", "time", doc="local wall clock"),
        Column("shift_end", "time", doc="local wall clock"),
        Column("paid_minutes", "number", "minutes", min=0.0, whole=True),
        Column("breaks", doc="'HH:MM-HH:MM name; ...'", required=False, nullable=True),
    ),
    keys=("agent", "date"),
)

ACTIVITIES = Table(
    "activities",
    "The scheduler's activity grid: what each agent does in each interval (a queue name, a "
    "break name, 'idle').",
    (Column("agent"), _time("interval_start", "interval start"), Column("activity")),
    keys=("agent", "interval_start"),
)

TIMELINE = Table(
    "schedule timeline",
    "Activities with start and end per agent (the simulator's and the intraday desk's "
    "schedule input; `agent_id` in the intraday stage).",
    (
        Column("agent", messages={"unknown": "unknown agent {value!r} (not in the scenario)"}),
        _time("start", "activity start"),
        _time("end", "activity end"),
        Column("activity", required=False, doc="shift, a queue, a break... (default: shift)"),
    ),
)

AGENT_COUNTS = Table(
    "agent counts",
    "Agents on duty per interval (a schedule given as counts).",
    (
        _time("interval_start", "interval start"),
        Column(
            "agents",
            "number",
            "agents",
            min=0.0,
            whole=True,
            expected="a whole number of agents >= 0",
        ),
        Column("team", required=False),
    ),
)

COVERAGE = Table(
    "coverage",
    "Scheduled against required agents per queue and interval (`schedule --out` .coverage.csv).",
    (
        _INTERVAL,
        _QUEUE,
        Column("required", "number", "agents", min=0.0, whole=True),
        Column("scheduled", "number", "agents", min=0.0, whole=True),
        Column("under", "number", "agents", min=0.0, whole=True),
        Column("over", "number", "agents", min=0.0, whole=True),
    ),
    keys=("queue", "interval_start"),
)

RATES = Table(
    "rates",
    "Arrival rates per interval: the simulator's non-homogeneous Poisson input.",
    (
        _time("interval_start", "interval start (an offset is converted to the center's zone)"),
        _QUEUE,
        Column("segment", required=False, doc="without it a queue splits by segment shares"),
        Column(
            "arrival_rate_per_s",
            "number",
            "contacts/s",
            "constant within the interval",
            min=0.0,
            expected="a rate >= 0 contacts per second",
        ),
    ),
)

_SIM_METRICS = (
    ("offered", "contacts"),
    ("answered", "contacts"),
    ("abandoned", "contacts"),
    ("abandon_rate", "fraction"),
    ("p_wait", "fraction"),
    ("service_level", "fraction"),
    ("asa_s", "s"),
    ("aht_s", "s"),
    ("occupancy", "fraction"),
    ("past_deadline_rate", "fraction"),
)
SIMULATION_INTERVALS = Table(
    "simulation intervals",
    "Simulated KPIs per queue, segment and interval with 95% confidence intervals over the "
    "replications (openwfm.sim; rows with segment 'all' and queue 'all' are roll-ups). Only "
    "centers with outbound work have the (optional) outbound, outbound_ci_low and "
    "outbound_ci_high columns (outbound calls made per interval).",
    (
        _QUEUE,
        _SEGMENT,
        _INTERVAL,
        *(
            Column(f"{name}{suffix}", "number", unit, nullable=True, min=0.0)
            for name, unit in _SIM_METRICS
            for suffix in ("", "_ci_low", "_ci_high")
        ),
        *(
            Column(f"outbound{suffix}", "number", "contacts", required=False, nullable=True, min=0)
            for suffix in ("", "_ci_low", "_ci_high")
        ),
    ),
    keys=("queue", "segment", "interval_start"),
)

STATE_EVENTS = Table(
    "agent state events",
    "From ts on, agent_id is in state (openwfm.intraday.states; written by the live router's "
    "agent events and ACD exports).",
    (
        Column("agent_id"),
        _time("ts", "local time of the change"),
        Column("state"),
        Column("reason_code", nullable=True),
        Column("source"),
    ),
)

RESOLUTIONS = Table(
    "resolutions",
    "A supervisor's resolutions of adherence exceptions (the desk -> openwfm.intraday): "
    "'approved' counts the span as adherent, 'neutral' counts it on neither side.",
    (
        Column("agent_id"),
        _time("start", "start of the resolved span"),
        _time("end", "end of the resolved span"),
        Column(
            "resolution",
            choices=("approved", "neutral"),
            messages={"unknown": "expected approved or neutral, got {value!r}"},
        ),
        Column("by", required=False, nullable=True, doc="who resolved it"),
        Column("note", required=False, nullable=True),
    ),
)

WEEKLY_FORECAST = Table(
    "weekly forecast",
    "Contacts per week and queue: the long-term capacity plan's input.",
    (
        Column("week_start", "date", expected="a date"),
        _QUEUE,
        _count("offered", "contacts in the week", expected="a number in 0..inf"),
        _seconds("aht_s", "handle time", min_exclusive=True, expected="a number in 1e-09..inf"),
        Column("days", "number", "days", required=False, min=1, max=7, expected="a number in 1..7"),
    ),
)

ROSTER = Table(
    "roster",
    "Agents with hire (and exit) dates: the capacity plan's starting headcount.",
    (
        Column("agent"),
        Column("hire_date", "date", expected="a date"),
        Column("exit_date", "date", required=False, nullable=True, expected="a date"),
        Column("skills", required=False, nullable=True),
        Column(
            "fte",
            "number",
            "FTE",
            required=False,
            min=1e-9,
            max=1.0,
            expected="a number in 1e-09..1",
        ),  # fmt: skip
        Column("site", required=False, nullable=True),
    ),
)


def _weight(name: str, doc: str) -> Column:
    return Column(name, "number", "cost", doc, min=0.0, expected="a finite weight >= 0")


SLOT_REQUIREMENTS = Table(
    "slot_requirements",
    "Cover per shift type and date for a slot roster (openwfm.schedule.schedule_slots; "
    "`openwfm schedule --slots`): agents work only the listed slots.",
    (
        Column("date", "date", doc="day the shift starts", expected="a date YYYY-MM-DD"),
        Column("shift", doc="shift type (a scenario shift template with a fixed start)"),
        Column(
            "required",
            "number",
            "agents",
            "agents needed",
            min=0.0,
            whole=True,
            expected="a whole number of agents >= 0",
        ),
        _weight("under_weight", "cost of each agent missing"),
        _weight("over_weight", "cost of each agent beyond required"),
    ),
    keys=("date", "shift"),
    duplicate_message="this slot is given twice (first at line {first_line}); expected one row "
    "per date and shift",
)

PROFILE = Table(
    "profile",
    "Share of a queue's weekly volume per weekday and time of day (capacity planning).",
    (
        _QUEUE,
        Column("weekday", "number", "day", "0 = Monday .. 6 = Sunday", min=0, max=6, whole=True),
        Column("time", "time_of_day", "s after midnight", "interval start, HH:MM in the file"),
        Column("share", "number", "fraction", "normalised per queue over the week", min=0.0),
    ),
)

ALL_TABLES: tuple[Table, ...] = (
    INTERACTIONS,
    INTERVAL_KPIS,
    HISTORY,
    FORECAST,
    REQUIREMENTS,
    SHIFTS,
    ACTIVITIES,
    TIMELINE,
    AGENT_COUNTS,
    COVERAGE,
    RATES,
    SIMULATION_INTERVALS,
    STATE_EVENTS,
    RESOLUTIONS,
    WEEKLY_FORECAST,
    ROSTER,
    SLOT_REQUIREMENTS,
    PROFILE,
)

"""Shared domain types: channels, queues, service targets, segments, agents, contracts.

These pydantic models are the validated form of a scenario file (see :mod:`openwfm.scenario`)
and the typed records passed between stages. Durations are in seconds (``*_s``), fractions in
0..1, clock times as ``HH:MM`` local to the center's time zone.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

# Numbers are strict (``true`` is not 1) and finite (``.inf`` is not a duration); no duration a
# scenario gives (handle time, patience, a target) is longer than a year.
MAX_SCENARIO_SECONDS = 366 * 86400.0
Fraction = Annotated[float, Field(ge=0.0, le=1.0, strict=True, allow_inf_nan=False)]
PositiveSeconds = Annotated[
    float, Field(gt=0.0, le=MAX_SCENARIO_SECONDS, strict=True, allow_inf_nan=False)
]


def _clock_text(value):
    """YAML 1.1 reads an unquoted ``08:00`` as the base-60 number 480: ask for quotes."""
    if isinstance(value, int) and not isinstance(value, bool):
        return_hint = f"{value // 60:02d}:{value % 60:02d}"
        raise ValueError(
            f'write clock times in quotes, e.g. "{return_hint}" (YAML reads an unquoted '
            f"{return_hint} as the number {value})"
        )
    return value


Clock = Annotated[str, BeforeValidator(_clock_text)]


class Strict(BaseModel):
    """Base: unknown fields are errors (a typo in a scenario must not pass silently)."""

    model_config = ConfigDict(extra="forbid", frozen=False)


class Channel(StrEnum):
    VOICE = "voice"
    CHAT = "chat"
    EMAIL = "email"
    SOCIAL = "social"
    MESSAGING = "messaging"
    CALLBACK = "callback"

    @property
    def is_live(self) -> bool:
        """Live channels are answered while the customer waits; the others are deferred work."""
        return self in (Channel.VOICE, Channel.CHAT, Channel.MESSAGING)


class ServiceLevelDefinition(StrEnum):
    """The three service-level definitions the industry uses.

    - ``offered``: answered within the target time / all offered contacts.
    - ``answered``: answered within the target time / answered contacts.
    - ``exclude_short_abandons``: answered within target / (offered - abandons within the
      short-abandon threshold).
    """

    OFFERED = "offered"
    ANSWERED = "answered"
    EXCLUDE_SHORT_ABANDONS = "exclude_short_abandons"


class ServiceTarget(Strict):
    """A service goal: ``service_level`` of contacts handled within ``within_s``.

    For live channels ``within_s`` is the time to answer (80% answered within 20 s). For deferred
    channels it is the time to finish the item, counted in open (business) time when
    ``business_hours`` is true (90% handled within 8 business hours); ``all_within_s`` is an
    optional hard deadline for every item. ``max_abandon`` caps the abandonment rate,
    ``max_asa_s`` the mean wait and ``max_occupancy`` the agents' busy fraction.
    """

    service_level: Fraction = 0.8
    within_s: PositiveSeconds = 20.0
    definition: ServiceLevelDefinition = ServiceLevelDefinition.OFFERED
    max_abandon: Fraction | None = None
    max_asa_s: PositiveSeconds | None = None
    max_occupancy: Fraction | None = None
    business_hours: bool = True
    all_within_s: PositiveSeconds | None = None
    short_abandon_s: Annotated[float, Field(ge=0.0)] = 5.0  # for exclude_short_abandons

    @model_validator(mode="after")
    def _deadline_after_target(self) -> ServiceTarget:
        if self.all_within_s is not None and self.all_within_s < self.within_s:
            raise ValueError(
                f"all_within_s ({self.all_within_s:g} s) is the deadline for every item; it "
                f"cannot be shorter than within_s ({self.within_s:g} s)"
            )
        return self


class Demand(Strict):
    """Expected volume of a queue, used by the synthetic generator and scenario-driven simulation.

    ``contacts_per_day`` is the volume of an average open weekday; ``weekday_factor`` scales it
    per weekday (missing weekdays get 1.0); the intraday shape is a sum of Gaussian peaks
    (``peaks``: clock time -> relative weight) over the opening hours, flat when empty.
    """

    contacts_per_day: Annotated[float, Field(ge=0.0)]
    weekday_factor: dict[Weekday, Annotated[float, Field(ge=0.0)]] = Field(default_factory=dict)
    peaks: dict[str, Annotated[float, Field(gt=0.0)]] = Field(default_factory=dict)
    peak_width_s: PositiveSeconds = 5400.0

    @field_validator("peaks")
    @classmethod
    def _peak_times(cls, peaks: dict[str, float]) -> dict[str, float]:
        for clock in peaks:
            parse_clock(clock)
        return peaks


class Queue(Strict):
    """A queue of contacts of one channel, with its handle time, patience and target.

    ``aht_s`` is the mean handle time (talk + hold + wrap-up) in seconds; for chat,
    ``aht_s_by_concurrency[k-1]`` is the mean handle time of one chat while the agent holds k
    (practitioners measure chat handle time per concurrency level). ``patience_s`` is the mean
    time a customer waits before abandoning (None: never abandons).
    """

    name: Annotated[str, Field(min_length=1)]
    channel: Channel = Channel.VOICE
    aht_s: PositiveSeconds
    handle_time_distribution: Literal["exponential", "lognormal"] = "exponential"
    handle_time_cv: Annotated[float, Field(gt=0.0)] = 1.0
    wrap_up_s: Annotated[float, Field(ge=0.0)] = 0.0
    patience_s: PositiveSeconds | None = None
    max_concurrency: Annotated[int, Field(ge=1)] = 1
    aht_s_by_concurrency: list[PositiveSeconds] | None = None
    target: ServiceTarget = Field(default_factory=ServiceTarget)
    demand: Demand | None = None
    # simulation: handle time grows by this factor per unit of proficiency below 1.0
    # (mean = aht * (1 + slope * (1 - proficiency))); an abandoned caller redials with
    # ``redial_probability`` after an exponential delay of mean ``redial_delay_s``.
    proficiency_slope: Annotated[float, Field(ge=0.0)] = 0.0
    redial_probability: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    redial_delay_s: PositiveSeconds = 300.0
    # blending (openwfm.queueing.blend): ``outbound_per_hour`` outbound calls of mean
    # ``outbound_aht_s`` (None: aht_s) to make, one started whenever more than
    # ``outbound_threshold`` agents skilled for the queue are idle (None: staffing picks the
    # least threshold per interval; the simulator needs it given).
    outbound_per_hour: Annotated[float, Field(ge=0.0)] = 0.0
    outbound_aht_s: PositiveSeconds | None = None
    outbound_threshold: Annotated[int, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _concurrency(self) -> Queue:
        if self.aht_s_by_concurrency is not None and (
            len(self.aht_s_by_concurrency) != self.max_concurrency
        ):
            raise ValueError(
                f"aht_s_by_concurrency needs max_concurrency={self.max_concurrency} values, "
                f"got {len(self.aht_s_by_concurrency)}"
            )
        if self.outbound_per_hour > 0 and (
            self.max_concurrency > 1 or self.channel not in (Channel.VOICE, Channel.CALLBACK)
        ):
            raise ValueError(
                "outbound_per_hour (blending) needs a voice or callback queue with "
                "max_concurrency 1"
            )
        return self


class Segment(Strict):
    """A customer segment (e.g. high-value) with a routing priority and its own targets.

    ``share`` is the segment's fraction of each queue's volume; ``targets`` override the
    queue's target for this segment (the "A-team" case: a tighter target for key customers).
    Higher ``priority`` is served first.
    """

    name: Annotated[str, Field(min_length=1)]
    priority: int = 0
    share: dict[str, Fraction] = Field(default_factory=dict)
    targets: dict[str, ServiceTarget] = Field(default_factory=dict)


class Contract(Strict):
    """Working-time terms of an agent: minutes per week, shift lengths, days, rest."""

    name: Annotated[str, Field(min_length=1)]
    min_minutes_per_week: Annotated[int, Field(ge=0)] = 0
    max_minutes_per_week: Annotated[int, Field(ge=0)] = 2400
    shift_lengths_min: list[Annotated[int, Field(gt=0)]] = Field(default_factory=lambda: [480])
    min_days_off_per_week: Annotated[int, Field(ge=0, le=7)] = 2
    max_consecutive_days: Annotated[int, Field(ge=1)] = 6
    min_rest_between_shifts_min: Annotated[int, Field(ge=0)] = 660
    hourly_cost: Annotated[float, Field(ge=0.0)] = 0.0
    # Scheduling rules (openwfm.schedule); the defaults leave them inactive.
    min_minutes_per_horizon: Annotated[int, Field(ge=0)] | None = None
    max_minutes_per_horizon: Annotated[int, Field(ge=0)] | None = None
    min_consecutive_days: Annotated[int, Field(ge=1)] = 1
    min_consecutive_days_off: Annotated[int, Field(ge=1)] = 1
    max_working_weekends: Annotated[int, Field(ge=0)] | None = None
    max_shifts_per_week_by_type: dict[str, Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict
    )
    # at most n shifts of a type in the whole horizon (interval schedules and slot rosters)
    max_shifts_per_horizon_by_type: dict[str, Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict
    )

    @model_validator(mode="after")
    def _bounds(self) -> Contract:
        if self.min_minutes_per_week > self.max_minutes_per_week:
            raise ValueError("min_minutes_per_week exceeds max_minutes_per_week")
        return self


class Agent(Strict):
    """A named agent: skills per queue with proficiency in 0..1, concurrency, contract.

    ``max_concurrency`` caps simultaneous contacts per channel (chat: several at once); a
    channel not listed takes the queue's ``max_concurrency``.
    """

    name: Annotated[str, Field(min_length=1)]
    skills: dict[str, Fraction]
    max_concurrency: dict[Channel, Annotated[int, Field(ge=1)]] = Field(default_factory=dict)
    contract: str | None = None
    team: str | None = None


class AgentGroup(Strict):
    """``count`` interchangeable agents sharing skills and contract (named ``{name}-{i}``)."""

    name: Annotated[str, Field(min_length=1)]
    count: Annotated[int, Field(ge=0)]
    skills: dict[str, Fraction]
    max_concurrency: dict[Channel, Annotated[int, Field(ge=1)]] = Field(default_factory=dict)
    contract: str | None = None

    def expand(self) -> list[Agent]:
        return [
            Agent(
                name=f"{self.name}-{i + 1}",
                skills=dict(self.skills),
                max_concurrency=dict(self.max_concurrency),
                contract=self.contract,
                team=self.name,
            )
            for i in range(self.count)
        ]


class EscalationStep(Strict):
    """After ``after_s`` of waiting, widen the eligible agents.

    ``min_proficiency`` lowers the bar; ``extra_queues`` lets agents skilled for these other
    queues take the contact (overflow).
    """

    after_s: Annotated[float, Field(ge=0.0)]
    min_proficiency: Fraction = 0.0
    extra_queues: list[str] = Field(default_factory=list)


class RoutingConfig(Strict):
    """How contacts are matched to agents (the same policy in simulation and in the router).

    ``policy``: ``longest_idle`` (eligible agent idle longest), ``best_skilled`` (the "A-team":
    highest proficiency first for ``a_team_segments``, longest idle for the rest), or
    ``priority_aging`` (contact priority grows by ``aging_per_s`` per second of wait).
    """

    policy: Literal["longest_idle", "best_skilled", "priority_aging"] = "longest_idle"
    a_team_segments: list[str] = Field(default_factory=list)
    aging_per_s: Annotated[float, Field(ge=0.0)] = 0.0
    min_proficiency: Fraction = 0.0
    escalation: list[EscalationStep] = Field(default_factory=list)


def parse_clock(text: str) -> dt.time:
    """Parse ``HH:MM`` (24:00 allowed, meaning end of day) into a time; 24:00 -> time.max."""
    try:
        hours_text, minutes_text = text.split(":")
        hours, minutes = int(hours_text), int(minutes_text)
    except (ValueError, AttributeError):
        raise ValueError(f"expected a clock time HH:MM, got {text!r}") from None
    if (hours, minutes) == (24, 0):
        return dt.time.max
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise ValueError(f"expected a clock time HH:MM, got {text!r}")
    return dt.time(hours, minutes)


def clock_seconds(text: str) -> int:
    """Seconds after midnight of an ``HH:MM`` clock time (``24:00`` -> 86400)."""
    if text.strip() == "24:00":
        return 86400
    clock = parse_clock(text)
    return clock.hour * 3600 + clock.minute * 60


class OpeningHours(Strict):
    """Open from ``open`` to ``close`` (``HH:MM``; ``close`` may be ``24:00``)."""

    open: Clock = "08:00"
    close: Clock = "20:00"

    @model_validator(mode="after")
    def _order(self) -> OpeningHours:
        if clock_seconds(self.open) >= clock_seconds(self.close):
            raise ValueError(f"open {self.open} must be before close {self.close}")
        return self

    @property
    def open_s(self) -> int:
        return clock_seconds(self.open)

    @property
    def close_s(self) -> int:
        return clock_seconds(self.close)


class IntervalGrid(Strict):
    """The planning grid: interval length, time zone, opening hours per weekday.

    Intervals are labelled by their start. A weekday absent from ``opening_hours`` is closed.
    """

    interval_minutes: Literal[5, 6, 15, 30, 60] = 15
    timezone: str = "UTC"
    opening_hours: dict[Weekday, OpeningHours | None] = Field(
        default_factory=lambda: {day: OpeningHours() for day in WEEKDAYS[:5]}
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {zone!r} (expected an IANA name)") from None
        return zone

    @property
    def interval_s(self) -> int:
        return self.interval_minutes * 60

    def hours_on(self, day: dt.date) -> OpeningHours | None:
        return self.opening_hours.get(WEEKDAYS[day.weekday()])

    def is_open(self, moment: dt.datetime) -> bool:
        """True when the interval starting at local-naive ``moment`` lies in opening hours."""
        hours = self.hours_on(moment.date())
        if hours is None:
            return False
        seconds = moment.hour * 3600 + moment.minute * 60 + moment.second
        return hours.open_s <= seconds < hours.close_s

    def intervals(self, start: dt.date, days: int) -> list[dt.datetime]:
        """Local-naive starts of the open intervals over ``days`` days from ``start``."""
        starts: list[dt.datetime] = []
        for offset in range(days):
            day = start + dt.timedelta(days=offset)
            hours = self.hours_on(day)
            if hours is None:
                continue
            midnight = dt.datetime.combine(day, dt.time())
            first = -(-hours.open_s // self.interval_s) * self.interval_s
            for second in range(first, hours.close_s, self.interval_s):
                starts.append(midnight + dt.timedelta(seconds=second))
        return starts


class BreakTemplate(Strict):
    """A break or lunch inside a shift: ``length_min`` minutes starting between
    ``earliest_after_start_min`` and ``latest_after_start_min`` minutes after the shift start.
    It applies to shifts of at least ``min_shift_length_min`` minutes; unpaid breaks do not count
    toward contract minutes."""

    name: Annotated[str, Field(min_length=1)] = "break"
    length_min: Annotated[int, Field(gt=0)] = 15
    earliest_after_start_min: Annotated[int, Field(ge=0)] = 90
    latest_after_start_min: Annotated[int, Field(ge=0)] = 180
    paid: bool = True
    min_shift_length_min: Annotated[int, Field(ge=0)] = 0

    @model_validator(mode="after")
    def _window(self) -> BreakTemplate:
        if self.earliest_after_start_min > self.latest_after_start_min:
            raise ValueError("earliest_after_start_min exceeds latest_after_start_min")
        return self


class ShiftTemplate(Strict):
    """A shift type (its ``name``, e.g. ``early``): starts from ``earliest_start`` to
    ``latest_start`` (``HH:MM``) every ``start_increment_min`` minutes, lasting one of
    ``lengths_min`` minutes, with its breaks. ``unpopular`` shifts are shared fairly."""

    name: Annotated[str, Field(min_length=1)]
    earliest_start: Clock = "08:00"
    latest_start: Clock = "12:00"
    start_increment_min: Annotated[int, Field(gt=0)] = 15
    lengths_min: list[Annotated[int, Field(gt=0)]] = Field(default_factory=lambda: [480])
    breaks: list[BreakTemplate] = Field(default_factory=list)
    unpopular: bool = False

    @model_validator(mode="after")
    def _starts(self) -> ShiftTemplate:
        if clock_seconds(self.earliest_start) > clock_seconds(self.latest_start):
            raise ValueError(f"earliest_start {self.earliest_start} is after latest_start")
        return self


class RuleSetting(Strict):
    """Make a scheduling rule hard (never violated) or soft (``weight`` per unit of violation,
    in the same units as one missing agent-interval of coverage)."""

    hard: bool
    weight: Annotated[float, Field(ge=0.0)] = 1.0


class DayRule(Strict):
    """An agent (or agent group / team) on a ``date`` or on every ``weekday`` (neither: every
    day). Used for fixed days off, availability windows and requests."""

    agent: Annotated[str, Field(min_length=1)]
    date: dt.date | None = None
    weekday: Weekday | None = None


class Availability(DayRule):
    """The agent may only work inside ``available_from``..``available_until`` (``HH:MM``) on the
    matching days; ``available: false`` means not at all on those days."""

    available: bool = True
    available_from: Clock = "00:00"
    available_until: Clock = "24:00"


class ShiftRequest(DayRule):
    """A wish: work (``wanted``) or not work a ``shift`` type (None: any shift, so an unwanted
    request with no shift is a day-off request) on the matching days, with a ``weight``."""

    shift: str | None = None
    wanted: bool = False
    weight: Annotated[float, Field(ge=0.0)] = 4.0


class ScheduleSettings(Strict):
    """Inputs of :mod:`openwfm.schedule` beyond contracts: shift templates, rule hardness and
    weights (by rule name), successions, fixed days off, availability, requests, fairness."""

    shift_templates: list[ShiftTemplate] = Field(min_length=1)
    rules: dict[str, RuleSetting] = Field(default_factory=dict)
    forbidden_successions: list[tuple[str, str]] = Field(default_factory=list)
    fixed_days_off: list[DayRule] = Field(default_factory=list)
    availability: list[Availability] = Field(default_factory=list)
    requests: list[ShiftRequest] = Field(default_factory=list)
    weekend_spread: Annotated[int, Field(ge=0)] = 1
    unpopular_spread: Annotated[int, Field(ge=0)] = 1
    start_date: dt.date | None = None
    # minimum-stretch rules (min_consecutive_days, min_consecutive_days_off) skip stretches
    # touching the first or last day of the horizon (the days outside are unknown); false
    # judges them too, the edge closing them (a stretch filling the whole horizon: never)
    ignore_edge_stretches: bool = True


class Scenario(Strict):
    """A contact center: grid, queues, segments, agents, contracts, routing, shrinkage.

    ``shrinkage`` is the fraction of scheduled time agents are not available for contacts
    beyond the breaks the schedule places (meetings, training, absence): the schedule covers
    required agents / (1 - shrinkage), and the simulator takes that share away at random.
    """

    name: str = "center"
    grid: IntervalGrid = Field(default_factory=IntervalGrid)
    shrinkage: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.3
    queues: list[Queue] = Field(min_length=1)
    segments: list[Segment] = Field(default_factory=list)
    contracts: list[Contract] = Field(default_factory=list)
    agents: list[Agent] = Field(default_factory=list)
    agent_groups: list[AgentGroup] = Field(default_factory=list)
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    schedule: ScheduleSettings | None = None

    def queue(self, name: str) -> Queue:
        for queue in self.queues:
            if queue.name == name:
                return queue
        raise KeyError(name)

    @property
    def queue_names(self) -> list[str]:
        return [queue.name for queue in self.queues]

    def all_agents(self) -> list[Agent]:
        """Named agents followed by the expanded agent groups."""
        expanded = list(self.agents)
        for group in self.agent_groups:
            expanded.extend(group.expand())
        return expanded

    def target_for(self, queue: str, segment: str | None = None) -> ServiceTarget:
        """The segment's own target for ``queue`` if it has one, else the queue's."""
        if segment is not None:
            for candidate in self.segments:
                if candidate.name == segment and queue in candidate.targets:
                    return candidate.targets[queue]
        return self.queue(queue).target

    def answer_targets_s(
        self, default_s: float = 20.0, *, by_segment: bool = False
    ) -> dict[str | tuple[str, str], float]:
        """Answer-time targets (seconds) as the KPI functions take them: per queue name, per
        ``(queue, segment)`` with ``by_segment`` (the segment's own target, else the queue's),
        and ``"*"`` -> ``default_s`` for queues the scenario does not name."""
        targets: dict[str | tuple[str, str], float] = {
            queue.name: float(queue.target.within_s) for queue in self.queues
        }
        if by_segment:
            for queue in self.queues:
                for segment in self.segments:
                    target = self.target_for(queue.name, segment.name)
                    targets[(queue.name, segment.name)] = float(target.within_s)
        targets["*"] = float(default_s)
        return targets

    def segment_shares(self, queue: str) -> dict[str, float]:
        """Fraction of ``queue``'s volume per segment; the remainder goes to ``default``."""
        shares = {s.name: s.share[queue] for s in self.segments if queue in s.share}
        remainder = 1.0 - sum(shares.values())
        if remainder > 1e-9:
            shares["default"] = remainder
        return shares

    def segment_priority(self, segment: str) -> int:
        for candidate in self.segments:
            if candidate.name == segment:
                return candidate.priority
        return 0

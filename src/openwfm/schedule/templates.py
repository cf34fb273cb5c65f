"""Shift templates expanded into concrete shift options on the interval grid.

Time inside a horizon is an absolute slot index ``t = day * slots_per_day + slot``; a shift that
starts on day ``d`` may run past midnight into day ``d + 1``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from openwfm.errors import ParameterError, ScenarioError
from openwfm.model import (
    BreakTemplate,
    Scenario,
    ScheduleSettings,
    ShiftTemplate,
    clock_seconds,
)


@dataclass(frozen=True)
class BreakOption:
    """One break of a shift option: ``length`` slots starting ``first``..``last`` slots after the
    shift start."""

    name: str
    length: int
    first: int
    last: int
    paid: bool


@dataclass(frozen=True)
class ShiftOption:
    """A shift type at one start slot (within the day) and one length (slots)."""

    index: int
    shift_type: str
    start: int
    length: int
    breaks: tuple[BreakOption, ...]
    paid_minutes: int
    unpopular: bool

    @property
    def end(self) -> int:
        return self.start + self.length


@dataclass(frozen=True)
class Horizon:
    """``days`` days from ``start`` on a grid of ``interval_minutes``; ``closed_weekdays``
    (0 = Monday) are days the center is closed: nobody is scheduled on them."""

    start: dt.date
    days: int
    interval_minutes: int
    closed_weekdays: frozenset[int] = frozenset()

    def closed(self, day: int) -> bool:
        return self.weekday(day) in self.closed_weekdays

    @property
    def slots_per_day(self) -> int:
        return 1440 // self.interval_minutes

    @property
    def n_slots(self) -> int:
        """Slots in the horizon plus one day for shifts that run past the last midnight."""
        return (self.days + 1) * self.slots_per_day

    def date(self, day: int) -> dt.date:
        return self.start + dt.timedelta(days=day)

    def moment(self, slot: int) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time()) + dt.timedelta(
            minutes=slot * self.interval_minutes
        )

    def slot_of(self, moment: dt.datetime) -> int:
        minutes = (moment - dt.datetime.combine(self.start, dt.time())).total_seconds() / 60
        return int(minutes // self.interval_minutes)

    def week(self, day: int) -> int:
        return day // 7

    @property
    def weeks(self) -> int:
        return -(-self.days // 7)

    def weekday(self, day: int) -> int:
        return self.date(day).weekday()


def expand_templates(
    templates: list[ShiftTemplate], interval_minutes: int, field: str = "schedule.shift_templates"
) -> list[ShiftOption]:
    """All (type, start, length) options of the templates, with break windows in slots.

    Starts, lengths and break windows must lie on the grid; break windows of one shift must not
    overlap (each agent takes its breaks one after the other).
    """
    options: list[ShiftOption] = []
    step = interval_minutes
    for t_index, template in enumerate(templates):
        where = f"{field}[{t_index}]"
        first_s, last_s = (
            clock_seconds(template.earliest_start),
            clock_seconds(template.latest_start),
        )
        if first_s % (step * 60) or template.start_increment_min % step:
            raise ScenarioError(
                f"starts must lie on the {step}-minute grid (start, increment)", field=where
            )
        if last_s >= 86400:
            raise ScenarioError("latest_start must be before 24:00", field=where)
        for length_min in template.lengths_min:
            if length_min % step:
                raise ScenarioError(
                    f"length {length_min} min is not a multiple of {step}", field=where
                )
            breaks: list[BreakOption] = []
            for b in template.breaks:
                if b.min_shift_length_min > length_min:
                    continue
                first = -(-b.earliest_after_start_min // step)
                last = b.latest_after_start_min // step
                length = -(-b.length_min // step)
                if first > last or last + length > length_min // step:
                    raise ScenarioError(
                        f"break {b.name!r} window does not fit a {length_min}-minute shift",
                        field=where,
                    )
                breaks.append(BreakOption(b.name, length, first, last, b.paid))
            breaks.sort(key=lambda b: b.first)
            for a, b in zip(breaks, breaks[1:], strict=False):
                if a.last + a.length > b.first:
                    raise ScenarioError(
                        f"break windows {a.name!r} and {b.name!r} overlap", field=where
                    )
            unpaid = sum(b.length * step for b in breaks if not b.paid)
            for start_s in range(first_s, last_s + 1, template.start_increment_min * 60):
                options.append(
                    ShiftOption(
                        index=len(options),
                        shift_type=template.name,
                        start=start_s // (step * 60),
                        length=length_min // step,
                        breaks=tuple(breaks),
                        paid_minutes=length_min - unpaid,
                        unpopular=template.unpopular,
                    )
                )
    return options


def default_schedule_settings(scenario: Scenario) -> ScheduleSettings:
    """Shift templates for a scenario without a ``schedule`` section.

    One template ``day``: starts every hour from the earliest opening to the latest
    closing minus the shortest contract shift, lengths = the contracts' ``shift_lengths_min``;
    a paid 15-minute break 60-150 minutes into shifts of 4 hours or more and a paid 30-minute
    lunch 180-300 minutes into shifts of 6 hours or more.
    """
    hours = [h for h in scenario.grid.opening_hours.values() if h is not None]
    if not hours:
        raise ParameterError("the scenario's center is never open", field="grid.opening_hours")
    lengths = sorted({n for c in scenario.contracts for n in c.shift_lengths_min} or {480})
    first = min(h.open_s for h in hours)
    last_close = max(h.close_s for h in hours)
    latest = max(first, last_close - lengths[0] * 60)
    latest -= (latest - first) % 3600

    def clock(seconds: int) -> str:
        return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"

    template = ShiftTemplate(
        name="day",
        earliest_start=clock(first),
        latest_start=clock(latest),
        start_increment_min=60,
        lengths_min=lengths,
        breaks=[
            BreakTemplate(
                name="break",
                length_min=15,
                earliest_after_start_min=60,
                latest_after_start_min=150,
                min_shift_length_min=240,
            ),
            BreakTemplate(
                name="lunch",
                length_min=30,
                earliest_after_start_min=180,
                latest_after_start_min=300,
                min_shift_length_min=360,
            ),
        ],
    )
    return ScheduleSettings(shift_templates=[template])

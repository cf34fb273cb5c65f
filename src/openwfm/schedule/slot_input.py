"""Inputs of a slot roster: shift types with a fixed start and length, and the slot table.

A *slot* is one shift type on one date: ``slot_requirements`` has one row per slot with the
number of agents ``required`` and the cost of each agent missing (``under_weight``) or extra
(``over_weight``). Agents work only the slots the table lists (a slot with ``required`` 0 can be
listed to allow it at its over-cover cost). Bad rows raise :class:`openwfm.errors.DataError`
naming the file, the line (row + 2: the header is line 1), the row and the field.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from openwfm.errors import DataError, ScenarioError
from openwfm.model import WEEKDAYS, DayRule, Scenario, ScheduleSettings, clock_seconds

SLOT_COLUMNS = (  # as declared in openwfm.tables.SLOT_REQUIREMENTS
    "date",
    "shift",
    "required",
    "under_weight",
    "over_weight",
)


@dataclass(frozen=True)
class SlotType:
    """A shift type of a slot roster: starts ``start_min`` minutes after midnight of its date,
    lasts ``length_min`` minutes (may pass midnight), of which ``paid_minutes`` are paid
    (length minus the template's unpaid breaks)."""

    name: str
    start_min: int
    length_min: int
    paid_minutes: int
    unpopular: bool

    @property
    def end_min(self) -> int:
        """End in minutes after midnight of the start date (> 1440 past midnight)."""
        return self.start_min + self.length_min


@dataclass(frozen=True)
class SlotHorizon:
    """``days`` days from ``start``; weeks are counted from ``start`` (week 1 = days 0-6)."""

    start: dt.date
    days: int

    def date(self, day: int) -> dt.date:
        return self.start + dt.timedelta(days=day)

    def weeks(self) -> list[list[int]]:
        """The day indices of each week (the last one may be partial)."""
        return [list(range(w, min(w + 7, self.days))) for w in range(0, self.days, 7)]

    def weekend_days(self) -> dict[tuple[int, int], list[int]]:
        """Saturday and Sunday day indices per ISO (year, week)."""
        weekends: dict[tuple[int, int], list[int]] = {}
        for day in range(self.days):
            date = self.date(day)
            if date.weekday() >= 5:
                weekends.setdefault(tuple(date.isocalendar())[:2], []).append(day)
        return weekends


def schedule_settings(scenario: Scenario) -> ScheduleSettings:
    """The scenario's schedule section; ScenarioError when it has none."""
    if scenario.schedule is None:
        raise ScenarioError(
            "a slot roster needs a 'schedule' section with shift_templates (the shift types)",
            field="schedule",
        )
    return scenario.schedule


def _unpaid_minutes(template, length_min: int) -> int:
    return sum(
        b.length_min for b in template.breaks if not b.paid and b.min_shift_length_min <= length_min
    )


def slot_types(scenario: Scenario, used: set[str]) -> dict[str, SlotType]:
    """The scenario's shift templates named in ``used`` as slot types. A slot type has one
    start (``earliest_start == latest_start``) and one length; ScenarioError otherwise."""
    settings = schedule_settings(scenario)
    types: dict[str, SlotType] = {}
    for index, template in enumerate(settings.shift_templates):
        if template.name not in used:
            continue
        where = f"schedule.shift_templates[{index}]"
        if template.earliest_start != template.latest_start:
            raise ScenarioError(
                f"shift type {template.name!r} of a slot roster needs a fixed start: set "
                f"latest_start equal to earliest_start ({template.earliest_start})",
                field=f"{where}.latest_start",
            )
        if len(template.lengths_min) != 1:
            raise ScenarioError(
                f"shift type {template.name!r} of a slot roster needs one length, got "
                f"{template.lengths_min}",
                field=f"{where}.lengths_min",
            )
        start_min = clock_seconds(template.earliest_start) // 60
        if start_min >= 1440:
            raise ScenarioError("a shift cannot start at 24:00", field=f"{where}.earliest_start")
        length = template.lengths_min[0]
        types[template.name] = SlotType(
            template.name,
            start_min,
            length,
            length - _unpaid_minutes(template, length),
            template.unpopular,
        )
    return types


def check_type_limits(scenario: Scenario, known: set[str]) -> None:
    """ScenarioError for a contract's per-type shift limit naming a shift type that does not
    exist in ``schedule.shift_templates``."""
    for index, contract in enumerate(scenario.contracts):
        for field in ("max_shifts_per_week_by_type", "max_shifts_per_horizon_by_type"):
            for name in getattr(contract, field):
                if name not in known:
                    raise ScenarioError(
                        f"unknown shift type {name!r} (known: {', '.join(sorted(known))})",
                        field=f"contracts[{index}].{field}.{name}",
                    )


def matches(rule: DayRule, agent: str, team: str | None, date: dt.date) -> bool:
    """True when a day rule (fixed day off, availability, request) applies to the agent on
    ``date``."""
    if rule.agent not in ("*", agent, team):
        return False
    if rule.date is not None and rule.date != date:
        return False
    return rule.weekday is None or WEEKDAYS[date.weekday()] == rule.weekday


# --------------------------------------------------------------------------- the slot table


def _with_row(error: DataError) -> DataError:
    """The error with the data row (line - 1: the header is line 1) in its message."""
    if error.line is None or error.line < 2:
        return error
    return DataError(
        f"row {error.line - 1}: {error.message}",
        file=error.file,
        line=error.line,
        field=error.field,
    )


def horizon_of(
    dates: pd.Series, settings: ScheduleSettings, start: dt.date | None, days: int | None
) -> SlotHorizon:
    """The planned days: from ``start`` (default: the schedule section's ``start_date``, else
    the first slot date) for ``days`` days (default: through the last slot date)."""
    first = start or settings.start_date or min(dates)
    if days is None:
        days = max((max(dates) - first).days + 1, 1)
    return SlotHorizon(first, int(days))


def check_slot_requirements(
    table: pd.DataFrame,
    scenario: Scenario,
    source: str = "slot_requirements",
    start: dt.date | None = None,
    days: int | None = None,
) -> tuple[pd.DataFrame, SlotHorizon]:
    """The slot table with parsed dates and numbers, and the horizon. DataError naming
    ``source``, the line, the row and the field for a missing column, a bad date, a date outside
    the horizon, an unknown shift type, a count that is not a whole number >= 0, a negative or
    non-finite weight, or a slot given twice."""
    from openwfm.tables import SLOT_REQUIREMENTS, check_table

    settings = schedule_settings(scenario)
    known = {t.name for t in settings.shift_templates}
    try:
        clean = check_table(table, SLOT_REQUIREMENTS, source=source, choices={"shift": known})
    except DataError as error:
        raise _with_row(error) from None
    if clean.empty:
        raise DataError("no slots (the table has no rows)", file=source, field="date")
    dates = clean["date"].dt.date
    horizon = horizon_of(dates, settings, start, days)
    offsets = np.array([(d - horizon.start).days for d in dates])
    outside = (offsets < 0) | (offsets >= horizon.days)
    if outside.any():
        row = int(np.flatnonzero(outside)[0])
        last = horizon.date(horizon.days - 1)
        raise DataError(
            f"row {row + 1}: expected a date in the horizon {horizon.start} .. {last}, got "
            f"{table['date'].iloc[row]!r}",
            file=source,
            line=row + 2,
            field="date",
        )
    clean = clean[list(SLOT_COLUMNS)].assign(date=dates, day=offsets.astype(int))
    return clean, horizon


def read_slot_requirements(path) -> pd.DataFrame:
    """The slot table from a CSV (or Parquet) file, as text-preserving columns; DataError for a
    missing, unreadable or empty file."""
    from pathlib import Path

    path = Path(path)
    if not path.exists():
        raise DataError("file not found", file=str(path))
    if path.is_dir():
        raise DataError("is a folder, expected a file", file=str(path))
    try:
        if path.suffix.lower() == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except UnicodeDecodeError:
        from openwfm.io import undecodable_line

        raise DataError(
            "not UTF-8 text; save the file as UTF-8", file=str(path), line=undecodable_line(path)
        ) from None
    except pd.errors.EmptyDataError:
        raise DataError("the file is empty (expected a header line)", file=str(path)) from None
    except (OSError, ValueError) as error:
        raise DataError(f"cannot read: {error}", file=str(path)) from None

"""Calendar events: public holidays by country and user-given events (campaigns, outages...).

Every date gets at most one *event tag* per queue. Tags are grouped by kind, not by name, so a
model learns from all past holidays what the next holiday will look like:

* ``holiday``: a public holiday of the country (``holidays`` package, category public);
* ``holiday_eve``: the day before a public holiday (in Israel, Erev Chag: a short, Friday-like
  business day);
* ``holiday_period``: the country's optional / school holiday days (e.g. Chol HaMoed), which
  often change demand less;
* ``holiday_bridge``: a working day between a public or optional holiday and the weekend (the
  Friday after a Thursday holiday where the weekend is Saturday-Sunday), which many take off;
* ``event:<name>``: a user event; with ``uplift`` set, its multiplicative effect on the daily
  volume is given; without, it is learned from past dates with the same name.

User events take precedence over holiday tags; a public holiday beats an eve.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from openwfm.errors import DataError, ParameterError


@dataclass(frozen=True)
class Event:
    """A user event: dates ``start``..``end`` (inclusive), for ``queues`` (None = all).

    ``uplift`` is the expected multiplier on the daily volume (1.3 = +30%); None means learn it
    from past dates tagged with the same ``name``.
    """

    name: str
    start: date
    end: date
    queues: tuple[str, ...] | None = None
    uplift: float | None = None

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ParameterError(f"event {self.name!r} ends before it starts", field="end")
        if self.uplift is not None and not 0 <= self.uplift <= MAX_UPLIFT:
            raise ParameterError(
                f"event {self.name!r}: uplift must be a multiplier from 0 to {MAX_UPLIFT:g}, "
                f"got {self.uplift:g}",
                field="uplift",
            )


MAX_UPLIFT = 100.0  # an event multiplying the volume more than 100-fold is a typing error


class EventCalendar:
    """Tags per (queue, date) from a country's holidays and user events."""

    def __init__(self, country: str | None = None, events: list[Event] | tuple = ()) -> None:
        self.country = country
        self.events = tuple(events)
        self._holiday_cache: dict[int, dict[date, str]] = {}
        if country is not None:
            import holidays

            if country.upper() not in holidays.list_supported_countries():
                raise ParameterError(
                    f"unknown country code {country!r}; expected an ISO code such as IL, US, GB",
                    field="country",
                )

    def _holidays(self, year: int) -> dict[date, str]:
        if self.country is None:
            return {}
        if year not in self._holiday_cache:
            import holidays

            cls = holidays.country_holidays(self.country.upper(), years=year).__class__
            cats = getattr(cls, "supported_categories", ("public",))
            public = holidays.country_holidays(self.country.upper(), years=[year, year + 1])
            tags: dict[date, str] = {}
            others = [c for c in cats if c != "public"]
            if others:
                extra = holidays.country_holidays(
                    self.country.upper(), years=year, categories=tuple(others)
                )
                for d in extra:
                    tags[d] = "holiday_period"
            for d in public:
                eve = d - timedelta(days=1)
                if eve.year == year and eve not in public:
                    tags[eve] = "holiday_eve"
            for d in public:
                if d.year == year:
                    tags[d] = "holiday"
            _tag_bridges(tags, getattr(public, "weekend", {5, 6}), year)
            self._holiday_cache[year] = tags
        return self._holiday_cache[year]

    def tags(self, days: pd.DatetimeIndex, queue: str | None = None) -> list[str]:
        """One tag per day ('' when none)."""
        out = []
        for ts in days:
            d = ts.date()
            tag = self._holidays(d.year).get(d, "")
            for event in self.events:
                if event.start <= d <= event.end and (
                    event.queues is None or queue is None or queue in event.queues
                ):
                    tag = "event:" + event.name
            out.append(tag)
        return out

    def given_uplift(self, tag: str) -> float | None:
        """The user-given multiplier for an event tag, if any."""
        if tag.startswith("event:"):
            for event in self.events:
                if "event:" + event.name == tag and event.uplift is not None:
                    return event.uplift
        return None


def _tag_bridges(tags: dict[date, str], weekend: set[int], year: int) -> None:
    """Tag ``holiday_bridge`` on working days between a (public or optional) holiday and the
    weekend (many take them off), in place; an eve or a holiday keeps its own tag."""
    for d in sorted(tags):
        if tags[d] not in ("holiday", "holiday_period"):
            continue
        bridge = d + timedelta(days=1)
        after = bridge + timedelta(days=1)
        if (
            bridge.year == year
            and bridge not in tags
            and bridge.weekday() not in weekend
            and after.weekday() in weekend
        ):
            tags[bridge] = "holiday_bridge"


def read_events_csv(path: str | Path) -> list[Event]:
    """Events CSV: ``name,start,end[,queues][,uplift]``; queues separated by ``;``."""
    path = Path(path)
    if not path.exists():
        raise DataError("file not found", file=str(path))
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    for column in ("name", "start", "end"):
        if column not in table.columns:
            raise DataError(
                f"missing column {column}; expected name,start,end[,queues][,uplift]",
                file=str(path),
            )
    events = []
    for i, row in table.iterrows():
        try:
            start = pd.Timestamp(row["start"]).date()
            end = pd.Timestamp(row["end"]).date()
        except ValueError:
            raise DataError(
                "unparseable date; expected YYYY-MM-DD", file=str(path), line=i + 2, field="start"
            ) from None
        queues = row.get("queues", "")
        uplift = row.get("uplift", "")
        if not uplift:
            pass
        elif pd.to_numeric(uplift, errors="coerce") != pd.to_numeric(uplift, errors="coerce"):
            raise DataError(
                f"expected a number, got {uplift!r}", file=str(path), line=i + 2, field="uplift"
            )
        try:
            events.append(
                Event(
                    row["name"],
                    start,
                    end,
                    tuple(q for q in queues.split(";") if q) or None,
                    float(uplift) if uplift else None,
                )
            )
        except ParameterError as error:  # names its own field (end or uplift)
            raise DataError(error.message, file=str(path), line=i + 2, field=error.field) from None
    return events

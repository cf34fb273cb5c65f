"""Shift rows of the scheduler's table: break texts parsed and written back, and the shifts an
agent off today could be called in for (used by :mod:`openwfm.intraday.replanning`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from openwfm.model import clock_seconds

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from openwfm.model import Agent, Contract, ShiftTemplate


def parse_breaks(text: str | None, shift_start: pd.Timestamp) -> list[list]:
    """``HH:MM-HH:MM name; ...`` -> [[start, end, name], ...] as Timestamps, in time order."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return []
    out = []
    for part in [p.strip() for p in str(text).split(";") if p.strip()]:
        span, _, name = part.partition(" ")
        lo, hi = (pd.Timedelta(seconds=clock_seconds(p)) for p in span.split("-"))
        start = shift_start.normalize() + lo
        if start < shift_start:
            start += pd.Timedelta(days=1)
        end = shift_start.normalize() + hi
        while end <= start:
            end += pd.Timedelta(days=1)
        out.append([start, end, name])
    return sorted(out)


def format_breaks(breaks: list[list]) -> str:
    return "; ".join(f"{s:%H:%M}-{e:%H:%M} {n}" for s, e, n in breaks)


def call_in_rows(
    agent: Agent,
    templates: Iterable[ShiftTemplate],
    contract: Contract,
    as_of: pd.Timestamp,
    step: pd.Timedelta,
) -> Iterator[dict]:
    """Every shift of today an agent off today could be called in for: template starts from
    ``as_of`` on, lengths its template and contract allow, breaks at the start of their
    windows (lengths rounded up to the grid, as the scheduler lays them out)."""
    step_min = int(step.total_seconds() // 60)
    day = as_of.normalize()
    for template in templates:
        first = clock_seconds(template.earliest_start) // 60
        last = clock_seconds(template.latest_start) // 60
        lengths = set(template.lengths_min)
        if contract.shift_lengths_min:
            lengths &= set(contract.shift_lengths_min)
        for minute in range(first, last + 1, template.start_increment_min):
            start = day + pd.Timedelta(minutes=minute)
            if start < as_of:
                continue
            for length in sorted(lengths):
                row = laid_out(agent, template, start, length, step_min)
                if row is not None:
                    yield row


def laid_out(
    agent: Agent, template: ShiftTemplate, start: pd.Timestamp, length: int, step_min: int
) -> dict:
    breaks, cursor, unpaid = [], 0, 0
    specs = sorted(
        (b for b in template.breaks if b.min_shift_length_min <= length),
        key=lambda b: b.earliest_after_start_min,
    )
    for spec in specs:
        minutes = -(-spec.length_min // step_min) * step_min
        offset = max(spec.earliest_after_start_min, cursor)
        if offset > spec.latest_after_start_min or offset + minutes > length:
            return None
        lo = start + pd.Timedelta(minutes=offset)
        breaks.append([lo, lo + pd.Timedelta(minutes=minutes), spec.name])
        cursor = offset + minutes
        unpaid += 0 if spec.paid else minutes
    return {
        "agent": agent.name,
        "team": agent.team,
        "contract": agent.contract,
        "date": start.date(),
        "shift_type": template.name,
        "shift_start": start,
        "shift_end": start + pd.Timedelta(minutes=length),
        "paid_minutes": length - unpaid,
        "_breaks": breaks,
    }

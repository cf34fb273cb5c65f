"""What-if scenarios: stacked adjustments of the weekly forecast over date ranges.

An adjustment changes one queue's ``volume`` or ``aht`` between two dates (inclusive). A week
partly inside the range gets the share of its days inside it: ``percent`` multiplies by
``1 + value/100 x days_inside/7``; ``absolute`` volume adds ``value x days_inside /
days_in_range`` contacts (the value is spread evenly over the range's days); ``absolute`` AHT
adds ``value x days_inside/7`` seconds. Adjustments apply in order, a scenario's parent's first
(stacked), so "+20% sales in March" then "+10% in the second half of March" compound.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from openwfm.capacity.inputs import Adjustment, CapacityPlan

BASELINE = "baseline"


def stacked_adjustments(plan: CapacityPlan) -> dict[str, list[Adjustment]]:
    """Scenario name -> its adjustments after its ancestors' (``baseline``: none)."""
    chains: dict[str, list[Adjustment]] = {BASELINE: []}
    for scenario in plan.scenarios:
        inherited = chains[scenario.parent] if scenario.parent else []
        chains[scenario.name] = [*inherited, *scenario.adjustments]
    return chains


def _days_inside(week_start: pd.Series, adjustment: Adjustment) -> np.ndarray:
    first = pd.Timestamp(adjustment.start)
    last_exclusive = pd.Timestamp(adjustment.end) + pd.Timedelta(days=1)
    begin = week_start.where(week_start > first, first)
    week_end = week_start + pd.Timedelta(days=7)
    end = week_end.where(week_end < last_exclusive, last_exclusive)
    return np.clip((end - begin).dt.days.to_numpy(float), 0.0, 7.0)


def apply_adjustments(weekly: pd.DataFrame, adjustments: list[Adjustment]) -> pd.DataFrame:
    """``weekly`` (``week_start, queue, offered, aht_s``) with ``adjustments`` applied."""
    out = weekly.copy()
    week_start = pd.to_datetime(out["week_start"])
    for adjustment in adjustments:
        inside = _days_inside(week_start, adjustment) * (out["queue"] == adjustment.queue)
        column = "offered" if adjustment.metric == "volume" else "aht_s"
        values = out[column].to_numpy(float)
        if adjustment.kind == "percent":
            values = values * (1.0 + adjustment.value / 100.0 * inside / 7.0)
        elif adjustment.metric == "volume":
            range_days = (adjustment.end - adjustment.start).days + 1
            values = values + adjustment.value * inside / range_days
        else:
            values = values + adjustment.value * inside / 7.0
        floor = 0.0 if column == "offered" else 1e-6
        out[column] = np.maximum(values, floor)
    return out

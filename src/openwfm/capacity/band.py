"""A P10/P90 band of productive FTE from simulated attrition (seeded, reproducible).

Each simulation draws who leaves: every agent in production leaves in a week with the tenure
band's rate (a Bernoulli trial per head and week, so a cohort of ``n`` heads loses a binomial
number), a class passes training and nesting with binomial yields (class sizes rounded to whole
heads). Nesting productivity, transfers and known exits are as in the expected plan. The band
is the 10th and 90th percentile over the simulations, week by week.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from openwfm.capacity.flow import PlannedClass, rates_for, transfers_by_week
from openwfm.capacity.inputs import CapacityPlan


@dataclass(frozen=True)
class _Cohort:
    heads: int
    fte: float
    hire_week: int  # tenure origin
    training_end: int  # week nesting starts (== production for the roster)
    production: int
    yield_training: float
    yield_nesting: float
    nesting_factor: tuple[float, ...]  # productive share per nesting week
    exit_week: int | None = None


def _cohorts(plan: CapacityPlan, roster, classes: list[PlannedClass], weeks: int) -> list[_Cohort]:
    cohorts: list[_Cohort] = []
    start = pd.Timestamp(plan.start)
    if roster is not None and len(roster):
        frame = roster.copy()
        frame["hire_week"] = ((frame["hire_date"] - start).dt.days // 7).astype(int)
        exit_days = (frame["exit_date"] - start).dt.days
        frame = frame[exit_days.isna() | (exit_days >= 0)]
        frame["exit_week"] = (exit_days // 7 + 1).fillna(-1).astype(int)
        for (hire_week, fte, exit_week), rows in frame.groupby(["hire_week", "fte", "exit_week"]):
            begin = max(int(hire_week), 0)
            cohorts.append(
                _Cohort(
                    len(rows),
                    float(fte),
                    int(hire_week),
                    begin,
                    begin,
                    1.0,
                    1.0,
                    (),
                    None if exit_week < 0 else int(exit_week),
                )
            )
    for hire_class in classes:
        template = hire_class.template
        training_end = hire_class.start_week + template.training_weeks
        cohorts.append(
            _Cohort(
                int(round(hire_class.size)),
                template.fte,
                hire_class.start_week,
                training_end,
                hire_class.start_week + template.lead_weeks,
                template.yield_training,
                template.yield_nesting,
                tuple(n.productivity / (1.0 + n.aht_uplift) for n in template.nesting),
            )
        )
    return cohorts


def simulate_productive(
    plan: CapacityPlan,
    roster: pd.DataFrame | None,
    classes: list[PlannedClass],
    weeks: int,
    *,
    simulations: int | None = None,
    seed: int | None = None,
) -> np.ndarray:
    """Simulated productive FTE, shape (simulations, weeks)."""
    simulations = simulations or plan.band.simulations
    rng = np.random.default_rng(plan.band.seed if seed is None else seed)
    rates = rates_for(plan, roster, weeks)
    cohorts = _cohorts(plan, roster, classes, weeks)
    productive = np.zeros((simulations, weeks))
    for cohort in cohorts:
        heads = np.full(simulations, cohort.heads, dtype=np.int64)
        for week in range(weeks):
            if week == cohort.training_end and cohort.yield_training < 1:
                heads = rng.binomial(heads, cohort.yield_training)
            if week == cohort.production and week > cohort.training_end:
                heads = rng.binomial(heads, cohort.yield_nesting)
            elif week == cohort.production and cohort.yield_nesting < 1:
                heads = rng.binomial(heads, cohort.yield_nesting)
            if cohort.exit_week is not None and week >= cohort.exit_week:
                break
            if week < cohort.training_end:
                continue
            if week < cohort.production:
                factor = cohort.nesting_factor[week - cohort.training_end]
                productive[:, week] += heads * cohort.fte * factor
                continue
            productive[:, week] += heads * cohort.fte
            rate = rates[week - cohort.hire_week]
            if rate > 0:
                heads = heads - rng.binomial(heads, rate)
    productive += np.cumsum(transfers_by_week(plan, weeks))
    return np.maximum(productive, 0.0)


def productive_band(
    plan: CapacityPlan, roster, classes: list[PlannedClass], weeks: int, **options
) -> pd.DataFrame:
    """``productive_fte_p10, productive_fte_p90`` per plan week."""
    paths = simulate_productive(plan, roster, classes, weeks, **options)
    return pd.DataFrame(
        {
            "productive_fte_p10": np.percentile(paths, 10, axis=0),
            "productive_fte_p90": np.percentile(paths, 90, axis=0),
        }
    )

"""The capacity plan file (``capacity.yaml``) and the tables it names, validated once.

Errors name the file, the line and the field, e.g.
``capacity.yaml:12: classes[0].yield_training: Input should be less than or equal to 1 (got
1.2)``; table errors name the table file and its column.

The plan file (paths are relative to the file)::

    start: 2026-01-05            # first plan week (weeks start on this weekday)
    hours_per_fte_week: 40       # paid hours of one FTE per week
    shrinkage: 0.30              # optional; default: the scenario's shrinkage (a divisor)
    forecast: weekly.csv         # week_start, queue, offered, aht_s (or --forecast)
    profile: profile.csv         # optional: queue, weekday (0=Mon), time (HH:MM), share
    roster: roster.csv           # agent, hire_date[, exit_date, skills, fte, site]
    holidays: [2026-04-06]       # closed days (the week's volume goes to its open days)
    attrition:                   # weekly leaving rate by tenure band (weeks since hire)
      - {min_weeks: 0, max_weeks: 26, weekly_rate: 0.010}
      - {min_weeks: 26, weekly_rate: 0.004}
    class_template: {training_weeks: 4, nesting: [{productivity: 0.6, aht_uplift: 0.3}],
                     yield_training: 0.9, yield_nesting: 0.95}
    classes: [{name: feb, start: 2026-02-02, size: 12}]   # fields default to the template
    transfers: [{week: 2026-03-02, fte: -2}]
    costs: {hire_per_start: 4000, wage_per_fte_week: 900, shortage_per_fte_week: 2500,
            over_per_fte_week: 0}
    hiring: {method: optimise, start_every_weeks: 1, max_class_size: 30, min_class_size: 0}
    band: {simulations: 400, seed: 1}
    scenarios:
      - name: campaign
        parent: null               # stacked on another scenario's adjustments first
        adjustments:
          - {queue: sales, start: 2026-03-01, end: 2026-03-31, metric: volume,
             kind: percent, value: 20}
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from openwfm.errors import DataError, ScenarioError
from openwfm.tables import PROFILE, ROSTER, WEEKLY_FORECAST, check_table
from openwfm.yaml_input import parse_yaml_model, raise_at, read_text_file

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TenureBand(_Strict):
    """Agents with ``min_weeks <= tenure < max_weeks`` leave with probability ``weekly_rate``
    per week (tenure: whole weeks since hire; ``max_weeks`` None means no upper end)."""

    min_weeks: Annotated[int, Field(ge=0)] = 0
    max_weeks: Annotated[int, Field(gt=0)] | None = None
    weekly_rate: Fraction


class NestingWeek(_Strict):
    """One nesting week: the share of paid time spent on contacts (``productivity``) and how
    much longer new agents' handle time is (``aht_uplift``: 0.3 = 30% longer)."""

    productivity: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    aht_uplift: NonNegative = 0.0


class ClassTemplate(_Strict):
    """What a hire class goes through: training (not productive), nesting (productive at a
    reduced rate, one entry per week), then production. Yields: the share of starts that pass
    training, and of those the share that pass nesting."""

    training_weeks: Annotated[int, Field(ge=0)] = 4
    nesting: list[NestingWeek] = Field(default_factory=list)
    yield_training: Fraction = 1.0
    yield_nesting: Fraction = 1.0
    fte: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0

    @property
    def lead_weeks(self) -> int:
        """Weeks from the class start to production."""
        return self.training_weeks + len(self.nesting)

    @property
    def graduate_yield(self) -> float:
        return self.yield_training * self.yield_nesting


class HireClass(_Strict):
    """A planned hire class; fields left out come from the plan's ``class_template``."""

    name: str = ""
    start: dt.date
    size: NonNegative
    training_weeks: Annotated[int, Field(ge=0)] | None = None
    nesting: list[NestingWeek] | None = None
    yield_training: Fraction | None = None
    yield_nesting: Fraction | None = None
    fte: Annotated[float, Field(gt=0.0, le=1.0)] | None = None

    def template(self, default: ClassTemplate) -> ClassTemplate:
        """This class's training, nesting and yields, the template's where not given."""
        given = {
            key: value
            for key, value in self.model_dump(exclude={"name", "start", "size"}).items()
            if value is not None
        }
        return default.model_copy(update={**given, "nesting": self.nesting or default.nesting})


class Transfer(_Strict):
    """FTE moved in (positive) or out (negative) of the center at the start of ``week``."""

    week: dt.date
    fte: float


class Costs(_Strict):
    """Costs per week (any currency): per class start, per paid FTE (trainees included), per
    FTE short of the requirement (the service lost) and per FTE above it."""

    hire_per_start: NonNegative = 0.0
    wage_per_fte_week: NonNegative = 0.0
    shortage_per_fte_week: NonNegative = 0.0
    over_per_fte_week: NonNegative = 0.0


class Hiring(_Strict):
    """How openwfm suggests classes on top of the planned ones: ``optimise`` (a MIP over
    class sizes and dates), ``back_solve`` (the starts each short week needs, placed one lead
    time earlier) or ``none``."""

    method: Literal["optimise", "back_solve", "none"] = "optimise"
    start_every_weeks: Annotated[int, Field(ge=1)] = 1
    max_class_size: Annotated[int, Field(ge=1)] = 40
    min_class_size: Annotated[int, Field(ge=0)] = 0
    first_start: dt.date | None = None


class Band(_Strict):
    simulations: Annotated[int, Field(ge=10, le=100_000)] = 400
    seed: int = 1


class Adjustment(_Strict):
    """Change a queue's ``metric`` over ``start``..``end`` (inclusive dates): ``percent`` adds
    ``value`` % (a campaign: +20), ``absolute`` adds ``value`` contacts spread evenly over the
    range's days (volume) or ``value`` seconds (AHT)."""

    queue: Annotated[str, Field(min_length=1)]
    start: dt.date
    end: dt.date
    metric: Literal["volume", "aht"] = "volume"
    kind: Literal["percent", "absolute"] = "percent"
    value: float

    @model_validator(mode="after")
    def _order(self) -> Adjustment:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class ScenarioAdjustments(_Strict):
    name: Annotated[str, Field(min_length=1)]
    parent: str | None = None
    adjustments: list[Adjustment] = Field(default_factory=list)


class CapacityPlan(_Strict):
    """The validated plan file (see the module docstring)."""

    start: dt.date
    hours_per_fte_week: Annotated[float, Field(gt=0.0, le=168.0)] = 40.0
    shrinkage: Annotated[float, Field(ge=0.0, lt=1.0)] | None = None
    forecast: str | None = None
    profile: str | None = None
    roster: str | None = None
    holidays: list[dt.date] = Field(default_factory=list)
    attrition: list[TenureBand] = Field(default_factory=list)
    class_template: ClassTemplate = Field(default_factory=ClassTemplate)
    classes: list[HireClass] = Field(default_factory=list)
    transfers: list[Transfer] = Field(default_factory=list)
    costs: Costs = Field(default_factory=Costs)
    hiring: Hiring = Field(default_factory=Hiring)
    band: Band = Field(default_factory=Band)
    scenarios: list[ScenarioAdjustments] = Field(default_factory=list)
    source: str = "<plan>"
    base_dir: str = "."

    def path(self, name: str | None) -> Path | None:
        """A table path named in the file, relative to the file's folder."""
        if name is None:
            return None
        path = Path(name)
        return path if path.is_absolute() else Path(self.base_dir) / path

    def week_starts(self, weeks: int) -> pd.DatetimeIndex:
        return pd.date_range(pd.Timestamp(self.start), periods=weeks, freq="7D")

    def attrition_rates(self, max_tenure_weeks: int) -> np.ndarray:
        """Weekly leaving rate by tenure 0..max_tenure_weeks-1 (0 outside every band)."""
        rates = np.zeros(max_tenure_weeks)
        for band in self.attrition:
            hi = (
                max_tenure_weeks
                if band.max_weeks is None
                else min(band.max_weeks, max_tenure_weeks)
            )
            if band.min_weeks < hi:
                rates[band.min_weeks : hi] = band.weekly_rate
        return rates


def _plan_problems(plan: CapacityPlan, known_queues: set[str] | None) -> list[tuple[tuple, str]]:
    """Cross-field checks: classes inside the plan, bands in order, queue names known."""
    problems: list[tuple[tuple, str]] = []
    for index, hire_class in enumerate(plan.classes):
        if hire_class.start < plan.start:
            problems.append(
                (
                    ("classes", index, "start"),
                    f"class starts {hire_class.start}, before the plan starts {plan.start}",
                )
            )
    previous_end = 0
    for index, band in enumerate(plan.attrition):
        if band.min_weeks < previous_end:
            problems.append((("attrition", index, "min_weeks"), "tenure bands overlap"))
        if band.max_weeks is not None and band.max_weeks <= band.min_weeks:
            problems.append((("attrition", index, "max_weeks"), "max_weeks <= min_weeks"))
        previous_end = band.max_weeks if band.max_weeks is not None else 10**9
    names = [s.name for s in plan.scenarios]
    for index, scenario in enumerate(plan.scenarios):
        if names.count(scenario.name) > 1 or scenario.name == "baseline":
            problems.append((("scenarios", index, "name"), f"duplicate name {scenario.name!r}"))
        if scenario.parent is not None and scenario.parent not in names[:index]:
            problems.append(
                (("scenarios", index, "parent"), f"unknown or later scenario {scenario.parent!r}")
            )
        for number, adjustment in enumerate(scenario.adjustments):
            if known_queues is not None and adjustment.queue not in known_queues:
                problems.append(
                    (
                        ("scenarios", index, "adjustments", number, "queue"),
                        f"unknown queue {adjustment.queue!r} "
                        f"(known: {', '.join(sorted(known_queues))})",
                    )
                )
    return problems


def parse_plan(
    text: str, source: str = "<plan>", *, known_queues: set[str] | None = None
) -> CapacityPlan:
    """Validate plan YAML; raise :class:`ScenarioError` naming file, line and first bad field."""
    base_dir = str(Path(source).parent) if source != "<plan>" else "."
    root, plan = parse_yaml_model(
        text,
        source,
        CapacityPlan,
        ScenarioError,
        "expected a mapping of plan fields at the top level",
        extra={"source": source, "base_dir": base_dir},
    )
    for location, message in _plan_problems(plan, known_queues)[:1]:
        raise_at(ScenarioError, message, source, root, location)
    return plan


def load_plan(path: str | Path, *, known_queues: set[str] | None = None) -> CapacityPlan:
    """Read and validate a plan file; ``known_queues`` checks the scenario adjustments."""
    text = read_text_file(path, ScenarioError, "capacity plan file")
    return parse_plan(text, str(path), known_queues=known_queues)


# --- tables ---------------------------------------------------------------------------------


def read_table_file(path: str | Path, field: str = "path") -> pd.DataFrame:
    """A CSV or Parquet file as a DataFrame; DataError naming the file when it cannot be read."""
    path = Path(path)
    if not path.exists():
        raise DataError("file not found", file=str(path), field=field)
    try:
        if path.suffix.lower() == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except Exception as error:  # noqa: BLE001 - any parser failure is bad input
        raise DataError(f"cannot read table: {error}", file=str(path)) from None


def check_weekly_forecast(
    frame: pd.DataFrame, source: str = "forecast", known_queues: set[str] | None = None
) -> pd.DataFrame:
    """The weekly forecast table (:data:`openwfm.tables.WEEKLY_FORECAST`): ``week_start, queue,
    offered, aht_s`` (contacts per week, seconds). ``openwfm forecast --granularity week``
    output is read as is: ``period_start`` for ``week_start``, ``forecast`` for ``offered``,
    and a partial week (``days`` < 7) is scaled to seven days."""
    frame = frame.copy()
    if "offered" not in frame.columns and "forecast" in frame.columns:
        frame = frame.rename(columns={"forecast": "offered"})
    if "week_start" not in frame.columns and "period_start" in frame.columns:
        frame = frame.rename(columns={"period_start": "week_start"})
    checked = check_table(
        frame,
        WEEKLY_FORECAST,
        source=source,
        choices=None if known_queues is None else {"queue": known_queues},
    )
    out = checked[["week_start", "queue", "offered", "aht_s"]].copy()
    if "days" in checked.columns:  # a partial first/last week: scale to a whole week
        out["offered"] = out["offered"] * 7.0 / checked["days"]
    return out.sort_values(["week_start", "queue"]).reset_index(drop=True)


def read_weekly_forecast(path: str | Path, known_queues: set[str] | None = None) -> pd.DataFrame:
    return check_weekly_forecast(read_table_file(path, "forecast"), str(path), known_queues)


def check_roster(frame: pd.DataFrame, source: str = "roster") -> pd.DataFrame:
    """The roster (:data:`openwfm.tables.ROSTER`): ``agent, hire_date`` [``exit_date``,
    ``skills``, ``fte``, ``site``]."""
    checked = check_table(frame, ROSTER, source=source)
    out = checked[["agent", "hire_date"]].copy()
    out["exit_date"] = checked["exit_date"] if "exit_date" in checked.columns else pd.NaT
    out["fte"] = checked["fte"] if "fte" in checked.columns else 1.0
    for column in ("skills", "site"):
        out[column] = frame[column].astype(str).to_numpy() if column in frame.columns else ""
    return out


def read_roster(path: str | Path) -> pd.DataFrame:
    return check_roster(read_table_file(path, "roster"), str(path))


def check_profile(frame: pd.DataFrame, source: str = "profile") -> pd.DataFrame:
    """The intraday profile (:data:`openwfm.tables.PROFILE`): ``queue, weekday (0=Mon..6=Sun),
    time (HH:MM), share``; shares are normalised to sum to 1 per queue over the week."""
    checked = check_table(frame, PROFILE, source=source)
    out = checked[["queue", "weekday", "share"]].copy()
    out["offset_s"] = out["weekday"] * 86400 + checked["time"]
    totals = out.groupby("queue")["share"].transform("sum")
    out["share"] = out["share"] / totals.where(totals > 0, 1.0)
    return out[["queue", "offset_s", "share"]]


def read_profile(path: str | Path) -> pd.DataFrame:
    return check_profile(read_table_file(path, "profile"), str(path))

"""The manager's summary of a plan, typed: targets met or not, where (queue, day, hours), and why.

:func:`plan_summary` builds a :class:`PlanSummary` from a :class:`~openwfm.plan.PlanResult`;
``summary.json`` is its JSON (``PlanSummary.as_json``) and :func:`summary_text` its one page of
text. The tables behind it (targets, missed blocks, cost) come from :mod:`openwfm.plan.findings`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
from pydantic import BaseModel

from openwfm.model import Scenario
from openwfm.plan.correction import CORRECTION_NOTE
from openwfm.plan.findings import MissCause, cost_table, missed_blocks, target_table
from openwfm.plan.verdicts import agreement

if TYPE_CHECKING:
    from openwfm.plan.pipeline import PlanResult

MAX_BLOCKS = 8
Verdict = Literal["met", "met within CI", "missed", "no schedule"]


class Horizon(BaseModel):
    """The planned days: ``start`` and ``end`` (ISO dates, inclusive) and whole ``weeks``."""

    start: str
    end: str
    weeks: int


class ShrinkageApplied(BaseModel):
    """Which shrinkage (0..1) each stage applied: ``staffing`` (its ``scheduled_agents``
    column), ``schedule`` (requirements grossed up by ``1 / (1 - s)``, from the scenario or the
    ``--shrinkage`` override) and ``simulation`` (agents away at random for that share)."""

    staffing: float
    schedule: float
    schedule_source: Literal["scenario", "--shrinkage"]
    simulation: float

    @classmethod
    def of(cls, scenario: Scenario, override: float | None) -> ShrinkageApplied:
        """The scenario's shrinkage everywhere, the schedule's replaced by ``override``."""
        value = float(scenario.shrinkage)
        return cls(
            staffing=value,
            schedule=value if override is None else float(override),
            schedule_source="scenario" if override is None else "--shrinkage",
            simulation=value,
        )

    def text(self) -> str:
        """One sentence: which shrinkage each stage applied."""
        return (
            f"Shrinkage (beyond the scheduled breaks): schedule covers required / "
            f"(1 - {self.schedule:.2f}) ({self.schedule_source}); simulation takes "
            f"{self.simulation:.0%} of scheduled time away at random (scenario); staffing's "
            f"scheduled_agents = required / (1 - {self.staffing:.2f}) (scenario)"
        )


class RequirementModel(BaseModel):
    """How many requirement rows one queueing model and service-level definition produced."""

    model: str
    sl_definition: str
    rows: int


class ScheduleFigures(BaseModel):
    """The schedule found: solver status and objective, and coverage in agent-intervals."""

    status: str
    objective: float
    bound: float
    gap: float
    solver_s: float
    shifts: int
    agents_scheduled: int
    agents_available: int
    required_agent_intervals: int
    under_agent_intervals: int
    uncovered_intervals: int
    notes: list[str]


class ScheduleFailure(BaseModel):
    """No schedule was found, and why (the contradicting rules, or the time limit)."""

    status: Literal["none"] = "none"
    failure: str


class ContractCost(BaseModel):
    """Paid hours and cost (paid hours x ``hourly_cost``) of one contract."""

    contract: str
    agents: int
    shifts: int
    paid_hours: float
    cost: float


class CostSummary(BaseModel):
    paid_hours: float
    cost: float
    by_contract: list[ContractCost]


class BindingRule(BaseModel):
    """A scheduling rule that binds: violated (soft) or agents at its limit."""

    rule: str
    hard: bool
    violated: int
    at_limit: int


class TargetResult(BaseModel):
    """One queue x segment x targeted metric: target, simulated mean and 95% CI, status."""

    queue: str
    segment: str
    metric: str
    target: float
    simulated: float
    ci_low: float
    ci_high: float
    status: str
    offered: float


class MissedBlock(BaseModel):
    """Consecutive intervals of one queue x segment on one day below target, and why."""

    queue: str
    segment: str
    date: str
    weekday: str
    hours: str
    intervals: int
    offered: float
    service_level: float
    target: float
    abandon_rate: float
    short_contacts: float
    under_agent_intervals: int
    uncovered_intervals: int
    cause: MissCause
    reason: str


class VerdictDifference(BaseModel):
    """A queue x block whose coverage verdict and simulated verdict differ, and why."""

    queue: str
    block: str
    covered: bool
    met: bool
    service_level: float
    why: str


class VerdictAgreement(BaseModel):
    """The plan's coverage verdict beside the simulated verdict per queue x ``block_hours``
    block (:mod:`openwfm.plan.verdicts`): how many blocks, the share that agree, per queue,
    and the blocks that differ (first ``MAX_BLOCKS``) with the reason."""

    block_hours: int
    blocks: int
    agreement: float
    by_queue: dict[str, float]
    differ: list[VerdictDifference]


class OutboundFigures(BaseModel):
    """Outbound calls (blending) of one queue over the plan: ``asked`` (``outbound_per_hour``
    over the open hours), ``made`` (simulated mean over the replications) and its 95% CI."""

    queue: str
    asked: float
    made: float
    ci_low: float
    ci_high: float


class PlanSummary(BaseModel):
    """The plan's summary (what ``summary.json`` holds and the report's first page shows)."""

    scenario: str
    horizon: Horizon
    history: str
    forecast_methods: dict[str, str]
    forecast_contacts: float
    replications: int
    unavailable: dict[str, str]
    shrinkage: ShrinkageApplied | None = None
    requirement_models: list[RequirementModel] | None = None
    schedule: ScheduleFigures | ScheduleFailure | None = None
    cost: CostSummary | None = None
    binding_rules: list[BindingRule] | None = None
    outbound: list[OutboundFigures] | None = None
    verdicts: VerdictAgreement | None = None
    verdict: Verdict
    headline: str = ""
    targets: list[TargetResult] = []
    missed_interval_blocks: int | None = None
    where: list[MissedBlock] = []
    why: list[str] = []
    stages: dict[str, str] | None = None
    timings_s: dict[str, float] | None = None
    report: str | None = None

    def as_json(self) -> dict[str, Any]:
        """Strict JSON values (NaN and infinity as null); sections the plan has not are left
        out."""
        values = json.loads(self.model_dump_json())
        return {key: value for key, value in values.items() if value is not None}


def _records(table: pd.DataFrame, model: type[BaseModel]) -> list:
    return [model.model_validate(row) for row in table.to_dict(orient="records")]


def _schedule_figures(scenario: Scenario, schedule: Any) -> ScheduleFigures:
    cov = schedule.coverage
    return ScheduleFigures(
        status=schedule.status,
        objective=float(schedule.objective),
        bound=float(schedule.bound),
        gap=float(schedule.gap),
        solver_s=float(schedule.wall_time_s),
        shifts=int(len(schedule.shifts)),
        agents_scheduled=int(schedule.shifts["agent"].nunique()),
        agents_available=len(scenario.all_agents()),
        required_agent_intervals=int(cov["required"].sum()),
        under_agent_intervals=int(cov["under"].sum()),
        uncovered_intervals=int(((cov["scheduled"] == 0) & (cov["required"] > 0)).sum()),
        notes=list(schedule.notes),
    )


def _requirement_models(requirements: pd.DataFrame) -> list[RequirementModel]:
    if not {"model", "sl_definition"} <= set(requirements.columns):
        return []
    models = requirements.groupby(["model", "sl_definition"]).size()
    return [RequirementModel(model=m, sl_definition=d, rows=int(n)) for (m, d), n in models.items()]


def _with_schedule(summary: PlanSummary, scenario: Scenario, result: PlanResult) -> None:
    """The schedule's figures, cost and binding rules into ``summary``."""
    schedule = result.schedule
    summary.schedule = _schedule_figures(scenario, schedule)
    costs = cost_table(scenario, schedule.shifts)
    summary.cost = CostSummary(
        paid_hours=float(costs["paid_hours"].sum()),
        cost=float(costs["cost"].sum()),
        by_contract=_records(costs, ContractCost),
    )
    rules = result.binding_rules
    summary.binding_rules = [
        BindingRule(
            rule=r.rule, hard=bool(r.hard), violated=int(r.violated), at_limit=int(r.at_limit)
        )
        for r in rules[rules["binds"]].itertuples(index=False)
    ]


def plan_summary(
    scenario: Scenario, result: PlanResult, *, weeks: int, replications: int, history_source: str
) -> PlanSummary:
    """The summary of ``result``: verdict, targets, where and why, schedule and cost.
    ``result`` holds a simulated plan, or a schedule failure (the plan has no other outcome:
    a schedule found is always simulated); ValueError otherwise."""
    forecast = result.forecast
    targets = None
    if result.schedule_failure is None:
        if result.schedule is None or result.simulation_summary is None:
            raise ValueError("plan_summary needs a simulated schedule or a schedule failure")
        targets = target_table(scenario, result.simulation_summary)
    start = pd.Timestamp(result.start)
    summary = PlanSummary(
        scenario=scenario.name,
        horizon=Horizon(
            start=start.date().isoformat(),
            end=(start + pd.Timedelta(days=7 * weeks - 1)).date().isoformat(),
            weeks=weeks,
        ),
        history=history_source,
        forecast_methods=forecast.groupby("queue")["method"].first().to_dict(),
        forecast_contacts=float(forecast["forecast"].sum()),
        replications=replications,
        unavailable={k: v for k, v in result.stages.items() if v.startswith("unavailable")},
        shrinkage=result.shrinkage,
        verdict="no schedule" if targets is None else _verdict(set(targets["status"])),
    )
    if result.requirements is not None:
        summary.requirement_models = _requirement_models(result.requirements)
    if targets is None:
        return _no_schedule(summary, scenario, result, result.schedule_failure)
    _with_schedule(summary, scenario, result)
    summary.outbound = outbound_figures(scenario, result.simulation_summary, start, weeks)
    blocks = missed_blocks(scenario, result.simulation, result.schedule.coverage)
    if result.verdicts is not None:
        summary.verdicts = verdict_agreement(result.verdicts)
    summary.targets = _records(targets, TargetResult)
    summary.missed_interval_blocks = int(len(blocks))
    summary.where = _records(blocks.head(MAX_BLOCKS), MissedBlock)
    summary.why = _why(summary, blocks)
    summary.headline = _headline(summary.verdict, summary.targets)
    return summary


def outbound_figures(
    scenario: Scenario, simulated: pd.DataFrame, start: pd.Timestamp, weeks: int
) -> list[OutboundFigures] | None:
    """Outbound calls asked and made per queue with outbound work (None: the center has none):
    asked is ``outbound_per_hour`` over the open hours of the ``weeks`` from ``start``, made
    the simulated calls started (the summary's ``outbound`` column)."""
    queues = [q for q in scenario.queues if q.outbound_per_hour > 0]
    if not queues or "outbound" not in simulated.columns:
        return None
    step = pd.Timedelta(minutes=scenario.grid.interval_minutes)
    slots = pd.date_range(start, start + pd.Timedelta(days=7 * weeks), freq=step, inclusive="left")
    open_h = sum(scenario.grid.is_open(t.to_pydatetime()) for t in slots) * step.total_seconds()
    open_h /= 3600.0
    rows = simulated[simulated["segment"].astype(str) == "all"].set_index("queue")
    figures = []
    for queue in queues:
        if queue.name not in rows.index:
            continue
        row = rows.loc[queue.name]
        figures.append(
            OutboundFigures(
                queue=queue.name,
                asked=queue.outbound_per_hour * open_h,
                made=float(row["outbound"]),
                ci_low=float(row.get("outbound_ci_low", float("nan"))),
                ci_high=float(row.get("outbound_ci_high", float("nan"))),
            )
        )
    return figures


def verdict_agreement(table: pd.DataFrame, block_hours: int = 2) -> VerdictAgreement:
    """The summary of a verdict table (:func:`openwfm.plan.verdicts.verdict_table`)."""
    differ = table[~table["agree"]].sort_values(["queue", "block"])
    return VerdictAgreement(
        block_hours=block_hours,
        blocks=int(len(table)),
        agreement=agreement(table),
        by_queue={str(q): float(v) for q, v in table.groupby("queue")["agree"].mean().items()},
        differ=[
            VerdictDifference(
                queue=str(row.queue),
                block=pd.Timestamp(row.block).isoformat(),
                covered=bool(row.covered),
                met=bool(row.met),
                service_level=float(row.service_level),
                why=str(row.why),
            )
            for row in differ.head(MAX_BLOCKS).itertuples(index=False)
        ],
    )


def _verdict(statuses: set[str]) -> Verdict:
    if "missed" in statuses:
        return "missed"
    if "within CI" in statuses:
        return "met within CI"
    return "met"


def _why(summary: PlanSummary, blocks: pd.DataFrame) -> list[str]:
    """Reasons the targets are missed: coverage, shrinkage, then the blocks' causes."""
    why = []
    schedule = summary.schedule
    if isinstance(schedule, ScheduleFigures) and schedule.uncovered_intervals:
        why.append(
            f"{schedule.uncovered_intervals} queue-interval(s) have no "
            "agent scheduled although the requirement is positive"
        )
    if isinstance(schedule, ScheduleFigures) and schedule.under_agent_intervals:
        why.append(
            f"under-coverage: the schedule is {schedule.under_agent_intervals} agent-intervals "
            f"short of the requirement ({schedule.agents_scheduled} of "
            f"{schedule.agents_available} agents scheduled)"
        )
    applied = summary.shrinkage
    if applied and applied.schedule < applied.simulation - 1e-9:
        why.append(
            f"shrinkage: the schedule plans for {applied.schedule:.0%} "
            f"({applied.schedule_source}) but agents are away {applied.simulation:.0%} of "
            "their scheduled time (the scenario's shrinkage, simulated)"
        )
    for cause, count in blocks["cause"].value_counts().items():
        if cause in (MissCause.FORECAST_UNCERTAINTY, MissCause.ROUTING_GAP):
            why.append(
                f"{cause}: {count} block(s) of intervals miss although coverage "
                "meets the requirement"
            )
    return why


def _headline(verdict: Verdict, targets: list[TargetResult]) -> str:
    if verdict == "met":
        return "All targets met in simulation"
    if verdict == "met within CI":
        near = [t for t in targets if t.status == "within CI"]
        return (
            "Targets met within the 95% confidence interval ("
            + ", ".join(f"{t.queue}/{t.segment} {t.metric}" for t in near)
            + " at the edge)"
        )
    return "Targets MISSED: " + ", ".join(
        f"{t.queue}/{t.segment} {t.metric} {fmt(t.metric, t.simulated)} vs "
        f"{fmt(t.metric, t.target)}"
        for t in targets
        if t.status == "missed"
    )


def fmt(metric: str, value: float) -> str:
    """A metric's value as the summary shows it: seconds for ASA, else a percentage."""
    if value != value:  # NaN
        return "-"
    if metric == "asa_s":
        return f"{value:.0f} s"
    return f"{value:.1%}"


def _no_schedule(
    summary: PlanSummary, scenario: Scenario, result: PlanResult, why: str
) -> PlanSummary:
    """The partial summary of a plan whose schedule stage found no schedule: the forecast and
    the requirement stand, the schedule stage says what it could not do and why."""
    summary.headline = f"No schedule found, so no simulated proof: {why}"
    reasons = [f"schedule stage: {why}"]
    requirements = result.requirements
    if requirements is not None and len(requirements):
        shrinkage = summary.shrinkage.schedule if summary.shrinkage else 0.0
        peak = requirements.groupby("interval_start")["required_agents"].sum().max() / (
            1 - shrinkage
        )
        reasons.append(
            f"the requirement peaks at {peak:.0f} agents at once (after shrinkage); the "
            f"scenario has {len(scenario.all_agents())} agents"
        )
    if "time limit" in why:
        reasons.append("what to do: raise --time-limit, or relax hard rules in the scenario")
    else:
        reasons.append("what to do: make the named hard rules soft, or change them")
    summary.schedule = ScheduleFailure(failure=why)
    summary.why = reasons
    summary.missed_interval_blocks = 0
    return summary


def summary_text(summary: PlanSummary) -> str:
    """The one-page summary as plain text (what ``openwfm plan`` prints)."""
    lines = [
        f"{summary.scenario}: plan {summary.horizon.start} .. {summary.horizon.end}",
        f"VERDICT: {summary.verdict} - {summary.headline}",
    ]
    if summary.targets:
        lines.append("Targets (simulated mean [95% CI]):")
        for t in summary.targets:
            lines.append(
                f"  {t.queue}/{t.segment:<9} {t.metric:<14} "
                f"{fmt(t.metric, t.simulated)} [{fmt(t.metric, t.ci_low)}, "
                f"{fmt(t.metric, t.ci_high)}] target {fmt(t.metric, t.target)}"
                f" -> {t.status}"
            )
    if summary.where:
        lines.append(
            f"Where ({summary.missed_interval_blocks} block(s) of intervals below "
            "target; worst first):"
        )
        for w in summary.where:
            lines.append(
                f"  {w.queue}/{w.segment} {w.weekday} {w.date} {w.hours}: SL "
                f"{w.service_level:.0%} vs {w.target:.0%} - {w.reason}"
            )
    if summary.why:
        lines.append("Why:")
        lines.extend(f"  - {reason}" for reason in summary.why)
    lines.extend(_verdict_lines(summary.verdicts))
    lines.extend(_schedule_and_cost_lines(summary))
    for stage, state in summary.unavailable.items():
        lines.append(f"Stage {stage}: {state}")
    return "\n".join(lines) + "\n"


def verdict_sentence(verdicts: VerdictAgreement) -> str:
    """One sentence: how often the coverage verdict and the simulated verdict agree."""
    return (
        f"Coverage verdict vs simulated verdict: agreement {verdicts.agreement:.1%} of "
        f"{verdicts.blocks} queue x {verdicts.block_hours}-hour blocks ("
        + ", ".join(f"{q} {v:.0%}" for q, v in verdicts.by_queue.items())
        + ")"
    )


def _verdict_lines(verdicts: VerdictAgreement | None) -> list[str]:
    if verdicts is None:
        return []
    lines = [verdict_sentence(verdicts)]
    for d in verdicts.differ:
        lines.append(
            f"  {d.queue} {d.block[:16]}: coverage {'met' if d.covered else 'short'}, "
            f"simulated {'met' if d.met else 'missed'} (SL {d.service_level:.0%}) - {d.why}"
        )
    return lines


def _schedule_and_cost_lines(summary: PlanSummary) -> list[str]:
    lines = []
    schedule = summary.schedule
    if isinstance(schedule, ScheduleFigures):
        lines.append(
            f"Schedule: {schedule.status}, objective {schedule.objective:.1f}, bound "
            f"{schedule.bound:.1f}, gap {schedule.gap:.1%} (solver {schedule.solver_s:.0f}"
            f" s); {schedule.shifts} shifts for {schedule.agents_scheduled} of "
            f"{schedule.agents_available} agents"
        )
        # the correction's note (the solver's own notes, long, are in summary.json)
        lines.extend(
            f"  note: {note}" for note in schedule.notes if note.startswith(CORRECTION_NOTE)
        )
    for o in summary.outbound or []:
        lines.append(
            f"Outbound {o.queue}: {o.made:,.0f} calls made [{o.ci_low:,.0f}, "
            f"{o.ci_high:,.0f}] vs {o.asked:,.0f} asked (simulated, over the open hours)"
        )
    if summary.shrinkage:
        lines.append(summary.shrinkage.text())
    if summary.cost is not None:
        lines.append(
            f"Cost: {summary.cost.paid_hours:,.1f} paid hours, "
            f"{summary.cost.cost:,.2f} (paid hours x contract hourly_cost"
            + ("; the contracts give no hourly_cost)" if summary.cost.cost == 0 else ")")
        )
    return lines

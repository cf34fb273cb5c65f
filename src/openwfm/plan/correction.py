"""The plan's simulation-based correction of its requirements (Cezik & L'Ecuyer 2008's loop).

With pools (sets of queues that share agents), the plan schedules against merged-queue pool
requirements (:mod:`openwfm.staffing.skill_sets`, priority segments as priority classes:
:mod:`openwfm.staffing.pool_priority`), an approximation: random shrinkage on a few agents,
forecast uncertainty, a small queue served only by agents who also serve a large one, and a
policy that ages priorities make the simulated center carry less than the pool model. So, as
Cezik & L'Ecuyer (2008) do, the plan checks its schedule with the simulator and corrects where
the approximation is off: simulate the schedule (its own seeds, ``seed + CHECK_SEED_OFFSET +
round``, so the final proof is judged on fresh draws), raise the requirement of each queue,
and of every pool holding it, in each interval where the simulation clearly misses
(:func:`openwfm.staffing.raise_where_missed`: the whole 95% interval beyond the target, a
segment against its own; for a queue or segment that clearly misses over the whole horizon,
every interval where its mean misses), re-schedule; at most ``rounds`` times, stopping early
when nothing misses. The final schedule is then simulated with the plan's seed as before. Each
step is a cached stage, so a re-run reuses every round.

How much to raise (method, and why): to the agents the checked schedule had there who can
serve the row's queues, plus a step sized from the gap (:mod:`openwfm.staffing.shortfall`:
Erlang C calibrated to the simulated level on the agents who can serve the missed queue, the
agents that curve needs to reach the target; 1 to a quarter of them plus one). One agent on
the requirement, as before, bought nothing where it mattered: a cross-trained center's rows
are covered many times over by agents who spend their time on other queues (the Anonymous
Bank's NE row counts every NE-trained agent at work, mostly busy with PS), so the schedule
already exceeded the raised requirement, and the gap stayed.

On the Anonymous Bank's week (5 voice queues, 40 cross-trained agents, priority customers at
90% in 30 s; README, 60 deterministic s, 10 replications, 16 min wall at load 7-9): the
uncorrected pooled plan buys 1,074 paid hours and misses NE's priority customers (83.2%);
corrected in 2 rounds, 1,286 hours, every target met (NE's priority customers 92.5% [90.5%,
94.6%]), agreement 97.1% of 276 blocks; per queue only (``--no-pools``), 1,760 hours. With
first-come-first-served pools and one-agent steps it was 1,164-1,168 hours with NE's priority
customers at 87.6-89.3%, and a third round did not help.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from openwfm.model import Scenario
from openwfm.plan.cache import stage_key
from openwfm.plan.stages import StageOutput

CHECK_SEED_OFFSET = 1000  # the correction rounds' simulations: seed + this + round
DEFAULT_ROUNDS = 2
CORRECTION_NOTE = "simulation-based correction"  # how the schedule's note on it begins
STEP_METHOD = "erlang-step"  # steps sized from the gap (openwfm.staffing.shortfall)


@dataclass(frozen=True)
class CorrectionRound:
    """One round: the agent-intervals it added to the per-queue and the pool requirements."""

    queue_agent_intervals: int
    pool_agent_intervals: int

    @property
    def added(self) -> int:
        return self.queue_agent_intervals + self.pool_agent_intervals


def raised(
    table: StageOutput[pd.DataFrame],
    check: StageOutput[Any],
    scenario: Scenario,
    schedule: StageOutput[Any] | None = None,
) -> tuple[StageOutput[pd.DataFrame], int]:
    """``table`` (per-queue or pool requirements) raised where the ``check`` simulation
    misses (:func:`openwfm.staffing.raise_where_missed` with its summary and, given the
    checked ``schedule``, its activities: steps sized from the gap on the agents it had);
    the agent-intervals added."""
    from openwfm.staffing import raise_where_missed

    if table.value.empty:
        return table, 0
    activities = None if schedule is None else schedule.value.activities
    value, added = raise_where_missed(
        table.value,
        check.value.intervals,
        scenario,
        summary=check.value.summary,
        activities=activities,
    )
    key = stage_key("corrected", table.key, check.key, STEP_METHOD if schedule else "")
    return StageOutput(key, value, table.cached), added


def correction_note(rounds: list[CorrectionRound], limit: int) -> str:
    """One sentence for the schedule's notes: what the correction did."""
    added = sum(r.added for r in rounds)
    if not rounds:
        return f"{CORRECTION_NOTE}: not run"
    if added == 0:
        return f"{CORRECTION_NOTE}: the first check met every interval; nothing added"
    stopped = "" if rounds[-1].added else " (the last check met every interval)"
    return (
        f"{CORRECTION_NOTE}: {len(rounds)} of at most {limit} round(s){stopped} "
        f"added {sum(r.queue_agent_intervals for r in rounds)} agent-intervals to the "
        f"per-queue and {sum(r.pool_agent_intervals for r in rounds)} to the pool "
        "requirements where the simulated schedule missed, then re-scheduled"
    )

"""Longest-idle versus quality-based routing of one segment, in the simulator.

Both arms run the same scenario (the same agents, proficiencies and handle times) and the same
seeds (common random numbers: the same arrivals and draws), and differ only in the routing
policy: ``longest_idle`` (first come, first served to the agent idle longest), ``priority``
(``priority_aging`` with no aging: higher segment priority first, agent idle longest) or
``quality``: ``best_skilled`` for ``segment`` (the A-team routing of
:mod:`openwfm.routing.policy`: higher segment priority first, and the available agent with the
highest proficiency takes the segment's contacts). ``quality - priority`` isolates the choice of
agent; ``quality - longest_idle`` is the whole change a center makes. Both arms drop the
scenario's minimum proficiency and escalation steps, so every skilled agent is eligible.

Resolution is not a simulator state: each answered contact is credited with the resolution
probability of the agent who answered it (``resolution_by_agent``, e.g. the measured FCR), and
the replication's resolution is the mean over its answered contacts (de Vericourt & Zhou 2005
use this probability as the quality of a call). Confidence intervals are 95% Student-t over
replications; differences are paired per replication (same seeds).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import numpy as np
import pandas as pd

from openwfm.errors import ParameterError
from openwfm.model import RoutingConfig, Scenario

POLICIES = ("longest_idle", "priority", "quality")
METRICS = ("service_level", "asa_s", "abandon_rate", "aht_s", "resolution")


def _replicate(plan, seed: np.random.SeedSequence):
    """One replication as :func:`openwfm.sim.run.run_one` runs it, keeping per-contact rows."""
    from openwfm.sim.run import replication_table, simulate_replication

    run = simulate_replication(plan, seed)
    return replication_table(plan, run), run.floats, run.ints


def _resolution(model, ints, queue: int, resolution: np.ndarray) -> dict[str, float]:
    from openwfm.sim import engine as E

    answered = (ints[:, E.STATE] == E.ANSWERED) & (ints[:, E.QUEUE] == queue)
    values = {"all": float(np.mean(resolution[ints[answered, E.AGENT]]))}
    for s, name in enumerate(model.segment_names):
        mask = answered & (ints[:, E.SEGMENT] == s)
        values[name] = float(np.mean(resolution[ints[mask, E.AGENT]])) if mask.any() else np.nan
    return values


def compare_routing(
    scenario: Scenario,
    resolution_by_agent: Mapping[str, float],
    *,
    segment: str = "gold",
    queue: str | None = None,
    replications: int = 10,
    seed: int = 0,
    start: dt.date | None = None,
    days: int = 1,
) -> pd.DataFrame:
    """Rows ``policy`` x ``segment`` (each with contacts, and ``all``) x ``metric`` with
    ``mean, ci_low, ci_high``. Policies: ``longest_idle``, ``priority`` (higher segment priority
    first, then the agent idle longest: isolates the priority part of A-team routing),
    ``quality`` (``best_skilled`` for ``segment``) and the paired differences
    ``quality-longest_idle`` and ``quality-priority``."""
    from openwfm.sim.metrics import mean_ci, summarize
    from openwfm.sim.run import prepare

    if segment not in [s.name for s in scenario.segments]:
        raise ParameterError(f"unknown segment {segment!r}", field="segment")
    queue = queue or next(q for q in scenario.queue_names if segment in scenario.segment_shares(q))
    arms = {
        "longest_idle": RoutingConfig(policy="longest_idle"),
        "priority": RoutingConfig(policy="priority_aging", aging_per_s=0.0),
        "quality": RoutingConfig(policy="best_skilled", a_team_segments=[segment]),
    }
    per_rep = {}
    for name, routing in arms.items():
        plan = prepare(scenario.model_copy(update={"routing": routing}), start=start, days=days)
        model = plan.model
        missing = [a for a in model.agent_names if a not in resolution_by_agent]
        if missing:
            raise ParameterError(
                f"no resolution rate for agent {missing[0]!r}", field="resolution_by_agent"
            )
        resolution = np.array([resolution_by_agent[a] for a in model.agent_names], dtype=float)
        q = model.queue_names.index(queue)
        runs = [_replicate(plan, s) for s in np.random.SeedSequence(seed).spawn(replications)]
        _, _, reps = summarize([r[0] for r in runs], model, plan.origin, plan.interval_s)
        reps = reps[reps["queue"] == queue]
        rows = {}
        for r, (_, _, ints) in enumerate(runs):
            resolved = _resolution(model, ints, q, resolution)
            for seg, value in resolved.items():
                row = reps[(reps["replication"] == r) & (reps["segment"] == seg)]
                metrics = {m: float(row[m].iloc[0]) if len(row) else np.nan for m in METRICS[:4]}
                rows[(r, seg)] = {**metrics, "resolution": value}
        per_rep[name] = pd.DataFrame.from_dict(rows, orient="index")
    per_rep["quality-longest_idle"] = per_rep["quality"] - per_rep["longest_idle"]
    per_rep["quality-priority"] = per_rep["quality"] - per_rep["priority"]
    out = []
    for name, frame in per_rep.items():
        for seg, rows in frame.groupby(level=1, sort=False):
            if rows.isna().all().all():
                continue  # a segment with no contacts in this queue
            for metric in METRICS:
                mean, low, high = mean_ci(rows[metric].to_numpy())
                out.append(
                    {
                        "policy": name,
                        "segment": seg,
                        "metric": metric,
                        "mean": float(mean),
                        "ci_low": float(low),
                        "ci_high": float(high),
                    }
                )
    return pd.DataFrame(out)

"""Shrinkage in simulation: scheduled agents away for a share of their time, at random.

``shrinkage`` (the scenario's, :class:`openwfm.model.Scenario`) is the share of scheduled
time an agent is not available for contacts *beyond the breaks the schedule places*:
meetings, training, coaching, absence. The scheduler plans for it by covering
``required / (1 - shrinkage)``; the simulator takes it away again: each agent's available time
is cut into blocks on the interval grid, and each block is lost independently with
probability ``shrinkage`` (drawn from the replication's own seed, so a run is reproducible).
A center scheduled without shrinkage then shows the service it would really get.
"""

from __future__ import annotations

import numpy as np

from openwfm.sim.agents import AvailableSpans, merge_spans


def apply_shrinkage(
    availability: AvailableSpans, shrinkage: float, interval_s: float, rng: np.random.Generator
) -> AvailableSpans:
    """``availability`` with each ``interval_s`` block (on the grid from time 0) of each
    agent's available time removed with probability ``shrinkage`` (0..1)."""
    if shrinkage <= 0.0 or len(availability.agent) == 0:
        return availability
    start = availability.start_s
    end = availability.end_s
    first = np.floor(start / interval_s).astype(np.int64)
    last = np.ceil(end / interval_s).astype(np.int64)
    blocks = np.maximum(last - first, 0)
    span = np.repeat(np.arange(len(start)), blocks)
    offset = np.arange(int(blocks.sum())) - np.repeat(np.cumsum(blocks) - blocks, blocks)
    grid = (first[span] + offset).astype(float) * interval_s
    low = np.maximum(start[span], grid)
    high = np.minimum(end[span], grid + interval_s)
    kept = (rng.random(len(span)) >= shrinkage) & (high > low)
    spans: dict[int, list[tuple[float, float]]] = {}
    for agent, lo, hi in zip(
        availability.agent[span][kept].tolist(),
        low[kept].tolist(),
        high[kept].tolist(),
        strict=True,
    ):
        spans.setdefault(agent, []).append((lo, hi))
    return merge_spans(spans)

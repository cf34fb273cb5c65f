"""A pool's requirement for its priority segments: the merged queue with priority classes.

The merged queue of :mod:`openwfm.staffing.skill_sets` serves first come, first served, and
meets each member queue's own target. The routing policy (:mod:`openwfm.routing.policy`)
does not serve a pool that way when segments have priorities (``best_skilled``,
``priority_aging``): a waiting contact of a higher segment is taken first, whichever member
queue it came to. A segment with its own, tighter target (priority customers: 90% within
30 s where the queues ask 80% within 60 s) is then a class of the merged queue, and what the
pool needs for it depends on the load of the classes above it and of its own, not on the
members' first-come-first-served wait.

Method (and why): non-preemptive priority M/M/n on the merged queue, as the per-queue
staffing does for one queue (:mod:`openwfm.staffing.single_skill`), the classes pooled over
the members: a class's arrival rate is the sum over the members of the member's rate times
the segment's share there; segments of equal priority are one class (served in arrival order
among themselves); deferred members (worked only when no live contact waits) are below every
live class. A contact of class ``k`` waits iff all ``n`` agents are busy (Erlang C of the
whole merged load, probability ``C``) and then, with the mean wait of Cobham's formula
``W_k = C / (n mu (1 - s_{k-1}) (1 - s_k))`` (``s_k``: the load of classes 1..k over
``n mu``), an exponential conditional wait: exact for the top class (``P(W > t) = C exp(-(n mu
- lambda_1) t)``), an approximation below it. Abandonment is bounded by ``C theta / (theta +
C / W_k)`` (``theta``: the merged abandonment rate; waits without abandonment, conservative).
For every segment with its own target on a member, the pool needs the least ``n`` meeting
that target for the segment's class; the pool requirement is the larger of this and the
first-come-first-served one.

Why not the first-come-first-served queue with the tighter target: it asks every class for
the priority target and overstaffs (the priority class, a third of the calls, waits far less
than the rest). Why not leave priority segments to the per-queue rows: a priority segment
spread over several queues competes in the pool with the other queues' priority customers
(the Anonymous Bank's PS and NE priority customers have the same priority and the same
agents), which the queue alone does not see. ``priority_aging`` lets a contact that has
waited ``1 / aging_per_s`` seconds longer overtake a higher one; the model ignores that
(optimistic for the top class only where the lower classes wait that long, which their own
targets make rare); the plan's simulation-based correction (:mod:`openwfm.plan.correction`)
checks the result with the policy itself.
"""

from __future__ import annotations

import numpy as np

from openwfm.model import Scenario
from openwfm.queueing import erlang_c
from openwfm.queueing.inversion import least_integer


def segment_rates(scenario: Scenario, rates: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Arrival rate (1/s) per segment over the member queues of ``rates`` (queue -> rate per
    interval): each member's rate times the segment's share of it."""
    out: dict[str, np.ndarray] = {}
    for queue, lam in rates.items():
        for segment, share in scenario.segment_shares(queue).items():
            if share > 0:
                out[segment] = out.get(segment, 0.0) + np.asarray(lam, float) * share
    return out


def has_segment_targets(scenario: Scenario, members: list[str]) -> bool:
    """Does some segment have its own target on one of ``members``?"""
    return any(q in s.targets for s in scenario.segments for q in members)


def priority_class_requirement(
    scenario: Scenario,
    live_rates: dict[str, np.ndarray],
    total_rate: np.ndarray,
    mixed_aht_s: np.ndarray,
    patience_s: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least agents per interval meeting every segment's own target on a member of
    ``live_rates`` (member queue -> arrival rate per interval, 1/s) as a priority class of the
    merged queue (module doc); ``total_rate`` is the merged queue's whole rate (deferred work
    included), ``mixed_aht_s`` its handle time, ``patience_s`` its mean patience (None: no
    abandonment). Returns the agents (0 where no segment has a target), the member whose
    segment target binds ('' where none) and that target's ``within_s`` (NaN where none)."""
    size = np.asarray(total_rate).size
    need = np.zeros(size, dtype=np.int64)
    binding = np.full(size, "", dtype=object)
    within = np.full(size, np.nan)
    classes = segment_rates(scenario, live_rates)
    a = np.asarray(total_rate, float) * np.asarray(mixed_aht_s, float)
    theta = None if patience_s is None else 1.0 / np.asarray(patience_s, float)
    for segment in classes:
        priority = scenario.segment_priority(segment)
        higher = sum(
            (r for s, r in classes.items() if scenario.segment_priority(s) > priority),
            np.zeros(size),
        )
        own = sum(
            (r for s, r in classes.items() if scenario.segment_priority(s) == priority),
            np.zeros(size),
        )
        for queue, lam in live_rates.items():
            if not _has_own_target(scenario, queue, segment) or not np.any(lam > 0):
                continue
            target = scenario.target_for(queue, segment)
            n = _class_requirement(target, a, mixed_aht_s, higher, own, theta)
            n = np.where(np.asarray(lam) > 0, n, 0)
            binding = np.where(n > need, queue, binding)
            within = np.where(n > need, float(target.within_s), within)
            need = np.maximum(need, n)
    return need, binding, within


def _has_own_target(scenario: Scenario, queue: str, segment: str) -> bool:
    return any(s.name == segment and queue in s.targets for s in scenario.segments)


def _class_requirement(target, a, aht, higher, own, theta) -> np.ndarray:
    """Least ``n`` meeting ``target`` for a class with the rates ``higher`` above it and
    ``own`` in it, in a merged queue of load ``a`` (Erlangs) and handle time ``aht``."""
    aht = np.asarray(aht, float)

    def ok(index, agents):
        agents = agents.astype(float)
        mu_n = agents / aht[index]
        c = erlang_c(a[index], agents)
        with np.errstate(divide="ignore", invalid="ignore"):
            s_prev = higher[index] / mu_n
            s_k = (higher[index] + own[index]) / mu_n
            rate = mu_n * (1 - s_prev) * (1 - s_k)  # C / W_k
            good = (s_k < 1) & (agents > a[index])
            good &= 1 - c * np.exp(-rate * target.within_s) >= target.service_level - 1e-12
            if target.max_abandon is not None and theta is not None:
                bound = c * theta[index] / (theta[index] + rate)
                good &= bound <= target.max_abandon
        return good | (a[index] == 0)

    lower = np.floor(a) + np.where(a > 0, 1, 0)
    upper = np.ceil(a + 60 * np.sqrt(a) + 1000)
    need = least_integer(ok, lower, lower, upper)
    return np.where(need < 0, upper, need).astype(np.int64)

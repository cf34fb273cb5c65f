"""A scenario compiled to the arrays the event engine runs on, and its checks before a run."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from openwfm.errors import ScenarioError
from openwfm.model import RoutingConfig, Scenario
from openwfm.routing.policy import CHANNELS, NOT_SKILLED, PolicyTables, RoutingPolicy
from openwfm.sim.engine import EMPIRICAL, EXPONENTIAL, LOGNORMAL, QueueTables


@dataclass
class SimulationModel:
    """Everything static about a simulated center (names map to array indices)."""

    scenario: Scenario
    policy: RoutingPolicy
    queue_names: list[str]
    segment_names: list[str]
    agent_names: list[str]
    tables: PolicyTables
    queues: QueueTables
    proficiency: np.ndarray  # float64[n_agents, n_queues], -1 = no skill
    capacity: np.ndarray  # int64[n_agents, n_channels]

    @property
    def n_queues(self) -> int:
        return len(self.queue_names)

    @property
    def n_segments(self) -> int:
        return len(self.segment_names)


def check_scenario(scenario: Scenario, routing: RoutingConfig | None = None) -> None:
    """Problems that would make a simulation meaningless, as a :class:`ScenarioError`.

    The scenario loader already rejects unknown queues in skills and negative numbers; this
    adds the routing checks: a queue no agent is skilled for, and escalation steps that can
    never match (out of order, or widening to queues / proficiencies no agent has).
    """
    routing = routing or scenario.routing
    agents = scenario.all_agents()
    if not agents:
        raise ScenarioError("a simulation needs at least one agent", field="agents")
    top = {
        q: max((a.skills.get(q, -1.0) for a in agents), default=-1.0) for q in scenario.queue_names
    }
    previous = -math.inf
    current = routing.min_proficiency
    for k, step in enumerate(routing.escalation):
        where = f"routing.escalation[{k}]"
        if step.after_s < previous:
            raise ScenarioError(
                f"after_s {step.after_s:g} is before the previous step's {previous:g} "
                "(steps must be in order of waiting time)",
                field=where,
            )
        previous = step.after_s
        for name in step.extra_queues:
            if top.get(name, -1.0) < 0.0:
                raise ScenarioError(
                    f"this step can never match: no agent is skilled for extra queue {name!r}",
                    field=f"{where}.extra_queues",
                )
        if not step.extra_queues and step.min_proficiency >= current:
            raise ScenarioError(
                f"this step can never match: min_proficiency {step.min_proficiency:g} does not "
                f"lower the minimum in force ({current:g}) and it adds no queues",
                field=where,
            )
        current = min(current, step.min_proficiency)
    floor = min([routing.min_proficiency] + [s.min_proficiency for s in routing.escalation])
    for index, queue in enumerate(scenario.queues):
        if top[queue.name] < 0.0:
            raise ScenarioError(
                f"no agent is skilled for queue {queue.name!r}", field=f"queues[{index}]"
            )
        extra = {name for s in routing.escalation for name in s.extra_queues}
        reach = max([top[queue.name]] + [top[name] for name in extra])
        if reach < floor:
            raise ScenarioError(
                f"no agent reaches the minimum proficiency {floor:g} for queue {queue.name!r} "
                f"(best {reach:g}): its contacts could never be routed",
                field="routing.min_proficiency",
            )
    _check_outbound(scenario, agents)
    if routing.policy == "best_skilled" and not routing.a_team_segments:
        raise ScenarioError(
            "policy best_skilled needs a_team_segments (segments routed to the best skilled)",
            field="routing.a_team_segments",
        )


def _check_outbound(scenario: Scenario, agents) -> None:
    """A declared outbound threshold (blending) must be below the agents skilled for the
    queue (else no outbound call would ever start)."""
    for index, queue in enumerate(scenario.queues):
        if queue.outbound_per_hour <= 0:
            continue
        where = f"queues[{index}].outbound_threshold"
        if queue.outbound_threshold is None:
            continue  # per interval, from the arrival rates (openwfm.sim.outbound)
        skilled = sum(1 for a in agents if a.skills.get(queue.name, -1.0) >= 0.0)
        if queue.outbound_threshold >= skilled:
            raise ScenarioError(
                f"threshold {queue.outbound_threshold} is not below the {skilled} agents "
                f"skilled for queue {queue.name!r}: no outbound call would ever start",
                field=where,
            )


def build_model(
    scenario: Scenario,
    routing: RoutingConfig | None = None,
    empirical_handle_s: Mapping[str, Sequence[float]] | None = None,
    patience_mean_s: Mapping[str, float] | None = None,
) -> SimulationModel:
    """Compile ``scenario`` (and optionally another routing) for the engine.

    ``empirical_handle_s`` (queue -> observed handle times, s) switches those queues to the
    empirical handle-time distribution (rescaled to the queue's mean at load 1 when proficiency
    or concurrency change it). ``patience_mean_s`` overrides queues' mean patience.
    """
    routing = routing or scenario.routing
    check_scenario(scenario, routing)
    policy = RoutingPolicy.from_scenario(scenario, routing)
    agents = scenario.all_agents()
    n_queues = len(scenario.queues)
    queue_index = {name: i for i, name in enumerate(scenario.queue_names)}
    proficiency = np.full((len(agents), n_queues), NOT_SKILLED)
    capacity = np.zeros((len(agents), len(CHANNELS)), dtype=np.int64)
    for a, agent in enumerate(agents):
        for name, value in agent.skills.items():
            q = queue_index[name]
            proficiency[a, q] = value
            queue = scenario.queues[q]
            code = CHANNELS.index(queue.channel.value)
            limit = agent.max_concurrency.get(queue.channel, queue.max_concurrency)
            capacity[a, code] = max(capacity[a, code], limit)
    max_load = max(q.max_concurrency for q in scenario.queues)
    aht_by_load = np.empty((n_queues, max_load))
    distribution = np.empty(n_queues, dtype=np.int64)
    sigma = np.zeros(n_queues)
    empirical: list[np.ndarray] = []
    empirical_mean = np.ones(n_queues)
    empirical_handle_s = empirical_handle_s or {}
    patience_mean_s = patience_mean_s or {}
    for q, queue in enumerate(scenario.queues):
        by_load = queue.aht_s_by_concurrency or [queue.aht_s] * queue.max_concurrency
        aht_by_load[q, : len(by_load)] = by_load
        aht_by_load[q, len(by_load) :] = by_load[-1]
        values = np.asarray(empirical_handle_s.get(queue.name, []), dtype=np.float64)
        values = values[np.isfinite(values) & (values > 0)]
        if values.size:
            distribution[q] = EMPIRICAL
            empirical_mean[q] = values.mean()
            if queue.aht_s_by_concurrency is None:
                aht_by_load[q, :] = values.mean()
        elif queue.handle_time_distribution == "lognormal":
            distribution[q] = LOGNORMAL
            sigma[q] = math.sqrt(math.log1p(queue.handle_time_cv**2))
        else:
            distribution[q] = EXPONENTIAL
        empirical.append(values)
    empirical_start = np.zeros(n_queues + 1, dtype=np.int64)
    empirical_start[1:] = np.cumsum([len(v) for v in empirical])
    patience = np.array(
        [
            patience_mean_s.get(q.name, math.inf if q.patience_s is None else q.patience_s)
            for q in scenario.queues
        ],
        dtype=np.float64,
    )
    queues = QueueTables(
        distribution=distribution,
        lognormal_sigma=sigma,
        aht_by_load=aht_by_load,
        proficiency_slope=np.array([q.proficiency_slope for q in scenario.queues], dtype=float),
        wrap_up_s=np.array([q.wrap_up_s for q in scenario.queues], dtype=np.float64),
        patience_mean_s=patience,
        redial_probability=np.array([q.redial_probability for q in scenario.queues], dtype=float),
        redial_delay_s=np.array([q.redial_delay_s for q in scenario.queues], dtype=np.float64),
        empirical_start=empirical_start,
        empirical_s=np.concatenate(empirical) if empirical else np.zeros(0),
        empirical_mean_s=empirical_mean,
        outbound_aht_s=np.array(
            [
                (q.outbound_aht_s or q.aht_s) if q.outbound_per_hour > 0 else 0.0
                for q in scenario.queues
            ],
            dtype=np.float64,
        ),  # fmt: skip
        # one column: the declared thresholds (-1: none, openwfm.sim.outbound fills them in)
        outbound_threshold=np.array(
            [
                [-1 if q.outbound_threshold is None else q.outbound_threshold]
                for q in scenario.queues
            ],
            dtype=np.int64,
        ),  # fmt: skip
        outbound_asked=np.full((n_queues, 2), np.inf),  # openwfm.sim.outbound sets them
        outbound_interval_s=np.array([86400.0]),
    )
    return SimulationModel(
        scenario=scenario,
        policy=policy,
        queue_names=list(scenario.queue_names),
        segment_names=list(policy.segment_names),
        agent_names=[a.name for a in agents],
        tables=policy.tables,
        queues=queues,
        proficiency=proficiency,
        capacity=capacity,
    )

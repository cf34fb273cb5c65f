"""A center the router serves: its scenario, routing policy and the router's own settings."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from openwfm.errors import ParameterError
from openwfm.model import Channel, Scenario
from openwfm.routing.policy import RoutingPolicy


@dataclass
class RouterSettings:
    """Knobs of the live router (seconds unless named otherwise).

    ``offer_timeout_s``: how long an agent has to accept an offer. ``max_missed_offers``:
    offers in a row an agent may let expire before being set ``away``. ``wrap_up_limit_s``:
    a contact in wrap-up longer than this is completed by the router. ``callback_threshold_s``:
    a voice contact whose estimated wait exceeds it is offered a callback (``None``: never).
    ``affinity_s``: how long a contact of a known customer waits for the agent who last
    served them when that agent is available (0: no affinity). ``crm_url``: a URL template
    with ``{customer_id}`` called (time-out ``crm_timeout_s``) for the customer's profile.
    ``sweep_interval_s``: how often timers and the routing lease are checked.
    ``route_poll_s`` (PostgreSQL): how often the routing loop looks for changes made by other
    processes. ``route_wait_s``: how long a write waits for the routing pass that sees it
    (0: it does not wait; offers follow within one pass).
    """

    offer_timeout_s: float = 30.0
    max_missed_offers: int = 3
    wrap_up_limit_s: float = 300.0
    callback_threshold_s: float | None = 120.0
    affinity_s: float = 0.0
    crm_url: str | None = None
    crm_timeout_s: float = 0.5
    sweep_interval_s: float = 0.2
    route_poll_s: float = 0.005
    route_wait_s: float = 2.0


@dataclass
class Center:
    """One scenario served by the router; ``name`` is the scenario file's stem."""

    name: str
    scenario: Scenario
    policy: RoutingPolicy = field(init=False)
    queue_channel: dict[str, str] = field(init=False)
    queue_concurrency: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.policy = RoutingPolicy.from_scenario(self.scenario)
        self.queue_channel = {q.name: q.channel.value for q in self.scenario.queues}
        self.queue_concurrency = {q.name: q.max_concurrency for q in self.scenario.queues}
        self.segment_names = list(self.policy.segment_names)
        steps = self.scenario.routing.escalation
        self.step_after_s = [float(s.after_s) for s in steps]

    @classmethod
    def from_file(cls, path: str | Path) -> Center:
        from openwfm.scenario import load_scenario

        return cls(Path(path).stem, load_scenario(path))

    def is_live(self, queue: str) -> bool:
        return Channel(self.queue_channel[queue]).is_live

    def agent_capacity(self, skills: dict[str, float], capacity: dict[str, int]) -> dict[str, int]:
        """Simultaneous contacts per channel, as the policy and the simulator count them: the
        largest ``max_concurrency`` of the agent's queues on a channel, unless given."""
        result: dict[str, int] = {}
        for queue in skills:
            channel = self.queue_channel[queue]
            result[channel] = max(result.get(channel, 0), self.queue_concurrency[queue])
        result.update({str(k): int(v) for k, v in capacity.items()})
        return result

    def next_step_deadline(self, arrival_s: float, passed: int) -> tuple[int, float | None]:
        """(steps in force at arrival or later, deadline of the next step) for a contact."""
        for k in range(passed, len(self.step_after_s)):
            if self.step_after_s[k] > 0.0:
                return k, arrival_s + self.step_after_s[k]
        return len(self.step_after_s), None


def load_centers(paths: Iterable[Path]) -> dict[str, Center]:
    result: dict[str, Center] = {}
    for path in paths:
        center = Center.from_file(path)
        if center.name in result:
            raise ParameterError(
                f"two scenarios named {center.name!r} (a center is named by its file's stem)",
                field="SCENARIO",
            )
        result[center.name] = center
    if not result:
        raise ParameterError("at least one scenario is needed", field="SCENARIO")
    return result

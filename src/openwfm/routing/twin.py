"""The digital twin: one simulated day driven through the HTTP router on a virtual clock.

The simulator (:mod:`openwfm.sim`) draws a day with a seed - arrivals, and per contact its
patience and handle time - and runs its event engine. :func:`drive_day` then plays the same
day against the router's HTTP API as the outside world would: agents log in and out at their
shift times, customers arrive (``POST /v1/contacts``), agents accept every offer at once, wrap
up after the contact's handle time and complete after the queue's wrap-up, and a customer still
waiting at the end of their patience hangs up (``POST /v1/contacts/{id}/abandon``). Time moves
only by ``POST /v1/clock/advance``; escalation steps are the router's own timers.

Events at equal times follow the engine's order (arrivals first, then the rest in the order
they were scheduled). Because the router decides through the same compiled policy functions,
the assignment sequence (agent per contact) and every KPI must come out identical.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from openwfm.sim import engine as E

if TYPE_CHECKING:
    from typing import Any

    import pandas as pd

    from openwfm.model import Scenario


ARRIVE, SHIFT, WRAPUP, COMPLETE, PATIENCE_END = 0, 1, 2, 3, 4


@dataclass
class TwinDay:
    """The simulator's day: plan (model, grid), availability (shifts after shrinkage),
    arrivals and the engine's per-contact rows."""

    plan: object
    availability: object
    arrivals: object
    floats: np.ndarray
    ints: np.ndarray


def simulate_day(scenario: Scenario, start: pd.Timestamp, seed: int) -> TwinDay:
    """One replication of ``scenario`` on ``start`` (a date), as ``openwfm simulate`` draws it
    (:func:`openwfm.sim.run.simulate_replication` with the replication's seed)."""
    from openwfm.sim.run import prepare, simulate_replication

    plan = prepare(scenario, start=start, days=1)
    (replication_seed,) = np.random.SeedSequence(seed).spawn(1)
    run = simulate_replication(plan, replication_seed)
    n = run.n_contacts
    return TwinDay(plan, run.availability, run.arrivals, run.floats[:n].copy(), run.ints[:n].copy())


class Driver:
    """Plays a :class:`TwinDay` against an HTTP client of a router on a virtual clock."""

    def __init__(self, client, day: TwinDay, headers: dict) -> None:
        self.client = client
        self.day = day
        self.headers = headers
        self.heap: list = []
        self.seq = 0
        self.cursor = 0
        self.contact_ids: list[str] = []
        self.index_of: dict[str, int] = {}
        self.assigned: set[int] = set()
        self.requests = 0

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        self.requests += 1
        headers = kwargs.pop("headers", self.headers)
        response = self.client.request(method, path, headers=headers, **kwargs)
        if response.status_code >= 400:
            raise AssertionError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json()

    def push(self, time_s: float, kind: int, item: Any) -> None:
        # arrivals come before the engine's heap events at equal times
        heapq.heappush(self.heap, (time_s, 0 if kind == ARRIVE else 1, self.seq, kind, item))
        self.seq += 1

    def run(self) -> None:
        m = self.day.plan.model
        shift_s, shift_agent, shift_on = self.day.availability.events()
        for t, agent, on in zip(shift_s, shift_agent, shift_on, strict=True):
            self.push(float(t), SHIFT, (m.agent_names[agent], bool(on)))
        for i, t in enumerate(self.day.arrivals.time_s):
            self.push(float(t), ARRIVE, i)
        while self.heap:
            time_s, _, _, kind, item = heapq.heappop(self.heap)
            self.advance(time_s)
            self.act(time_s, kind, item)
            self.accept_offers()

    def advance(self, time_s: float) -> None:
        """Move the clock to ``time_s``, stopping at every router timer that made an offer (so
        it is accepted at its own time, as the engine assigns at that instant)."""
        while True:
            now = self.call(
                "POST", "/v1/clock/advance", json={"to_s": time_s, "stop_on_offer": True}
            )["now_s"]
            if now >= time_s:
                return
            self.accept_offers()

    def act(self, time_s: float, kind: int, item: Any) -> None:
        queue_names = self.day.plan.model.queue_names
        segment_names = self.day.plan.model.segment_names
        if kind == SHIFT:
            agent, on = item
            status = "available" if on else "offline"
            self.call("POST", f"/v1/agents/{agent}/presence", json={"status": status})
        elif kind == ARRIVE:
            i = item
            body = {
                "queue": queue_names[self.day.arrivals.queue[i]],
                "segment": segment_names[self.day.arrivals.segment[i]],
            }
            created = self.call(
                "POST",
                "/v1/contacts",
                json=body,
                headers={**self.headers, "Idempotency-Key": f"twin-{i}"},
            )
            self.contact_ids.append(created["id"])
            self.index_of[created["id"]] = i
            patience = self.day.floats[i, E.PATIENCE]
            if np.isfinite(patience):
                self.push(time_s + patience, PATIENCE_END, i)
        elif kind == PATIENCE_END:
            if item not in self.assigned:
                self.call("POST", f"/v1/contacts/{self.contact_ids[item]}/abandon")
        elif kind == WRAPUP:
            self.call("POST", f"/v1/contacts/{self.contact_ids[item]}/wrapup")
        else:
            self.call("POST", f"/v1/contacts/{self.contact_ids[item]}/complete")

    def accept_offers(self) -> None:
        events = self.call("GET", "/v1/events", params={"after": self.cursor})
        for event in events:
            self.cursor = event["seq"]
            if event["type"] != "offer.created":
                continue
            answer_s = event["at_s"]
            self.call("POST", f"/v1/offers/{event['offer_id']}/accept")
            i = self.index_of[event["contact_id"]]
            self.assigned.add(i)
            handle = self.day.floats[i, E.HANDLE]
            wrap = self.day.plan.model.queues.wrap_up_s[self.day.arrivals.queue[i]]
            if wrap > 0:
                self.push(answer_s + handle, WRAPUP, i)
                self.push(answer_s + handle + wrap, COMPLETE, i)
            else:
                self.push(answer_s + handle + wrap, COMPLETE, i)


def router_tables(
    contacts: dict, day: TwinDay, agent_names: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """The router's contacts as the engine's (floats, ints) tables, in arrival order."""
    n = len(day.floats)
    floats = np.full((n, 6), np.nan)
    ints = np.full((n, 6), -1, dtype=np.int64)
    index = {name: a for a, name in enumerate(agent_names)}
    for i, row in contacts.items():
        floats[i, E.ARRIVAL] = row["arrival_s"]
        floats[i, E.PATIENCE] = day.floats[i, E.PATIENCE]
        ints[i, E.QUEUE] = day.arrivals.queue[i]
        ints[i, E.SEGMENT] = day.arrivals.segment[i]
        ints[i, E.ATTEMPT] = 0
        if row["state"] == "completed":
            floats[i, E.ANSWER] = row["answered_s"]
            end = row["wrapup_s"] if row["wrapup_s"] is not None else row["ended_s"]
            floats[i, E.END] = end
            floats[i, E.HANDLE] = end - row["answered_s"]
            ints[i, E.STATE] = E.ANSWERED
            ints[i, E.AGENT] = index[row["agent_id"]]
        elif row["state"] == "abandoned":
            floats[i, E.ABANDON] = row["ended_s"]
            ints[i, E.STATE] = E.ABANDONED
        else:
            ints[i, E.STATE] = E.WAITING
            if row["agent_id"] is not None:
                ints[i, E.AGENT] = index[row["agent_id"]]
    return floats, ints

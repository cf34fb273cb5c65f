"""The digital twin: a simulated day of the example center driven through the HTTP router on
a virtual clock gives exactly the simulator's assignment sequence and KPIs.

To keep the test fast the day is the example center's Saturday cut to one opening hour
with an eighth of its volume (the same queues, agents and routing); ``bench/router.py
--twin`` plays whole days.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from fastapi.testclient import TestClient

from openwfm.model import OpeningHours
from openwfm.routing import twin
from openwfm.routing.center import Center, RouterSettings
from openwfm.routing.core import Router
from openwfm.routing.service import create_app
from openwfm.routing.store import Store
from openwfm.scenario import load_scenario
from openwfm.sim import engine as E
from openwfm.sim.metrics import replication_counts
from router_support import ADMIN, ADMIN_HEADERS

SATURDAY = dt.date(2024, 1, 6)


def play(scenario, tmp_path, seed):
    day = twin.simulate_day(scenario, SATURDAY, seed)
    center = Center("center", scenario)
    store = Store(f"sqlite:///{tmp_path / 'twin.db'}", synchronous="OFF")
    router = Router(store, {"center": center}, RouterSettings(callback_threshold_s=None), True)
    with TestClient(create_app(router, ADMIN, background=False)) as client:
        driver = twin.Driver(client, day, ADMIN_HEADERS)
        driver.run()
        rows = {
            driver.index_of[cid]: client.get(f"/v1/contacts/{cid}", headers=ADMIN_HEADERS).json()
            for cid in driver.contact_ids
        }
    return day, twin.router_tables(rows, day, day.plan.model.agent_names)


def test_a_simulated_day_through_the_router_equals_the_simulator(example_scenario_path, tmp_path):
    scenario = load_scenario(example_scenario_path)
    # Saturday is open 8 hours: one hour with an eighth of the day's volume keeps the load
    scenario.grid.opening_hours["sat"] = OpeningHours(open="09:00", close="10:00")
    for queue in scenario.queues:
        queue.demand.contacts_per_day /= 8
    day, (floats, ints) = play(scenario, tmp_path, seed=11)
    assert len(day.floats) > 120  # a real day's traffic: voice, chat and email
    sim_agent = day.ints[:, E.AGENT]
    assert (sim_agent >= 0).sum() > 100
    np.testing.assert_array_equal(ints[:, E.AGENT], sim_agent)  # agent per contact
    np.testing.assert_array_equal(
        ints[:, E.STATE] == E.ANSWERED, day.ints[:, E.STATE] == E.ANSWERED
    )
    np.testing.assert_array_equal(
        ints[:, E.STATE] == E.ABANDONED, day.ints[:, E.STATE] == E.ABANDONED
    )
    np.testing.assert_allclose(floats[:, E.ANSWER], day.floats[:, E.ANSWER], rtol=0, atol=1e-9)
    # the KPIs, through the simulator's own counting
    plan = day.plan
    args = (plan.model, day.availability, plan.origin, plan.interval_s, plan.n_intervals)
    ours = replication_counts(floats, ints, *args)
    theirs = replication_counts(day.floats, day.ints, *args)
    assert set(ours) == set(theirs)
    for name in theirs:
        np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-9, atol=1e-6, err_msg=name)
    assert theirs["answered"].sum() > 0 and theirs["sl_denominator"].sum() > 0
    # and they are the counts `openwfm simulate` itself makes of that replication
    from openwfm.sim.run import run_one

    (replication_seed,) = np.random.SeedSequence(11).spawn(1)
    simulated, _, contacts = run_one(plan, replication_seed)
    assert contacts == len(day.floats)
    for name in simulated:
        np.testing.assert_allclose(ours[name], simulated[name], rtol=1e-9, atol=1e-6, err_msg=name)

"""One verdict per queue x block: coverage verdict beside the simulated verdict."""

from __future__ import annotations

import pandas as pd

from openwfm.model import Scenario
from openwfm.plan.findings import MissCause
from openwfm.plan.verdicts import SHORT_BUT_MET, agreement, coverage_verdicts, verdict_table

T0 = pd.Timestamp("2024-03-04 08:00")


def _scenario() -> Scenario:
    return Scenario.model_validate(
        {"queues": [{"name": "a", "aht_s": 300}, {"name": "b", "aht_s": 300}]}
    )


def _coverage() -> pd.DataFrame:
    rows = []
    for k in range(8):  # 08:00-10:00 and 10:00-12:00 in 30-minute rows
        t = T0 + pd.Timedelta(minutes=30 * k)
        rows.append((t, "a", 5, 5, 0))
        rows.append((t, "b", 5, 5, 0))
        # the pool a+b is one short in the second block only
        rows.append((t, "a+b", 8, 7 if k >= 4 else 8, 1 if k >= 4 else 0))
    return pd.DataFrame(rows, columns=["interval_start", "queue", "required", "scheduled", "under"])


def test_a_short_pool_makes_each_member_short():
    verdicts = coverage_verdicts(_coverage()).set_index(["queue", "block"])["covered"]
    second = T0 + pd.Timedelta(hours=2)
    assert verdicts[("a", T0)] and verdicts[("b", T0)]
    assert not verdicts[("a", second)] and not verdicts[("b", second)]


def test_verdicts_agree_or_say_why():
    times = [T0 + pd.Timedelta(minutes=30 * k) for k in range(8)]
    # simulated: a meets in both blocks, b misses in the first block
    intervals = pd.DataFrame(
        [
            (t, q, "all", 50.0, level, 0.0)
            for t in times
            for q, level in (("a", 0.9), ("b", 0.6 if t < T0 + pd.Timedelta(hours=2) else 0.9))
        ],
        columns=["interval_start", "queue", "segment", "offered", "service_level", "abandon_rate"],
    )
    table = verdict_table(_scenario(), _coverage(), intervals).set_index(["queue", "block"])
    second = T0 + pd.Timedelta(hours=2)
    assert table.loc[("a", T0), "agree"]
    assert table.loc[("b", T0), "why"] == str(MissCause.ROUTING_GAP)  # covered, yet missed
    assert table.loc[("a", second), "why"] == SHORT_BUT_MET  # short pool, yet met
    assert not table.loc[("b", second), "agree"]
    assert agreement(table.reset_index()) == 0.25


def test_with_rates_the_block_is_judged_by_its_service_level():
    scenario = _scenario()
    times = [T0 + pd.Timedelta(minutes=30 * k) for k in range(4)]
    # 100 calls per 30 min x 300 s = 16.7 Erlangs: Erlang C needs 21 for 80/20; one interval
    # at 20 (one short) among 23s still carries the block, 17 throughout does not
    scheduled = {"a": [23, 20, 23, 23], "b": [17, 17, 17, 17]}
    rows = [
        (t, q, 21, n, max(21 - n, 0))
        for q, ns in scheduled.items()
        for t, n in zip(times, ns, strict=True)
    ]
    coverage = pd.DataFrame(
        rows, columns=["interval_start", "queue", "required", "scheduled", "under"]
    )
    needs = pd.DataFrame(
        [(t, q, 100 / 1800, 300.0) for q in "ab" for t in times],
        columns=["interval_start", "queue", "arrival_rate_per_s", "aht_s"],
    )
    judged = coverage_verdicts(coverage, scenario=scenario, requirements=needs)
    assert judged.set_index("queue")["covered"].to_dict() == {"a": True, "b": False}
    # without rates, by the counts over the block: a has 89 agent-intervals for 84, b 68
    counted = coverage_verdicts(coverage)
    assert counted.set_index("queue")["covered"].to_dict() == {"a": True, "b": False}


def test_chat_is_judged_by_the_chat_model_not_erlang():
    scenario = Scenario.model_validate(
        {"queues": [{"name": "c", "channel": "chat", "aht_s": 300, "max_concurrency": 3}]}
    )
    times = [T0 + pd.Timedelta(minutes=30 * k) for k in range(4)]
    coverage = pd.DataFrame(
        [(t, "c", 5, 4, 1) for t in times],
        columns=["interval_start", "queue", "required", "scheduled", "under"],
    )
    needs = pd.DataFrame(
        [(t, "c", 100 / 1800, 300.0) for t in times],
        columns=["interval_start", "queue", "arrival_rate_per_s", "aht_s"],
    )
    judged = coverage_verdicts(coverage, scenario=scenario, requirements=needs)
    assert not judged["covered"].any()  # 4 agents x 3 lines for 16.7 Erlangs of chat


def test_a_shortfall_within_the_confidence_interval_is_not_a_miss():
    from openwfm.plan.verdicts import simulated_verdicts

    times = [T0 + pd.Timedelta(minutes=30 * k) for k in range(4)]
    intervals = pd.DataFrame(
        [(t, "a", "all", 50.0, 0.74, 0.62, 0.86) for t in times],
        columns=[
            "interval_start",
            "queue",
            "segment",
            "offered",
            "service_level",
            "service_level_ci_low",
            "service_level_ci_high",
        ],
    )
    # four intervals of half-width 0.12: the block's is 0.06, and 0.74 + 0.06 reaches 0.80
    assert simulated_verdicts(_scenario(), intervals)["met"].all()
    assert not simulated_verdicts(_scenario(), intervals, within_ci=False)["met"].any()
    narrow = intervals.assign(service_level_ci_low=0.70, service_level_ci_high=0.78)
    assert not simulated_verdicts(_scenario(), narrow)["met"].any()

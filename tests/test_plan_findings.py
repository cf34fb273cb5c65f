"""The plan summary's findings: why a block of intervals misses, typed (no parsing of text)."""

from __future__ import annotations

import typing

import pandas as pd

from openwfm.data.readers import FORMATS
from openwfm.plan.commands import HistoryFormat
from openwfm.plan.findings import MissCause, missed_blocks
from openwfm.plan.summary import MissedBlock
from openwfm.scenario import parse_scenario
from test_plan import small_center


def _intervals(service_level: list[float], ci_high: list[float]) -> pd.DataFrame:
    starts = pd.date_range("2026-02-16 09:00", periods=len(service_level), freq="30min")
    return pd.DataFrame(
        {
            "interval_start": starts,
            "queue": "voice",
            "segment": "default",
            "offered": 20.0,
            "service_level": service_level,
            "service_level_ci_high": ci_high,
            "abandon_rate": 0.02,
        }
    )


def _coverage(required: list[int], scheduled: list[int]) -> pd.DataFrame:
    starts = pd.date_range("2026-02-16 09:00", periods=len(required), freq="30min")
    return pd.DataFrame(
        {
            "interval_start": starts,
            "queue": "voice",
            "required": required,
            "scheduled": scheduled,
            "under": [max(r - s, 0) for r, s in zip(required, scheduled, strict=True)],
        }
    )


def test_each_block_names_its_cause_as_a_value():
    scenario = parse_scenario(small_center(3), source="c.yaml")
    # 09:00-10:00 uncovered, 11:00 short by one agent, 12:00 covered but missed within the CI,
    # 13:00 covered and missed beyond it
    intervals = _intervals(
        [0.5, 0.5, 0.9, 0.6, 0.9, 0.7, 0.9, 0.6], [0.6, 0.6, 1.0, 0.7, 1.0, 0.85, 1.0, 0.7]
    )
    coverage = _coverage([2, 2, 2, 3, 2, 2, 2, 2], [0, 0, 2, 2, 2, 2, 2, 2])
    blocks = missed_blocks(scenario, intervals, coverage)
    causes = dict(zip(blocks["hours"], blocks["cause"], strict=True))
    assert causes == {
        "09:00-10:00": MissCause.UNCOVERED,
        "10:30-11:00": MissCause.UNDER_COVERAGE,
        "11:30-12:00": MissCause.FORECAST_UNCERTAINTY,
        "12:30-13:00": MissCause.ROUTING_GAP,
    }
    for row in blocks.to_dict(orient="records"):
        block = MissedBlock.model_validate(row)
        assert block.reason.startswith(f"{block.cause}: ")


def test_the_plan_command_offers_the_readers_formats():
    assert typing.get_args(HistoryFormat) == FORMATS


def test_answer_targets_per_queue_segment_and_default():
    text = small_center(1) + (
        "segments:\n  - {name: gold, priority: 1, share: {voice: 0.2},\n"
        "     targets: {voice: {service_level: 0.9, within_s: 10}}}\n"
        "  - {name: silver, priority: 0, share: {voice: 0.3}}\n"
    )
    scenario = parse_scenario(text, source="s.yaml")
    assert scenario.answer_targets_s(30.0) == {"voice": 20.0, "*": 30.0}
    assert scenario.answer_targets_s(30.0, by_segment=True) == {
        "voice": 20.0,
        ("voice", "gold"): 10.0,
        ("voice", "silver"): 20.0,
        "*": 30.0,
    }

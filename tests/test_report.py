"""The HTML report: summary table on hand-made KPIs, the Report API, the `report` CLI."""

from __future__ import annotations

import datetime as dt
import math
import re
import subprocess
import sys

import pandas as pd
import plotly.graph_objects as go
import pytest

from openwfm.data.intervals import interval_kpis
from openwfm.data.store import InteractionStore
from openwfm.data.synthetic import generate_interactions
from openwfm.report import Report, build_report, charts
from openwfm.report.html import SECTION_HEADINGS
from openwfm.report.tables import kpi_summary, table_html
from openwfm.scenario import parse_scenario

T0 = pd.Timestamp("2026-10-05 09:00")


def hand_kpis(definition: str = "offered") -> pd.DataFrame:
    """Two intervals of queue a, one of queue b; every figure known by hand."""
    return pd.DataFrame(
        {
            "interval_start": [T0, T0 + pd.Timedelta(minutes=15), T0],
            "queue": pd.array(["a", "a", "b"], dtype="string"),
            "offered": [10, 30, 4],
            "answered": [8, 27, 4],
            "abandoned": [2, 3, 0],
            "short_abandoned": [1, 1, 0],
            "answered_within_target": [6, 24, 1],
            "service_level": [0.6, 0.8, 0.25],
            "sl_definition": definition,
            "asa_s": [10.0, 20.0, 100.0],
            "aht_s": [300.0, 200.0, float("nan")],
            "avg_wait_s": [12.0, 22.0, 100.0],
            "p90_wait_s": [30.0, 40.0, 150.0],
            "agents": [3, 5, 1],
            "busy_s": [2400.0, 5400.0, 0.0],
            "occupancy": [0.9, 0.95, 0.0],
            "ivr_only": [0, 0, 0],
        }
    )


def test_summary_pools_counts_and_weights_rates():
    summary = kpi_summary(hand_kpis()).set_index("queue")
    a = summary.loc["a"]
    assert (a["offered"], a["answered"], a["abandoned"]) == (40, 35, 5)
    assert a["service_level"] == pytest.approx(30 / 40)  # pooled, not the mean of 0.6 and 0.8
    assert a["abandon_rate"] == pytest.approx(5 / 40)
    assert a["asa_s"] == pytest.approx((8 * 10 + 27 * 20) / 35)
    assert a["aht_s"] == pytest.approx((8 * 300 + 27 * 200) / 35)
    assert a["avg_wait_s"] == pytest.approx((10 * 12 + 30 * 22) / 40)
    assert math.isnan(summary.loc["b", "aht_s"])  # no known handle time
    assert summary.loc["b", "service_level"] == pytest.approx(0.25)


@pytest.mark.parametrize(
    ("definition", "expected"),
    [("offered", 30 / 40), ("answered", 30 / 35), ("exclude_short_abandons", 30 / 38)],
)
def test_summary_service_level_follows_the_named_definition(definition, expected):
    summary = kpi_summary(hand_kpis(definition)).set_index("queue")
    assert summary.loc["a", "service_level"] == pytest.approx(expected)
    assert summary.loc["a", "sl_definition"] == definition


def test_charts_are_figures_with_one_trace_per_queue():
    kpis = hand_kpis()
    daily = charts.daily_volume(kpis)
    assert isinstance(daily, go.Figure)
    assert [t.name for t in daily.data] == ["a", "b"]
    assert list(daily.data[0].y) == [40]
    sl = charts.service_level_by_interval(kpis, targets={"a": 0.8})
    first = sl.data[0]  # queue a service level by interval of day
    assert list(first.x) == ["09:00", "09:15"] and list(first.y) == pytest.approx([0.6, 0.8])
    assert any(t.name == "a target" for t in sl.data)
    aht = charts.aht_by_queue(kpis)
    assert list(aht.data[0].y)[0] == pytest.approx((8 * 300 + 27 * 200) / 35)
    profile = charts.intraday_profile(kpis)
    assert {t.name for t in profile.data} == {"Mon"}


def test_wait_distribution_bins_every_offered_contact():
    frame = pd.DataFrame(
        {
            "queue": ["a"] * 5 + ["b"] * 2,
            "outcome": ["answered"] * 3 + ["abandoned", "ivr_only", "answered", "abandoned"],
            "wait_s": [0.0, 5.0, 500.0, 30.0, 0.0, 7200.0, 60.0],
        }
    )
    figure = charts.wait_distribution(frame, bins=10)
    totals = {}
    for trace in figure.data:
        key = (trace.xaxis, trace.name)
        totals[key] = sum(trace.y)
    assert totals[("x", "answered")] == 3 and totals[("x", "abandoned")] == 1
    assert totals[("x2", "answered")] == 1 and totals[("x2", "abandoned")] == 1


def test_report_writes_one_offline_file(tmp_path):
    report = Report("My <center>")
    report.add_section("Numbers", [pd.DataFrame({"queue": ["a"], "offered": [7]})])
    report.add_section("Chart", go.Figure(go.Bar(x=["a"], y=[7])), note="a note")
    report.add_section("Raw", "<p id='raw'>hello</p>")
    path = report.write(tmp_path / "sub" / "r.html")
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>")
    assert "My &lt;center&gt;" in text
    assert '<td>a</td><td class="num">7</td>' in text
    assert "<p id='raw'>hello</p>" in text and "a note" in text
    # plotly.js is inline: no script is fetched from the network
    assert "<script src=" not in text and "cdn.plot.ly" not in text.split("</head>")[1]
    assert len(text) > 1_000_000
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["r.html"]  # no temp file left


def test_report_rejects_unknown_items(tmp_path):
    report = Report("x").add_section("bad", [object()])
    with pytest.raises(TypeError, match="bad"):
        report.write(tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


def test_table_html_formats_and_escapes():
    text = table_html(pd.DataFrame({"queue": ["<q>"], "service_level": [0.8123], "x": [None]}))
    assert "&lt;q&gt;" in text and "81.2%" in text and ">-<" in text


SCENARIO = """
grid: {interval_minutes: 15}
queues:
  - {name: phone, channel: voice, aht_s: 200, patience_s: 90,
     target: {service_level: 0.8, within_s: 20}, demand: {contacts_per_day: 300}}
  - {name: mail, channel: email, aht_s: 300, target: {service_level: 0.9, within_s: 28800},
     demand: {contacts_per_day: 50}}
agent_groups:
  - {name: team, count: 12, skills: {phone: 1.0, mail: 1.0}}
"""


@pytest.fixture(scope="module")
def small_log():
    scenario = parse_scenario(SCENARIO)
    return scenario, generate_interactions(scenario, dt.date(2026, 10, 5), 1, seed=1)


def test_build_report_has_every_section(tmp_path, small_log):
    _, frame = small_log
    kpis = interval_kpis(frame, 15, target_s={"phone": 20.0, "mail": 28800.0})
    path = build_report(frame, kpis, title="Week one", path=tmp_path / "r.html")
    text = path.read_text()
    for heading in SECTION_HEADINGS:
        assert f"<h2>{heading}</h2>" in text
    summary = kpi_summary(kpis).set_index("queue")
    for queue in ("phone", "mail"):
        offered = int(summary.loc[queue, "offered"])
        assert f'<td>{queue}</td><td class="num">{offered}</td>' in text


def test_report_cli_from_store(tmp_path, small_log):
    scenario, frame = small_log
    store_path = tmp_path / "s.duckdb"
    with InteractionStore(store_path) as store:
        store.ingest(frame)
    scenario_path = tmp_path / "center.yaml"
    scenario_path.write_text(SCENARIO)
    out = tmp_path / "report.html"
    args = [sys.executable, "-m", "openwfm", "report", "--store", str(store_path)]
    args += ["--interval", "30", "--scenario", str(scenario_path), "--out", str(out)]
    result = subprocess.run(args, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert "<title>center</title>" in text
    # the mail target (8 h) comes from the scenario: its service level is far above 0
    row = re.search(r"<td>mail</td>(.*?)</tr>", text).group(1)
    cells = re.findall(r">([^<]*)</td>", row)
    assert float(cells[4].rstrip("%")) > 50


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--interval", "7"], "--interval"),
        (["--store", "missing.duckdb"], "missing.duckdb"),
    ],
)
def test_report_cli_bad_input_is_one_line(tmp_path, extra, fragment):
    out = tmp_path / "r.html"
    args = [sys.executable, "-m", "openwfm", "report", "--out", str(out), *extra]
    result = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2
    assert fragment in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not out.exists() and not (tmp_path / "missing.duckdb").exists()

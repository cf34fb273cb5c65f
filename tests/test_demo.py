"""`openwfm demo` end to end through the CLI: files, report sections, numbers that agree."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from openwfm.data.store import InteractionStore
from openwfm.report.html import SECTION_HEADINGS

QUEUES = ("voice", "chat", "email")


def run_demo(out):
    # a short solver work budget (the same on any machine) and few replications keep the test
    # quick; `make demo` uses more
    args = [
        sys.executable,
        "-m",
        "openwfm",
        "demo",
        "--out",
        str(out),
        "--time-limit",
        "4",
        "--deterministic",
        "--replications",
        "4",
    ]
    return subprocess.run(args, capture_output=True, text=True)


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    result = run_demo(out)
    assert result.returncode == 0, result.stderr
    return out, result.stdout


def summary_rows(text: str) -> dict[str, list[str]]:
    """queue -> cells of the report's KPI summary table."""
    table = re.search(r'<table class="kpi">(.*?)</table>', text, re.S).group(1)
    header = re.findall(r"<th>([^<]*)</th>", table)
    rows = {}
    for row in re.findall(r"<tr>(<td.*?)</tr>", table):
        cells = re.findall(r"<td[^>]*>([^<]*)</td>", row)
        rows[cells[0]] = dict(zip(header, cells, strict=True))
    return rows


def test_demo_writes_every_file(demo_dir):
    out, stdout = demo_dir
    for name in ("interactions.parquet", "openwfm.duckdb", "kpis.csv", "kpis_daily.csv"):
        assert (out / name).stat().st_size > 0
    report = out / "report.html"
    assert f"report: {report}" in stdout.replace("\n", "")
    for queue in QUEUES:
        assert queue in stdout


def test_report_has_sections_and_queues(demo_dir):
    out, _ = demo_dir
    text = (out / "report.html").read_text()
    for heading in SECTION_HEADINGS:
        assert f"<h2>{heading}</h2>" in text
    assert set(summary_rows(text)) == set(QUEUES)
    assert "<script src=" not in text  # plotly.js inline, works offline


def test_report_numbers_match_kpis_csv_and_the_log(demo_dir):
    out, _ = demo_dir
    kpis = pd.read_csv(out / "kpis.csv")
    daily = pd.read_csv(out / "kpis_daily.csv")
    log = pd.read_parquet(out / "interactions.parquet")
    rows = summary_rows((out / "report.html").read_text())
    sums = kpis.groupby("queue")[["offered", "answered", "abandoned", "answered_within_target"]]
    sums = sums.sum()
    for queue in QUEUES:
        row, total = rows[queue], sums.loc[queue]
        assert (
            int(row["offered"]) == total["offered"] == daily.loc[daily.queue == queue].offered.sum()
        )
        assert int(row["answered"]) == total["answered"]
        assert int(row["abandoned"]) == total["abandoned"]
        part = log[log["queue"] == queue]
        assert total["offered"] == len(part)
        assert total["answered"] == (part["outcome"] == "answered").sum()
        sl = total["answered_within_target"] / total["offered"]
        assert row["service_level"] == f"{sl:.1%}"
        assert float(row["abandon_rate"].rstrip("%")) == pytest.approx(
            100 * total["abandoned"] / total["offered"], abs=0.051
        )


def test_demo_again_is_idempotent(demo_dir, tmp_path):
    # again on a copy: the other tests read the first run's files and its console output
    out = tmp_path / "out"
    shutil.copytree(demo_dir[0], out)
    before = (out / "kpis.csv").read_text()
    result = run_demo(out)
    assert result.returncode == 0, result.stderr
    rows = len(pd.read_parquet(out / "interactions.parquet"))
    assert f"stored {rows:,} interactions (a new store" in result.stdout
    assert (out / "kpis.csv").read_text() == before
    with InteractionStore(out / "openwfm.duckdb") as store:
        assert store.count() == len(pd.read_parquet(out / "interactions.parquet"))


def test_demo_out_is_a_file_is_one_line_error(tmp_path):
    target = tmp_path / "taken"
    target.write_text("x")
    result = run_demo(target)
    assert result.returncode == 2
    assert "--out" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_demo_plans_the_week_after_the_history(demo_dir):
    out, stdout = demo_dir
    plan = out / "plan"
    assert (plan / "report.html").stat().st_size > 0
    assert (plan / "forecast.csv").stat().st_size > 0
    summary = json.loads((plan / "summary.json").read_text())
    assert summary["scenario"] == "Example omnichannel center"
    # the plan starts the day after the generated history ends
    last = pd.read_parquet(out / "interactions.parquet")["arrival_time"].max().normalize()
    assert summary["horizon"]["start"] == (last + pd.Timedelta(days=1)).date().isoformat()
    flat = stdout.replace("\n", "")
    assert f"plan report: {plan / 'report.html'}" in flat
    assert f"VERDICT: {summary['verdict']}" in stdout
    if not summary["unavailable"]:
        for name in ("requirements.csv", "schedule.csv", "coverage.csv", "simulation.csv"):
            assert (plan / name).stat().st_size > 0


def test_demo_plan_reports_the_one_verdict_agreement(demo_dir):
    out, stdout = demo_dir
    plan = out / "plan"
    summary = json.loads((plan / "summary.json").read_text())
    verdicts = pd.read_csv(plan / "verdicts.csv")
    # the example center's blended agents make pools across its channels
    pools = pd.read_csv(plan / "pool_requirements.csv")
    assert {"voice+chat", "chat+email", "voice+chat+email"} <= set(pools["pool"])
    figure = summary["verdicts"]
    assert figure["blocks"] == len(verdicts) > 0
    assert figure["agreement"] == pytest.approx(verdicts["agree"].mean())
    # the acceptance: the plan's coverage verdict and the simulated verdict agree in at
    # least 90% of queue x 2-hour blocks (a work budget and seeds: the same plan anywhere)
    assert figure["agreement"] >= 0.90
    assert set(verdicts["queue"]) == set(QUEUES)
    differ = verdicts[~verdicts["agree"]]
    assert (differ["why"].fillna("").astype(str).str.len() > 0).all()  # each says why
    # the console wraps the sentence where the terminal's width says: compare words
    assert f"agreement {figure['agreement']:.1%} of {len(verdicts)}" in " ".join(stdout.split())
    report = (plan / "report.html").read_text()
    assert "One verdict: coverage vs simulation" in report
    assert "voice+chat+email" in report  # per-pool coverage

"""The plan report opens in headless Chromium (Debian's /usr/bin/chromium) without console errors.

Playwright drives the system browser through ``executable_path``; ``playwright install`` is
never needed. `make test` installs the browser (scripts/ensure-chromium); without it the test
fails under CI and is skipped elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from openwfm.plan import run_plan
from openwfm.scenario import parse_scenario

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

SCENARIO = """
name: browser check
shrinkage: 0.0
grid:
  interval_minutes: 60
  timezone: UTC
  opening_hours:
    mon: {open: "09:00", close: "17:00"}
    tue: {open: "09:00", close: "17:00"}
    wed: {open: "09:00", close: "17:00"}
    thu: {open: "09:00", close: "17:00"}
    fri: {open: "09:00", close: "17:00"}
queues:
  - {name: voice, aht_s: 180, patience_s: 300, target: {service_level: 0.8, within_s: 20},
     demand: {contacts_per_day: 200}}
contracts:
  - {name: full_time, max_minutes_per_week: 2400, shift_lengths_min: [480]}
agents:
  - {name: a1, skills: {voice: 1.0}, contract: full_time}
  - {name: a2, skills: {voice: 1.0}, contract: full_time}
  - {name: a3, skills: {voice: 1.0}, contract: full_time}
  - {name: a4, skills: {voice: 1.0}, contract: full_time}
"""


def browser_or_skip() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)")
    pytest.skip(f"{CHROMIUM} is not installed")


def test_plan_report_opens_without_console_errors(tmp_path):
    executable = browser_or_skip()
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    scenario = parse_scenario(SCENARIO, source="browser.yaml")
    result = run_plan(
        scenario,
        weeks=1,
        out_dir=tmp_path / "plan",
        time_limit_s=5,
        replications=3,
        progress=False,
    )
    report = result.report_path
    assert report is not None and report.exists()
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(executable), args=ARGS)
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(report.resolve().as_uri(), wait_until="load")
            page.wait_for_timeout(500)
            assert page.locator("#verdict").is_visible()
            figures = page.locator(".plotly-graph-div")
            # forecast; with a schedule also coverage, SL / ASA / abandonment and the Gantt chart
            assert figures.count() >= (6 if result.schedule is not None else 1)
            # plotly drew into the figures (an SVG inside each)
            assert page.locator(".plotly-graph-div .main-svg").count() >= figures.count()
            assert "Plan: browser check" in page.title()
        finally:
            browser.close()
    assert errors == [], errors

"""The live pages in a real browser (Debian's chromium through Playwright) against a real
``openwfm serve`` process: an agent signs in, goes available, gets an offer with the
customer's context, accepts, wraps up and completes while the wallboard in another page shows
the contact waiting, then answered, with the service level updated, without a reload; the
supervisor sets the agent away and the agent's page shows it; a lost connection shows a banner
and recovers by itself; no console errors. The run writes the screenshots of the README
(docs/screenshots/).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from router_support import ADMIN, TINY
from test_report_browser import ARGS, browser_or_skip
from test_router_process import Server

SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
HEADERS = {"Authorization": f"Bearer {ADMIN}"}
# network failures while the server is down are logged by chromium as console errors
OUTAGE_NOISE = re.compile(r"Failed to load resource|net::ERR_|Failed to fetch")
# the tiny center with a second voice queue (a contact can be moved between the two)
SCENARIO = TINY.replace(
    "  - {name: email, channel: email, aht_s: 300}",
    "  - {name: email, channel: email, aht_s: 300}\n"
    "  - {name: callback, channel: voice, aht_s: 200, target: {within_s: 60}}",
).replace("{name: dan, skills: {voice: 0.3}}", "{name: dan, skills: {voice: 0.3, callback: 0.5}}")


class Serve(Server):
    """``openwfm serve`` (wall clock) of the two-voice-queue center; restartable on its store."""

    def scenario(self) -> Path:
        path = self.folder / "tiny.yaml"
        path.write_text(SCENARIO, encoding="utf-8")
        return path


def create(http: httpx.Client, key: str, **body) -> dict:
    response = http.post("/v1/contacts", json=body, headers={"Idempotency-Key": key})
    assert response.status_code == 201, response.text
    return response.json()


def test_agent_wallboard_and_supervisor_in_the_browser(tmp_path):
    executable = browser_or_skip()
    playwright_api = pytest.importorskip("playwright.sync_api")
    expect = playwright_api.expect
    server = Serve(tmp_path).start()
    errors: list[str] = []
    outage = {"on": False, "revoked": False}

    def watch(page, name):
        def console(message):
            if message.type != "error":
                return
            if outage["on"] and OUTAGE_NOISE.search(message.text):
                return
            if outage["revoked"] and "status of 401" in message.text:
                return  # the revoked token's last request, logged by chromium
            errors.append(f"{name}: {message.text}")

        page.on("console", console)
        page.on("pageerror", lambda error: errors.append(f"{name}: {error}"))
        return page

    try:
        http = httpx.Client(base_url=server.url, headers=HEADERS, timeout=10)
        token = http.post("/v1/agents/ann/token").json()["token"]
        http.put("/v1/customers/c-42", json={"segment": "gold", "attributes": {"tier": "private"}})
        with playwright_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(executable), args=ARGS)
            try:
                context = browser.new_context(viewport={"width": 1366, "height": 768})
                wall = watch(context.new_page(), "wallboard")
                wall.goto(f"{server.url}/dashboard#key={ADMIN}")
                voice = wall.locator('.tile[data-queue="voice"]')
                expect(voice.locator('[data-field="waiting"] .value')).to_have_text("0")
                wall.evaluate("window.__noReload = 'still here'")

                agent = watch(context.new_page(), "agent")
                agent.goto(f"{server.url}/agent")
                agent.locator("#login-key").fill(token)
                agent.keyboard.press("Enter")
                state = agent.locator("#agent-state")
                expect(state).to_have_text("offline")
                agent.get_by_role("button", name="Available").click()
                expect(state).to_have_text("available")
                expect(
                    voice.locator('[data-field="agents"] [data-state="available"] b')
                ).to_have_text("1")

                create(
                    http,
                    "first",
                    queue="voice",
                    customer_id="c-42",
                    attributes={"reason": "card blocked"},
                    on_behalf_of={"kind": "assistant", "name": "Siri"},
                )
                # the wallboard shows the contact waiting (offered to ann, not yet answered)
                expect(voice.locator('[data-field="waiting"] .value')).to_have_text("1")
                offer = agent.locator(".card.offer")
                expect(offer).to_contain_text("card blocked")
                expect(offer).to_contain_text("Siri (assistant)")
                expect(offer).to_contain_text("gold")
                expect(offer.locator(".countdown")).to_have_text(re.compile(r"^\d+ s$"))
                agent.screenshot(path=str(SCREENSHOTS / "agent.png"))
                agent.keyboard.press("a")  # accept by keyboard
                card = agent.locator(".card.contact")
                expect(card).to_have_attribute("data-state", "assigned")
                expect(state).to_have_text("busy")
                # answered within 20 s: SL today 100%, nobody waiting, without a reload
                expect(voice.locator('[data-field="waiting"] .value')).to_have_text("0")
                expect(voice.locator('[data-field="answered_today"] .value')).to_have_text("1")
                expect(voice.locator('[data-field="sl_today"] .value')).to_have_text("100.0%")
                agent.keyboard.press("w")
                expect(card).to_have_attribute("data-state", "wrapping")
                expect(state).to_have_text("wrap_up")
                expect(
                    voice.locator('[data-field="agents"] [data-state="wrap_up"] b')
                ).to_have_text("1")
                agent.get_by_role("button", name="Complete (C)").click()
                expect(agent.locator("#contacts")).to_contain_text("None.")
                expect(agent.locator("#today")).to_contain_text("Handled1")
                expect(state).to_have_text("available")
                assert wall.evaluate("window.__noReload") == "still here"

                supervisor = watch(context.new_page(), "supervisor")
                supervisor.goto(f"{server.url}/supervisor#key={ADMIN}")
                row = supervisor.locator('#agents tr[data-agent="ann"]')
                expect(row.locator('[data-field="state"]')).to_have_text("available")
                row.locator("select").select_option("away")
                row.get_by_role("button", name="Set").click()
                expect(row.locator('[data-field="state"]')).to_have_text("away")
                expect(agent.locator("#agent-state")).to_have_attribute("data-status", "away")
                expect(agent.get_by_role("button", name="Away")).to_have_attribute(
                    "aria-pressed", "true"
                )
                # somebody waits now (nobody available): gold marked on the supervisor's desk
                create(http, "second", queue="voice", customer_id="c-42")
                create(http, "third", queue="voice", segment="standard")
                create(http, "fourth", queue="chat")
                expect(supervisor.locator("#waiting tbody tr")).to_have_count(3)
                expect(supervisor.locator("#waiting tr.gold-row")).to_have_count(1)
                expect(voice.locator('[data-field="waiting"] .value')).to_have_text("2")
                # the supervisor moves the standard contact to the other voice queue
                standard = supervisor.locator("#waiting tbody tr").filter(has_text="standard")
                standard.locator("select").select_option("callback")
                standard.get_by_role("button", name="Move").click()
                expect(standard.locator("td").first).to_have_text("callback")
                other = wall.locator('.tile[data-queue="callback"]')
                expect(other.locator('[data-field="waiting"] .value')).to_have_text("1")
                expect(voice.locator('[data-field="waiting"] .value')).to_have_text("1")
                # the intraday outlook, once published, shows on the tiles and the chart
                hour = time.time() // 3600 * 3600
                points = [
                    {
                        "start": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(hour + 3600 * k)),
                        "service_level": level,
                    }
                    for k, level in enumerate((0.55, 0.68, 0.83, 0.9))
                ]
                alert = {"queue": "voice", "rule": "sl", "message": "projected SL 55% < 80%"}
                since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 60))
                adherence = {
                    "ann": {"in_adherence": False, "activity": "phone", "out_since": since},
                    "bob": {"in_adherence": True, "activity": "phone"},
                }
                body = {"outlook": {"voice": points}, "alerts": [alert], "adherence": adherence}
                published = http.put("/v1/intraday/outlook", json=body)
                assert published.status_code == 200, published.text
                expect(voice.locator('[data-field="projected_sl"] .value')).to_have_text("55.0%")
                expect(wall.locator("#alerts")).to_contain_text("projected SL 55% < 80%")
                expect(supervisor.locator("#intraday")).to_contain_text("projected SL 55% < 80%")
                expect(row.locator('[data-field="adherence"]')).to_contain_text("out since")
                wall.wait_for_timeout(2500)  # the chart redraws at most every 2 s
                expect(wall.locator("#chart .main-svg").first).to_be_visible(timeout=20000)
                wall.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)
                supervisor.screenshot(path=str(SCREENSHOTS / "supervisor.png"), full_page=True)
                tv = watch(context.new_page(), "tv")
                tv.set_viewport_size({"width": 1920, "height": 1080})
                tv.goto(f"{server.url}/dashboard?tv=1#key={ADMIN}")
                expect(
                    tv.locator('.tile[data-queue="voice"] [data-field="waiting"] .value')
                ).to_have_text("1")
                assert tv.locator("nav").is_hidden()
                expect(tv.locator("#chart .main-svg").first).to_be_visible(timeout=20000)
                tv.wait_for_timeout(2500)
                tv.screenshot(path=str(SCREENSHOTS / "dashboard-tv.png"))
                tv.close()

                # the connection drops: a banner; the server comes back: it recovers by itself
                outage["on"] = True
                server.kill()
                expect(wall.locator("#banner")).to_be_visible(timeout=15000)
                expect(agent.locator("#banner")).to_be_visible(timeout=15000)
                server.start()
                expect(wall.locator("#banner")).to_be_hidden(timeout=20000)
                expect(agent.locator("#banner")).to_be_hidden(timeout=20000)
                outage["on"] = False
                http = httpx.Client(base_url=server.url, headers=HEADERS, timeout=10)
                create(http, "fifth", queue="voice")
                expect(voice.locator('[data-field="waiting"] .value')).to_have_text("2")
                assert wall.evaluate("window.__noReload") == "still here"
                # a revoked agent token sends the agent back to the sign-in form
                outage["revoked"] = True
                assert http.delete("/v1/agents/ann/token").json()["revoked"] >= 1
                expect(agent.locator("#login")).to_be_visible(timeout=15000)
            finally:
                browser.close()
    finally:
        server.stop()
    assert errors == [], errors


class ReplanServe(Server):
    """``openwfm serve`` of the re-plan tests' center (shift templates and contracts)."""

    def scenario(self) -> Path:
        from test_intraday_replan import SCENARIO as REPLAN

        path = self.folder / "replan.yaml"
        path.write_text("name: Replan\n" + REPLAN, encoding="utf-8")
        return path


def test_the_supervisor_accepts_a_replan_proposal_in_the_browser(tmp_path):
    """No published schedule: the desk says so (no adherence figure); a re-plan is published
    and the supervisor accepts a proposal with its button: the API answers with schedule
    version 2, the row shows it accepted and adherence turns live against version 2."""
    executable = browser_or_skip()
    playwright_api = pytest.importorskip("playwright.sync_api")
    expect = playwright_api.expect
    from test_pages_intraday import proposals_body

    body = proposals_body()
    server = ReplanServe(tmp_path).start()
    errors: list[str] = []
    try:
        http = httpx.Client(base_url=server.url, headers=HEADERS, timeout=10)
        with playwright_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(executable), args=ARGS)
            try:
                page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
                page.on("console", lambda m: m.type == "error" and errors.append(m.text))
                page.on("pageerror", lambda error: errors.append(str(error)))
                page.goto(f"{server.url}/supervisor#key={ADMIN}")
                row = page.locator('#agents tr[data-agent="early-1"]')
                expect(row.locator('[data-field="adherence"]')).to_have_text(
                    "no published schedule"
                )
                expect(page.locator("#adherence-source")).to_contain_text("no published schedule")
                expect(page.locator("#replan-version")).to_contain_text("No re-plan published")
                assert http.put("/v1/intraday/replan", json=body).status_code == 200
                first = body["proposals"][0]["proposal_id"]
                proposal = page.locator(f'#proposals tr[data-proposal="{first}"]')
                expect(proposal).to_have_attribute("data-status", "open")  # via the event stream
                expect(page.locator("#proposals tbody tr")).to_have_count(len(body["proposals"]))
                proposal.get_by_role("button", name="Accept").click()
                expect(proposal).to_have_attribute("data-status", "accepted")
                expect(page.locator("#notice")).to_contain_text("schedule version 2")
                expect(page.locator("#replan-version")).to_contain_text("Schedule version 2")
                expect(page.locator("#adherence-source")).to_contain_text(
                    "live, against schedule version 2"
                )
                expect(row.locator('[data-field="adherence"]')).to_have_text(
                    re.compile("^(in|out)")
                )
                accepted = http.get("/v1/intraday/replan").json()
                assert accepted["accepted"] == [first] and accepted["version"] == 2
            finally:
                browser.close()
    finally:
        server.stop()
    assert errors == [], errors

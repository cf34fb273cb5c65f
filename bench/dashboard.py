"""The wallboard under a real day: the Anonymous Bank's busiest day through the live router.

Run: ``.venv/bin/python bench/dashboard.py [--day 1999-05-23] [--speed 60] [--from-hour 0]
[--to-hour 24]`` (data in ../shared/data/anonymous-bank, not committed; needs Debian's chromium).

What it does:

1. Reads the day's offered calls (answered + abandoned) of the queues in
   ``examples/anonymous-bank.yaml`` (PS, NW, NE, IN, TT; the few PE calls are left out).
2. Starts a real ``openwfm serve examples/anonymous-bank.yaml --clock virtual`` (second 0 =
   the day's midnight) and opens ``/dashboard`` in headless chromium (Playwright).
3. Scripted agents and customers drive the router at ``--speed`` x real time: every call
   arrives at its recorded time with its segment; a call recorded as abandoned hangs up at its
   recorded abandon time if it is still waiting; every offer is accepted at once and the call
   completed after its recorded handle time (calls answered here but abandoned in the records
   take the day's mean handle time of their queue). Each of the day's agents is available from
   their first recorded answer to their last recorded end (the two latest stay to the end, so
   nobody is left waiting). The virtual clock is moved to each action's time.
4. Latency: for every event, from the start of the API call that caused it (the driver reads
   the event log after each call) to the first wallboard render covering it (the page records
   the event number its snapshot includes and the render time).
5. At 23:59:59 the wallboard's totals per queue (offered, answered, abandoned, answered
   within target, service level) are compared with ``openwfm kpi --scenario ... --rollup day``
   on the interactions the router wrote to its DuckDB store.

Measured (2 shared cores, 1999-05-23, 2,724 offered calls, 11,275 events, 4,503 renders, the
router of 0850c48): event -> tile latency p50 0.22 s, p95 0.71 s, max 3.0 s; the wallboard's
totals per queue equal ``openwfm kpi`` exactly (PS 2,183 offered / 1,426 answered / 757
abandoned / 1,148 within target, NW, NE, IN, TT likewise); no console error. The day took
1,000 s of wall time for 994 s scheduled: at the evening surge actions ran up to 31 s behind
their 60x schedule (with the router before 0850c48: 134 s, 1,108 s in all). Latencies are
timed from the start of each call, so a late driver does not flatter them.
"""

from __future__ import annotations

import argparse
import bisect
import heapq
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "anonymous-bank" / "calls-1999.csv.gz"
SCENARIO = ROOT / "examples" / "anonymous-bank.yaml"
CHROMIUM = "/usr/bin/chromium"
ADMIN = "bench-admin-key"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
END_OF_DAY_S = 86399.0
COMPARED = ("offered", "answered", "abandoned", "answered_within_target", "service_level")


def load_day(day: str) -> pd.DataFrame:
    from openwfm.data.readers import read_anonymous_bank
    from openwfm.scenario import load_scenario

    queues = {q.name for q in load_scenario(SCENARIO).queues}
    calls = read_anonymous_bank(DATA)
    start = pd.Timestamp(day)
    calls = calls[
        (calls["arrival_time"] >= start) & (calls["arrival_time"] < start + pd.Timedelta(days=1))
    ]
    calls = calls[calls["outcome"].isin(["answered", "abandoned"]) & calls["queue"].isin(queues)]
    calls = calls.copy()
    calls["arrival_s"] = (calls["arrival_time"] - start).dt.total_seconds()
    return calls.sort_values("arrival_s").reset_index(drop=True)


def script(calls: pd.DataFrame, from_s: float, to_s: float) -> list[tuple]:
    """(time_s, order, kind, payload) actions: agents' presence, arrivals and hang-ups."""
    actions = []
    window = calls[(calls["arrival_s"] >= from_s) & (calls["arrival_s"] < to_s)]
    for index, row in window.iterrows():
        actions.append((row["arrival_s"], 3, "arrive", index))
        if row["outcome"] == "abandoned":
            actions.append((row["arrival_s"] + float(row["wait_s"]), 2, "abandon", index))
    answered = calls[calls["outcome"] == "answered"]
    start_s = (answered["arrival_s"] + answered["wait_s"]).groupby(answered["agent"]).min()
    end_s = (
        (answered["arrival_s"] + answered["wait_s"] + answered["handle_s"])
        .groupby(answered["agent"])
        .max()
    )
    latest = set(end_s.sort_values().index[-2:])
    for agent in start_s.index:
        actions.append((max(from_s, float(start_s[agent])), 1, "presence", (agent, "available")))
        if agent not in latest and float(end_s[agent]) < to_s:
            actions.append((float(end_s[agent]), 1, "presence", (agent, "offline")))
    return actions


class Driver:
    """Plays the script against the router at ``speed`` x real time (a thread)."""

    def __init__(self, url: str, calls: pd.DataFrame, actions: list, speed: float) -> None:
        self.http = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30
        )
        self.calls = calls
        self.heap = [
            (t, order, n, kind, payload) for n, (t, order, kind, payload) in enumerate(actions)
        ]
        heapq.heapify(self.heap)
        self.speed = speed
        self.cursor = 0
        self.clock_s = 0.0
        self.contact_of: dict[int, str] = {}
        self.row_of: dict[str, int] = {}
        self.answered: set[str] = set()
        self.produced_ms: dict[int, float] = {}  # event seq -> start of the call that caused it
        self.calls_since_poll: list[float] = []
        self.lag_s: list[float] = []
        self.mean_handle = (
            calls[calls["outcome"] == "answered"].groupby("queue")["handle_s"].mean().to_dict()
        )
        self.counter = len(actions)
        self.done = threading.Event()
        self.error: BaseException | None = None

    def call(self, method: str, path: str, **kwargs) -> httpx.Response:
        self.calls_since_poll.append(time.time() * 1000.0)
        return self.http.request(method, path, **kwargs)

    def poll(self) -> list[dict]:
        events = []
        while True:
            batch = self.http.get(
                "/v1/events", params={"after": self.cursor, "limit": 10000}
            ).json()
            events.extend(batch)
            if len(batch) < 10000:
                break
            self.cursor = batch[-1]["seq"]
        if events:
            self.cursor = events[-1]["seq"]
            first = min(self.calls_since_poll) if self.calls_since_poll else time.time() * 1000
            for event in events:
                self.produced_ms[event["seq"]] = first
        self.calls_since_poll = []
        return events

    def react(self, now_s: float) -> None:
        """Accept every new offer at once; schedule its completion after the handle time.
        (Accepting makes no new offer, so one read of the event log per action suffices; the
        accept's own events are read after the next action, timed from the accept's start.)"""
        for event in self.poll():
            if event["type"] != "offer.created":
                continue
            answer = self.call("POST", f"/v1/offers/{event['offer_id']}/accept")
            if answer.status_code != 200:
                continue
            contact_id = event["contact_id"]
            self.answered.add(contact_id)
            row = self.calls.loc[self.row_of[contact_id]]
            handle = float(row["handle_s"]) if row["outcome"] == "answered" else 0.0
            if not handle > 0:
                handle = float(round(self.mean_handle.get(row["queue"], 180.0)))
            self.counter += 1
            heapq.heappush(self.heap, (now_s + handle, 0, self.counter, "complete", contact_id))

    def act(self, kind: str, payload) -> None:
        if kind == "arrive":
            row = self.calls.loc[payload]
            body = {"queue": row["queue"], "segment": str(row["segment"])}
            answer = self.call(
                "POST", "/v1/contacts", json=body, headers={"Idempotency-Key": f"call-{payload}"}
            )
            contact_id = answer.json()["id"]
            self.contact_of[payload] = contact_id
            self.row_of[contact_id] = payload
        elif kind == "abandon":
            contact_id = self.contact_of.get(payload)
            if contact_id and contact_id not in self.answered:
                self.call("POST", f"/v1/contacts/{contact_id}/abandon")
        elif kind == "complete":
            self.call("POST", f"/v1/contacts/{payload}/complete")
        elif kind == "presence":
            agent, status = payload
            self.call("POST", f"/v1/agents/{agent}/presence", json={"status": status})

    def run(self) -> None:
        try:
            start_s = self.heap[0][0] if self.heap else 0.0
            wall0 = time.monotonic()
            while self.heap:
                t, _order, _n, kind, payload = heapq.heappop(self.heap)
                due = wall0 + (t - start_s) / self.speed
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                else:
                    self.lag_s.append(-delay)
                if t > self.clock_s:
                    self.call("POST", "/v1/clock/advance", json={"to_s": t})
                    self.clock_s = t
                self.act(kind, payload)
                self.react(t)
            self.call("POST", "/v1/clock/advance", json={"to_s": END_OF_DAY_S})
            self.poll()
        except BaseException as failure:  # noqa: BLE001 - reported by the main thread
            self.error = failure
        finally:
            self.done.set()


def start_server(folder: Path, port: int, day: str) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "openwfm", "serve", str(SCENARIO),
        "--clock", "virtual", "--clock-origin", day,
        "--db", str(folder / "router.db"), "--store", str(folder / "bank.duckdb"),
        "--port", str(port), "--offer-timeout-s", "86400", "--wrap-up-limit-s", "86400",
    ]  # fmt: skip
    env = {**os.environ, "OPENWFM_ADMIN_KEY": ADMIN}
    process = subprocess.Popen(command, cwd=folder, env=env, stderr=subprocess.PIPE)
    for _ in range(300):
        if process.poll() is not None:
            raise RuntimeError(process.stderr.read().decode())
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("the server did not start")


def latencies(produced_ms: dict[int, float], renders: list[dict]) -> np.ndarray:
    renders = sorted(renders, key=lambda r: r["at_ms"])
    seqs = np.maximum.accumulate([r["seq"] for r in renders]) if renders else []
    result = []
    for seq, produced in produced_ms.items():
        k = bisect.bisect_left(seqs, seq)
        while k < len(renders) and renders[k]["at_ms"] < produced:
            k += 1
        if k < len(renders):
            result.append((renders[k]["at_ms"] - produced) / 1000.0)
    return np.array(result)


def kpi_totals(folder: Path) -> pd.DataFrame:
    out = folder / "kpi.csv"
    command = [
        sys.executable, "-m", "openwfm", "kpi", "--store", str(folder / "bank.duckdb"),
        "--scenario", str(SCENARIO), "--by", "queue", "--rollup", "day", "--out", str(out),
    ]  # fmt: skip
    subprocess.run(command, check=True, cwd=folder, capture_output=True)
    return pd.read_csv(out).set_index("queue")


def compare(board: dict, kpi: pd.DataFrame) -> list[str]:
    lines, problems = [], 0
    for tile in board["queues"]:
        queue, today = tile["queue"], tile["today"]
        row = kpi.loc[queue] if queue in kpi.index else None
        cells = []
        for field in COMPARED:
            mine = today[field]
            theirs = None if row is None else row[field]
            same = (mine in (None, 0) and (theirs is None or theirs == 0 or pd.isna(theirs))) or (
                theirs is not None
                and not pd.isna(theirs)
                and mine is not None
                and abs(float(mine) - float(theirs)) < 1e-12
            )
            problems += not same
            cells.append(
                f"{field}={mine if mine is None else round(float(mine), 6)}"
                f"{'' if same else f' (kpi {theirs})'}"
            )
        lines.append(f"  {queue}: " + ", ".join(cells))
    lines.append(
        "  totals equal `openwfm kpi`: " + ("yes" if problems == 0 else f"NO ({problems})")
    )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--day", default="1999-05-23")
    parser.add_argument("--speed", type=float, default=60.0)
    parser.add_argument("--from-hour", type=float, default=0.0)
    parser.add_argument("--to-hour", type=float, default=24.0)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    calls = load_day(args.day)
    actions = script(calls, args.from_hour * 3600, args.to_hour * 3600)
    arrivals = sum(1 for a in actions if a[2] == "arrive")
    print(f"{args.day}: {arrivals} offered calls scripted, {args.speed:g}x", flush=True)
    with tempfile.TemporaryDirectory() as folder_name, sync_playwright() as playwright:
        folder = Path(folder_name)
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = start_server(folder, port, args.day)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        errors: list[str] = []
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(f"http://127.0.0.1:{port}/dashboard#key={ADMIN}")
            page.wait_for_selector(".tile")
            driver = Driver(f"http://127.0.0.1:{port}", calls, actions, args.speed)
            thread = threading.Thread(target=driver.run, daemon=True)
            started = time.monotonic()
            thread.start()
            renders: list[dict] = []
            while not driver.done.wait(1.0):
                renders.extend(page.evaluate("window.__wallboard.renders.splice(0)"))
            last = max(driver.produced_ms) if driver.produced_ms else 0
            page.wait_for_function(f"window.__wallboard.seq >= {last}", timeout=30000)
            page.wait_for_timeout(500)
            renders.extend(page.evaluate("window.__wallboard.renders.splice(0)"))
            wall_s = time.monotonic() - started
            if driver.error is not None:
                raise driver.error
            board = httpx.get(
                f"http://127.0.0.1:{port}/v1/wallboard",
                headers={"Authorization": f"Bearer {ADMIN}"},
                timeout=30,
            ).json()
            waiting = sum(t["waiting"] for t in board["queues"])
        finally:
            browser.close()
            server.terminate()
            server.wait(timeout=60)
        lag = np.array(driver.lag_s) if driver.lag_s else np.zeros(1)
        latency = latencies(driver.produced_ms, renders)
        print(
            f"played in {wall_s:.0f} s wall; driver behind schedule: "
            f"p95 {np.percentile(lag, 95):.2f} s, max {lag.max():.2f} s",
            flush=True,
        )
        print(
            f"events {len(driver.produced_ms)}, wallboard renders {len(renders)}, "
            f"events rendered {len(latency)}"
        )
        print(
            f"event -> tile latency: p50 {np.percentile(latency, 50):.3f} s, "
            f"p95 {np.percentile(latency, 95):.3f} s, max {latency.max():.3f} s "
            f"(target p95 < 2 s: {'met' if np.percentile(latency, 95) < 2 else 'NOT met'})"
        )
        print(f"contacts still waiting at 23:59:59: {waiting}; console errors: {len(errors)}")
        print("wallboard today vs openwfm kpi --rollup day (per queue):")
        for line in compare(board, kpi_totals(folder)):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A real ``openwfm serve`` process: killed mid-day and restarted, it loses no contact and no
timer; without an admin key it refuses to start."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from router_support import ADMIN, write_tiny

HEADERS = {"Authorization": f"Bearer {ADMIN}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``openwfm serve`` on a free port; always stopped by the test's ``finally``."""

    def __init__(self, folder, *options) -> None:
        self.folder = folder
        self.options = options
        self.port = free_port()
        self.process = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def scenario(self):
        return write_tiny(self.folder)

    def start(self) -> Server:
        scenario = self.scenario()
        env = {**os.environ, "OPENWFM_ADMIN_KEY": ADMIN}
        command = [
            sys.executable,
            "-m",
            "openwfm",
            "serve",
            str(scenario),
            "--db",
            str(self.folder / "router.db"),
            "--port",
            str(self.port),
            "--store",
            str(self.folder / "live.duckdb"),
            *self.options,
        ]
        # the server's output goes to a file: a pipe nobody reads fills up (64 KiB) and then
        # blocks every thread of the server that logs (the crash test's old stall)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                command, cwd=self.folder, env=env, stdout=subprocess.DEVNULL, stderr=log
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(self.log_tail())
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("the server did not start")

    @property
    def log(self) -> Path:
        return Path(self.folder) / "serve.log"

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the server's output (for failure messages)."""
        return self.log.read_text(encoding="utf-8", errors="replace")[-chars:]

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def wait_for(check, timeout_s=15.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


class Hook(BaseHTTPRequestHandler):
    posts: list = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.posts.append((self.headers["X-OpenWFM-Signature"], body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_kill_and_restart_loses_no_contact_and_no_timer(tmp_path, monkeypatch):
    hook = ThreadingHTTPServer(("127.0.0.1", 0), type("H", (Hook,), {"posts": []}))
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    monkeypatch.setenv("OPENWFM_WEBHOOK_SECRET", "hook-secret")
    url = f"http://127.0.0.1:{hook.server_address[1]}/events"
    server = Server(tmp_path, "--offer-timeout-s", "6", "--webhook", url).start()
    try:
        http = httpx.Client(base_url=server.url, headers=HEADERS, timeout=10)
        http.post("/v1/agents/bob/presence", json={"status": "available"})
        offered = http.post(
            "/v1/contacts", json={"queue": "voice"}, headers={"Idempotency-Key": "one"}
        ).json()["id"]
        queued = http.post(
            "/v1/contacts", json={"queue": "voice", "ttl_s": 6}, headers={"Idempotency-Key": "two"}
        ).json()["id"]
        http.post("/v1/agents/cat/presence", json={"status": "available"})
        email = http.post(
            "/v1/contacts", json={"queue": "email"}, headers={"Idempotency-Key": "three"}
        ).json()["id"]
        (email_offer,) = http.get("/v1/agents/cat/offers").json()
        http.post(f"/v1/offers/{email_offer['id']}/accept")
        assert http.get(f"/v1/contacts/{offered}").json()["state"] == "offered"
        (pending,) = http.get("/v1/agents/bob/offers").json()
        ttl_deadline_s = http.get(f"/v1/contacts/{queued}").json()["ttl_deadline_s"]
        deadlines = [pending["expires_at_s"], ttl_deadline_s]
        events_before = http.get("/v1/events").json()
        server.kill()  # mid-day: an offer pending (expires in 6 s), a contact with a TTL
        # both timers fall due while the router is down (the router's clock is the wall
        # clock): wait until both deadlines passed; 60 s is only a hang guard
        assert wait_for(lambda: time.time() > max(deadlines), timeout_s=60)
        server.start()
        http = httpx.Client(base_url=server.url, headers=HEADERS, timeout=10)
        assert http.get("/v1/events").json()[: len(events_before)] == events_before
        assert wait_for(lambda: http.get(f"/v1/contacts/{queued}").json()["state"] == "expired")
        # bob's offer expired; the contact was queued again (and not re-offered to bob)
        assert wait_for(
            lambda: any(e["type"] == "offer.expired" for e in http.get("/v1/events").json())
        )
        assert http.get(f"/v1/contacts/{offered}").json()["state"] == "queued"
        assert http.get(f"/v1/contacts/{email}").json()["state"] == "assigned"
        retry = http.post(
            "/v1/contacts", json={"queue": "voice"}, headers={"Idempotency-Key": "one"}
        )
        assert retry.status_code == 201 and retry.json()["id"] == offered
        assert http.post(f"/v1/contacts/{email}/complete").json()["state"] == "completed"
        events = http.get("/v1/events").json()
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        # the configured webhook got every event, signed, at least once across the restart
        posts = hook.RequestHandlerClass.posts

        def delivered():
            return {e["seq"] for _, b in posts for e in json.loads(b)["events"]}

        assert wait_for(lambda: delivered() >= {e["seq"] for e in events})
        for signature, body in posts:
            digest = hmac.new(b"hook-secret", body, hashlib.sha256).hexdigest()
            assert signature == f"sha256={digest}"
    finally:
        server.stop()
        hook.shutdown()
        hook.server_close()


def test_refuses_to_start_without_an_admin_key(tmp_path):
    scenario = write_tiny(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "OPENWFM_ADMIN_KEY"}
    result = subprocess.run(
        [sys.executable, "-m", "openwfm", "serve", str(scenario), "--port", str(free_port())],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "OPENWFM_ADMIN_KEY" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "openwfm-router.db").exists()


@pytest.fixture(autouse=True)
def _no_leftover_admin_key(monkeypatch):
    monkeypatch.delenv("OPENWFM_ADMIN_KEY", raising=False)


def test_serve_bad_input_is_one_line_and_exit_2(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from openwfm.cli import app

    monkeypatch.setenv("OPENWFM_ADMIN_KEY", ADMIN)
    runner = CliRunner()
    missing = runner.invoke(app, ["serve", str(tmp_path / "nope.yaml")])
    assert isinstance(missing.exception, Exception) and "nope.yaml" in str(missing.exception)
    scenario = write_tiny(tmp_path)
    clock = runner.invoke(app, ["serve", str(scenario), "--clock", "sundial"])
    assert "--clock" in str(clock.exception)


def test_a_store_from_an_older_schema_is_refused_by_name(tmp_path):
    import sqlite3

    from openwfm.errors import StoreError
    from openwfm.routing.store import Store

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE router_contacts (contact_id TEXT PRIMARY KEY)")
    with pytest.raises(StoreError, match="router_contacts lacks column center"):
        Store(f"sqlite:///{path}").create_schema()

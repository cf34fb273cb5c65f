"""Reliability sweep, class "outputs land whole, or the command says why in one line".

Rows B7 (output is a folder), B8 (output's parent is a file), B9 (read-only folder), C20
(temporaries left by a killed writer), B3/C1 (Ctrl-C) of ``shared/reliability/cli-sweep.md``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

import openwfm.io
from _cli import one_error_line, run
from openwfm.data.synthetic import generate_interactions
from openwfm.io import atomic_write
from openwfm.scenario import example_path, load_scenario


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A store of four generated weeks, its 15-minute forecast, and a history CSV."""
    folder = tmp_path_factory.mktemp("inputs")
    scenario = load_scenario(example_path())
    frame = generate_interactions(scenario, pd.Timestamp("2026-10-05").date(), 3, 1)
    log = folder / "gen.csv"
    frame.to_csv(log, index=False)
    from openwfm.data.store import InteractionStore
    from openwfm.forecast.history import history_from_interactions

    with InteractionStore(folder / "c.duckdb") as store:
        store.ingest(frame)
    history = history_from_interactions(frame, 15)
    history.to_csv(folder / "hist.csv", index=False)
    forecast = history[history["interval_start"] >= "2026-10-19"].rename(
        columns={"offered": "forecast"}
    )
    forecast.to_csv(folder / "fc.csv", index=False)
    return folder


def _commands(folder, target, field_target=None):
    store, fc, hist = folder / "c.duckdb", folder / "fc.csv", folder / "hist.csv"
    center = example_path()
    return {
        "kpi": (("kpi", "--store", store, "--out", target), "--out"),
        "staff": (("staff", center, "--forecast", fc, "--out", target), "--out"),
        "forecast": (
            ("forecast", "--history", hist, "--horizon-days", "7", "--out", target),
            "--out",
        ),
        "backtest": (
            (
                "backtest",
                "--history",
                hist,
                "--methods",
                "classic",
                "--origins",
                "1",
                "--report",
                field_target or target,
            ),
            "--report",
        ),  # fmt: skip
        "generate": (("generate", center, "--weeks", "1", "--out", target), "--out"),
        "report": (("report", "--store", store, "--out", field_target or target), "--out"),
        "validate": (
            ("validate", "--history", folder / "gen.csv", "--report", field_target or target),
            "--report",
        ),
    }


@pytest.mark.parametrize(
    "command", ["kpi", "staff", "forecast", "backtest", "generate", "report", "validate"]
)
def test_b7_b8_an_output_that_is_a_folder_or_under_a_file(
    inputs, tmp_path, monkeypatch, capsys, command
):
    folder_target = tmp_path / "isdir.csv"
    folder_target.mkdir()
    html_folder = tmp_path / "dir.html"
    html_folder.mkdir()
    args, flag = _commands(inputs, folder_target, html_folder)[command]
    code, out, err = run(monkeypatch, capsys, *args)
    one_error_line(code, err, flag, "folder")
    plain = tmp_path / "plain.csv"
    plain.write_text("x\n")
    args, flag = _commands(inputs, plain / "k.csv", plain / "x.html")[command]
    code, out, err = run(monkeypatch, capsys, *args)
    one_error_line(code, err, flag, "is a file")
    assert plain.read_text() == "x\n"


@pytest.mark.parametrize("command", ["kpi", "staff", "forecast", "generate", "report"])
def test_b9_a_read_only_folder_is_refused_before_the_work(
    inputs, tmp_path, monkeypatch, capsys, command
):
    readonly = tmp_path / "rodir"
    readonly.mkdir()
    real_access = os.access
    # the tests run as root, who may write anywhere: the folder is made read-only for the check
    monkeypatch.setattr(
        openwfm.io.os,
        "access",
        lambda path, mode: False if str(path) == str(readonly) else real_access(path, mode),
    )
    suffix = ".html" if command == "report" else ".csv"
    args, flag = _commands(inputs, readonly / f"x{suffix}")[command]
    code, out, err = run(monkeypatch, capsys, *args)
    one_error_line(code, err, flag, "not writable")
    assert list(readonly.iterdir()) == []


def test_b9_a_permission_error_while_writing_is_one_line(tmp_path):
    def denied(temporary):
        raise PermissionError(13, "Permission denied", str(temporary))

    with pytest.raises(openwfm.errors.ParameterError, match="Permission denied"):
        atomic_write(tmp_path / "x.csv", denied)
    assert list(tmp_path.iterdir()) == []


def test_c20_temporaries_of_a_killed_writer_are_removed_by_the_next_write(tmp_path):
    target = tmp_path / "g26.csv"
    # a writer killed by SIGKILL left its temporary; its process no longer exists
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    leftover = tmp_path / f".g26.csv.{dead.pid}.abcd1234.tmp"
    leftover.write_text("partial")
    alive = tmp_path / f".g26.csv.{os.getppid()}.efgh5678.tmp"  # a live writer's: kept
    alive.write_text("writing")
    openwfm.io.atomic_write_text(target, "done\n")
    assert target.read_text() == "done\n"
    assert not leftover.exists() and alive.exists()


def _openwfm(*args, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen(
        [sys.executable, "-m", "openwfm", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kwargs,
    )


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_c20_b3_a_signal_mid_write_leaves_no_temporary_and_one_line(tmp_path, sig, code):
    target = tmp_path / "g26.csv"
    process = _openwfm("generate", example_path(), "--weeks", "26", "--out", target)
    deadline = time.monotonic() + 120
    # wait until the writer has its temporary file open, then signal it
    while time.monotonic() < deadline and not list(tmp_path.glob(".g26.csv.*.tmp")):
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.send_signal(sig)
    _, err = process.communicate(timeout=900)
    if process.returncode == 0:  # finished before the signal: nothing to check
        pytest.skip("the writer finished before the signal")
    assert process.returncode == code, err
    assert err.strip().splitlines() == ["openwfm: interrupted"]
    assert list(tmp_path.glob(".*.tmp")) == []
    assert not target.exists()


class _InterruptedAtCommit:
    """A DuckDB connection whose COMMIT succeeds and then reports an interrupt (as Ctrl-C at
    that moment does)."""

    def __init__(self, connection):
        self.connection = connection

    def execute(self, sql, *args):
        result = self.connection.execute(sql, *args)
        if sql == "COMMIT":
            raise RuntimeError("Query interrupted")
        return result

    def __getattr__(self, name):
        return getattr(self.connection, name)


def test_b3_ctrl_c_at_commit_is_an_interrupt_not_a_rollback_traceback(tmp_path):
    from openwfm.data.store import InteractionStore

    frame = generate_interactions(
        load_scenario(example_path()), pd.Timestamp("2026-10-05").date(), 1, 1
    )
    store = InteractionStore(tmp_path / "s.duckdb")
    store.connection()
    store._connection = _InterruptedAtCommit(store._connection)
    with pytest.raises(KeyboardInterrupt):
        store.ingest(frame.head(50))
    store._connection = store._connection.connection
    assert store.count() == 50  # the commit went through: the rows are there once
    store.close()


def test_c1_ctrl_c_while_reading_is_an_interrupt_not_a_malformed_file(
    tmp_path, monkeypatch, capsys
):
    log = tmp_path / "ok.csv"
    log.write_text(
        "interaction_id,queue,arrival_time,outcome,wait_s,handle_s\n"
        "1,voice,2026-10-05 08:00,answered,5,60\n"
    )

    def interrupted(*args, **kwargs):
        raise pd.errors.ParserError("Calling read(nbytes) on source failed. Try engine='python'.")

    monkeypatch.setattr(pd, "read_csv", interrupted)
    code, out, err = run(monkeypatch, capsys, "ingest", log, "--store", tmp_path / "s.duckdb")
    assert code == 130 and err.strip() == "openwfm: interrupted"

"""`openwfm ingest` / `openwfm kpi` at the user's level: bad input is one line, exit 2, and the
store is unchanged; the real Anonymous Bank files ingest completely and match raw counts."""

from __future__ import annotations

import csv
from collections import Counter

import pandas as pd
import pytest

from _cli import run
from conftest import require_shared_data
from openwfm.data.store import InteractionStore
from test_data_readers import HEADER, ROWS, bank_file


@pytest.fixture
def store(tmp_path, monkeypatch, capsys):
    """A store holding the 7 hand-written records."""
    path = tmp_path / "s.duckdb"
    code, out, _ = run(
        monkeypatch, capsys, "ingest", bank_file(tmp_path), "--format", "anonymous-bank",
        "--store", path,
    )  # fmt: skip
    assert code == 0 and "7" in out
    return path


def count(path) -> int:
    with InteractionStore(path) as store:
        return store.count()


def test_ingest_twice_adds_nothing(tmp_path, store, monkeypatch, capsys):
    code, out, _ = run(monkeypatch, capsys, "ingest", tmp_path / "bank.txt", "--store", store)
    assert code == 0
    assert "added" in out and "skipped" in out
    assert count(store) == 7


BAD_INPUTS = {
    "missing column": (
        lambda tmp: bank_file(tmp, name="bad.txt", header=HEADER.replace(" q_time", " q_wait")),
        ["bad.txt:1", "q_time", "missing column"],
    ),
    "unparseable time": (
        lambda tmp: bank_file(
            tmp, [*ROWS[:2], ROWS[2].replace("10:00:05", "10:0O:05"), *ROWS[3:]], "bad.txt"
        ),
        ["bad.txt:4", "vru_exit", "10:0O:05"],
    ),
    "empty file": (lambda tmp: _write(tmp / "bad.txt", ""), ["bad.txt", "empty file"]),
    "header only": (
        lambda tmp: _write(tmp / "bad.txt", HEADER.replace(" ", "\t") + "\n"),
        ["no data rows"],
    ),
    "wrong delimiter": (
        lambda tmp: bank_file(tmp, name="bad.txt", delimiter=";"),
        ["bad.txt:1", "wrong delimiter", "semicolon"],
    ),
}


def _write(path, text):
    path.write_text(text)
    return path


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_exit_2_store_unchanged(case, tmp_path, store, monkeypatch, capsys):
    make, expected = BAD_INPUTS[case]
    bad = make(tmp_path)
    good = bank_file(tmp_path, [r.replace("AA01", "AA05") for r in ROWS], name="good.txt")
    # the good file comes first: atomic ingest must not keep its rows either
    code, out, err = run(
        monkeypatch, capsys, "ingest", good, bad, "--format", "anonymous-bank", "--store", store
    )
    assert code == 2, (out, err)
    line = err.strip()
    assert "\n" not in line and line.startswith("openwfm: error:")
    for fragment in expected:
        assert fragment in line
    assert count(store) == 7


def test_unknown_format_and_generic_wrong_delimiter(tmp_path, store, monkeypatch, capsys):
    code, _, err = run(
        monkeypatch, capsys, "ingest", tmp_path / "bank.txt", "--format", "xlsx", "--store", store
    )
    assert code == 2 and "unknown format 'xlsx'" in err and err.count("\n") == 1
    semicolons = _write(tmp_path / "acd.csv", "id;queue;arrival_time\n1;a;2024-01-01 09:00\n")
    code, _, err = run(
        monkeypatch, capsys, "ingest", semicolons, "--format", "csv", "--store", store
    )
    assert code == 2 and "wrong delimiter" in err and "acd.csv:1" in err
    assert count(store) == 7


def test_generic_csv_with_mapping_file(tmp_path, store, monkeypatch, capsys):
    log = _write(
        tmp_path / "acd.csv",
        "Call,Skill,Start,WaitSec,TalkSec,Result\n"
        "c1,billing,2024-05-06 09:00:00,12,300,answered\n"
        "c2,billing,2024-05-06 09:01:00,40,0,abandoned\n",
    )
    mapping = _write(
        tmp_path / "m.yaml",
        "columns: {Call: interaction_id, Skill: queue, Start: arrival_time, WaitSec: wait_s,"
        " TalkSec: handle_s, Result: outcome}\nchannel: chat\n",
    )
    args = ["ingest", log, "--format", "csv", "--mapping", mapping, "--store", store]
    code, out, err = run(monkeypatch, capsys, *args)
    assert code == 0, err
    assert count(store) == 9
    with InteractionStore(store) as opened:
        billing = opened.interactions(queues=["billing"])
    assert billing["channel"].tolist() == ["chat", "chat"]
    assert billing["outcome"].tolist() == ["answered", "abandoned"]


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        ("{Call: interaction_id, Skill: queue, Begin: arrival_time}", "acd.csv:1: Begin: missing"),
        ("{Call: interaction_id, Start: arrival_time}", "acd.csv:1: queue: missing column"),
        ("{Call: interaction_id, Skill: queue}", "acd.csv:1: arrival_time: missing column"),
    ],
)
def test_generic_mapping_errors_name_file_line_and_field(
    columns, expected, tmp_path, store, monkeypatch, capsys
):
    log = _write(tmp_path / "acd.csv", "Call,Skill,Start\nc1,billing,2024-05-06 09:00:00\n")
    mapping = _write(tmp_path / "m.yaml", f"columns: {columns}\n")
    args = ["ingest", log, "--format", "csv", "--mapping", mapping, "--store", store]
    code, _, err = run(monkeypatch, capsys, *args)
    assert code == 2 and err.count("\n") == 1 and err.startswith("openwfm: error:"), err
    assert expected in err
    assert count(store) == 7


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("columns: {Call: callid}\n", "m.yaml: columns: unknown column(s) callid (known"),
        ("columns: {Call: interaction_id\n", "m.yaml:2: not valid YAML"),
        ("columns: {}\ndelimiter: ';;'\n", "m.yaml: delimiter: expected one character"),
        ("columns: {}\ntime_format: '%Q'\n", "m.yaml: time_format: invalid strptime"),
        ("colums: {Call: interaction_id}\nqueue: a\n", "m.yaml: columns: expected source"),
    ],
)
def test_bad_mapping_file_is_one_line(text, expected, tmp_path, store, monkeypatch, capsys):
    log = _write(tmp_path / "acd.csv", "Call,Skill,Start\nc1,billing,2024-05-06 09:00:00\n")
    mapping = _write(tmp_path / "m.yaml", text)
    args = ["ingest", log, "--format", "csv", "--mapping", mapping, "--store", store]
    code, _, err = run(monkeypatch, capsys, *args)
    assert code == 2 and err.count("\n") == 1 and err.startswith("openwfm: error:"), err
    assert expected in err


def test_kpi_command_table_and_files(tmp_path, store, monkeypatch, capsys):
    code, out, err = run(monkeypatch, capsys, "kpi", "--store", store, "--by", "queue,segment")
    assert code == 0, err
    assert "KPIs per 15 min" in out
    out_csv = tmp_path / "k.csv"
    code, _, err = run(
        monkeypatch, capsys, "kpi", "--store", store, "--interval", "60", "--definition",
        "answered", "--rollup", "day", "--out", out_csv,
    )  # fmt: skip
    assert code == 0, err
    daily = pd.read_csv(out_csv)
    assert set(daily["sl_definition"]) == {"answered"}
    # 3 answered, 1 abandoned offered: ivr_only and excluded are not offered
    assert daily["offered"].sum() == 4 and daily["ivr_only"].sum() == 2
    out_parquet = tmp_path / "k.parquet"
    code, _, _ = run(monkeypatch, capsys, "kpi", "--store", store, "--out", out_parquet)
    assert code == 0 and pd.read_parquet(out_parquet)["answered"].sum() == 3
    code, _, err = run(monkeypatch, capsys, "kpi", "--store", store, "--interval", "10")
    assert code == 2 and "--interval:" in err and "interval_minutes" not in err
    code, _, err = run(monkeypatch, capsys, "kpi", "--store", tmp_path / "none.duckdb")
    assert code == 2 and "store not found" in err


def test_kpi_takes_targets_from_a_scenario(tmp_path, store, monkeypatch, capsys):
    scenario = _write(
        tmp_path / "s.yaml",
        "queues:\n  - {name: PS, aht_s: 200, target: {within_s: 10}}\n",
    )
    out = tmp_path / "k.csv"
    args = ["kpi", "--store", store, "--scenario", scenario, "--target-s", "0", "--out", out]
    code, _, err = run(monkeypatch, capsys, *args)
    assert code == 0, err
    kpis = pd.read_csv(out).groupby("queue")["answered_within_target"].sum()
    # PS: the one answered call waited 17 s > 10 s; NE (default 0 s) waited 30 s; IN waited 0 s
    assert kpis["PS"] == 0 and kpis["NE"] == 0 and kpis["IN"] == 1


def test_kpi_measures_a_segment_against_its_own_target(tmp_path, store, monkeypatch, capsys):
    # priority customers ("2", the A-team case) have 10 s on PS; the queue's target is 20 s
    scenario = _write(
        tmp_path / "s.yaml",
        "queues:\n  - {name: PS, aht_s: 200, target: {within_s: 20}}\n"
        "segments:\n  - {name: '2', targets: {PS: {within_s: 10}}}\n",
    )
    for by in ("queue", "queue,segment"):
        out = tmp_path / f"k-{by}.csv"
        args = ["kpi", "--store", store, "--scenario", scenario, "--by", by, "--out", out]
        code, _, err = run(monkeypatch, capsys, *args)
        assert code == 0, err
        kpis = pd.read_csv(out, dtype={"segment": str})
        ps = kpis[kpis["queue"] == "PS"]
        # the one answered PS call (segment 2) waited 17 s: within 20 s, not within 10 s
        assert ps["answered"].sum() == 1 and ps["answered_within_target"].sum() == 0
    without_segments = _write(
        tmp_path / "q.yaml", "queues:\n  - {name: PS, aht_s: 200, target: {within_s: 20}}\n"
    )
    out = tmp_path / "k.csv"
    args = ["kpi", "--store", store, "--scenario", without_segments, "--out", out]
    code, _, err = run(monkeypatch, capsys, *args)
    assert code == 0, err
    kpis = pd.read_csv(out)
    assert kpis.loc[kpis["queue"] == "PS", "answered_within_target"].sum() == 1


@pytest.mark.slow
def test_anonymous_bank_nine_months_match_raw_counts(tmp_path, monkeypatch, capsys):
    raw_dir = require_shared_data("anonymous-bank/raw")
    files = sorted(raw_dir.glob("*.txt"))
    assert len(files) == 9
    # independent count with the csv module: file (= month) x type x outcome
    expected: Counter = Counter()
    expected_agents: Counter = Counter()
    # the source wrote NAAMA and ANAT with "NA" replaced by "NO_SERVER" in May and June
    renamed = {"NO_SERVERAMA": "NAAMA", "ANO_SERVERT": "ANAT"}
    for path in files:
        with open(path, newline="") as handle:
            for record in csv.DictReader(handle, delimiter="\t"):
                server = record["server"].strip()
                if record["outcome"] == "AGENT" and server != "NO_SERVER":
                    expected_agents[renamed.get(server, server)] += 1
                source = record["outcome"]
                if source == "AGENT":
                    outcome = "answered"
                elif source == "HANG":
                    outcome = "abandoned" if int(record["q_time"]) > 0 else "ivr_only"
                else:
                    outcome = "excluded"
                expected[(path.name, record["type"], outcome)] += 1
    assert sum(expected.values()) == 318_286
    store = tmp_path / "bank.duckdb"
    args = ["ingest", *files, "--format", "anonymous-bank", "--store", store]
    code, out, err = run(monkeypatch, capsys, *args)
    assert code == 0, err
    assert "318,286" in out
    with InteractionStore(store) as opened:
        assert opened.count() == 318_286
        assert opened.count("excluded") == 2_658  # PHANTOM, stored and counted
        stored = opened.connection().execute(
            "SELECT source, queue, outcome, count(*) FROM interactions GROUP BY ALL"
        )
        actual = Counter({(s, q, o): n for s, q, o, n in stored.fetchall()})
        by_agent = opened.connection().execute(
            "SELECT agent, count(*) FROM interactions WHERE agent IS NOT NULL GROUP BY ALL"
        )
        actual_agents = Counter(dict(by_agent.fetchall()))
    assert actual == expected
    assert actual_agents == expected_agents
    assert expected_agents["NAAMA"] == 3_689 + 883 and expected_agents["ANAT"] == 7_521 + 338
    assert not any("NO_SERVER" in name for name in actual_agents)
    code, out, _ = run(monkeypatch, capsys, *args)
    assert code == 0 and count(store) == 318_286
    # the comma-separated concatenation holds the same calls: nothing new
    combined = require_shared_data("anonymous-bank/calls-1999.csv.gz")
    code, out, err = run(monkeypatch, capsys, "ingest", combined, "--store", store)
    assert code == 0, err
    assert count(store) == 318_286
    # KPIs over the store: offered = AGENT + HANG in queue, month by month
    from openwfm.data.intervals import interval_kpis, rollup

    with InteractionStore(store) as opened:
        kpis = interval_kpis(opened.interactions(), 30)
    monthly = rollup(kpis, "MS").groupby("interval_start")[["offered", "ivr_only"]].sum()
    offered_raw = Counter()
    for (source, _, outcome), n in expected.items():
        if outcome in ("answered", "abandoned"):
            offered_raw[pd.Timestamp(f"1999-{source[:2]}-01")] += n
    assert monthly["offered"].to_dict() == dict(offered_raw)

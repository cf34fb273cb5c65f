"""Reliability sweep, class "the store keeps every contact once, at the right instant".

Rows A1, A1b, A4, A5, A6 (silent data loss or wrong instants), B4, B5, B10, B17, C1/B3
(interrupts), C15, D1, D2, D9, D11, D13 of ``shared/reliability/cli-sweep.md``. Every test runs
the ``openwfm`` command on files written to ``tmp_path``.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest

from _cli import one_error_line, run
from openwfm.data.store import InteractionStore
from openwfm.data.synthetic import generate_interactions
from openwfm.scenario import example_path, load_scenario

HEADER = "interaction_id,queue,arrival_time,outcome,wait_s,handle_s\n"


@pytest.fixture(scope="module")
def two_months():
    """Two different generated logs (seed 1 in October, seed 2 in November), 100 rows each."""
    scenario = load_scenario(example_path())
    first = generate_interactions(scenario, dt.date(2026, 10, 5), 1, 1).head(100)
    second = generate_interactions(scenario, dt.date(2026, 11, 2), 1, 2).head(100)
    return first, second


def _write_without_ids(frame: pd.DataFrame, path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.drop(columns=["interaction_id"]).to_csv(path, index=False)


def _stored(store) -> pd.DataFrame:
    with InteractionStore(store, read_only=True) as source:
        return source.interactions()


def test_a1_same_file_name_in_two_folders_keeps_both(tmp_path, monkeypatch, capsys, two_months):
    jan, feb = tmp_path / "jan" / "log.csv", tmp_path / "feb" / "log.csv"
    _write_without_ids(two_months[0], jan)
    _write_without_ids(two_months[1], feb)
    store = tmp_path / "s.duckdb"
    assert run(monkeypatch, capsys, "ingest", jan, "--store", store)[0] == 0
    code, out, err = run(monkeypatch, capsys, "ingest", feb, "--store", store)
    assert code == 0, err
    assert len(_stored(store)) == 200
    # both in one call, into a fresh store
    both = tmp_path / "both.duckdb"
    assert run(monkeypatch, capsys, "ingest", jan, feb, "--store", both)[0] == 0
    assert len(_stored(both)) == 200
    # re-ingesting adds nothing
    run(monkeypatch, capsys, "ingest", jan, feb, "--store", both)
    assert len(_stored(both)) == 200


def test_a1b_an_edited_file_adds_the_new_row_and_duplicates_nothing(
    tmp_path, monkeypatch, capsys, two_months
):
    log = tmp_path / "jan" / "log.csv"
    _write_without_ids(two_months[0], log)
    store = tmp_path / "s.duckdb"
    assert run(monkeypatch, capsys, "ingest", log, "--store", store)[0] == 0
    lines = log.read_text().splitlines(keepends=True)
    new = "voice,voice,standard,2026-10-05 07:59:00,2026-10-05 07:59:00,2026-10-05 08:01:00,,"
    new += "0.0,120.0,NEWAGENT,answered,manual\n"
    assert lines[0].startswith("queue,channel,segment,arrival_time,answer_time,end_time,")
    log.write_text(lines[0] + new + "".join(lines[1:]))
    code, out, err = run(monkeypatch, capsys, "ingest", log, "--store", store)
    assert code == 0, err
    stored = _stored(store)
    assert len(stored) == 101
    assert (stored["agent"] == "NEWAGENT").sum() == 1
    content = stored.drop(columns=["interaction_id", "source"]).astype(str)
    assert not content.duplicated().any()


def _ab_line(call_id: str, ser_time: str, server: str) -> str:
    return (
        f"AA0101\t{call_id}\t23\t2\tPS\t990101\t0:00:31\t0:00:36\t5\t0:00:36\t0:00:36\t0\t"
        f"AGENT\t0:00:36\t0:01:59\t{ser_time}\t{server}\n"
    )


AB_HEADER = (
    "vru+line\tcall_id\tcustomer_id\tpriority\ttype\tdate\tvru_entry\tvru_exit\tvru_time\t"
    "q_start\tq_exit\tq_time\toutcome\tser_start\tser_exit\tser_time\tserver\n"
)


def test_a6_one_id_twice_with_different_content_is_an_error_naming_both_lines(
    tmp_path, monkeypatch, capsys
):
    log = tmp_path / "ab_dupid_conflict.txt"
    log.write_text(
        AB_HEADER + _ab_line("33116", "83", "MICHAL") + _ab_line("33118", "83", "DORIT")
        + _ab_line("33118", "999", "OTHER")
    )  # fmt: skip
    store = tmp_path / "s.duckdb"
    code, out, err = run(monkeypatch, capsys, "ingest", log, "--store", store)
    one_error_line(code, err, "AA0101-33118", f"{log}:3", f"{log}:4", "handle_s", "agent")
    assert not store.exists() or len(_stored(store)) == 0
    # an exact repeat is stored once and reported as a repeat, not as "already stored"
    log.write_text(AB_HEADER + _ab_line("33118", "83", "DORIT") * 2)
    code, out, err = run(monkeypatch, capsys, "ingest", log, "--store", store)
    assert code == 0, err
    assert "exact repeat in these files" in out and len(_stored(store)) == 1


def test_a4_offsets_are_converted_to_the_center_time_zone(tmp_path, monkeypatch, capsys):
    utc, cest = tmp_path / "utc.csv", tmp_path / "cest.csv"
    utc.write_text(HEADER + "z,voice,2026-10-05T08:00:00Z,answered,5,60\n")
    cest.write_text(HEADER + "p,voice,2026-10-05T08:00:00+02:00,answered,5,60\n")
    store = tmp_path / "z2.duckdb"
    # without a time zone the offsets cannot become local time: refused, nothing stored
    code, out, err = run(monkeypatch, capsys, "ingest", utc, cest, "--store", store)
    one_error_line(code, err, f"{utc}:2", "arrival_time", "--timezone")
    code, out, err = run(
        monkeypatch, capsys, "ingest", utc, cest, "--store", store,
        "--timezone", "Europe/Amsterdam",
    )  # fmt: skip
    assert code == 0, err
    times = _stored(store).set_index("interaction_id")["arrival_time"]
    assert times["z"] == pd.Timestamp("2026-10-05 10:00")  # 08:00 UTC is 10:00 in Amsterdam
    assert times["p"] == pd.Timestamp("2026-10-05 08:00")
    # a Parquet column with a time zone is converted the same way
    parquet = tmp_path / "pq_utc.parquet"
    pd.DataFrame(
        {
            "interaction_id": ["q"],
            "queue": ["voice"],
            "arrival_time": pd.to_datetime(["2026-10-05 08:00"]).tz_localize("UTC"),
            "outcome": ["answered"],
            "wait_s": [5.0],
            "handle_s": [60.0],
        }
    ).to_parquet(parquet)
    code, out, err = run(monkeypatch, capsys, "ingest", parquet, "--store", store)
    one_error_line(code, err, str(parquet), "arrival_time", "--timezone")
    run(monkeypatch, capsys, "ingest", parquet, "--store", store, "--timezone", "Europe/Amsterdam")
    assert _stored(store).set_index("interaction_id").at["q", "arrival_time"] == pd.Timestamp(
        "2026-10-05 10:00"
    )


def test_b5_offsets_across_dst_and_mixed_with_naive_times(tmp_path, monkeypatch, capsys):
    log = tmp_path / "tz.csv"
    log.write_text(
        HEADER + "1,voice,2026-10-24T10:00:00+02:00,answered,5,60\n"
        "2,voice,2026-10-26T10:00:00+01:00,answered,5,60\n"
    )
    store = tmp_path / "s.duckdb"
    code, out, err = run(
        monkeypatch, capsys, "ingest", log, "--store", store, "--timezone", "Europe/Amsterdam"
    )
    assert code == 0, err
    assert _stored(store)["arrival_time"].dt.hour.tolist() == [10, 10]
    mixed = tmp_path / "ow_tz_and_naive.csv"
    mixed.write_text(
        HEADER + "1,voice,2026-10-24T10:00:00+02:00,answered,5,60\n"
        "2,voice,2026-10-26 10:00:00,answered,5,60\n"
    )
    code, out, err = run(monkeypatch, capsys, "ingest", mixed, "--timezone", "UTC")
    one_error_line(code, err, f"{mixed}:2", "arrival_time", "offset", "line 3")
    code, out, err = run(monkeypatch, capsys, "ingest", log, "--timezone", "Mars/Olympus")
    one_error_line(code, err, "--timezone", "Mars/Olympus")


def test_a5_an_invalid_time_format_is_an_error_naming_it(tmp_path, monkeypatch, capsys):
    log = tmp_path / "semi.csv"
    log.write_text("Call;Start;Q;Res\n1;05/10/2026 08:00;voice;answered\n")
    mapping = tmp_path / "m.yaml"
    columns = "columns: {Call: interaction_id, Start: arrival_time, Q: queue, Res: outcome}\n"
    mapping.write_text(columns + 'delimiter: ";"\ntime_format: "%Q"\n')
    store = tmp_path / "s.duckdb"
    code, out, err = run(
        monkeypatch, capsys, "ingest", log, "--format", "csv", "--mapping", mapping,
        "--store", store,
    )  # fmt: skip
    one_error_line(code, err, str(mapping), "time_format", "%Q")
    assert not store.exists()
    # a valid day-first format reads 5 October
    mapping.write_text(columns + 'delimiter: ";"\ntime_format: "%d/%m/%Y %H:%M"\n')
    code, out, err = run(
        monkeypatch, capsys, "ingest", log, "--format", "csv", "--mapping", mapping,
        "--store", store,
    )  # fmt: skip
    assert code == 0, err
    assert _stored(store)["arrival_time"].tolist() == [pd.Timestamp("2026-10-05 08:00")]


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ("delimiter: 5\n", "delimiter"),
        ("columns: {Call: interaction_id, Start: arrivaltime}\n", "columns"),
    ],
)
def test_b17_d11_mapping_errors_name_the_mapping_file(
    tmp_path, monkeypatch, capsys, content, field
):
    log = tmp_path / "semi.csv"
    log.write_text("Call;Start;Q;Res\n1;2026-10-05 08:00;voice;answered\n")
    mapping = tmp_path / "map.yaml"
    if not content.startswith("columns"):
        content = "columns: {Call: interaction_id, Start: arrival_time, Q: queue}\n" + content
    mapping.write_text(content)
    code, out, err = run(
        monkeypatch, capsys, "ingest", log, "--format", "csv", "--mapping", mapping
    )
    one_error_line(code, err, f"{mapping}: {field}")


AB_BAD_NUMBERS = [
    ("ser_time", "99999999999999999999"),
    ("ser_time", "9999999999"),
    ("q_time", "9999999999"),
    ("ser_time", "inf"),
    ("q_time", "inf"),
]


@pytest.mark.parametrize(("field", "value"), AB_BAD_NUMBERS)
def test_b4_huge_or_infinite_durations_are_one_line_errors(
    tmp_path, monkeypatch, capsys, field, value
):
    line = _ab_line("33118", "83", "DORIT").split("\t")
    line[AB_HEADER.split("\t").index(field)] = value
    log = tmp_path / "ab.txt"
    log.write_text(AB_HEADER + "\t".join(line))
    code, out, err = run(monkeypatch, capsys, "ingest", log, "--store", tmp_path / "s.duckdb")
    one_error_line(code, err, f"{log}:2", field)


@pytest.mark.parametrize(
    ("field", "value"), [("handle_s", "1e300"), ("wait_s", "1e20"), ("handle_s", "inf")]
)
def test_b4_huge_numbers_in_csv_and_parquet(tmp_path, monkeypatch, capsys, field, value):
    row = {"interaction_id": "1", "queue": "voice", "arrival_time": "2026-10-05 08:00:00",
           "outcome": "answered", "wait_s": "5", "handle_s": "60"}  # fmt: skip
    row[field] = value
    log = tmp_path / "ow.csv"
    pd.DataFrame([row]).to_csv(log, index=False)
    code, out, err = run(monkeypatch, capsys, "ingest", log, "--store", tmp_path / "s.duckdb")
    one_error_line(code, err, f"{log}:2", field)
    parquet = tmp_path / "pq_inf.parquet"
    frame = pd.DataFrame([row]).astype({"wait_s": float, "handle_s": float})
    frame.to_parquet(parquet)
    code, out, err = run(monkeypatch, capsys, "ingest", parquet, "--store", tmp_path / "s.duckdb")
    one_error_line(code, err, f"{parquet}:1", field)


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("1,voice,2026-10-05 08:00,2026-10-05 07:00,,answered,,60", "answer_time"),
        ("1,voice,2026-10-05 08:00,2026-10-05 08:01,2026-10-05 08:00:30,answered,,", "end_time"),
        ("1,voice,2026-10-05 08:00,2026-10-05 08:00,,answered,5000,60", "wait_s"),
        ("1,voice,2026-03-29 02:30,2026-10-05 08:00,,answered,,60", "answer_time"),
    ],
)
def test_c15_rows_that_contradict_themselves_are_rejected(
    tmp_path, monkeypatch, capsys, row, field
):
    log = tmp_path / "ow.csv"
    log.write_text(
        "interaction_id,queue,arrival_time,answer_time,end_time,outcome,wait_s,handle_s\n"
        + row + "\n"
    )  # fmt: skip
    code, out, err = run(monkeypatch, capsys, "ingest", log, "--store", tmp_path / "s.duckdb")
    one_error_line(code, err, f"{log}:2", field)


def test_d1_a_byte_order_mark_is_accepted(tmp_path, monkeypatch, capsys):
    log = tmp_path / "bom.txt"
    log.write_bytes(b"\xef\xbb\xbf" + (AB_HEADER + _ab_line("33118", "83", "DORIT")).encode())
    code, out, err = run(
        monkeypatch, capsys, "ingest", log, "--format", "anonymous-bank",
        "--store", tmp_path / "s.duckdb",
    )  # fmt: skip
    assert code == 0, err


def test_d2_d9_encoding_and_quote_errors_name_the_line(tmp_path, monkeypatch, capsys):
    latin = tmp_path / "ab_latin1.txt"
    latin.write_bytes(
        (AB_HEADER + _ab_line("1", "83", "DORIT")).encode()
        + _ab_line("2", "83", "ÉLODIE").encode("latin-1")
    )
    code, out, err = run(monkeypatch, capsys, "ingest", latin)
    one_error_line(code, err, f"{latin}:3", "UTF-8")
    utf16 = tmp_path / "ow_utf16.csv"
    utf16.write_bytes((HEADER + "1,voice,2026-10-05 08:00,answered,5,60\n").encode("utf-16"))
    code, out, err = run(monkeypatch, capsys, "ingest", utf16)
    one_error_line(code, err, f"{utf16}:1", "UTF-16")
    quoted = tmp_path / "ab_unbalanced_quote.txt"
    rows = [_ab_line(str(i), "83", "DORIT") for i in range(60)]
    rows[50] = rows[50].replace("DORIT", '"DORIT')  # file line 52
    quoted.write_text(AB_HEADER + "".join(rows))
    code, out, err = run(monkeypatch, capsys, "ingest", quoted, "--format", "anonymous-bank")
    one_error_line(code, err, f"{quoted}:52", "quote")


def test_b10_d13_a_foreign_store_and_a_read_only_store(tmp_path, monkeypatch, capsys):
    other = tmp_path / "other.duckdb"
    with duckdb.connect(str(other)) as con:
        con.execute("create table interactions(a int)")
    log = tmp_path / "ab.txt"
    log.write_text(AB_HEADER + _ab_line("33118", "83", "DORIT"))
    for args in (("ingest", log, "--store", other), ("kpi", "--store", other)):
        code, out, err = run(monkeypatch, capsys, *args)
        one_error_line(code, err, str(other), "not openwfm's")
    store = tmp_path / "ro.duckdb"
    assert run(monkeypatch, capsys, "ingest", log, "--store", store)[0] == 0
    # reading opens the store read-only: a second reader (or a read-only file) is fine
    with duckdb.connect(str(store), read_only=True):
        code, out, err = run(monkeypatch, capsys, "kpi", "--store", store)
    assert code == 0, err


def test_c12_occupancy_stays_within_100_percent_on_real_data(
    anonymous_bank_dir, tmp_path, monkeypatch, capsys
):
    april = anonymous_bank_dir / "raw" / "04_April.txt"
    store, out = tmp_path / "bank.duckdb", tmp_path / "k.csv"
    assert run(monkeypatch, capsys, "ingest", april, "--store", store)[0] == 0
    code, stdout, err = run(
        monkeypatch, capsys, "kpi", "--store", store, "--interval", "15", "--out", out
    )
    assert code == 0, err
    kpis = pd.read_csv(out)
    assert kpis["occupancy"].max() <= 1.0
    # 1999-04-28 17:45, queue NE: one agent whose calls overlap (989 busy s in 900 s)
    row = kpis[(kpis["interval_start"] == "1999-04-28 17:45:00") & (kpis["queue"] == "NE")]
    assert len(row) == 1 and row["busy_s"].iloc[0] > 900 and row["occupancy"].iloc[0] <= 1.0


def test_c18_kpi_limit_must_not_be_negative(tmp_path, monkeypatch, capsys):
    log = tmp_path / "ab.txt"
    log.write_text(AB_HEADER + _ab_line("33118", "83", "DORIT"))
    store = tmp_path / "s.duckdb"
    assert run(monkeypatch, capsys, "ingest", log, "--store", store)[0] == 0
    code, out, err = run(monkeypatch, capsys, "kpi", "--store", store, "--limit", "-1")
    one_error_line(code, err, "--limit", "-1")

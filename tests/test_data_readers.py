# ruff: noqa: E501  (the raw records are kept on one line each, as in the files)
"""Readers and store: Anonymous Bank quirks, generic CSV/Parquet mapping, idempotent ingest."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from openwfm.data.readers import read_anonymous_bank, read_interactions, read_table
from openwfm.data.schema import INTERACTION_COLUMNS
from openwfm.data.store import InteractionStore
from openwfm.errors import DataError, StoreError

HEADER = (
    "vru+line call_id customer_id priority type date vru_entry vru_exit vru_time q_start "
    "q_exit q_time outcome ser_start ser_exit ser_time server"
)
# Hand-written records (not from the data set), one per quirk of the format.
ROWS = [
    # plain: queued 17 s, served 54 s by MICHAL
    "AA0101 1 9664491 2 PS 990101 6:55:20 6:55:26 6 6:55:26 6:55:43 17 AGENT 6:55:43 6:56:37 54 MICHAL",
    # HANG in queue -> abandoned; joined the queue at midnight (q_start 0:00:00 is real)
    "AA0101 2 0 1 PS 990102 23:59:50 0:00:00 -86390 0:00:00 0:00:27 27 HANG 0:00:00 0:00:00 0 NO_SERVER",
    # HANG in the VRU -> ivr_only; negative VRU time (clock offset)
    "AA0102 3 0 0 NW 990102 10:00:10 10:00:05 -5 0:00:00 0:00:00 0 HANG 0:00:00 0:00:00 0 NO_SERVER",
    # AGENT without a named server, service crosses midnight (ser_exit < ser_start)
    "AA0102 4 6.02701E+11 2 NE 990102 23:58:00 23:58:10 10 23:58:10 23:58:40 30 AGENT 23:58:39 0:01:39 180 NO_SERVER",
    # AGENT with an agent but no service data
    "AA0201 5 0 0 IN 990103 12:00:00 12:00:08 8 0:00:00 0:00:00 0 AGENT 0:00:00 0:00:00 0 DORIT",
    # PHANTOM -> excluded
    "AA0201 6 0 0 PS 990103 12:05:00 12:05:04 4 12:05:04 12:05:09 5 PHANTOM 12:05:09 12:05:20 11 NO_SERVER",
    # type AA (undocumented), HANG naming an agent who did not serve
    "AA0202 7 0 0 AA 990103 13:00:00 13:00:03 3 0:00:00 0:00:00 0 HANG 0:00:00 0:00:00 0 AVI",
]


def bank_file(tmp_path, rows=ROWS, name="bank.txt", delimiter="\t", header=HEADER):
    path = tmp_path / name
    lines = [header, *rows]
    path.write_text("\n".join(line.replace(" ", delimiter) for line in lines) + "\n")
    return path


def test_anonymous_bank_mapping_and_quirks(tmp_path):
    frame = read_anonymous_bank(bank_file(tmp_path))
    assert list(frame.columns) == list(INTERACTION_COLUMNS)
    assert frame.dtypes.astype(str).to_dict() == {
        c: ("string" if t == "string" else t) for c, t in INTERACTION_COLUMNS.items()
    }
    rows = frame.set_index("interaction_id")
    assert list(rows.index) == [f"{v}-{i}" for v, i in [
        ("AA0101", 1), ("AA0101", 2), ("AA0102", 3), ("AA0102", 4),
        ("AA0201", 5), ("AA0201", 6), ("AA0202", 7),
    ]]  # fmt: skip
    assert rows["outcome"].tolist() == [
        "answered", "abandoned", "ivr_only", "answered", "answered", "excluded", "ivr_only",
    ]  # fmt: skip
    plain = rows.loc["AA0101-1"]
    assert (plain.queue, plain.channel, plain.segment, plain.agent) == (
        "PS",
        "voice",
        "2",
        "MICHAL",
    )
    assert plain.arrival_time == pd.Timestamp("1999-01-01 06:55:26")
    assert plain.answer_time == pd.Timestamp("1999-01-01 06:55:43")
    assert plain.end_time == pd.Timestamp("1999-01-01 06:56:37")
    assert (plain.wait_s, plain.handle_s) == (17.0, 54.0)
    midnight = rows.loc["AA0101-2"]
    assert midnight.arrival_time == pd.Timestamp("1999-01-03 00:00:00")  # VRU crossed midnight
    assert midnight.abandon_time == pd.Timestamp("1999-01-03 00:00:27")
    assert midnight.wait_s == 27 and midnight.handle_s == 0 and pd.isna(midnight.answer_time)
    negative = rows.loc["AA0102-3"]
    assert negative.arrival_time == pd.Timestamp("1999-01-02 10:00:05")  # same day, not +1
    crossing = rows.loc["AA0102-4"]
    assert pd.isna(crossing.agent)  # NO_SERVER
    assert crossing.end_time == pd.Timestamp("1999-01-03 00:01:40")  # 23:58:40 + 180 s
    no_service = rows.loc["AA0201-5"]
    assert no_service.agent == "DORIT" and math.isnan(no_service.handle_s)
    assert pd.isna(no_service.end_time)
    assert pd.isna(rows.loc["AA0202-7"].agent) and rows.loc["AA0202-7"].queue == "AA"
    assert set(frame["source"]) == {"bank.txt"}


def test_comma_separated_and_gzip_read_the_same(tmp_path):
    import gzip

    tabbed = read_anonymous_bank(bank_file(tmp_path))
    comma = bank_file(tmp_path, name="bank.csv", delimiter=",")
    zipped = tmp_path / "bank.csv.gz"
    zipped.write_bytes(gzip.compress(comma.read_bytes()))
    for path in (comma, zipped):
        other = read_interactions(path, "auto")
        pd.testing.assert_frame_equal(tabbed.drop(columns="source"), other.drop(columns="source"))


def test_bad_time_names_file_line_and_field(tmp_path):
    rows = list(ROWS)
    rows[3] = rows[3].replace("23:58:10 10", "23:61:10 10")
    with pytest.raises(DataError) as error:
        read_anonymous_bank(bank_file(tmp_path, rows))
    text = str(error.value)
    assert "bank.txt:5" in text and "vru_exit" in text and "23:61:10" in text
    assert "\n" not in text


def test_rows_with_too_many_or_too_few_fields(tmp_path):
    extra = [*ROWS[:4], ROWS[4] + " EXTRA", *ROWS[5:]]
    with pytest.raises(DataError, match=r"bank.txt:6: malformed row: Expected 17 fields"):
        read_anonymous_bank(bank_file(tmp_path, extra))
    short = [*ROWS[:1], ROWS[1].rsplit(" ", 1)[0], *ROWS[2:]]
    with pytest.raises(DataError, match=r"bank.txt:3: server: .*too few fields"):
        read_anonymous_bank(bank_file(tmp_path, short))


def test_generic_csv_with_mapping_derives_missing_columns(tmp_path):
    path = tmp_path / "acd.csv"
    path.write_text(
        "Call,Skill,Start,Answered,Ended,Abandoned,Rep\n"
        "c1,billing,2024-05-06 09:00:00,2024-05-06 09:00:12,2024-05-06 09:05:12,,ann\n"
        "c2,billing,2024-05-06 09:01:00,,,2024-05-06 09:01:40,\n"
    )
    mapping = {
        "Call": "interaction_id",
        "Skill": "queue",
        "Start": "arrival_time",
        "Answered": "answer_time",
        "Ended": "end_time",
        "Abandoned": "abandon_time",
        "Rep": "agent",
    }
    frame = read_table(path, mapping, channel="chat")
    assert list(frame.columns) == list(INTERACTION_COLUMNS)
    one, two = frame.iloc[0], frame.iloc[1]
    assert (one.outcome, one.wait_s, one.handle_s, one.agent) == ("answered", 12.0, 300.0, "ann")
    assert (two.outcome, two.wait_s, two.handle_s) == ("abandoned", 40.0, 0.0)
    assert set(frame["channel"]) == {"chat"} and set(frame["segment"]) == {"default"}
    # parquet: same content, same result; ids derived from the file when not mapped
    parquet = tmp_path / "acd.parquet"
    pd.read_csv(path).to_parquet(parquet)
    from_parquet = read_interactions(parquet, "parquet", mapping=mapping, channel="chat")
    pd.testing.assert_frame_equal(frame.drop(columns="source"), from_parquet.drop(columns="source"))
    no_ids = {k: v for k, v in mapping.items() if k != "Call"}
    content_ids = read_table(path, no_ids)["interaction_id"].tolist()
    assert len(set(content_ids)) == 2 and all(i.startswith("c") for i in content_ids)
    assert read_table(path, no_ids)["interaction_id"].tolist() == content_ids  # stable


def test_generic_csv_custom_time_format_and_bad_time(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text(
        "id,q,t,w,h,o\n1,x,06/05/2024 09:00,5,60,handled\n2,x,06/05/2024 25:00,5,0,abandon\n"
    )
    mapping = {"id": "interaction_id", "q": "queue", "t": "arrival_time", "w": "wait_s",
               "h": "handle_s", "o": "outcome"}  # fmt: skip
    with pytest.raises(DataError, match=r"log.csv:3: arrival_time"):
        read_table(path, mapping, time_format="%d/%m/%Y %H:%M")
    path.write_text("id,q,t,w,h,o\n1,x,06/05/2024 09:00,5,60,handled\n")
    frame = read_table(path, mapping, time_format="%d/%m/%Y %H:%M")
    assert frame.iloc[0].arrival_time == pd.Timestamp("2024-05-06 09:00")
    assert frame.iloc[0].answer_time == pd.Timestamp("2024-05-06 09:00:05")


def test_generic_outcome_spellings_and_durations_are_checked(tmp_path):
    path = tmp_path / "log.csv"
    header = "interaction_id,queue,arrival_time,outcome,wait_s,handle_s\n"
    path.write_text(header + "1,q,2026-10-05 08:00, Served ,5,60\n2,q,2026-10-05 08:01,HANG,9,\n")
    frame = read_table(path)
    assert frame["outcome"].tolist() == ["answered", "abandoned"]
    assert frame["handle_s"].tolist() == [60.0, 0.0]
    path.write_text(header + "1,q,2026-10-05 08:00,answered,5,60\n2,q,2026-10-05 08:01,lost,9,\n")
    with pytest.raises(DataError, match=r"log.csv:3: outcome: expected an outcome .*got 'lost'"):
        read_table(path)
    path.write_text(header + "1,q,2026-10-05 08:00,answered,-5,60\n")
    with pytest.raises(DataError, match=r"log.csv:2: wait_s: expected a number of seconds from 0"):
        read_table(path)


def test_openwfm_format_round_trip(tmp_path):
    frame = read_anonymous_bank(bank_file(tmp_path))
    for name in ("log.csv", "log.parquet"):
        path = tmp_path / name
        if name.endswith(".csv"):
            frame.to_csv(path, index=False)
        else:
            frame.to_parquet(path, index=False)
        back = read_interactions(path, "openwfm")
        pd.testing.assert_frame_equal(frame, back)
    with pytest.raises(DataError, match="unknown format 'xls'"):
        read_interactions(tmp_path / "log.csv", "xls")


def test_store_is_idempotent_atomic_and_filters(tmp_path):
    frame = read_anonymous_bank(bank_file(tmp_path))
    with InteractionStore(tmp_path / "s.duckdb") as store:
        first = store.ingest(frame)
        assert (first.read, first.added, first.skipped) == (7, 7, 0)
        assert first.outcomes == {"answered": 3, "abandoned": 1, "ivr_only": 2, "excluded": 1}
        again = store.ingest(frame)
        assert (again.added, again.skipped) == (0, 7)
        assert store.count() == 7 and store.count("excluded") == 1
        broken = frame.copy()
        broken["interaction_id"] = broken["interaction_id"] + "-new"
        broken.loc[4, "outcome"] = "lost"
        with pytest.raises(DataError, match="outcome"):
            store.ingest(broken)
        assert store.count() == 7
        back = store.interactions()
        pd.testing.assert_frame_equal(
            back.sort_values("interaction_id").reset_index(drop=True),
            frame.sort_values("interaction_id").reset_index(drop=True),
        )
        assert store.interactions(queues=["PS"])["queue"].eq("PS").all()
        assert len(store.interactions(queues=["PS"])) == 3
        day = store.interactions(start="1999-01-03", end="1999-01-04")
        assert sorted(day["interaction_id"]) == ["AA0101-2", "AA0201-5", "AA0201-6", "AA0202-7"]
        assert store.sources()["interactions"].tolist() == [7]
    # reopening sees the same rows
    with InteractionStore(tmp_path / "s.duckdb") as store:
        assert store.count() == 7


def test_real_february_timeline_matches_the_clock_fields():
    """Times rebuilt from durations agree with the raw clock fields, across midnight too."""
    from conftest import require_shared_data

    path = require_shared_data("anonymous-bank/raw/02_February.txt")
    frame = read_anonymous_bank(path)
    raw = pd.read_csv(path, sep="\t", dtype=str)  # independent of the reader
    assert len(frame) == len(raw) == 33_344
    assert frame["outcome"].value_counts().to_dict() == {
        "answered": 27_162,
        "abandoned": int(((raw["outcome"] == "HANG") & (raw["q_time"].astype(int) > 0)).sum()),
        "ivr_only": int(((raw["outcome"] == "HANG") & (raw["q_time"].astype(int) == 0)).sum()),
        "excluded": 278,
    }
    served = frame["end_time"].notna().to_numpy()
    clock_exit = pd.to_timedelta(raw["ser_exit"]).dt.total_seconds().to_numpy()
    rebuilt = (frame["end_time"] - frame["end_time"].dt.normalize()).dt.total_seconds().to_numpy()
    offset = ((rebuilt - clock_exit + 43200) % 86400 - 43200)[served]
    # the files' clocks disagree by a second or two (data README); in about 1% of served calls
    # ser_start lies up to minutes before q_exit; never a whole day (midnight handled)
    assert (abs(offset) <= 5).mean() > 0.985
    assert abs(offset).max() < 3600
    crossed = (
        served & (pd.to_timedelta(raw["ser_exit"]) < pd.to_timedelta(raw["ser_start"])).to_numpy()
    )
    assert crossed.sum() > 0
    days = pd.to_datetime(raw["date"], format="%y%m%d")
    assert (frame["end_time"].dt.normalize()[crossed] == days[crossed] + pd.Timedelta("1D")).all()
    # the February record that joined the queue at midnight (q_start 0:00:00, q_time 27)
    midnight = (raw["q_start"] == "0:00:00") & (raw["q_time"] == "27")
    assert midnight.sum() == 1
    assert frame.loc[midnight.to_numpy(), "wait_s"].tolist() == [27.0]
    assert frame.loc[midnight.to_numpy(), "outcome"].isin(["answered", "abandoned"]).all()


def test_other_stages_share_the_store_connection(tmp_path):
    # quality tables live in the interactions' DuckDB file, through the store's public connection
    from openwfm.quality.store import QualityStore

    path = tmp_path / "s.duckdb"
    with InteractionStore(path) as store:
        assert store.connection() is store.connection()
        assert QualityStore(store).table("survey_response").empty
        names = {r[0] for r in store.connection().execute("SHOW TABLES").fetchall()}
    assert {"interactions", "survey_response"} <= names
    import duckdb

    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).close()  # a DuckDB file that is not an openwfm store
    with pytest.raises(StoreError, match="not an openwfm store"):
        InteractionStore(other, read_only=True).connection()

"""Reliability sweep, class "one line naming the flag or file:line:field, with plain values".

Rows B2 (memory guard for staffing), B12/B13/C13/C14 (forecast options and values), B14, C3,
C4, C5, D3 (one line, no warnings first), D4 (flags, not parameter names), D5 (values, not
``np.float64(...)``), D6, D12, D16, D17 of ``shared/reliability/cli-sweep.md``.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from _cli import one_error_line, run
from openwfm.data.synthetic import generate_interactions
from openwfm.errors import ParameterError
from openwfm.forecast.history import history_from_interactions
from openwfm.scenario import example_path, load_scenario

CENTER = example_path()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("msg")
    # three weeks across the end of summer time in Amsterdam (2026-10-25)
    frame = generate_interactions(load_scenario(CENTER), pd.Timestamp("2026-10-12").date(), 3, 1)
    frame.to_csv(folder / "gen.csv", index=False)
    history = history_from_interactions(frame, 15)
    history.to_csv(folder / "hist.csv", index=False)
    forecast = history[history["interval_start"] >= "2026-10-26"].rename(
        columns={"offered": "forecast"}
    )
    forecast.to_csv(folder / "fc.csv", index=False)
    return folder


def _forecast_with(files, tmp_path, column, value, row=3, name="fc_bad.csv"):
    table = pd.read_csv(files / "fc.csv", dtype=str)
    table.loc[row, column] = value
    path = tmp_path / name
    table.to_csv(path, index=False)
    return path


def test_b2_a_huge_forecast_is_refused_before_memory_is_allocated(
    files, tmp_path, monkeypatch, capsys
):
    path = _forecast_with(files, tmp_path, "forecast", "1e12")
    code, out, err = run(monkeypatch, capsys, "staff", CENTER, "--forecast", path)
    one_error_line(code, err, f"{path}:5", "forecast", "Erlangs")


@pytest.mark.parametrize(("value", "fragment"), [("-1", "-1.0"), ("0", "0.0"), ("inf", "inf")])
def test_c5_a_bad_handle_time_in_the_forecast_is_refused(
    files, tmp_path, monkeypatch, capsys, value, fragment
):
    path = _forecast_with(files, tmp_path, "aht_s", value)
    code, out, err = run(monkeypatch, capsys, "staff", CENTER, "--forecast", path)
    one_error_line(code, err, f"{path}:5", "aht_s", fragment)


def test_b14_c14_d5_bad_interval_start_inf_and_negative_values(
    files, tmp_path, monkeypatch, capsys
):
    path = _forecast_with(files, tmp_path, "interval_start", "garbage")
    code, out, err = run(monkeypatch, capsys, "staff", CENTER, "--forecast", path)
    one_error_line(code, err, f"{path}:5", "interval_start", "garbage")
    path = _forecast_with(files, tmp_path, "forecast", "inf")
    code, out, err = run(monkeypatch, capsys, "staff", CENTER, "--forecast", path)
    one_error_line(code, err, f"{path}:5", "forecast")
    assert "Warning" not in err
    path = _forecast_with(files, tmp_path, "forecast", "-5")
    code, out, err = run(monkeypatch, capsys, "staff", CENTER, "--forecast", path)
    one_error_line(code, err, "got -5.0")
    assert "np." not in err


def test_c4_interval_minutes_must_match_the_data(files, monkeypatch, capsys):
    fc = files / "fc.csv"
    for minutes in ("0", "7", "-15"):
        code, out, err = run(
            monkeypatch, capsys, "staff", CENTER, "--forecast", fc, "--interval-minutes", minutes
        )
        one_error_line(code, err, "--interval-minutes", minutes)
    code, out, err = run(
        monkeypatch, capsys, "staff", CENTER, "--forecast", fc, "--interval-minutes", "60"
    )
    one_error_line(code, err, "15 minutes apart", "60")
    code, out, err = run(
        monkeypatch, capsys, "staff", CENTER, "--forecast", fc, "--interval-minutes", "15"
    )
    assert code == 0, err


def test_d12_semicolons_and_header_only_forecasts(files, tmp_path, monkeypatch, capsys):
    semi = tmp_path / "semicolon.csv"
    semi.write_text(pd.read_csv(files / "fc.csv").head(3).to_csv(index=False, sep=";"))
    code, out, err = run(monkeypatch, capsys, "staff", CENTER, "--forecast", semi)
    one_error_line(code, err, f"{semi}:1", "semicolon")
    header = tmp_path / "header_only.csv"
    header.write_text((files / "fc.csv").read_text().splitlines()[0] + "\n")
    code, out, err = run(monkeypatch, capsys, "staff", CENTER, "--forecast", header)
    one_error_line(code, err, str(header), "no rows")


def test_c3_d16_erlang_json_is_strict_and_caps_are_not_ignored(monkeypatch, capsys):
    base = ("erlang", "--calls-per-interval", "100", "--aht-s", "180")
    code, out, err = run(monkeypatch, capsys, *base, "--agents", "5", "--json")
    assert code == 0, err
    data = json.loads(out, parse_constant=lambda name: pytest.fail(f"non-JSON {name}"))
    assert data["asa_s"] is None and "note" in data
    code, out, err = run(monkeypatch, capsys, *base, "--max-abandon", "0.01")
    one_error_line(code, err, "--max-abandon", "--patience-s")
    code, out, err = run(monkeypatch, capsys, *base, "--agents", "5", "--max-occupancy", "0.5")
    one_error_line(code, err, "--max-occupancy")


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("kpi", "--interval", "7"), ("--interval:",)),
        (("kpi", "--target-s", "-5"), ("--target-s",)),
        (("erlang", "--calls-per-interval", "10", "--aht-s", "0"), ("--aht-s",)),
        (("simulate", CENTER, "-r", "0"), ("--replications",)),
        (
            ("erlang", "--calls-per-interval", "10", "--aht-s", "10", "--agents", "10.5"),
            ("--agents",),
        ),
        (("simulate",), ("scenario",)),
    ],
)
def test_d3_d4_usage_errors_are_one_line_naming_the_flag(
    files, tmp_path, monkeypatch, capsys, args, fragments
):
    if args[0] == "kpi":
        store = tmp_path / "s.duckdb"
        assert run(monkeypatch, capsys, "ingest", files / "gen.csv", "--store", store)[0] == 0
        args = (*args, "--store", store)
    code, out, err = run(monkeypatch, capsys, *args)
    one_error_line(code, err, *fragments)
    assert "_" not in err.split(":")[2] or "--" in err  # a flag, not a Python name


def test_d3_ingest_prints_no_empty_line_before_an_error(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("interaction_id,queue,arrival_time,outcome\n1,voice,never,answered\n")
    code, out, err = run(monkeypatch, capsys, "ingest", bad, "--store", tmp_path / "s.duckdb")
    one_error_line(code, err, "arrival_time")
    assert out == ""


def test_d4_cli_message_translates_parameter_names():
    from openwfm.cli import cli_message

    error = ParameterError("extra_shrinkage must be < 1, got 1.0", field="extra_shrinkage")
    message = cli_message(error, ["schedule", "x.yaml", "--shrinkage", "1"])
    assert message == "--shrinkage: must be < 1, got 1.0"
    interval = ParameterError("interval_minutes must be one of 5", field="interval_minutes")
    assert cli_message(interval, ["kpi"]).startswith("--interval:")
    assert cli_message(interval, ["staff", "c.yaml"]).startswith("--interval-minutes:")


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("--queue", "nope", "--horizon-days", "7"), ("--queue", "nope")),
        (("--horizon-days", "100000"), ("--horizon-days",)),
        (("--horizon-days", "7", "--origins", "0"), ("--origins",)),
        (("--horizon-days", "7", "--origins", "-1"), ("--origins",)),
    ],
)
def test_b12_b13_c13_forecast_options(files, tmp_path, monkeypatch, capsys, args, fragments):
    out = tmp_path / "f.csv"
    code, stdout, err = run(
        monkeypatch, capsys, "forecast", "--history", files / "hist.csv", "--out", out, *args
    )
    one_error_line(code, err, *fragments)
    assert not out.exists()


def test_b13_c13_backtest_unknown_queue_and_origins_used(files, monkeypatch, capsys):
    hist = files / "hist.csv"
    code, out, err = run(
        monkeypatch, capsys, "backtest", "--history", hist, "--methods", "classic",
        "--queue", "nope",
    )  # fmt: skip
    one_error_line(code, err, "--queue", "nope")
    code, out, err = run(
        monkeypatch, capsys, "backtest", "--history", hist, "--methods", "classic",
        "--origins", "100000", "--horizon-days", "1",
    )  # fmt: skip
    assert code == 0, err
    assert "100000 origins," not in out and "of 100000" in out


def test_c14_d17_inf_history_and_event_fields(files, tmp_path, monkeypatch, capsys):
    table = pd.read_csv(files / "hist.csv", dtype=str)
    table.loc[5, "offered"] = "inf"
    inf = tmp_path / "inf.csv"
    table.to_csv(inf, index=False)
    out = tmp_path / "f.csv"
    code, stdout, err = run(
        monkeypatch, capsys, "forecast", "--history", inf, "--horizon-days", "7", "--out", out
    )
    one_error_line(code, err, f"{inf}:7", "offered")
    hist = files / "hist.csv"
    for body, fragment in (
        ("promo,2026-10-20,2026-10-19,,\n", ": end: event 'promo' ends before it starts"),
        ("promo,2026-10-20,2026-10-21,,-1\n", ": uplift: event 'promo'"),
        ("promo,2026-10-20,2026-10-21,,1e308\n", ": uplift: event 'promo'"),
    ):
        events = tmp_path / "ev.csv"
        events.write_text("name,start,end,queues,uplift\n" + body)
        code, stdout, err = run(
            monkeypatch, capsys, "forecast", "--history", hist, "--horizon-days", "7",
            "--out", out, "--events", events,
        )  # fmt: skip
        one_error_line(code, err, f"{events}:2{fragment}")


def test_b5_forecast_history_with_dst_offsets(files, tmp_path, monkeypatch, capsys):
    table = pd.read_csv(files / "hist.csv")
    starts = pd.to_datetime(table["interval_start"])
    zone = starts.dt.tz_localize("Europe/Amsterdam", ambiguous="NaT", nonexistent="NaT")
    table = table[zone.notna()]
    table["interval_start"] = zone[zone.notna()].map(lambda t: t.isoformat())
    assert table["interval_start"].str.endswith("+02:00").any()
    assert table["interval_start"].str.endswith("+01:00").any()  # the history crosses Oct 25
    path = tmp_path / "tz.csv"
    table.to_csv(path, index=False)
    out = tmp_path / "f.csv"
    code, stdout, err = run(
        monkeypatch, capsys, "forecast", "--history", path, "--horizon-days", "7", "--out", out
    )
    assert code == 0, err
    assert pd.read_csv(out)["interval_start"].str.startswith("2026-11-02T08:00").any()


def test_d6_validate_names_unknown_queues(files, monkeypatch, capsys):
    code, out, err = run(
        monkeypatch, capsys, "validate", "--history", files / "gen.csv", "--queues", "nope"
    )
    one_error_line(code, err, "--queues", "nope")
    other = files / "other.yaml"
    other.write_text(CENTER.read_text().replace("name: voice", "name: phone"))
    code, out, err = run(
        monkeypatch, capsys, "validate", "--history", files / "gen.csv", "--scenario", other,
        "--queues", "phone",
    )  # fmt: skip
    one_error_line(code, err, "phone")


def test_d16_an_event_for_an_unknown_queue_is_an_error(files, tmp_path, monkeypatch, capsys):
    events = tmp_path / "unknown_q.csv"
    events.write_text("name,start,end,queues,uplift\npromo,2026-11-03,2026-11-04,fax,1.5\n")
    code, out, err = run(
        monkeypatch, capsys, "forecast", "--history", files / "hist.csv", "--horizon-days", "7",
        "--out", tmp_path / "f.csv", "--events", events,
    )  # fmt: skip
    one_error_line(code, err, str(events), "fax")

"""The declared tables (openwfm.tables) and the one check every stage's entry uses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openwfm.errors import DataError
from openwfm.tables import (
    ALL_TABLES,
    FORECAST,
    HISTORY,
    RATES,
    Column,
    Table,
    check_table,
    rename_columns,
)

RATE_TABLE = Table(
    "rates",
    "a small table for the properties",
    (
        Column("interval_start", "time"),
        Column("queue"),
        Column("arrival_rate_per_s", "number", "contacts/s", min=0.0),
        Column("agents", "number", "agents", min=0.0, max=50.0, whole=True),
    ),
    keys=("queue", "interval_start"),
)
BAD_CELLS = {
    "interval_start": ["yesterday", "2026-13-01T08:00:00", ""],
    "queue": [None, "  "],
    "arrival_rate_per_s": ["fast", -0.5, float("inf"), None],
    "agents": [2.5, -1, 51, "many", None],
}


def _good(rows: int) -> pd.DataFrame:
    starts = pd.date_range("2026-11-02 08:00", periods=rows, freq="15min")
    return pd.DataFrame(
        {
            "interval_start": starts.strftime("%Y-%m-%dT%H:%M:%S"),
            "queue": "voice",
            "arrival_rate_per_s": np.linspace(0.0, 2.0, rows),
            "agents": np.arange(rows) % 40,
        }
    )


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 30),
    data=st.data(),
)
def test_check_table_names_the_line_and_field_of_the_one_bad_cell(rows, data):
    """One bad cell anywhere: the error names CSV line (row + 2), the field and the value."""
    frame = _good(rows).astype(object)
    row = data.draw(st.integers(0, rows - 1), label="row")
    field = data.draw(st.sampled_from(sorted(BAD_CELLS)), label="field")
    value = data.draw(st.sampled_from(BAD_CELLS[field]), label="value")
    frame.loc[row, field] = value
    with pytest.raises(DataError) as caught:
        check_table(frame, RATE_TABLE, source="r.csv")
    error = caught.value
    assert (error.file, error.line, error.field) == ("r.csv", row + 2, field)
    text = str(error)
    assert "\n" not in text and text.startswith(f"r.csv:{row + 2}: {field}: ")


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 30), bad=st.lists(st.integers(0, 29), min_size=2, max_size=4))
def test_check_table_reports_the_first_bad_row(rows, bad):
    frame = _good(rows).astype(object)
    inside = sorted({b for b in bad if b < rows})
    for row in inside:
        frame.loc[row, "arrival_rate_per_s"] = -1.0
    if not inside:
        checked = check_table(frame, RATE_TABLE)
        assert checked["arrival_rate_per_s"].dtype == "float64"
        return
    with pytest.raises(DataError) as caught:
        check_table(frame, RATE_TABLE)
    assert caught.value.line == inside[0] + 2


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 30))
def test_a_good_table_passes_with_the_declared_dtypes(rows):
    frame = _good(rows)
    checked = check_table(frame, RATE_TABLE)
    assert {c: str(checked[c].dtype) for c in RATE_TABLE.names} == {
        "interval_start": "datetime64[ns]",
        "queue": "object",
        "arrival_rate_per_s": "float64",
        "agents": "int64",
    }
    assert checked["arrival_rate_per_s"].tolist() == frame["arrival_rate_per_s"].tolist()
    assert len(checked) == rows


def test_duplicate_keys_name_both_lines():
    frame = pd.concat([_good(4), _good(4).iloc[[2]]], ignore_index=True)
    with pytest.raises(DataError, match=r"first at line 4") as caught:
        check_table(frame, RATE_TABLE, source="r.csv")
    assert caught.value.line == 6


def test_missing_column_and_runtime_choices():
    with pytest.raises(DataError, match="missing column 'queue'"):
        check_table(_good(3).drop(columns="queue"), RATE_TABLE)
    with pytest.raises(DataError, match=r"unknown queue 'voice' \(known: chat, email\)") as caught:
        check_table(_good(3), RATE_TABLE, choices={"queue": ["email", "chat"]})
    assert caught.value.line == 2 and caught.value.field == "queue"


def test_an_empty_text_cell_is_described_with_its_article():
    table = Table("evaluations", "", (Column("evaluator"), Column("queue")))
    frame = pd.DataFrame({"evaluator": ["ann", " "], "queue": ["voice", "voice"]})
    with pytest.raises(DataError, match=r"e.csv:3: evaluator: expected an evaluator, got an"):
        check_table(frame, table, source="e.csv")
    with pytest.raises(DataError, match=r"queue: expected a queue, got an empty cell"):
        check_table(frame.assign(evaluator="ann", queue=["voice", ""]), table)


def test_time_offsets_wall_clock_and_local():
    """Interval labels keep their wall-clock time; instants are converted to the center's zone."""
    labels = pd.DataFrame(
        {"interval_start": ["2026-10-25T01:00:00+02:00", "2026-10-25T02:00:00+01:00"],
         "queue": "q", "offered": [1, 2]}
    )  # fmt: skip
    checked = check_table(labels, HISTORY)
    assert checked["interval_start"].dt.hour.tolist() == [1, 2]
    rates = pd.DataFrame(
        {"interval_start": ["2026-11-02T07:00:00Z"], "queue": "q", "arrival_rate_per_s": [1.0]}
    )
    local = check_table(rates, RATES, timezone="Europe/Berlin")
    assert local["interval_start"].iloc[0] == pd.Timestamp("2026-11-02 08:00")
    with pytest.raises(DataError, match="time zone") as caught:
        check_table(rates, RATES, source="rates.csv")
    assert caught.value.line == 2 and caught.value.field == "interval_start"


def test_every_declaration_is_consistent():
    for table in ALL_TABLES:
        names = table.names
        assert len(names) == len(set(names)), table.name
        assert set(table.keys) <= set(names), table.name
        empty = table.empty()
        assert list(empty.columns) == names
        # an empty table of the declared columns passes its own check
        check_table(empty, table)


def test_the_forecast_carries_its_dispersion():
    """The forecast's ``dispersion`` is the phi its 80% bounds were built from, so a simulation
    samples uncertainty from it without reverse-engineering the bounds."""
    from openwfm.forecast import Forecaster
    from openwfm.forecast.forecaster import Z

    rng = np.random.default_rng(3)
    days = pd.date_range("2026-01-05", periods=42, freq="D")
    starts = [d + pd.Timedelta(hours=h) for d in days for h in range(8, 18)]
    level = np.array([40.0 + 20 * np.sin((s.hour - 8) / 3) for s in starts])
    offered = rng.negative_binomial(8, 8 / (8 + level))
    history = pd.DataFrame({"interval_start": starts, "queue": "voice", "offered": offered})
    forecast = Forecaster(horizon_days=7, backtest_origins=4).fit(history).predict()
    checked = check_table(forecast, FORECAST)
    assert (checked["dispersion"] >= 0).all()
    f = checked["forecast"].to_numpy()
    sd = np.sqrt(f + checked["dispersion"].to_numpy() * f**2)
    np.testing.assert_allclose(checked["upper_80"], f + Z[80] * sd, rtol=1e-9)


# --- at the level a user sees: one bad row through the CLI is one line naming file:line:field

EXAMPLES = Path(__file__).resolve().parents[1] / "src" / "openwfm" / "examples"


def _rates(path: Path, bad_row: int | None = None) -> Path:
    starts = pd.date_range("2026-11-02 08:00", periods=8, freq="15min")
    frame = pd.DataFrame(
        {
            "interval_start": starts.strftime("%Y-%m-%dT%H:%M:%S"),
            "queue": "voice",
            "arrival_rate_per_s": 0.05,
        }
    ).astype(object)
    if bad_row is not None:
        frame.loc[bad_row, "arrival_rate_per_s"] = "-0.1"
    frame.to_csv(path, index=False)
    return path


def _forecast_file(path: Path) -> Path:
    starts = pd.date_range("2026-11-02 08:00", periods=8, freq="15min")
    frame = pd.DataFrame(
        {"interval_start": starts.strftime("%Y-%m-%dT%H:%M:%S"), "queue": "voice", "forecast": 30}
    ).astype(object)
    frame.loc[5, "forecast"] = "lots"
    frame.to_csv(path, index=False)
    return path


def _roster(path: Path) -> Path:
    frame = pd.read_csv(EXAMPLES / "capacity" / "roster.csv", dtype=str)
    frame.loc[2, "hire_date"] = "last spring"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("case", "fragments"),
    [
        ("simulate", ["rates.csv:5: arrival_rate_per_s: expected a rate >= 0", "got -0.1"]),
        ("staff", ["forecast.csv:7: forecast: expected a finite number >= 0", "'lots'"]),
        ("capacity", ["roster.csv:4: hire_date: expected a date", "'last spring'"]),
    ],
)
def test_a_bad_row_through_the_cli_is_one_line(tmp_path, monkeypatch, capsys, case, fragments):
    from _cli import one_error_line, run

    scenario = EXAMPLES / "center.yaml"
    if case == "simulate":
        args = ["simulate", scenario, "--arrivals", _rates(tmp_path / "rates.csv", bad_row=3),
                "--start", "2026-11-02", "--days", "1", "--replications", "1"]  # fmt: skip
    elif case == "staff":
        args = ["staff", scenario, "--forecast", _forecast_file(tmp_path / "forecast.csv"),
                "--out", tmp_path / "req.csv"]  # fmt: skip
    else:
        roster = _roster(tmp_path / "roster.csv")
        args = ["capacity", scenario, "--plan", EXAMPLES / "capacity" / "capacity.yaml",
                "--forecast", EXAMPLES / "capacity" / "weekly.csv",
                "--roster", roster, "--out", tmp_path / "cap"]  # fmt: skip
    code, _, err = run(monkeypatch, capsys, *args)
    one_error_line(code, err, *fragments)
    assert not (tmp_path / "req.csv").exists() and not (tmp_path / "cap").exists()


def test_the_same_rates_without_the_bad_row_pass(tmp_path):
    """The CLI test above fails because of the bad cell, not the file around it."""
    from openwfm.scenario import load_scenario
    from openwfm.sim.arrivals import check_rates

    scenario = load_scenario(EXAMPLES / "center.yaml")
    good = check_rates(pd.read_csv(_rates(tmp_path / "rates.csv")), scenario, "rates.csv")
    assert len(good) == 8 * len(scenario.segment_shares("voice"))
    with pytest.raises(DataError) as caught:
        check_rates(pd.read_csv(_rates(tmp_path / "bad.csv", 3)), scenario, "bad.csv")
    assert (caught.value.line, caught.value.field) == (5, "arrival_rate_per_s")


# --- the stages write the tables as declared


def test_staffing_kpis_and_the_router_export_write_the_declared_tables():
    import datetime as dt
    from types import SimpleNamespace

    from openwfm.data.intervals import interval_kpis
    from openwfm.data.synthetic import generate_interactions
    from openwfm.routing.export import interactions_frame
    from openwfm.scenario import load_scenario
    from openwfm.staffing import requirements
    from openwfm.tables import INTERACTIONS, INTERVAL_KPIS, REQUIREMENTS

    scenario = load_scenario(EXAMPLES / "center.yaml")
    interactions = generate_interactions(scenario, dt.date(2026, 11, 2), 1, seed=1)
    check_table(interactions, INTERACTIONS)
    kpis = interval_kpis(interactions, by=("queue", "segment", "channel"))
    assert list(kpis.columns) == INTERVAL_KPIS.names
    check_table(kpis, INTERVAL_KPIS)
    offered = interval_kpis(interactions)
    required = requirements(offered[offered["queue"] == "voice"], scenario)
    assert list(required.columns) == REQUIREMENTS.names
    check_table(required, REQUIREMENTS)

    def contact(state: str, answered: float | None) -> SimpleNamespace:
        ended = 400.0 if state != "completed" else 700.0
        return SimpleNamespace(
            contact_id=f"c-{state}", queue="voice", channel="voice", segment="default",
            arrival_s=100.0, answered_s=answered, wrapup_s=None, ended_s=ended, state=state,
            agent_id="a1" if answered else None,
        )  # fmt: skip

    origin = pd.Timestamp("2026-11-02")
    exported = interactions_frame(
        [contact("completed", 130.0), contact("abandoned", None), contact("canceled", None)],
        lambda s: origin + pd.Timedelta(seconds=s) if s is not None else pd.NaT,
    )
    checked = check_table(exported, INTERACTIONS)
    assert checked["outcome"].tolist() == ["answered", "abandoned", "excluded"]


def test_a_schedule_writes_the_declared_shift_activity_and_coverage_tables():
    import datetime as dt

    from openwfm.scenario import parse_scenario
    from openwfm.schedule import schedule_agents
    from openwfm.tables import ACTIVITIES, COVERAGE, SHIFTS

    scenario = parse_scenario(
        "queues: [{name: voice, aht_s: 300}]\nagents:\n"
        + "".join(f"  - {{name: a{i}, skills: {{voice: 1}}}}\n" for i in range(2))
        + "schedule:\n  shift_templates:\n"
        '    - {name: day, earliest_start: "09:00", latest_start: "09:00", lengths_min: [480]}\n'
    )
    monday = pd.Timestamp(dt.date(2026, 1, 5))
    starts = pd.date_range(monday + pd.Timedelta(hours=9), periods=32, freq="15min")
    need = pd.DataFrame({"interval_start": starts, "queue": "voice", "required_agents": 1})
    result = schedule_agents(
        scenario, need, weeks=1, time_limit_s=10, deterministic=True, strategy="single"
    )
    for frame, table in ((result.shifts, SHIFTS), (result.activities, ACTIVITIES),
                         (result.coverage, COVERAGE)):  # fmt: skip
        assert list(frame.columns) == table.names, table.name
        check_table(frame, table)


def test_declared_columns_are_the_ones_the_modules_use():
    from openwfm.forecast.commands import FORECAST_COLUMNS
    from openwfm.intraday.states import STATE_EVENT_COLUMNS
    from openwfm.sim.metrics import METRICS, OUTBOUND_METRICS
    from openwfm.tables import SIMULATION_INTERVALS, STATE_EVENTS

    assert set(FORECAST_COLUMNS) <= set(FORECAST.names)
    assert STATE_EVENT_COLUMNS == STATE_EVENTS.dtypes()
    metrics = [c.name for c in SIMULATION_INTERVALS.columns if c.kind == "number"]
    assert metrics == [f"{m}{s}" for m in METRICS for s in ("", "_ci_low", "_ci_high")]
    # outbound columns are added only for centers with outbound work: declared optional
    optional = {c.name for c in SIMULATION_INTERVALS.columns if not c.required}
    assert optional == {f"{m}{s}" for m in OUTBOUND_METRICS for s in ("", "_ci_low", "_ci_high")}


def test_a_simulation_writes_the_declared_interval_table(tmp_path):
    from openwfm.scenario import load_scenario
    from openwfm.sim import simulate
    from openwfm.tables import SIMULATION_INTERVALS

    scenario = load_scenario(EXAMPLES / "center.yaml")
    rates = pd.read_csv(_rates(tmp_path / "rates.csv"))
    result = simulate(scenario, replications=2, seed=3, scheduler="sync", rates=rates)
    assert list(result.intervals.columns) == SIMULATION_INTERVALS.required
    checked = check_table(result.intervals, SIMULATION_INTERVALS)
    assert (checked["queue"] == "all").any() and (checked["segment"] == "all").any()
    # a center with outbound work writes the optional outbound columns too
    outbound = scenario.model_copy(
        update={
            "queues": [
                queue.model_copy(update={"outbound_per_hour": 30.0, "outbound_aht_s": 300.0})
                for queue in scenario.queues
            ]
        }
    )
    blended = simulate(outbound, replications=2, seed=3, scheduler="sync", rates=rates)
    assert list(blended.intervals.columns) == SIMULATION_INTERVALS.names
    assert check_table(blended.intervals, SIMULATION_INTERVALS)["outbound"].sum() > 0


def test_a_resolution_with_a_bad_time_names_its_line():
    from openwfm.intraday.timeline import check_resolutions

    frame = pd.DataFrame(
        {
            "agent_id": ["a1", "a2"],
            "start": ["2026-11-02T09:00:00", "half past nine"],
            "end": ["2026-11-02T09:30:00", "2026-11-02T10:00:00"],
            "resolution": ["Approved ", "neutral"],
        }
    )
    with pytest.raises(DataError) as caught:
        check_resolutions(frame, file="res.csv")
    assert str(caught.value).startswith("res.csv:3: start: expected an ISO 8601 time")
    good = check_resolutions(frame.iloc[:1], file="res.csv")
    assert good["resolution"].tolist() == ["approved"] and good["by"].isna().all()


def test_rename_columns_maps_checks_and_leaves_the_input_alone():
    raw = pd.DataFrame({" Agent ": ["a"], "When": ["2026-11-02 08:00"], "ts": ["x"]})
    mapping = {"When": "ts", "Agent": "agent_id"}
    known = ("agent_id", "ts", "state")
    renamed = rename_columns(raw, mapping, source="s.csv", required=("agent_id", "ts"), known=known)
    assert list(renamed.columns) == ["agent_id", "ts"]  # a repeated name keeps its first column
    assert renamed["ts"].tolist() == ["2026-11-02 08:00"]
    assert list(raw.columns) == [" Agent ", "When", "ts"]
    with pytest.raises(DataError, match=r"^s\.csv: mapping: mapping targets unknown column\(s\) "):
        rename_columns(raw, {"When": "when"}, source="s.csv", known=("ts",))
    with pytest.raises(DataError, match=r"^s\.pq: Start: missing column\(s\) Start named in"):
        rename_columns(raw, {"Start": "ts"}, source="s.pq", line=None)
    with pytest.raises(DataError, match=r"^s\.csv:1: state: missing column 'state' \(give it;"):
        rename_columns(raw, {}, source="s.csv", required=("state",), hints={"state": "give it"})

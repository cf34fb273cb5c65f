"""Reliability sweep, class "an output folder describes one run".

Rows A2b (demo mixing two runs), A3 (generate wrapping dates), C16 (DST in generate), C17
(demo options checked before writing), B11 (negative seeds) of
``shared/reliability/cli-sweep.md``.
"""

from __future__ import annotations

import pandas as pd
import pytest

import openwfm.plan
from _cli import one_error_line, run
from openwfm.data.store import InteractionStore
from openwfm.errors import ParameterError
from openwfm.scenario import example_path


def _failing_plan(*args, **kwargs):
    raise ParameterError("no schedule found within the time limit of 1 s", field="--time-limit")


def test_a2b_demo_twice_into_one_folder_describes_the_second_run(tmp_path, monkeypatch, capsys):
    out = tmp_path / "demoS"
    # the plan stage is replaced by one that fails as a timed-out schedule does: the history
    # outputs must describe the second seed only, and no plan of the first run may stay
    monkeypatch.setattr(openwfm.plan, "run_plan", _failing_plan)
    plan = out / "plan"
    plan.mkdir(parents=True)
    (plan / "summary.json").write_text("{}")  # a previous run's plan
    (plan / "report.html").write_text("old")
    counts = []
    for seed in ("1", "2"):
        code, stdout, err = run(
            monkeypatch, capsys, "demo", "--out", out, "--weeks", "3", "--seed", seed,
            "--time-limit", "5", "--replications", "2",
        )  # fmt: skip
        assert code == 2 and "time limit" in err
        interactions = pd.read_parquet(out / "interactions.parquet")
        with InteractionStore(out / "openwfm.duckdb", read_only=True) as store:
            assert store.count() == len(interactions)
        daily = pd.read_csv(out / "kpis_daily.csv")
        offered = interactions["outcome"].isin(["answered", "abandoned"]).sum()
        assert daily["offered"].sum() == offered
        counts.append(len(interactions))
        assert not (plan / "summary.json").exists() and not (plan / "report.html").exists()
    assert counts[0] != counts[1]


@pytest.mark.parametrize(
    "options",
    [
        ("--weeks", "2"),
        ("--replications", "0"),
        ("--time-limit", "0"),
        ("--time-limit", "nan"),
        ("--seed", "-1"),
    ],
)
def test_c17_b11_demo_options_are_checked_before_anything_is_written(
    tmp_path, monkeypatch, capsys, options
):
    out = tmp_path / "demo"
    code, stdout, err = run(monkeypatch, capsys, "demo", "--out", out, *options)
    one_error_line(code, err, options[0])
    assert not out.exists()


@pytest.mark.parametrize(
    ("options", "flag"),
    [
        (("--start", "1600-01-01"), "--start"),
        (("--start", "2262-04-01"), "--start"),
        (("--start", "2199-12-01", "--weeks", "3300"), "--weeks"),
        (("--seed", "-1"), "--seed"),
    ],
)
def test_a3_b11_generate_rejects_dates_outside_the_supported_range(
    tmp_path, monkeypatch, capsys, options, flag
):
    out = tmp_path / "a.csv"
    code, stdout, err = run(monkeypatch, capsys, "generate", example_path(), "--out", out, *options)
    one_error_line(code, err, flag)
    assert not out.exists()


def test_c16_generate_follows_the_local_clock_across_dst(tmp_path, monkeypatch, capsys):
    scenario = tmp_path / "dst.yaml"
    text = example_path().read_text().replace("sun: null", 'sun: {open: "00:00", close: "24:00"}')
    scenario.write_text(text)
    hours = {}
    for start, day in (("2026-03-23", "2026-03-29"), ("2026-10-19", "2026-10-25")):
        out = tmp_path / f"{start}.csv"
        code, stdout, err = run(
            monkeypatch, capsys, "generate", scenario, "--weeks", "1", "--start", start,
            "--out", out,
        )  # fmt: skip
        assert code == 0, err
        arrivals = pd.to_datetime(pd.read_csv(out)["arrival_time"])
        on_day = arrivals[arrivals.dt.normalize() == pd.Timestamp(day)]
        hours[day] = on_day.dt.hour.value_counts()
    assert hours["2026-03-29"].get(2, 0) == 0  # 02:00-03:00 does not exist in Amsterdam
    # the repeated hour 02:00-03:00 happens twice: about twice the hour before it
    assert hours["2026-10-25"][2] > 1.5 * hours["2026-10-25"][1]


SCENARIO_EDITS = [
    # (find, replace, fragments of the one-line error)
    ("aht_s: 240", "aht_s: .inf", ("queues[0].aht_s",)),
    ("aht_s: 240", "aht_s: 1e300", ("queues[0].aht_s",)),
    ("aht_s: 240", "aht_s: true", ("queues[0].aht_s",)),
    ('mon: {open: "08:00", close: "20:00"}', "mon: {open: 08:00, close: 20:00}", ("in quotes",)),
    ("shrinkage: 0.30", "shrinkage: 0.30\nshrinkage: 0.10", ("shrinkage", "twice")),
    ("within_s: 28800,", "within_s: 90000,", ("all_within_s",)),
]


@pytest.mark.parametrize(("find", "replace", "fragments"), SCENARIO_EDITS)
def test_b18_d14_d15_check_rejects_what_would_mislead_later(
    tmp_path, monkeypatch, capsys, find, replace, fragments
):
    text = example_path().read_text()
    assert find in text
    scenario = tmp_path / "sc.yaml"
    scenario.write_text(text.replace(find, replace, 1))
    code, out, err = run(monkeypatch, capsys, "check", scenario)
    one_error_line(code, err, str(scenario), *fragments)


def test_d15_d2_a_center_never_open_and_a_latin1_scenario(tmp_path, monkeypatch, capsys):
    text = example_path().read_text()
    closed = tmp_path / "all_days_null.yaml"
    body = text.split("  opening_hours:\n")[1].split("\nqueues:")[0]
    nulls = "\n".join(
        f"    {day}: null" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    )
    closed.write_text(text.replace(body, nulls + "\n"))
    code, out, err = run(monkeypatch, capsys, "generate", closed, "--out", tmp_path / "g.csv")
    one_error_line(code, err, "opening_hours", "never open")
    latin = tmp_path / "latin1.yaml"
    latin.write_bytes(text.replace("Example omnichannel center", "Centre é").encode("latin-1"))
    code, out, err = run(monkeypatch, capsys, "check", latin)
    one_error_line(code, err, f"{latin}:2", "UTF-8")


SCHEDULE_SECTION = """
schedule:
  shift_templates:
    - {name: early, earliest_start: "08:00", latest_start: "10:00", lengths_min: [480]}
    - {name: late, earliest_start: "11:00", latest_start: "12:00", lengths_min: [480]}
"""


@pytest.mark.parametrize(
    ("extra", "fragments"),
    [
        ("  rules: {no_mondays: {hard: true}}\n", ("schedule.rules.no_mondays", "unknown rule")),
        ("  fixed_days_off: [{agent: Zed, weekday: mon}]\n", ("fixed_days_off[0].agent", "Zed")),
        ("  forbidden_successions: [[late, night]]\n", ("forbidden_successions[0][1]", "night")),
        (
            '  availability: [{agent: Ava, available_from: "18:00", available_until: "09:00"}]\n',
            ("availability[0].available_until",),
        ),
    ],
)
def test_d7_check_catches_schedule_section_errors_with_their_line(
    tmp_path, monkeypatch, capsys, extra, fragments
):
    scenario = tmp_path / "s.yaml"
    text = example_path().read_text() + SCHEDULE_SECTION + extra
    scenario.write_text(text)
    code, out, err = run(monkeypatch, capsys, "check", scenario)
    line = len(text.splitlines())  # the line just added
    one_error_line(code, err, f"{scenario}:{line}", *fragments)

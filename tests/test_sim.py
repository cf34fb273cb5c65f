"""The simulator at the user's level: Python API and ``openwfm simulate``."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import stats

from conftest import PROJECT_ROOT, require_shared_data
from openwfm.errors import DataError, ScenarioError
from openwfm.model import Scenario
from openwfm.sim import simulate

DAY = pd.Timestamp("2024-01-01")  # a Monday


def one_queue(agents: int = 3, **queue) -> Scenario:
    spec = {"name": "q", "aht_s": 100.0, **queue}
    return Scenario.model_validate(
        {"queues": [spec], "agent_groups": [{"name": "g", "count": agents, "skills": {"q": 1.0}}]}
    )


def flat_rates(queue: str, rate_per_s: float, hours: float, step_s: int = 900) -> pd.DataFrame:
    starts = pd.date_range(DAY, periods=int(hours * 3600 / step_s), freq=f"{step_s}s")
    return pd.DataFrame(
        {"interval_start": starts, "queue": queue, "arrival_rate_per_s": rate_per_s}
    )


def test_same_seed_same_result_other_seed_differs():
    scenario = one_queue(patience_s=60)
    rates = flat_rates("q", 0.025, 2)
    first = simulate(scenario, rates=rates, replications=3, seed=5, always_on_s=7200)
    again = simulate(scenario, rates=rates, replications=3, seed=5, always_on_s=7200)
    other = simulate(scenario, rates=rates, replications=3, seed=6, always_on_s=7200)
    pd.testing.assert_frame_equal(first.summary, again.summary)
    assert not first.summary["offered"].equals(other.summary["offered"])
    # the scheduler does not change the numbers
    sync = simulate(
        scenario, rates=rates, replications=3, seed=5, always_on_s=7200, scheduler="sync"
    )
    pd.testing.assert_frame_equal(first.summary, sync.summary)


def test_kpis_are_consistent_and_carry_confidence_intervals():
    scenario = one_queue(agents=4, patience_s=120)
    result = simulate(
        scenario, rates=flat_rates("q", 0.035, 3), replications=4, seed=1, always_on_s=3 * 3600
    )
    reps = result.replications[result.replications["segment"] == "all"]
    assert (reps["answered"] + reps["abandoned"] <= reps["offered"]).all()
    # offered is Poisson(0.035 x 3 h = 378) per replication
    assert 300 < result.metric("offered", "q")[0] < 460
    for name in ("service_level", "asa_s", "abandon_rate", "occupancy"):
        mean, low, high = result.metric(name, "q")
        assert low <= mean <= high, name
    assert 0 < result.metric("occupancy", "q")[0] <= 1.0
    # per interval rows exist for every 15-minute interval with arrivals
    intervals = result.intervals[(result.intervals["queue"] == "q")]
    assert intervals["interval_start"].nunique() == 12


def test_shifts_and_breaks_decide_who_answers_when():
    scenario = Scenario.model_validate(
        {
            "queues": [{"name": "q", "aht_s": 60.0}],
            "agents": [
                {"name": "ann", "skills": {"q": 1.0}},
                {"name": "bob", "skills": {"q": 1.0}},
            ],
        }
    )
    schedule = pd.DataFrame(
        {
            "agent": ["ann", "ann", "bob"],
            "start": [DAY + pd.Timedelta(hours=8), DAY + pd.Timedelta(hours=9), DAY],
            "end": [
                DAY + pd.Timedelta(hours=10),
                DAY + pd.Timedelta(hours=9, minutes=30),
                DAY + pd.Timedelta(hours=1),
            ],
            "activity": ["shift", "break", "shift"],
        }
    )
    # one contact every 10 minutes from 08:00 to 10:00, nobody gives up
    result = simulate(
        scenario,
        rates=flat_rates("q", 0.0, 24).assign(
            arrival_rate_per_s=lambda f: np.where(
                (f["interval_start"] >= DAY + pd.Timedelta(hours=8))
                & (f["interval_start"] < DAY + pd.Timedelta(hours=10)),
                1 / 600,
                0.0,
            )
        ),
        schedule=schedule,
        replications=2,
        seed=3,
    )
    rows = result.intervals[
        (result.intervals["queue"] == "q") & (result.intervals["segment"] == "all")
    ]
    during_break = rows[rows["interval_start"].dt.strftime("%H:%M").isin(["09:00", "09:15"])]
    outside = rows[rows["interval_start"].dt.strftime("%H:%M").isin(["08:00", "08:15"])]
    # during ann's break contacts wait for her return (bob's shift ended at 01:00)
    assert (during_break["asa_s"] > 300).all()
    assert (outside["asa_s"] < 120).all()


def test_counts_per_interval_as_agents():
    scenario = one_queue(agents=5, patience_s=30)
    rates = flat_rates("q", 0.04, 2, step_s=3600)
    many = pd.DataFrame({"interval_start": rates["interval_start"], "agents": [5, 5]})
    few = many.assign(agents=[1, 1])
    best = simulate(scenario, rates=rates, schedule=many, replications=3, seed=2)
    worst = simulate(scenario, rates=rates, schedule=few, replications=3, seed=2)
    assert best.metric("abandon_rate", "q")[0] < worst.metric("abandon_rate", "q")[0] - 0.2


def test_chat_concurrency_handle_time_grows_with_load():
    base = {"name": "chat", "channel": "chat", "aht_s": 100.0, "max_concurrency": 3}
    slow = base | {"aht_s_by_concurrency": [100.0, 200.0, 300.0]}
    rates = flat_rates("chat", 0.05, 2)

    def aht(queue):
        scenario = Scenario.model_validate(
            {"queues": [queue], "agent_groups": [{"name": "g", "count": 3, "skills": {"chat": 1}}]}
        )
        return simulate(scenario, rates=rates, replications=2, seed=1, always_on_s=7200).metric(
            "aht_s", "chat"
        )[0]

    flat, loaded = aht(base), aht(slow)
    assert 85 < flat < 115
    assert 150 < loaded < 300  # agents hold several chats, each takes longer


def test_email_waits_for_opening_hours_and_meets_a_business_hours_target():
    scenario = Scenario.model_validate(
        {
            "grid": {"opening_hours": {"mon": {"open": "08:00", "close": "18:00"}}},
            "queues": [
                {
                    "name": "email",
                    "channel": "email",
                    "aht_s": 300.0,
                    "target": {"service_level": 0.9, "within_s": 7200, "business_hours": True},
                }
            ],
            "agent_groups": [{"name": "g", "count": 2, "skills": {"email": 1.0}}],
        }
    )
    # emails arrive from midnight to 06:00, agents work from 08:00
    rates = flat_rates("email", 10 / 3600, 6)
    result = simulate(scenario, rates=rates, replications=2, seed=4, days=1)
    assert result.metric("asa_s", "email")[0] > 2 * 3600  # nobody answers before 08:00
    # ~60 emails x 300 s / 2 agents: all done within about 2.5 business hours of 08:00
    assert result.metric("answered", "email")[0] == result.metric("offered", "email")[0]
    assert result.metric("service_level", "email")[0] > 0.3


def test_redials_add_offered_contacts():
    rates = flat_rates("q", 0.05, 2)
    plain = one_queue(agents=2, patience_s=30)
    redial = one_queue(agents=2, patience_s=30, redial_probability=0.8, redial_delay_s=60)
    a = simulate(plain, rates=rates, replications=2, seed=9, always_on_s=7200)
    b = simulate(redial, rates=rates, replications=2, seed=9, always_on_s=7200)
    assert b.metric("offered", "q")[0] > a.metric("offered", "q")[0] * 1.2


def a_team_scenario(policy: str) -> Scenario:
    """Two queues, two segments; 8 experts on both queues, 12 generalists per queue."""
    queue = {"aht_s": 240.0, "patience_s": 240.0, "proficiency_slope": 0.6}
    routing = {"policy": policy}
    if policy == "best_skilled":
        routing["a_team_segments"] = ["gold"]
    return Scenario.model_validate(
        {
            "queues": [queue | {"name": "sales"}, queue | {"name": "service"}],
            "segments": [
                {"name": "gold", "priority": 2, "share": {"sales": 0.2, "service": 0.2}},
                {"name": "standard", "priority": 1, "share": {"sales": 0.8, "service": 0.8}},
            ],
            "agent_groups": [
                {"name": "experts", "count": 8, "skills": {"sales": 1.0, "service": 1.0}},
                {"name": "sales-team", "count": 12, "skills": {"sales": 0.6}},
                {"name": "service-team", "count": 12, "skills": {"service": 0.6}},
            ],
            "routing": routing,
        }
    )


def test_a_team_policy_raises_the_high_value_segments_service_level():
    hours = 4
    rates = pd.concat([flat_rates("sales", 0.05, hours), flat_rates("service", 0.05, hours)])
    runs = {
        policy: simulate(
            a_team_scenario(policy),
            rates=rates,
            replications=10,
            seed=7,
            always_on_s=hours * 3600,
            warmup_s=1800,
        )
        for policy in ("longest_idle", "best_skilled")
    }

    def gold_sl(result):
        reps = result.replications
        gold = reps[reps["segment"] == "gold"]
        return gold.groupby("replication")["service_level"].mean().to_numpy()

    # same seed = same arrivals under both policies (common random numbers): paired test
    difference = gold_sl(runs["best_skilled"]) - gold_sl(runs["longest_idle"])
    half = stats.t.ppf(0.975, len(difference) - 1) * difference.std(ddof=1)
    half /= np.sqrt(len(difference))
    assert difference.mean() - half > 0.02, difference
    # and it is the gold segment that gains: standard contacts do not gain the same
    standard = runs["best_skilled"].metric("service_level", "sales", "standard")[0]
    assert runs["best_skilled"].metric("service_level", "sales", "gold")[0] > standard + 0.05


# --- bad input: one line, before the run -----------------------------------------------------


def run_cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "openwfm", *args],
        capture_output=True,
        text=True,
        cwd=cwd or PROJECT_ROOT,
        timeout=300,
    )


def write_scenario(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


SMALL = """
queues:
  - {name: q, aht_s: 120, patience_s: 120, demand: {contacts_per_day: 200}}
agent_groups:
  - {name: g, count: 3, skills: {q: 1.0}}
"""


def test_cli_runs_writes_tables_and_json(tmp_path):
    scenario = write_scenario(tmp_path / "s.yaml", SMALL)
    out = tmp_path / "out"
    done = run_cli(
        "simulate", str(scenario), "--replications", "3", "--seed", "1", "--days", "1",
        "--json", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    rows = {(r["queue"], r["segment"]): r for r in payload["summary"]}
    assert rows[("q", "all")]["offered"] > 100
    assert rows[("q", "all")]["service_level_ci_low"] <= rows[("q", "all")]["service_level"]
    for name in ("intervals.csv", "summary.csv", "replications.csv"):
        assert (out / name).exists()
    assert len(pd.read_csv(out / "replications.csv").query("segment == 'all'")) == 3


def test_cli_unknown_queue_in_a_skill_is_one_line(tmp_path):
    bad = SMALL.replace("skills: {q: 1.0}", "skills: {q: 1.0, nope: 0.5}")
    done = run_cli("simulate", str(write_scenario(tmp_path / "s.yaml", bad)), "-r", "2")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "unknown queue 'nope'" in done.stderr and "s.yaml:5" in done.stderr


def test_cli_negative_rate_is_one_line_naming_the_row(tmp_path):
    scenario = write_scenario(tmp_path / "s.yaml", SMALL)
    rates = flat_rates("q", 0.01, 1)
    rates.loc[2, "arrival_rate_per_s"] = -0.5
    rates.to_csv(tmp_path / "rates.csv", index=False)
    out = tmp_path / "out"
    done = run_cli(
        "simulate", str(scenario), "--arrivals", str(tmp_path / "rates.csv"), "-r", "2",
        "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "rates.csv:4: arrival_rate_per_s" in done.stderr and "-0.5" in done.stderr
    assert not out.exists()  # nothing half-written


def test_policy_step_that_can_never_match_is_rejected_before_the_run(tmp_path):
    bad = (
        SMALL
        + """
  - {name: h, count: 1, skills: {q: 0.4}}
routing:
  min_proficiency: 0.5
  escalation:
    - {after_s: 30, extra_queues: [other]}
"""
    )
    bad = bad.replace(
        "queues:\n", "queues:\n  - {name: other, aht_s: 60}\n"
    )  # a queue nobody is skilled for
    done = run_cli("simulate", str(write_scenario(tmp_path / "s.yaml", bad)), "-r", "2")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "routing.escalation[0].extra_queues" in done.stderr
    assert "can never match" in done.stderr


def test_escalation_out_of_order_and_unreachable_proficiency():
    from openwfm.sim import check_scenario

    base = {
        "queues": [{"name": "q", "aht_s": 60}],
        "agent_groups": [{"name": "g", "count": 1, "skills": {"q": 0.3}}],
    }
    unreachable = Scenario.model_validate(base | {"routing": {"min_proficiency": 0.5}})
    with pytest.raises(ScenarioError, match="could never be routed"):
        check_scenario(unreachable)
    steps = [{"after_s": 60, "min_proficiency": 0.2}, {"after_s": 30, "min_proficiency": 0.1}]
    routing = {"min_proficiency": 0.25, "escalation": steps}
    disorder = Scenario.model_validate(base | {"routing": routing})
    with pytest.raises(ScenarioError, match="must be in order"):
        check_scenario(disorder)


def test_schedule_with_an_unknown_agent_is_a_data_error():
    scenario = one_queue()
    schedule = pd.DataFrame(
        {"agent": ["ghost"], "start": [DAY], "end": [DAY + pd.Timedelta(hours=1)]}
    )
    with pytest.raises(DataError, match="unknown agent 'ghost'"):
        simulate(scenario, rates=flat_rates("q", 0.01, 1), schedule=schedule, replications=1)


# --- trace replay ---------------------------------------------------------------------------


def test_trace_replay_offers_exactly_the_recorded_contacts():
    scenario = one_queue(agents=2, patience_s=100)
    arrival = DAY + pd.to_timedelta(np.arange(0, 3600, 45), unit="s")
    trace = pd.DataFrame(
        {
            "queue": "q",
            "segment": "default",
            "arrival_time": arrival,
            "handle_s": 80.0,
            "outcome": ["answered"] * (len(arrival) - 5) + ["abandoned"] * 5 + [],
        }
    )
    trace.loc[::7, "outcome"] = "ivr_only"  # never offered to agents
    result = simulate(scenario, trace=trace, replications=2, seed=1)
    offered = int(trace["outcome"].isin(["answered", "abandoned"]).sum())
    assert result.metric("offered", "q")[0] == offered
    assert np.isnan(result.metric("offered", "q")[1]) or result.metric("offered", "q")[1] == offered


@pytest.mark.slow
def test_replay_of_an_anonymous_bank_day():
    from openwfm.data.readers import read_anonymous_bank
    from openwfm.sim.replay import replay_day

    path = require_shared_data("anonymous-bank/raw/03_March.txt")
    calls = read_anonymous_bank(path)
    table = replay_day(calls, "1999-03-10", replications=3, seed=1)
    assert set(table.columns) >= {
        "hour",
        "agents",
        "offered",
        "actual_service_level",
        "simulated_service_level",
        "actual_abandon_rate",
        "simulated_abandon_rate",
    }
    assert table["offered"].sum() > 500
    total = table[table["offered"] > 50]
    # the replay tracks reality: on busy hours, abandonment within 12 points on average and
    # service level within 20 points on average (the model knows nothing of the day's outcome)
    gap = (total["simulated_abandon_rate"] - total["actual_abandon_rate"]).abs().mean()
    assert gap < 0.12
    gap = (total["simulated_service_level"] - total["actual_service_level"]).abs().mean()
    assert gap < 0.20


def test_activity_grid_from_the_scheduler_is_a_schedule():
    scenario = Scenario.model_validate(
        {
            "queues": [{"name": "q", "aht_s": 60.0, "patience_s": 600}],
            "agents": [{"name": "ann", "skills": {"q": 1.0}}],
        }
    )
    starts = pd.date_range(DAY + pd.Timedelta(hours=8), periods=8, freq="15min")
    grid = pd.DataFrame(
        {"agent": "ann", "interval_start": starts, "activity": ["q"] * 4 + ["break"] * 4}
    )
    rates = flat_rates("q", 1 / 300, 24).assign(
        arrival_rate_per_s=lambda f: np.where(f["interval_start"].isin(starts), 1 / 300, 0.0)
    )
    result = simulate(scenario, rates=rates, schedule=grid, replications=2, seed=1)
    rows = result.intervals[
        (result.intervals["segment"] == "all") & (result.intervals["queue"] == "q")
    ]
    working = rows[rows["interval_start"] < DAY + pd.Timedelta(hours=9)]
    on_break = rows[rows["interval_start"] >= DAY + pd.Timedelta(hours=9)]
    assert working["answered"].sum() > 0
    assert on_break["answered"].sum() == 0  # nobody after 09:00: every later caller abandons


def test_email_deadline_misses_are_reported():
    scenario = Scenario.model_validate(
        {
            "grid": {"opening_hours": {"mon": {"open": "08:00", "close": "18:00"}}},
            "queues": [
                {
                    "name": "email",
                    "channel": "email",
                    "aht_s": 600.0,
                    "target": {"within_s": 3600, "business_hours": True, "all_within_s": 7200},
                }
            ],
            "agent_groups": [{"name": "g", "count": 1, "skills": {"email": 1.0}}],
        }
    )
    # 30 emails overnight for one agent at 10 min each: half are finished after 2 open hours
    rates = flat_rates("email", 5 / 3600, 6)
    result = simulate(scenario, rates=rates, replications=2, seed=2, days=1)
    assert 0.3 < result.metric("past_deadline_rate", "email")[0] < 0.95


@settings(max_examples=12, deadline=None)
@example(agents=1, rate_per_min=4.0, aht_s=400.0, patience_s=None, seed=0)  # the slowest drain
@given(
    agents=st.integers(1, 6),
    rate_per_min=st.floats(0.1, 4.0),
    aht_s=st.floats(30, 400),
    patience_s=st.one_of(st.none(), st.floats(5, 600)),
    seed=st.integers(0, 1000),
)
def test_every_contact_is_accounted_for(agents, rate_per_min, aht_s, patience_s, seed):
    scenario = one_queue(agents=agents, aht_s=aht_s, patience_s=patience_s)
    result = simulate(
        scenario,
        rates=flat_rates("q", rate_per_min / 60, 1),
        replications=1,
        seed=seed,
        # a week: one agent with 4 contacts a minute over the hour at 400 s each needs ~27 h
        # to drain the queue when nobody abandons (hypothesis found a day too short)
        always_on_s=7 * 86400,
    )
    if result.summary.empty:
        return
    offered, answered, abandoned = (
        result.metric(m, "q")[0] for m in ("offered", "answered", "abandoned")
    )
    # agents stay on long after the last arrival: everyone is answered or abandons
    assert answered + abandoned == offered
    if patience_s is None:
        assert abandoned == 0
    assert 0.0 <= result.metric("service_level", "q")[0] <= 1.0
    assert 0.0 <= result.metric("occupancy", "q")[0] <= 1.0 + 1e-9


@pytest.mark.slow
def test_cli_replays_an_anonymous_bank_log():
    log = require_shared_data("anonymous-bank/raw/03_March.txt")
    scenario = PROJECT_ROOT / "examples" / "anonymous-bank.yaml"
    strict = run_cli("simulate", str(scenario), "--arrivals", str(log), "-r", "2")
    assert strict.returncode == 2 and "unknown queue 'PE'" in strict.stderr
    done = run_cli(
        "simulate", str(scenario), "--arrivals", str(log), "-r", "2", "--seed", "3",
        "--drop-unknown-queues", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = {(r["queue"], r["segment"]): r for r in json.loads(done.stdout)["summary"]}
    # March 1999 offered (answered + abandoned in queue) for the five modelled types, exactly
    from openwfm.data.readers import read_anonymous_bank

    calls = read_anonymous_bank(log)
    offered = calls["outcome"].isin(["answered", "abandoned"]) & calls["queue"].isin(
        ["PS", "NW", "NE", "IN", "TT"]
    )
    assert rows[("all", "all")]["offered"] == offered.sum()


def test_cli_rejects_a_bad_scheduler(tmp_path):
    scenario = write_scenario(tmp_path / "s.yaml", SMALL)
    bad = run_cli("simulate", str(scenario), "-r", "2", "--scheduler", "nonsense")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--scheduler" in bad.stderr


def test_handle_time_empirical_and_by_proficiency():
    rates = flat_rates("q", 0.01, 4)
    empirical = simulate(
        one_queue(agents=5),
        rates=rates,
        replications=2,
        seed=1,
        always_on_s=4 * 3600,
        empirical_handle_s={"q": [10.0, 20.0, 30.0]},
    )
    assert 17 < empirical.metric("aht_s", "q")[0] < 23
    slow = Scenario.model_validate(
        {
            "queues": [{"name": "q", "aht_s": 100.0, "proficiency_slope": 1.0}],
            "agent_groups": [{"name": "g", "count": 5, "skills": {"q": 0.5}}],
        }
    )
    result = simulate(slow, rates=rates, replications=2, seed=1, always_on_s=4 * 3600)
    assert 130 < result.metric("aht_s", "q")[0] < 170  # 100 s x (1 + 1.0 x (1 - 0.5))

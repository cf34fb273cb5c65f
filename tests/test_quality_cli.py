"""`openwfm quality ...` at the user's level, on a small hand-made store."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from _cli import run
from openwfm.data.store import InteractionStore
from openwfm.quality.forms import load_form
from openwfm.quality.scoring import score_evaluation
from openwfm.quality.store import QualityStore
from openwfm.scenario import EXAMPLES_DIR, load_scenario

ZENDESK = EXAMPLES_DIR / "quality" / "zendesk-scorecard.yaml"
AGENTS = ["Ava", "Ben", "Chloe", "voice-team-1"]


def interactions() -> pd.DataFrame:
    """48 voice contacts over 4 days: agent k answers contacts k, k+4, ...; customer = i % 12,
    so each customer calls every 12 contacts (3 hours apart); contact 47 is abandoned."""
    rows = []
    start = pd.Timestamp("2024-03-04 08:00")
    for i in range(48):
        arrival = start + pd.Timedelta(minutes=15 * i) + pd.Timedelta(days=i // 24)
        answered = i != 47
        rows.append({
            "interaction_id": f"c{i:03d}", "queue": "voice", "channel": "voice",
            "segment": "gold" if i % 3 == 0 else "standard", "arrival_time": arrival,
            "answer_time": arrival + pd.Timedelta(seconds=10) if answered else pd.NaT,
            "end_time": arrival + pd.Timedelta(seconds=190 + 20 * (i % 4)) if answered else pd.NaT,
            "abandon_time": pd.NaT if answered else arrival + pd.Timedelta(seconds=30),
            "wait_s": 10.0 if answered else 30.0,
            "handle_s": 180.0 + 20 * (i % 4) if answered else 0.0,
            "agent": AGENTS[i % 4] if answered else None,
            "outcome": "answered" if answered else "abandoned", "source": "test",
        })  # fmt: skip
    return pd.DataFrame(rows)


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "s.duckdb"
    with InteractionStore(path) as target:
        target.ingest(interactions())
    pd.DataFrame(
        {"Call": [f"c{i:03d}" for i in range(48)], "Customer": [f"k{i % 12}" for i in range(48)]}
    ).to_csv(tmp_path / "customers.csv", index=False)
    return path


def write_evaluations(path, rows) -> None:
    header = "evaluation_id,interaction_id,evaluator,item,answer\n"
    path.write_text(header + "".join(",".join(map(str, r)) + "\n" for r in rows))


def review(evaluation_id, interaction_id, evaluator, answers):
    return [(evaluation_id, interaction_id, evaluator, item, value) for item, value in answers]


GOOD = [("gdpr", 2), ("solution", 4), ("explanation", 3), ("politeness", 3), ("summary_note", 2)]
FAILED = [("gdpr", 1), ("solution", 5), ("explanation", 4), ("politeness", 3), ("summary_note", 2)]


def table_rows(path, table) -> int:
    with InteractionStore(path) as target:
        return len(QualityStore(target).table(table))


def test_score_stores_evaluations_with_their_form_version(tmp_path, store, monkeypatch, capsys):
    evaluations = tmp_path / "evals.csv"
    write_evaluations(evaluations, review("e1", "c000", "Eve", GOOD) +
                      review("e2", "c001", "Eve", FAILED))  # fmt: skip
    code, out, err = run(monkeypatch, capsys, "quality", "score", ZENDESK, evaluations,
                         "--store", store)  # fmt: skip
    assert code == 0, err
    assert "2 evaluations added" in out and "1 auto-fail" in out
    with InteractionStore(store) as target:
        stored = QualityStore(target).evaluations().set_index("evaluation_id")
    form = load_form(ZENDESK)
    assert stored.loc["e1", "score"] == pytest.approx(score_evaluation(form, dict(GOOD)).score)
    assert stored.loc["e2", "score"] == 0.0 and bool(stored.loc["e2", "auto_fail"])
    # attributed to the agent who handled that interaction
    assert stored.loc["e1", "agent"] == "Ava" and stored.loc["e2", "agent"] == "Ben"
    assert set(stored["version"]) == {1}
    # re-scoring the same file adds nothing
    code, out, _ = run(monkeypatch, capsys, "quality", "score", ZENDESK, evaluations,
                       "--store", store)  # fmt: skip
    assert code == 0 and "0 evaluations added" in out
    # a changed form must get a new version; then older evaluations keep theirs
    changed = yaml.safe_load(ZENDESK.read_text())
    changed["groups"][1]["items"][0]["weight"] = 20
    (tmp_path / "v1.yaml").write_text(yaml.safe_dump(changed))
    code, _, err = run(monkeypatch, capsys, "quality", "score", tmp_path / "v1.yaml",
                       evaluations, "--store", store)  # fmt: skip
    assert code == 2 and "version" in err and "another definition" in err
    changed["version"] = 2
    (tmp_path / "v2.yaml").write_text(yaml.safe_dump(changed))
    write_evaluations(evaluations, review("e3", "c002", "Eve", GOOD))
    code, _, err = run(monkeypatch, capsys, "quality", "score", tmp_path / "v2.yaml",
                       evaluations, "--store", store)  # fmt: skip
    assert code == 0, err
    with InteractionStore(store) as target:
        versions = QualityStore(target).table("evaluation").set_index("evaluation_id")["version"]
    assert versions.to_dict() == {"e1": 1, "e2": 1, "e3": 2}


BAD_EVALUATIONS = {
    "answer outside its scale": (
        review("e1", "c000", "Eve", GOOD[:1] + [("solution", 6)] + GOOD[2:]),
        ":3: answer:", "integer 1..5",
    ),
    "unknown item": (
        review("e1", "c000", "Eve", GOOD + [("empathy", 2)]), ":7: item:", "unknown item",
    ),
    "interaction not in the store": (
        review("e1", "c000", "Eve", GOOD) + review("e2", "x999", "Eve", GOOD),
        ":7: interaction_id:", "not in the store",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_EVALUATIONS))
def test_bad_evaluation_is_one_line_and_stores_nothing(tmp_path, store, monkeypatch, capsys, case):
    rows, where, message = BAD_EVALUATIONS[case]
    evaluations = tmp_path / "bad.csv"
    write_evaluations(evaluations, rows)
    code, out, err = run(monkeypatch, capsys, "quality", "score", ZENDESK, evaluations,
                         "--store", store)  # fmt: skip
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("openwfm: error: ")
    assert f"bad.csv{where}" in lines[0] and message in lines[0]
    for table in ("evaluation", "eval_answer", "eval_form"):
        assert table_rows(store, table) == 0


def test_surveys_attribution_and_bad_agent(tmp_path, store, monkeypatch, capsys):
    good = tmp_path / "surveys.csv"
    good.write_text("interaction_id,csat,ces,nps\nc000,5,2,10\nc001,2,6,3\nc002,4,,8\n")
    code, out, err = run(monkeypatch, capsys, "quality", "surveys", good, "--store", store)
    assert code == 0 and "8 added" in out, err
    with InteractionStore(store) as target:
        stored = QualityStore(target).surveys()
    assert dict(zip(stored["interaction_id"], stored["agent"], strict=True)) == {
        "c000": "Ava", "c001": "Ben", "c002": "Chloe"}  # fmt: skip
    bad = tmp_path / "bad_agent.csv"
    bad.write_text("interaction_id,kind,value,agent\nc004,csat,4,Ava\nc005,csat,4,Zed\n")
    code, out, err = run(monkeypatch, capsys, "quality", "surveys", bad, "--store", store)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "bad_agent.csv:3: agent: unknown agent 'Zed'" in err
    out_of_scale = tmp_path / "scale.csv"
    out_of_scale.write_text("interaction_id,kind,value\nc004,ces,8\n")
    code, _, err = run(monkeypatch, capsys, "quality", "surveys", out_of_scale, "--store", store)
    assert code == 2 and "scale.csv:2: value: ces expects an integer 1..7" in err
    assert table_rows(store, "survey_response") == 8


def test_fcr_by_agent_counts_repeats(tmp_path, store, monkeypatch, capsys):
    code, out, err = run(monkeypatch, capsys, "quality", "customers", tmp_path / "customers.csv",
                         "--format", "table", "--mapping", write_mapping(tmp_path), "--store",
                         store)  # fmt: skip
    assert code == 0 and "48 added" in out, err
    table = tmp_path / "fcr.csv"
    code, _, err = run(monkeypatch, capsys, "quality", "fcr", "--days", "0.1,1", "--by", "agent",
                       "--store", store, "--out", table)  # fmt: skip
    assert code == 0, err
    rates = pd.read_csv(table).set_index("agent")
    # customer i % 12 calls again 12 contacts (3 h) later on the same day: within 1 day unless it
    # is the day's last call of that customer (12 of 24 each day); none within 0.1 d = 2.4 h
    frame = interactions()
    answered = frame[frame["outcome"] == "answered"]
    position = answered["interaction_id"].str[1:].astype(int)
    expected = ((position % 24) < 12).groupby(answered["agent"]).mean()
    assert rates["repeat_rate_1d"].to_dict() == pytest.approx(expected.to_dict())
    assert (rates["repeats_0.1d"] == 0).all()


def write_mapping(tmp_path):
    path = tmp_path / "mapping.yaml"
    path.write_text("Call: interaction_id\nCustomer: customer_id\n")
    return path


def test_sample_is_seeded_and_stratified(tmp_path, store, monkeypatch, capsys):
    outputs = []
    for seed in (3, 3, 4):
        out = tmp_path / f"sample{len(outputs)}.csv"
        code, _, err = run(monkeypatch, capsys, "quality", "sample", "--per-stratum", "2",
                           "--by", "agent,segment", "--seed", seed, "--store", store, "--out",
                           out)  # fmt: skip
        assert code == 0, err
        outputs.append(pd.read_csv(out))
    assert outputs[0].equals(outputs[1]) and not outputs[0].equals(outputs[2])
    counts = outputs[0].groupby(["agent", "segment"]).size()
    assert (counts == 2).all() and len(counts) == 8


def test_agents_write_proficiency_into_a_scenario_copy(tmp_path, store, monkeypatch, capsys):
    run(monkeypatch, capsys, "quality", "customers", tmp_path / "customers.csv", "--format",
        "table", "--mapping", write_mapping(tmp_path), "--store", store)  # fmt: skip
    evaluations = tmp_path / "evals.csv"
    write_evaluations(evaluations, review("e1", "c000", "Eve", GOOD)
                      + review("e2", "c001", "Eve", FAILED))  # fmt: skip
    run(monkeypatch, capsys, "quality", "score", ZENDESK, evaluations, "--store", store)
    copy = tmp_path / "center.quality.yaml"
    code, out, err = run(monkeypatch, capsys, "quality", "agents", "--store", store,
                         "--scenario", EXAMPLES_DIR / "center.yaml", "--write-scenario", copy,
                         "--a-team-segments", "gold")  # fmt: skip
    assert code == 0, err
    assert "4 agents" in err and "0 agents with data are not in the scenario" in err
    scenario = load_scenario(copy)
    skills = {a.name: a.skills.get("voice") for a in scenario.all_agents()}
    assert max(skills[name] for name in AGENTS) == 1.0
    assert skills["Ben"] < skills["Ava"]  # Ben's evaluation failed a critical category
    assert skills["voice-team-2"] == 0.7  # no data: unchanged
    assert scenario.routing.policy == "best_skilled" and scenario.routing.a_team_segments == [
        "gold"]  # fmt: skip


def test_report_page(tmp_path, store, monkeypatch, capsys):
    evaluations = tmp_path / "evals.csv"
    rows = review("e1", "c000", "Eve", GOOD) + review("e2", "c000", "Max", FAILED)
    write_evaluations(evaluations, [(*r[:4], r[4]) for r in rows])
    frame = pd.read_csv(evaluations).assign(calibration_id="cal-1")
    frame.to_csv(evaluations, index=False)
    run(monkeypatch, capsys, "quality", "score", ZENDESK, evaluations, "--store", store)
    surveys = tmp_path / "surveys.csv"
    surveys.write_text("interaction_id,csat,ces\nc000,5,2\nc001,2,6\n")
    run(monkeypatch, capsys, "quality", "surveys", surveys, "--store", store)
    code, out, err = run(monkeypatch, capsys, "quality", "calibration", "--store", store)
    assert code == 0 and "cal-1" in out, err
    page = tmp_path / "q.html"
    code, _, err = run(monkeypatch, capsys, "quality", "report", "--store", store, "--out", page)
    assert code == 0, err
    text = page.read_text()
    for heading in ("Calibration spread", "CSAT, effort and FCR trends"):
        assert heading in text


def test_parquet_surveys_with_a_mapping_and_agent_checks(tmp_path, store, monkeypatch, capsys):
    responses = tmp_path / "responses.parquet"
    pd.DataFrame(
        {"Call": ["c004", "c005"], "Type": ["CSAT", "nps"], "Answer": [3, 9],
         "Rep": ["Ava", "Ben"]}
    ).to_parquet(responses)  # fmt: skip
    mapping = tmp_path / "survey_mapping.yaml"
    mapping.write_text("columns: {Call: interaction_id, Type: kind, Answer: value, Rep: agent}\n")
    code, out, err = run(monkeypatch, capsys, "quality", "surveys", responses, "--mapping",
                         mapping, "--store", store)  # fmt: skip
    assert code == 0 and "2 added" in out, err
    # c006 was handled by Chloe: naming Ava is a wrong attribution, and the Parquet row is named
    pd.DataFrame({"Call": ["c006"], "Type": ["ces"], "Answer": [2], "Rep": ["Ava"]}).to_parquet(
        responses
    )
    code, _, err = run(monkeypatch, capsys, "quality", "surveys", responses, "--mapping",
                       mapping, "--store", store)  # fmt: skip
    assert code == 2 and "responses.parquet:1: agent: agent 'Ava' did not handle" in err
    assert table_rows(store, "survey_response") == 2


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        ("{Call: interaction_id, Type: kind, Score: value}", "responses.csv:1: Score: missing"),
        ("{Call: interaction_id, Type: kind}", "responses.csv: value: missing column 'value'"),
    ],
)
def test_survey_mapping_errors_name_file_line_and_field(
    columns, expected, tmp_path, store, monkeypatch, capsys
):
    responses = tmp_path / "responses.csv"
    responses.write_text("Call,Type,Answer\nc004,csat,3\n")
    mapping = tmp_path / "survey_mapping.yaml"
    mapping.write_text(f"columns: {columns}\n")
    code, _, err = run(monkeypatch, capsys, "quality", "surveys", responses, "--mapping",
                       mapping, "--store", store)  # fmt: skip
    assert code == 2 and err.startswith("openwfm: error:") and err.count("\n") == 1, err
    assert expected in err
    assert table_rows(store, "survey_response") == 0


def test_a_mapping_file_with_an_unknown_key_is_one_line(tmp_path, store, monkeypatch, capsys):
    responses = tmp_path / "responses.csv"
    responses.write_text("Call,Type,Answer\nc004,csat,3\n")
    mapping = tmp_path / "survey_mapping.yaml"
    mapping.write_text("columns: {Call: interaction_id, Type: kind, Answer: value}\nsep: ';'\n")
    code, _, err = run(monkeypatch, capsys, "quality", "surveys", responses, "--mapping",
                       mapping, "--store", store)  # fmt: skip
    assert code == 2 and err.count("\n") == 1, err
    assert "survey_mapping.yaml: sep: unknown key(s) sep (expected columns)" in err


BAD_SURVEYS = {
    "unknown kind": ("c004,csat,4\nc005,sat,4\n", "s.csv:3: kind: unknown kind 'sat' (known: ces"),
    "empty score": ("c004,nps,\n", "s.csv:2: value: nps expects an integer 0..10, got ''"),
    "fraction": ("c004,ces,2\nc005,nps,7.5\n", "s.csv:3: value: nps expects an integer 0..10"),
    "empty id": ("c004,csat,4\n,csat,4\n", "s.csv:3: interaction_id: expected a value, got an"),
    "second response": (
        "c004,csat,4\nc005,ces,3\nc004,CSAT,5\n",
        "s.csv:4: interaction_id: a second csat response for this interaction (first at line 2)",
    ),
    "bad time": (
        "c004,csat,4,2024-03-04T10:00\nc005,csat,4,yesterday\n",
        "s.csv:3: responded_at: expected an ISO 8601 time such as",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_SURVEYS))
def test_bad_survey_rows_are_one_line_naming_line_and_field(
    case, tmp_path, store, monkeypatch, capsys
):
    rows, expected = BAD_SURVEYS[case]
    surveys = tmp_path / "s.csv"
    header = "interaction_id,kind,value" + (",responded_at" if case == "bad time" else "")
    surveys.write_text(header + "\n" + rows)
    code, _, err = run(monkeypatch, capsys, "quality", "surveys", surveys, "--store", store)
    assert code == 2 and err.startswith("openwfm: error:") and err.count("\n") == 1, err
    assert expected in err
    assert table_rows(store, "survey_response") == 0


def test_an_evaluation_row_without_an_evaluator_is_one_line(tmp_path, store, monkeypatch, capsys):
    form = tmp_path / "form.yaml"
    form.write_text("form: f\ngroups:\n  - name: g\n    items: [{id: a}]\n")
    evaluations = tmp_path / "e.csv"
    write_evaluations(evaluations, review("e1", "c000", "Eve", [("a", "yes")]) +
                      review("e2", "c001", "", [("a", "no")]))  # fmt: skip
    code, _, err = run(monkeypatch, capsys, "quality", "score", form, evaluations, "--store",
                       store)  # fmt: skip
    assert code == 2 and err.count("\n") == 1, err
    assert "e.csv:3: evaluator: expected a value, got an empty cell" in err
    assert table_rows(store, "evaluation") == 0


def test_bad_form_is_one_line(tmp_path, store, monkeypatch, capsys):
    form = tmp_path / "form.yaml"
    form.write_text("form: f\nscoring: nice\ngroups:\n  - name: g\n    items: [{id: a}]\n")
    evaluations = tmp_path / "e.csv"
    write_evaluations(evaluations, review("e1", "c000", "Eve", [("a", "yes")]))
    code, _, err = run(monkeypatch, capsys, "quality", "score", form, evaluations, "--store",
                       store)  # fmt: skip
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "form.yaml:2: scoring:" in err


def test_wide_survey_error_names_the_score_column(tmp_path, store, monkeypatch, capsys):
    wide = tmp_path / "wide.csv"
    wide.write_text("interaction_id,csat,nps\nc000,5,9\nc001,6,9\n")
    code, _, err = run(monkeypatch, capsys, "quality", "surveys", wide, "--store", store)
    assert code == 2 and "wide.csv:3: csat: csat expects an integer 1..5, got '6'" in err
    assert table_rows(store, "survey_response") == 0

"""Golden tests: the suites' published worked examples, rebuilt from their descriptions."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openwfm.errors import DataError
from openwfm.quality.forms import load_form, parse_form
from openwfm.quality.scoring import AnswerError, internal_quality_score, score_evaluation
from openwfm.scenario import EXAMPLES_DIR

FORMS = EXAMPLES_DIR / "quality"


def test_genesys_weighting_example_is_60_percent():
    # Genesys Cloud: group 1 (weight 40) has two 1-point questions answered yes / no, group 2
    # (weight 20) one 1-point question answered yes: (1*40 + 1*20) / (2*40 + 1*20) = 60%.
    form = load_form(FORMS / "genesys-weighting.yaml")
    result = score_evaluation(form, {"q1_1": "yes", "q1_2": "no", "q2_1": "yes", "verified": "n/a"})
    assert result.score == pytest.approx(0.60)
    assert not result.auto_fail
    # critical questions q1_2 (no) and q2_1 (yes): 1 of 2 critical points
    assert result.critical_score == pytest.approx(0.5)


def test_genesys_second_example_and_na_group():
    # Genesys's other example: group weights 0.5 / 0.5, scores 0 | 1, 1 -> 2*0.5 / 1.5 = 66.67%.
    form = parse_form(
        "form: f\nscoring: genesys\ngroups:\n"
        "  - {name: g1, weight: 0.5, items: [{id: a}]}\n"
        "  - {name: g2, weight: 0.5, na_allowed: true, items: [{id: b}, {id: c}]}\n"
    )
    assert score_evaluation(form, {"a": "no", "b": "yes", "c": "yes"}).score == pytest.approx(2 / 3)
    # an N/A group counts zero of zero: the remaining weights are not inflated
    only_group_1 = score_evaluation(form, {"a": "yes", "b": "n/a", "c": "n/a"})
    assert only_group_1.score == pytest.approx(1.0)
    assert only_group_1.points_possible == 1


def test_genesys_fatal_question_fails_the_form():
    form = load_form(FORMS / "genesys-weighting.yaml")
    answers = {"q1_1": "yes", "q1_2": "yes", "q2_1": "yes"}
    assert score_evaluation(form, {**answers, "verified": "yes"}).score == pytest.approx(1.0)
    failed = score_evaluation(form, {**answers, "verified": "no"})
    assert failed.auto_fail and failed.score == 0.0
    assert failed.critical_score == pytest.approx(1.0)  # the critical score is kept apart


def test_genesys_critical_questions_must_be_yes_no():
    with pytest.raises(DataError, match="yes/no") as caught:
        parse_form(
            "form: f\nscoring: genesys\ngroups:\n"
            "  - name: g\n    items:\n      - {id: a, scale: [1, 5], critical: true}\n",
            source="bad.yaml",
        )
    assert caught.value.file == "bad.yaml" and caught.value.line == 6


ZENDESK_REVIEWS = [
    # gdpr (critical, binary), solution 1-5, explanation 1-4, politeness 1-3, summary note binary
    ({"gdpr": 2, "solution": 5, "explanation": 4, "politeness": 3, "summary_note": 2}, 100.00),
    ({"gdpr": 2, "solution": 1, "explanation": 1, "politeness": 1, "summary_note": 2}, 9.91),
    ({"gdpr": 2, "solution": 4, "explanation": 1, "politeness": 3, "summary_note": 2}, 63.96),
    ({"gdpr": 2, "solution": 4, "explanation": 4, "politeness": 3, "summary_note": 2}, 90.99),
    ({"gdpr": 1, "solution": 5, "explanation": 4, "politeness": 3, "summary_note": 2}, 0.00),
]


def test_zendesk_iqs_example_is_52_97_percent():
    # Zendesk QA: five reviews scoring 100%, 9.91%, 63.96%, 90.99% and 0% (a failed critical
    # category); IQS = their mean = 52.97%.
    form = load_form(FORMS / "zendesk-scorecard.yaml")
    scores = []
    for answers, published in ZENDESK_REVIEWS:
        result = score_evaluation(form, answers)
        assert round(result.score * 100, 2) == published
        scores.append(result.score)
    assert round(internal_quality_score(scores) * 100, 2) == 52.97
    assert score_evaluation(form, ZENDESK_REVIEWS[4][0]).auto_fail


def test_zendesk_category_scale_and_critical_threshold():
    form = parse_form(
        "form: z\nscoring: zendesk\ngroups:\n  - name: g\n    items:\n"
        "      - {id: c, scale: [1, 3], critical: true}\n      - {id: x, scale: [1, 5]}\n"
    )
    # 3-point scale: 1 -> 0%, 2 -> 50%, 3 -> 100%; 50% is not below 50%: no fail
    assert score_evaluation(form, {"c": 2, "x": 4}).score == pytest.approx((0.5 + 0.75) / 2)
    assert score_evaluation(form, {"c": 1, "x": 5}).score == 0.0
    # a skipped category is left out of the weights
    assert score_evaluation(form, {"c": 3}).score == pytest.approx(1.0)


def test_amazon_connect_modes():
    form = load_form(FORMS / "amazon-connect.yaml")
    answers = {"greeting": "partly", "verified": "yes", "resolved": "yes", "tone": "n/a"}
    question_only = score_evaluation(form, answers)
    # weights 20, 10, 50 (tone N/A): (0.5*20 + 1*10 + 1*50) / 80
    assert question_only.score == pytest.approx(70 / 80)
    sections = form.model_copy(update={"scoring": "amazon_section_only"})
    # Greeting: mean(0.5, 1) = 0.75 (weight 30); Handling: 1.0 (weight 70)
    assert score_evaluation(sections, answers).score == pytest.approx(0.3 * 0.75 + 0.7)
    points = form.model_copy(update={"scoring": "amazon_points"})
    assert score_evaluation(points, answers).score == pytest.approx(25 / 30)
    failed = score_evaluation(form, {**answers, "verified": "no"})
    assert failed.auto_fail and failed.score == 0.0


def test_bad_answers_are_named():
    form = load_form(FORMS / "zendesk-scorecard.yaml")
    with pytest.raises(AnswerError, match="integer 1..5") as caught:
        score_evaluation(form, {"gdpr": 2, "solution": 6})
    assert caught.value.item == "solution"
    with pytest.raises(AnswerError, match="unknown item") as caught:
        score_evaluation(form, {"gdpr": 2, "tone": 3})
    assert caught.value.item == "tone"
    genesys = load_form(FORMS / "genesys-weighting.yaml")
    with pytest.raises(AnswerError, match="needs one"):
        score_evaluation(genesys, {"q1_1": "yes", "q2_1": "yes"})


@settings(deadline=None)  # no timing in tests: a busy CI machine parses a form slowly
@given(
    weights=st.lists(st.floats(0.1, 100), min_size=1, max_size=5),
    data=st.data(),
)
def test_scores_are_fractions_and_full_marks_are_one(weights, data):
    groups = "".join(
        f"  - {{name: g{k}, weight: {w}, items: [{{id: i{k}, scale: [0, 4]}}]}}\n"
        for k, w in enumerate(weights)
    )
    for preset in ("genesys", "zendesk", "amazon_question_only", "amazon_section_only"):
        form = parse_form(f"form: h\nscoring: {preset}\ngroups:\n{groups}")
        values = {f"i{k}": data.draw(st.integers(0, 4)) for k in range(len(weights))}
        result = score_evaluation(form, values)
        assert 0.0 <= result.score <= 1.0 and not math.isnan(result.score)
        top = score_evaluation(form, {key: 4 for key in values})
        assert top.score == pytest.approx(1.0)

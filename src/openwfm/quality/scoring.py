"""Scoring an evaluation with the published rules of the suites (scores are fractions 0..1).

Presets (``EvaluationForm.scoring``):

- ``genesys`` (Genesys Cloud): score = sum over groups of (points earned x group weight) /
  sum of (points possible x group weight); items marked N/A and all-N/A groups count zero of
  zero. Critical score = critical points earned / critical points possible (critical questions
  are yes/no and count in both scores). A fatal question answered with its lowest-point answer
  fails the form: score 0, ``auto_fail``.
- ``zendesk`` (Zendesk QA): category score = (selected - scale min) / (scale max - scale min);
  review score = sum(category score x category weight) / sum(weights) over rated categories
  (N/A and skipped excluded); a critical category scored below 50% sets the review to 0.
  The internal quality score (IQS) is the mean of review scores (:func:`internal_quality_score`).
- ``amazon_question_only`` (Amazon Connect): question score = normalised answer as above;
  form score = question-weighted mean over applicable questions, sections ignored.
- ``amazon_section_only``: section score = mean of its applicable question scores; form score
  = section-weighted mean over sections with an applicable question.
- ``amazon_points``: points earned / points possible over applicable questions.

In every preset a ``fatal`` item answered with a failing answer (``fail_on``, default the
lowest-point answer) is an automatic fail: score 0. The critical score of the non-Genesys
presets is the weight-averaged normalised score of the critical items.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from openwfm.quality.forms import NA, EvaluationForm, FormGroup, FormItem


class AnswerError(ValueError):
    """An answer does not fit the form; ``item`` names the item (None: the whole form)."""

    def __init__(self, message: str, item: str | None = None) -> None:
        super().__init__(message)
        self.item = item


@dataclass
class EvaluationScore:
    """Result of scoring one evaluation. ``score`` and ``critical_score`` are fractions (NaN when
    nothing applicable was answered); ``item_scores``: item id -> normalised 0..1 (NaN = N/A)."""

    score: float
    critical_score: float
    auto_fail: bool
    points_earned: float
    points_possible: float
    item_scores: dict[str, float] = field(default_factory=dict)


def _is_na(answer: object) -> bool:
    if answer is None:
        return True
    if isinstance(answer, float) and math.isnan(answer):
        return True
    return str(answer).strip().lower() in (NA, "na", "")


def _normalised(item: FormItem, points: float) -> float:
    return (points - item.min_points) / (item.max_points - item.min_points)


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else float("nan")


def answer_points(
    form: EvaluationForm, answers: Mapping[str, object]
) -> dict[str, tuple[FormGroup, FormItem, float | None]]:
    """Item id -> (group, item, points or None for N/A), checking every answer.

    Raises :class:`AnswerError` for an unknown item, an answer outside the item's answers, or N/A
    (given or missing) where the item and its group do not allow it.
    """
    items = form.items()
    for item_id in answers:
        if item_id not in items:
            raise AnswerError(
                f"unknown item {item_id!r} (form {form.form} v{form.version} has: "
                f"{', '.join(items)})",
                item=str(item_id),
            )
    result = {}
    for item_id, (group, item) in items.items():
        answer = answers.get(item_id)
        if _is_na(answer):
            if not (item.na_allowed or group.na_allowed or form.scoring == "zendesk"):
                given = "no answer" if item_id not in answers else "n/a"
                raise AnswerError(f"{given} for item {item_id!r}, which needs one", item=item_id)
            result[item_id] = (group, item, None)
            continue
        try:
            result[item_id] = (group, item, item.points_of(answer))
        except ValueError as error:
            raise AnswerError(f"item {item_id!r}: {error}", item=item_id) from None
    return result


def score_evaluation(form: EvaluationForm, answers: Mapping[str, object]) -> EvaluationScore:
    """Score one evaluation (``answers``: item id -> answer label, scale value or ``n/a``)."""
    points = answer_points(form, answers)
    item_scores = {
        item_id: (float("nan") if p is None else _normalised(item, p))
        for item_id, (_, item, p) in points.items()
    }
    answered = [(g, i, p) for g, i, p in points.values() if p is not None]
    earned = sum(p for _, _, p in answered)
    possible = sum(i.max_points for _, i, _ in answered)
    auto_fail = any(i.fails(p) for _, i, p in answered)
    if form.scoring == "genesys":
        score, critical = _genesys(answered)
    else:
        critical_items = [(i, item_scores[i.id]) for _, i, _ in answered if i.critical]
        critical = _ratio(
            sum(i.weight * s for i, s in critical_items), sum(i.weight for i, _ in critical_items)
        )
        if form.scoring == "zendesk":
            score = _weighted(answered, item_scores)
            auto_fail = auto_fail or any(s < 0.5 for _, s in critical_items)
        elif form.scoring == "amazon_question_only":
            score = _weighted(answered, item_scores)
        elif form.scoring == "amazon_section_only":
            score = _sections(form, answered, item_scores)
        else:  # amazon_points
            score = _ratio(earned, possible)
    if auto_fail:
        score = 0.0
    return EvaluationScore(score, critical, auto_fail, earned, possible, item_scores)


def _genesys(answered) -> tuple[float, float]:
    numerator = sum(p * g.weight for g, _, p in answered)
    denominator = sum(i.max_points * g.weight for g, i, _ in answered)
    critical_earned = sum(p for _, i, p in answered if i.critical)
    critical_possible = sum(i.max_points for _, i, _ in answered if i.critical)
    return _ratio(numerator, denominator), _ratio(critical_earned, critical_possible)


def _weighted(answered, item_scores) -> float:
    return _ratio(
        sum(i.weight * item_scores[i.id] for _, i, _ in answered),
        sum(i.weight for _, i, _ in answered),
    )


def _sections(form: EvaluationForm, answered, item_scores) -> float:
    numerator = denominator = 0.0
    for group in form.groups:
        scores = [item_scores[i.id] for g, i, _ in answered if g is group]
        if scores:
            numerator += group.weight * sum(scores) / len(scores)
            denominator += group.weight
    return _ratio(numerator, denominator)


def internal_quality_score(review_scores) -> float:
    """Zendesk QA's IQS: the plain mean of review scores (fractions); NaN scores are skipped."""
    values = [float(s) for s in review_scores if not math.isnan(float(s))]
    return sum(values) / len(values) if values else float("nan")

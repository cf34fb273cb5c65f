"""Evaluation forms (YAML) and their versions.

A form is a list of *groups* (Genesys "question groups", Amazon Connect "sections", Zendesk
scorecard sections) holding *items* (questions, rating categories). An item's answers are
either named ``options`` with points (``{yes: 1, no: 0}``, the default) or an integer
``scale`` ``[min, max]`` (a 1-5 rating). Any item may allow ``n/a``; ``critical`` and ``fatal``
items follow the rules of the form's ``scoring`` preset (see :mod:`openwfm.quality.scoring`).

Example (``version`` is an integer; an evaluation keeps the version it was scored with)::

    form: call-quality
    version: 2
    scoring: genesys
    groups:
      - name: Opening
        weight: 40
        items:
          - {id: greet, text: Greeted the caller}
          - {id: verify, text: Verified identity, critical: true, fatal: true}
      - name: Resolution
        weight: 20
        items:
          - {id: solved, scale: [1, 5], na_allowed: true}
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from openwfm.errors import DataError
from openwfm.yaml_input import parse_yaml_model, raise_at, read_text_file

SCORING_PRESETS = (
    "genesys",
    "zendesk",
    "amazon_question_only",
    "amazon_section_only",
    "amazon_points",
)
NA = "n/a"


def _label(value: object) -> object:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FormItem(_Strict):
    """One question or rating category.

    ``options``: answer label -> points (labels are matched case-insensitively); ``scale``:
    integer answers ``min..max`` whose points are the value itself. ``weight``: the item's
    weight where the preset weighs items (Zendesk categories, Amazon Connect questions).
    ``critical``: counts in the critical score (Genesys) or zeroes the review below 50%
    (Zendesk). ``fatal``: answering one of ``fail_on`` (default: the lowest-point answer)
    fails the whole form (Genesys fatal question, Amazon Connect automatic fail).
    """

    id: Annotated[str, Field(min_length=1)]
    text: str = ""
    options: dict[str, float] | None = None
    scale: tuple[int, int] | None = None
    weight: Annotated[float, Field(ge=0.0)] = 1.0
    na_allowed: bool = False
    critical: bool = False
    fatal: bool = False
    fail_on: list[str] | None = None

    @model_validator(mode="before")
    @classmethod
    def _yaml_booleans(cls, data: object) -> object:
        # YAML 1.1 reads yes/no as booleans: turn them back into the labels they were
        if isinstance(data, dict):
            data = dict(data)
            if isinstance(data.get("options"), dict):
                data["options"] = {_label(k): v for k, v in data["options"].items()}
            if isinstance(data.get("fail_on"), list):
                data["fail_on"] = [_label(v) for v in data["fail_on"]]
        return data

    @model_validator(mode="after")
    def _answers(self) -> FormItem:
        if self.options is not None and self.scale is not None:
            raise ValueError("give options or scale, not both")
        if self.options is not None and len(self.options) < 2:
            raise ValueError("options need at least two answers")
        if self.scale is not None and self.scale[0] >= self.scale[1]:
            raise ValueError(f"scale min must be below max, got {list(self.scale)}")
        if self.options is not None:
            labels = [label.strip().lower() for label in self.options]
            if len(set(labels)) != len(labels) or NA in labels:
                raise ValueError("option labels must be distinct and not 'n/a'")
        for answer in self.fail_on or []:
            self.points_of(answer)  # raises for an answer outside the item's answers
        return self

    @property
    def answer_options(self) -> dict[str, float]:
        """Label (lower case) -> points; ``{yes: 1, no: 0}`` when neither options nor scale."""
        if self.scale is not None:
            return {str(v): float(v) for v in range(self.scale[0], self.scale[1] + 1)}
        options = self.options if self.options is not None else {"yes": 1.0, "no": 0.0}
        return {label.strip().lower(): float(points) for label, points in options.items()}

    @property
    def min_points(self) -> float:
        return min(self.answer_options.values())

    @property
    def max_points(self) -> float:
        return max(self.answer_options.values())

    def describe_answers(self) -> str:
        if self.scale is not None:
            return f"an integer {self.scale[0]}..{self.scale[1]}"
        return "one of " + ", ".join(self.answer_options)

    def points_of(self, answer: object) -> float:
        """Points of ``answer`` (a label or a scale value); ValueError if outside the answers."""
        text = str(answer).strip().lower()
        options = self.answer_options
        if self.scale is not None:
            try:
                number = float(text)
            except ValueError:
                number = float("nan")
            if number.is_integer() and str(int(number)) in options:
                return float(int(number))
        elif text in options:
            return options[text]
        raise ValueError(f"expected {self.describe_answers()}, got {answer!r}")

    def fails(self, points: float) -> bool:
        """True when a fatal item was answered with a failing answer."""
        if not self.fatal:
            return False
        if self.fail_on:
            return points in {self.points_of(answer) for answer in self.fail_on}
        return points == self.min_points


class FormGroup(_Strict):
    """A question group (section) with its ``weight`` (Genesys group weight, Amazon section
    weight; Zendesk ignores it) and whether the whole group may be marked N/A."""

    name: Annotated[str, Field(min_length=1)]
    weight: Annotated[float, Field(ge=0.0)] = 1.0
    na_allowed: bool = False
    items: list[FormItem] = Field(min_length=1)


class EvaluationForm(_Strict):
    """A versioned evaluation form; ``scoring`` names the preset that scores it."""

    form: Annotated[str, Field(min_length=1)]
    version: Annotated[int, Field(ge=1)] = 1
    scoring: Literal[
        "genesys", "zendesk", "amazon_question_only", "amazon_section_only", "amazon_points"
    ] = "genesys"
    description: str = ""
    groups: list[FormGroup] = Field(min_length=1)

    def problems(self) -> list[tuple[tuple, str]]:
        """Cross-field problems as (YAML location, message): duplicate item ids, and Genesys
        critical/fatal questions that are not yes/no."""
        found: list[tuple[tuple, str]] = []
        seen: set[str] = set()
        for g, group in enumerate(self.groups):
            for i, item in enumerate(group.items):
                where = ("groups", g, "items", i)
                if item.id in seen:
                    found.append(((*where, "id"), f"item id {item.id!r} appears twice"))
                seen.add(item.id)
                two_options = item.scale is None and len(item.answer_options) == 2
                if self.scoring == "genesys" and (item.critical or item.fatal) and not two_options:
                    found.append(
                        (where, "Genesys critical and fatal questions are yes/no (two options)")
                    )
        return found

    def items(self) -> dict[str, tuple[FormGroup, FormItem]]:
        """Item id -> (group, item), in form order."""
        return {item.id: (group, item) for group in self.groups for item in group.items}

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True)

    def fingerprint(self) -> str:
        """Hash of the definition: a stored (form, version) must never change meaning."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]


def parse_form(text: str, source: str = "<form>") -> EvaluationForm:
    """Validate form YAML; :class:`DataError` names the file, line and field of the problem."""
    root, form = parse_yaml_model(
        text, source, EvaluationForm, DataError, "expected a mapping with form, version, groups"
    )
    for location, message in form.problems()[:1]:
        raise_at(DataError, message, source, root, location)
    return form


def load_form(path: str | Path) -> EvaluationForm:
    """Read and validate a form YAML file."""
    text = read_text_file(path, DataError, "form file")
    return parse_form(text, source=str(path))

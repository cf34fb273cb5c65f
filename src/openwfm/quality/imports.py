"""Import evaluations, survey responses and customer keys into the store, checked first.

Attribution: an evaluation or a survey response belongs to the agent who handled *that*
interaction (one row of the interactions table is one handled leg of a contact), never to the
last assignee of the conversation. A file may name the agent (it must be an agent of the store,
and the one who handled the interaction); without an ``agent`` column the interaction's own
agent is used.

Evaluation files are long: one row per answer with ``evaluation_id, interaction_id, evaluator,
item, answer`` and optionally ``agent, evaluated_at, calibration_id``. Survey files are long
(``interaction_id, kind, value``) or wide (``interaction_id`` plus any of ``csat, ces, nps``),
optionally with ``agent`` and ``responded_at``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from openwfm.errors import DataError
from openwfm.quality.forms import EvaluationForm
from openwfm.quality.scoring import AnswerError, score_evaluation
from openwfm.quality.store import (
    ANSWER_COLUMNS,
    EVALUATION_COLUMNS,
    SURVEY_COLUMNS,
    SURVEY_SCALES,
    QualityStore,
)
from openwfm.quality.tables import (
    EVALUATION_ROWS,
    HANDLED_BY,
    SURVEY_RESPONSES,
    check_rows,
    fail,
    read_mapped_table,
    survey_scores,
    times,
)


@dataclass
class ImportResult:
    """Rows read, and rows added per table (already stored keys are skipped)."""

    read: int = 0
    added: dict[str, int] = field(default_factory=dict)
    scores: pd.DataFrame | None = None


def _attribute(path, frame: pd.DataFrame, quality: QualityStore) -> pd.Series:
    """The agent of each row: checked against the store, or taken from the interaction."""
    handled = quality.handled_by(frame["interaction_id"].unique()).set_index("interaction_id")
    choices = {"interaction_id": handled.index}
    if "agent" in frame.columns:
        choices["agent"] = quality.agents()
    check_rows(path, frame, HANDLED_BY, choices)
    handler = frame["interaction_id"].map(handled["agent"]).astype(object)
    if "agent" in frame.columns:
        given = frame["agent"].replace("", None)
        other = given.notna() & handler.notna() & (given != handler)
        if other.any():
            position = int(other.to_numpy().nonzero()[0][0])
            fail(
                path,
                frame,
                position,
                "agent",
                f"agent {given.iloc[position]!r} did not handle interaction "
                f"{frame['interaction_id'].iloc[position]!r} (handled by "
                f"{handler.iloc[position]!r})",
            )
        handler = given.where(given.notna(), handler)
    missing = handler.isna().to_numpy()
    if missing.any():
        position = int(missing.nonzero()[0][0])
        fail(
            path,
            frame,
            position,
            "interaction_id",
            f"interaction {frame['interaction_id'].iloc[position]!r} was not handled by an "
            "agent (give an agent column)",
        )
    return handler


def _score_groups(path, frame: pd.DataFrame, form: EvaluationForm):
    """Score each evaluation_id group; returns (evaluation rows, answer rows)."""
    evaluations, answers = [], []
    items = form.items()
    for evaluation_id, rows in frame.groupby("evaluation_id", sort=False):
        first = rows.index[0]
        for column in ("interaction_id", "evaluator"):
            if rows[column].nunique() > 1:
                position = int(rows.index[(rows[column] != rows[column].iloc[0]).to_numpy()][0])
                fail(
                    path,
                    frame,
                    position,
                    column,
                    f"evaluation {evaluation_id!r} has two values of {column}",
                )
        repeated = rows["item"].duplicated().to_numpy()
        if repeated.any():
            position = int(rows.index[repeated][0])
            fail(
                path,
                frame,
                position,
                "item",
                f"item {rows['item'][position]!r} answered twice in evaluation {evaluation_id!r}",
            )
        try:
            result = score_evaluation(form, dict(zip(rows["item"], rows["answer"], strict=True)))
        except AnswerError as error:
            at = rows.index[(rows["item"] == error.item).to_numpy()]
            position = int(at[0]) if len(at) else int(first)
            column = "item" if "unknown item" in str(error) else "answer"
            fail(
                path,
                frame,
                position,
                column,
                f"evaluation {evaluation_id!r}: {error} (form {form.form} v{form.version})",
            )
        evaluations.append(
            {
                "evaluation_id": evaluation_id,
                "position": first,
                "score": result.score,
                "critical_score": result.critical_score,
                "auto_fail": result.auto_fail,
            }
        )
        given = dict(zip(rows["item"], rows["answer"], strict=True))
        for item_id, item_score in result.item_scores.items():
            answered = not np.isnan(item_score)
            points = items[item_id][1].points_of(given[item_id]) if answered else None
            answers.append(
                {
                    "evaluation_id": evaluation_id,
                    "item": item_id,
                    "answer": str(given.get(item_id, "n/a")) if answered else "n/a",
                    "points": points,
                    "item_score": item_score if answered else None,
                }
            )
    return pd.DataFrame(evaluations), pd.DataFrame(answers, columns=ANSWER_COLUMNS)


def import_evaluations(
    quality: QualityStore,
    form: EvaluationForm,
    path: str | Path,
    mapping: dict[str, str] | None = None,
) -> ImportResult:
    """Score the evaluations in ``path`` with ``form`` and store them with the form version."""
    frame = read_mapped_table(
        path,
        mapping,
        ("evaluation_id", "interaction_id", "evaluator", "item", "answer"),
        ("agent", "evaluated_at", "calibration_id"),
    )
    if frame.empty:
        raise DataError("no evaluation rows", file=str(path))
    evaluated_at = times(check_rows(path, frame, EVALUATION_ROWS), "evaluated_at")
    quality.check_form(form, str(path))
    agent = _attribute(path, frame, quality)
    scored, answers = _score_groups(path, frame, form)
    first = scored["position"].to_numpy()
    calibration = frame["calibration_id"].replace("", None) if "calibration_id" in frame else None
    evaluations = pd.DataFrame(
        {
            "evaluation_id": scored["evaluation_id"].to_numpy(),
            "interaction_id": frame["interaction_id"].to_numpy()[first],
            "agent": agent.to_numpy()[first],
            "evaluator": frame["evaluator"].to_numpy()[first],
            "form": form.form,
            "version": form.version,
            "evaluated_at": evaluated_at.to_numpy()[first],
            "score": scored["score"].to_numpy(dtype=float),
            "critical_score": scored["critical_score"].to_numpy(dtype=float),
            "auto_fail": scored["auto_fail"].to_numpy(dtype=bool),
            "calibration_id": None if calibration is None else calibration.to_numpy()[first],
            "source": Path(path).name,
        }
    )[EVALUATION_COLUMNS]
    added = quality.write(
        {
            "eval_form": (quality.add_form(form), ["form", "version"]),
            "evaluation": (evaluations, ["evaluation_id"]),
            "eval_answer": (answers, ["evaluation_id", "item"]),
        }
    )
    return ImportResult(read=len(frame), added=added, scores=evaluations)


def _long_surveys(path, frame: pd.DataFrame) -> pd.DataFrame:
    if "kind" in frame.columns:
        return frame
    kinds = [k for k in SURVEY_SCALES if k in frame.columns]
    if not kinds:
        raise DataError(
            "expected a kind and a value column, or any of csat, ces, nps",
            file=str(path),
            line=None if str(path).endswith(".parquet") else 1,
            field="kind",
        )
    extra = [c for c in ("agent", "responded_at") if c in frame.columns]
    long = frame.melt(
        id_vars=["interaction_id", "_line", *extra],
        value_vars=kinds,
        var_name="kind",
        value_name="value",
    )
    return long[long["value"] != ""].sort_values(["_line", "kind"]).reset_index(drop=True)


def import_surveys(
    quality: QualityStore, path: str | Path, mapping: dict[str, str] | None = None
) -> ImportResult:
    """Store survey responses (CSAT 1-5, CES 1-7, NPS 0-10) tied to the handling agent."""
    frame = read_mapped_table(
        path,
        mapping,
        ("interaction_id",),
        ("kind", "value", *SURVEY_SCALES, "agent", "responded_at"),
    )
    wide = "kind" not in frame.columns
    frame = _long_surveys(path, frame)
    if "value" not in frame.columns:
        raise DataError("missing column 'value'", file=str(path), field="value")
    if frame.empty:
        raise DataError("no survey responses", file=str(path))
    frame["kind"] = frame["kind"].str.lower()
    responded_at = times(check_rows(path, frame, SURVEY_RESPONSES), "responded_at")
    value = survey_scores(path, frame, wide)
    agent = _attribute(path, frame, quality)
    responses = pd.DataFrame(
        {
            "interaction_id": frame["interaction_id"],
            "kind": frame["kind"],
            "value": value.astype(float),
            "agent": agent.astype(str),
            "responded_at": responded_at,
            "attributed_by": "file" if "agent" in frame.columns else "interaction",
            "source": Path(path).name,
        }
    )[SURVEY_COLUMNS]
    added = quality.write({"survey_response": (responses, ["interaction_id", "kind"])})
    return ImportResult(read=len(frame), added=added)


# customer keys -------------------------------------------------------------------------------


def hash_customer(values: pd.Series, salt: str = "") -> pd.Series:
    """A stable pseudonymous key per customer id (SHA-256, 16 hex digits)."""
    return values.map(lambda v: hashlib.sha256(f"{salt}{v}".encode()).hexdigest()[:16])


def anonymous_bank_customers(path: str | Path) -> pd.DataFrame:
    """interaction_id (as the Anonymous Bank reader builds it) and customer_id of one raw file.

    Unidentified callers (``customer_id`` 0) and the 180 ids written in scientific notation
    (digits lost, e.g. ``6.02701E+11``: several customers could share one value) get no key.
    """
    path = Path(path)
    try:
        raw = _read_ab_columns(path)
    except (ValueError, OSError) as error:
        raise DataError(f"not an Anonymous Bank file ({error})", file=str(path)) from None
    ids = raw["customer_id"].str.strip()
    usable = ids.str.fullmatch(r"\d+") & (ids.str.lstrip("0") != "")
    return pd.DataFrame(
        {
            "interaction_id": raw["vru+line"].str.strip() + "-" + raw["call_id"].str.strip(),
            "customer_id": ids.where(usable),
        }
    )


def _read_ab_columns(path: Path) -> pd.DataFrame:
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as handle:
        header = handle.readline()
    delimiter = "\t" if "\t" in header else ","
    return pd.read_csv(
        path, sep=delimiter, usecols=["vru+line", "call_id", "customer_id"], dtype=str
    )


def import_customers(
    quality: QualityStore, frame: pd.DataFrame, *, where: str = "customers", salt: str = ""
) -> ImportResult:
    """Store hashed customer keys of stored interactions (``interaction_id, customer_id``).

    Rows without a customer id are skipped; ids not in the store are an error.
    """
    frame = frame.dropna(subset=["customer_id"])
    frame = frame[frame["customer_id"].astype(str).str.strip() != ""]
    handled = quality.handled_by(frame["interaction_id"].unique())
    unknown = ~frame["interaction_id"].isin(handled["interaction_id"])
    if unknown.any():
        position = int(unknown.to_numpy().nonzero()[0][0])
        raise DataError(
            f"interaction {frame['interaction_id'].iloc[position]!r} is not in the store "
            "(ingest the interactions first)",
            file=where,
            field="interaction_id",
        )
    keys = pd.DataFrame(
        {
            "interaction_id": frame["interaction_id"].astype(str).to_numpy(),
            "customer_key": hash_customer(
                frame["customer_id"].astype(str).str.strip(), salt
            ).to_numpy(),
        }
    ).drop_duplicates("interaction_id")
    added = quality.write({"interaction_customer": (keys, ["interaction_id"])})
    return ImportResult(read=len(frame), added=added)

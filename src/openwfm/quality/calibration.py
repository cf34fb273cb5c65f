"""Calibration: several evaluators score the same interaction; how far do they disagree?

Per session (``calibration_id``): evaluators, mean score, standard deviation, range (max -
min), and the share of items on which not all evaluators gave the same answer. Per evaluator:
sessions, mean signed deviation from the session mean (bias: positive = lenient) and mean
absolute deviation. When a session has an evaluation from a ``reference`` evaluator (the
expert "scoring index"), deviations are measured from that evaluation instead of the mean.
"""

from __future__ import annotations

import pandas as pd


def calibration_spread(
    evaluations: pd.DataFrame, answers: pd.DataFrame, reference: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(sessions, evaluators) tables for the evaluations that carry a ``calibration_id``."""
    sessions_in = evaluations[evaluations["calibration_id"].notna()].copy()
    if sessions_in.empty:
        empty = pd.DataFrame(
            columns=[
                "calibration_id",
                "evaluators",
                "score_mean",
                "score_sd",
                "score_range",
                "item_disagreement",
            ]
        )
        return empty, pd.DataFrame(columns=["evaluator", "sessions", "bias", "mean_abs_dev"])
    grouped = sessions_in.groupby("calibration_id")["score"]
    sessions = grouped.agg(evaluators="count", score_mean="mean", score_sd="std")
    sessions["score_range"] = grouped.max() - grouped.min()
    marked = answers.merge(sessions_in[["evaluation_id", "calibration_id"]], on="evaluation_id")
    differing = marked.groupby(["calibration_id", "item"])["answer"].nunique() > 1
    sessions["item_disagreement"] = differing.groupby(level=0).mean()
    sessions = sessions.reset_index()
    baseline = sessions_in.groupby("calibration_id")["score"].transform("mean")
    if reference is not None:
        ref = sessions_in[sessions_in["evaluator"] == reference].set_index("calibration_id")
        baseline = sessions_in["calibration_id"].map(ref["score"]).fillna(baseline)
    deviation = sessions_in["score"] - baseline
    others = sessions_in.assign(deviation=deviation)
    if reference is not None:
        others = others[others["evaluator"] != reference]
    evaluators = others.groupby("evaluator").agg(
        sessions=("calibration_id", "nunique"),
        bias=("deviation", "mean"),
        mean_abs_dev=("deviation", lambda d: d.abs().mean()),
    )
    return sessions, evaluators.reset_index()

"""Per-agent quality, shrunk toward the team mean when an agent has few observations.

Estimators (both empirical Bayes, fitted per team over that team's agents):

- **Rates** (first-contact resolution, CSAT top-2-box): beta-binomial. The prior Beta(a, b) has
  the team's pooled rate m = sum(x) / sum(n) as its mean, and its strength M = a + b is fitted
  by the method of moments: the between-agent variance is the variance of the agents' raw
  rates minus their binomial noise m(1 - m) mean(1/n); when that is not positive the agents
  differ no more than noise and M is infinite (all get m); else M = m(1 - m) / variance - 1.
  Each agent's posterior mean is (x + M m) / (n + M): an agent with
  few contacts sits near the team rate, one with many keeps its own.
- **Evaluation scores** (fractions 0..1): normal-normal. With the pooled within-agent variance
  s2 and the between-agent variance t2 (variance of agent means minus s2 E[1/n], floored at 0),
  the shrunk score is (t2 ybar + (s2 / n) mu) / (t2 + s2 / n), mu the team mean of agent means.
  t2 = 0 (agents indistinguishable from noise) puts everyone at the team mean.

Calibration evaluations (with a ``calibration_id``) measure evaluators, not agents: they are
left out of agent scores.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

_TINY = 1e-12


def beta_binomial_shrink(successes, trials) -> tuple[np.ndarray, float, float]:
    """Posterior-mean rates (x + M m) / (n + M); returns (rates, m, M). M is inf when the
    agents differ no more than binomial noise (every agent gets the pooled rate m)."""
    x = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    used = n > 0
    if not used.any():
        return np.full(len(x), np.nan), float("nan"), float("nan")
    m = x[used].sum() / n[used].sum()
    raw = x[used] / n[used]
    observed = float(np.var(raw, ddof=1)) if used.sum() > 1 else 0.0
    noise = m * (1 - m) * float(np.mean(1.0 / n[used]))
    between = observed - noise
    if between <= _TINY or m in (0.0, 1.0):
        strength = float("inf")
        rates = np.full(len(x), m)
    else:
        strength = max(m * (1 - m) / between - 1.0, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            rates = (x + strength * m) / (n + strength)
    return rates, float(m), strength


def normal_shrink(means, counts, within_variance: float) -> tuple[np.ndarray, float, float]:
    """Shrunk means (t2 ybar + (s2/n) mu) / (t2 + s2/n); returns (means, mu, t2)."""
    ybar = np.asarray(means, dtype=float)
    n = np.asarray(counts, dtype=float)
    used = (n > 0) & np.isfinite(ybar)
    if not used.any():
        return np.full(len(ybar), np.nan), float("nan"), float("nan")
    mu = float(ybar[used].mean())
    noise = within_variance * float(np.mean(1.0 / n[used]))
    between = max(float(ybar[used].var()) - noise, 0.0) if used.sum() > 1 else 0.0
    if between <= _TINY:
        return np.where(used, mu, np.nan), mu, 0.0
    sampling = within_variance / np.where(used, n, 1.0)
    shrunk = (between * ybar + sampling * mu) / (between + sampling)
    return np.where(used, shrunk, np.nan), mu, between


def _teams(agents: pd.Series, teams: Mapping[str, str] | None) -> pd.Series:
    return agents.map(lambda a: (teams or {}).get(a, "all")).astype(str)


def agent_quality(
    evaluations: pd.DataFrame | None = None,
    fcr_flags: pd.DataFrame | None = None,
    surveys: pd.DataFrame | None = None,
    *,
    window: str = "1d",
    by: tuple[str, ...] = ("agent",),
    teams: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One row per agent (or agent x queue with ``by=("agent", "queue")``):

    ``evaluations``, ``score_raw``, ``score`` (shrunk), ``auto_fails``; ``contacts``,
    ``fcr_raw``, ``fcr`` (shrunk, resolution within ``window``); ``csat_responses``,
    ``csat_mean``, ``csat_top2_raw``, ``csat_top2`` (shrunk share of 4-5), ``ces_mean``,
    ``nps`` (% promoters - % detractors); ``team``.
    """
    by = list(by)
    parts: list[pd.DataFrame] = []
    if evaluations is not None and len(evaluations):
        scored = (
            evaluations[evaluations["calibration_id"].isna()]
            if ("calibration_id" in evaluations)
            else evaluations
        )
        parts.append(_evaluation_part(scored, by, teams))
    if fcr_flags is not None and len(fcr_flags):
        parts.append(
            _rate_part(fcr_flags, by, teams, ~fcr_flags[f"repeat_{window}"], "fcr", "contacts")
        )
    if surveys is not None and len(surveys):
        parts.append(_survey_part(surveys, by, teams))
    if not parts:
        return pd.DataFrame(columns=[*by, "team"])
    table = parts[0]
    for part in parts[1:]:
        table = table.merge(part, on=by, how="outer")
    table["team"] = _teams(table["agent"], teams)
    for column in ("evaluations", "auto_fails", "contacts", "csat_responses"):
        if column in table.columns:
            table[column] = table[column].astype("Int64")
    return table.sort_values(by).reset_index(drop=True)


def _evaluation_part(evaluations: pd.DataFrame, by, teams) -> pd.DataFrame:
    grouped = evaluations.groupby(by)["score"]
    table = grouped.agg(evaluations="count", score_raw="mean").reset_index()
    table["auto_fails"] = evaluations.groupby(by)["auto_fail"].sum().to_numpy(dtype=int)
    within = evaluations.groupby(by)["score"].var(ddof=1)
    weights = grouped.count() - 1
    pooled = float((within.fillna(0) * weights).sum() / max(weights.sum(), 1))
    team = _teams(table["agent"], teams)
    table["score"] = np.nan
    for _, rows in table.groupby(team):
        shrunk, _, _ = normal_shrink(rows["score_raw"], rows["evaluations"], pooled)
        table.loc[rows.index, "score"] = shrunk
    return table


def _rate_part(frame, by, teams, success: pd.Series, name: str, count_name: str):
    grouped = frame.assign(_success=success.to_numpy(dtype=float)).groupby(by)["_success"]
    table = grouped.agg(**{count_name: "count", f"{name}_raw": "mean"}).reset_index()
    successes = grouped.sum().to_numpy()
    team = _teams(table["agent"], teams)
    table[name] = np.nan
    for _, rows in table.groupby(team):
        shrunk, _, _ = beta_binomial_shrink(successes[rows.index], rows[count_name])
        table.loc[rows.index, name] = shrunk
    return table


def _survey_part(surveys: pd.DataFrame, by, teams) -> pd.DataFrame:
    pieces = []
    csat = surveys[surveys["kind"] == "csat"]
    if len(csat):
        part = _rate_part(csat, by, teams, csat["value"] >= 4, "csat_top2", "csat_responses")
        part["csat_mean"] = csat.groupby(by)["value"].mean().to_numpy()
        pieces.append(part)
    ces = surveys[surveys["kind"] == "ces"]
    if len(ces):
        pieces.append(ces.groupby(by)["value"].mean().rename("ces_mean").reset_index())
    nps = surveys[surveys["kind"] == "nps"]
    if len(nps):
        score = np.where(nps["value"] >= 9, 100.0, np.where(nps["value"] <= 6, -100.0, 0.0))
        pieces.append(nps.assign(_nps=score).groupby(by)["_nps"].mean().rename("nps").reset_index())
    table = pieces[0]
    for piece in pieces[1:]:
        table = table.merge(piece, on=by, how="outer")
    return table

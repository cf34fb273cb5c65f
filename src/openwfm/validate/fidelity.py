"""Model fidelity: would Erlang C, Erlang A or the simulator have predicted what happened?

For every hour of a real history (parameters from :func:`openwfm.validate.estimation.
estimate_hours`), each model predicts the hour's service level (offered-based: answered within
the target / offered), ASA (mean wait of answered contacts, s) and abandonment rate
(abandoned / offered), and the prediction is compared with the hour's actual value.

Models:

- ``erlang_c``: M/M/n with the hour's offered load (arrival rate x AHT) and agents. It has no
  abandonment: it predicts none, so it is compared on **service level and ASA only**. When the
  load reaches the agents (a >= n) it has no steady state: service level 0 and an infinite
  ASA; those hours count in the service-level errors and are counted apart
  (``unstable_hours``) for ASA, which is compared on the hours where every model is finite.
- ``erlang_a``: M/M/n+M (Palm/Erlang A) with the hour's estimated exponential patience; it
  predicts all three metrics.
- ``erlang_x``: Erlang X (M/M/n+M with redials) with the redial probability and retry time
  estimated from the records (:mod:`openwfm.validate.redials`); see
  :func:`erlang_x_predictions`.
- ``simulation``: :mod:`openwfm.sim` replaying the recorded arrivals (trace replay: real arrival
  times, recorded handle times of answered calls) with the estimated agents per hour, one team
  per queue, and the queue's pooled exponential patience; mean over replications.
- ``queue_mean``: a naive baseline, the queue's own whole-history value every hour (pooled from
  counts). A model that does not beat it is no use for planning hour by hour.

Errors are predicted - actual: MAE and bias (mean error) per model and metric, overall, by hour
of day and by queue; each hour counts once (hours with fewer than ``min_offered`` offered
contacts are left out: their actual rates are mostly noise).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from openwfm.errors import ParameterError
from openwfm.validate.estimation import estimate_hours

MODELS = ("erlang_c", "erlang_a", "erlang_x", "simulation", "queue_mean")
DEFAULT_MODELS = ("erlang_c", "erlang_a", "queue_mean")
METRICS = ("service_level", "asa_s", "abandon_rate")
# which metrics each model predicts (Erlang C has no abandonment)
MODEL_METRICS = {
    "erlang_c": ("service_level", "asa_s"),
    "erlang_a": METRICS,
    "erlang_x": METRICS,
    "simulation": METRICS,
    "queue_mean": METRICS,
}
PREDICTION_COLUMNS = ("model", "metric", "predicted", "actual", "error", "offered")


def _check_models(models: Sequence[str]) -> list[str]:
    models = list(dict.fromkeys(models))
    unknown = [m for m in models if m not in MODELS]
    if unknown or not models:
        raise ParameterError(
            f"unknown model(s) {unknown} (expected some of: {', '.join(MODELS)})", field="models"
        )
    return models


def erlang_predictions(estimates: pd.DataFrame) -> dict[str, dict[str, np.ndarray]]:
    """Erlang C and Erlang A predictions for every row of :func:`estimate_hours`, vectorised."""
    from openwfm import queueing

    rate = estimates["arrival_rate_per_s"].to_numpy(dtype=float)
    aht = estimates["aht_s"].to_numpy(dtype=float)
    agents = estimates["agents"].to_numpy(dtype=float)
    target = estimates["target_s"].to_numpy(dtype=float)
    patience = estimates["patience_s"].to_numpy(dtype=float)
    traffic = rate * aht
    erlang_c = {
        "service_level": np.asarray(queueing.service_level(traffic, agents, aht, target), float),
        "asa_s": np.asarray(queueing.asa(traffic, agents, aht), float),
    }
    # an infinite patience (nobody ever left the queue) makes Erlang A equal to Erlang C
    result = queueing.erlang_a(rate, aht, patience, agents, target)
    erlang_a = {
        "service_level": np.asarray(result.service_level, float),
        "asa_s": np.asarray(result.asa_s, float),
        "abandon_rate": np.asarray(result.p_abandon, float),
    }
    return {"erlang_c": erlang_c, "erlang_a": erlang_a}


def erlang_x_predictions(
    estimates: pd.DataFrame, redials: Mapping[str, float]
) -> dict[str, np.ndarray]:
    """Erlang X (redials: ``retrial_probability`` and ``retry_mean_s``, estimated from the
    records by :func:`openwfm.validate.redials.estimate_redials`) for every row.

    The hour's recorded arrivals already include redials, so the fresh rate given to Erlang X
    is the recorded rate less the redials Erlang A predicts at it (``lam (1 - p L_A)``, from
    the model alone, no hour's outcome); Erlang X then adds its own redials, which arrive in
    bursts after busy spells rather than as Poisson traffic."""
    from openwfm import queueing

    p = float(redials["retrial_probability"])
    retry = float(redials["retry_mean_s"])
    rate = estimates["arrival_rate_per_s"].to_numpy(dtype=float)
    aht = estimates["aht_s"].to_numpy(dtype=float)
    agents = estimates["agents"].to_numpy(dtype=float)
    target = estimates["target_s"].to_numpy(dtype=float)
    patience = estimates["patience_s"].to_numpy(dtype=float)
    out = {m: np.full(rate.size, np.nan) for m in METRICS}
    ok = (rate > 0) & np.isfinite(aht) & (aht > 0) & np.isfinite(agents)
    if not np.any(ok):
        return out
    loss = np.asarray(
        queueing.erlang_a(rate[ok], aht[ok], patience[ok], agents[ok], target[ok]).p_abandon
    )
    fresh = rate[ok] * (1.0 - p * np.nan_to_num(loss))
    result = queueing.erlang_x(
        fresh,
        aht[ok],
        patience[ok],
        agents[ok],
        np.inf,
        target[ok],
        retrial_probability=p,
        retry_mean_s=retry,
    )
    out["service_level"][ok] = result["service_level"]
    out["asa_s"][ok] = result["asa_s"]
    out["abandon_rate"][ok] = result["p_abandon"]
    return out


def queue_mean_predictions(estimates: pd.DataFrame, by: Sequence[str]) -> dict[str, np.ndarray]:
    """The naive baseline: each group's whole-history value (ratios of summed counts)."""
    groups = estimates.groupby(list(by), sort=False)
    offered = groups["offered"].transform("sum")
    answered = groups["answered"].transform("sum")
    within = groups["answered_within_target"].transform("sum")
    abandoned = groups["abandoned"].transform("sum")
    wait = (
        (estimates["asa_s"].fillna(0) * estimates["answered"])
        .groupby([estimates[c] for c in by], sort=False)
        .transform("sum")
    )
    return {
        "service_level": (within / offered).to_numpy(dtype=float),
        "asa_s": (wait / answered.where(answered > 0)).to_numpy(dtype=float),
        "abandon_rate": (abandoned / offered).to_numpy(dtype=float),
    }


def simulation_predictions(
    interactions: pd.DataFrame,
    estimates: pd.DataFrame,
    *,
    replications: int = 5,
    seed: int = 0,
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """Trace replay of the history through :mod:`openwfm.sim` (per queue, by hour).

    Each queue gets its own team whose size follows the estimated ``agents`` hour by hour (so
    queues do not share agents: the estimate already split shared agents between queues); the
    recorded arrivals are replayed with their recorded handle times, the unanswered ones draw
    from the queue's recorded handle times; patience is exponential with the queue's pooled MLE.
    Returns the mean over replications per row of ``estimates`` (NaN where nothing arrived).
    """
    from openwfm.data.schema import OFFERED_OUTCOMES
    from openwfm.model import Scenario
    from openwfm.sim import prepare, run_prepared

    if list(estimates.columns[:2]) != ["interval_start", "queue"] or "segment" in estimates:
        raise ParameterError("the simulation model needs estimates by queue only", field="by")
    interval_s = float(estimates.attrs.get("interval_s", 3600.0))
    queues = sorted(estimates["queue"].astype(str).unique())
    patience = estimates.attrs.get("queue_patience_s", {})
    offered = interactions[
        interactions["outcome"].isin(OFFERED_OUTCOMES) & interactions["queue"].isin(queues)
    ]
    handle: dict[str, np.ndarray] = {}
    for queue in queues:
        rows = offered[(offered["queue"] == queue) & (offered["outcome"] == "answered")]
        values = rows["handle_s"].to_numpy(dtype=float)
        handle[queue] = values[np.isfinite(values) & (values > 0)]
    targets = estimates.groupby("queue")["target_s"].first()
    peak = estimates.groupby("queue")["agents"].max()
    scenario = Scenario.model_validate(
        {
            "name": "validate: trace replay",
            "grid": {"interval_minutes": int(interval_s // 60)},
            "queues": [
                {
                    "name": q,
                    "aht_s": float(handle[q].mean()) if len(handle[q]) else 1.0,
                    "patience_s": float(patience[q])
                    if np.isfinite(patience.get(q, np.inf))
                    else None,
                    "target": {"within_s": float(targets[q]), "definition": "offered"},
                }
                for q in queues
            ],
            "agent_groups": [
                {"name": f"team-{q}", "count": int(peak[q]), "skills": {q: 1.0}} for q in queues
            ],
            "routing": {"policy": "longest_idle"},
        }
    )
    # agents per hour and team, over the whole span plus two hours
    counts = estimates[["interval_start", "queue", "agents"]].rename(columns={"queue": "team"})
    counts = counts.assign(team="team-" + counts["team"].astype(str))
    grid = pd.MultiIndex.from_product(
        [
            pd.date_range(
                estimates["interval_start"].min(),
                estimates["interval_start"].max() + pd.Timedelta(hours=2),
                freq=pd.Timedelta(seconds=interval_s),
            ),
            sorted(counts["team"].unique()),
        ],
        names=["interval_start", "team"],
    )
    counts = counts.set_index(["interval_start", "team"])["agents"].reindex(grid)
    # an hour with no arrival follows one with calls (e.g. past closing): its agents stay one
    # more hour to finish the queue, as the real ones did; later empty hours have none
    counts = counts.groupby(level="team").ffill(limit=1).fillna(0).astype("int64")
    counts = counts.reset_index()
    start = estimates["interval_start"].min().normalize()
    trace = offered.assign(segment="default")
    prepared = prepare(
        scenario,
        trace=trace,
        schedule=counts,
        start=start.date(),
        interval_s=interval_s,
        empirical_handle_s=handle,
    )
    result = run_prepared(prepared, replications=replications, seed=seed, progress=progress)
    table = result.intervals
    table = table[(table["segment"] == "all") & (table["queue"] != "all")]
    keyed = table.set_index(["interval_start", "queue"])
    index = pd.MultiIndex.from_arrays([estimates["interval_start"], estimates["queue"].astype(str)])
    return {m: keyed[m].reindex(index).to_numpy(dtype=float) for m in METRICS}


def predict_hours(
    estimates: pd.DataFrame,
    *,
    models: Sequence[str] = DEFAULT_MODELS,
    interactions: pd.DataFrame | None = None,
    by: Sequence[str] = ("queue",),
    replications: int = 5,
    seed: int = 0,
    progress: bool = False,
    redials: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Long table: one row per estimate row x model x metric it predicts.

    Columns: ``interval_start``, ``by``, ``hour`` (of day), ``model``, ``metric``,
    ``predicted``, ``actual``, ``error`` (predicted - actual), ``offered``. The ``simulation``
    model needs ``interactions`` (the history it replays).
    """
    models = _check_models(models)
    by = list(by)
    predictions: dict[str, dict[str, np.ndarray]] = {}
    if {"erlang_c", "erlang_a"} & set(models):
        predictions.update(erlang_predictions(estimates))
    if "erlang_x" in models:
        if redials is None:
            raise ParameterError(
                "the erlang_x model needs the redial estimates (estimate_redials)",
                field="redials",
            )
        predictions["erlang_x"] = erlang_x_predictions(estimates, redials)
    if "queue_mean" in models:
        predictions["queue_mean"] = queue_mean_predictions(estimates, by)
    if "simulation" in models:
        if interactions is None:
            raise ParameterError("the simulation model needs the interactions", field="models")
        predictions["simulation"] = simulation_predictions(
            interactions, estimates, replications=replications, seed=seed, progress=progress
        )
    base = estimates[["interval_start", *by, "offered"]].copy()
    base["hour"] = estimates["interval_start"].dt.hour
    frames = []
    for model in models:
        for metric in MODEL_METRICS[model]:
            frame = base.copy()
            frame["model"] = model
            frame["metric"] = metric
            frame["predicted"] = predictions[model][metric]
            frame["actual"] = estimates[metric].to_numpy(dtype=float)
            frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    table["error"] = table["predicted"] - table["actual"]
    return table[["interval_start", *by, "hour", *PREDICTION_COLUMNS]]


def fidelity_errors(
    predictions: pd.DataFrame, group: str | None = None, *, min_offered: int = 10
) -> pd.DataFrame:
    """MAE and bias per model x metric (x ``group``: ``hour`` or ``queue``).

    Service level and abandonment are compared on every hour with >= ``min_offered`` offered
    contacts. ASA is compared on those hours where every model's prediction is finite and the
    hour had an answered contact (Erlang C's ASA is infinite when load >= agents);
    ``unstable_hours`` counts the hours a model gave no finite prediction.
    Columns: ``model``, ``metric``, [``group``], ``hours``, ``mae``, ``bias``,
    ``unstable_hours``.
    """
    table = predictions[predictions["offered"] >= min_offered]
    key = ["interval_start", *[c for c in ("queue", "segment") if c in table.columns]]
    finite = np.isfinite(table["predicted"]) & np.isfinite(table["actual"])
    # rows (hour x group x metric) where every model that predicts the metric is finite
    common = finite.groupby([table[k] for k in key] + [table["metric"]]).transform("all")
    unstable = ~np.isfinite(table["predicted"]) & np.isfinite(table["actual"])
    keep = common & finite
    scored = table[keep].assign(absolute=lambda f: f["error"].abs())
    groups = ["model", "metric"] + ([group] if group else [])
    out = scored.groupby(groups, sort=False).agg(
        hours=("error", "size"), mae=("absolute", "mean"), bias=("error", "mean")
    )
    out["unstable_hours"] = (
        table.assign(unstable=unstable).groupby(groups, sort=False)["unstable"].sum()
    )
    out = out.reset_index()
    model_order = {m: i for i, m in enumerate(MODELS)}
    metric_order = {m: i for i, m in enumerate(METRICS)}
    out = out.sort_values(
        [*([group] if group else []), "metric", "model"],
        key=lambda s: (
            s.map(metric_order)
            if s.name == "metric"
            else (s.map(model_order) if s.name == "model" else s)
        ),
        kind="stable",
    )
    return out.reset_index(drop=True)


@dataclass
class FidelityResult:
    """What :func:`model_fidelity` found: estimates, predictions and error tables."""

    estimates: pd.DataFrame
    predictions: pd.DataFrame
    errors: pd.DataFrame
    by_hour: pd.DataFrame
    by_queue: pd.DataFrame
    info: dict = field(default_factory=dict)

    def figures(self) -> list:
        """Plotly figures: MAE by hour of day per metric, and predicted vs actual abandonment."""
        from openwfm.validate.charts import error_by_hour_figure, predicted_vs_actual_figure

        return [
            error_by_hour_figure(self.by_hour),
            predicted_vs_actual_figure(self.predictions, "abandon_rate", self.info["min_offered"]),
            predicted_vs_actual_figure(self.predictions, "service_level", self.info["min_offered"]),
        ]


def model_fidelity(
    interactions: pd.DataFrame,
    *,
    target_s: float | Mapping | None = None,
    scenario=None,
    by: Sequence[str] = ("queue",),
    queues: Sequence[str] | None = None,
    models: Sequence[str] = DEFAULT_MODELS,
    min_offered: int = 10,
    replications: int = 5,
    seed: int = 0,
    progress: bool = False,
    redials: Mapping[str, float] | None = None,
    **estimate_options,
) -> FidelityResult:
    """Estimate every hour of ``interactions``, predict with ``models``, score against actuals.

    ``target_s`` (s, or per queue) wins over the ``scenario``'s queue targets; with neither,
    20 s. Queues in the history but not in the scenario keep the ``"*"`` target (the scenario's
    first queue's). ``queues`` limits the queues validated (default: the scenario's queues when
    a scenario is given, else all). ``estimate_options`` go to :func:`estimate_hours`.
    """
    models = _check_models(models)
    from_scenario = queues is None and scenario is not None
    if from_scenario:
        queues = scenario.queue_names
    if queues is not None:
        present = set(interactions["queue"].astype(str))
        unknown = [q for q in queues if q not in present]
        if unknown and (not from_scenario or len(unknown) == len(queues)):
            what = (
                "no scenario queue is"
                if from_scenario
                else f"unknown queue(s) {', '.join(unknown)}:"
            )
            raise ParameterError(
                f"{what} in the history (it has {', '.join(sorted(present)[:12])})",
                field="scenario" if from_scenario else "queues",
            )
        interactions = interactions[interactions["queue"].isin(list(queues))]
    if target_s is None:
        if scenario is not None:
            target_s = scenario.answer_targets_s(
                scenario.queues[0].target.within_s, by_segment="segment" in by
            )
        else:
            target_s = 20.0
    estimates = estimate_hours(interactions, by=by, target_s=target_s, **estimate_options)
    predictions = predict_hours(
        estimates,
        models=models,
        interactions=interactions,
        by=by,
        replications=replications,
        seed=seed,
        progress=progress,
        redials=redials,
    )
    return FidelityResult(
        estimates=estimates,
        predictions=predictions,
        errors=fidelity_errors(predictions, min_offered=min_offered),
        by_hour=fidelity_errors(predictions, "hour", min_offered=min_offered),
        by_queue=fidelity_errors(predictions, "queue", min_offered=min_offered),
        info={
            "min_offered": min_offered,
            "models": models,
            "hours": int(estimates["interval_start"].nunique()),
            "rows": len(estimates),
            **{k: v for k, v in estimates.attrs.items() if k != "queue_patience_s"},
        },
    )


__all__ = [
    "DEFAULT_MODELS",
    "METRICS",
    "MODELS",
    "FidelityResult",
    "fidelity_errors",
    "predict_hours",
    "model_fidelity",
]

"""Agents' proficiency per queue derived from measured quality, resolution and handle time.

For each agent x queue with data, three components in 0..1 (higher is better):

- ``quality``: the shrunk evaluation score (:func:`openwfm.quality.agents.agent_quality`);
- ``resolution``: the shrunk first-contact resolution rate;
- ``speed``: the queue's mean handle time / the agent's mean handle time, divided by the best
  such ratio in the queue (the fastest agent gets 1).

``composite`` = the weighted mean of the components the agent has (``weights``, default
quality 0.4, resolution 0.4, speed 0.2); ``proficiency`` = composite / the best composite in the
queue (the best agent gets 1.0), floored at ``floor``. The A-team of a queue is its top
``a_team_share`` of agents by proficiency (at least one). :func:`write_proficiency` puts the
values into a copy of a scenario file, which the simulator and the router then use
(``best_skilled`` routing sends the A-team segments to the most proficient agents first).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from openwfm.errors import ScenarioError

DEFAULT_WEIGHTS = {"quality": 0.4, "resolution": 0.4, "speed": 0.2}


def handle_times(contacts: pd.DataFrame) -> pd.DataFrame:
    """Mean handle time (s) and answered contacts per agent x queue."""
    answered = contacts[(contacts["outcome"] == "answered") & contacts["agent"].notna()]
    answered = answered[answered["handle_s"].notna()]
    return (
        answered.groupby(["agent", "queue"])["handle_s"]
        .agg(answered="count", aht_s="mean")
        .reset_index()
    )


def derive_proficiency(
    quality: pd.DataFrame,
    handle: pd.DataFrame | None = None,
    *,
    weights: Mapping[str, float] | None = None,
    floor: float = 0.1,
    a_team_share: float = 0.25,
) -> pd.DataFrame:
    """agent, queue, quality, resolution, speed, composite, proficiency, a_team.

    ``quality``: :func:`agent_quality` by ``("agent", "queue")`` (columns ``score``, ``fcr``);
    ``handle``: :func:`handle_times`.
    """
    weights = {**DEFAULT_WEIGHTS, **(weights or {})}
    table = quality.rename(columns={"score": "quality", "fcr": "resolution"})
    keep = [c for c in ("agent", "queue", "quality", "resolution") if c in table.columns]
    table = table[keep]
    if handle is not None and len(handle):
        table = table.merge(handle[["agent", "queue", "aht_s"]], on=["agent", "queue"], how="outer")
        queue_mean = table.groupby("queue")["aht_s"].transform("mean")
        ratio = queue_mean / table["aht_s"]
        table["speed"] = ratio / ratio.groupby(table["queue"]).transform("max")
    for name in ("quality", "resolution", "speed"):
        if name not in table.columns:
            table[name] = np.nan
    parts = table[["quality", "resolution", "speed"]].to_numpy(dtype=float)
    w = np.array([weights["quality"], weights["resolution"], weights["speed"]])
    have = np.isfinite(parts)
    total = (np.where(have, parts, 0.0) * w).sum(axis=1)
    weight_sum = (have * w).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        table["composite"] = np.where(weight_sum > 0, total / weight_sum, np.nan)
    best = table.groupby("queue")["composite"].transform("max")
    table["proficiency"] = np.clip((table["composite"] / best).round(3), floor, 1.0)
    rank = table.groupby("queue")["proficiency"].rank(ascending=False, method="first")
    size = table.groupby("queue")["proficiency"].transform("count")
    table["a_team"] = rank <= np.maximum(1, np.floor(size * a_team_share))
    table = table[table["composite"].notna()]
    return table.sort_values(["queue", "proficiency"], ascending=[True, False]).reset_index(
        drop=True
    )


def _expand_groups(data: dict, named: set[str]) -> None:
    """Agent groups with a member in ``named`` become named agents (same skills, contract)."""
    kept = []
    for group in data.get("agent_groups") or []:
        members = [f"{group['name']}-{i + 1}" for i in range(int(group.get("count", 0)))]
        if not named.intersection(members):
            kept.append(group)
            continue
        for member in members:
            agent = {"name": member, "skills": dict(group.get("skills", {})), "team": group["name"]}
            for key in ("contract", "max_concurrency"):
                if group.get(key):
                    agent[key] = group[key]
            data.setdefault("agents", []).append(agent)
    data["agent_groups"] = kept


def write_proficiency(
    scenario_path: str | Path,
    proficiency: pd.DataFrame,
    out_path: str | Path,
    *,
    a_team_segments: list[str] | None = None,
) -> dict[str, int]:
    """Write a copy of the scenario with the derived proficiencies (and, with
    ``a_team_segments``, ``best_skilled`` routing of those segments). Only skills the agent
    already has are changed. Returns counts: updated skills, agents without data, unmatched."""
    from openwfm.io import atomic_write_text
    from openwfm.scenario import load_scenario, parse_scenario

    load_scenario(scenario_path)  # the input must be valid first
    data = yaml.safe_load(Path(scenario_path).read_text(encoding="utf-8"))
    values = {(r.agent, r.queue): float(r.proficiency) for r in proficiency.itertuples()}
    _expand_groups(data, {agent for agent, _ in values})
    updated, matched = 0, set()
    for agent in data.get("agents") or []:
        for queue in list(agent.get("skills", {})):
            if (agent["name"], queue) in values:
                agent["skills"][queue] = values[(agent["name"], queue)]
                updated += 1
                matched.add(agent["name"])
    if a_team_segments:
        routing = data.setdefault("routing", {})
        routing["policy"] = "best_skilled"
        routing["a_team_segments"] = list(a_team_segments)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    try:
        parse_scenario(text, source=str(out_path))
    except ScenarioError as error:  # pragma: no cover - the edits keep the schema
        raise ScenarioError(
            f"the updated scenario is invalid: {error.message}",
            file=str(out_path),
            field=error.field,
        ) from None
    atomic_write_text(out_path, text)
    names = {agent for agent, _ in values}
    return {
        "skills_updated": updated,
        "agents_updated": len(matched),
        "agents_unmatched": len(names - matched),
    }

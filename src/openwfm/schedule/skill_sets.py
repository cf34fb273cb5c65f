"""Scheduling against skill-set requirements: coverage of a set of queues counts every agent
who can serve any queue of the set.

Per-queue scheduling counts each working agent toward one queue per interval (skill flows,
:mod:`openwfm.schedule.coverage`), so a cross-trained agent's flexibility is lost and the plan
buys hours the pooled center does not need. With skill-set requirements
(:func:`openwfm.staffing.skill_set_requirements`: the merged queue of each set of queues that
shares agents), the model keeps one requirement per queue (the queue alone: ``N({q}) >= r(q)``)
and one per pool (``N(S) >= r(S)``), and an agent at work counts toward every one of them it
can serve; a missing agent on a pool is priced like one on a queue (its service impact, from the
pool's merged rate, handle time and target).
"""

from __future__ import annotations

import pandas as pd

from openwfm.errors import DataError
from openwfm.schedule.scope import AgentSpec

POOL_SEPARATOR = "+"  # as openwfm.staffing.skill_sets names pools


def with_pools(
    requirements: pd.DataFrame,
    pool_requirements: pd.DataFrame,
    agents: list[AgentSpec],
    cover_column: str,
) -> tuple[pd.DataFrame, list[AgentSpec]]:
    """The requirement table with one row per pool x interval added (the pool's name as the
    ``queue``), and the agents with every pool they can serve added to their skills."""
    for needed in ("interval_start", "pool", cover_column):
        if needed not in pool_requirements.columns:
            raise DataError(f"missing column {needed!r}", file="pool requirements", field=needed)
    queues = set(requirements["queue"].astype(str))
    pools = pool_requirements.rename(columns={"pool": "queue"})
    names = list(dict.fromkeys(pools["queue"].astype(str)))
    for name in names:
        unknown = [q for q in name.split(POOL_SEPARATOR) if q not in queues]
        if unknown:
            raise DataError(
                f"pool {name!r} names queue {unknown[0]!r} without a requirement",
                file="pool requirements",
                field="pool",
            )
    pools, names = _one_per_agent_set(pools, names, agents, cover_column)
    keep = [c for c in pools.columns if c in requirements.columns]
    table = pd.concat([requirements, pools[keep]], ignore_index=True)
    expanded = []
    for agent in agents:
        served = set(agent.skills)
        extra = tuple(n for n in names if served & set(n.split(POOL_SEPARATOR)))
        expanded.append(AgentSpec(agent.name, agent.team, agent.contract, agent.skills + extra))
    return table, expanded


def _one_per_agent_set(
    pools: pd.DataFrame, names: list[str], agents: list[AgentSpec], cover_column: str
) -> tuple[pd.DataFrame, list[str]]:
    """Pools that the very same agents serve are one constraint: per interval the largest of
    their requirements, under the name of the pool with the most queues (the example center's
    voice+chat, voice+email and voice+chat+email are all its agents: one row, not three)."""
    by_agents: dict[frozenset[str], list[str]] = {}
    for name in names:
        members = set(name.split(POOL_SEPARATOR))
        who = frozenset(a.name for a in agents if members & set(a.skills))
        by_agents.setdefault(who, []).append(name)
    rename = {}
    for group in by_agents.values():
        widest = max(group, key=lambda n: (len(n.split(POOL_SEPARATOR)), -group.index(n)))
        rename.update(dict.fromkeys(group, widest))
    if len(set(rename.values())) == len(names):
        return pools, names
    merged = pools.assign(queue=pools["queue"].astype(str).map(rename))
    merged = merged.sort_values(cover_column, ascending=False, kind="stable")
    merged = merged.drop_duplicates(["interval_start", "queue"]).sort_index()
    return merged, list(dict.fromkeys(rename[n] for n in names))


def pool_coverage(coverage: pd.DataFrame) -> pd.DataFrame:
    """The coverage rows of pools (``queue`` names a pool ``a+b``), the pool in a column."""
    pools = coverage[coverage["queue"].astype(str).str.contains(POOL_SEPARATOR, regex=False)]
    return pools.rename(columns={"queue": "pool"}).reset_index(drop=True)

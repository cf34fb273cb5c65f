"""Seeded stratified samples of contacts for evaluators.

Each stratum (by default agent x queue) contributes ``per_stratum`` contacts drawn uniformly
without replacement (all of them when it has fewer). The draw depends only on the contacts, the
strata and the seed: contacts are ordered by id first, strata by their keys, and each stratum
gets its own generator spawned from ``numpy.random.SeedSequence(seed)``, so adding contacts to
one stratum does not change the sample of another.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from openwfm.data.schema import Outcome
from openwfm.errors import ParameterError


def stratified_sample(
    contacts: pd.DataFrame,
    per_stratum: int,
    *,
    by: Sequence[str] = ("agent", "queue"),
    seed: int = 0,
    exclude: Sequence[str] = (),
) -> pd.DataFrame:
    """``per_stratum`` answered contacts per stratum of ``by``, seeded; ``exclude``: ids
    already evaluated. Returns the sampled rows with a ``stratum_size`` column."""
    if per_stratum < 1:
        raise ParameterError(
            f"expected >= 1 contact per stratum, got {per_stratum}", field="per_stratum"
        )
    missing = [c for c in by if c not in contacts.columns]
    if missing:
        raise ParameterError(f"unknown stratum column {missing[0]!r}", field="by")
    pool = contacts[(contacts["outcome"] == Outcome.ANSWERED.value) & contacts["agent"].notna()]
    pool = pool[~pool["interaction_id"].isin(list(exclude))]
    pool = pool.sort_values("interaction_id").reset_index(drop=True)
    strata = pool.groupby(list(by), sort=True, dropna=False).indices
    seeds = np.random.SeedSequence(seed).spawn(max(len(strata), 1))
    chosen, sizes = [], []
    for (_, positions), stratum_seed in zip(strata.items(), seeds, strict=False):
        rng = np.random.default_rng(stratum_seed)
        take = min(per_stratum, len(positions))
        picked = np.sort(rng.choice(positions, size=take, replace=False))
        chosen.extend(picked)
        sizes.extend([len(positions)] * take)
    sample = pool.iloc[chosen].copy()
    sample["stratum_size"] = sizes
    return sample.reset_index(drop=True)

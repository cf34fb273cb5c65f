"""The adherence map: (state, reason code, scheduled activity) -> in / out / neutral.

Each :class:`AdherenceRule` names a ``state``, a ``reason_code`` and a scheduled ``activity``
(``*`` matches anything) and says whether time spent that way is **in** adherence, **out**
of adherence, or **neutral** (counted by neither side; Calabrio/Teleopti's third category),
with a grace threshold ``grace_s``: an out-of-adherence episode shorter than that is not an
exception (Teleopti's alarm threshold, Genesys's minimum exception length, injixo's buffer).

``activity`` matches the scheduled activity by exact name (a queue, ``lunch``...), or by class:
``work`` (any activity not listed as a break or other activity: the queues), ``break``
(:attr:`AdherenceMap.break_activities`), ``other`` (:attr:`AdherenceMap.other_activities`:
meetings, training) and ``off`` (nothing scheduled). The most specific rule wins: an exact
state beats ``*``, then an exact activity beats a class beats ``*``, then an exact reason
beats ``*``; among equals, the first listed.

**Unmapped states are an error** (:func:`AdherenceMap.classify` raises a DataError listing
every (state, reason, activity) without a rule, with counts and the first occurrence): the
category decides every figure, and a guess (in? out?) would bias adherence silently. A map
that wants a fallback says so with a ``state: "*"`` rule, as :func:`default_adherence_map`
does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from openwfm.errors import DataError
from openwfm.model import Strict
from openwfm.yaml_input import load_yaml_model

Category = Literal["in", "out", "neutral"]
ANY = "*"
OFF = "off"


class AdherenceRule(Strict):
    """Time in ``state`` (with ``reason_code``) while ``activity`` is scheduled is
    ``adherence``; out-of-adherence episodes shorter than ``grace_s`` seconds are forgiven."""

    state: Annotated[str, Field(min_length=1)] = ANY
    reason_code: Annotated[str, Field(min_length=1)] = ANY
    activity: Annotated[str, Field(min_length=1)] = ANY
    adherence: Category
    grace_s: Annotated[float, Field(ge=0.0)] = 0.0


class AdherenceMap(Strict):
    """Rules plus the vocabulary they rely on (all names compared in lower case).

    - ``absent_states``: states meaning "not present" (logged out): injixo's *not present*,
      and not worked time for conformance.
    - ``on_queue_states``: states taking contacts (Genesys's on-queue conformance).
    - ``break_activities`` / ``other_activities``: scheduled activities of class ``break`` /
      ``other``; any other scheduled activity is ``work``.
    """

    rules: list[AdherenceRule] = Field(min_length=1)
    absent_states: list[str] = Field(default_factory=lambda: ["logged_out", "offline"])
    on_queue_states: list[str] = Field(
        default_factory=lambda: ["available", "busy", "wrap", "idle", "on_contact"]
    )
    break_activities: list[str] = Field(default_factory=lambda: ["break", "lunch"])
    other_activities: list[str] = Field(
        default_factory=lambda: ["meeting", "training", "coaching", "offline_work"]
    )

    def activity_class(self, activity: pd.Series) -> pd.Series:
        """``off`` / ``break`` / ``other`` / ``work`` for each scheduled activity name."""
        text = activity.astype("string").str.lower()
        breaks = {a.lower() for a in self.break_activities}
        others = {a.lower() for a in self.other_activities}
        out = np.where(
            text.isna() | (text == OFF),
            OFF,
            np.where(text.isin(breaks), "break", np.where(text.isin(others), "other", "work")),
        )
        return pd.Series(out, index=activity.index, dtype="string")

    def _best_rule(self, state: str, reason: str | None, activity: str, klass: str) -> int:
        best, best_score = -1, None
        for index, rule in enumerate(self.rules):
            rs, rr, ra = rule.state.lower(), rule.reason_code.lower(), rule.activity.lower()
            if rs not in (ANY, state):
                continue
            if rr != ANY and rr != (reason or ""):
                continue
            if ra == activity:
                activity_score = 2
            elif ra == klass:
                activity_score = 1
            elif ra == ANY:
                activity_score = 0
            else:
                continue
            score = (rs != ANY, activity_score, rr != ANY)
            if best_score is None or score > best_score:
                best, best_score = index, score
        return best

    def classify(self, segments: pd.DataFrame) -> pd.DataFrame:
        """Add ``activity_class``, ``rule``, ``category`` and ``grace_s`` to a table with
        ``state, reason_code, activity`` (activity <NA> or ``off``: nothing scheduled).

        Raises DataError listing every combination no rule matches (see module doc).
        """
        out = segments.copy()
        out["activity_class"] = self.activity_class(out["activity"])
        activity = out["activity"].astype("string").str.lower().fillna(OFF)
        keys = pd.DataFrame(
            {
                "state": out["state"].astype("string").str.lower(),
                "reason": out["reason_code"].astype("string").str.lower(),
                "activity": activity,
                "klass": out["activity_class"],
            }
        )
        keys["reason"] = keys["reason"].fillna("")
        unique = keys.drop_duplicates().reset_index(drop=True)
        unique["rule"] = [
            self._best_rule(row.state, row.reason or None, row.activity, row.klass)
            for row in unique.itertuples(index=False)
        ]
        rule = keys.merge(unique, on=["state", "reason", "activity", "klass"], how="left")[
            "rule"
        ].to_numpy(dtype=int)
        keys["reason"] = keys["reason"].replace("", pd.NA)
        if (rule < 0).any():
            _raise_unmapped(out, keys, rule)
        out["rule"] = rule
        categories = np.array([r.adherence for r in self.rules], dtype=object)
        graces = np.array([r.grace_s for r in self.rules], dtype=float)
        out["category"] = pd.Series(categories[rule], index=out.index, dtype="string")
        out["grace_s"] = graces[rule]
        return out


def _raise_unmapped(segments: pd.DataFrame, keys: pd.DataFrame, rule: np.ndarray) -> None:
    missing = keys[rule < 0].copy()
    missing["reason"] = missing["reason"].fillna("-")
    counts = missing.groupby(["state", "reason", "activity"], sort=True).size()
    parts = [f"{s}/{r} during {a} ({n}x)" for (s, r, a), n in counts.items()]
    first = segments[rule < 0].iloc[0]
    raise DataError(
        f"unmapped state(s): {'; '.join(parts)}; first: agent {first['agent_id']!r} at "
        f"{first['start']}. Add a rule for each (or a state '*' fallback rule)",
        file="adherence map",
        field="rules",
    )


def default_adherence_map() -> AdherenceMap:
    """A complete map (no state is unmapped) for the usual ACD states: ``available``,
    ``busy``, ``wrap``, ``not_ready`` (reason ``break``, ``lunch``, ``meeting``...) and
    ``logged_out``; grace 0 everywhere."""
    rules = [
        {"state": "logged_out", "activity": OFF, "adherence": "in"},
        {"state": "offline", "activity": OFF, "adherence": "in"},
        {"activity": OFF, "adherence": "out"},  # working while not scheduled
        *[
            {"state": s, "activity": "work", "adherence": "in"}
            for s in ("available", "busy", "wrap", "idle", "on_contact")
        ],
        {"activity": "work", "adherence": "out"},
        {"state": "not_ready", "activity": "break", "adherence": "in"},
        {"state": "logged_out", "activity": "break", "adherence": "in"},
        {"activity": "break", "adherence": "out"},
        {"state": "not_ready", "activity": "other", "adherence": "in"},
        {"activity": "other", "adherence": "out"},
    ]
    return AdherenceMap(rules=[AdherenceRule(**r) for r in rules])


def load_adherence_map(path: str | Path) -> AdherenceMap:
    """Read an adherence map from YAML (``rules: [{state, reason_code, activity, adherence,
    grace_s}]`` and optionally the vocabulary lists); DataError naming the field if invalid."""
    return load_yaml_model(
        path,
        AdherenceMap,
        DataError,
        "adherence map file",
        "expected a list of rules or a mapping with rules:",
        list_key="rules",
    )

"""Redials in a call history: how often a caller who abandoned calls again, and how soon.

The normalised interaction table has no caller identity, so the estimate reads it from the
source records: for the Anonymous Bank files, ``customer_id`` (0: caller not identified; some
values are spreadsheet-mangled scientific notation and are left out). An abandon is a call
that waited in the agent queue and hung up there (``HANG`` with queue time > 0, as the reader
classifies it). It counts as redialled when the same identified customer's next call starts
within ``window_s`` seconds of the moment the caller hung up (entry + VRU time + queue time);
the retry time is that gap. Estimates: ``retrial_probability`` = redialled abandons /
identified abandons, ``retry_mean_s`` and ``retry_median_s`` over the redials.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from openwfm.errors import DataError, ParameterError

__all__ = ["estimate_redials", "read_anonymous_bank_callers"]

CALLER_COLUMNS = ("customer_id", "queue", "start", "hangup", "abandoned")


def read_anonymous_bank_callers(paths: Sequence[str | Path]) -> pd.DataFrame:
    """Caller identity and timing of every Anonymous Bank record: ``customer_id`` (int64,
    0 = unidentified or unreadable), ``queue`` (service type), ``start`` (VRU entry),
    ``hangup`` (entry + VRU + queue time) and ``abandoned`` (hung up in the agent queue)."""
    frames = []
    for path in paths:
        path = Path(path)
        try:
            raw = pd.read_csv(
                path,
                sep="\t" if path.suffix == ".txt" else ",",
                usecols=[
                    "customer_id",
                    "type",
                    "date",
                    "vru_entry",
                    "vru_time",
                    "q_time",
                    "outcome",
                ],
                dtype=str,
            )
        except (OSError, ValueError) as error:
            raise DataError(f"cannot read caller records: {error}", file=str(path)) from None
        frames.append(raw)
    raw = pd.concat(frames, ignore_index=True)
    raw = raw.apply(lambda column: column.str.strip())
    text = raw["customer_id"].fillna("0")
    customer = pd.to_numeric(text, errors="coerce")
    readable = customer.notna() & ~text.str.contains("[eE]", regex=True)
    customer = customer.where(readable, 0).astype("int64")
    start = pd.to_datetime(raw["date"], format="%y%m%d", errors="coerce") + pd.to_timedelta(
        raw["vru_entry"], errors="coerce"
    )
    waited = pd.to_numeric(raw["vru_time"], errors="coerce").fillna(0) + pd.to_numeric(
        raw["q_time"], errors="coerce"
    ).fillna(0)
    queue_time = pd.to_numeric(raw["q_time"], errors="coerce").fillna(0)
    return pd.DataFrame(
        {
            "customer_id": customer,
            "queue": raw["type"].astype("string"),
            "start": start,
            "hangup": start + pd.to_timedelta(waited, unit="s"),
            "abandoned": (raw["outcome"].str.upper() == "HANG") & (queue_time > 0),
        }
    )


def estimate_redials(callers: pd.DataFrame, *, window_s: float = 3_600.0) -> dict[str, float]:
    """Redial probability and retry time from caller records (see the module doc).

    ``callers``: the columns of :func:`read_anonymous_bank_callers`. Returns
    ``retrial_probability``, ``retry_mean_s``, ``retry_median_s``, ``abandons`` (identified)
    and ``redials``."""
    missing = [c for c in ("customer_id", "start", "hangup", "abandoned") if c not in callers]
    if missing:
        raise DataError(f"missing column(s) {', '.join(missing)}", field=missing[0])
    if not window_s > 0:
        raise ParameterError(f"expected > 0, got {window_s!r}", field="window_s")
    known = callers[(callers["customer_id"] > 0) & callers["start"].notna()]
    known = known.sort_values(["customer_id", "start"], kind="stable")
    following = known.groupby("customer_id", sort=False)["start"].shift(-1)
    gap = (following - known["hangup"]).dt.total_seconds()
    abandons = known["abandoned"].to_numpy(dtype=bool)
    redialled = abandons & (gap >= 0).to_numpy() & (gap <= window_s).to_numpy()
    count = int(abandons.sum())
    if count == 0:
        raise DataError("no abandon by an identified caller", field="customer_id")
    gaps = gap.to_numpy()[redialled]
    return {
        "retrial_probability": float(redialled.sum() / count),
        "retry_mean_s": float(gaps.mean()) if gaps.size else float("nan"),
        "retry_median_s": float(np.median(gaps)) if gaps.size else float("nan"),
        "abandons": count,
        "redials": int(redialled.sum()),
        "window_s": float(window_s),
    }

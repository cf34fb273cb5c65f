"""First-contact resolution (FCR) measured from repeat contacts.

Definition (a *proxy*, as every log-based FCR is):

- A *candidate* is an answered interaction with a known agent and a known customer key
  (:meth:`QualityStore.contacts_with_customers`; keys come from ``interaction_customer``).
- It is *repeated within N days* when the same customer has another *offered* interaction
  (answered or abandoned: the customer reached the agent queue again) arriving strictly later
  and at most N x 24 h after the candidate's arrival. Contacts arriving at the same instant
  are not repeats of each other. FCR(N) = 1 - repeat rate(N).
- The repeat is charged to the agent who handled the candidate (the leg it was answered on),
  and to its queue and segment.

Caveats, to read before using the numbers:

- Reasons are not matched: a customer calling back the next day about something else counts
  as a repeat (the Anonymous Bank has no call reason beyond the service type), so the proxy
  overstates unresolved contacts; matching on ``queue`` (``same_queue=True``) narrows it.
- Contacts without a customer id are left out. In the Anonymous Bank, calls that never waited
  in queue have no id (customer_id 0), and ids written in scientific notation are dropped, so
  the measured population leans to queued, identified customers.
- Repeats beyond the end of the data are not seen: candidates in the last N days are censored
  and counted as resolved unless ``drop_censored=True`` leaves them out.
- Transfers appear as separate interactions only when the source logs legs separately.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from openwfm.data.schema import OFFERED_OUTCOMES, Outcome

DAY_S = 86400.0


def repeat_flags(
    contacts: pd.DataFrame,
    days: Sequence[float] = (1, 7),
    *,
    same_queue: bool = False,
    drop_censored: bool = False,
) -> pd.DataFrame:
    """One row per candidate contact with ``repeat_{N}d`` booleans and ``next_gap_s``.

    ``contacts``: ``interaction_id, queue, segment, arrival_time, agent, outcome,
    customer_key`` (as :meth:`QualityStore.contacts_with_customers` returns them).
    """
    keyed = contacts[contacts["customer_key"].notna()].copy()
    keyed["arrival_time"] = pd.to_datetime(keyed["arrival_time"])
    group = ["customer_key", "queue"] if same_queue else ["customer_key"]
    offered = keyed[keyed["outcome"].isin(OFFERED_OUTCOMES)]
    moments = (
        offered[[*group, "arrival_time"]].drop_duplicates().sort_values([*group, "arrival_time"])
    )
    moments["next_arrival"] = moments.groupby(group, sort=False)["arrival_time"].shift(-1)
    candidates = keyed[(keyed["outcome"] == Outcome.ANSWERED.value) & keyed["agent"].notna()]
    flagged = candidates.merge(moments, on=[*group, "arrival_time"], how="left")
    gap_s = (flagged["next_arrival"] - flagged["arrival_time"]).dt.total_seconds()
    flagged["next_gap_s"] = gap_s
    last = keyed["arrival_time"].max()
    for n in days:
        flagged[f"repeat_{n:g}d"] = (gap_s <= n * DAY_S).fillna(False).to_numpy(dtype=bool)
    if drop_censored and len(flagged):
        horizon = last - pd.Timedelta(seconds=max(days) * DAY_S)
        flagged = flagged[flagged["arrival_time"] <= horizon]
    columns = [
        "interaction_id",
        "agent",
        "queue",
        "segment",
        "arrival_time",
        "customer_key",
        "next_gap_s",
        *(f"repeat_{n:g}d" for n in days),
    ]
    return flagged[columns].sort_values("interaction_id").reset_index(drop=True)


def fcr_rates(flags: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """Contacts, repeats and rates per group of ``by`` (``()`` -> one overall row).

    For each ``repeat_{N}d`` column: ``repeats_{N}d``, ``repeat_rate_{N}d`` and ``fcr_{N}d``.
    """
    windows = [c.removeprefix("repeat_") for c in flags.columns if c.startswith("repeat_")]
    keys = list(by)
    frame = flags.assign(_all="all") if not keys else flags
    grouped = frame.groupby(keys or ["_all"], dropna=False, sort=True)
    table = grouped.size().rename("contacts").to_frame()
    for window in windows:
        repeats = grouped[f"repeat_{window}"].sum().astype(int)
        table[f"repeats_{window}"] = repeats
        table[f"repeat_rate_{window}"] = repeats / table["contacts"]
        table[f"fcr_{window}"] = 1.0 - table[f"repeat_rate_{window}"]
    table = table.reset_index()
    if not keys:
        table = table.drop(columns="_all")
    return table


def daily_trend(flags: pd.DataFrame, window: str = "1d") -> pd.DataFrame:
    """FCR(``window``) per calendar day of the candidate's arrival."""
    day = pd.to_datetime(flags["arrival_time"]).dt.normalize()
    rates = flags.assign(day=day).groupby("day")[f"repeat_{window}"].agg(["size", "mean"])
    return pd.DataFrame(
        {
            "day": rates.index,
            "contacts": rates["size"].to_numpy(),
            f"fcr_{window}": 1.0 - rates["mean"].to_numpy(dtype=np.float64),
        }
    )

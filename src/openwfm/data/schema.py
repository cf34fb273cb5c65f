"""The normalised interactions table: one row per contact, whatever the source.

Every reader returns, and the store holds, a DataFrame with exactly these columns. Timestamps
are local-naive (the center's clock, as the sources record it); durations are seconds.

An interaction is *offered* to agents when its outcome is ``answered`` or ``abandoned``.
``ivr_only`` contacts left in the IVR/VRU before reaching the agent queue, and ``excluded``
ones (e.g. the Anonymous Bank's PHANTOM records) are stored and counted, never offered.
"""

from __future__ import annotations

from enum import StrEnum

from openwfm.tables import INTERACTIONS


class Outcome(StrEnum):
    ANSWERED = "answered"  # reached an agent
    ABANDONED = "abandoned"  # hung up while waiting in the agent queue
    IVR_ONLY = "ivr_only"  # ended in the IVR / VRU, never queued for an agent
    EXCLUDED = "excluded"  # not a real contact (source says ignore), kept for counting


OFFERED_OUTCOMES = (Outcome.ANSWERED.value, Outcome.ABANDONED.value)

# column -> pandas dtype; the table is declared in openwfm.tables (units, keys, allowed values)
INTERACTION_COLUMNS: dict[str, str] = INTERACTIONS.dtypes()

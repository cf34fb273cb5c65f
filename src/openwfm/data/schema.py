"""The normalised interactions table: one row per contact, whatever the source.

Every reader returns, and the store holds, a DataFrame with exactly these columns. Timestamps
are local-naive (the center's clock, as the sources record it); durations are seconds.

An interaction is *offered* to agents when its outcome is ``answered`` or ``abandoned``.
``ivr_only`` contacts left in the IVR/VRU before reaching the agent queue, and ``excluded``
ones (e.g. the Anonymous Bank's PHANTOM records) are stored and counted, never offered.
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    ANSWERED = "answered"  # reached an agent
    ABANDONED = "abandoned"  # hung up while waiting in the agent queue
    IVR_ONLY = "ivr_only"  # ended in the IVR / VRU, never queued for an agent
    EXCLUDED = "excluded"  # not a real contact (source says ignore), kept for counting


OFFERED_OUTCOMES = (Outcome.ANSWERED.value, Outcome.ABANDONED.value)

# column -> pandas dtype
INTERACTION_COLUMNS: dict[str, str] = {
    "interaction_id": "string",  # unique within the store
    "queue": "string",
    "channel": "string",  # openwfm.model.Channel value
    "segment": "string",  # customer segment ("default" when the source has none)
    "arrival_time": "datetime64[ns]",  # joined the agent queue (or entered, if never queued)
    "answer_time": "datetime64[ns]",  # NaT unless answered
    "end_time": "datetime64[ns]",  # end of handling; NaT unless answered
    "abandon_time": "datetime64[ns]",  # NaT unless abandoned
    "wait_s": "float64",  # time in the agent queue
    "handle_s": "float64",  # handle time (0 when not answered)
    "agent": "string",  # <NA> when unknown or not answered
    "outcome": "string",  # Outcome value
    "source": "string",  # file the row came from
}

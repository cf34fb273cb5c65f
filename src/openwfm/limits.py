"""Bounds on the work one command may ask for: the one memory guard.

A typing error in a rates or forecast file (a rate of 1e6 per second, a forecast of 1e12
contacts) would otherwise make the simulator or the staffing models allocate arrays until the
machine runs out of memory. These checks run *before* a simulation or a staffing table is built
and turn such input into a one-line error naming what to check.
"""

from __future__ import annotations

import numpy as np

from openwfm.errors import DataError, ParameterError

# Offered load of one queue in one interval. The largest contact centers offer a few thousand
# Erlangs; the Erlang kernels are exact to 200,000 but the staffing models build per-agent
# arrays, so 100,000 keeps a staffing table in memory.
MAX_OFFERED_ERLANGS = 100_000.0
# Contacts one simulation may create in all its replications (each costs about 100 bytes of
# event-queue and result memory at its peak): 50 million is about 5 GB.
MAX_SIMULATED_CONTACTS = 50_000_000.0


def check_offered_load(
    erlangs: np.ndarray, *, file: str | None = None, line_of=None, field: str = "forecast"
) -> None:
    """DataError at the first interval whose offered load passes :data:`MAX_OFFERED_ERLANGS`."""
    erlangs = np.asarray(erlangs, dtype=float)
    too_much = ~(erlangs <= MAX_OFFERED_ERLANGS)
    if too_much.any():
        position = int(np.flatnonzero(too_much)[0])
        raise DataError(
            f"an offered load of {erlangs[position]:.4g} Erlangs in one interval is more than "
            f"{MAX_OFFERED_ERLANGS:,.0f} (check the volume's units: contacts per interval)",
            file=file,
            line=line_of(position) if line_of is not None else None,
            field=field,
        )


def check_simulated_contacts(expected_contacts: float, replications: int) -> None:
    """ParameterError if a simulation would create more than :data:`MAX_SIMULATED_CONTACTS`.

    ``expected_contacts`` is the mean number of contacts of one replication. The error names
    the arrivals when one replication alone is too much (a rate in the wrong unit), else the
    replications.
    """
    replications = max(int(replications), 1)
    total = float(expected_contacts) * replications
    if total <= MAX_SIMULATED_CONTACTS:
        return
    if not float(expected_contacts) <= MAX_SIMULATED_CONTACTS:
        raise ParameterError(
            f"one replication would create about {expected_contacts:.3g} contacts, more than "
            f"the {MAX_SIMULATED_CONTACTS:.3g} that fit in memory: check the arrival rates "
            f"(contacts per second) or simulate fewer days",
            field="arrivals",
        )
    raise ParameterError(
        f"{replications} replications of about {expected_contacts:.3g} contacts each are "
        f"{total:.3g} contacts, more than the {MAX_SIMULATED_CONTACTS:.3g} that fit in memory: "
        f"use at most {int(MAX_SIMULATED_CONTACTS // max(expected_contacts, 1)):,}",
        field="replications",
    )

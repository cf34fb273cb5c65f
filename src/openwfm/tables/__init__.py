"""The tables passed between stages, declared once: columns, dtypes, units, keys.

Every stage takes and returns pandas DataFrames. This module says what each of those tables
holds (one :class:`Table` per table, one :class:`Column` per column, with its kind, unit and
the values it allows) and checks a table against its declaration with one function,
:func:`check_table`, used at every public entry that receives such a table from a file or a
caller. A bad table raises a one-line :class:`~openwfm.errors.DataError` naming the file, the
line (CSV line: header = line 1, so row ``i`` is line ``i + 2``) and the field. A file read
with a user's column mapping goes through :func:`rename_columns` first (one check of the
mapping and the required columns for every reader); the user's mapping file (YAML) is read by
:func:`load_mapping_file`.

Conventions (see ``DESIGN.md``): times are local-naive wall-clock times of the center,
intervals are labelled by their start, durations are seconds, counts are contacts per
interval, rates are contacts per second.

Column kinds and their pandas dtype after :func:`check_table`:

- ``string`` -> ``object`` (``str``); blank cells are an error unless ``nullable``;
- ``time`` -> ``datetime64[ns]``, local naive. ``clock="wall"`` (interval labels) keeps each
  value's own wall-clock time and drops a UTC offset; ``clock="local"`` (instants) converts
  values with an offset to the ``timezone`` given to :func:`check_table`
  (:func:`openwfm.data.timestamps.to_local_times`);
- ``date`` -> ``datetime64[ns]`` at midnight;
- ``time_of_day`` -> ``float64`` seconds after midnight, ``HH:MM[:SS]`` in a file;
- ``number`` -> ``float64``, finite, within ``min`` / ``max``; ``whole`` numbers must be
  integers.
"""

from openwfm.tables.declared import (
    ACTIVITIES,
    AGENT_COUNTS,
    ALL_TABLES,
    COVERAGE,
    FORECAST,
    HISTORY,
    INTERACTIONS,
    INTERVAL_KPIS,
    OUTCOMES,
    PROFILE,
    RATES,
    REQUIREMENTS,
    RESOLUTIONS,
    ROSTER,
    SHIFTS,
    SIMULATION_INTERVALS,
    SLOT_REQUIREMENTS,
    STATE_EVENTS,
    TIMELINE,
    WEEKLY_FORECAST,
)
from openwfm.tables.mapping import load_mapping_file
from openwfm.tables.schema import Column, Table, check_table, rename_columns

__all__ = [
    "ACTIVITIES",
    "AGENT_COUNTS",
    "ALL_TABLES",
    "COVERAGE",
    "FORECAST",
    "HISTORY",
    "INTERACTIONS",
    "INTERVAL_KPIS",
    "OUTCOMES",
    "PROFILE",
    "RATES",
    "REQUIREMENTS",
    "RESOLUTIONS",
    "ROSTER",
    "SHIFTS",
    "SIMULATION_INTERVALS",
    "SLOT_REQUIREMENTS",
    "STATE_EVENTS",
    "TIMELINE",
    "WEEKLY_FORECAST",
    "Column",
    "Table",
    "check_table",
    "load_mapping_file",
    "rename_columns",
]

"""Queueing models: Erlang B / C / A, chat (birth-death), deferred work, staffing inversion.

Public contract (other stages rely on these names)::

    from openwfm.queueing import erlang_b, erlang_c, service_level, asa, erlang_a, required_agents

``traffic`` is in Erlangs (arrival rate per second x AHT in seconds); every function takes
scalars or NumPy arrays and broadcasts them.
"""

from openwfm.queueing.birthdeath import chat_metrics, erlang_x
from openwfm.queueing.deferred import deferred_requirements
from openwfm.queueing.erlang import (
    ErlangAResult,
    asa,
    erlang_a,
    erlang_a_wait_percentile_s,
    erlang_b,
    erlang_c,
    erlang_c_metrics,
    service_level,
    wait_percentile_s,
)
from openwfm.queueing.inversion import least_integer, required_agents

__all__ = [
    "ErlangAResult",
    "asa",
    "chat_metrics",
    "deferred_requirements",
    "erlang_a",
    "erlang_a_wait_percentile_s",
    "erlang_b",
    "erlang_c",
    "erlang_c_metrics",
    "erlang_x",
    "least_integer",
    "required_agents",
    "service_level",
    "wait_percentile_s",
]

"""Queueing models: Erlang B / C / A, chat (birth-death), deferred work, staffing inversion.

Public contract (other stages rely on these names)::

    from openwfm.queueing import erlang_b, erlang_c, service_level, asa, erlang_a, required_agents

``traffic`` is in Erlangs (arrival rate per second x AHT in seconds); every function takes
scalars or NumPy arrays and broadcasts them.
"""

from openwfm._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "birthdeath": [
            "chat_metrics",
        ],
        "deferred": [
            "deferred_requirements",
        ],
        "erlang": [
            "ErlangAResult",
            "asa",
            "erlang_a",
            "erlang_a_wait_percentile_s",
            "erlang_b",
            "erlang_c",
            "erlang_c_metrics",
            "service_level",
            "wait_percentile_s",
        ],
        "blend": [
            "blend_metrics",
            "blend_staffing",
        ],
        "retrial": [
            "erlang_x",
            "long_retry_error_bound",
        ],
        "redial_mean": [
            "orbit_mean_error_bound",
        ],
        "solve": [
            "erlang_x_required_agents",
            "max_arrival_rate",
            "service_level_reached",
        ],
        "uncertain": [
            "expected_service_level",
            "rate_quantile",
            "uncertain_required_agents",
        ],
        "inversion": [
            "least_integer",
            "required_agents",
        ],
    },
)

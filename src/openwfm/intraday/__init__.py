"""Intraday management: agent states, adherence and conformance, rest-of-day outlook, alerts,
re-planning.

Public API: :func:`read_state_events` / :func:`check_state_events` / :func:`from_router_events`
(the ``agent_id, ts, state, reason_code, source`` table), :class:`AdherenceMap` (state x reason
x scheduled activity -> in / out / neutral with grace), :func:`adherence` (per agent x interval
and day, presets ``genesys``, ``nice``, ``teleopti``, ``injixo``), :func:`outlook`,
:func:`evaluate_alerts` and :func:`replan`.
"""

from openwfm._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "states": [
            "STATE_EVENT_COLUMNS",
            "StateFeed",
            "check_state_events",
            "from_router_events",
            "read_state_events",
        ],
        "mapping": [
            "AdherenceMap",
            "AdherenceRule",
            "default_adherence_map",
            "load_adherence_map",
        ],
        "timeline": [
            "build_segments",
            "scheduled_activities",
        ],
        "adherence_figures": [
            "PRESETS",
            "AdherenceResult",
            "adherence",
            "apply_preset",
            "exceptions_table",
            "out_of_adherence_now",
            "resolve_exceptions",
        ],
        "reforecast": [
            "update_forecast",
        ],
        "rest_of_day": [
            "OutlookResult",
            "absent_now",
            "agents_on_line",
            "estimated_wait_s",
            "outlook",
            "queue_now",
            "service_so_far",
        ],
        "alerts": [
            "ALERT_COLUMNS",
            "AlertRule",
            "alert_events",
            "default_rules",
            "evaluate_alerts",
            "publish_alerts",
        ],
        "simulated": [
            "simulate_rest_of_day",
            "use_simulation",
        ],
        "api": [
            "create_intraday_app",
            "intraday_router",
        ],
        "replanning": [
            "ReplanResult",
            "accept_proposals",
            "replan",
        ],
    },
)

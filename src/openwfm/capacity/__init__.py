"""Long-term capacity planning: hire classes, training and nesting, attrition, scenarios.

``capacity_plan(scenario, plan, weekly_forecast, roster=...)`` turns a weekly forecast into
required FTE (interval-level Erlang staffing over a representative week), runs the roster and
the hire classes through the weekly FTE flow (:mod:`.flow`), suggests classes (back-solver or
MIP optimiser, :mod:`.hiring`), adds a P10/P90 band from simulated attrition (:mod:`.band`) and
does it for the baseline and each what-if scenario (:mod:`.scenarios`).
"""

from openwfm._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "inputs": [
            "CapacityPlan",
            "ClassTemplate",
            "HireClass",
            "load_plan",
            "parse_plan",
            "read_roster",
            "read_weekly_forecast",
        ],
        "required": ["profile_from_history", "profile_from_scenario", "required_fte"],
        "flow": ["plan_table", "resolve_classes"],
        "hiring": ["back_solve", "class_response", "optimise_starts", "suggest_classes"],
        "band": ["productive_band", "simulate_productive"],
        "scenarios": ["apply_adjustments", "stacked_adjustments"],
        "planner": ["CapacityResult", "capacity_plan"],
        "roster": ["roster_from_interactions", "weekly_attrition_rate"],
        "history": ["autoets_weekly_forecast", "weekly_agents", "weekly_totals"],
        "case": ["case_summary", "plan_from_records"],
    },
)

"""The plan: history -> forecast -> staffing -> schedule -> simulated proof -> report.

``run_plan(scenario, history, weeks, out_dir)`` joins the stages (each from its own package)
and writes the tables, the HTML report, PNG charts and ``summary.json`` into ``out_dir``;
:func:`openwfm.plan.summary.plan_summary` turns the simulated KPIs into a manager's summary
(targets met or not, where, and why).
"""

from openwfm._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "pipeline": [
            "PlanResult",
            "run_plan",
        ],
    },
)

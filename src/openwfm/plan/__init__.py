"""The plan: history -> forecast -> staffing -> schedule -> simulated proof -> report.

``run_plan(scenario, history, weeks, out_dir)`` (:mod:`openwfm.plan.pipeline`) composes the
stages of :mod:`openwfm.plan.stages` (each a call into its own package, cached by
:mod:`openwfm.plan.cache`) and writes the tables, the HTML report, PNG charts and
``summary.json`` into ``out_dir``; :func:`openwfm.plan.summary.plan_summary` turns the simulated
KPIs into a typed :class:`~openwfm.plan.summary.PlanSummary` (targets met or not, where, and
why: :mod:`openwfm.plan.findings`).
"""

from openwfm._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "pipeline": [
            "PlanResult",
            "run_plan",
        ],
        "summary": [
            "PlanSummary",
        ],
    },
)

"""The plan: history -> forecast -> staffing -> schedule -> simulated proof -> report.

``run_plan(scenario, history, weeks, out_dir)`` joins the stages (each from its own package)
and writes the tables, the HTML report, PNG charts and ``summary.json`` into ``out_dir``;
:func:`openwfm.plan.summary.plan_summary` turns the simulated KPIs into a manager's summary
(targets met or not, where, and why).
"""

from openwfm.plan.pipeline import PlanResult, run_plan

__all__ = ["PlanResult", "run_plan"]

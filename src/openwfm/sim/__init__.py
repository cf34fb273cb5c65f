"""Contact-center simulation: a compiled event engine running the shared routing policy.

``simulate(scenario, replications=..., seed=...)`` returns KPIs per queue x segment x interval
with 95% confidence intervals; see :mod:`openwfm.sim.run` and :mod:`openwfm.sim.engine`.
"""

from openwfm.sim.build import SimulationModel, build_model, check_scenario
from openwfm.sim.run import SimulationResult, prepare, run_plan, simulate

__all__ = [
    "SimulationModel",
    "SimulationResult",
    "build_model",
    "check_scenario",
    "prepare",
    "run_plan",
    "simulate",
]

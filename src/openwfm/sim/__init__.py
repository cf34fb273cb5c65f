"""Contact-center simulation: a compiled event engine running the shared routing policy.

``simulate(scenario, replications=..., seed=...)`` returns KPIs per queue x segment x interval
with 95% confidence intervals; see :mod:`openwfm.sim.run` and :mod:`openwfm.sim.engine`.
"""

from openwfm._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "build": [
            "SimulationModel",
            "build_model",
            "check_scenario",
        ],
        "run": [
            "SimulationResult",
            "prepare",
            "PreparedSimulation",
            "run_prepared",
            "simulate",
        ],
        "uncertainty": [
            "sample_rate_factors",
        ],
    },
)

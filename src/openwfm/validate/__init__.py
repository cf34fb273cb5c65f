"""Model fidelity: estimate each hour of a real history and score Erlang C, Erlang A and the
simulator against what happened (``openwfm validate``)."""

from openwfm.validate.estimation import agents_on_duty, estimate_hours
from openwfm.validate.fidelity import (
    FidelityResult,
    fidelity_errors,
    predict_hours,
    validate_history,
)

__all__ = [
    "FidelityResult",
    "agents_on_duty",
    "estimate_hours",
    "fidelity_errors",
    "predict_hours",
    "validate_history",
]

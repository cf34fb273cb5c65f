"""Model fidelity: estimate each hour of a real history and score Erlang C, Erlang A and the
simulator against what happened (``openwfm validate``)."""

from openwfm._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "estimation": [
            "agents_on_duty",
            "estimate_hours",
        ],
        "fidelity": [
            "FidelityResult",
            "fidelity_errors",
            "predict_hours",
            "model_fidelity",
        ],
    },
)

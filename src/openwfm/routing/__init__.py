"""Routing: the policy shared by the simulator and the live router (``openwfm.routing.policy``)."""

from openwfm._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "policy": [
            "AgentState",
            "Assignment",
            "PolicyTables",
            "RoutingPolicy",
            "WaitingContact",
        ],
    },
)

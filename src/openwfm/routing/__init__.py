"""Routing: the policy shared by the simulator and the live router (``openwfm.routing.policy``)."""

from openwfm.routing.policy import (
    AgentState,
    Assignment,
    PolicyTables,
    RoutingPolicy,
    WaitingContact,
)

__all__ = ["AgentState", "Assignment", "PolicyTables", "RoutingPolicy", "WaitingContact"]

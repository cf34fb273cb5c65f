"""Staffing: forecast + service targets -> required agents per queue x interval.

Public contract::

    from openwfm.staffing import requirements, COLUMNS, INTERVAL_CHOICES

``requirements`` (:mod:`openwfm.staffing.single_skill`) picks an analytic queueing model per
queue (Erlang A / C / X, the chat birth-death model, deferred work). The CLI (``openwfm
staff``) lives in :mod:`openwfm.staffing.commands`. ``skill_set_requirements``
(:mod:`openwfm.staffing.skill_sets`): what each set of queues sharing agents needs as a pool
(the merged queue), checked and corrected with the simulator (``correct_by_simulation``).
"""

from openwfm._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "single_skill": [
            "COLUMNS",
            "INTERVAL_CHOICES",
            "requirements",
        ],
        "skill_sets": [
            "POOL_COLUMNS",
            "skill_set_requirements",
            "skill_sets",
        ],
        "skill_set_correction": [
            "correct_by_simulation",
            "raise_where_missed",
        ],
    },
)

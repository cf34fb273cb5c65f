"""The scheduling models, each a short composition of the parts:

==========================  =====================================================================
:func:`full_model`          every rule and the coverage (one-model strategy, construction, polish)
:func:`diagnosis_model`     the hard rules alone, each instance behind a named assumption
:func:`phase_one_model`     group shift counts with the groups' limits and working-day patterns
:func:`days_off_model`      one group's days on and off against phase 1's agents per day
:func:`assignment_model`    one group's named agents taking phase 1's shift counts
:func:`fixed_shift_model`   the full model with every agent's shifts fixed (breaks and skills)
==========================  =====================================================================
"""

from __future__ import annotations

from openwfm.schedule.aggregate import add_contract_limits, add_group_limits, add_group_patterns
from openwfm.schedule.coverage import add_coverage, add_day_counts, add_target_counts
from openwfm.schedule.rule_families import add_agent_rules
from openwfm.schedule.scope import ModelScope
from openwfm.schedule.shiftmodel import ShiftModel, add_day_variables, add_shift_options

SkillKey = tuple[str, ...]


def full_model(scope: ModelScope, *, members: set[int] | None = None) -> ShiftModel:
    """Shifts, breaks and skills for every agent (or only ``members``), every rule, the
    coverage; no objective set yet."""
    model = ShiftModel(scope, members=members)
    add_shift_options(model)
    add_coverage(model)
    add_agent_rules(model)
    return model


def fixed_shift_model(scope: ModelScope, fixed: dict[tuple[int, int], int]) -> ShiftModel:
    """The full model with each agent's shift per day fixed (``fixed`` (agent, day) ->
    option; days not in it off): only breaks and skills are left to choose."""
    model = ShiftModel(scope)
    add_shift_options(model, fixed=fixed)
    add_coverage(model)
    add_agent_rules(model)
    return model


def diagnosis_model(scope: ModelScope) -> ShiftModel:
    """Every hard rule instance behind an assumption literal named ``rule[subject]``, no
    coverage and no soft rules: an infeasible core of the literals names the contradiction."""
    model = ShiftModel(scope, diagnose=True)
    add_shift_options(model)
    add_agent_rules(model)
    return model


def phase_one_model(scope: ModelScope) -> ShiftModel:
    """Shift counts per skill group, day and option against the requirement, held by the
    limits the members' hard rules imply, with each one-contract group's working-day
    patterns (tied to the counts by one literal per group); objective set."""
    model = ShiftModel(scope, days_only=True)
    add_shift_options(model, hard_days_off=True)

    def each_group(u: int, skills: SkillKey, members: list[int], counts: dict) -> None:
        add_group_limits(model, members, counts)
        add_contract_limits(model, u, members, counts)
        add_group_patterns(model, u, skills, members, counts)

    add_coverage(model, each_group)
    model.minimize()
    return model


def days_off_model(
    scope: ModelScope, members: set[int], day_targets: dict[tuple[SkillKey, int], int]
) -> ShiftModel:
    """Days on and off of ``members`` (one skill group) with every day-level rule, matching
    the group's agents at work per day (``day_targets``)."""
    model = ShiftModel(scope, days_only=True, members=members)
    add_shift_options(model, hard_days_off=True)
    add_day_variables(model)
    add_day_counts(model, day_targets)
    add_agent_rules(model)
    return model


def assignment_model(
    scope: ModelScope,
    members: set[int],
    targets: dict[tuple[SkillKey, int, int], int],
    restrict: dict[tuple[SkillKey, int], set[int]],
    pattern: set[tuple[int, int]] | None,
) -> ShiftModel:
    """``members`` (one skill group) take the group's shift counts (``targets``) with every
    rule, choosing among the options in ``restrict`` on the days in ``pattern`` (None: any)."""
    model = ShiftModel(scope, members=members)
    add_shift_options(model, pattern=pattern, restrict=restrict)
    add_target_counts(model, targets)
    add_agent_rules(model)
    return model

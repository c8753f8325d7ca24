"""The feedback, edit and edit-quality claim and submit reads as plain SQL, for the reason and in the way of
:mod:`annotator.selectors.hot_path` (compiling a queryset costs about a millisecond a statement; these run on every
claim and submission). The locking statements are in :mod:`annotator.services.locks`, beside the comparison's.
"""

from __future__ import annotations

from datetime import datetime

from annotator.models import AssignmentStatus, Project, Prompt, Response, TaskAssignment, TaskUnit
from annotator.selectors.hot_path import (
    QUALIFIED_PARAMS,
    UNFINISHED_ORDER,
    UNFINISHED_PARAMS,
    Columns,
    db_datetime,
    fetch_one,
    qualification_filter,
)

# --- the rules as filters (the locking candidate statement in annotator.services.locks uses them too) ------------

UNIT_NEVER_HAD_BY_ANNOTATOR = (
    "NOT IN (SELECT had.unit_id FROM annotator_taskassignment had WHERE had.annotator_id = %(annotator)s)"
)
# "An edit is never by one who wrote its feedback; an edit-quality choice never by one who wrote an edit or feedback":
# the units the feedback and the edits came from were never the annotator's.
UNIT_NOT_BY_ITS_AUTHORS = (
    f"(u.feedback_unit_id IS NULL OR u.feedback_unit_id {UNIT_NEVER_HAD_BY_ANNOTATOR})"
    f" AND (u.edit_unit_id IS NULL OR u.edit_unit_id {UNIT_NEVER_HAD_BY_ANNOTATOR})"
)

_ASSIGNMENT, _UNIT, _PROJECT = Columns(TaskAssignment, "a"), Columns(TaskUnit, "u"), Columns(Project, "p")
_TURNS = Columns(Prompt, "q", ("id", "turns"))
_TEXT = Columns(Response, "r", ("id", "text"))

TASK_ASSIGNMENT_UNFINISHED = f"""
    SELECT {_ASSIGNMENT.sql} FROM annotator_taskassignment a INNER JOIN annotator_taskunit u ON u.id = a.unit_id
    WHERE a.annotator_id = %(annotator)s AND u.project_id = %(project)s AND a.status IN (%(returned)s, %(reserved)s)
    ORDER BY {UNFINISHED_ORDER} LIMIT 1"""
# The partial index on reserved_until finds the few reservations; the unit must be one the annotator may have.
TASK_RESERVATIONS_EXPIRED = f"""
    SELECT a.id, a.unit_id FROM annotator_taskassignment a INNER JOIN annotator_taskunit u ON u.id = a.unit_id
    WHERE u.project_id = %(project)s AND a.status = %(reserved)s AND a.reserved_until < %(before)s
    AND a.annotator_id <> %(annotator)s AND a.unit_id {UNIT_NEVER_HAD_BY_ANNOTATOR} AND {UNIT_NOT_BY_ITS_AUTHORS}{{qualified}}
    ORDER BY a.reserved_until, a.id LIMIT 1"""
TASK_ASSIGNMENT_WITH_UNIT = f"""
    SELECT {_ASSIGNMENT.sql}, {_UNIT.sql}, {_PROJECT.sql} FROM annotator_taskassignment a
    INNER JOIN annotator_taskunit u ON u.id = a.unit_id INNER JOIN annotator_project p ON p.id = u.project_id
    WHERE a.id = %(assignment)s AND a.annotator_id = %(annotator)s"""
UNIT_SHOWN = f"""
    SELECT {_UNIT.sql}, {_PROJECT.sql}, q.turns, r1.text, r2.text FROM annotator_taskunit u
    INNER JOIN annotator_project p ON p.id = u.project_id INNER JOIN annotator_prompt q ON q.id = u.prompt_id
    INNER JOIN annotator_response r1 ON r1.id = u.response_1_id
    LEFT OUTER JOIN annotator_response r2 ON r2.id = u.response_2_id WHERE u.id = %(unit)s"""


def task_assignment_unfinished(*, project_id: int, annotator_id: int) -> TaskAssignment | None:
    """The annotator's returned, else reserved, task assignment in the project (oldest first within each)."""
    row = fetch_one(TASK_ASSIGNMENT_UNFINISHED, {"annotator": annotator_id, "project": project_id, **UNFINISHED_PARAMS})
    return None if row is None else _ASSIGNMENT.instance(row)


def task_reservation_expired_oldest(
    *, project_id: int, annotator_id: int, before: datetime, qualification_required: bool = False
) -> tuple[int, int] | None:
    """(id, unit id) of the oldest reservation by another annotator that ended before ``before``, on a unit this
    annotator may have (and, with ``qualification_required``, is qualified for); None when there is none."""
    params = {"project": project_id, "reserved": AssignmentStatus.RESERVED.value, "before": db_datetime(before),
              "annotator": annotator_id, **QUALIFIED_PARAMS}  # fmt: skip
    qualified = qualification_filter(required=qualification_required, prompt="u.prompt_id", comparison=None)
    row = fetch_one(TASK_RESERVATIONS_EXPIRED.format(qualified=qualified), params)
    return None if row is None else (row[0], row[1])


def task_assignment_with_unit(*, assignment_id: int, annotator_id: int) -> TaskAssignment | None:
    """The task assignment if ``annotator_id`` owns it, with its unit and the unit's project loaded."""
    row = fetch_one(TASK_ASSIGNMENT_WITH_UNIT, {"assignment": assignment_id, "annotator": annotator_id})
    if row is None:
        return None
    na, nu = len(_ASSIGNMENT), len(_UNIT)
    assignment = _ASSIGNMENT.instance(row[:na])
    unit = _UNIT.instance(row[na : na + nu])
    TaskUnit.project.field.set_cached_value(unit, _PROJECT.instance(row[na + nu :]))
    TaskAssignment.unit.field.set_cached_value(assignment, unit)
    return assignment


def unit_shown(*, unit_id: int) -> TaskUnit:
    """The unit with its project, prompt and responses loaded (response 2 None where the unit has none)."""
    row = fetch_one(UNIT_SHOWN, {"unit": unit_id})
    if row is None:
        raise TaskUnit.DoesNotExist
    nu, np_ = len(_UNIT), len(_PROJECT)
    unit: TaskUnit = _UNIT.instance(row[:nu])
    TaskUnit.project.field.set_cached_value(unit, _PROJECT.instance(row[nu : nu + np_]))
    prompt = _TURNS.instance((unit.prompt_id, row[nu + np_]))
    response_1 = _TEXT.instance((unit.response_1_id, row[nu + np_ + 1]))
    response_2 = None if unit.response_2_id is None else _TEXT.instance((unit.response_2_id, row[nu + np_ + 2]))
    for name, related in (("prompt", prompt), ("response_1", response_1), ("response_2", response_2)):
        TaskUnit._meta.get_field(name).set_cached_value(unit, related)  # type: ignore[union-attr]
    return unit

"""The feedback, edit and edit-quality claim and submit reads as plain SQL, for the reason and in the way of
:mod:`annotator.selectors.hot_path` (compiling a queryset costs about a millisecond a statement; these run on every
claim and submission). The claim's statements are the comparison's, built on the task units' :data:`UNIT_TABLES`
(:class:`annotator.selectors.hot_path.ClaimReads`); the locking ones are in :mod:`annotator.services.locks`.
"""

from __future__ import annotations

from datetime import datetime

from annotator.models import Project, Prompt, Response, TaskAssignment, TaskUnit
from annotator.selectors.hot_path import ClaimReads, ClaimTables, Columns, fetch_one, never_had_by_annotator

# --- the rules as filters (the locking candidate statement in annotator.services.locks uses them too) ------------

UNIT_NEVER_HAD_BY_ANNOTATOR = never_had_by_annotator(assignment="annotator_taskassignment", unit_fk="unit_id")
# "An edit is never by one who wrote its feedback; an edit-quality choice never by one who wrote an edit or feedback":
# the units the feedback and the edits came from were never the annotator's.
UNIT_NOT_BY_ITS_AUTHORS = (
    f"(u.feedback_unit_id IS NULL OR u.feedback_unit_id {UNIT_NEVER_HAD_BY_ANNOTATOR})"
    f" AND (u.edit_unit_id IS NULL OR u.edit_unit_id {UNIT_NEVER_HAD_BY_ANNOTATOR})"
)
# Task units are no comparisons, so never qualification items; the qualification rule is on their prompt.
UNIT_TABLES = ClaimTables(
    unit=TaskUnit, assignment=TaskAssignment, alias="u", unit_field="unit", rules=f" AND {UNIT_NOT_BY_ITS_AUTHORS}"
)
UNIT_READS = ClaimReads(UNIT_TABLES)

_UNIT, _PROJECT = Columns(TaskUnit, "u"), Columns(Project, "p")
_TURNS = Columns(Prompt, "q", ("id", "turns"))
_TEXT = Columns(Response, "r", ("id", "text"))

UNIT_SHOWN = f"""
    SELECT {_UNIT.sql}, {_PROJECT.sql}, q.turns, r1.text, r2.text FROM annotator_taskunit u
    INNER JOIN annotator_project p ON p.id = u.project_id INNER JOIN annotator_prompt q ON q.id = u.prompt_id
    INNER JOIN annotator_response r1 ON r1.id = u.response_1_id
    LEFT OUTER JOIN annotator_response r2 ON r2.id = u.response_2_id WHERE u.id = %(unit)s"""


def task_assignment_unfinished(*, project_id: int, annotator_id: int) -> TaskAssignment | None:
    """The annotator's returned, else reserved, task assignment in the project (oldest first within each)."""
    return UNIT_READS.unfinished(project_id=project_id, annotator_id=annotator_id)


def task_reservation_expired_oldest(
    *, project_id: int, annotator_id: int, before: datetime, qualification_required: bool = False
) -> tuple[int, int] | None:
    """(id, unit id) of the oldest reservation by another annotator that ended before ``before``, on a unit this
    annotator may have (and, with ``qualification_required``, is qualified for); None when there is none."""
    return UNIT_READS.reservation_expired_oldest(
        project_id=project_id, annotator_id=annotator_id, before=before, qualification_required=qualification_required
    )


def task_assignment_with_unit(*, assignment_id: int, annotator_id: int) -> TaskAssignment | None:
    """The task assignment if ``annotator_id`` owns it, with its unit and the unit's project loaded."""
    return UNIT_READS.with_project(assignment_id=assignment_id, annotator_id=annotator_id)


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

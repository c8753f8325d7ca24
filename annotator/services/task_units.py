"""The claim / reserve / draft / skip of the feedback, edit and edit-quality task types, and the shared half of their
submissions (docs/task-types.md). The per-type modules (:mod:`annotator.services.feedback`,
:mod:`annotator.services.edits`, :mod:`annotator.services.edit_quality`) only check their answers and say what to
store.

The machinery is the comparison's, :mod:`annotator.services.claims`, on a :class:`TaskUnit` instead of a comparison
(:data:`TASKS` says what differs): slots (``project.overlap + unit.extra_annotators``; reserved, submitted and
returned assignments hold one, kept in ``TaskUnit.slots_taken`` by triggers), an expired reservation keeps its slot
until another claimer reclaims it, the claim order (returned, own reservation, someone's expired one, the unit
closest to completion, never one the annotator had nor one whose feedback or edits they wrote), and the lock order
(membership → unit → assignment, :mod:`annotator.services.locks`). No adaptive overlap: it is a rating rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import partial
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from annotator.domain import TASK_TEXT_MAX_CHARS
from annotator.error_codes import ErrorCode
from annotator.errors import Conflict
from annotator.models import AssignmentStatus, Project, TaskAssignment, TaskResult, TaskType
from annotator.selectors import task_hot_path
from annotator.services import claims, locks
from annotator.text import check_text

# What is the task units' in the claim machinery (annotator.services.claims).
TASKS = claims.ClaimKind(reads=task_hot_path.UNIT_READS, locks=locks.UNIT_LOCKS, result=TaskResult, noun="task")
# What a draft of each task type may hold besides flags and time on task: text fields, and whole-number fields.
DRAFT_TEXTS: dict[str, tuple[str, ...]] = {
    TaskType.FEEDBACK: ("feedback_1", "feedback_2"),
    TaskType.EDIT: ("text", "change_summary"),
    TaskType.EDIT_QUALITY: (),
}
DRAFT_CHOICES: dict[str, tuple[str, ...]] = {TaskType.EDIT_QUALITY: ("choice",)}


# --- claim -----------------------------------------------------------------------------------------------------------


def _candidate_unit(
    *, project: Project, annotator: User, tried: list[int], lock: bool = True
) -> tuple[int, int, int] | None:
    """(id, extra_annotators, slots_taken) of the unit of ``project`` closest to completion with a free slot that
    this annotator may take (never had, nor wrote its feedback or edits; where the project requires it, of a domain
    and language they are qualified for), not in ``tried``; None when there is none. ``lock=False`` only looks."""
    return locks.UNIT_LOCKS.lock_next_candidate(
        project_id=project.pk,
        annotator_id=annotator.pk,
        slots_gt=-project.overlap,
        tried=tried,
        lock=lock,
        qualification_required=project.qualification_required,
        order=locks.UNIT_CANDIDATE_ORDER,
    )


@transaction.atomic
def task_claim_next(*, project: Project, annotator: User, now: datetime | None = None) -> TaskAssignment | None:
    """The annotator's unfinished task assignment, or a newly reserved unit; None when nothing is left for them.

    The order and the rules are :func:`annotator.services.assignments.assignment_claim_next`'s (see the module
    docstring), the machinery :func:`annotator.services.claims.claim_next`. Raises PermissionDenied for a
    non-annotator, Conflict (task_type_mismatch) in a comparison project.
    """
    now = now or timezone.now()
    if project.task_type == TaskType.COMPARISON:
        raise Conflict(
            "This project collects comparisons; claim them on the annotate page.", code=ErrorCode.TASK_TYPE_MISMATCH
        )
    return claims.claim_next(
        kind=TASKS,
        project=project,
        annotator=annotator,
        now=now,
        candidate=partial(_candidate_unit, project=project, annotator=annotator),
    )


# --- submit (the shared half) ------------------------------------------------------------------------------------


def submission_open(*, assignment: TaskAssignment, annotator: User, task_type: str) -> Project:
    """Start a submission: lock the unit, check the owner, the status and the task type; the project.

    Call inside the per-type service's transaction, before checking the answers (with
    :func:`annotator.services.claims.clean_flags`, :func:`~annotator.services.claims.check_seconds` and
    :func:`~annotator.services.claims.refuse`).
    """
    claims.unit_lock(kind=TASKS, assignment=assignment, annotator=annotator)
    project = assignment.unit.project
    if assignment.unit.task_type != task_type:
        raise Conflict(f"This task is {assignment.unit.task_type}, not {task_type}.", code=ErrorCode.TASK_TYPE_MISMATCH)
    claims.refuse_submission(kind=TASKS, status=assignment.status)
    return project


def result_store(
    *,
    assignment: TaskAssignment,
    annotator: User,
    now: datetime,
    flags: list[str],
    time_on_task_seconds: float | None,
    **answers: Any,
) -> TaskResult:
    """Finish a submission: mark the assignment submitted (a resubmission after a rejection supersedes the previous
    result) and store the result. Conflict, with nothing written, when the assignment changed meanwhile."""
    claims.mark_submitted(kind=TASKS, assignment=assignment, now=now)
    return TaskResult.objects.create(
        assignment=assignment,
        unit_id=assignment.unit_id,
        annotator=annotator,
        flags=flags,
        time_on_task_seconds=time_on_task_seconds,
        **answers,
    )


# --- draft and skip --------------------------------------------------------------------------------------------------


def _clean_draft(draft: Mapping[str, Any], task_type: str) -> dict[str, Any]:
    """Keep only what the task's form holds; drafts are never trusted beyond their shape."""
    cleaned: dict[str, Any] = {}
    for key in DRAFT_TEXTS.get(task_type, ()):
        value = draft.get(key)
        if isinstance(value, str):
            cleaned[key] = check_text(value, field=key)[:TASK_TEXT_MAX_CHARS]
    for key in DRAFT_CHOICES.get(task_type, ()):
        value = draft.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            cleaned[key] = value
    return cleaned | claims.draft_flags_and_seconds(draft)


@transaction.atomic
def task_draft_save(
    *, assignment: TaskAssignment, annotator: User, draft: Mapping[str, Any], now: datetime | None = None
) -> TaskAssignment:
    """Keep the unfinished form of a reserved or returned assignment; a live reservation is extended."""
    now = now or timezone.now()
    cleaned = _clean_draft(draft if isinstance(draft, Mapping) else {}, assignment.unit.task_type)
    claims.owner_check(assignment=assignment, annotator=annotator)
    locked = locks.task_assignment_lock(pk=assignment.pk)
    if locked.status not in (AssignmentStatus.RESERVED, AssignmentStatus.RETURNED):
        raise Conflict(f"This assignment is {locked.status}; its draft is closed.", code=ErrorCode.ASSIGNMENT_CLOSED)
    return claims.draft_keep(assignment=locked, draft=cleaned, project=locked.unit.project, now=now)


@transaction.atomic
def task_skip(
    *,
    assignment: TaskAssignment,
    annotator: User,
    reason: str,
    note: str = "",
    flags: Iterable[str] = (),
    now: datetime | None = None,
) -> TaskAssignment:
    """Give a unit back with a reason (and flags); its slot goes to another annotator. "other" needs a note.

    The machinery is :func:`annotator.services.claims.skip`."""
    return claims.skip(
        kind=TASKS, assignment=assignment, annotator=annotator, reason=reason, note=note, flags=flags,
        now=now or timezone.now(),
    )  # fmt: skip

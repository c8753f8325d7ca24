"""The claim / reserve / draft / skip machinery of the feedback, edit and edit-quality task types, and the shared half
of their submissions (docs/task-types.md). Written once; the per-type modules (:mod:`annotator.services.feedback`,
:mod:`annotator.services.edits`, :mod:`annotator.services.edit_quality`) only check their answers and say what to
store.

The rules are the comparison's (:mod:`annotator.services.assignments`), on a :class:`TaskUnit` instead of a
comparison: slots (``project.overlap + unit.extra_annotators``; reserved, submitted and returned assignments hold
one, kept in ``TaskUnit.slots_taken`` by triggers), an expired reservation keeps its slot until another claimer
reclaims it, the claim order (returned, own reservation, someone's expired one, the unit closest to completion,
never one the annotator had nor one whose feedback or edits they wrote), and the lock order
(membership → unit → assignment, :mod:`annotator.services.locks`). No adaptive overlap: it is a rating rule.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypedDict

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from annotator.domain import TASK_TEXT_MAX_CHARS
from annotator.error_codes import ErrorCode
from annotator.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from annotator.models import (
    AssignmentStatus,
    Flag,
    Project,
    Role,
    SkipReason,
    TaskAssignment,
    TaskResult,
    TaskType,
)
from annotator.selectors import task_hot_path
from annotator.services import locks
from annotator.services.qualification import qualification_claim_refusal
from annotator.text import check_text

SKIP_NOTE_MAX_LENGTH = 2_000
_CLAIM_ATTEMPTS = 8
_BUSY_BACKOFF_S = (0.005, 0.01, 0.02, 0.04)
# What a draft of each task type may hold besides flags and time on task: text fields, and whole-number fields.
DRAFT_TEXTS: dict[str, tuple[str, ...]] = {
    TaskType.FEEDBACK: ("feedback_1", "feedback_2"),
    TaskType.EDIT: ("text", "change_summary"),
    TaskType.EDIT_QUALITY: (),
}
DRAFT_CHOICES: dict[str, tuple[str, ...]] = {TaskType.EDIT_QUALITY: ("choice",)}


# --- claim -----------------------------------------------------------------------------------------------------------


def _reservation_end(*, project: Project, now: datetime) -> datetime:
    return now + timedelta(minutes=project.reservation_minutes)


def _reserve(*, project: Project, unit_id: int, annotator: User, now: datetime) -> TaskAssignment:
    """A new reservation; for edit quality, which edit is shown first is drawn here."""
    return TaskAssignment.objects.create(
        unit_id=unit_id,
        annotator=annotator,
        status=AssignmentStatus.RESERVED,
        reserved_until=_reservation_end(project=project, now=now),
        swapped=random.random() < 0.5,
    )


def _unfinished(*, project: Project, annotator: User) -> TaskAssignment | None:
    """The annotator's returned, else reserved, assignment in ``project`` (oldest first within each)."""
    return task_hot_path.task_assignment_unfinished(project_id=project.pk, annotator_id=annotator.pk)


def _reclaim(*, project: Project, annotator: User, now: datetime) -> TaskAssignment | None:
    """Take over the oldest expired reservation held by someone else, on a unit this annotator may have."""
    expired = task_hot_path.task_reservation_expired_oldest(
        project_id=project.pk,
        annotator_id=annotator.pk,
        before=now,
        qualification_required=project.qualification_required,
    )
    if expired is None:
        return None
    expired_pk, unit_pk = expired
    locked = locks.unit_lock_if_free(unit_id=unit_pk)
    if locked is None:
        return None
    extra_annotators, slots_taken = locked
    freed = TaskAssignment.objects.filter(
        pk=expired_pk, status=AssignmentStatus.RESERVED, reserved_until__lt=now
    ).update(status=AssignmentStatus.EXPIRED, updated_at=now)
    if freed and slots_taken - 1 < project.overlap + extra_annotators:
        return _reserve(project=project, unit_id=unit_pk, annotator=annotator, now=now)
    return None


class _Look(TypedDict):
    project_id: int
    annotator_id: int
    slots_gt: int
    qualification_required: bool


def _look(project: Project, annotator: User) -> _Look:
    """The candidate statement's parameters: units of the project with a free slot, for this annotator (and, where
    the project requires it, of a domain and language the annotator is qualified for)."""
    return {
        "project_id": project.pk,
        "annotator_id": annotator.pk,
        "slots_gt": -project.overlap,
        "qualification_required": project.qualification_required,
    }


@transaction.atomic
def task_claim_next(*, project: Project, annotator: User, now: datetime | None = None) -> TaskAssignment | None:
    """The annotator's unfinished task assignment, or a newly reserved unit; None when nothing is left for them.

    The order and the rules are :func:`annotator.services.assignments.assignment_claim_next`'s (see the module
    docstring). Raises PermissionDenied for a non-annotator, Conflict (task_type_mismatch) in a comparison project.
    """
    now = now or timezone.now()
    if project.task_type == TaskType.COMPARISON:
        raise Conflict(
            "This project collects comparisons; claim them on the annotate page.", code=ErrorCode.TASK_TYPE_MISMATCH
        )
    if not locks.membership_lock(project_id=project.pk, user_id=annotator.pk, role=Role.ANNOTATOR):
        raise PermissionDenied(f"You are not an annotator in project {project.slug}.")

    own = _unfinished(project=project, annotator=annotator)
    if own is not None:
        if own.status == AssignmentStatus.RETURNED or (own.reserved_until and own.reserved_until >= now):
            return own
        until = _reservation_end(project=project, now=now)
        if TaskAssignment.objects.filter(pk=own.pk, status=AssignmentStatus.RESERVED).update(
            reserved_until=until, updated_at=now
        ):
            own.reserved_until, own.updated_at = until, now
            return own

    reclaimed = _reclaim(project=project, annotator=annotator, now=now)
    if reclaimed is not None:
        return reclaimed

    fresh = _claim_fresh(project=project, annotator=annotator, now=now)
    if fresh is None:
        refusal = qualification_claim_refusal(project=project, annotator=annotator)
        if refusal is not None:
            raise refusal
    return fresh


def _claim_fresh(*, project: Project, annotator: User, now: datetime) -> TaskAssignment | None:
    """A new reservation of the unit closest to completion that the annotator may take; None when none."""
    tried: list[int] = []
    for _ in range(_CLAIM_ATTEMPTS):
        candidate = locks.unit_lock_next_candidate(**_look(project, annotator), tried=tried)
        busy = 0
        while candidate is None and busy < len(_BUSY_BACKOFF_S) and locks.skips_locked_rows():
            # Every remaining candidate may be locked by a claim or submission in flight: look again shortly.
            if locks.unit_lock_next_candidate(**_look(project, annotator), tried=tried, lock=False) is None:
                break
            time.sleep(_BUSY_BACKOFF_S[busy])
            busy += 1
            candidate = locks.unit_lock_next_candidate(**_look(project, annotator), tried=tried)
        if candidate is None:
            return None
        unit_id, extra_annotators, slots_taken = candidate
        if slots_taken < project.overlap + extra_annotators:
            return _reserve(project=project, unit_id=unit_id, annotator=annotator, now=now)
        tried.append(unit_id)
    return None


# --- shared checks ---------------------------------------------------------------------------------------------------


def _lock_unit(*, assignment: TaskAssignment, annotator: User) -> None:
    """Lock the assignment's unit, and check that ``annotator`` owns the assignment and is still an annotator."""
    if assignment.annotator_id != annotator.pk:
        raise NotFound("No such assignment.")  # another annotator's work is not acknowledged to exist
    _, is_member = locks.unit_lock_for_annotator(unit_id=assignment.unit_id, user_id=annotator.pk, role=Role.ANNOTATOR)
    if not is_member:
        raise PermissionDenied("You are no longer an annotator in this project.")


def _current_status(assignment: TaskAssignment) -> str:
    return str(TaskAssignment.objects.values_list("status", flat=True).get(pk=assignment.pk))


def _transition(*, assignment: TaskAssignment, now: datetime, **fields: Any) -> bool:
    return locks.task_assignment_update_if_status(
        pk=assignment.pk, if_status=assignment.status, fields={"updated_at": now, **fields}
    )


def clean_flags(flags: Iterable[object], errors: dict[str, str]) -> list[str]:
    """The flags, each once; an unknown one is named in ``errors["flags"]``."""
    allowed = set(Flag.values)
    cleaned: list[str] = []
    for flag in flags:
        if not isinstance(flag, str) or flag not in allowed:
            errors["flags"] = f"Unknown flag {flag!r}; choose from {', '.join(sorted(allowed))}."
            return []
        if flag not in cleaned:
            cleaned.append(flag)
    return cleaned


def check_seconds(seconds: object, errors: dict[str, str]) -> float | None:
    """Time on task from 0 to ``PREFSTACK_MAX_TIME_ON_TASK_SECONDS``, or None; a bad value is named in ``errors``."""
    if seconds is None:
        return None
    limit = settings.PREFSTACK_MAX_TIME_ON_TASK_SECONDS
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not (math.isfinite(seconds) and 0 <= seconds <= limit)
    ):
        errors["time_on_task_seconds"] = f"Time on task is a number of seconds from 0 to {limit}."
        return None
    return float(seconds)


def refuse(errors: Mapping[str, str], *, code: ErrorCode | None = None) -> None:
    """Raise ValidationFailed naming every field in ``errors`` (nothing when it is empty)."""
    if errors:
        message = "Some answers are missing or break the rules." if len(errors) > 1 else next(iter(errors.values()))
        raise ValidationFailed(message, code=code, extra={"fields": dict(errors)})


def refuse_submission(status: str) -> None:
    """Conflict unless an assignment with ``status`` may still be submitted (reserved, even expired, or returned)."""
    if status == AssignmentStatus.SUBMITTED:
        raise Conflict("You already submitted this task.", code=ErrorCode.ALREADY_SUBMITTED)
    if status == AssignmentStatus.EXPIRED:
        raise Conflict(
            "Your reservation expired and the task went to another annotator.", code=ErrorCode.RESERVATION_EXPIRED
        )
    if status == AssignmentStatus.SKIPPED:
        raise Conflict(f"This assignment is {status}; it can no longer be submitted.", code=ErrorCode.ASSIGNMENT_CLOSED)


# --- submit (the shared half) ------------------------------------------------------------------------------------


def submission_open(*, assignment: TaskAssignment, annotator: User, task_type: str) -> Project:
    """Start a submission: lock the unit, check the owner, the status and the task type; the project.

    Call inside the per-type service's transaction, before checking the answers.
    """
    _lock_unit(assignment=assignment, annotator=annotator)
    project = assignment.unit.project
    if assignment.unit.task_type != task_type:
        raise Conflict(f"This task is {assignment.unit.task_type}, not {task_type}.", code=ErrorCode.TASK_TYPE_MISMATCH)
    refuse_submission(assignment.status)
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
    if not _transition(assignment=assignment, now=now, status=AssignmentStatus.SUBMITTED, draft={}):
        refuse_submission(_current_status(assignment))
        raise Conflict(
            "This assignment changed meanwhile; reload it and submit again.", code=ErrorCode.ASSIGNMENT_CHANGED
        )
    if assignment.status == AssignmentStatus.RETURNED:
        TaskResult.objects.filter(assignment=assignment, is_current=True).update(is_current=False)
    assignment.status, assignment.draft, assignment.updated_at = AssignmentStatus.SUBMITTED, {}, now
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
    flags = draft.get("flags")
    if isinstance(flags, list):
        cleaned["flags"] = [f for f in flags if isinstance(f, str) and f in Flag.values]
    seconds = draft.get("time_on_task_seconds")
    if check_seconds(seconds, {}) is not None:
        cleaned["time_on_task_seconds"] = float(seconds)  # type: ignore[arg-type]
    return cleaned


@transaction.atomic
def task_draft_save(
    *, assignment: TaskAssignment, annotator: User, draft: Mapping[str, Any], now: datetime | None = None
) -> TaskAssignment:
    """Keep the unfinished form of a reserved or returned assignment; a live reservation is extended."""
    now = now or timezone.now()
    cleaned = _clean_draft(draft if isinstance(draft, Mapping) else {}, assignment.unit.task_type)
    if assignment.annotator_id != annotator.pk:
        raise NotFound("No such assignment.")
    locked = locks.task_assignment_lock(pk=assignment.pk)
    if locked.status not in (AssignmentStatus.RESERVED, AssignmentStatus.RETURNED):
        raise Conflict(f"This assignment is {locked.status}; its draft is closed.", code=ErrorCode.ASSIGNMENT_CLOSED)
    locked.draft, locked.updated_at = cleaned, now
    fields = ["draft", "updated_at"]
    if locked.status == AssignmentStatus.RESERVED and locked.reserved_until and locked.reserved_until >= now:
        locked.reserved_until = _reservation_end(project=locked.unit.project, now=now)
        fields.append("reserved_until")
    locked.save(update_fields=fields)
    return locked


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
    """Give a unit back with a reason (and flags); its slot goes to another annotator. "other" needs a note."""
    now = now or timezone.now()
    _lock_unit(assignment=assignment, annotator=annotator)
    if assignment.status not in (AssignmentStatus.RESERVED, AssignmentStatus.RETURNED):
        raise Conflict(
            f"This assignment is {assignment.status}; it can no longer be skipped.", code=ErrorCode.ASSIGNMENT_CLOSED
        )
    errors: dict[str, str] = {}
    if reason not in SkipReason.values:
        errors["reason"] = "Choose a reason for skipping."
    note = check_text(note or "", field="note").strip()
    if reason == SkipReason.OTHER and not note:
        errors["note"] = "Say why in a note when the reason is “other”."
    if len(note) > SKIP_NOTE_MAX_LENGTH:
        errors["note"] = f"Keep the note under {SKIP_NOTE_MAX_LENGTH} characters."
    kept_flags = clean_flags(flags, errors)
    refuse(errors)
    fields = {"status": AssignmentStatus.SKIPPED, "skip_reason": reason, "skip_note": note, "flags": kept_flags}
    if not _transition(assignment=assignment, now=now, **fields):
        status = _current_status(assignment)
        raise Conflict(f"This assignment is {status}; it can no longer be skipped.", code=ErrorCode.ASSIGNMENT_CLOSED)
    for name, value in fields.items():
        setattr(assignment, name, value)
    assignment.updated_at = now
    return assignment

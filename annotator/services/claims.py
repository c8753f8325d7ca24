"""The claim machinery of every kind of work, written once: claim, reserve, renew, reclaim, the unit's lock, the
assignment's status transitions, skip and a draft's keeping, and the checks every submission shares (flags, time on
task, the refusal of a finished assignment).

What differs between comparisons (:mod:`annotator.services.assignments`) and the units of the feedback, edit and
edit-quality tasks (:mod:`annotator.services.task_units`) is one :class:`ClaimKind`: the reads
(:class:`annotator.selectors.hot_path.ClaimReads`) and locks (:class:`annotator.services.locks.UnitLocks`) built on
its tables, the model a submission stores, and the noun its refusals say. The candidate statement comes with each
claim, since it depends on the project (queue order, qualification) and the annotator. The per-kind modules keep the
public functions, their transactions and their answers; everything here runs inside those transactions.

The rules, the same for every kind (the comparisons' module docstring says them in full): a unit needs
``project.overlap + unit.extra_annotators`` slots, held by reserved (even past ``reserved_until``), submitted and
returned assignments and counted by triggers in ``slots_taken``; an expired reservation keeps its slot until another
claimer reclaims it; a claim gives, in this order, the annotator's returned assignment, their own reservation
(renewed if it expired), someone's expired reservation, the first unit of the queue with a free slot, never one they
had; the locks are taken in the order of :mod:`annotator.services.locks` (membership → unit → assignment).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic

from django.conf import settings
from django.contrib.auth.models import User

from annotator.error_codes import ErrorCode
from annotator.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from annotator.models import Annotation, AssignmentStatus, Flag, Project, Role, SkipReason, TaskResult
from annotator.selectors.hot_path import AssignmentT, ClaimReads
from annotator.services import locks
from annotator.services.locks import UnitLocks
from annotator.services.qualification import qualification_claim_refusal
from annotator.text import check_text

# A claim that keeps losing races to other claimers gives up after this many candidates (it then finds nothing).
CLAIM_ATTEMPTS = 8
# Pauses before looking again when every candidate left is locked by a transaction in flight (about 0.1 s in all).
BUSY_BACKOFF_S = (0.005, 0.01, 0.02, 0.04)
SKIP_NOTE_MAX_LENGTH = 2_000
# The message of a refusal naming several fields, unless the caller says otherwise.
SEVERAL_ERRORS = "Some answers are missing or break the rules."
# (id, extra_annotators, slots_taken) of the next unit with a free slot, or None; called ``(tried=[ids passed
# over])`` for a locked look and ``(tried=..., lock=False)`` to only look.
Candidate = Callable[..., tuple[int, int, int] | None]


@dataclass(frozen=True)
class ClaimKind(Generic[AssignmentT]):
    """What differs between the claims of two kinds of work; :mod:`annotator.services.claims` is the rest.

    ``reads`` and ``locks``: the kind's statements (on the same tables); ``result``: what a submission stores, one
    current per assignment (a resubmission after a rejection supersedes it); ``noun``: the unit as the refusals name
    it ("comparison", "task").
    """

    reads: ClaimReads[AssignmentT]
    locks: UnitLocks
    result: type[Annotation] | type[TaskResult]
    noun: str

    def __post_init__(self) -> None:
        if self.reads.tables != self.locks.tables:
            raise ValueError("A kind's reads and locks are built on the same tables.")

    @property
    def assignment(self) -> type[AssignmentT]:
        return self.reads.tables.assignment

    def unit_id(self, assignment: AssignmentT) -> int:
        return int(getattr(assignment, self.reads.tables.unit_fk))


# --- claim -----------------------------------------------------------------------------------------------------------


def reservation_end(*, project: Project, now: datetime) -> datetime:
    return now + timedelta(minutes=project.reservation_minutes)


def reserve(
    *, kind: ClaimKind[AssignmentT], project: Project, unit_id: int, annotator: User, now: datetime
) -> AssignmentT:
    """A new reservation. ``swapped`` is drawn here: for a comparison, which response is shown on the left; for edit
    quality, which edit is shown first."""
    return kind.assignment.objects.create(
        **{kind.reads.tables.unit_fk: unit_id},
        annotator=annotator,
        status=AssignmentStatus.RESERVED,
        reserved_until=reservation_end(project=project, now=now),
        swapped=random.random() < 0.5,
    )


def claim_next(
    *,
    kind: ClaimKind[AssignmentT],
    project: Project,
    annotator: User,
    now: datetime,
    candidate: Candidate,
    backoff: Sequence[float] = BUSY_BACKOFF_S,
) -> AssignmentT | None:
    """The annotator's unfinished assignment, or a newly reserved unit; None when nothing is left for them.

    Order: an assignment a lead returned, the annotator's reservation (renewed if it expired), a unit holding
    someone else's expired reservation, then ``candidate``'s unit. Raises PermissionDenied for a non-annotator, and
    NotQualified when nothing is left for them but work they are not qualified for. Call inside the transaction.
    """
    # One claim per annotator at a time.
    if not locks.membership_lock(project_id=project.pk, user_id=annotator.pk, role=Role.ANNOTATOR):
        raise PermissionDenied(f"You are not an annotator in project {project.slug}.")

    own = kind.reads.unfinished(project_id=project.pk, annotator_id=annotator.pk)
    if own is not None:
        if own.status == AssignmentStatus.RETURNED or (own.reserved_until and own.reserved_until >= now):
            return own
        # Expired but still ours, unless a claimer reclaimed it since we read it (the update then finds 'expired').
        until = reservation_end(project=project, now=now)
        if kind.assignment.objects.filter(pk=own.pk, status=AssignmentStatus.RESERVED).update(
            reserved_until=until, updated_at=now
        ):
            own.reserved_until, own.updated_at = until, now
            return own

    # Someone started these: reclaiming them before fresh work leaves no holes in the queue.
    reclaimed = _reclaim(kind=kind, project=project, annotator=annotator, now=now)
    if reclaimed is not None:
        return reclaimed

    fresh = _claim_fresh(kind=kind, project=project, annotator=annotator, now=now, candidate=candidate, backoff=backoff)
    if fresh is None:
        refusal = qualification_claim_refusal(project=project, annotator=annotator)
        if refusal is not None:
            raise refusal
    return fresh


def _reclaim(*, kind: ClaimKind[AssignmentT], project: Project, annotator: User, now: datetime) -> AssignmentT | None:
    """Take over the oldest expired reservation held by someone else, on a unit this annotator may have; None when
    there is none, or its unit is locked by a transaction in flight.

    Cheap at any project size: reservations are few (about one per annotator at work) and a partial index finds
    the expired ones. Under the unit's lock: free the slot (mark the reservation expired) unless its owner renewed
    it meanwhile, then reserve the unit if a slot is free.
    """
    expired = kind.reads.reservation_expired_oldest(
        project_id=project.pk,
        annotator_id=annotator.pk,
        before=now,
        qualification_required=project.qualification_required,
    )
    if expired is None:
        return None
    expired_pk, unit_pk = expired
    locked = kind.locks.lock_if_free(unit_id=unit_pk)
    if locked is None:
        return None
    extra_annotators, slots_taken = locked
    freed = kind.assignment.objects.filter(
        pk=expired_pk, status=AssignmentStatus.RESERVED, reserved_until__lt=now
    ).update(status=AssignmentStatus.EXPIRED, updated_at=now)
    if freed and slots_taken - 1 < project.overlap + extra_annotators:
        return reserve(kind=kind, project=project, unit_id=unit_pk, annotator=annotator, now=now)
    return None


def _claim_fresh(
    *,
    kind: ClaimKind[AssignmentT],
    project: Project,
    annotator: User,
    now: datetime,
    candidate: Candidate,
    backoff: Sequence[float],
) -> AssignmentT | None:
    """A new reservation of ``candidate``'s unit (the first of the queue the annotator may take); None when none."""
    tried: list[int] = []
    for _ in range(CLAIM_ATTEMPTS):
        found = candidate(tried=tried)
        busy = 0
        while found is None and busy < len(backoff) and locks.skips_locked_rows():
            # Nothing unlocked: every remaining candidate may be held by a submission or claim in flight (a few
            # milliseconds). If one exists, look again shortly rather than tell the annotator that nothing is
            # left while work remains. Blocking on the rows instead would let two claimers deadlock.
            if candidate(tried=tried, lock=False) is None:
                break
            time.sleep(backoff[busy])
            busy += 1
            found = candidate(tried=tried)
        if found is None:
            return None
        unit_id, extra_annotators, slots_taken = found
        # Read under the row lock, so a claim committed after the query's snapshot is counted.
        if slots_taken < project.overlap + extra_annotators:
            return reserve(kind=kind, project=project, unit_id=unit_id, annotator=annotator, now=now)
        tried.append(unit_id)
    return None


# --- the owner, the unit's lock, the assignment's status -------------------------------------------------------------


def owner_check(*, assignment: AssignmentT, annotator: User) -> None:
    """NotFound unless ``annotator`` owns ``assignment``: another annotator's work is not acknowledged to exist."""
    if assignment.annotator_id != annotator.pk:
        raise NotFound("No such assignment.")


def member_check(*, is_member: bool) -> None:
    """PermissionDenied for one who is no longer an annotator of the project."""
    if not is_member:
        raise PermissionDenied("You are no longer an annotator in this project.")


def unit_lock(*, kind: ClaimKind[AssignmentT], assignment: AssignmentT, annotator: User) -> int:
    """Check that ``annotator`` owns the assignment, lock its unit, check that they are still an annotator; the
    unit's ``extra_annotators``.

    Every write that moves an assignment in or out of a slot holds its unit's lock, and takes it before the
    assignment's own row lock (see :mod:`annotator.services.locks`). One query, no model built: this is on every
    submission.
    """
    owner_check(assignment=assignment, annotator=annotator)
    extra, is_member = kind.locks.lock_for_annotator(
        unit_id=kind.unit_id(assignment), user_id=annotator.pk, role=Role.ANNOTATOR
    )
    member_check(is_member=is_member)
    return extra


def transition(*, kind: ClaimKind[AssignmentT], assignment: AssignmentT, now: datetime, **fields: Any) -> bool:
    """Write ``fields`` if the assignment's status is still the one the caller read; False when it changed.

    The update takes the assignment's row lock and checks its status in one statement.
    """
    return kind.locks.assignment_update_if_status(
        pk=assignment.pk, if_status=assignment.status, fields={"updated_at": now, **fields}
    )


def current_status(*, kind: ClaimKind[AssignmentT], assignment: AssignmentT) -> str:
    return str(kind.assignment.objects.values_list("status", flat=True).get(pk=assignment.pk))


# --- submit (the shared half) ----------------------------------------------------------------------------------------


def refuse_submission(*, kind: ClaimKind[Any], status: str) -> None:
    """Conflict unless an assignment with ``status`` may still be submitted (reserved, even expired, or returned)."""
    if status == AssignmentStatus.SUBMITTED:
        raise Conflict(f"You already submitted this {kind.noun}.", code=ErrorCode.ALREADY_SUBMITTED)
    if status == AssignmentStatus.EXPIRED:
        # Only a reclaim marks a reservation expired: its slot went to another annotator.
        raise Conflict(
            f"Your reservation expired and the {kind.noun} went to another annotator.",
            code=ErrorCode.RESERVATION_EXPIRED,
        )
    if status == AssignmentStatus.SKIPPED:
        raise Conflict(f"This assignment is {status}; it can no longer be submitted.", code=ErrorCode.ASSIGNMENT_CLOSED)
    # A reservation, even past its time, holds its slot until a claimer reclaims it: it may still be submitted.


def mark_submitted(*, kind: ClaimKind[AssignmentT], assignment: AssignmentT, now: datetime) -> None:
    """Move the assignment to submitted if nobody changed it since the caller read it; a resubmission after a
    rejection supersedes the previous result. Conflict, with nothing written, otherwise. The caller stores the new
    result."""
    if not transition(kind=kind, assignment=assignment, now=now, status=AssignmentStatus.SUBMITTED, draft={}):
        refuse_submission(kind=kind, status=current_status(kind=kind, assignment=assignment))
        raise Conflict(
            "This assignment changed meanwhile; reload it and submit again.", code=ErrorCode.ASSIGNMENT_CHANGED
        )
    if assignment.status == AssignmentStatus.RETURNED:
        kind.result.objects.filter(assignment_id=assignment.pk, is_current=True).update(is_current=False)
    assignment.status, assignment.draft, assignment.updated_at = AssignmentStatus.SUBMITTED, {}, now


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
    """Time on task from 0 to ``PREFSTACK_MAX_TIME_ON_TASK_SECONDS``, or None; a bad value (NaN, an infinity, a
    bool, not a number) is named in ``errors``."""
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


def refuse(errors: Mapping[str, str], *, code: ErrorCode | None = None, several: str | None = SEVERAL_ERRORS) -> None:
    """Raise ValidationFailed naming every field in ``errors`` (nothing when it is empty). Its message: the one
    error's, or ``several`` when there are more (None: the first error's)."""
    if errors:
        first = next(iter(errors.values()))
        message = several if several is not None and len(errors) > 1 else first
        raise ValidationFailed(message, code=code, extra={"fields": dict(errors)})


# --- skip and draft --------------------------------------------------------------------------------------------------


def skip(
    *,
    kind: ClaimKind[AssignmentT],
    assignment: AssignmentT,
    annotator: User,
    reason: str,
    note: str,
    flags: Iterable[str],
    now: datetime,
    several: str | None = SEVERAL_ERRORS,
) -> AssignmentT:
    """Give a unit back with a reason (a SkipReason; "other" needs a note) and flags; its slot goes to another
    annotator. A returned assignment may be skipped too. ``assignment`` is updated in place and returned;
    ``several`` as :func:`refuse`. Call inside the transaction."""
    unit_lock(kind=kind, assignment=assignment, annotator=annotator)
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
    refuse(errors, several=several)
    fields = {"status": AssignmentStatus.SKIPPED, "skip_reason": reason, "skip_note": note, "flags": kept_flags}
    if not transition(kind=kind, assignment=assignment, now=now, **fields):
        status = current_status(kind=kind, assignment=assignment)
        raise Conflict(f"This assignment is {status}; it can no longer be skipped.", code=ErrorCode.ASSIGNMENT_CLOSED)
    for name, value in fields.items():
        setattr(assignment, name, value)
    assignment.updated_at = now
    return assignment


def draft_flags_and_seconds(draft: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a draft every form holds: its known flags and a plausible time on task; anything else dropped."""
    cleaned: dict[str, Any] = {}
    flags = draft.get("flags")
    if isinstance(flags, list):
        cleaned["flags"] = [f for f in flags if isinstance(f, str) and f in Flag.values]
    seconds = check_seconds(draft.get("time_on_task_seconds"), {})
    if seconds is not None:
        cleaned["time_on_task_seconds"] = seconds
    return cleaned


def draft_keep(*, assignment: AssignmentT, draft: dict[str, Any], project: Project, now: datetime) -> AssignmentT:
    """Store the cleaned ``draft`` on the (locked) assignment; a live reservation is extended, an expired one not."""
    assignment.draft, assignment.updated_at = draft, now
    fields = ["draft", "updated_at"]
    if (
        assignment.status == AssignmentStatus.RESERVED
        and assignment.reserved_until
        and assignment.reserved_until >= now
    ):
        assignment.reserved_until = reservation_end(project=project, now=now)
        fields.append("reserved_until")
    assignment.save(update_fields=fields)
    return assignment

"""Reads for annotator pools: qualification sets, an annotator's standing in each, and what blocks their work.

The claim's filter itself (which prompts reach which annotator) is SQL in :mod:`annotator.selectors.hot_path`
(``QUALIFIED_FOR_PROMPT``); these reads serve the qualification pages and explain a refused claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db.models import Count, F, OuterRef, QuerySet, Subquery

from annotator.errors import NotFound
from annotator.models import (
    UNIT_TASK_TYPES,
    AttemptStatus,
    Comparison,
    Project,
    QualificationAttempt,
    QualificationItem,
    QualificationSet,
    TaskUnit,
)


@dataclass(frozen=True)
class QualificationStanding:
    """Where an annotator stands with one qualification set.

    ``open_attempt`` is their unfinished attempt; ``can_start`` says whether a new one may start now, and when it
    may not, ``reason`` says why (``retry_at`` is set while cooling down after a failed attempt).
    """

    qualification_set: QualificationSet
    passed: bool
    attempts_used: int
    last: QualificationAttempt | None
    open_attempt: QualificationAttempt | None
    can_start: bool
    reason: str
    retry_at: datetime | None

    @property
    def attempts_left(self) -> int:
        return max(self.qualification_set.max_attempts - self.attempts_used, 0)


def qualification_set_list(*, project: Project) -> QuerySet[QualificationSet]:
    """The project's qualification sets by scope, each with ``n_items`` and ``n_passed`` (annotators who passed)."""
    passed = QualificationAttempt.objects.filter(qualification_set=OuterRef("pk"), status=AttemptStatus.PASSED)
    return QualificationSet.objects.filter(project=project).annotate(
        n_items=Count("items"),
        n_passed=Subquery(
            passed.order_by().values("qualification_set").annotate(n=Count("annotator", distinct=True)).values("n")
        ),
    )


def qualification_set_get(*, project: Project, set_id: int) -> QualificationSet:
    found = qualification_set_list(project=project).filter(pk=set_id).first()
    if found is None:
        raise NotFound("No such qualification set in this project.")
    return found


def qualification_items(*, qualification_set: QualificationSet) -> list[QualificationItem]:
    """The set's items in order (``QualificationItem.Meta.ordering``), with their comparison, prompt and responses."""
    return list(
        qualification_set.items.select_related("comparison__prompt", "comparison__response_1", "comparison__response_2")
    )


def qualification_standing(
    *, qualification_set: QualificationSet, annotator: User, now: datetime
) -> QualificationStanding:
    """The annotator's standing with the set at ``now`` (see :class:`QualificationStanding`)."""
    attempts = list(
        QualificationAttempt.objects.filter(qualification_set=qualification_set, annotator=annotator).order_by("number")
    )
    passed = any(a.status == AttemptStatus.PASSED for a in attempts)
    open_attempt = next((a for a in attempts if a.status == AttemptStatus.IN_PROGRESS), None)
    last = attempts[-1] if attempts else None
    retry_at = None
    reason = ""
    if passed:
        reason = "You have passed this qualification."
    elif open_attempt is not None:
        reason = "You have an attempt in progress."
    elif len(attempts) >= qualification_set.max_attempts:
        reason = f"You have used all {qualification_set.max_attempts} attempts; ask a lead."
    elif last is not None and last.finished_at is not None:
        ready = last.finished_at + timedelta(minutes=qualification_set.cooldown_minutes)
        if ready > now:
            retry_at = ready
            reason = f"You may try again after {ready:%Y-%m-%d %H:%M} UTC."
    return QualificationStanding(
        qualification_set=qualification_set,
        passed=passed,
        attempts_used=len(attempts),
        last=last,
        open_attempt=open_attempt,
        can_start=not reason,
        reason=reason,
        retry_at=retry_at,
    )


def qualification_standings(*, project: Project, annotator: User, now: datetime) -> list[QualificationStanding]:
    """The annotator's standing with every qualification set of the project, by scope."""
    return [
        qualification_standing(qualification_set=s, annotator=annotator, now=now)
        for s in qualification_set_list(project=project)
    ]


def qualification_sets_blocking(*, project: Project, annotator: User) -> list[QualificationSet]:
    """The sets the annotator has not passed whose scope still holds work for them: a comparison (or, in a
    feedback, edit or edit-quality project, a task unit) with a free slot that they never had (qualification items
    aside). Empty when nothing they lack blocks them."""
    passed = QualificationAttempt.objects.filter(annotator=annotator, status=AttemptStatus.PASSED).values(
        "qualification_set_id"
    )
    open_work: QuerySet[Comparison] | QuerySet[TaskUnit]
    if project.task_type in UNIT_TASK_TYPES:
        open_work = TaskUnit.objects.filter(
            project=project, slots_taken__lt=F("extra_annotators") + project.overlap
        ).exclude(assignments__annotator=annotator)
    else:
        open_work = (
            Comparison.objects.filter(project=project, slots_taken__lt=F("extra_annotators") + project.overlap)
            .exclude(assignments__annotator=annotator)
            .exclude(qualification_items__isnull=False)
        )
    blocking = []
    for qualification_set in QualificationSet.objects.filter(project=project).exclude(pk__in=passed):
        scoped = open_work
        if qualification_set.domain:
            scoped = scoped.filter(prompt__domain=qualification_set.domain)
        if qualification_set.language:
            scoped = scoped.filter(prompt__language=qualification_set.language)
        if scoped.exists():
            blocking.append(qualification_set)
    return blocking


def qualification_attempt_get(*, project: Project, attempt_id: int, annotator: User) -> QualificationAttempt:
    """The annotator's own attempt in the project, with its set (NotFound for anyone else's)."""
    attempt = (
        QualificationAttempt.objects.select_related("qualification_set")
        .filter(pk=attempt_id, annotator=annotator, qualification_set__project=project)
        .first()
    )
    if attempt is None:
        raise NotFound("No such qualification attempt.")
    return attempt


def qualification_attempt_answered(*, attempt: QualificationAttempt) -> dict[int, bool]:
    """Item id -> whether the attempt's answer to it was right, for the items answered so far."""
    return dict(attempt.answers.values_list("item_id", "correct"))

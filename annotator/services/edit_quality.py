"""Edit quality (HelpSteer3 ``edit_quality``): a third annotator sees the feedback and two edits and picks the one
that follows it. The claim, draft and skip are :mod:`annotator.services.task_units`'.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from annotator.error_codes import ErrorCode
from annotator.errors import PermissionDenied, ValidationFailed
from annotator.models import (
    Membership,
    Project,
    ReviewDecision,
    Role,
    TaskAssignment,
    TaskResult,
    TaskReview,
    TaskType,
    TaskUnit,
)
from annotator.services import claims, task_units

SHOWN_CHOICES = (1, 2)
"""The two edits as shown: 1 is the first on the page."""


def unit_choice(*, assignment: TaskAssignment, shown: int) -> int:
    """The unit's edit number (1 or 2) of the edit shown at position ``shown``."""
    return (3 - shown) if assignment.swapped else shown


@transaction.atomic
def edit_choice_submit(
    *,
    assignment: TaskAssignment,
    annotator: User,
    choice: object,
    flags: Iterable[str] = (),
    time_on_task_seconds: float | None = None,
    now: datetime | None = None,
) -> TaskResult:
    """Store which edit follows the feedback: ``choice`` is the shown position (1 = the first edit on the page),
    stored in unit terms. Refuses (ValidationFailed, ``extra["fields"]["choice"]``) anything but 1 or 2."""
    now = now or timezone.now()
    task_units.submission_open(assignment=assignment, annotator=annotator, task_type=TaskType.EDIT_QUALITY)
    errors: dict[str, str] = {}
    if isinstance(choice, bool) or choice not in SHOWN_CHOICES:
        errors["choice"] = "Choose the edit that follows the feedback: 1 or 2."
    kept_flags = claims.clean_flags(flags, errors)
    seconds = claims.check_seconds(time_on_task_seconds, errors)
    claims.refuse(errors)
    assert isinstance(choice, int)  # checked above
    return task_units.result_store(
        assignment=assignment,
        annotator=annotator,
        now=now,
        flags=kept_flags,
        time_on_task_seconds=seconds,
        choice=unit_choice(assignment=assignment, shown=choice),
    )


@transaction.atomic
def edit_quality_units_create_from_reviews(*, project: Project, source: Project, lead: User) -> list[TaskUnit]:
    """One edit-quality unit in ``project`` per edit unit of ``source`` that has an accepted edit and a rejected one:
    the accepted edit is the good one (``good_edit``), the rejected one the bad candidate. Units already made are
    left alone; the annotators of the edits and of the feedback never get the new unit."""
    if project.task_type != TaskType.EDIT_QUALITY or source.task_type != TaskType.EDIT:
        raise ValidationFailed(
            "Edit-quality units come from an edit project into an edit-quality project.",
            code=ErrorCode.TASK_TYPE_MISMATCH,
        )
    if Membership.objects.filter(user=lead, role=Role.LEAD, project__in=(project, source)).count() < 2:
        raise PermissionDenied("Only a lead of both projects can make edit-quality tasks from reviews.")
    done = set(TaskUnit.objects.filter(project=project).values_list("edit_unit_id", flat=True))
    latest: dict[int, tuple[str, int, str]] = {}  # result -> (decision, unit, text)
    for result_id, decision, unit_id, text in (
        TaskReview.objects.filter(result__unit__project=source, result__is_current=True)
        .order_by("result_id", "-created_at", "-id")
        .values_list("result_id", "decision", "result__unit_id", "result__text")
    ):
        latest.setdefault(result_id, (decision, unit_id, text))
    by_unit: dict[int, dict[str, str]] = {}
    for decision, unit_id, text in latest.values():
        by_unit.setdefault(unit_id, {}).setdefault(decision, text)
    created: list[TaskUnit] = []
    for unit in TaskUnit.objects.filter(pk__in=sorted(by_unit)).order_by("id"):
        texts = by_unit[unit.pk]
        if unit.pk in done or ReviewDecision.ACCEPT not in texts or ReviewDecision.REJECT not in texts:
            continue
        created.append(
            TaskUnit.objects.create(
                project=project,
                task_type=TaskType.EDIT_QUALITY,
                prompt_id=unit.prompt_id,
                response_1_id=unit.response_1_id,
                feedback=unit.feedback,
                edit_1=texts[ReviewDecision.ACCEPT],
                edit_2=texts[ReviewDecision.REJECT],
                good_edit=1,
                feedback_unit_id=unit.feedback_unit_id,
                edit_unit=unit,
                split=unit.split,
            )
        )
    return created

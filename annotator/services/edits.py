"""Edits (HelpSteer3 ``edit``): an annotator who wrote none of the feedback rewrites a response to follow it, with a
change summary. The claim, draft and skip are :mod:`annotator.services.task_units`'.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from annotator.domain import CHANGE_SUMMARY_MAX_CHARS, FEEDBACK_PER_RESPONSE, TASK_TEXT_MAX_CHARS
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
from annotator.text import check_text
from annotator.text_diff import same_text


def _wrote_the_feedback(*, unit: TaskUnit, annotator: User) -> bool:
    return unit.feedback_unit_id is not None and (
        TaskAssignment.objects.filter(unit_id=unit.feedback_unit_id, annotator=annotator).exists()
    )


@transaction.atomic
def edit_submit(
    *,
    assignment: TaskAssignment,
    annotator: User,
    text: str,
    change_summary: str,
    flags: Iterable[str] = (),
    time_on_task_seconds: float | None = None,
    now: datetime | None = None,
) -> TaskResult:
    """Store the annotator's edit of the unit's response, and its change summary.

    Refuses, with nothing written: an edit by one who wrote the feedback (code ``edit_by_feedback_author``), an edit
    identical to the original (``edit_unchanged``; line ends and trailing spaces do not count), an empty edit or
    summary, or one too long (``validation_failed``, ``extra["fields"]`` keyed ``text`` / ``change_summary``).
    """
    for field, value in (("text", text), ("change_summary", change_summary)):
        if isinstance(value, str):
            check_text(value, field=field)
    now = now or timezone.now()
    task_units.submission_open(assignment=assignment, annotator=annotator, task_type=TaskType.EDIT)
    unit = assignment.unit
    if _wrote_the_feedback(unit=unit, annotator=annotator):
        raise ValidationFailed(
            "You wrote feedback on this response, so another annotator edits it.",
            code=ErrorCode.EDIT_BY_FEEDBACK_AUTHOR,
        )
    text = text.strip() if isinstance(text, str) else ""
    summary = change_summary.strip() if isinstance(change_summary, str) else ""
    errors: dict[str, str] = {}
    code = None
    if not text:
        errors["text"] = "Write the edited response."
    elif len(text) > TASK_TEXT_MAX_CHARS:
        errors["text"] = f"Keep the edited response under {TASK_TEXT_MAX_CHARS} characters."
    elif same_text(text, unit.response_1.text):
        errors["text"] = "The edit is identical to the original response; change it so that it follows the feedback."
        code = ErrorCode.EDIT_UNCHANGED
    if not summary:
        errors["change_summary"] = "Summarise what you changed, and why."
    elif len(summary) > CHANGE_SUMMARY_MAX_CHARS:
        errors["change_summary"] = f"Keep the change summary under {CHANGE_SUMMARY_MAX_CHARS} characters."
    kept_flags = claims.clean_flags(flags, errors)
    seconds = claims.check_seconds(time_on_task_seconds, errors)
    claims.refuse(errors, code=code)
    return task_units.result_store(
        assignment=assignment,
        annotator=annotator,
        now=now,
        flags=kept_flags,
        time_on_task_seconds=seconds,
        text=text,
        change_summary=summary,
    )


def _rejected_result_ids(unit_ids: Iterable[int]) -> set[int]:
    latest: dict[int, str] = {}
    for result_id, decision in (
        TaskReview.objects.filter(result__unit_id__in=list(unit_ids))
        .order_by("result_id", "-created_at", "-id")
        .values_list("result_id", "decision")
    ):
        latest.setdefault(result_id, decision)
    return {pk for pk, decision in latest.items() if decision == ReviewDecision.REJECT}


@transaction.atomic
def edit_units_create_from_feedback(*, project: Project, source: Project, lead: User) -> list[TaskUnit]:
    """One edit unit in ``project`` per response of ``source``'s feedback units that has feedback (its current,
    unrejected feedbacks, up to :data:`FEEDBACK_PER_RESPONSE`); responses that already have one are left alone.

    The units remember their feedback unit, so its writers never get them. Needs a lead of both projects.
    """
    if project.task_type != TaskType.EDIT or source.task_type != TaskType.FEEDBACK:
        raise ValidationFailed(
            "Edit units come from a feedback project into an edit project.", code=ErrorCode.TASK_TYPE_MISMATCH
        )
    leads = Membership.objects.filter(user=lead, role=Role.LEAD, project__in=(project, source)).count()
    if leads < 2:
        raise PermissionDenied("Only a lead of both projects can make edit tasks from feedback.")
    done = set(TaskUnit.objects.filter(project=project).values_list("feedback_unit_id", "response_1_id"))
    units = list(TaskUnit.objects.filter(project=source).order_by("id"))
    results = list(TaskResult.objects.filter(unit__in=units, is_current=True).order_by("id"))
    rejected = _rejected_result_ids(u.pk for u in units)
    created: list[TaskUnit] = []
    for unit in units:
        mine = [r for r in results if r.unit_id == unit.pk and r.pk not in rejected]
        for response_id, field in ((unit.response_1_id, "feedback_1"), (unit.response_2_id, "feedback_2")):
            feedback = [getattr(r, field) for r in mine if getattr(r, field)][:FEEDBACK_PER_RESPONSE]
            if response_id is None or not feedback or (unit.pk, response_id) in done:
                continue
            created.append(
                TaskUnit.objects.create(
                    project=project,
                    task_type=TaskType.EDIT,
                    prompt_id=unit.prompt_id,
                    response_1_id=response_id,
                    feedback=feedback,
                    feedback_unit=unit,
                    split=unit.split,
                )
            )
    return created

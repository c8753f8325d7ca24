"""Feedback (HelpSteer3 ``feedback``): an annotator writes a critique of each of a unit's two responses.

The claim, draft and skip are :mod:`annotator.services.task_units`'; this module checks the two feedbacks against the
project's rules (:mod:`annotator.feedback_rules`) and stores them with the helpfulness level of each opening.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from annotator.domain import TASK_TEXT_MAX_CHARS
from annotator.error_codes import ErrorCode
from annotator.feedback_rules import FeedbackRules, check_feedback
from annotator.models import Project, TaskAssignment, TaskResult, TaskType
from annotator.services import claims, task_units
from annotator.text import check_text

FEEDBACK_FIELDS = ("feedback_1", "feedback_2")


def feedback_rules_of(project: Project) -> FeedbackRules:
    """The project's feedback rules (its settings; defaults from annotator.domain)."""
    return FeedbackRules(
        min_sentences=project.feedback_min_sentences,
        max_sentences=project.feedback_max_sentences,
        min_words=project.feedback_min_words,
        max_words=project.feedback_max_words,
        require_opening=project.feedback_requires_opening,
    )


@transaction.atomic
def feedback_submit(
    *,
    assignment: TaskAssignment,
    annotator: User,
    feedback_1: str,
    feedback_2: str,
    flags: Iterable[str] = (),
    time_on_task_seconds: float | None = None,
    now: datetime | None = None,
) -> TaskResult:
    """Check and store the annotator's feedback on response 1 and response 2 of the assignment's unit.

    Refuses (ValidationFailed, code ``feedback_rules_broken``, ``extra["fields"]`` keyed ``feedback_1`` /
    ``feedback_2`` with every broken rule of each) a feedback that breaks the project's rules; Conflict for a
    submitted, skipped or lost assignment; NotFound for another annotator's. Nothing is written when refused.
    """
    texts = {"feedback_1": feedback_1, "feedback_2": feedback_2}
    for field, text in texts.items():
        if isinstance(text, str):
            check_text(text, field=field)  # refused before any lock is taken
    now = now or timezone.now()
    project = task_units.submission_open(assignment=assignment, annotator=annotator, task_type=TaskType.FEEDBACK)
    rules = feedback_rules_of(project)
    errors: dict[str, str] = {}
    levels: dict[str, int | None] = {}
    for field, text in texts.items():
        text = text.strip() if isinstance(text, str) else ""
        texts[field] = text
        if len(text) > TASK_TEXT_MAX_CHARS:
            errors[field] = f"Keep the feedback under {TASK_TEXT_MAX_CHARS} characters."
            continue
        checked = check_feedback(text, rules)
        if not checked.ok:
            errors[field] = " ".join(checked.problems)
        levels[field] = checked.helpfulness
    rule_errors = dict(errors)
    kept_flags = claims.clean_flags(flags, errors)
    seconds = claims.check_seconds(time_on_task_seconds, errors)
    claims.refuse(errors, code=ErrorCode.FEEDBACK_RULES_BROKEN if rule_errors else None)
    return task_units.result_store(
        assignment=assignment,
        annotator=annotator,
        now=now,
        flags=kept_flags,
        time_on_task_seconds=seconds,
        feedback_1=texts["feedback_1"],
        feedback_2=texts["feedback_2"],
        helpfulness_1=levels["feedback_1"],
        helpfulness_2=levels["feedback_2"],
    )

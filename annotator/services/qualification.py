"""Annotator pools: qualification sets (written by leads), attempts and answers (by annotators).

A project with at least one qualification set has ``Project.qualification_required`` set (kept here), and the claim
then hands a set's scope of work only to annotators with a passed attempt at it (the rule is SQL in
:mod:`annotator.selectors.hot_path`). Items are the project's gold comparisons; after each answer the annotator sees
the expected answer and the item's explanation. Retries: a failed attempt may be followed by another after the
set's ``cooldown_minutes``, up to its ``max_attempts``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotator.domain import PREFERENCE_STRENGTH_TEXT, is_preference_strength
from annotator.error_codes import ErrorCode
from annotator.errors import ApplicationError, Conflict, NotFound, PermissionDenied, ValidationFailed
from annotator.models import (
    AttemptStatus,
    Comparison,
    Project,
    QualificationAnswer,
    QualificationAttempt,
    QualificationItem,
    QualificationSet,
    Role,
)
from annotator.selectors.projects import project_attribute_list
from annotator.selectors.qualification import qualification_sets_blocking, qualification_standing
from annotator.services import locks
from annotator.services.imports import scope_check
from annotator.stats.qualification import AnswerCheck, answer_check, attempt_passes
from annotator.text import check_text


class NotQualified(ApplicationError):
    """The work left for the annotator needs a qualification they have not passed (400: the request is refused
    for a reason the annotator can act on)."""

    code = ErrorCode.NOT_QUALIFIED


@dataclass(frozen=True)
class AnswerResult:
    """The stored answer, its check, and the attempt (finished when this was its last item)."""

    answer: QualificationAnswer
    check: AnswerCheck
    attempt: QualificationAttempt


def _project_flag_update(project: Project) -> None:
    required = QualificationSet.objects.filter(project=project).exists()
    Project.objects.filter(pk=project.pk).update(qualification_required=required)
    project.qualification_required = required


# --- sets (leads) ---------------------------------------------------------------------------------------------------


@transaction.atomic
def qualification_set_create(
    *,
    project: Project,
    name: str,
    domain: str = "",
    language: str = "",
    items: Sequence[tuple[int, str]],
    pass_mark: float | None = None,
    rating_tolerance: int | None = None,
    strength_tolerance: int | None = None,
    max_attempts: int | None = None,
    cooldown_minutes: int | None = None,
) -> QualificationSet:
    """A qualification set for the scope ``domain``/``language`` ("" = any) asking ``items``: (gold comparison id,
    explanation) pairs, in order. Settings left None take the model's defaults. From now on the scope's work
    reaches only annotators who pass it. Raises ValidationFailed naming the field."""
    errors: dict[str, str] = {}
    name = check_text(name, field="name").strip()
    if not name:
        errors["name"] = "Give the set a name."
    domain, language = scope_check(domain, field="domain"), scope_check(language, field="language")
    if QualificationSet.objects.filter(project=project, domain=domain, language=language).exists():
        errors["domain"] = "The project already has a qualification set for this domain and language."
    ids = [comparison_id for comparison_id, _ in items]
    if not ids:
        errors["items"] = "Add at least one gold comparison."
    elif len(set(ids)) != len(ids):
        errors["items"] = "A comparison appears twice."
    else:
        gold = set(Comparison.objects.filter(project=project, is_gold=True, pk__in=ids).values_list("pk", flat=True))
        missing = [i for i in ids if i not in gold]
        if missing:
            errors["items"] = f"Not gold comparisons of this project: {', '.join(map(str, missing))}."
    settings: dict[str, Any] = {
        k: v
        for k, v in {
            "pass_mark": pass_mark,
            "rating_tolerance": rating_tolerance,
            "strength_tolerance": strength_tolerance,
            "max_attempts": max_attempts,
            "cooldown_minutes": cooldown_minutes,
        }.items()
        if v is not None
    }
    if pass_mark is not None and not 0.0 < pass_mark <= 1.0:
        errors["pass_mark"] = "The pass mark is a share above 0 and at most 1."  # noqa: S105 - a message, not a secret
    if max_attempts is not None and max_attempts < 1:
        errors["max_attempts"] = "Allow at least one attempt."
    for field in ("rating_tolerance", "strength_tolerance", "cooldown_minutes"):
        if settings.get(field, 0) < 0:
            errors[field] = "A whole number, 0 or more."
    if errors:
        raise ValidationFailed(" ".join(errors.values()), extra={"fields": errors})
    qualification_set = QualificationSet.objects.create(
        project=project, name=name, domain=domain, language=language, **settings
    )
    QualificationItem.objects.bulk_create(
        QualificationItem(
            qualification_set=qualification_set,
            comparison_id=comparison_id,
            explanation=check_text(explanation, field="explanation"),
            position=position,
        )
        for position, (comparison_id, explanation) in enumerate(items)
    )
    _project_flag_update(project)
    return qualification_set


@transaction.atomic
def qualification_set_delete(*, qualification_set: QualificationSet) -> QualificationSet:
    """Remove the set, its items and attempts; its scope's work is open to every annotator again."""
    project = qualification_set.project
    qualification_set.delete()
    _project_flag_update(project)
    return qualification_set


# --- attempts (annotators) ------------------------------------------------------------------------------------------


def _lock_annotator(*, project: Project, annotator: User) -> None:
    """Lock the annotator's membership row (first in the lock order): one attempt starts at a time."""
    if not locks.membership_lock(project_id=project.pk, user_id=annotator.pk, role=Role.ANNOTATOR):
        raise PermissionDenied(f"You are not an annotator in project {project.slug}.")


@transaction.atomic
def qualification_attempt_start(
    *, qualification_set: QualificationSet, annotator: User, now: datetime | None = None
) -> QualificationAttempt:
    """The annotator's attempt in progress at the set, or a new one when the set allows it (Conflict with code
    ``qualification_unavailable`` and the reason otherwise: passed, no attempt left, cooling down)."""
    now = now or timezone.now()
    _lock_annotator(project=qualification_set.project, annotator=annotator)
    standing = qualification_standing(qualification_set=qualification_set, annotator=annotator, now=now)
    if standing.open_attempt is not None:
        return standing.open_attempt
    if not standing.can_start:
        extra = {"retry_at": standing.retry_at.isoformat()} if standing.retry_at else {}
        raise Conflict(standing.reason, code=ErrorCode.QUALIFICATION_UNAVAILABLE, extra=extra)
    return QualificationAttempt.objects.create(
        qualification_set=qualification_set,
        annotator=annotator,
        number=standing.attempts_used + 1,
        status=AttemptStatus.IN_PROGRESS,
        started_at=now,
    )


def _clean_answer(
    *, project: Project, item: QualificationItem, ratings: Mapping[str, Any], strength: object
) -> tuple[dict[str, dict[str, int]], int | None]:
    """The answer to what the item's gold answer checks: every expected rating and the strength, each on its
    scale (ValidationFailed naming ``r1.<attribute>``, ``r2.<attribute>``, ``preference_strength``)."""
    gold = item.comparison.gold_ratings or {}
    scales = {a.name: (a.scale_min, a.scale_max) for a in project_attribute_list(project=project)}
    errors: dict[str, str] = {}
    clean: dict[str, dict[str, int]] = {}
    for key in ("1", "2"):
        raw = ratings.get(key)
        given: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        for attribute in gold.get(key) or {}:
            value = given.get(attribute)
            low, high = scales.get(attribute, (0, 0))
            if type(value) is not int or not low <= value <= high:
                errors[f"r{key}.{attribute}"] = f"Rate {attribute} of Response {key} from {low} to {high}."
            else:
                clean.setdefault(key, {})[attribute] = value
    clean_strength: int | None = None
    if gold.get("strength") is not None:
        if not is_preference_strength(strength):
            errors["preference_strength"] = f"Choose the preference strength, {PREFERENCE_STRENGTH_TEXT}."
        else:
            clean_strength = strength  # type: ignore[assignment]
    if errors:
        raise ValidationFailed(" ".join(errors.values()), extra={"fields": errors})
    return clean, clean_strength


@transaction.atomic
def qualification_answer_submit(
    *,
    attempt: QualificationAttempt,
    annotator: User,
    item_id: int,
    ratings: Mapping[str, Any],
    preference_strength: object,
    now: datetime | None = None,
) -> AnswerResult:
    """Record the annotator's answer to one item of their attempt (response terms: ratings ``{"1": {...},
    "2": {...}}``, strength negative = response 1 better) and check it; the last item finishes the attempt with
    its score (passed when it reaches the set's pass mark). An item is answered once (Conflict)."""
    now = now or timezone.now()
    locked = (
        QualificationAttempt.objects.select_for_update().select_related("qualification_set__project").get(pk=attempt.pk)
    )
    if locked.annotator_id != annotator.pk:
        raise NotFound("No such qualification attempt.")
    if locked.status != AttemptStatus.IN_PROGRESS:
        raise Conflict("This attempt is finished.", code=ErrorCode.QUALIFICATION_UNAVAILABLE)
    qualification_set = locked.qualification_set
    item = (
        QualificationItem.objects.select_related("comparison")
        .filter(pk=item_id, qualification_set=qualification_set)
        .first()
    )
    if item is None:
        raise NotFound("No such item in this qualification set.")
    clean, strength = _clean_answer(
        project=qualification_set.project, item=item, ratings=ratings, strength=preference_strength
    )
    check = answer_check(
        gold=item.comparison.gold_ratings or {},
        ratings=clean,
        strength=strength,
        rating_tolerance=qualification_set.rating_tolerance,
        strength_tolerance=qualification_set.strength_tolerance,
    )
    try:
        with transaction.atomic():
            answer = QualificationAnswer.objects.create(
                attempt=locked, item=item, ratings=clean, preference_strength=strength, correct=check.correct
            )
    except IntegrityError:
        raise Conflict("You have already answered this item.", code=ErrorCode.ALREADY_SUBMITTED) from None
    total = qualification_set.items.count()
    answers = list(locked.answers.values_list("correct", flat=True))
    if len(answers) >= total:
        score, passed = attempt_passes(right=sum(answers), total=total, pass_mark=qualification_set.pass_mark)
        locked.score = score
        locked.status = AttemptStatus.PASSED if passed else AttemptStatus.FAILED
        locked.finished_at = now
        locked.save(update_fields=["score", "status", "finished_at"])
    return AnswerResult(answer=answer, check=check, attempt=locked)


def qualification_claim_refusal(*, project: Project, annotator: User) -> NotQualified | None:
    """Why a claim that found nothing found nothing, when the reason is a qualification: the error to raise
    (naming the sets to take), or None when nothing the annotator lacks holds work back."""
    if not project.qualification_required:
        return None
    blocking = qualification_sets_blocking(project=project, annotator=annotator)
    if not blocking:
        return None
    names = ", ".join(f"“{s.name}” ({s.scope_label})" for s in blocking)
    return NotQualified(
        f"The work left for you needs a qualification you have not passed: {names}. Take it on the qualification page.",
        extra={
            "qualification_sets": [
                {"id": s.pk, "name": s.name, "domain": s.domain, "language": s.language} for s in blocking
            ]
        },
    )

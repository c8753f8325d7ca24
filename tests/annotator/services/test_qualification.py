"""Annotator pools: qualification sets, attempts, and the claim that hands out only the work one is qualified for."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from annotator.error_codes import ErrorCode
from annotator.errors import Conflict, ValidationFailed
from annotator.models import Assignment, AttemptStatus, Project, QualificationAttempt
from annotator.services.assignments import assignment_claim_next
from annotator.services.projects import comparison_mark_gold
from annotator.services.qualification import (
    NotQualified,
    qualification_answer_submit,
    qualification_attempt_start,
    qualification_set_create,
    qualification_set_delete,
)
from tests.factories import ComparisonFactory, ProjectFactory, member

pytestmark = pytest.mark.django_db


def _gold(project: Project, strength: int, domain: str = "code") -> int:
    comparison = ComparisonFactory(project=project, prompt__domain=domain, prompt__language="python")
    comparison_mark_gold(comparison=comparison, gold_ratings={"strength": strength}, tolerance=1)
    return int(comparison.pk)


def _code_set(project: Project, **settings: object):
    items = [(_gold(project, -3), "Response 1 runs; 2 does not."), (_gold(project, 2), "Response 2 handles None.")]
    return qualification_set_create(project=project, name="Python code", domain="code", items=items, **settings)


def _answer_all(attempt, annotator, strengths: list[int]):
    result = None
    for item, strength in zip(attempt.qualification_set.items.order_by("position"), strengths, strict=True):
        result = qualification_answer_submit(
            attempt=attempt, annotator=annotator, item_id=item.pk, ratings={}, preference_strength=strength
        )
    assert result is not None
    return result


def test_a_set_makes_the_project_require_qualification_and_its_deletion_lifts_it() -> None:
    project = ProjectFactory()
    qualification_set = _code_set(project)
    project.refresh_from_db()
    assert project.qualification_required
    assert qualification_set.items.count() == 2
    qualification_set_delete(qualification_set=qualification_set)
    project.refresh_from_db()
    assert not project.qualification_required


def test_a_set_is_refused_for_items_that_are_not_gold_or_a_scope_that_has_one() -> None:
    project = ProjectFactory()
    plain = ComparisonFactory(project=project)
    with pytest.raises(ValidationFailed) as error:
        qualification_set_create(project=project, name="x", domain="code", items=[(plain.pk, "")])
    assert "items" in error.value.extra["fields"]
    _code_set(project)
    with pytest.raises(ValidationFailed) as error:
        qualification_set_create(project=project, name="y", domain="code", items=[(_gold(project, 1), "")])
    assert "domain" in error.value.extra["fields"]


def test_the_claim_hands_an_unqualified_annotator_only_work_outside_the_scope_then_refuses_with_the_reason() -> None:
    project = ProjectFactory(overlap=1)
    qualification_set = _code_set(project)
    general = ComparisonFactory(project=project, prompt__domain="general")
    code = ComparisonFactory(project=project, prompt__domain="code", prompt__language="sql")
    annotator = member(project)

    first = assignment_claim_next(project=project, annotator=annotator)
    assert first is not None and first.comparison_id == general.pk
    first.status = "submitted"
    first.save(update_fields=["status"])
    with pytest.raises(NotQualified) as refused:
        assignment_claim_next(project=project, annotator=annotator)
    assert refused.value.code == ErrorCode.NOT_QUALIFIED and refused.value.status == 400
    assert refused.value.extra["qualification_sets"] == [
        {"id": qualification_set.pk, "name": "Python code", "domain": "code", "language": ""}
    ]
    assert Assignment.objects.filter(annotator=annotator).count() == 1  # the refusal wrote nothing

    attempt = qualification_attempt_start(qualification_set=qualification_set, annotator=annotator)
    assert _answer_all(attempt, annotator, [-3, 2]).attempt.status == AttemptStatus.PASSED
    second = assignment_claim_next(project=project, annotator=annotator)
    # The qualification items themselves are never handed out as work.
    assert second is not None and second.comparison_id == code.pk
    assert assignment_claim_next(project=project, annotator=annotator) == second


def test_a_project_without_sets_claims_as_before_and_nothing_left_is_no_refusal() -> None:
    project = ProjectFactory(overlap=1)
    code = ComparisonFactory(project=project, prompt__domain="code")
    annotator = member(project)
    assert assignment_claim_next(project=project, annotator=annotator).comparison_id == code.pk  # type: ignore[union-attr]
    other = member(project)
    assert assignment_claim_next(project=project, annotator=other) is None


def test_a_language_scope_blocks_only_that_language() -> None:
    project = ProjectFactory(overlap=1)
    qualification_set_create(project=project, name="French", language="french", items=[(_gold(project, 1), "")])
    ComparisonFactory(project=project, prompt__domain="multilingual", prompt__language="french")
    german = ComparisonFactory(project=project, prompt__domain="multilingual", prompt__language="german")
    annotator = member(project)
    assert assignment_claim_next(project=project, annotator=annotator).comparison_id == german.pk  # type: ignore[union-attr]


def test_a_failed_attempt_shows_each_check_and_a_retry_waits_for_the_cooldown_up_to_the_attempts() -> None:
    project = ProjectFactory()
    qualification_set = _code_set(project, cooldown_minutes=30, max_attempts=2, pass_mark=1.0)
    annotator = member(project)
    start = timezone.now()
    attempt = qualification_attempt_start(qualification_set=qualification_set, annotator=annotator, now=start)
    assert qualification_attempt_start(qualification_set=qualification_set, annotator=annotator) == attempt
    items = list(qualification_set.items.order_by("position"))
    wrong = qualification_answer_submit(
        attempt=attempt, annotator=annotator, item_id=items[0].pk, ratings={}, preference_strength=3, now=start
    )
    assert not wrong.check.correct and wrong.check.misses == ("strength",)
    with pytest.raises(Conflict) as twice:
        qualification_answer_submit(
            attempt=attempt, annotator=annotator, item_id=items[0].pk, ratings={}, preference_strength=-3
        )
    assert twice.value.code == ErrorCode.ALREADY_SUBMITTED
    last = qualification_answer_submit(
        attempt=attempt, annotator=annotator, item_id=items[1].pk, ratings={}, preference_strength=2, now=start
    )
    assert (last.attempt.status, last.attempt.score) == (AttemptStatus.FAILED, 0.5)

    with pytest.raises(Conflict) as cooling:
        qualification_attempt_start(qualification_set=qualification_set, annotator=annotator, now=start)
    assert cooling.value.code == ErrorCode.QUALIFICATION_UNAVAILABLE and "retry_at" in cooling.value.extra
    later = start + timedelta(minutes=31)
    retry = qualification_attempt_start(qualification_set=qualification_set, annotator=annotator, now=later)
    assert retry.number == 2
    assert _answer_all(retry, annotator, [3, 3]).attempt.status == AttemptStatus.FAILED
    with pytest.raises(Conflict, match="all 2 attempts"):
        qualification_attempt_start(
            qualification_set=qualification_set, annotator=annotator, now=later + timedelta(hours=2)
        )
    assert QualificationAttempt.objects.filter(annotator=annotator).count() == 2


def test_an_answer_missing_what_the_gold_checks_is_refused_and_stores_nothing() -> None:
    project = ProjectFactory()
    qualification_set = _code_set(project)
    annotator = member(project)
    attempt = qualification_attempt_start(qualification_set=qualification_set, annotator=annotator)
    item = qualification_set.items.first()
    with pytest.raises(ValidationFailed) as error:
        qualification_answer_submit(
            attempt=attempt, annotator=annotator, item_id=item.pk, ratings={}, preference_strength=None
        )
    assert "preference_strength" in error.value.extra["fields"]
    assert not attempt.answers.exists()

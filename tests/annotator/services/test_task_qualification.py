"""The task types' claim keeps the qualification rule of the comparison claim: work of a scope the annotator has not
qualified for is held back, the refusal names the set, and passing it opens that scope's units."""

from __future__ import annotations

import pytest

from annotator.error_codes import ErrorCode
from annotator.models import AttemptStatus, Project, TaskAssignment, TaskType
from annotator.services.projects import comparison_mark_gold
from annotator.services.qualification import (
    NotQualified,
    qualification_answer_submit,
    qualification_attempt_start,
    qualification_set_create,
)
from annotator.services.task_units import task_claim_next
from tests.factories import ComparisonFactory, ProjectFactory, TaskUnitFactory, member

pytestmark = pytest.mark.django_db


def _gold(project: Project, strength: int) -> int:
    comparison = ComparisonFactory(project=project, prompt__domain="code", prompt__language="python")
    comparison_mark_gold(comparison=comparison, gold_ratings={"strength": strength}, tolerance=1)
    return int(comparison.pk)


def test_a_feedback_claim_holds_back_an_unqualified_scope_and_opens_it_once_passed() -> None:
    project = ProjectFactory(task_type=TaskType.FEEDBACK, overlap=1)
    qualification_set = qualification_set_create(
        project=project, name="Python code", domain="code", items=[(_gold(project, -3), "Response 1 runs.")]
    )
    project.refresh_from_db()
    general = TaskUnitFactory(project=project, prompt__domain="general")
    code = TaskUnitFactory(project=project, prompt__domain="code", prompt__language="sql")
    annotator = member(project)

    first = task_claim_next(project=project, annotator=annotator)
    assert first is not None and first.unit_id == general.pk
    TaskAssignment.objects.filter(pk=first.pk).update(status="submitted")
    with pytest.raises(NotQualified) as refused:
        task_claim_next(project=project, annotator=annotator)
    assert refused.value.code == ErrorCode.NOT_QUALIFIED
    assert [s["id"] for s in refused.value.extra["qualification_sets"]] == [qualification_set.pk]
    assert TaskAssignment.objects.filter(annotator=annotator).count() == 1  # the refusal wrote nothing

    attempt = qualification_attempt_start(qualification_set=qualification_set, annotator=annotator)
    item = attempt.qualification_set.items.get()
    result = qualification_answer_submit(
        attempt=attempt, annotator=annotator, item_id=item.pk, ratings={}, preference_strength=-3
    )
    assert result.attempt.status == AttemptStatus.PASSED
    second = task_claim_next(project=project, annotator=annotator)
    assert second is not None and second.unit_id == code.pk


def test_a_task_project_without_sets_claims_as_before() -> None:
    project = ProjectFactory(task_type=TaskType.FEEDBACK, overlap=1)
    unit = TaskUnitFactory(project=project, prompt__domain="code")
    annotator = member(project)
    claimed = task_claim_next(project=project, annotator=annotator)
    assert claimed is not None and claimed.unit_id == unit.pk

"""Feedback tasks: claim through the shared machinery, submit with the project's rules, skip, draft."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from annotator.error_codes import ErrorCode
from annotator.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from annotator.models import AssignmentStatus, Role, TaskAssignment, TaskResult, TaskType, TaskUnit
from annotator.selectors.task_units import task_assignment_get_for_annotator
from annotator.services.feedback import feedback_submit
from annotator.services.task_units import task_claim_next, task_draft_save, task_skip
from tests.factories import ProjectFactory, TaskUnitFactory, good_feedback, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def project():
    return ProjectFactory(task_type=TaskType.FEEDBACK, overlap=2)


def test_claim_reserves_the_unit_closest_to_completion_and_counts_its_slot(project) -> None:
    first, second = TaskUnitFactory(project=project), TaskUnitFactory(project=project)
    a, b = member(project), member(project)
    taken = task_claim_next(project=project, annotator=a)
    assert taken is not None and taken.unit_id == first.pk and taken.status == AssignmentStatus.RESERVED
    first.refresh_from_db()
    assert first.slots_taken == 1
    # b gets the unit one slot from completion; then nobody gets a third slot of it.
    assert task_claim_next(project=project, annotator=b).unit_id == first.pk
    c = member(project)
    assert task_claim_next(project=project, annotator=c).unit_id == second.pk


def test_claim_returns_the_unfinished_assignment_first_and_none_when_nothing_is_left(project) -> None:
    TaskUnitFactory(project=project)
    a = member(project)
    taken = task_claim_next(project=project, annotator=a)
    assert task_claim_next(project=project, annotator=a).pk == taken.pk
    feedback_submit(assignment=taken, annotator=a, feedback_1=good_feedback(), feedback_2=good_feedback("not"))
    assert task_claim_next(project=project, annotator=a) is None


def test_an_expired_reservation_is_reclaimed_by_another_annotator(project) -> None:
    project.overlap = 1
    project.save()
    unit = TaskUnitFactory(project=project)
    a, b = member(project), member(project)
    old = task_claim_next(project=project, annotator=a, now=timezone.now() - timedelta(hours=2))
    taken = task_claim_next(project=project, annotator=b)
    assert taken is not None and taken.unit_id == unit.pk
    old.refresh_from_db()
    assert old.status == AssignmentStatus.EXPIRED
    with pytest.raises(Conflict) as refused:
        feedback_submit(assignment=old, annotator=a, feedback_1=good_feedback(), feedback_2=good_feedback())
    assert refused.value.code == ErrorCode.RESERVATION_EXPIRED


def test_non_annotators_and_comparison_projects_are_refused(project) -> None:
    TaskUnitFactory(project=project)
    with pytest.raises(PermissionDenied):
        task_claim_next(project=project, annotator=member(project, Role.LEAD))
    comparisons = ProjectFactory()
    with pytest.raises(Conflict) as refused:
        task_claim_next(project=comparisons, annotator=member(comparisons))
    assert refused.value.code == ErrorCode.TASK_TYPE_MISMATCH


def test_submit_stores_both_feedbacks_with_their_opening_levels(project) -> None:
    TaskUnitFactory(project=project)
    a = member(project)
    taken = task_claim_next(project=project, annotator=a)
    result = feedback_submit(
        assignment=taken,
        annotator=a,
        feedback_1=good_feedback("perfectly"),
        feedback_2="  " + good_feedback("slightly") + "\n",
        flags=["pii"],
        time_on_task_seconds=42.5,
    )
    result.refresh_from_db()
    assert (result.helpfulness_1, result.helpfulness_2) == (4, 1)
    assert result.feedback_2 == good_feedback("slightly")
    assert result.flags == ["pii"] and result.time_on_task_seconds == 42.5
    taken.refresh_from_db()
    assert taken.status == AssignmentStatus.SUBMITTED
    with pytest.raises(Conflict) as again:
        feedback_submit(assignment=taken, annotator=a, feedback_1=good_feedback(), feedback_2=good_feedback())
    assert again.value.code == ErrorCode.ALREADY_SUBMITTED


def test_a_feedback_that_breaks_the_rules_is_refused_with_the_reason_and_nothing_written(project) -> None:
    TaskUnitFactory(project=project)
    a = member(project)
    taken = task_claim_next(project=project, annotator=a)
    with pytest.raises(ValidationFailed) as refused:
        feedback_submit(assignment=taken, annotator=a, feedback_1="Looks good to me.", feedback_2=good_feedback())
    assert refused.value.code == ErrorCode.FEEDBACK_RULES_BROKEN
    assert set(refused.value.extra["fields"]) == {"feedback_1"}
    assert (
        "Begin with “The response is not / slightly / partially / mostly / perfectly helpful”" in refused.value.message
    )
    assert TaskResult.objects.count() == 0
    taken.refresh_from_db()
    assert taken.status == AssignmentStatus.RESERVED


def test_project_settings_change_the_rules(project) -> None:
    project.feedback_min_words, project.feedback_min_sentences = 5, 1
    project.save()
    TaskUnitFactory(project=project)
    a = member(project)
    taken = task_claim_next(project=project, annotator=a)
    short = "The response is mostly helpful, if brief."
    result = feedback_submit(assignment=taken, annotator=a, feedback_1=short, feedback_2=short)
    assert result.helpfulness_1 == 3


def test_another_annotators_assignment_is_not_found(project) -> None:
    TaskUnitFactory(project=project)
    a, b = member(project), member(project)
    taken = task_claim_next(project=project, annotator=a)
    with pytest.raises(NotFound):
        feedback_submit(assignment=taken, annotator=b, feedback_1=good_feedback(), feedback_2=good_feedback())


def test_skip_frees_the_slot_and_a_draft_keeps_only_the_forms_fields(project) -> None:
    unit = TaskUnitFactory(project=project)
    a = member(project)
    taken = task_claim_next(project=project, annotator=a)
    saved = task_draft_save(
        assignment=taken,
        annotator=a,
        draft={"feedback_1": "The response is", "ratings": {"x": 1}, "flags": ["pii", "?"]},
    )
    assert saved.draft == {"feedback_1": "The response is", "flags": ["pii"]}
    with pytest.raises(ValidationFailed):
        task_skip(assignment=taken, annotator=a, reason="other")
    task_skip(assignment=taken, annotator=a, reason="not_ratable")
    unit.refresh_from_db()
    assert unit.slots_taken == 0
    assert TaskAssignment.objects.get(pk=taken.pk).status == AssignmentStatus.SKIPPED
    assert task_claim_next(project=project, annotator=a) is None  # never the same unit twice


def test_slots_taken_follows_every_writer(project) -> None:
    unit = TaskUnitFactory(project=project)
    a = member(project)
    assignment = TaskAssignment.objects.create(unit=unit, annotator=a)
    assert TaskUnit.objects.get(pk=unit.pk).slots_taken == 1
    TaskAssignment.objects.filter(pk=assignment.pk).update(status=AssignmentStatus.EXPIRED)
    assert TaskUnit.objects.get(pk=unit.pk).slots_taken == 0
    TaskAssignment.objects.filter(pk=assignment.pk).update(status=AssignmentStatus.RETURNED)
    assert TaskUnit.objects.get(pk=unit.pk).slots_taken == 1
    assignment.delete()
    assert TaskUnit.objects.get(pk=unit.pk).slots_taken == 0


def test_claim_and_submit_are_a_handful_of_queries(project, django_assert_max_num_queries) -> None:
    for unit in TaskUnitFactory.create_batch(30, project=project)[:10]:
        TaskAssignment.objects.create(unit=unit, annotator=member(project), status=AssignmentStatus.SUBMITTED)
    annotator = member(project)
    # membership lock, own assignment, expired reservation to reclaim, candidate, insert (+ savepoint and release
    # inside the test's transaction): as many as the comparison's claim
    with django_assert_max_num_queries(7):
        taken = task_claim_next(project=project, annotator=annotator)
    with django_assert_max_num_queries(4):
        assert task_claim_next(project=project, annotator=annotator).pk == taken.pk
    # As the page and the API do: the assignment with its unit and project (one query), then the unit's lock, the
    # conditional status update, the insert (+ savepoint and release)
    with django_assert_max_num_queries(6):
        mine = task_assignment_get_for_annotator(assignment_id=taken.pk, user=annotator)
        feedback_submit(assignment=mine, annotator=annotator, feedback_1=good_feedback(), feedback_2=good_feedback())

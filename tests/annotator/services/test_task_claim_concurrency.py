"""Concurrent claims of feedback, edit and edit-quality tasks on PostgreSQL: never more annotators than the overlap, no result
lost, no edit by a feedback writer, and the slot counter equal to a recount."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import pytest
from django.db import connection, connections

from annotator.models import SLOT_STATUSES, AssignmentStatus, TaskAssignment, TaskResult, TaskType, TaskUnit
from annotator.services.edit_quality import edit_choice_submit
from annotator.services.edits import edit_submit
from annotator.services.feedback import feedback_submit
from annotator.services.task_units import task_claim_next
from tests.factories import ProjectFactory, TaskUnitFactory, good_feedback, member

pytestmark = pytest.mark.django_db(transaction=True)


def _run(users: list, project, submit: Callable) -> list[int]:
    submitted: list[int] = []
    failures: list[BaseException] = []
    barrier = threading.Barrier(len(users))

    def work(user) -> None:
        try:
            barrier.wait()
            while (a := task_claim_next(project=project, annotator=user)) is not None:
                submitted.append(submit(a, user).pk)
        except BaseException as exc:
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not failures, failures
    return submitted


def _recount(project) -> None:
    for unit in TaskUnit.objects.filter(project=project):
        held = TaskAssignment.objects.filter(unit=unit, status__in=SLOT_STATUSES).count()
        assert unit.slots_taken == held


def test_concurrent_feedback_edit_and_edit_quality_claims_keep_every_rule() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrency is exercised on PostgreSQL (SQLite serialises every writer by design)")
    feedback_project = ProjectFactory(task_type=TaskType.FEEDBACK, overlap=3)
    TaskUnitFactory.create_batch(10, project=feedback_project)
    writers = [member(feedback_project) for _ in range(8)]
    done = _run(
        writers, feedback_project,
        lambda a, u: feedback_submit(assignment=a, annotator=u, feedback_1=good_feedback(), feedback_2=good_feedback()),
    )  # fmt: skip
    assert len(done) == 30
    per_unit = Counter(TaskResult.objects.filter(unit__project=feedback_project).values_list("unit_id", flat=True))
    assert set(per_unit.values()) == {3}
    _recount(feedback_project)

    # Edit units of the same responses: the eight writers are also editors, with four editors who wrote nothing.
    edit_project = ProjectFactory(task_type=TaskType.EDIT, overlap=1)
    for unit in TaskUnit.objects.filter(project=feedback_project):
        TaskUnitFactory(
            project=edit_project, prompt=unit.prompt, response_1=unit.response_1, response_2=None,
            feedback=[good_feedback()], feedback_unit=unit,
        )  # fmt: skip
    for writer in writers:
        edit_project.memberships.create(user=writer, role="annotator")
    editors = [*writers, *(member(edit_project) for _ in range(4))]
    edits = _run(
        editors, edit_project,
        lambda a, u: edit_submit(assignment=a, annotator=u, text=f"Edited by {u.pk}.", change_summary="Edited."),
    )  # fmt: skip
    assert len(edits) == 10
    for result in TaskResult.objects.filter(unit__project=edit_project).select_related("unit"):
        wrote = TaskAssignment.objects.filter(unit_id=result.unit.feedback_unit_id, annotator_id=result.annotator_id)
        assert not wrote.exists()
    assert not TaskAssignment.objects.filter(unit__project=edit_project, status=AssignmentStatus.RESERVED).exists()
    _recount(edit_project)

    # Edit-quality units over the edits: overlap 2, never judged by one who wrote an edit or the feedback.
    quality = ProjectFactory(task_type=TaskType.EDIT_QUALITY, overlap=2)
    for unit in TaskUnit.objects.filter(project=edit_project):
        TaskUnitFactory(
            project=quality, prompt=unit.prompt, response_1=unit.response_1, response_2=None, feedback=unit.feedback,
            edit_1="good", edit_2="bad", feedback_unit=unit.feedback_unit, edit_unit=unit,
        )  # fmt: skip
    for editor in editors:
        quality.memberships.create(user=editor, role="annotator")
    judges = [*editors, *(member(quality) for _ in range(3))]
    choices = _run(judges, quality, lambda a, u: edit_choice_submit(assignment=a, annotator=u, choice=1))
    assert len(choices) == 20
    for result in TaskResult.objects.filter(unit__project=quality).select_related("unit"):
        authors = TaskAssignment.objects.filter(
            unit_id__in=(result.unit.edit_unit_id, result.unit.feedback_unit_id), annotator_id=result.annotator_id
        )
        assert not authors.exists()
    _recount(quality)

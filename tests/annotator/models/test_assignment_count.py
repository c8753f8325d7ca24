"""Comparison.assignment_count follows every insert and delete of assignments (database triggers, migration 0008).

If a migration ever rebuilds annotator_assignment on SQLite (and so drops its triggers), these tests fail until the
migration recreates them.
"""

from __future__ import annotations

import pytest
from django.db.models import Count

from annotator.models import Assignment, AssignmentStatus, Comparison, Project
from annotator.services.assignments import assignment_claim_next, assignment_skip
from tests.factories import ComparisonFactory, ProjectFactory, member

pytestmark = pytest.mark.django_db


def _assert_counts_right(project: Project) -> dict[int, int]:
    rows = Comparison.objects.filter(project=project).annotate(counted=Count("assignments"))
    assert {c.pk: c.assignment_count for c in rows} == {c.pk: c.counted for c in rows}
    return {c.pk: c.assignment_count for c in rows}


def test_claims_skips_bulk_inserts_and_deletes_keep_the_count() -> None:
    project = ProjectFactory(overlap=2)
    second = ComparisonFactory.create_batch(3, project=project)[1]
    annotator = member(project)
    claimed = assignment_claim_next(project=project, annotator=annotator)
    assert claimed is not None
    assignment_skip(assignment=claimed, annotator=annotator, reason="needs_expertise")  # a status change: no move
    Assignment.objects.bulk_create(
        [Assignment(comparison=second, annotator=member(project), status=AssignmentStatus.SUBMITTED) for _ in range(3)]
    )
    counts = _assert_counts_right(project)
    assert counts[second.pk] == 3 and counts[claimed.comparison_id] >= 1
    Assignment.objects.filter(comparison=second).delete()
    assert _assert_counts_right(project)[second.pk] == 0


def test_saving_a_comparison_never_writes_back_a_stale_count() -> None:
    project = ProjectFactory()
    comparison = ComparisonFactory(project=project)
    stale = Comparison.objects.get(pk=comparison.pk)
    Assignment.objects.create(comparison=comparison, annotator=member(project))
    stale.is_gold = True
    stale.save()
    assert Comparison.objects.get(pk=comparison.pk).assignment_count == 1

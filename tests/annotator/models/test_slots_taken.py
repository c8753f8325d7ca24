"""Comparison.slots_taken follows every write to assignments (database triggers, migration 0003).

Each test compares the column with a count of the assignments holding a slot, after the services and after raw
writes that bypass them. If a migration ever rebuilds annotator_assignment on SQLite (and so drops its triggers),
these tests fail until the migration recreates them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db.models import Count, Q
from django.utils import timezone

from annotator.models import SLOT_STATUSES, Assignment, AssignmentStatus, Comparison, Project
from annotator.services.assignments import annotation_submit, assignment_claim_next, assignment_skip
from annotator.services.reviews import review_decide
from tests.factories import ComparisonFactory, ProjectFactory, member

pytestmark = pytest.mark.django_db

JUSTIFICATION = "@Response 1 is clearer than @Response 2."


def _assert_counts_right(project: Project) -> dict[int, int]:
    """Every comparison's slots_taken equals its assignments holding a slot; returns {comparison id: slots}."""
    rows = Comparison.objects.filter(project=project).annotate(
        counted=Count("assignments", filter=Q(assignments__status__in=SLOT_STATUSES))
    )
    assert {c.pk: c.slots_taken for c in rows} == {c.pk: c.counted for c in rows}
    return {c.pk: c.slots_taken for c in rows}


def _submit(assignment: Assignment, annotator: Any, helpfulness: tuple[int, int] = (3, 3), **kw: Any) -> None:
    names = list(assignment.comparison.project.attributes.values_list("name", flat=True))
    left = dict.fromkeys(names, 2) | {"helpfulness": helpfulness[0]}
    right = dict.fromkeys(names, 2) | {"helpfulness": helpfulness[1]}
    annotation_submit(
        assignment=assignment, annotator=annotator, ratings_shown={"left": left, "right": right},
        preference_strength=0, justification=JUSTIFICATION, **kw,
    )  # fmt: skip


def test_claim_takes_a_slot_and_submit_keeps_it() -> None:
    project = ProjectFactory(overlap=2)
    comparison = ComparisonFactory(project=project)
    annotator = member(project)
    a = assignment_claim_next(project=project, annotator=annotator)
    assert a is not None
    assert _assert_counts_right(project) == {comparison.pk: 1}
    _submit(a, annotator)
    assert _assert_counts_right(project) == {comparison.pk: 1}


def test_skip_frees_the_slot() -> None:
    project = ProjectFactory(overlap=1)
    comparison = ComparisonFactory(project=project)
    annotator = member(project)
    a = assignment_claim_next(project=project, annotator=annotator)
    assert a is not None
    assignment_skip(assignment=a, annotator=annotator, reason="not_ratable")
    assert _assert_counts_right(project) == {comparison.pk: 0}
    b = assignment_claim_next(project=project, annotator=member(project))
    assert b is not None
    assert b.comparison_id == comparison.pk


def test_an_expired_reservation_keeps_its_slot_until_reclaimed() -> None:
    project = ProjectFactory(overlap=1, reservation_minutes=30)
    comparison = ComparisonFactory(project=project)
    slow, fast = member(project), member(project)
    t0 = timezone.now()
    a = assignment_claim_next(project=project, annotator=slow, now=t0)
    assert a is not None
    assert _assert_counts_right(project) == {comparison.pk: 1}
    b = assignment_claim_next(project=project, annotator=fast, now=t0 + timedelta(minutes=31))
    assert b is not None
    a.refresh_from_db()
    assert a.status == AssignmentStatus.EXPIRED
    # The reclaim freed one slot and the new reservation took it.
    assert _assert_counts_right(project) == {comparison.pk: 1}


def test_a_renewed_reservation_is_counted_once() -> None:
    project = ProjectFactory(overlap=1, reservation_minutes=30)
    comparison = ComparisonFactory(project=project)
    annotator = member(project)
    t0 = timezone.now()
    assert assignment_claim_next(project=project, annotator=annotator, now=t0) is not None
    assert assignment_claim_next(project=project, annotator=annotator, now=t0 + timedelta(hours=2)) is not None
    assert _assert_counts_right(project) == {comparison.pk: 1}


def test_adaptive_overlap_opens_slots_and_the_count_fills_them() -> None:
    project = ProjectFactory(overlap=3, adaptive_overlap_threshold=2, adaptive_overlap_extra=2)
    comparison = ComparisonFactory(project=project)
    people = [member(project) for _ in range(6)]
    for person, h in zip(people[:3], (0, 2, 4), strict=True):
        a = assignment_claim_next(project=project, annotator=person)
        assert a is not None
        _submit(a, person, helpfulness=(h, h))
    comparison.refresh_from_db()
    assert comparison.extra_annotators == 2
    got = [assignment_claim_next(project=project, annotator=p) for p in people[3:]]
    assert [g is not None for g in got] == [True, True, False]
    assert _assert_counts_right(project) == {comparison.pk: 5}


def test_rejection_and_resubmission_keep_the_slot() -> None:
    project = ProjectFactory(overlap=1)
    comparison = ComparisonFactory(project=project)
    annotator, lead = member(project), member(project, role="lead")
    a = assignment_claim_next(project=project, annotator=annotator)
    assert a is not None
    _submit(a, annotator)
    annotation = a.annotations.get()
    review_decide(annotation=annotation, reviewer=lead, decision="reject", reason="Check the ratings again.")
    a.refresh_from_db()
    assert a.status == AssignmentStatus.RETURNED
    assert _assert_counts_right(project) == {comparison.pk: 1}
    assert assignment_claim_next(project=project, annotator=member(project)) is None  # still taken
    _submit(a, annotator)
    assert _assert_counts_right(project) == {comparison.pk: 1}


def test_writes_that_bypass_the_services_are_counted_too() -> None:
    project = ProjectFactory(overlap=3)
    c1, c2 = ComparisonFactory(project=project), ComparisonFactory(project=project)
    people = [member(project) for _ in range(4)]
    Assignment.objects.bulk_create(
        [
            Assignment(comparison=c1, annotator=people[0], status=AssignmentStatus.SUBMITTED),
            Assignment(comparison=c1, annotator=people[1], status=AssignmentStatus.SKIPPED),
            Assignment(comparison=c1, annotator=people[2], status=AssignmentStatus.RESERVED),
            Assignment(comparison=c2, annotator=people[3], status=AssignmentStatus.RETURNED),
        ]
    )
    assert _assert_counts_right(project) == {c1.pk: 2, c2.pk: 1}
    Assignment.objects.filter(comparison=c1, status=AssignmentStatus.RESERVED).update(status=AssignmentStatus.EXPIRED)
    Assignment.objects.filter(comparison=c1, status=AssignmentStatus.SKIPPED).update(status=AssignmentStatus.SUBMITTED)
    assert _assert_counts_right(project) == {c1.pk: 2, c2.pk: 1}
    Assignment.objects.filter(comparison=c2).update(comparison=c1)
    assert _assert_counts_right(project) == {c1.pk: 3, c2.pk: 0}
    Assignment.objects.filter(annotator=people[0]).delete()
    assert _assert_counts_right(project) == {c1.pk: 2, c2.pk: 0}


def test_a_full_comparison_is_no_candidate_whatever_wrote_its_assignments() -> None:
    project = ProjectFactory(overlap=1)
    full, open_ = ComparisonFactory(project=project), ComparisonFactory(project=project)
    Assignment.objects.create(comparison=full, annotator=member(project), status=AssignmentStatus.SUBMITTED)
    a = assignment_claim_next(project=project, annotator=member(project))
    assert a is not None
    assert a.comparison_id == open_.pk


def test_saving_a_stale_comparison_does_not_write_its_counter_back() -> None:
    project = ProjectFactory(overlap=2)
    comparison = ComparisonFactory(project=project)
    stale = Comparison.objects.get(pk=comparison.pk)  # read before anyone claims: slots_taken == 0
    annotator = member(project)
    assert assignment_claim_next(project=project, annotator=annotator) is not None
    stale.is_gold = True
    stale.save()  # e.g. an admin edit of a comparison loaded a while ago
    fresh = Comparison.objects.get(pk=comparison.pk)
    assert fresh.is_gold
    assert _assert_counts_right(project) == {comparison.pk: 1}


def test_an_import_with_annotations_counts_their_slots() -> None:
    """Imports write assignments in bulk (COPY on PostgreSQL, executemany on SQLite): the triggers still count."""
    from pathlib import Path

    from annotator.services.imports import comparisons_import

    project = ProjectFactory()
    fixture = Path(__file__).parents[2] / "fixtures" / "formats" / "helpsteer2_disagreements.jsonl"
    result = comparisons_import(project=project, source=str(fixture), fmt="helpsteer2-disagreements")
    assert result.annotations + result.skipped_as_not_ratable > 0
    slots = _assert_counts_right(project)
    assert sum(slots.values()) > 0  # the imported annotations hold slots, counted as any others

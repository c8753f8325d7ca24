from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from annotator.errors import PermissionDenied
from annotator.models import Annotation, Assignment, AssignmentStatus, Comparison, Role
from annotator.services.assignments import annotation_submit, assignment_claim_next, assignment_skip
from tests.factories import ComparisonFactory, ProjectFactory, member

pytestmark = pytest.mark.django_db

JUSTIFICATION = "@Response 1 is clearer than @Response 2."


def _submit(assignment: Assignment, annotator, helpfulness: tuple[int, int] = (3, 3), strength: int = -1) -> None:
    names = list(assignment.comparison.project.attributes.values_list("name", flat=True))
    left = dict.fromkeys(names, 2) | {"helpfulness": helpfulness[0]}
    right = dict.fromkeys(names, 2) | {"helpfulness": helpfulness[1]}
    annotation_submit(
        assignment=assignment, annotator=annotator, ratings_shown={"left": left, "right": right},
        preference_strength=strength, justification=JUSTIFICATION,
    )  # fmt: skip


def test_claim_reserves_a_comparison_for_the_reservation_time() -> None:
    project = ProjectFactory(reservation_minutes=30)
    comparison = ComparisonFactory(project=project)
    annotator = member(project)
    now = timezone.now()
    a = assignment_claim_next(project=project, annotator=annotator, now=now)
    assert a is not None
    assert a.comparison == comparison
    assert a.status == AssignmentStatus.RESERVED
    assert a.reserved_until == now + timedelta(minutes=30)


def test_claim_returns_the_unfinished_reservation_instead_of_new_work() -> None:
    project = ProjectFactory()
    ComparisonFactory.create_batch(3, project=project)
    annotator = member(project)
    first = assignment_claim_next(project=project, annotator=annotator)
    again = assignment_claim_next(project=project, annotator=annotator)
    assert again == first
    assert Assignment.objects.filter(annotator=annotator).count() == 1


def test_claim_prefers_comparisons_closest_to_completion() -> None:
    project = ProjectFactory(overlap=3)
    fresh, half = ComparisonFactory(project=project), ComparisonFactory(project=project)
    for _ in range(2):
        other = member(project)
        Assignment.objects.create(comparison=half, annotator=other, status=AssignmentStatus.SUBMITTED)
    a = assignment_claim_next(project=project, annotator=member(project))
    assert a is not None
    assert a.comparison == half
    b = assignment_claim_next(project=project, annotator=member(project))
    assert b is not None
    assert b.comparison == fresh


def test_claim_never_hands_the_same_comparison_twice_to_one_annotator() -> None:
    project = ProjectFactory(overlap=3)
    comparison = ComparisonFactory(project=project)
    annotator = member(project)
    a = assignment_claim_next(project=project, annotator=annotator)
    assert a is not None
    assignment_skip(assignment=a, annotator=annotator, reason="not_ratable")
    assert assignment_claim_next(project=project, annotator=annotator) is None
    assert comparison.assignments.count() == 1


def test_claim_stops_at_the_overlap() -> None:
    project = ProjectFactory(overlap=2)
    ComparisonFactory(project=project)
    got = [assignment_claim_next(project=project, annotator=member(project)) for _ in range(3)]
    assert [g is not None for g in got] == [True, True, False]


def test_expired_reservations_are_reclaimed_by_others() -> None:
    project = ProjectFactory(overlap=1, reservation_minutes=30)
    comparison = ComparisonFactory(project=project)
    slow, fast = member(project), member(project)
    t0 = timezone.now()
    a = assignment_claim_next(project=project, annotator=slow, now=t0)
    assert a is not None
    assert assignment_claim_next(project=project, annotator=fast, now=t0 + timedelta(minutes=29)) is None
    b = assignment_claim_next(project=project, annotator=fast, now=t0 + timedelta(minutes=31))
    assert b is not None
    assert b.comparison == comparison
    # The slow annotator comes back: their slot is gone, they get nothing and their reservation is marked expired.
    assert assignment_claim_next(project=project, annotator=slow, now=t0 + timedelta(minutes=32)) is None
    a.refresh_from_db()
    assert a.status == AssignmentStatus.EXPIRED


def test_an_expired_reservation_is_reclaimed_before_fresh_work_but_never_by_someone_who_had_it() -> None:
    project = ProjectFactory(overlap=2, reservation_minutes=30)
    started = ComparisonFactory(project=project)
    first, slow, late = member(project), member(project), member(project)
    t0 = timezone.now()
    a = assignment_claim_next(project=project, annotator=first, now=t0)
    assert a is not None
    assert a.comparison == started
    _submit(a, first)
    held = assignment_claim_next(project=project, annotator=slow, now=t0)
    assert held is not None
    assert held.comparison == started
    fresh = ComparisonFactory(project=project)
    later = t0 + timedelta(minutes=31)
    # The first annotator had the started comparison: fresh work for them, and the expired reservation stays.
    b = assignment_claim_next(project=project, annotator=first, now=later)
    assert b is not None
    assert b.comparison == fresh
    held.refresh_from_db()
    assert held.status == AssignmentStatus.RESERVED
    # Someone new takes the expired slot before the fresh comparison.
    c = assignment_claim_next(project=project, annotator=late, now=later)
    assert c is not None
    assert c.comparison == started
    held.refresh_from_db()
    assert held.status == AssignmentStatus.EXPIRED


def test_an_expired_reservation_whose_slot_is_free_is_renewed_with_its_draft() -> None:
    project = ProjectFactory(overlap=1, reservation_minutes=30)
    ComparisonFactory(project=project)
    annotator = member(project)
    t0 = timezone.now()
    a = assignment_claim_next(project=project, annotator=annotator, now=t0)
    assert a is not None
    Assignment.objects.filter(pk=a.pk).update(draft={"justification": "half-written"})
    later = t0 + timedelta(hours=2)
    again = assignment_claim_next(project=project, annotator=annotator, now=later)
    assert again is not None
    assert again.pk == a.pk
    assert again.reserved_until == later + timedelta(minutes=30)
    assert again.draft == {"justification": "half-written"}


def test_returned_assignments_come_before_new_work() -> None:
    project = ProjectFactory()
    c1, _c2 = ComparisonFactory(project=project), ComparisonFactory(project=project)
    annotator = member(project)
    returned = Assignment.objects.create(
        comparison=c1, annotator=annotator, status=AssignmentStatus.RETURNED, review_note="Rate correctness again."
    )
    assert assignment_claim_next(project=project, annotator=annotator) == returned


def test_returned_assignments_hold_their_slot() -> None:
    project = ProjectFactory(overlap=1)
    c = ComparisonFactory(project=project)
    Assignment.objects.create(comparison=c, annotator=member(project), status=AssignmentStatus.RETURNED)
    assert assignment_claim_next(project=project, annotator=member(project)) is None


def test_gold_comparisons_are_ordinary_candidates() -> None:
    project = ProjectFactory()
    gold = ComparisonFactory(project=project, is_gold=True, gold_ratings={"1": {"helpfulness": 4}})
    a = assignment_claim_next(project=project, annotator=member(project))
    assert a is not None
    assert a.comparison == gold


def test_claim_is_refused_to_non_annotators() -> None:
    project = ProjectFactory()
    ComparisonFactory(project=project)
    lead = member(project, role=Role.LEAD)
    with pytest.raises(PermissionDenied):
        assignment_claim_next(project=project, annotator=lead)
    outsider = member(ProjectFactory())
    with pytest.raises(PermissionDenied):
        assignment_claim_next(project=project, annotator=outsider)
    assert not Assignment.objects.exists()


def test_the_displayed_order_is_randomised_per_assignment() -> None:
    project = ProjectFactory(overlap=1)
    ComparisonFactory.create_batch(40, project=project)
    annotator = member(project)
    swapped = []
    for _ in range(40):
        a = assignment_claim_next(project=project, annotator=annotator)
        assert a is not None
        swapped.append(a.swapped)
        assignment_skip(assignment=a, annotator=annotator, reason="not_ratable")
    assert 5 < sum(swapped) < 35  # P(fail) ~ 1e-5 for a fair coin


def test_adaptive_overlap_asks_for_extra_annotators_when_helpfulness_spreads() -> None:
    project = ProjectFactory(overlap=3, adaptive_overlap_threshold=2, adaptive_overlap_extra=2)
    comparison = ComparisonFactory(project=project)
    people = [member(project) for _ in range(6)]
    for person, h in zip(people[:3], (0, 2, 4), strict=True):
        a = assignment_claim_next(project=project, annotator=person)
        assert a is not None
        Assignment.objects.filter(pk=a.pk).update(swapped=False)
        a.refresh_from_db()
        _submit(a, person, helpfulness=(h, 2), strength=0)
    comparison.refresh_from_db()
    assert comparison.extra_annotators == 2
    # Two more annotators get it, a third does not.
    got = [assignment_claim_next(project=project, annotator=p) for p in people[3:]]
    assert [g is not None for g in got] == [True, True, False]


@pytest.mark.parametrize(("helpfulness", "extra"), [((1, 3, 3), 0), ((1, 2, 3), 0), ((0, 3, 3), 2)])
def test_adaptive_overlap_threshold_is_a_strict_spread(helpfulness: tuple[int, ...], extra: int) -> None:
    project = ProjectFactory(overlap=3, adaptive_overlap_threshold=2, adaptive_overlap_extra=2)
    comparison = ComparisonFactory(project=project)
    for h in helpfulness:
        person = member(project)
        a = assignment_claim_next(project=project, annotator=person)
        assert a is not None
        _submit(a, person, helpfulness=(h, h), strength=0)
    comparison.refresh_from_db()
    assert comparison.extra_annotators == extra


def test_adaptive_overlap_can_be_switched_off() -> None:
    project = ProjectFactory(overlap=2, adaptive_overlap_extra=0)
    comparison = ComparisonFactory(project=project)
    for h in (0, 4):
        person = member(project)
        a = assignment_claim_next(project=project, annotator=person)
        assert a is not None
        _submit(a, person, helpfulness=(h, h), strength=0)
    comparison.refresh_from_db()
    assert comparison.extra_annotators == 0


def test_a_stale_candidate_is_recounted_under_its_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    """A concurrent claim may commit between the candidate query's snapshot and our lock: the recount catches it.

    The stale snapshot is simulated by a candidate query that sees every comparison as open.
    """
    from annotator.services import assignments as service

    project = ProjectFactory(overlap=1)
    full, open_ = ComparisonFactory(project=project), ComparisonFactory(project=project)
    Assignment.objects.create(comparison=full, annotator=member(project), status=AssignmentStatus.SUBMITTED)
    monkeypatch.setattr(  # slots_taken is read as it is now, as under the lock
        service,
        "_candidate_comparison",
        lambda tried, **kw: (
            Comparison.objects.filter(project=project)
            .exclude(pk__in=tried)
            .order_by("id")
            .values_list("id", "extra_annotators", "slots_taken")
            .first()
        ),
    )
    a = assignment_claim_next(project=project, annotator=member(project))
    assert a is not None
    assert a.comparison == open_
    assert assignment_claim_next(project=project, annotator=member(project)) is None
    assert full.assignments.count() == 1


def test_when_every_candidate_is_locked_the_claim_looks_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows locked by transactions in flight are skipped (PostgreSQL's SKIP LOCKED); while unlocked work exists the
    claim looks again after a short pause instead of saying that nothing is left."""
    from annotator.services import assignments as service
    from annotator.services import locks

    project = ProjectFactory(overlap=1)
    open_ = ComparisonFactory(project=project)
    real = service._candidate_comparison
    locked_looks: list[bool] = []

    def first_look_finds_all_locked(**kw):
        if kw.get("lock", True):
            locked_looks.append(True)
            if len(locked_looks) == 1:
                return None  # every candidate held by someone else's transaction, this once
        return real(**kw)

    monkeypatch.setattr(locks, "skips_locked_rows", lambda: True)
    monkeypatch.setattr(service, "_candidate_comparison", first_look_finds_all_locked)
    monkeypatch.setattr(service, "_BUSY_BACKOFF_S", (0.0, 0.0))
    a = assignment_claim_next(project=project, annotator=member(project))
    assert a is not None and a.comparison_id == open_.pk
    assert len(locked_looks) == 2
    # With nothing left at all, the look without locks says so at once: no pause, no second locked look.
    locked_looks.clear()
    assert assignment_claim_next(project=project, annotator=member(project)) is None
    assert len(locked_looks) == 1


def test_claim_is_a_handful_of_queries(django_assert_max_num_queries) -> None:
    project = ProjectFactory(overlap=3)
    for c in ComparisonFactory.create_batch(50, project=project)[:10]:
        Assignment.objects.create(comparison=c, annotator=member(project), status=AssignmentStatus.SUBMITTED)
    annotator = member(project)
    # membership lock, own assignment, expired reservation to reclaim, candidate, insert (+ savepoint and release
    # inside the test's transaction)
    with django_assert_max_num_queries(7):
        assert assignment_claim_next(project=project, annotator=annotator) is not None
    with django_assert_max_num_queries(4):
        assert assignment_claim_next(project=project, annotator=annotator) is not None


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_and_submissions_never_exceed_the_overlap() -> None:
    """Threads against the real database (PostgreSQL in CI): 0 double assignments, 0 lost submissions."""
    if connection.vendor != "postgresql":
        pytest.skip("concurrency is exercised on PostgreSQL (SQLite serialises every writer by design)")
    project = ProjectFactory(overlap=3, adaptive_overlap_extra=0)
    ComparisonFactory.create_batch(12, project=project)
    annotators = [member(project) for _ in range(12)]
    names = list(project.attributes.values_list("name", flat=True))
    submitted: list[int] = []
    failures: list[BaseException] = []
    barrier = threading.Barrier(len(annotators))

    def work(annotator) -> None:
        try:
            barrier.wait()
            while True:
                a = assignment_claim_next(project=project, annotator=annotator)
                if a is None:
                    return
                result = annotation_submit(
                    assignment=a, annotator=annotator,
                    ratings_shown={"left": dict.fromkeys(names, 3), "right": dict.fromkeys(names, 2)},
                    preference_strength=-1, justification=JUSTIFICATION,
                )  # fmt: skip
                submitted.append(result.annotation.pk)
        except BaseException as exc:
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(a,)) for a in annotators]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not failures, failures
    per_comparison = Counter(
        Annotation.objects.filter(comparison__project=project).values_list("comparison_id", flat=True)
    )
    assert per_comparison == dict.fromkeys(Comparison.objects.filter(project=project).values_list("id", flat=True), 3)
    assert sorted(submitted) == sorted(Annotation.objects.values_list("pk", flat=True))  # none lost
    assert len(submitted) == 36


def test_a_returned_assignment_comes_back_before_an_older_reservation() -> None:
    project = ProjectFactory()
    older, newer = ComparisonFactory(project=project), ComparisonFactory(project=project)
    annotator = member(project)
    Assignment.objects.create(
        comparison=older, annotator=annotator, status=AssignmentStatus.RESERVED,
        reserved_until=timezone.now() + timedelta(minutes=30),
    )  # fmt: skip
    returned = Assignment.objects.create(comparison=newer, annotator=annotator, status=AssignmentStatus.RETURNED)
    assert assignment_claim_next(project=project, annotator=annotator) == returned

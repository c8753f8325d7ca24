"""The annotate path's row locks (annotator.services.locks), exercised on the database that takes them.

The tests marked ``postgresql`` run only there (CI runs the suite on PostgreSQL: DATABASE_URL=postgres://...);
SQLite has no row locks and serialises writers instead. Each holds a lock from a second connection (a thread) and
checks what the annotate path then does: skip the row, wait for it, or not need it at all.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from django.db import DatabaseError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from annotator.models import Assignment, AssignmentStatus, Comparison, Membership, Role
from annotator.services import locks
from annotator.services.assignments import annotation_submit, assignment_claim_next
from annotator.services.reviews import review_decide
from tests.factories import ComparisonFactory, ProjectFactory, member

postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks are PostgreSQL's (set DATABASE_URL to run these)"
)

JUSTIFICATION = "@Response 1 is clearer than @Response 2."


@contextmanager
def held_elsewhere(lock: Callable[[], object]) -> Iterator[None]:
    """Run ``lock`` in another connection's transaction and keep that transaction open for the block."""
    taken, release = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def hold() -> None:
        try:
            with transaction.atomic():
                lock()
                taken.set()
                release.wait(10)
        except BaseException as exc:
            failures.append(exc)
            taken.set()
        finally:
            connections.close_all()

    thread = threading.Thread(target=hold)
    thread.start()
    assert taken.wait(10)
    assert not failures, failures
    try:
        yield
    finally:
        release.set()
        thread.join(10)


def impatiently(work: Callable[[], object]) -> object:
    """Run ``work`` in a transaction where a statement that would wait for a row lock fails after 200 ms instead."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '200ms'")
        return work()


def test_sqlite_statements_carry_no_lock_clause() -> None:
    if connection.vendor == "postgresql":
        assert locks.for_update(of="c", skip_locked=True) == "FOR UPDATE OF c SKIP LOCKED"
        assert locks.for_update() == "FOR UPDATE"
    else:
        assert locks.for_update(of="c", skip_locked=True) == ""
        assert not locks.skips_locked_rows()


@postgresql
@pytest.mark.django_db
def test_the_claim_locks_membership_then_its_candidate_skipping_locked_rows() -> None:
    project = ProjectFactory()
    ComparisonFactory(project=project)
    annotator = member(project)
    with CaptureQueriesContext(connection) as queries:
        assert assignment_claim_next(project=project, annotator=annotator) is not None
    locking = [q["sql"] for q in queries.captured_queries if "FOR UPDATE" in q["sql"]]
    assert len(locking) == 2
    assert "annotator_membership" in locking[0] and locking[0].rstrip().endswith("FOR UPDATE")
    assert "annotator_comparison" in locking[1] and locking[1].rstrip().endswith("FOR UPDATE OF c SKIP LOCKED")


@postgresql
@pytest.mark.django_db(transaction=True)
def test_a_claim_passes_over_a_comparison_locked_by_a_transaction_in_flight() -> None:
    project = ProjectFactory(overlap=1)
    busy, free = ComparisonFactory(project=project), ComparisonFactory(project=project)
    annotator = member(project)
    with held_elsewhere(lambda: list(Comparison.objects.select_for_update().filter(pk=busy.pk))):
        claimed = impatiently(lambda: assignment_claim_next(project=project, annotator=annotator))
    assert isinstance(claimed, Assignment)
    assert claimed.comparison_id == free.pk


@postgresql
@pytest.mark.django_db(transaction=True)
def test_one_annotators_claims_wait_for_each_other_on_the_membership_row() -> None:
    project = ProjectFactory()
    ComparisonFactory(project=project)
    annotator = member(project)
    membership = Membership.objects.get(project=project, user=annotator, role=Role.ANNOTATOR)
    with (
        held_elsewhere(lambda: list(Membership.objects.select_for_update().filter(pk=membership.pk))),
        pytest.raises(DatabaseError, match="lock timeout"),
    ):
        impatiently(lambda: assignment_claim_next(project=project, annotator=annotator))
    assert not Assignment.objects.exists()


@postgresql
@pytest.mark.django_db(transaction=True)
def test_a_submission_waits_for_its_comparison_lock() -> None:
    project = ProjectFactory()
    comparison = ComparisonFactory(project=project)
    annotator = member(project)
    assignment = assignment_claim_next(project=project, annotator=annotator)
    assert assignment is not None
    names = list(project.attributes.values_list("name", flat=True))
    with (
        held_elsewhere(lambda: list(Comparison.objects.select_for_update().filter(pk=comparison.pk))),
        pytest.raises(DatabaseError, match="lock timeout"),
    ):
        impatiently(lambda: annotation_submit(
            assignment=assignment, annotator=annotator,
            ratings_shown={"left": dict.fromkeys(names, 3), "right": dict.fromkeys(names, 2)},
            preference_strength=-1, justification=JUSTIFICATION,
        ))  # fmt: skip
    assert Assignment.objects.get(pk=assignment.pk).status == AssignmentStatus.RESERVED


@postgresql
@pytest.mark.django_db(transaction=True)
def test_a_review_locks_the_assignment_and_never_the_comparison() -> None:
    """Submissions lock comparison then assignment; a review that locked both in one statement could take them the
    other way round and deadlock with a resubmission. It needs (and takes) the assignment only."""
    project = ProjectFactory()
    comparison = ComparisonFactory(project=project)
    annotator, lead = member(project), member(project, role=Role.LEAD)
    assignment = assignment_claim_next(project=project, annotator=annotator)
    assert assignment is not None
    names = list(project.attributes.values_list("name", flat=True))
    annotation = annotation_submit(
        assignment=assignment, annotator=annotator,
        ratings_shown={"left": dict.fromkeys(names, 3), "right": dict.fromkeys(names, 2)},
        preference_strength=-1, justification=JUSTIFICATION,
    ).annotation  # fmt: skip
    with held_elsewhere(lambda: list(Comparison.objects.select_for_update().filter(pk=comparison.pk))):
        impatiently(
            lambda: review_decide(annotation=annotation, reviewer=lead, decision="reject", reason="Correctness again.")
        )
    assert Assignment.objects.get(pk=assignment.pk).status == AssignmentStatus.RETURNED
    # ... and it does wait for the assignment.
    with (
        held_elsewhere(lambda: list(Assignment.objects.select_for_update().filter(pk=assignment.pk))),
        pytest.raises(DatabaseError, match="lock timeout"),
    ):
        impatiently(lambda: review_decide(annotation=annotation, reviewer=lead, decision="accept"))

from __future__ import annotations

import pytest
from django.db import connection

from annotator.errors import ValidationFailed
from annotator.models import Comparison, QueueOrder, Role
from annotator.services.assignments import assignment_claim_next
from annotator.services.locks import CANDIDATE, CANDIDATE_ORDERS
from annotator.services.priorities import comparison_priorities_replace
from tests.factories import ComparisonFactory, ProjectFactory, member

pytestmark = pytest.mark.django_db


def test_replacing_sets_the_given_priorities_and_resets_the_rest() -> None:
    project = ProjectFactory()
    a, b, c = (ComparisonFactory(project=project) for _ in range(3))
    comparison_priorities_replace(project=project, priorities={a.pk: 0.2, c.pk: 0.9})
    assert comparison_priorities_replace(project=project, priorities={b.pk: 0.5}) == 1
    assert dict(Comparison.objects.values_list("pk", "priority")) == {a.pk: 0.0, b.pk: 0.5, c.pk: 0.0}


def test_a_comparison_of_another_project_refuses_the_whole_write() -> None:
    project, other = ProjectFactory(), ProjectFactory()
    mine, theirs = ComparisonFactory(project=project), ComparisonFactory(project=other)
    with pytest.raises(ValidationFailed):
        comparison_priorities_replace(project=project, priorities={mine.pk: 0.7, theirs.pk: 0.1})
    assert set(Comparison.objects.values_list("priority", flat=True)) == {0.0}


def test_a_priority_that_is_not_finite_is_refused() -> None:
    project = ProjectFactory()
    comparison = ComparisonFactory(project=project)
    with pytest.raises(ValidationFailed):
        comparison_priorities_replace(project=project, priorities={comparison.pk: float("nan")})


def test_saving_a_comparison_never_writes_a_stale_priority_back() -> None:
    project = ProjectFactory()
    comparison = ComparisonFactory(project=project)
    comparison_priorities_replace(project=project, priorities={comparison.pk: 0.8})
    comparison.is_gold = True  # this instance still holds priority 0
    comparison.save()
    comparison.refresh_from_db()
    assert (comparison.is_gold, comparison.priority) == (True, 0.8)


@pytest.mark.parametrize(
    ("order", "expected"), [(QueueOrder.INFORMATIVE, [2, 0, 1]), (QueueOrder.COMPLETION, [0, 1, 2])]
)
def test_the_claim_follows_the_projects_queue_order(order: str, expected: list[int]) -> None:
    project = ProjectFactory(overlap=1, queue_order=order)
    comparisons = [ComparisonFactory(project=project) for _ in range(3)]
    comparison_priorities_replace(
        project=project, priorities={comparisons[0].pk: 0.5, comparisons[1].pk: 0.1, comparisons[2].pk: 0.9}
    )
    claimed = []
    for _ in range(3):
        annotator = member(project, Role.ANNOTATOR)
        assignment = assignment_claim_next(project=project, annotator=annotator)
        assert assignment is not None
        claimed.append(assignment.comparison_id)
    assert claimed == [comparisons[i].pk for i in expected]


def test_the_informative_order_still_skips_full_comparisons_and_prefers_nearly_done_on_ties() -> None:
    project = ProjectFactory(overlap=2, queue_order=QueueOrder.INFORMATIVE)
    started, fresh = ComparisonFactory(project=project), ComparisonFactory(project=project)
    first = member(project, Role.ANNOTATOR)
    project.queue_order = QueueOrder.COMPLETION
    assert assignment_claim_next(project=project, annotator=first).comparison_id == started.pk  # type: ignore[union-attr]
    project.queue_order = QueueOrder.INFORMATIVE
    # Same priority (0): the one closer to completion first, as in the default order.
    second = member(project, Role.ANNOTATOR)
    assert assignment_claim_next(project=project, annotator=second).comparison_id == started.pk  # type: ignore[union-attr]
    # started is now full: the next annotator gets fresh, whatever the priorities.
    comparison_priorities_replace(project=project, priorities={started.pk: 1.0})
    third = member(project, Role.ANNOTATOR)
    assert assignment_claim_next(project=project, annotator=third).comparison_id == fresh.pk  # type: ignore[union-attr]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the plan is PostgreSQL's (set DATABASE_URL)")
def test_the_informative_claim_reads_the_priority_through_its_index() -> None:
    project = ProjectFactory()
    comparisons = [ComparisonFactory(project=project) for _ in range(30)]
    comparison_priorities_replace(project=project, priorities={c.pk: c.pk / 100 for c in comparisons})
    annotator = member(project, Role.ANNOTATOR)
    sql = CANDIDATE.format(tried="", qualified="", order=CANDIDATE_ORDERS[QueueOrder.INFORMATIVE])
    with connection.cursor() as cursor:
        # A 30-row table would be scanned (or bitmap-scanned and sorted, with other tests' statistics): the question
        # is whether an index gives this order, and with sorting priced out a Sort stays only if none does.
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
            cursor.execute(f"SET LOCAL {setting} = off")
        cursor.execute(
            f"EXPLAIN {sql}", {"project": project.pk, "slots_gt": -project.overlap, "annotator": annotator.pk}
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "comparison_claim_informative" in plan
    assert "Sort" not in plan  # the index gives the order: no sort of the project's comparisons

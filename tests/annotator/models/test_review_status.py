"""An annotation's review status is derived in one place, from the latest review's decision."""

import pytest

from annotator.models import Annotation, Assignment, Review, ReviewDecision, ReviewStatus
from annotator.selectors.annotations import REVIEW_ACCEPTED, REVIEW_REJECTED, REVIEW_UNREVIEWED
from annotator.selectors.quality.annotators import annotation_with_review
from tests.factories import ComparisonFactory, UserFactory


def test_status_of_a_decision() -> None:
    assert ReviewStatus.of(None) == ReviewStatus.UNREVIEWED == REVIEW_UNREVIEWED
    assert ReviewStatus.of(ReviewDecision.ACCEPT) == ReviewStatus.ACCEPTED == REVIEW_ACCEPTED
    assert ReviewStatus.of(ReviewDecision.REJECT) == ReviewStatus.REJECTED == REVIEW_REJECTED


@pytest.mark.django_db
def test_the_review_card_follows_the_latest_review() -> None:
    comparison = ComparisonFactory()
    assignment = Assignment.objects.create(comparison=comparison, annotator=UserFactory())
    annotation = Annotation.objects.create(
        assignment=assignment, comparison=comparison, annotator=assignment.annotator, ratings={}
    )
    assert annotation_with_review(annotation=annotation).review_status == ReviewStatus.UNREVIEWED
    lead = UserFactory()
    Review.objects.create(annotation=annotation, reviewer=lead, decision=ReviewDecision.REJECT, reason="Too short.")
    card = annotation_with_review(annotation=annotation)
    assert (card.review_status, card.review_reason) == (ReviewStatus.REJECTED, "Too short.")
    Review.objects.create(annotation=annotation, reviewer=lead, decision=ReviewDecision.ACCEPT)
    assert annotation_with_review(annotation=annotation).review_status == ReviewStatus.ACCEPTED

import pytest

from annotator.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from annotator.models import Annotation, Assignment, AssignmentStatus, Review, Role
from annotator.services.assignments import annotation_submit, assignment_claim_next
from annotator.services.reviews import review_bulk_accept, review_decide
from tests.factories import ComparisonFactory, ProjectFactory, full_ratings, member

pytestmark = pytest.mark.django_db


def _submitted(project, annotator, value=3, strength=-1):
    comparison = ComparisonFactory(project=project)
    assignment = Assignment.objects.create(
        comparison=comparison, annotator=annotator, status=AssignmentStatus.SUBMITTED
    )
    return Annotation.objects.create(
        assignment=assignment, comparison=comparison, annotator=annotator,
        ratings=full_ratings(project, value), preference_strength=strength, justification="@Response 1 is better.",
    )  # fmt: skip


@pytest.fixture
def project():
    return ProjectFactory()


@pytest.fixture
def lead(project):
    return member(project, Role.LEAD)


def test_reject_returns_the_assignment_with_the_reason(project, lead) -> None:
    annotation = _submitted(project, member(project))
    review = review_decide(
        annotation=annotation, reviewer=lead, decision="reject", reason="  Helpfulness 4 for a wrong answer.  "
    )
    assignment = Assignment.objects.get(pk=annotation.assignment_id)
    assert assignment.status == AssignmentStatus.RETURNED
    assert assignment.review_note == "Helpfulness 4 for a wrong answer."
    assert (review.decision, review.reason, review.reviewer) == ("reject", "Helpfulness 4 for a wrong answer.", lead)
    annotation.refresh_from_db()
    assert annotation.is_current  # stays until the annotator resubmits


def test_accept_records_a_review_and_leaves_the_assignment(project, lead) -> None:
    annotation = _submitted(project, member(project))
    review = review_decide(annotation=annotation, reviewer=lead, decision="accept")
    assert review.decision == "accept"
    assert Assignment.objects.get(pk=annotation.assignment_id).status == AssignmentStatus.SUBMITTED


def test_reject_needs_a_reason_and_writes_nothing(project, lead) -> None:
    annotation = _submitted(project, member(project))
    with pytest.raises(ValidationFailed) as caught:
        review_decide(annotation=annotation, reviewer=lead, decision="reject", reason="   ")
    assert "reason" in caught.value.extra["fields"]
    assert not Review.objects.exists()
    assert Assignment.objects.get(pk=annotation.assignment_id).status == AssignmentStatus.SUBMITTED


def test_unknown_decision_is_refused(project, lead) -> None:
    with pytest.raises(ValidationFailed):
        review_decide(annotation=_submitted(project, member(project)), reviewer=lead, decision="maybe")


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.RESEARCHER, None])
def test_only_a_lead_of_the_project_reviews(project, role) -> None:
    annotation = _submitted(project, member(project))
    reviewer = member(project, role) if role else member(ProjectFactory(), Role.LEAD)  # lead elsewhere
    with pytest.raises(PermissionDenied):
        review_decide(annotation=annotation, reviewer=reviewer, decision="reject", reason="No.")
    assert not Review.objects.exists()


def test_the_same_decision_twice_is_a_conflict(project, lead) -> None:
    annotation = _submitted(project, member(project))
    review_decide(annotation=annotation, reviewer=lead, decision="reject", reason="Too lenient.")
    with pytest.raises(Conflict):
        review_decide(annotation=annotation, reviewer=lead, decision="reject", reason="Again.")
    assert Review.objects.count() == 1


def test_accepting_after_a_rejection_takes_the_assignment_back(project, lead) -> None:
    annotation = _submitted(project, member(project))
    review_decide(annotation=annotation, reviewer=lead, decision="reject", reason="Too lenient.")
    review_decide(annotation=annotation, reviewer=lead, decision="accept")
    assignment = Assignment.objects.get(pk=annotation.assignment_id)
    assert (assignment.status, assignment.review_note) == (AssignmentStatus.SUBMITTED, "")


def test_send_back_end_to_end_through_the_annotator_services(project, lead) -> None:
    """Reject → the annotator's next claim is the returned comparison → resubmission supersedes → review again."""
    annotator = member(project)
    ComparisonFactory(project=project)
    assignment = assignment_claim_next(project=project, annotator=annotator)
    ratings = {"left": full_ratings(project, 4)["1"], "right": full_ratings(project, 1)["2"]}
    first = annotation_submit(
        assignment=assignment, annotator=annotator, ratings_shown=ratings, preference_strength=-3,
        justification="@Response 1 is much better than @Response 2.",
    ).annotation  # fmt: skip
    ComparisonFactory(project=project)  # something new is waiting too; the returned one comes first
    review_decide(annotation=first, reviewer=lead, decision="reject", reason="Response 1 is wrong; check the maths.")

    again = assignment_claim_next(project=project, annotator=annotator)
    assert again.pk == assignment.pk
    assert again.status == AssignmentStatus.RETURNED
    assert again.review_note == "Response 1 is wrong; check the maths."

    second = annotation_submit(
        assignment=again, annotator=annotator, ratings_shown=ratings, preference_strength=2,
        justification="@Response 2 is better than @Response 1: it is correct.",
    ).annotation  # fmt: skip
    first.refresh_from_db()
    assert not first.is_current
    assert second.is_current
    with pytest.raises(Conflict):  # the old one is history now
        review_decide(annotation=first, reviewer=lead, decision="accept")
    review_decide(annotation=second, reviewer=lead, decision="accept")
    assert Assignment.objects.get(pk=assignment.pk).status == AssignmentStatus.SUBMITTED


# --- bulk accept ------------------------------------------------------------------------------------------------


def test_bulk_accept_accepts_every_chosen_annotation_and_takes_returned_ones_back(project, lead) -> None:
    annotator = member(project)
    plain, returned, already = (_submitted(project, annotator) for _ in range(3))
    review_decide(annotation=returned, reviewer=lead, decision="reject", reason="Check the numbers.")
    review_decide(annotation=already, reviewer=lead, decision="accept")
    reviews = review_bulk_accept(project=project, annotation_ids=[plain.pk, returned.pk, already.pk], reviewer=lead)
    assert sorted(r.annotation_id for r in reviews) == sorted([plain.pk, returned.pk])
    assert Review.objects.filter(annotation=already).count() == 1  # left as it was
    returned.assignment.refresh_from_db()
    assert (returned.assignment.status, returned.assignment.review_note) == (AssignmentStatus.SUBMITTED, "")
    for annotation in (plain, returned, already):
        assert Review.objects.filter(annotation=annotation).order_by("-created_at", "-id").first().decision == "accept"


def test_bulk_accept_is_all_or_nothing(project, lead) -> None:
    annotator = member(project)
    fine = _submitted(project, annotator)
    superseded = _submitted(project, annotator)
    Annotation.objects.filter(pk=superseded.pk).update(is_current=False)
    with pytest.raises(Conflict):
        review_bulk_accept(project=project, annotation_ids=[fine.pk, superseded.pk], reviewer=lead)
    assert not Review.objects.exists()


def test_bulk_accept_refuses_foreign_ids_empty_choices_and_non_leads(project, lead) -> None:
    mine = _submitted(project, member(project))
    other_project = ProjectFactory()
    foreign = _submitted(other_project, member(other_project))
    with pytest.raises(NotFound):
        review_bulk_accept(project=project, annotation_ids=[mine.pk, foreign.pk], reviewer=lead)
    with pytest.raises(ValidationFailed):
        review_bulk_accept(project=project, annotation_ids=[], reviewer=lead)
    with pytest.raises(PermissionDenied):
        review_bulk_accept(project=project, annotation_ids=[mine.pk], reviewer=member(project))
    assert not Review.objects.exists()

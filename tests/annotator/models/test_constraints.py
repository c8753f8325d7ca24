import pytest
from django.db import IntegrityError, transaction

from annotator.models import Annotation, Assignment, Attribute, Review
from tests.factories import ComparisonFactory, ProjectFactory, UserFactory, full_ratings

pytestmark = pytest.mark.django_db


def _assignment() -> Assignment:
    comparison = ComparisonFactory()
    return Assignment.objects.create(comparison=comparison, annotator=UserFactory())


@pytest.mark.parametrize("strength", [-4, 4, 100, -100])
def test_preference_strength_outside_the_scale_is_refused(strength: int) -> None:
    a = _assignment()
    with pytest.raises(IntegrityError), transaction.atomic():
        Annotation.objects.create(
            assignment=a, comparison=a.comparison, annotator=a.annotator,
            ratings=full_ratings(a.comparison.project), preference_strength=strength,
        )  # fmt: skip


def test_one_current_annotation_per_assignment() -> None:
    a = _assignment()
    kwargs = {"assignment": a, "comparison": a.comparison, "annotator": a.annotator, "ratings": {}}
    Annotation.objects.create(**kwargs, preference_strength=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Annotation.objects.create(**kwargs, preference_strength=2)
    # A superseded one may stay beside the current one.
    Annotation.objects.create(**kwargs, preference_strength=2, is_current=False)


def test_one_assignment_per_comparison_and_annotator() -> None:
    a = _assignment()
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(comparison=a.comparison, annotator=a.annotator)


def test_comparison_needs_two_distinct_responses() -> None:
    c = ComparisonFactory()
    c.response_2 = c.response_1
    with pytest.raises(IntegrityError), transaction.atomic():
        c.save()


def test_attribute_scale_must_be_ordered() -> None:
    project = ProjectFactory(attributes=[])
    with pytest.raises(IntegrityError), transaction.atomic():
        Attribute.objects.create(project=project, name="x", scale_min=4, scale_max=0)


def test_rejection_needs_a_reason() -> None:
    a = _assignment()
    ann = Annotation.objects.create(assignment=a, comparison=a.comparison, annotator=a.annotator, ratings={})
    with pytest.raises(IntegrityError), transaction.atomic():
        Review.objects.create(annotation=ann, reviewer=UserFactory(), decision="reject", reason="")

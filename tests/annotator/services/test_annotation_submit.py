from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from annotator.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from annotator.models import Annotation, Assignment, AssignmentStatus, Membership
from annotator.services.agreement_counts import agreement_counts_rebuild
from annotator.services.assignments import annotation_submit, assignment_claim_next, assignment_skip
from annotator.shown_terms import shown_from_response_terms
from tests.factories import ComparisonFactory, ProjectFactory, member

pytestmark = pytest.mark.django_db

JUSTIFICATION = "@Response 1 answers the question; @Response 2 does not."


def _setup(*, swapped: bool = False, **project_kwargs: Any) -> tuple[Assignment, Any]:
    project = ProjectFactory(**project_kwargs)
    ComparisonFactory(project=project)
    annotator = member(project)
    a = assignment_claim_next(project=project, annotator=annotator)
    assert a is not None
    Assignment.objects.filter(pk=a.pk).update(swapped=swapped)
    a.refresh_from_db()
    return a, annotator


def _ratings(a: Assignment, left: int = 3, right: int = 1) -> dict[str, dict[str, int]]:
    names = list(a.comparison.project.attributes.values_list("name", flat=True))
    return {"left": dict.fromkeys(names, left), "right": dict.fromkeys(names, right)}


def _submit(a: Assignment, annotator: Any, **overrides: Any):
    kwargs: dict[str, Any] = {"preference_strength": -2, "justification": JUSTIFICATION} | overrides
    if "ratings_shown" not in kwargs:
        kwargs["ratings_shown"] = _ratings(a)
    return annotation_submit(assignment=a, annotator=annotator, **kwargs)


def test_a_valid_submission_is_stored_in_response_terms() -> None:
    a, annotator = _setup(swapped=False)
    result = _submit(a, annotator, flags=["pii"], time_on_task_seconds=42.5)
    ann = result.annotation
    assert ann.ratings == {"1": _ratings(a)["left"], "2": _ratings(a)["right"]}
    assert ann.preference_strength == -2
    assert ann.justification == JUSTIFICATION
    assert ann.flags == ["pii"]
    assert ann.time_on_task_seconds == 42.5
    assert result.warnings == ()
    a.refresh_from_db()
    assert a.status == AssignmentStatus.SUBMITTED


def test_a_swapped_submission_is_mapped_back() -> None:
    a, annotator = _setup(swapped=True)
    ann = _submit(a, annotator).annotation
    # Left was response 2: its ratings are stored under "2", the strength flips and the mentions swap.
    assert ann.ratings == {"1": _ratings(a)["right"], "2": _ratings(a)["left"]}
    assert ann.preference_strength == 2
    assert ann.justification == "@Response 2 answers the question; @Response 1 does not."


def test_shown_from_response_terms_round_trips_through_submit() -> None:
    a, annotator = _setup(swapped=True)
    names = list(a.comparison.project.attributes.values_list("name", flat=True))
    truth = {"1": dict.fromkeys(names, 4), "2": dict.fromkeys(names, 1)}
    shown, strength = shown_from_response_terms(swapped=a.swapped, ratings=truth, preference_strength=-3)
    ann = _submit(a, annotator, ratings_shown=shown, preference_strength=strength).annotation
    assert ann.ratings == truth
    assert ann.preference_strength == -3


def test_every_attribute_must_be_rated_for_both_responses() -> None:
    a, annotator = _setup()
    ratings = _ratings(a)
    del ratings["left"]["correctness"]
    del ratings["right"]["verbosity"]
    with pytest.raises(ValidationFailed) as err:
        _submit(a, annotator, ratings_shown=ratings)
    assert set(err.value.extra["fields"]) == {"left.correctness", "right.verbosity"}
    assert not Annotation.objects.exists()


@pytest.mark.parametrize("value", [-1, 5, "3", 2.5, True])
def test_ratings_must_be_whole_numbers_on_the_scale(value: object) -> None:
    a, annotator = _setup()
    ratings = _ratings(a)
    ratings["right"]["helpfulness"] = value  # type: ignore[assignment]
    with pytest.raises(ValidationFailed) as err:
        _submit(a, annotator, ratings_shown=ratings)
    assert list(err.value.extra["fields"]) == ["right.helpfulness"]


def test_unknown_attributes_are_refused() -> None:
    a, annotator = _setup()
    ratings = _ratings(a)
    ratings["left"]["charm"] = 2
    with pytest.raises(ValidationFailed) as err:
        _submit(a, annotator, ratings_shown=ratings)
    assert "left.charm" in err.value.extra["fields"]


@pytest.mark.parametrize("strength", [None, -4, 4, 1.5, "1"])
def test_preference_strength_must_be_on_the_scale(strength: object) -> None:
    a, annotator = _setup()
    with pytest.raises(ValidationFailed) as err:
        _submit(a, annotator, preference_strength=strength)
    assert list(err.value.extra["fields"]) == ["preference_strength"]


@pytest.mark.parametrize("strength", [-3, 0, 3])
def test_the_whole_scale_is_accepted(strength: int) -> None:
    a, annotator = _setup()
    assert _submit(a, annotator, ratings_shown=_ratings(a, 2, 2), preference_strength=strength).annotation.pk


def test_justification_needs_the_project_minimum_length() -> None:
    a, annotator = _setup(min_justification_length=30)
    with pytest.raises(ValidationFailed) as err:
        _submit(a, annotator, justification="  @Response 1 is better.      ")
    assert list(err.value.extra["fields"]) == ["justification"]
    assert "30" in err.value.extra["fields"]["justification"]


def test_unknown_flags_and_negative_time_are_refused() -> None:
    a, annotator = _setup()
    with pytest.raises(ValidationFailed) as err:
        _submit(a, annotator, flags=["spicy"], time_on_task_seconds=-1)
    assert set(err.value.extra["fields"]) == {"flags", "time_on_task_seconds"}


@pytest.mark.parametrize(
    ("strength", "left", "right", "warns"), [(-2, 1, 3, True), (2, 3, 1, True), (-2, 3, 1, False), (0, 1, 4, False)]
)
def test_a_strength_contradicting_helpfulness_warns_but_is_stored(
    strength: int, left: int, right: int, warns: bool
) -> None:
    a, annotator = _setup()
    result = _submit(a, annotator, ratings_shown=_ratings(a, left, right), preference_strength=strength)
    assert bool(result.warnings) is warns
    assert Annotation.objects.filter(pk=result.annotation.pk).exists()


def test_a_second_submission_is_refused() -> None:
    a, annotator = _setup()
    _submit(a, annotator)
    with pytest.raises(Conflict) as err:
        _submit(a, annotator)
    assert err.value.code == "already_submitted"
    assert Annotation.objects.count() == 1


def test_a_skipped_assignment_cannot_be_submitted() -> None:
    a, annotator = _setup()
    assignment_skip(assignment=a, annotator=annotator, reason="needs_expertise")
    with pytest.raises(Conflict):
        _submit(a, annotator)


def test_an_expired_reservation_taken_by_someone_else_is_refused() -> None:
    a, slow = _setup(overlap=1)
    project = a.comparison.project
    later = timezone.now() + timedelta(minutes=project.reservation_minutes + 1)
    fast = member(project)
    assert assignment_claim_next(project=project, annotator=fast, now=later) is not None
    with pytest.raises(Conflict) as err:
        _submit(a, slow, now=later)
    assert err.value.code == "reservation_expired"


def test_an_expired_reservation_nobody_took_is_still_accepted() -> None:
    a, annotator = _setup(overlap=1)
    later = timezone.now() + timedelta(hours=3)
    assert _submit(a, annotator, now=later).annotation.pk


def test_another_annotators_assignment_is_not_found() -> None:
    a, _owner = _setup()
    intruder = member(a.comparison.project)
    with pytest.raises(NotFound):
        _submit(a, intruder)


def test_a_removed_member_cannot_submit() -> None:
    a, annotator = _setup()
    Membership.objects.filter(user=annotator).delete()
    with pytest.raises(PermissionDenied):
        _submit(a, annotator)


def test_a_returned_assignment_is_resubmitted_and_supersedes_the_old_annotation() -> None:
    a, annotator = _setup()
    old = _submit(a, annotator).annotation
    Assignment.objects.filter(pk=a.pk).update(status=AssignmentStatus.RETURNED, review_note="Check correctness.")
    a.refresh_from_db()
    new = _submit(a, annotator, preference_strength=-1).annotation
    old.refresh_from_db()
    assert old.is_current is False
    assert new.is_current is True
    assert list(Annotation.objects.filter(assignment=a, is_current=True)) == [new]


def test_a_failed_submission_changes_nothing() -> None:
    a, annotator = _setup()
    with pytest.raises(ValidationFailed):
        _submit(a, annotator, justification="short")
    a.refresh_from_db()
    assert a.status == AssignmentStatus.RESERVED
    assert not Annotation.objects.exists()


def test_submit_is_a_handful_of_queries(django_assert_max_num_queries) -> None:
    a, annotator = _setup()
    agreement_counts_rebuild(project=a.comparison.project)  # the project's agreement counts exist
    ratings = _ratings(a)
    # comparison lock (with the membership check), attributes, status update, insert, first-k annotations
    # (+ savepoint and release); the agreement counts: their lock, the attributes' scale, the comparison's current
    # annotations, reviews and assignment statuses, its kept counts, their two writes
    with django_assert_max_num_queries(15):
        _submit(a, annotator, ratings_shown=ratings)


# --- hostile input --------------------------------------------------------------------------------------------


def test_invisible_characters_do_not_count_toward_the_minimum_length() -> None:
    a, annotator = _setup(min_justification_length=20)
    for text in ("\u200b" * 40, "@R" + "\u200b\u200d" * 30, "\u3164" * 40):
        with pytest.raises(ValidationFailed) as err:
            _submit(a, annotator, justification=text)
        assert list(err.value.extra["fields"]) == ["justification"]
    assert not Annotation.objects.exists()


def test_an_unknown_ratings_key_is_refused() -> None:
    a, annotator = _setup()
    ratings = {**_ratings(a), "middle": {"helpfulness": 3}}
    with pytest.raises(ValidationFailed) as err:
        _submit(a, annotator, ratings_shown=ratings)
    assert "'middle'" in err.value.extra["fields"]["ratings"]
    assert not Annotation.objects.exists()


@pytest.mark.parametrize("seconds", [1e308, float("inf"), float("nan"), -0.5, 86_400.5])
def test_an_implausible_time_on_task_is_refused(seconds: float) -> None:
    a, annotator = _setup()
    with pytest.raises(ValidationFailed) as err:
        _submit(a, annotator, time_on_task_seconds=seconds)
    assert err.value.extra["fields"]["time_on_task_seconds"] == "Time on task is a number of seconds from 0 to 86400."
    assert not Annotation.objects.exists()


def test_the_time_on_task_bound_is_a_setting(settings: Any) -> None:
    a, annotator = _setup()
    settings.PREFSTACK_MAX_TIME_ON_TASK_SECONDS = 10
    with pytest.raises(ValidationFailed):
        _submit(a, annotator, time_on_task_seconds=11)
    assert _submit(a, annotator, time_on_task_seconds=10).annotation.time_on_task_seconds == 10

"""annotation_revise: the annotator's last submission can be edited (a new version, the old one kept) until a lead
reviews it or a snapshot holds it."""

from __future__ import annotations

from typing import Any

import pytest

from annotator.errors import Conflict, NotFound, ValidationFailed
from annotator.models import Annotation, Assignment, Snapshot, SnapshotStatus
from annotator.services.assignments import annotation_revise, annotation_submit, assignment_claim_next
from annotator.services.reviews import review_decide
from annotator.services.snapshots.lifecycle import snapshot_create
from tests.factories import ComparisonFactory, ProjectFactory, member

pytestmark = pytest.mark.django_db

JUSTIFICATION = "@Response 1 answers the question; @Response 2 does not."
REVISED = "On reflection @Response 2 is the better one; @Response 1 misses the point."


def _ratings(project: Any, left: int, right: int) -> dict[str, dict[str, int]]:
    names = list(project.attributes.values_list("name", flat=True))
    return {"left": dict.fromkeys(names, left), "right": dict.fromkeys(names, right)}


def _submit(project: Any, annotator: Any, *, swapped: bool = False) -> Annotation:
    a = assignment_claim_next(project=project, annotator=annotator)
    assert a is not None
    Assignment.objects.filter(pk=a.pk).update(swapped=swapped)
    a.refresh_from_db()
    return annotation_submit(
        assignment=a,
        annotator=annotator,
        ratings_shown=_ratings(project, 3, 1),
        preference_strength=-2,
        justification=JUSTIFICATION,
    ).annotation


def _revise(annotation: Annotation, annotator: Any, **overrides: Any) -> Annotation:
    kwargs: dict[str, Any] = {
        "ratings_shown": _ratings(annotation.comparison.project, 1, 4),
        "preference_strength": 3,
        "justification": REVISED,
    } | overrides
    return annotation_revise(annotation=annotation, annotator=annotator, **kwargs).annotation


@pytest.fixture
def project() -> Any:
    project = ProjectFactory(overlap=1)
    ComparisonFactory.create_batch(2, project=project)
    return project


@pytest.mark.parametrize("swapped", [False, True])
def test_an_edit_is_a_new_current_version_and_the_old_one_is_kept(project: Any, swapped: bool) -> None:
    annotator = member(project)
    first = _submit(project, annotator, swapped=swapped)
    revised = _revise(first, annotator, flags=["pii"])
    first.refresh_from_db()
    assert not first.is_current
    assert first.preference_strength == (2 if swapped else -2)  # unchanged
    assert revised.is_current and revised.assignment_id == first.assignment_id
    # Stored in response terms, as a submission is.
    assert revised.preference_strength == (-3 if swapped else 3)
    assert revised.ratings["1"]["helpfulness"] == (4 if swapped else 1)
    assert ("@Response 1 misses" in revised.justification) is not swapped
    assert revised.flags == ["pii"]
    assert Annotation.objects.filter(assignment=first.assignment).count() == 2
    # The edit of the edit is allowed too (it is still the last submission).
    again = _revise(revised, annotator, preference_strength=1)
    assert Annotation.objects.get(assignment=first.assignment, is_current=True).pk == again.pk


def test_only_the_last_submission_can_be_edited(project: Any) -> None:
    annotator = member(project)
    first = _submit(project, annotator)
    _submit(project, annotator)
    with pytest.raises(Conflict, match="last submission"):
        _revise(first, annotator)
    assert Annotation.objects.filter(is_current=True).count() == 2


def test_an_earlier_version_cannot_be_edited(project: Any) -> None:
    annotator = member(project)
    first = _submit(project, annotator)
    _revise(first, annotator)
    first.refresh_from_db()
    with pytest.raises(Conflict, match="earlier version"):
        _revise(first, annotator)


def test_a_submission_in_a_snapshot_cannot_be_edited(project: Any) -> None:
    annotator = member(project)
    first = _submit(project, annotator)
    snapshot = snapshot_create(project=project, user=None)  # its build is enqueued on commit: not run here
    with pytest.raises(Conflict, match="snapshot"):
        _revise(first, annotator)
    # A failed snapshot holds nothing.
    Snapshot.objects.filter(pk=snapshot.pk).update(status=SnapshotStatus.FAILED)
    assert _revise(first, annotator).is_current


def test_a_reviewed_submission_cannot_be_edited(project: Any) -> None:
    annotator = member(project)
    lead = member(project, role="lead")
    first = _submit(project, annotator)
    review_decide(annotation=first, reviewer=lead, decision="accept")
    with pytest.raises(Conflict, match="reviewed"):
        _revise(first, annotator)


def test_another_annotators_submission_cannot_be_edited(project: Any) -> None:
    annotator, other = member(project), member(project)
    first = _submit(project, annotator)
    with pytest.raises(NotFound):  # another annotator's work does not exist for them
        _revise(first, other)
    first.refresh_from_db()
    assert first.is_current


def test_invalid_edits_change_nothing(project: Any) -> None:
    annotator = member(project)
    first = _submit(project, annotator)
    with pytest.raises(ValidationFailed) as excinfo:
        _revise(first, annotator, justification="short", preference_strength=None)
    assert set(excinfo.value.extra["fields"]) == {"justification", "preference_strength"}
    first.refresh_from_db()
    assert first.is_current
    assert Annotation.objects.count() == 1


@pytest.mark.parametrize(
    "text", ["A NUL \x00 in the middle of an edit, long enough.", "A lone \ud800 surrogate, long enough."]
)
def test_an_edit_with_text_no_database_stores_is_refused_and_changes_nothing(project: Any, text: str) -> None:
    annotator = member(project)
    first = _submit(project, annotator)
    with pytest.raises(ValidationFailed) as excinfo:
        _revise(first, annotator, justification=text)
    assert "justification" in excinfo.value.message
    first.refresh_from_db()
    assert first.is_current and Annotation.objects.count() == 1

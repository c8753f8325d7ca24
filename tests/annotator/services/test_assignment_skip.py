from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from annotator.errors import Conflict, NotFound, ValidationFailed
from annotator.models import Annotation, Assignment, AssignmentStatus
from annotator.services.assignments import assignment_claim_next, assignment_draft_save, assignment_skip
from tests.factories import ComparisonFactory, ProjectFactory, member

pytestmark = pytest.mark.django_db


def _setup(**project_kwargs: Any) -> tuple[Assignment, Any]:
    project = ProjectFactory(**project_kwargs)
    ComparisonFactory(project=project)
    annotator = member(project)
    a = assignment_claim_next(project=project, annotator=annotator)
    assert a is not None
    return a, annotator


def test_skip_with_a_reason_and_flags_is_its_own_outcome() -> None:
    a, annotator = _setup()
    skipped = assignment_skip(
        assignment=a, annotator=annotator, reason="pii", note="a phone number", flags=["pii", "unsafe"]
    )
    assert skipped.status == AssignmentStatus.SKIPPED
    assert skipped.skip_reason == "pii"
    assert skipped.skip_note == "a phone number"
    assert skipped.flags == ["pii", "unsafe"]
    assert not Annotation.objects.exists()  # not an annotation full of zeros


def test_a_skipped_comparison_goes_to_someone_else() -> None:
    a, annotator = _setup(overlap=1)
    assignment_skip(assignment=a, annotator=annotator, reason="needs_expertise")
    b = assignment_claim_next(project=a.comparison.project, annotator=member(a.comparison.project))
    assert b is not None
    assert b.comparison_id == a.comparison_id


@pytest.mark.parametrize(
    ("reason", "note", "flags", "field"),
    [("", "", [], "reason"), ("bored", "", [], "reason"), ("other", "  ", [], "note"), ("pii", "", ["weird"], "flags")],
)
def test_skip_validation(reason: str, note: str, flags: list[str], field: str) -> None:
    a, annotator = _setup()
    with pytest.raises(ValidationFailed) as err:
        assignment_skip(assignment=a, annotator=annotator, reason=reason, note=note, flags=flags)
    assert field in err.value.extra["fields"]
    a.refresh_from_db()
    assert a.status == AssignmentStatus.RESERVED


def test_skip_twice_is_a_conflict_and_others_cannot_skip() -> None:
    a, annotator = _setup()
    with pytest.raises(NotFound):
        assignment_skip(assignment=a, annotator=member(a.comparison.project), reason="pii")
    assignment_skip(assignment=a, annotator=annotator, reason="pii")
    with pytest.raises(Conflict):
        assignment_skip(assignment=a, annotator=annotator, reason="pii")


def test_draft_keeps_only_the_form_shape_and_extends_the_reservation() -> None:
    a, annotator = _setup(reservation_minutes=30)
    now = timezone.now() + timedelta(minutes=10)
    saved = assignment_draft_save(
        assignment=a, annotator=annotator, now=now,
        draft={
            "left": {"helpfulness": 3, "charm": 4, "coherence": "x"}, "right": {"helpfulness": 1},
            "preference_strength": -2, "justification": "so far", "flags": ["pii", "nope"],
            "time_on_task_seconds": 12.5, "evil": "<script>",
        },
    )  # fmt: skip
    assert saved.draft == {
        "left": {"helpfulness": 3}, "right": {"helpfulness": 1}, "preference_strength": -2,
        "justification": "so far", "flags": ["pii"], "time_on_task_seconds": 12.5,
    }  # fmt: skip
    assert saved.reserved_until == now + timedelta(minutes=30)


def test_a_finished_assignment_keeps_no_draft() -> None:
    a, annotator = _setup()
    assignment_skip(assignment=a, annotator=annotator, reason="pii")
    with pytest.raises(Conflict):
        assignment_draft_save(assignment=a, annotator=annotator, draft={"justification": "x"})

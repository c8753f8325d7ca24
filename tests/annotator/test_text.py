"""The one text rule (``annotator.text``) and every service that writes a person's text applying it.

The same refusal on SQLite and PostgreSQL: run with DATABASE_URL pointing at PostgreSQL, where these texts used to be
500s (NUL in text and jsonb, lone surrogates anywhere), while SQLite stored them silently.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from annotator.errors import ValidationFailed
from annotator.models import Annotation, Assignment, AssignmentStatus, Review, Role, Snapshot
from annotator.services.assignments import (
    annotation_submit,
    assignment_claim_next,
    assignment_draft_save,
    assignment_skip,
)
from annotator.services.reviews import review_decide
from annotator.services.snapshots import snapshot_create
from annotator.text import all_storable, check_text, first_text_problem, text_problem, visible_length
from tests.factories import ComparisonFactory, ProjectFactory, full_ratings, member

HOSTILE = ["bad\x00text", "\ud800", "\udc00x", "ok \udfff"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("fine – ünïcødé 👍", None),
        ("a\x00b", "contains a NUL character (U+0000) at position 1"),
        ("\ud800", "contains a lone surrogate (U+D800) at position 0"),
        ("x\udc00x", "contains a lone surrogate (U+DC00) at position 1"),
    ],
)
def test_text_problem_names_nul_and_lone_surrogates(text: str, problem: str | None) -> None:
    assert text_problem(text) == problem
    assert all_storable(["fine", text]) is (problem is None)


def test_first_text_problem_walks_keys_values_and_lists() -> None:
    assert first_text_problem({"a": ["x", {"b": "y"}]}) is None
    assert first_text_problem({"a": ["x", {"b": "y\x00"}]}, "metadata") == (
        "metadata.a[1].b",
        "contains a NUL character (U+0000) at position 1",
    )
    assert first_text_problem({"\ud800": 1}) == ("\ud800", "contains a lone surrogate (U+D800) at position 0")


def test_check_text_refuses_with_the_field_and_never_alters() -> None:
    assert check_text("as sent\t", field="note") == "as sent\t"
    with pytest.raises(ValidationFailed) as caught:
        check_text("a\x00", field="skip_note")
    assert caught.value.extra["fields"]["skip_note"].startswith("The skip note contains a NUL character")


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("\u200b" * 40, 0),  # zero-width spaces
        ("\u200c\u200d\u2060\ufeff\u00ad" * 8, 0),  # joiners, word joiner, BOM, soft hyphen
        ("\u3164\u2800 \u115f" * 10, 0),  # Hangul filler and braille blank: letters that draw nothing
        ("e\u0301" * 5, 5),  # combining accents ride on their letter
        ("two   words\n\n", 9),  # whitespace runs count once, ends not at all
        ("a\u200bb", 2),
    ],
)
def test_visible_length_counts_what_a_reader_sees(text: str, length: int) -> None:
    assert visible_length(text) == length


# --- every service that stores a person's text ----------------------------------------------------------------


@pytest.fixture
def work(db: None) -> tuple[Any, Any, Assignment]:
    project = ProjectFactory(min_justification_length=10)
    ComparisonFactory(project=project)
    annotator = member(project)
    assignment = assignment_claim_next(project=project, annotator=annotator)
    assert assignment is not None
    return project, annotator, assignment


def _submit(project: Any, annotator: Any, assignment: Assignment, text: str) -> object:
    ratings = full_ratings(project)
    return annotation_submit(
        assignment=assignment,
        annotator=annotator,
        ratings_shown={"left": ratings["1"], "right": ratings["2"]},
        preference_strength=-1,
        justification=text,
    )


def _skip(project: Any, annotator: Any, assignment: Assignment, text: str) -> object:
    return assignment_skip(assignment=assignment, annotator=annotator, reason="other", note=text)


def _draft(project: Any, annotator: Any, assignment: Assignment, text: str) -> object:
    return assignment_draft_save(assignment=assignment, annotator=annotator, draft={"justification": text})


def _snapshot(project: Any, annotator: Any, assignment: Assignment, text: str) -> object:
    return snapshot_create(project=project, user=member(project, Role.LEAD), name=text)


def _review(project: Any, annotator: Any, assignment: Assignment, text: str) -> object:
    _submit(project, annotator, assignment, "@Response 1 is better than @Response 2.")
    return review_decide(
        annotation=Annotation.objects.get(assignment=assignment),
        reviewer=member(project, Role.LEAD),
        decision="reject",
        reason=text,
    )


WRITERS: dict[str, tuple[Callable[..., object], str]] = {
    "justification": (_submit, "justification"),
    "skip note": (_skip, "note"),
    "draft": (_draft, "justification"),
    "snapshot name": (_snapshot, "name"),
    "review reason": (_review, "reason"),
}


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize("writer", list(WRITERS))
@pytest.mark.django_db
def test_every_writer_refuses_unstorable_text_and_writes_nothing(
    work: tuple[Any, Any, Assignment], writer: str, text: str
) -> None:
    project, annotator, assignment = work
    write, field = WRITERS[writer]
    padded = f"@Response 1 is better than @Response 2. {text}"
    with pytest.raises(ValidationFailed) as caught:
        write(project, annotator, assignment, padded)
    assert field in caught.value.extra["fields"]
    assignment.refresh_from_db()
    assert assignment.status == (AssignmentStatus.SUBMITTED if writer == "review reason" else AssignmentStatus.RESERVED)
    assert assignment.draft == {} and assignment.skip_note == ""
    assert not Snapshot.objects.exists() and not Review.objects.exists()
    assert Annotation.objects.count() == (1 if writer == "review reason" else 0)

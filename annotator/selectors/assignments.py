"""Reads for the annotate page and API: one annotator's assignment, shown in its (possibly swapped) order.

Nothing here ever returns another annotator's work: blind annotation is a property of these reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Count, Q
from django.utils import timezone

from annotator.domain import PREFERENCE_STRENGTH_LABELS
from annotator.errors import NotFound
from annotator.models import Annotation, Assignment, AssignmentStatus, Attribute, Comparison, Project, Response
from annotator.selectors import hot_path
from annotator.shown_terms import justification_swap_terms, shown_from_response_terms

_MAX_ID = 2**63 - 1  # BigAutoField; a larger id in a URL is simply not found (never a database error)

# The annotate form's choices: the preference scale, read in shown terms ("Response 1" = the left one).
STRENGTH_CHOICES = PREFERENCE_STRENGTH_LABELS


def assignment_get_for_annotator(*, assignment_id: int, user: User | AnonymousUser) -> Assignment:
    """The assignment if ``user`` owns it; NotFound otherwise (another annotator's work does not exist for you)."""
    if not user.is_authenticated or not 0 < assignment_id <= _MAX_ID:
        raise NotFound("No such assignment.")
    found = hot_path.assignment_with_project(assignment_id=assignment_id, annotator_id=user.pk)
    if found is None:
        raise NotFound("No such assignment.")
    return found


def assignment_unfinished_for_annotator(
    *, project: Project, annotator: User, now: datetime | None = None
) -> Assignment | None:
    """What the annotator is working on in ``project``, without claiming anything: an assignment a lead returned,
    else their live reservation (an expired one comes back only through a claim, which renews it)."""
    now = now or timezone.now()
    unfinished = hot_path.assignment_unfinished(project_id=project.pk, annotator_id=annotator.pk)
    if unfinished is None or unfinished.status == AssignmentStatus.RETURNED:
        return unfinished
    return unfinished if unfinished.reserved_until is not None and unfinished.reserved_until >= now else None


@dataclass(frozen=True)
class Workspace:
    """Everything the annotate form shows, in shown terms (left / right, "Response 1" = left)."""

    assignment: Assignment
    project: Project
    comparison: Comparison
    turns: list[dict[str, str]]
    left: Response
    right: Response
    attributes: list[Attribute]
    # Form values to show: the draft, else (for a returned assignment) the rejected annotation, else nothing.
    values: dict[str, Any] = field(default_factory=dict)


def _values_from_annotation(annotation: Annotation, *, swapped: bool) -> dict[str, Any]:
    if annotation.preference_strength is None:
        return {}
    shown, strength = shown_from_response_terms(
        swapped=swapped, ratings=annotation.ratings, preference_strength=annotation.preference_strength
    )
    return {
        **shown,
        "preference_strength": strength,
        "justification": justification_swap_terms(annotation.justification, swapped=swapped),
        "flags": list(annotation.flags),
    }


def assignment_workspace(*, assignment: Assignment) -> Workspace:
    """Build the annotate form's content for ``assignment`` (a handful of queries)."""
    comparison, prompt, response_1, response_2 = hot_path.comparison_shown(comparison_id=assignment.comparison_id)
    left, right = (response_2, response_1) if assignment.swapped else (response_1, response_2)
    values: dict[str, Any] = dict(assignment.draft or {})
    if not values and assignment.status == AssignmentStatus.RETURNED:
        previous = Annotation.objects.filter(assignment=assignment, is_current=True).first()
        if previous is not None:
            values = _values_from_annotation(previous, swapped=assignment.swapped)
    turns = prompt.turns if isinstance(prompt.turns, list) else []
    return Workspace(
        assignment=assignment,
        project=comparison.project,
        comparison=comparison,
        turns=turns,
        left=left,
        right=right,
        attributes=hot_path.attributes(project_id=comparison.project.pk),
        values=values,
    )


@dataclass(frozen=True)
class AnnotatorProgress:
    submitted: int
    skipped: int
    reserved: int


def annotator_progress(*, project: Project, annotator: User, now: datetime | None = None) -> AnnotatorProgress:
    """How much of ``project`` this annotator has done (their own work only)."""
    now = now or timezone.now()
    row = Assignment.objects.filter(comparison__project=project, annotator=annotator).aggregate(
        submitted=Count("pk", filter=Q(status=AssignmentStatus.SUBMITTED)),
        skipped=Count("pk", filter=Q(status=AssignmentStatus.SKIPPED)),
        reserved=Count(
            "pk",
            filter=Q(status=AssignmentStatus.RETURNED) | Q(status=AssignmentStatus.RESERVED, reserved_until__gte=now),
        ),
    )
    return AnnotatorProgress(submitted=row["submitted"], skipped=row["skipped"], reserved=row["reserved"])

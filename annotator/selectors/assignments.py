"""Reads for the annotate page and API: one annotator's assignment, shown in its (possibly swapped) order.

Nothing here ever returns another annotator's work: blind annotation is a property of these reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Count, F, Q
from django.utils import timezone

from annotator.domain import INT64_MAX, PREFERENCE_STRENGTH_LABELS
from annotator.errors import NotFound
from annotator.models import (
    Annotation,
    Assignment,
    AssignmentStatus,
    Attribute,
    Comparison,
    Project,
    Response,
    Review,
)
from annotator.selectors import hot_path
from annotator.selectors.annotation_edits import annotation_edit_refusal
from annotator.shown_terms import justification_swap_terms, shown_from_response_terms

# The annotate form's choices: the preference scale, read in shown terms ("Response 1" = the left one).
STRENGTH_CHOICES = PREFERENCE_STRENGTH_LABELS


def assignment_get_for_annotator(*, assignment_id: int, user: User | AnonymousUser) -> Assignment:
    """The assignment if ``user`` owns it; NotFound otherwise (another annotator's work does not exist for you)."""
    if not user.is_authenticated or not 0 < assignment_id <= INT64_MAX:
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
    """``submitted`` of ``total``: what the annotator has done, plus what is still open to them (their unfinished
    work and the comparisons that still need annotators and that they never had). ``total_capped``: more are open
    than were counted (:data:`OPEN_COUNT_CAP`), so the page says "N+"."""

    submitted: int
    skipped: int
    reserved: int
    open: int = 0
    total_capped: bool = False

    @property
    def total(self) -> int:
        return self.submitted + self.reserved + self.open


# Counting what is still open reads the claim's index (comparison_claim_order) up to this many rows, so the count
# costs the same on a project of a million comparisons as on one of a thousand.
OPEN_COUNT_CAP = 1000


def _open_comparisons(*, project: Project, annotator: User) -> int:
    """How many comparisons (up to OPEN_COUNT_CAP + 1) still need annotators and were never this annotator's."""
    had = Assignment.objects.filter(annotator=annotator).values("comparison_id")
    needing = (
        Comparison.objects.filter(project=project)
        .alias(free=F("extra_annotators") - F("slots_taken"))
        .filter(free__gt=-project.overlap)
        .exclude(pk__in=had)
    )
    # No ORDER BY (the model's ordering would sort every match before the LIMIT): the index is read up to the cap.
    return needing.order_by().values("pk")[: OPEN_COUNT_CAP + 1].count()


def annotator_progress(*, project: Project, annotator: User, now: datetime | None = None) -> AnnotatorProgress:
    """How much of ``project`` this annotator has done (their own work only), and how much is open to them."""
    now = now or timezone.now()
    row = Assignment.objects.filter(comparison__project=project, annotator=annotator).aggregate(
        submitted=Count("pk", filter=Q(status=AssignmentStatus.SUBMITTED)),
        skipped=Count("pk", filter=Q(status=AssignmentStatus.SKIPPED)),
        reserved=Count(
            "pk",
            filter=Q(status=AssignmentStatus.RETURNED) | Q(status=AssignmentStatus.RESERVED, reserved_until__gte=now),
        ),
    )
    open_ = _open_comparisons(project=project, annotator=annotator)
    return AnnotatorProgress(
        submitted=row["submitted"],
        skipped=row["skipped"],
        reserved=row["reserved"],
        open=min(open_, OPEN_COUNT_CAP),
        total_capped=open_ > OPEN_COUNT_CAP,
    )


@dataclass(frozen=True)
class HistoryEntry:
    """One of the annotator's submissions as they saw it (shown terms)."""

    annotation: Annotation
    prompt: str
    strength_label: str
    review: str  # "accepted", "rejected" or "" (not reviewed)
    editable: bool


HISTORY_LENGTH = 20


def annotation_history_for_annotator(
    *, project: Project, annotator: User, limit: int = HISTORY_LENGTH
) -> list[HistoryEntry]:
    """The annotator's most recent current submissions in ``project``, newest first (three queries)."""
    annotations = list(
        Annotation.objects.filter(comparison__project=project, annotator=annotator, is_current=True, source="")
        .select_related("assignment", "comparison__prompt")
        .order_by("-created_at", "-id")[:limit]
    )
    reviews = dict(
        Review.objects.filter(annotation__in=annotations)
        .order_by("created_at")
        .values_list("annotation_id", "decision")
    )
    editable_pk = None
    if annotations:
        latest = annotations[0]
        latest.comparison.project = project
        if annotation_edit_refusal(annotation=latest, annotator=annotator) is None:
            editable_pk = latest.pk
    labels = dict(STRENGTH_CHOICES)
    entries = []
    for annotation in annotations:
        turns = annotation.comparison.prompt.turns if isinstance(annotation.comparison.prompt.turns, list) else []
        users = [t.get("content", "") for t in turns if isinstance(t, dict) and t.get("role") == "user"]
        strength = annotation.preference_strength
        if strength is not None and annotation.assignment.swapped:
            strength = -strength
        entries.append(
            HistoryEntry(
                annotation=annotation,
                prompt=str(users[-1]) if users else "",
                strength_label=labels.get(strength, "Not ratable") if strength is not None else "Not ratable",
                review={"accept": "accepted", "reject": "rejected"}.get(reviews.get(annotation.pk, ""), ""),
                editable=annotation.pk == editable_pk,
            )
        )
    return entries


def annotation_edit_values(*, annotation: Annotation) -> dict[str, Any]:
    """The annotation's answers in the shown terms of its assignment, to fill the edit form."""
    return _values_from_annotation(annotation, swapped=annotation.assignment.swapped)

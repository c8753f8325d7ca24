"""A data lead's review of an annotation: accept it, or reject it with a reason and send it back to its annotator.

A rejected annotation stays current (it still shows in the audit, marked rejected, and counts for nothing) until its
annotator resubmits; ``annotation_submit`` then supersedes it. The assignment goes back to the annotator's queue as
``returned``, with the reason in ``review_note`` so the workspace can show it above the comparison
(label-studio#7102: a rejection the annotator never sees teaches nothing).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.contrib.auth.models import User
from django.db import transaction

from annotator.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from annotator.models import Annotation, AssignmentStatus, Membership, Project, Review, ReviewDecision, Role
from annotator.services import locks
from annotator.services.agreement_counts import agreement_counts_refresh
from annotator.text import check_text

REASON_MAX_LENGTH = 2000


@transaction.atomic
def review_decide(*, annotation: Annotation, reviewer: User, decision: str, reason: str = "") -> Review:
    """Record a lead's decision on ``annotation``; a rejection returns the assignment to its annotator.

    Parameters
    ----------
    annotation : the annotation under review; it must be the current one of its assignment.
    reviewer : a lead of the annotation's project.
    decision : ``"accept"`` or ``"reject"``.
    reason : why; required to reject (it is what the annotator reads), optional to accept.

    Raises
    ------
    PermissionDenied : the reviewer is not a lead of the project.
    ValidationFailed : unknown decision, or a rejection without a reason.
    Conflict : the annotation was superseded, or the same decision is already its latest review.

    Accepting an annotation whose assignment was returned (the lead changed their mind before the annotator
    resubmitted) puts the assignment back to ``submitted`` and clears the note.
    """
    reason = check_text(reason or "", field="reason").strip()
    if decision not in ReviewDecision.values:
        raise ValidationFailed("Choose accept or reject.", extra={"fields": {"decision": "Choose accept or reject."}})
    if decision == ReviewDecision.REJECT and not reason:
        raise ValidationFailed(
            "Say why you reject it: the annotator will read the reason.",
            extra={"fields": {"reason": "A reason is required to reject."}},
        )
    if len(reason) > REASON_MAX_LENGTH:
        raise ValidationFailed(
            f"Keep the reason under {REASON_MAX_LENGTH} characters.",
            extra={"fields": {"reason": f"At most {REASON_MAX_LENGTH} characters."}},
        )
    review, project = _review_record(annotation=annotation, reviewer=reviewer, decision=decision, reason=reason)
    agreement_counts_refresh(project=project, comparison_ids=[annotation.comparison_id])
    return review


def _review_record(*, annotation: Annotation, reviewer: User, decision: str, reason: str) -> tuple[Review, Project]:
    """Write the review and move the assignment (the caller refreshes the agreement counts, after every review)."""
    # Lock the assignment (only: a review moves no slot, so the comparison stays unlocked, as the lock order in
    # annotator.services.locks allows): a concurrent resubmission (which supersedes this annotation) or a second
    # lead's decision waits here, and then sees the state it left.
    assignment = locks.assignment_lock(pk=annotation.assignment_id)
    project_id = assignment.comparison.project_id
    if not Membership.objects.filter(project_id=project_id, user=reviewer, role=Role.LEAD).exists():
        raise PermissionDenied("Only a lead of this project can review its annotations.")
    current = Annotation.objects.filter(pk=annotation.pk, is_current=True).exists()
    if not current:
        raise Conflict("This annotation was replaced by a newer one; review that one instead.")
    latest = Review.objects.filter(annotation=annotation).order_by("-created_at", "-id").first()
    if latest is not None and latest.decision == decision:
        already = "accepted" if decision == ReviewDecision.ACCEPT else "rejected"
        raise Conflict(f"This annotation is already {already}.")

    review = Review.objects.create(annotation=annotation, reviewer=reviewer, decision=decision, reason=reason)
    if decision == ReviewDecision.REJECT:
        assignment.status = AssignmentStatus.RETURNED
        assignment.review_note = reason
        assignment.save(update_fields=["status", "review_note", "updated_at"])
    elif assignment.status == AssignmentStatus.RETURNED:
        assignment.status = AssignmentStatus.SUBMITTED
        assignment.review_note = ""
        assignment.save(update_fields=["status", "review_note", "updated_at"])
    return review, assignment.comparison.project


REVIEW_BULK_MAX = 200
"""The most annotations one bulk accept takes (a page of the queue is far fewer)."""


@transaction.atomic
def review_bulk_accept(*, project: Project, annotation_ids: Sequence[int], reviewer: User) -> list[Review]:
    """Accept every annotation of ``annotation_ids`` in one transaction: all of them, or none.

    Annotations already accepted are left as they are (a bulk accept says "these are fine", which they already
    are); returned assignments go back to ``submitted`` as with :func:`review_decide`. Assignments are locked in
    id order, so two bulk accepts over overlapping sets cannot deadlock.

    Returns the reviews written (the already-accepted ones write none).

    Raises
    ------
    ValidationFailed : no annotation chosen, or more than :data:`REVIEW_BULK_MAX`.
    PermissionDenied : the reviewer is not a lead of ``project``.
    NotFound : an id is not an annotation of ``project``.
    Conflict : an annotation was superseded by a newer one (nothing is accepted).
    """
    ids = sorted(set(annotation_ids))
    if not ids:
        raise ValidationFailed(
            "Tick the annotations to accept first.", extra={"fields": {"annotation": "Choose at least one."}}
        )
    if len(ids) > REVIEW_BULK_MAX:
        raise ValidationFailed(
            f"Accept at most {REVIEW_BULK_MAX} annotations at once.",
            extra={"fields": {"annotation": f"At most {REVIEW_BULK_MAX}."}},
        )
    if not Membership.objects.filter(project=project, user=reviewer, role=Role.LEAD).exists():
        raise PermissionDenied("Only a lead of this project can review its annotations.")
    annotations = list(Annotation.objects.filter(pk__in=ids, comparison__project=project).order_by("assignment_id"))
    if len(annotations) != len(ids):
        raise NotFound("Some of these annotations are not in this project.")
    latest = _latest_decisions(ids)
    reviews = [
        _review_record(annotation=annotation, reviewer=reviewer, decision=ReviewDecision.ACCEPT, reason="")[0]
        for annotation in annotations
        if latest.get(annotation.pk) != ReviewDecision.ACCEPT
    ]
    if reviews:  # once, after every assignment lock: the counts' lock is the last of the lock order
        agreement_counts_refresh(project=project, comparison_ids=[r.annotation.comparison_id for r in reviews])
    return reviews


def _latest_decisions(annotation_ids: Sequence[int]) -> dict[int, str]:
    latest: dict[int, str] = {}
    for annotation_id, decision in (
        Review.objects.filter(annotation_id__in=annotation_ids)
        .order_by("annotation_id", "-created_at", "-id")
        .values_list("annotation_id", "decision")
    ):
        latest.setdefault(annotation_id, decision)
    return latest

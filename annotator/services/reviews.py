"""A data lead's review of an annotation: accept it, or reject it with a reason and send it back to its annotator.

A rejected annotation stays current (it still shows in the audit, marked rejected, and counts for nothing) until its
annotator resubmits; ``annotation_submit`` then supersedes it. The assignment goes back to the annotator's queue as
``returned``, with the reason in ``review_note`` so the workspace can show it above the comparison
(label-studio#7102: a rejection the annotator never sees teaches nothing).
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from annotator.errors import Conflict, PermissionDenied, ValidationFailed
from annotator.models import Annotation, AssignmentStatus, Membership, Review, ReviewDecision, Role
from annotator.services import locks
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
    return review

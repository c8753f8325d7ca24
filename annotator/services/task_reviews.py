"""A lead's review of a feedback, edit or edit-quality result: accept it, or reject it with a reason and send it back
to its annotator (as :mod:`annotator.services.reviews` does for annotations)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from annotator.errors import Conflict, PermissionDenied, ValidationFailed
from annotator.models import AssignmentStatus, Membership, ReviewDecision, Role, TaskResult, TaskReview
from annotator.services import locks
from annotator.services.reviews import REASON_MAX_LENGTH
from annotator.text import check_text


@transaction.atomic
def task_result_review(*, result: TaskResult, reviewer: User, decision: str, reason: str = "") -> TaskReview:
    """Record a lead's decision on ``result``; a rejection returns the assignment to its annotator with the reason.

    Raises PermissionDenied (not a lead), ValidationFailed (unknown decision, a rejection without a reason, an
    imported result), Conflict (superseded, or the same decision already the latest).
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
    if result.assignment_id is None:
        raise ValidationFailed("Imported results are not reviewed.")
    assignment = locks.task_assignment_lock(pk=result.assignment_id)
    if not Membership.objects.filter(project_id=assignment.unit.project_id, user=reviewer, role=Role.LEAD).exists():
        raise PermissionDenied("Only a lead of this project can review its results.")
    if not TaskResult.objects.filter(pk=result.pk, is_current=True).exists():
        raise Conflict("This result was replaced by a newer one; review that one instead.")
    latest = TaskReview.objects.filter(result=result).order_by("-created_at", "-id").first()
    if latest is not None and latest.decision == decision:
        raise Conflict(f"This result is already {'accepted' if decision == ReviewDecision.ACCEPT else 'rejected'}.")
    review = TaskReview.objects.create(result=result, reviewer=reviewer, decision=decision, reason=reason)
    if decision == ReviewDecision.REJECT:
        assignment.status, assignment.review_note = AssignmentStatus.RETURNED, reason
        assignment.save(update_fields=["status", "review_note", "updated_at"])
    elif assignment.status == AssignmentStatus.RETURNED:
        assignment.status, assignment.review_note = AssignmentStatus.SUBMITTED, ""
        assignment.save(update_fields=["status", "review_note", "updated_at"])
    return review

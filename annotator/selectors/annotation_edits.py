"""Whether an annotator may still edit a submission: only their last one, and only while no snapshot holds it.

A snapshot reads the project's current annotations when it is built, so an annotation created before a snapshot
(pending, building or ready; a failed one holds nothing) may be in it: editing it then would make the released data
and the database disagree. An annotation a lead has reviewed is not edited either (the review would then judge a
text it never saw); a rejected one comes back through the annotate page instead.
"""

from __future__ import annotations

from django.contrib.auth.models import User

from annotator.domain import INT64_MAX
from annotator.errors import NotFound
from annotator.models import Annotation, AssignmentStatus, Project, Review, Snapshot, SnapshotStatus


def annotation_get_own_current(*, annotation_id: int, annotator: User) -> Annotation:
    """``annotator``'s own current annotation ``annotation_id`` (by people only) with its assignment, comparison and
    project; NotFound for anybody else's, a superseded or imported one, or an id no table holds."""
    found = (
        Annotation.objects.filter(pk=annotation_id, annotator=annotator, is_current=True, source="")
        .select_related("assignment__comparison__project")
        .first()
        if 0 < annotation_id <= INT64_MAX
        else None
    )
    if found is None:
        raise NotFound("No such submission.")
    return found


def annotation_last_for_annotator(*, project: Project, annotator: User) -> Annotation | None:
    """The annotator's most recent current annotation in ``project`` (by people only)."""
    return (
        Annotation.objects.filter(comparison__project=project, annotator=annotator, is_current=True, source="")
        .select_related("assignment")
        .order_by("-created_at", "-id")
        .first()
    )


def annotation_edit_refusal(*, annotation: Annotation, annotator: User) -> str | None:
    """Why ``annotator`` may not edit ``annotation`` now, in words for them; None when they may."""
    project = annotation.comparison.project
    if annotation.annotator_id != annotator.pk or annotation.source:
        return "Only your own submissions can be edited."
    if not annotation.is_current:
        return "This is an earlier version; only the current one can be edited."
    if annotation.assignment.status != AssignmentStatus.SUBMITTED:
        return "This comparison is not in a submitted state; open it from the annotate page."
    last = annotation_last_for_annotator(project=project, annotator=annotator)
    if last is None or last.pk != annotation.pk:
        return "Only your last submission can be edited."
    if Review.objects.filter(annotation=annotation).exists():
        return "A lead has already reviewed this submission."
    in_snapshot = (
        Snapshot.objects.filter(project=project, created_at__gte=annotation.created_at)
        .exclude(status=SnapshotStatus.FAILED)
        .exists()
    )
    if in_snapshot:
        return "This submission is already in a snapshot; it can no longer change."
    return None

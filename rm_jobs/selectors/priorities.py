"""Reads for active collection: a project's priority scorings and the jobs that may score."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from annotator.errors import NotFound
from annotator.models import Project
from annotator.selectors.projects import project_get_for_role
from rm_jobs.models import JobStatus, PriorityScoring, TrainingJob
from rm_jobs.selectors.jobs import JOB_ROLES


def priority_scoring_list(*, project: Project) -> QuerySet[PriorityScoring]:
    """The project's scorings, newest first, with job and author in the same query."""
    return PriorityScoring.objects.filter(project=project).select_related("job", "created_by")


def priority_scoring_get_for_role(
    *, scoring_id: int, user: User | AnonymousUser, roles: frozenset[str] = JOB_ROLES
) -> PriorityScoring:
    """The scoring if ``user`` holds one of ``roles`` in its project (non-member: NotFound; other role:
    PermissionDenied)."""
    scoring = PriorityScoring.objects.select_related("project", "job", "created_by").filter(id=scoring_id).first()
    if scoring is None:
        raise NotFound("No such priority scoring.")
    project_get_for_role(slug=scoring.project.slug, user=user, roles=set(roles))
    return scoring


def scoring_jobs(*, project: Project) -> QuerySet[TrainingJob]:
    """The project's succeeded jobs with a model (those a scoring may use), newest first."""
    return (
        TrainingJob.objects.filter(project=project, status=JobStatus.SUCCEEDED)
        .exclude(checkpoint_path="")
        .select_related("snapshot")
        .defer("log", "config")
        .order_by("-created_at", "-id")
    )

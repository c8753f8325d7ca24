"""A project's landing page (what this user can do here, by role) and its guidelines page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from annotator.domain import GUIDELINE_TASK_TYPES
from annotator.models import Role
from annotator.selectors.assignments import annotator_progress
from annotator.selectors.projects import project_roles
from annotator.views import access_project, request_user


@login_required
@require_GET
def project_home(request: HttpRequest, slug: str) -> HttpResponse:
    """Links by role: Annotate (annotators), the lead's pages (leads), snapshots and jobs (researchers)."""
    user = request_user(request)
    project = access_project(request, slug)
    roles = project_roles(project=project, user=user)
    progress = annotator_progress(project=project, annotator=user) if Role.ANNOTATOR in roles else None
    context = {
        "project": project,
        "roles": roles,
        "is_annotator": Role.ANNOTATOR in roles,
        "is_lead": Role.LEAD in roles,
        "is_researcher": Role.RESEARCHER in roles,
        "progress": progress,
    }
    return render(request, "annotator/project.html", context)


@login_required
@require_GET
def project_guidelines(request: HttpRequest, slug: str) -> HttpResponse:
    """The project's guidelines and each task type's, on a page of their own: one click (or the ``?`` key) from
    every task page."""
    project = access_project(request, slug)
    saved = project.task_guidelines or {}
    sections = [(label, saved[name]) for name, label in GUIDELINE_TASK_TYPES if saved.get(name)]
    return render(request, "annotator/guidelines.html", {"project": project, "sections": sections})

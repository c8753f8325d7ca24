"""A lead's page for the feedback, edit and edit-quality results: the latest ones with accept / reject (a rejection
sends the task back to its annotator with the reason), and the agreement where it means something."""

from __future__ import annotations

import math

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from annotator.errors import ApplicationError
from annotator.models import Role, TaskType
from annotator.selectors.task_units import (
    edit_choice_alpha,
    feedback_helpfulness_alpha,
    task_result_get_for_lead,
    task_results_for_review,
)
from annotator.services.edit_quality import edit_quality_units_create_from_reviews
from annotator.services.edits import edit_units_create_from_feedback
from annotator.services.task_reviews import task_result_review
from annotator.text_diff import word_diff
from annotator.views import HtmxHttpRequest, access_project, request_user


@login_required
@require_GET
def lead_task_results(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    project = access_project(request, slug, {Role.LEAD})
    alpha = float("nan")
    alpha_label = ""
    if project.task_type == TaskType.FEEDBACK:
        alpha = feedback_helpfulness_alpha(project=project)
        alpha_label = "Ordinal alpha of the feedback's helpfulness opening (with the responses' helpfulness ratings)"
    elif project.task_type == TaskType.EDIT_QUALITY:
        alpha = edit_choice_alpha(project=project)
        alpha_label = "Nominal alpha of the edit choice"
    context = {
        "project": project,
        # Edits are shown as their diff against the original (server-rendered, escaped by the template).
        "rows": [
            (r, word_diff(r.unit.response_1.text, r.text) if project.task_type == TaskType.EDIT else None)
            for r in task_results_for_review(project=project)
        ],
        "alpha": None if math.isnan(alpha) else alpha,
        "alpha_label": alpha_label,
    }
    return render(request, "annotator/lead/task_results.html", context)


@login_required
@require_POST
def lead_task_units_create(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """Make this project's units from another project's work (a plain form post, ``source`` = its slug): edit tasks
    from a feedback project's feedback, edit-quality tasks from an edit project's accepted and rejected edits."""
    project = access_project(request, slug, {Role.LEAD})
    try:
        source = access_project(request, request.POST.get("source", ""), {Role.LEAD})
        if project.task_type == TaskType.EDIT_QUALITY:
            made = edit_quality_units_create_from_reviews(project=project, source=source, lead=request_user(request))
        else:
            made = edit_units_create_from_feedback(project=project, source=source, lead=request_user(request))
    except ApplicationError as exc:
        if exc.status >= 500:
            raise
        messages.error(request, exc.message)
    else:
        messages.info(request, f"{len(made)} new tasks from {source.name}.")
    return redirect(reverse("annotator:lead_task_results", kwargs={"slug": project.slug}))


@login_required
@require_POST
def lead_task_review(request: HtmxHttpRequest, slug: str, result_id: int) -> HttpResponse:
    """Accept or reject one result (a plain form post); the message says what happened, or why not."""
    project = access_project(request, slug, {Role.LEAD})
    result = task_result_get_for_lead(project=project, result_id=result_id)
    try:
        task_result_review(
            result=result,
            reviewer=request_user(request),
            decision=request.POST.get("decision", ""),
            reason=request.POST.get("reason", ""),
        )
    except ApplicationError as exc:
        if exc.status >= 500:
            raise
        messages.error(request, exc.message)
    else:
        messages.info(request, "Review saved.")
    return redirect(reverse("annotator:lead_task_results", kwargs={"slug": project.slug}))

"""The LLM judge, as pages for leads and researchers: attach the judge (leads), run it (leads), read its drafts and
the calibration report with charts. Annotators never reach these pages (403), and no annotator page reads a draft.
Plain forms posting to the page, which redirects back with a message (POST/redirect/GET)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotator.errors import ApplicationError
from annotator.forms import add_service_errors
from annotator.llm.judge import DEFAULT_TEMPLATE, PLACEHOLDERS
from annotator.models import JudgeRunStatus, Project, Role
from annotator.selectors.judge import (
    JUDGE_ROLES,
    calibration_as_dict,
    judge_calibration,
    judge_draft_list,
    judge_get,
    judge_run_get,
    judge_run_list,
)
from annotator.selectors.model_endpoints import model_endpoint_get_for_project, model_endpoint_list
from annotator.selectors.projects import project_roles
from annotator.services.judge import judge_run_create, judge_save
from annotator.views import HtmxHttpRequest, access_project, render_page, request_user

MANAGE = {Role.LEAD}
DRAFTS_SHOWN = 200
RUNS_SHOWN = 10
_ACTIVE = (JudgeRunStatus.QUEUED, JudgeRunStatus.RUNNING)


class JudgeForm(forms.Form):
    endpoint = forms.TypedChoiceField(coerce=int, label="Endpoint")
    template = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 16, "class": "mono"}),
        initial=DEFAULT_TEMPLATE,
        help_text="Placeholders: " + ", ".join(f"{{{p}}}" for p in sorted(PLACEHOLDERS)) + "; {{ }} for braces.",
    )

    def __init__(self, *args: Any, project: Project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["endpoint"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [(e.pk, f"{e.name} · {e.model_id}") for e in model_endpoint_list(project=project)]


def _context(project: Project, request: HtmxHttpRequest, form: JudgeForm | None = None) -> dict[str, Any]:
    """The page's context; the htmx poll (the runs table only) skips the drafts and the calibration."""
    judge = judge_get(project=project)
    runs = list(judge_run_list(project=project)[:RUNS_SHOWN])
    run = None if request.htmx else judge_run_get(project=project)
    initial = {"endpoint": judge.endpoint_id, "template": judge.template} if judge else {}
    return {
        "project": project,
        "judge": judge,
        "form": form or JudgeForm(initial=initial, project=project),
        "can_manage": bool(project_roles(project=project, user=request_user(request)) & MANAGE),
        "runs": runs,
        "any_active": any(r.status in _ACTIVE for r in runs),
        "run": run,
        "drafts": list(judge_draft_list(run=run)[:DRAFTS_SHOWN]) if run else [],
        "report": judge_calibration(run=run) if run else None,
    }


@login_required
@require_http_methods(["GET", "POST"])
def judge_page(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """The judge of the project: its configuration, runs, latest drafts and calibration (the runs table polls while
    a run is active)."""
    project = access_project(request, slug, JUDGE_ROLES)
    if request.method == "POST":
        project = access_project(request, slug, MANAGE)
        form = JudgeForm(request.POST, project=project)
        if form.is_valid():
            try:
                endpoint = model_endpoint_get_for_project(project=project, endpoint_id=form.cleaned_data["endpoint"])
                judge_save(project=project, endpoint=endpoint, template=form.cleaned_data["template"])
            except ApplicationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, "Judge saved.")
                return redirect("annotator:judge", slug=project.slug)
        return render_page(request, "annotator/judge.html", "annotator/partials/_judge_runs.html",
                           _context(project, request, form), status=400)  # fmt: skip
    return render_page(
        request, "annotator/judge.html", "annotator/partials/_judge_runs.html", _context(project, request)
    )


@login_required
@require_POST
def judge_run_launch(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    project = access_project(request, slug, MANAGE)
    try:
        run = judge_run_create(project=project, user=request_user(request))
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Judge run {run.pk} queued over {run.items_total} comparisons.")
    return redirect("annotator:judge", slug=project.slug)


@login_required
@require_GET
def judge_calibration_json(request: HtmxHttpRequest, slug: str) -> JsonResponse:
    """The calibration of the latest succeeded run, for the page's charts."""
    project = access_project(request, slug, JUDGE_ROLES)
    run = judge_run_get(project=project)
    if run is None:
        return JsonResponse({"run": None})
    report = judge_calibration(run=run)
    return JsonResponse(calibration_as_dict(report))

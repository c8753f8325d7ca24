"""The researcher's training pages: jobs list with the launch form, the job page (live chart, status, log, cancel,
checkpoint download, evaluations, disagreements), and the side-by-side table of objectives.

Function views; each page works as plain HTML forms, and for an htmx request a view answers with the partial the
page itself includes. Active jobs poll their partial (``hx-trigger="every 2s"``) and stop once they finish, because
the finished partial no longer carries the trigger. Researchers and leads only: non-members 404, annotators 403.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from annotator.errors import ApplicationError, Conflict, NotFound
from annotator.models import Project, Role
from annotator.services.projects import project_update
from annotator.storage import download_response
from annotator.views import HtmxHttpRequest, access_project, render_page, request_user
from rm_jobs.forms import (
    EvaluationForm,
    PriorityScoringForm,
    QueueOrderForm,
    ScoreForm,
    TrainingJobForm,
    add_service_errors,
)
from rm_jobs.models import EvaluationStatus, JobStatus, TrainingJob
from rm_jobs.selectors.jobs import (
    JOB_ROLES,
    evaluation_get,
    job_evaluations,
    ready_snapshots,
    training_job_comparison,
    training_job_curves,
    training_job_in_project,
    training_job_list,
    training_job_series,
)
from rm_jobs.selectors.priorities import priority_scoring_list, scoring_jobs
from rm_jobs.selectors.workers import queue_has_live_worker, queue_no_worker_message
from rm_jobs.services.evaluations import disagreements_send_to_review, evaluation_create, evaluation_results_key
from rm_jobs.services.jobs import (
    training_job_cancel,
    training_job_checkpoint_zip,
    training_job_create,
)
from rm_jobs.services.priorities import priority_scoring_create
from rm_jobs.services.scoring import reward_model_score


def _job(project: Project, job_id: int) -> TrainingJob:
    return training_job_in_project(project=project, job_id=job_id)


def _job_url(job: TrainingJob) -> str:
    return reverse("rm_jobs:job_detail", kwargs={"slug": job.project.slug, "job_id": job.id})


# --- list and launch -------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def jobs_list(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """The project's jobs (the table polls while any is active) and the form that launches one."""
    project = access_project(request, slug, JOB_ROLES)
    snapshots = ready_snapshots(project=project)
    form = TrainingJobForm(request.POST or None, snapshots=snapshots)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                job = training_job_create(
                    snapshot=form.cleaned_data["snapshot"],
                    user=request_user(request),
                    objective=form.cleaned_data["objective"],
                    base_model=form.cleaned_data["base_model"],
                    queue=form.cleaned_data["queue"],
                    hyperparameters=form.hyperparameters(),
                    **form.devices(),
                )
            except ApplicationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"Job {job.id} queued on '{job.queue}'.")
                if not queue_has_live_worker(queue=job.queue):
                    messages.warning(request, queue_no_worker_message(queue=job.queue))
                job.project = project
                if request.htmx:
                    return HttpResponseClientRedirect(_job_url(job))
                return redirect(_job_url(job))
        status = 400
        if request.htmx:
            return render(request, "rm_jobs/partials/_job_form.html", {"project": project, "form": form}, status=status)
    jobs = list(training_job_list(project=project))
    context = {
        "project": project,
        "form": form,
        "jobs": jobs,
        "any_active": any(j.is_active for j in jobs),
        "has_snapshots": snapshots.exists(),
    }
    return render_page(request, "rm_jobs/jobs.html", "rm_jobs/partials/_jobs_table.html", context, status=status)


# --- one job ---------------------------------------------------------------------------------------------------


def _job_context(project: Project, job: TrainingJob, **extra: Any) -> dict[str, Any]:
    evaluations = list(job_evaluations(job=job))
    stages = job.config.get("stages", [])
    percent = 0
    if job.total_steps:
        done = job.stage + job.step / job.total_steps
        percent = round(100 * done / max(1, len(stages)))
    return {
        "project": project,
        "job": job,
        "stages": stages,
        "percent": min(100, percent),
        "evaluations": evaluations,
        "no_worker": queue_no_worker_message(queue=job.queue)
        if job.status == JobStatus.QUEUED and not queue_has_live_worker(queue=job.queue)
        else "",
        "evaluation_form": extra.pop("evaluation_form", None)
        or EvaluationForm(snapshots=ready_snapshots(project=project)),
        **extra,
    }


@login_required
@require_GET
def job_detail(request: HtmxHttpRequest, slug: str, job_id: int) -> HttpResponse:
    """The job page; for htmx polling, its status partial (which stops polling once the job finished)."""
    project = access_project(request, slug, JOB_ROLES)
    job = _job(project, job_id)
    # The polled partial carries the evaluations too (out of band): they appear when the job finishes.
    return render_page(request, "rm_jobs/job.html", "rm_jobs/partials/_job_poll.html", _job_context(project, job))


@login_required
@require_GET
def job_metrics(request: HtmxHttpRequest, slug: str, job_id: int) -> JsonResponse:
    """The chart's data (static/js/jobs.js polls it while the job is active)."""
    project = access_project(request, slug, JOB_ROLES)
    return JsonResponse(training_job_series(job=_job(project, job_id)))


@login_required
@require_POST
def job_cancel(request: HtmxHttpRequest, slug: str, job_id: int) -> HttpResponse:
    """Cancel once confirmed: htmx asks first (hx-confirm) and sends ``confirm``; a plain post without it gets a
    confirmation page."""
    project = access_project(request, slug, JOB_ROLES)
    job = _job(project, job_id)
    if request.POST.get("confirm") != "yes":
        return render(request, "rm_jobs/job_cancel_confirm.html", {"project": project, "job": job})
    try:
        job = training_job_cancel(job=job, user=request_user(request))
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.info(
            request, "Cancelled." if job.status == "cancelled" else "Cancel requested: the job stops at its next step."
        )
    if request.htmx:
        job.refresh_from_db()
        return render(request, "rm_jobs/partials/_job_status.html", _job_context(project, job))
    return redirect(_job_url(job))


@login_required
@require_http_methods(["GET", "POST"])
def job_score(request: HtmxHttpRequest, slug: str, job_id: int) -> HttpResponse:
    """Score a prompt and responses with a succeeded job's model: the score API's service, as a form. A refused
    input (or a job that cannot score) is shown in place with its 4xx status; nothing is kept."""
    project = access_project(request, slug, JOB_ROLES)
    job = _job(project, job_id)
    form = ScoreForm(request.POST or None)
    result, status = None, 200
    if request.method == "POST":
        if form.is_valid():
            try:
                result = reward_model_score(
                    job=job, prompt=form.cleaned_data["prompt"], responses=form.cleaned_data["responses"]
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
                status = exc.status
        else:
            status = 400
    rows = []
    if result is not None:
        responses = form.cleaned_data["responses"]
        outputs = result.outputs or [{} for _ in responses]
        rows = [
            {"index": i + 1, "response": text, "reward": reward, "tokens": tokens, "outputs": out}
            for i, (text, reward, tokens, out) in enumerate(
                zip(responses, result.rewards, result.num_tokens, outputs, strict=True)
            )
        ]
    context = {"project": project, "job": job, "form": form, "result": result, "rows": rows}
    return render(request, "rm_jobs/job_score.html", context, status=status)


@login_required
@require_GET
def job_checkpoint(request: HtmxHttpRequest, slug: str, job_id: int) -> HttpResponseBase:
    """The model zip: streamed from the filesystem, or 302 to a presigned URL of the object store (after the role
    check). A store that is down lets StorageUnavailable through: the error page says so (503)."""
    project = access_project(request, slug, JOB_ROLES)
    job = _job(project, job_id)
    try:
        key = training_job_checkpoint_zip(job=job)
    except (Conflict, NotFound) as exc:
        raise Http404(exc.message) from exc
    return download_response(key, filename=f"reward-model-job-{job.id}.zip", content_type="application/zip")


@login_required
@require_POST
def evaluation_new(request: HtmxHttpRequest, slug: str, job_id: int) -> HttpResponse:
    """Evaluate the job's model on another snapshot's validation split or an uploaded RewardBench file."""
    project = access_project(request, slug, JOB_ROLES)
    job = _job(project, job_id)
    form = EvaluationForm(request.POST, request.FILES, snapshots=ready_snapshots(project=project))
    status = 200
    if form.is_valid():
        try:
            evaluation_create(
                job=job,
                user=request_user(request),
                snapshot=form.cleaned_data.get("snapshot"),
                reward_bench_file=form.cleaned_data.get("file"),
                benchmark=form.cleaned_data.get("benchmark") or "auto",
            )
        except ApplicationError as exc:
            add_service_errors(form, exc)
            status = 400
        else:
            messages.success(request, "Evaluation queued.")
            if not request.htmx:
                return redirect(_job_url(job))
            form = EvaluationForm(snapshots=ready_snapshots(project=project))
    else:
        status = 400
    if not request.htmx:
        return render(request, "rm_jobs/job.html", _job_context(project, job, evaluation_form=form), status=status)
    return render(
        request,
        "rm_jobs/partials/_job_evaluations.html",
        _job_context(project, job, evaluation_form=form),
        status=status,
    )


@login_required
@require_GET
def evaluation_results(request: HtmxHttpRequest, slug: str, job_id: int, evaluation_id: int) -> HttpResponseBase:
    """A benchmark evaluation's results JSON, as the benchmark's own scripts write it."""
    project = access_project(request, slug, JOB_ROLES)
    evaluation = evaluation_get(evaluation_id=evaluation_id, job=_job(project, job_id))
    key = evaluation_results_key(evaluation=evaluation)  # NotFound: the middleware answers 404
    filename = f"evaluation-{evaluation.id}-{evaluation.kind}.json"
    return download_response(key, filename=filename, content_type="application/json")


@login_required
@require_POST
def evaluation_review(request: HtmxHttpRequest, slug: str, job_id: int, evaluation_id: int) -> HttpResponse:
    """Send the checked disagreements (all listed ones when none is checked) to the leads' review."""
    project = access_project(request, slug, JOB_ROLES)
    job = _job(project, job_id)
    evaluation = evaluation_get(evaluation_id=evaluation_id, job=job)
    ids = [int(v) for v in request.POST.getlist("comparison") if v.isdigit()]
    try:
        created = disagreements_send_to_review(
            evaluation=evaluation,
            user=request_user(request),
            comparison_ids=ids or None,
            reason=request.POST.get("reason", ""),
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{len(created)} comparison(s) sent to the leads' review.")
    if request.htmx:
        return render(request, "rm_jobs/partials/_job_evaluations.html", _job_context(project, job))
    return redirect(_job_url(job))


# --- comparison of objectives ----------------------------------------------------------------------------------


@login_required
@require_GET
def jobs_compare(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """Succeeded jobs side by side on one snapshot's validation split (the paper's table of objectives), with their
    loss and validation-accuracy curves overlaid."""
    project = access_project(request, slug, JOB_ROLES)
    raw = request.GET.get("snapshot", "")
    table = training_job_comparison(project=project, snapshot_id=int(raw) if raw.isdigit() else None)
    curves = training_job_curves(jobs=[row.job for row in table.rows])
    context = {"project": project, "table": table, "curves": curves}
    return render_page(request, "rm_jobs/compare.html", "rm_jobs/partials/_compare_table.html", context)


# --- active collection -----------------------------------------------------------------------------------------

PRIORITY_SCORINGS_SHOWN = 20
ACTIVE_SCORING = (EvaluationStatus.QUEUED, EvaluationStatus.RUNNING)


def _priorities_context(project: Project, **forms_: Any) -> dict[str, Any]:
    scorings = list(priority_scoring_list(project=project)[:PRIORITY_SCORINGS_SHOWN])
    return {
        "project": project,
        "scorings": scorings,
        "any_active": any(s.status in ACTIVE_SCORING for s in scorings),
        "form": forms_.get("form") or PriorityScoringForm(jobs=scoring_jobs(project=project)),
        "order_form": forms_.get("order_form") or QueueOrderForm(initial={"queue_order": project.queue_order}),
    }


@login_required
@require_http_methods(["GET", "POST"])
def priorities(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """Active collection: the project's queue order, its priority scorings (the table polls while one runs) and
    the form that queues one."""
    project = access_project(request, slug, JOB_ROLES)
    form = PriorityScoringForm(request.POST or None, jobs=scoring_jobs(project=project))
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                scoring = priority_scoring_create(
                    project=project,
                    signal=form.cleaned_data["signal"],
                    job=form.cleaned_data["job"],
                    user=request_user(request),
                )
            except ApplicationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"Priority scoring {scoring.id} queued.")
                return redirect("rm_jobs:priorities", slug=project.slug)
        status = 400
    context = _priorities_context(project, form=form)
    return render_page(
        request, "rm_jobs/priorities.html", "rm_jobs/partials/_priority_scorings.html", context, status=status
    )


@login_required
@require_POST
def priorities_order(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """Set the project's queue order (a project setting: leads only)."""
    project = access_project(request, slug, {Role.LEAD})
    form = QueueOrderForm(request.POST)
    if form.is_valid():
        try:
            project_update(project=project, queue_order=form.cleaned_data["queue_order"])
        except ApplicationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Queue order: {project.get_queue_order_display()}.")
            return redirect("rm_jobs:priorities", slug=project.slug)
    context = _priorities_context(project, order_form=form)
    return render(request, "rm_jobs/priorities.html", context, status=400)

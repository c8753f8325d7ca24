"""Models in the loop, as pages: the model endpoints (leads manage them, researchers read them) and generation runs
(leads launch, cancel and resume them; researchers read them). The run page polls its status partial with htmx while
the run is active. Plain forms posting to the page, which redirects back with a message (POST/redirect/GET)."""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotator.domain import INT64_MAX, SCOPE_MAX_LENGTH, scope_clean
from annotator.errors import ApplicationError, ValidationFailed
from annotator.forms import add_service_errors
from annotator.llm.client import SAMPLING_KEYS
from annotator.models import GenerationRun, GenerationRunStatus, ModelEndpoint, Project, Role
from annotator.selectors.generation import (
    generation_item_failures,
    generation_prompts_select,
    generation_run_get_in_project,
    generation_run_list,
    generation_sources,
)
from annotator.selectors.model_endpoints import model_endpoint_get_for_project, model_endpoint_list
from annotator.services import generation as generation_services
from annotator.services import model_endpoints as endpoint_services
from annotator.services.generation import MAX_CONTINUATION_TURNS
from annotator.services.model_endpoints import KEY_ENV_PREFIX
from annotator.views import HtmxHttpRequest, access_project, render_page, request_user

MANAGE = {Role.LEAD}
READ = {Role.LEAD, Role.RESEARCHER}
_ACTIVE = (GenerationRunStatus.PENDING, GenerationRunStatus.RUNNING)


class ModelEndpointForm(forms.Form):
    name = forms.CharField(max_length=100)
    base_url = forms.URLField(label="Base URL", max_length=500, assume_scheme="https",
                              help_text="Where the OpenAI paths begin, e.g. https://api.example.com/v1.")  # fmt: skip
    model_id = forms.CharField(label="Model id", max_length=200)
    sampling = forms.CharField(
        label="Default sampling parameters (JSON)", required=False, initial="{}",
        help_text=f"An object with any of {', '.join(SAMPLING_KEYS)}.",
    )  # fmt: skip
    concurrency_limit = forms.IntegerField(min_value=1, max_value=endpoint_services.CONCURRENCY_MAX, initial=4)
    timeout_seconds = forms.IntegerField(min_value=1, max_value=endpoint_services.TIMEOUT_MAX_SECONDS, initial=60,
                                         help_text="Time limit of one attempt.")  # fmt: skip
    max_attempts = forms.IntegerField(min_value=1, max_value=endpoint_services.ATTEMPTS_MAX, initial=4,
                                      help_text="Attempts in all on 429, 5xx and timeouts.")  # fmt: skip
    api_key_env = forms.CharField(
        label="API key environment variable", required=False, max_length=100,
        help_text=f"The name of the workers' variable holding the key ({KEY_ENV_PREFIX}…); empty: no key.",
    )  # fmt: skip
    json_schema_output = forms.BooleanField(
        label="Accepts JSON-schema output", required=False,
        help_text="The server takes OpenAI's response_format json_schema; the judge then sends its answer schema "
        "there too. Leave off unless you know it does: many compatible servers refuse it.",
    )  # fmt: skip

    def clean_sampling(self) -> dict[str, Any]:
        raw = self.cleaned_data.get("sampling") or "{}"
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            raise forms.ValidationError("This is not JSON.") from None
        if not isinstance(value, dict):
            raise forms.ValidationError('Give a JSON object, e.g. {"temperature": 0.7}.')
        return value


_SELECTION_FILTERS = ("source", "domain", "language")
"""The selection's text filters (with prompt ids, what ``generation_prompts_select`` takes)."""


class GenerationRunForm(forms.Form):
    endpoints = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple, help_text="Two or more.")
    source = forms.ChoiceField(label="Prompts of an import", required=False)
    prompt_ids = forms.CharField(label="…or prompt ids", required=False, help_text="Separated by spaces or commas.")
    domain = forms.CharField(required=False, max_length=SCOPE_MAX_LENGTH, help_text="Only prompts of this domain.")
    language = forms.CharField(required=False, max_length=SCOPE_MAX_LENGTH, help_text="Only prompts of this language.")
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=0)
    pairs_per_prompt = forms.IntegerField(min_value=1, initial=1)
    continuation_turns = forms.IntegerField(min_value=0, max_value=MAX_CONTINUATION_TURNS, initial=0,
                                            help_text="Rounds (assistant, then user) generated before the final pair.")  # fmt: skip

    def __init__(self, *args: Any, project: Project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.endpoint_choices = list(model_endpoint_list(project=project))
        endpoints_field = self.fields["endpoints"]
        source_field = self.fields["source"]
        assert isinstance(endpoints_field, forms.ChoiceField)
        assert isinstance(source_field, forms.ChoiceField)
        endpoints_field.choices = [
            (str(e.pk), f"{e.name} · {e.model_id}{' (site)' if e.project_id is None else ''}")
            for e in self.endpoint_choices
        ]
        source_field.choices = [("", "—")] + [
            (source, f"{source} ({count} prompts)") for source, count in generation_sources(project=project)
        ]

    def clean_prompt_ids(self) -> list[int] | None:
        raw = self.cleaned_data.get("prompt_ids", "")
        parts = [p for p in re.split(r"[\s,]+", raw) if p]
        if not parts:
            return None
        if not all(p.isdigit() and int(p) <= INT64_MAX for p in parts):
            raise forms.ValidationError("Prompt ids are whole numbers.")
        return [int(p) for p in parts]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors and not any(data.get(k) for k in _SELECTION_FILTERS) and data.get("prompt_ids") is None:
            raise forms.ValidationError("Choose an import, a domain or a language, or list prompt ids.")
        return data


def _run_url(run: GenerationRun) -> str:
    return reverse("annotator:generation_run", kwargs={"slug": run.project.slug, "run_id": run.pk})


def _posted_id(request: HttpRequest, name: str) -> int:
    raw = request.POST.get(name, "")
    return int(raw) if raw.isdigit() and len(raw) < 19 else 0


def _can_manage(request: HttpRequest, project: Project) -> bool:
    """Whether the user may manage (a lead); readers get the same page without the forms."""
    try:
        access_project(request, project.slug, MANAGE)
    except ApplicationError:
        return False
    return True


@login_required
@require_http_methods(["GET", "POST"])
def model_endpoints(request: HttpRequest, slug: str) -> HttpResponse:
    """The endpoints the project may use (its own and the site's). Leads POST ``action`` = ``add`` (the form) or
    ``delete`` (``endpoint`` = its id); a refused field is shown in the form (400), nothing saved."""
    project = access_project(request, slug, READ)
    can_manage = _can_manage(request, project)
    form = ModelEndpointForm()
    if request.method == "POST":
        project = access_project(request, slug, MANAGE)
        action = request.POST.get("action", "")
        try:
            if action == "add":
                form = ModelEndpointForm(request.POST)
                if form.is_valid():
                    endpoint = endpoint_services.model_endpoint_create(project=project, **form.cleaned_data)
                    messages.success(request, f"Endpoint {endpoint.name} added.")
            elif action == "delete":
                endpoint = _own_endpoint(project, _posted_id(request, "endpoint"))
                endpoint_services.model_endpoint_delete(endpoint=endpoint)
                messages.success(request, f"Endpoint {endpoint.name} deleted.")
            else:
                raise ValidationFailed("Unknown action.")
        except ApplicationError as exc:
            if action == "add" and exc.extra.get("fields"):
                add_service_errors(form, exc)
            else:
                messages.error(request, exc.message)
        if not form.is_bound or not form.errors:
            return redirect(reverse("annotator:model_endpoints", kwargs={"slug": project.slug}))
    context = {
        "project": project,
        "form": form,
        "can_manage": can_manage,
        "endpoints": model_endpoint_list(project=project),
        "key_prefix": KEY_ENV_PREFIX,
    }
    return render(request, "annotator/model_endpoints.html", context, status=400 if form.errors else 200)


def _own_endpoint(project: Project, endpoint_id: int) -> ModelEndpoint:
    endpoint = model_endpoint_get_for_project(project=project, endpoint_id=endpoint_id)
    if endpoint.project_id is None:
        raise ValidationFailed("A site endpoint is managed by an administrator.")
    return endpoint


@login_required
@require_http_methods(["GET", "POST"])
def model_endpoint_edit(request: HttpRequest, slug: str, endpoint_id: int) -> HttpResponse:
    """Edit one of the project's endpoints (leads)."""
    project = access_project(request, slug, MANAGE)
    endpoint = _own_endpoint(project, endpoint_id)
    initial = {f: getattr(endpoint, f) for f in ModelEndpointForm.base_fields}
    initial["sampling"] = json.dumps(endpoint.sampling)
    form = ModelEndpointForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint_services.model_endpoint_update(endpoint=endpoint, **form.cleaned_data)
        except ApplicationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Endpoint {endpoint.name} saved.")
            return redirect(reverse("annotator:model_endpoints", kwargs={"slug": project.slug}))
    context = {"project": project, "endpoint": endpoint, "form": form, "key_prefix": KEY_ENV_PREFIX}
    return render(request, "annotator/model_endpoint_edit.html", context, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def generation_runs(request: HttpRequest, slug: str) -> HttpResponse:
    """The project's runs; leads launch one with the form (a refusal is shown in the form with 400)."""
    project = access_project(request, slug, READ)
    can_manage = _can_manage(request, project)
    form = GenerationRunForm(project=project)
    if request.method == "POST":
        project = access_project(request, slug, MANAGE)
        form = GenerationRunForm(request.POST, project=project)
        if form.is_valid():
            data = form.cleaned_data
            chosen = {str(e.pk): e for e in form.endpoint_choices}
            selection = {"prompt_ids": data["prompt_ids"], **{k: scope_clean(data[k]) for k in _SELECTION_FILTERS}}
            try:
                prompts = generation_prompts_select(project=project, **selection)
                run = generation_services.generation_run_create(
                    project=project,
                    user=request_user(request),
                    endpoints=[chosen[pk] for pk in data["endpoints"]],
                    prompts=prompts,
                    selection={k: v for k, v in selection.items() if v},
                    seed=data["seed"],
                    pairs_per_prompt=data["pairs_per_prompt"],
                    continuation_turns=data["continuation_turns"],
                )
            except ValidationFailed as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"Generation run {run.pk} launched on {run.items_total} prompts.")
                return redirect(_run_url(run))
    context = {"project": project, "form": form, "can_manage": can_manage, "runs": generation_run_list(project=project)}
    return render(request, "annotator/generation_runs.html", context, status=400 if form.errors else 200)


def _run_context(request: HttpRequest, project: Project, run: GenerationRun) -> dict[str, Any]:
    finished = run.items_done + run.items_failed
    return {
        "project": project,
        "run": run,
        "active": run.status in _ACTIVE,
        "can_manage": _can_manage(request, project),
        "finished_items": finished,
        "percent": round(100 * finished / run.items_total) if run.items_total else 0,
        "failures": generation_item_failures(run=run),
    }


@login_required
@require_GET
def generation_run(request: HtmxHttpRequest, slug: str, run_id: int) -> HttpResponse:
    """A run's page; for htmx polling, its status partial (which stops polling once the run ended)."""
    project = access_project(request, slug, READ)
    run = generation_run_get_in_project(project=project, run_id=run_id)
    return render_page(
        request, "annotator/generation_run.html", "annotator/partials/_generation_run_status.html",
        _run_context(request, project, run),
    )  # fmt: skip


@login_required
@require_POST
def generation_run_cancel(request: HtmxHttpRequest, slug: str, run_id: int) -> HttpResponse:
    """Cancel once confirmed: htmx asks first (hx-confirm) and sends ``confirm``; a plain post without it gets a
    confirmation page."""
    project = access_project(request, slug, MANAGE)
    run = generation_run_get_in_project(project=project, run_id=run_id)
    if request.POST.get("confirm") != "yes":
        return render(request, "annotator/generation_run_cancel_confirm.html", {"project": project, "run": run})
    try:
        run = generation_services.generation_run_cancel(run=run)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.info(request, f"Run {run.pk} cancelled; what it wrote stays.")
    return _after_action(request, project, run)


@login_required
@require_POST
def generation_run_resume(request: HtmxHttpRequest, slug: str, run_id: int) -> HttpResponse:
    """Run it again for what it lacks (failed and unfinished prompts)."""
    project = access_project(request, slug, MANAGE)
    run = generation_run_get_in_project(project=project, run_id=run_id)
    try:
        run = generation_services.generation_run_resume(run=run)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.info(request, f"Run {run.pk} resumed: it asks only for what is missing.")
    return _after_action(request, project, run)


def _after_action(request: HtmxHttpRequest, project: Project, run: GenerationRun) -> HttpResponse:
    if request.htmx:
        run = generation_run_get_in_project(project=project, run_id=run.pk)
        return render(request, "annotator/partials/_generation_run_status.html", _run_context(request, project, run))
    return redirect(_run_url(run))

"""Model endpoint and generation run pages: leads manage, researchers read, annotators and strangers are refused;
a refused form is shown in place with 400 and nothing saved; the run page polls its status partial while active and
offers cancel (with confirmation) and resume."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from annotator.models import GenerationRun, GenerationRunStatus, ModelEndpoint, Project, Role
from annotator.services.generation import generation_run_create
from annotator.services.model_endpoints import KEY_ENV_PREFIX
from tests.factories import ComparisonFactory, ModelEndpointFactory, ProjectFactory, PromptFactory, UserFactory, member

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Runs are recorded rather than sent to a worker."""
    from annotator import tasks

    sent: list[int] = []
    monkeypatch.setattr(tasks.generation_run_execute_task, "delay", sent.append)
    return sent


@pytest.fixture
def project() -> Project:
    return ProjectFactory()


def client_for(project: Project, role: str | None) -> Client:
    client = Client()
    client.force_login(member(project, role) if role else UserFactory())
    return client


def endpoints_url(project: Project) -> str:
    return reverse("annotator:model_endpoints", kwargs={"slug": project.slug})


def runs_url(project: Project) -> str:
    return reverse("annotator:generation_runs", kwargs={"slug": project.slug})


ENDPOINT_FORM = {"action": "add", "name": "tiny", "base_url": "http://127.0.0.1:8000/v1", "model_id": "tiny-llama",
                 "sampling": '{"temperature": 0.5}', "concurrency_limit": "2", "timeout_seconds": "30",
                 "max_attempts": "3", "api_key_env": ""}  # fmt: skip


@pytest.mark.parametrize(
    ("role", "status"), [(None, 404), (Role.ANNOTATOR, 403), (Role.RESEARCHER, 200), (Role.LEAD, 200)]
)
def test_who_may_read_the_pages(project: Project, role: str | None, status: int) -> None:
    client = client_for(project, role)
    assert client.get(endpoints_url(project)).status_code == status
    assert client.get(runs_url(project)).status_code == status


def test_a_lead_adds_edits_and_deletes_an_endpoint(project: Project) -> None:
    client = client_for(project, Role.LEAD)
    assert client.post(endpoints_url(project), ENDPOINT_FORM).status_code == 302
    endpoint = ModelEndpoint.objects.get(project=project)
    assert (endpoint.concurrency_limit, endpoint.sampling) == (2, {"temperature": 0.5})
    page = client.get(endpoints_url(project)).content.decode()
    assert "tiny-llama" in page and "Add an endpoint" in page

    edit = reverse("annotator:model_endpoint_edit", kwargs={"slug": project.slug, "endpoint_id": endpoint.pk})
    assert client.get(edit).status_code == 200
    assert client.post(edit, {**ENDPOINT_FORM, "model_id": "other"}).status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.model_id == "other"

    assert client.post(endpoints_url(project), {"action": "delete", "endpoint": endpoint.pk}).status_code == 302
    assert not ModelEndpoint.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [
        ("api_key_env", "DJANGO_SECRET_KEY", KEY_ENV_PREFIX),
        ("sampling", "{not json", "This is not JSON."),
        ("sampling", '{"temperature": 7}', "temperature"),
    ],
)
def test_a_refused_endpoint_is_shown_in_the_form_with_400(project: Project, field: str, value: str, shown: str) -> None:
    response = client_for(project, Role.LEAD).post(endpoints_url(project), {**ENDPOINT_FORM, field: value})
    assert response.status_code == 400
    assert shown in response.content.decode()
    assert not ModelEndpoint.objects.exists()


def test_a_taken_name_is_shown_in_the_form(project: Project) -> None:
    ModelEndpointFactory(project=project, name="tiny")
    response = client_for(project, Role.LEAD).post(endpoints_url(project), ENDPOINT_FORM)
    assert response.status_code == 400 and "exists already" in response.content.decode()


def test_researchers_read_but_cannot_manage(project: Project) -> None:
    ModelEndpointFactory(project=project, name="visible")
    client = client_for(project, Role.RESEARCHER)
    page = client.get(endpoints_url(project)).content.decode()
    assert "visible" in page and "Add an endpoint" not in page
    assert client.post(endpoints_url(project), ENDPOINT_FORM).status_code == 403
    assert "Launch a run" not in client.get(runs_url(project)).content.decode()


def test_a_lead_launches_a_run_on_an_imports_prompts(
    project: Project, enqueued: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    eps = [ModelEndpointFactory(project=project), ModelEndpointFactory(project=None, name="site-one")]
    ComparisonFactory.create_batch(2, project=project, source="helpsteer3")
    ComparisonFactory(project=project, source="helpsteer2")
    client = client_for(project, Role.LEAD)
    assert "helpsteer3 (2 prompts)" in client.get(runs_url(project)).content.decode()
    form = {"endpoints": [str(e.pk) for e in eps], "source": "helpsteer3", "prompt_ids": "", "seed": "7",
            "pairs_per_prompt": "1", "continuation_turns": "0"}  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(runs_url(project), form)
    run = GenerationRun.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/generation/{run.pk}/")
    assert (run.items_total, run.seed, run.selection) == (2, 7, {"source": "helpsteer3"})
    assert enqueued == [run.pk]  # sent once the launch committed


@pytest.mark.parametrize(
    ("change", "shown"),
    [
        ({"endpoints": "one"}, "2 to"),
        ({"source": "", "prompt_ids": ""}, "Choose an import, a domain or a language, or list prompt ids."),
        ({"source": "", "prompt_ids": "1 x"}, "Prompt ids are whole numbers."),
        ({"source": "", "prompt_ids": "999999"}, "No prompts selected."),
    ],
)
def test_a_refused_launch_is_shown_in_the_form(project: Project, change: dict[str, str], shown: str) -> None:
    eps = [ModelEndpointFactory(project=project) for _ in range(2)]
    ComparisonFactory(project=project, source="helpsteer3")
    form: dict[str, Any] = {"endpoints": [str(e.pk) for e in eps], "source": "helpsteer3", "prompt_ids": "",
                            "seed": "0", "pairs_per_prompt": "1", "continuation_turns": "0", **change}  # fmt: skip
    if change.get("endpoints") == "one":
        form["endpoints"] = [str(eps[0].pk)]
    response = client_for(project, Role.LEAD).post(runs_url(project), form)
    assert response.status_code == 400
    assert shown in response.content.decode()
    assert not GenerationRun.objects.exists()


def test_a_missing_key_is_a_clear_error_at_launch(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(f"{KEY_ENV_PREFIX}ABSENT", raising=False)
    eps = [
        ModelEndpointFactory(project=project, api_key_env=f"{KEY_ENV_PREFIX}ABSENT"),
        ModelEndpointFactory(project=project),
    ]
    prompt = PromptFactory(project=project)
    form = {"endpoints": [str(e.pk) for e in eps], "prompt_ids": str(prompt.pk), "seed": "0", "pairs_per_prompt": "1",
            "continuation_turns": "0"}  # fmt: skip
    response = client_for(project, Role.LEAD).post(runs_url(project), form)
    assert response.status_code == 400
    assert f"set {KEY_ENV_PREFIX}ABSENT" in response.content.decode()


def run_of(project: Project, status: str = GenerationRunStatus.RUNNING) -> GenerationRun:
    eps = [ModelEndpointFactory(project=project) for _ in range(2)]
    run = generation_run_create(project=project, user=None, endpoints=eps, prompts=[PromptFactory(project=project)])
    GenerationRun.objects.filter(pk=run.pk).update(status=status)
    run.refresh_from_db()
    return run


def test_the_run_page_polls_while_active_and_the_partial_stops_when_it_ended(project: Project) -> None:
    run = run_of(project)
    url = reverse("annotator:generation_run", kwargs={"slug": project.slug, "run_id": run.pk})
    client = client_for(project, Role.RESEARCHER)
    page = client.get(url).content.decode()
    assert 'hx-trigger="every 2s"' in page and '<progress id="run-progress"' in page and "<html" in page
    assert "run-cancel" not in page  # researchers read only
    GenerationRun.objects.filter(pk=run.pk).update(status=GenerationRunStatus.FINISHED, items_failed=1)
    run.items.update(status="failed", reason="ep: The endpoint answered 500")
    partial = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in partial and "hx-trigger" not in partial
    assert "The endpoint answered 500" in partial


def test_the_run_page_shows_the_attempt_and_why_the_run_was_requeued(project: Project) -> None:
    run = run_of(project)
    url = reverse("annotator:generation_run", kwargs={"slug": project.slug, "run_id": run.pk})
    client = client_for(project, Role.RESEARCHER)
    assert "run-attempt" not in client.get(url).content.decode()  # a first attempt says nothing of attempts
    reason = "attempt 1: its worker stopped sending heartbeats (last 2026-01-02T03:04:05+00:00)"
    GenerationRun.objects.filter(pk=run.pk).update(attempt=2, requeue_reason=reason)
    partial = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert '<dd id="run-attempt">2</dd>' in partial and reason in partial


def test_cancel_asks_for_confirmation_then_cancels_and_resume_restarts(project: Project, enqueued: list[int]) -> None:
    run = run_of(project)
    client = client_for(project, Role.LEAD)
    cancel = reverse("annotator:generation_run_cancel", kwargs={"slug": project.slug, "run_id": run.pk})
    confirm = client.post(cancel)
    assert confirm.status_code == 200 and "Yes, cancel run" in confirm.content.decode()
    run.refresh_from_db()
    assert run.status == GenerationRunStatus.RUNNING
    partial = client.post(cancel, {"confirm": "yes"}, headers={"HX-Request": "true"}).content.decode()
    run.refresh_from_db()
    assert run.status == GenerationRunStatus.CANCELLED and "run-resume" in partial
    resume = reverse("annotator:generation_run_resume", kwargs={"slug": project.slug, "run_id": run.pk})
    assert client.post(resume).status_code == 302
    run.refresh_from_db()
    assert run.status == GenerationRunStatus.PENDING
    again = client.post(resume, follow=True)
    assert "cannot be resumed" in again.content.decode()


def test_another_projects_run_is_not_found(project: Project) -> None:
    run = run_of(ProjectFactory())
    url = reverse("annotator:generation_run", kwargs={"slug": project.slug, "run_id": run.pk})
    assert client_for(project, Role.LEAD).get(url).status_code == 404


def test_the_list_pages_take_a_fixed_number_of_queries(project: Project) -> None:
    client = client_for(project, Role.RESEARCHER)

    def queries(url: str) -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    run_of(project)
    one = (queries(runs_url(project)), queries(endpoints_url(project)))
    for _ in range(4):
        run_of(project)
    assert (queries(runs_url(project)), queries(endpoints_url(project))) == one

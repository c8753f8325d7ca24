"""Model endpoints and generation runs over the API: roles, the same services as the pages (refusals as 400/409 with
their codes, never a 500), no key in any answer, launch enqueued after commit, cancel and resume."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from rest_framework.test import APIClient

from annotator.models import GenerationRun, GenerationRunStatus, ModelEndpoint, Project, Role
from annotator.services.model_endpoints import KEY_ENV_PREFIX
from annotator.tasks import generation_run_execute_task
from tests.factories import ComparisonFactory, ModelEndpointFactory, ProjectFactory, PromptFactory, member

pytestmark = pytest.mark.django_db

KEY_ENV = f"{KEY_ENV_PREFIX}API_TESTS"


@pytest.fixture
def project() -> Project:
    return ProjectFactory()


def api(project: Project, role: str) -> APIClient:
    client = APIClient()
    client.force_authenticate(member(project, role))
    return client


def base(project: Project) -> str:
    return f"/api/v1/projects/{project.slug}"


def test_a_lead_creates_reads_updates_and_deletes_an_endpoint_and_no_key_is_shown(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-never-shown")
    lead = api(project, Role.LEAD)
    body = {"name": "tiny", "base_url": "http://127.0.0.1:8000/v1", "model_id": "m", "api_key_env": KEY_ENV,
            "sampling": {"temperature": 0.3}}  # fmt: skip
    created = lead.post(f"{base(project)}/model-endpoints/create/", body, format="json")
    assert created.status_code == 201, created.json()
    endpoint_id = created.json()["id"]
    assert created.json()["api_key_env"] == KEY_ENV and created.json()["site"] is False
    listed = lead.get(f"{base(project)}/model-endpoints/")
    assert listed.json()["count"] == 1 and "sk-never-shown" not in listed.content.decode()
    patched = lead.patch(f"{base(project)}/model-endpoints/{endpoint_id}/update/", {"concurrency_limit": 9},
                         format="json")  # fmt: skip
    assert patched.status_code == 200 and patched.json()["concurrency_limit"] == 9
    assert patched.json()["model_id"] == "m"
    assert lead.delete(f"{base(project)}/model-endpoints/{endpoint_id}/delete/").status_code == 204
    assert not ModelEndpoint.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"api_key_env": "DATABASE_URL"}, "api_key_env"),
        ({"sampling": {"temperature": 3}}, "sampling"),
        ({"base_url": "file:///etc/passwd"}, "base_url"),
        ({"concurrency_limit": 0}, "concurrency_limit"),
    ],
)
def test_a_refused_endpoint_is_a_400_naming_the_field(project: Project, body: dict[str, Any], field: str) -> None:
    full = {"name": "tiny", "base_url": "http://127.0.0.1:8000/v1", "model_id": "m", **body}
    response = api(project, Role.LEAD).post(f"{base(project)}/model-endpoints/create/", full, format="json")
    assert response.status_code == 400
    assert field in response.json()["extra"]["fields"]


def test_a_taken_name_is_a_409(project: Project) -> None:
    ModelEndpointFactory(project=project, name="tiny")
    body = {"name": "tiny", "base_url": "http://127.0.0.1:8000/v1", "model_id": "m"}
    response = api(project, Role.LEAD).post(f"{base(project)}/model-endpoints/create/", body, format="json")
    assert response.status_code == 409 and "name" in response.json()["extra"]["fields"]


def test_researchers_read_and_cannot_write(project: Project) -> None:
    endpoint = ModelEndpointFactory(project=project)
    researcher = api(project, Role.RESEARCHER)
    assert researcher.get(f"{base(project)}/model-endpoints/{endpoint.pk}/").status_code == 200
    assert researcher.delete(f"{base(project)}/model-endpoints/{endpoint.pk}/delete/").status_code == 403
    assert researcher.post(f"{base(project)}/generation-runs/create/", {}, format="json").status_code == 403
    annotator = api(project, Role.ANNOTATOR)
    assert annotator.get(f"{base(project)}/model-endpoints/").status_code == 403


def test_a_lead_launches_cancels_and_resumes_a_run(project: Project, django_capture_on_commit_callbacks: Any) -> None:
    eps = [ModelEndpointFactory(project=project) for _ in range(2)]
    prompts = [PromptFactory(project=project) for _ in range(3)]
    ComparisonFactory(project=project, prompt=prompts[0], source="helpsteer3")
    lead = api(project, Role.LEAD)
    body = {"endpoints": [e.pk for e in eps], "prompt_ids": [p.pk for p in prompts], "seed": 3}
    with (
        mock.patch.object(generation_run_execute_task, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        launched = lead.post(f"{base(project)}/generation-runs/create/", body, format="json")
    assert launched.status_code == 202, launched.json()
    run_id = launched.json()["id"]
    delay.assert_called_once_with(run_id)
    assert launched.json()["items_total"] == 3 and launched.json()["endpoints"] == sorted(e.pk for e in eps)

    only_import = lead.post(f"{base(project)}/generation-runs/create/", {**body, "source": "helpsteer3"},
                            format="json")  # fmt: skip
    assert only_import.json()["items_total"] == 1

    cancelled = lead.post(f"{base(project)}/generation-runs/{run_id}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = lead.post(f"{base(project)}/generation-runs/{run_id}/cancel/")
    assert again.status_code == 409 and again.json()["code"] == "generation_not_resumable"
    in_use = lead.delete(f"{base(project)}/model-endpoints/{eps[0].pk}/delete/")
    assert in_use.status_code == 409 and in_use.json()["code"] == "endpoint_in_use"  # the second run is pending
    resumed = lead.post(f"{base(project)}/generation-runs/{run_id}/resume/")
    assert resumed.status_code == 202 and resumed.json()["status"] == GenerationRunStatus.PENDING
    detail = api(project, Role.RESEARCHER).get(f"{base(project)}/generation-runs/{run_id}/")
    assert detail.status_code == 200 and detail.json()["failures"] == []
    assert api(project, Role.RESEARCHER).get(f"{base(project)}/generation-runs/").json()["count"] == 2


def test_a_run_is_launched_on_a_domain_and_language(project: Project, django_capture_on_commit_callbacks: Any) -> None:
    eps = [ModelEndpointFactory(project=project) for _ in range(2)]
    PromptFactory(project=project, domain="code", language="python")
    PromptFactory(project=project, domain="code", language="sql")
    PromptFactory(project=project, domain="stem", language="english")
    lead = api(project, Role.LEAD)
    url = f"{base(project)}/generation-runs/create/"
    with mock.patch.object(generation_run_execute_task, "delay"), django_capture_on_commit_callbacks(execute=True):
        code = lead.post(url, {"endpoints": [e.pk for e in eps], "domain": " code "}, format="json")
        python = lead.post(url, {"endpoints": [e.pk for e in eps], "domain": "code", "language": "python"},
                           format="json")  # fmt: skip
        nothing = lead.post(url, {"endpoints": [e.pk for e in eps], "language": "klingon"}, format="json")
    assert code.status_code == 202 and code.json()["items_total"] == 2
    assert python.status_code == 202 and python.json()["items_total"] == 1
    assert nothing.status_code == 400 and "prompts" in str(nothing.json()["extra"])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"endpoints": [1]}, "endpoints"),
        ({"prompt_ids": None}, "source"),
        ({"prompt_ids": []}, "prompts"),
        ({"continuation_turns": 9}, "continuation_turns"),
        ({"pairs_per_prompt": 2}, "pairs_per_prompt"),
    ],
)
def test_a_refused_launch_is_a_400(project: Project, change: dict[str, Any], field: str) -> None:
    eps = [ModelEndpointFactory(project=project) for _ in range(2)]
    body: dict[str, Any] = {"endpoints": [e.pk for e in eps], "prompt_ids": [PromptFactory(project=project).pk],
                            **change}  # fmt: skip
    body = {k: v for k, v in body.items() if v is not None}
    response = api(project, Role.LEAD).post(f"{base(project)}/generation-runs/create/", body, format="json")
    assert response.status_code == 400, response.json()
    assert field in str(response.json()["extra"])
    assert not GenerationRun.objects.exists()


def test_a_missing_key_is_refused_at_launch(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    eps = [ModelEndpointFactory(project=project, api_key_env=KEY_ENV), ModelEndpointFactory(project=project)]
    body = {"endpoints": [e.pk for e in eps], "prompt_ids": [PromptFactory(project=project).pk]}
    response = api(project, Role.LEAD).post(f"{base(project)}/generation-runs/create/", body, format="json")
    assert response.status_code == 400 and response.json()["code"] == "endpoint_key_missing"
    assert KEY_ENV in response.json()["message"]


def test_another_projects_endpoint_is_not_found(project: Project) -> None:
    other = ModelEndpointFactory()
    response = api(project, Role.LEAD).get(f"{base(project)}/model-endpoints/{other.pk}/")
    assert response.status_code == 404

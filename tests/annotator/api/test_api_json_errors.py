"""Every /api/ response is JSON, and hostile bodies and query strings are a 4xx in the error shape, never a 500:
unmatched URLs, deep nesting, huge integers, oversized bodies, out-of-range offsets and ids."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client, override_settings
from rest_framework.test import APIClient

from annotator.api.parsers import MAX_JSON_DEPTH, json_depth_exceeds
from annotator.models import Role, Snapshot
from tests.factories import ComparisonFactory, ProjectFactory, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead() -> tuple[APIClient, Any]:
    project = ProjectFactory()
    user = member(project, Role.LEAD)
    member(project, Role.RESEARCHER, username=user.username)
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(user)
    return client, project


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json", response.content[:300]
    body = response.json()
    assert set(body) == {"message", "code", "extra"}
    if code is not None:
        assert body["code"] == code
    return body


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/no-such-endpoint/",
        "/api/v1/snapshots/not-a-number/",
        "/api/v1/training-jobs/null,null/metrics/",
        "/api/nothing",
    ],
)
def test_an_unknown_api_url_is_a_json_404(lead: tuple[APIClient, Any], path: str) -> None:
    client, _ = lead
    assert_error(client.get(path), 404, "not_found")
    assert_error(Client().get(path), 404, "not_found")  # anonymous too


def test_pages_outside_the_api_keep_their_html_404() -> None:
    response = Client().get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_a_server_error_under_the_api_is_json(lead: tuple[APIClient, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    client, project = lead

    def boom(**_: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("annotator.api.projects.project_get_for_role", boom)
    assert_error(client.get(f"/api/v1/projects/{project.slug}/"), 500, "server_error")


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1_000, 100_000])
def test_deeply_nested_json_is_a_400(lead: tuple[APIClient, Any], depth: int) -> None:
    client, project = lead
    body = '{"name": ' + "[" * depth + "]" * depth + "}"
    url = f"/api/v1/projects/{project.slug}/snapshots/create/"
    assert_error(client.post(url, body, content_type="application/json"), 400, "parse_error")
    assert not Snapshot.objects.exists()


def test_json_depth_is_measured_without_recursion() -> None:
    deep: Any = []
    for _ in range(10_000):
        deep = [deep]
    assert json_depth_exceeds(deep, 9_999)
    assert not json_depth_exceeds(deep, 10_001)
    assert not json_depth_exceeds({"a": [1, {"b": 2}]}, 3)
    assert json_depth_exceeds({"a": [1, {"b": [2]}]}, 3)


def test_an_integer_over_4300_digits_is_a_400(lead: tuple[APIClient, Any]) -> None:
    client, project = lead
    body = '{"split_seed": ' + "9" * 5_000 + "}"
    url = f"/api/v1/projects/{project.slug}/snapshots/create/"
    assert_error(client.post(url, body, content_type="application/json"), 400, "parse_error")


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1024 * 1024)
def test_a_body_over_the_upload_limit_is_a_json_413(lead: tuple[APIClient, Any]) -> None:
    client, project = lead
    body = json.dumps({"name": "x" * (2 * 1024 * 1024)})
    url = f"/api/v1/projects/{project.slug}/snapshots/create/"
    assert_error(client.post(url, body, content_type="application/json"), 413, "request_too_large")
    assert not Snapshot.objects.exists()


def test_a_form_encoded_body_is_refused_where_the_api_reads_json(lead: tuple[APIClient, Any]) -> None:
    client, project = lead
    url = f"/api/v1/projects/{project.slug}/snapshots/create/"
    assert_error(client.post(url, {"rule": ""}, format="multipart"), 415, "unsupported_media_type")


@pytest.mark.parametrize("offset", ["99999999999999999999", "9" * 5_000])
def test_an_offset_past_any_table_is_a_400(lead: tuple[APIClient, Any], offset: str) -> None:
    client, project = lead
    ComparisonFactory(project=project)
    body = assert_error(client.get(f"/api/v1/projects/{project.slug}/comparisons/", {"offset": offset}), 400)
    assert "offset" in body["extra"]["fields"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/projects/{slug}/annotations/?comparison=99999999999999999999",
        "/api/v1/projects/{slug}/training-jobs/compare/?snapshot=99999999999999999999",
    ],
)
def test_an_id_past_bigint_in_a_query_is_a_400(lead: tuple[APIClient, Any], path: str) -> None:
    client, project = lead
    assert_error(client.get(path.format(slug=project.slug)), 400, "validation_failed")


@pytest.mark.parametrize(
    "path", ["/api/v1/snapshots/99999999999999999999/", "/api/v1/training-jobs/99999999999999999999/"]
)
def test_an_id_past_bigint_in_a_path_is_a_json_404(lead: tuple[APIClient, Any], path: str) -> None:
    client, _ = lead
    assert_error(client.get(path), 404, "not_found")

"""Model endpoints: field rules, the key's environment variable (prefix, never stored, missing = clear error),
unique names per project and site, and deletion refused while a run uses the endpoint."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from annotator.domain import Turn
from annotator.error_codes import ErrorCode
from annotator.errors import Conflict, ValidationFailed
from annotator.llm.client import ChatError
from annotator.models import GenerationRun, GenerationRunStatus, ModelEndpoint
from annotator.services.model_endpoints import (
    KEY_ENV_PREFIX,
    model_endpoint_api_key,
    model_endpoint_client,
    model_endpoint_create,
    model_endpoint_delete,
    model_endpoint_update,
)
from tests.factories import ModelEndpointFactory, ProjectFactory

pytestmark = pytest.mark.django_db

KEY_ENV = f"{KEY_ENV_PREFIX}TESTS"


def create(**overrides: Any) -> ModelEndpoint:
    fields: dict[str, Any] = {"project": ProjectFactory(), "name": "tiny", "base_url": "http://127.0.0.1:8000/v1",
                              "model_id": "tiny-llama", "sampling": {"temperature": 0.7, "max_tokens": 64}}  # fmt: skip
    return model_endpoint_create(**{**fields, **overrides})


def test_create_stores_the_fields_and_only_the_name_of_the_keys_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-secret")
    endpoint = create(api_key_env=KEY_ENV, concurrency_limit=2)
    endpoint.refresh_from_db()
    assert (endpoint.name, endpoint.model_id, endpoint.concurrency_limit, endpoint.api_key_env) == (
        "tiny", "tiny-llama", 2, KEY_ENV)  # fmt: skip
    assert endpoint.sampling == {"temperature": 0.7, "max_tokens": 64}
    stored = ModelEndpoint.objects.filter(pk=endpoint.pk).values().get()
    assert "sk-secret" not in repr(stored)
    assert model_endpoint_api_key(endpoint=endpoint) == "sk-secret"


def test_a_site_endpoint_has_no_project_and_its_name_is_unique_on_the_site() -> None:
    site = create(project=None)
    assert site.project is None
    with pytest.raises(Conflict) as caught:
        create(project=None)
    assert "name" in caught.value.extra["fields"]
    create(project=ProjectFactory())  # the same name in a project is another endpoint


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "  "),
        ("model_id", ""),
        ("base_url", "ftp://host/v1"),
        ("base_url", "http:///v1"),
        ("sampling", {"temperature": 9}),
        ("sampling", {"logit_bias": {}}),
        ("sampling", ["temperature"]),
        ("concurrency_limit", 0),
        ("timeout_seconds", 10**6),
        ("max_attempts", 0),
        ("api_key_env", "DJANGO_SECRET_KEY"),
        ("api_key_env", f"{KEY_ENV_PREFIX}lower"),
        ("name", "nul\x00"),
        ("base_url", "http://host:99999/v1"),
        ("json_schema_output", "yes"),
    ],
)
def test_create_refuses_each_bad_field_by_name(field: str, value: Any) -> None:
    with pytest.raises(ValidationFailed) as caught:
        create(**{field: value})
    assert field in caught.value.extra["fields"]
    assert not ModelEndpoint.objects.exists()


def test_update_changes_only_what_is_given_and_checks_it() -> None:
    endpoint = create()
    assert not endpoint.json_schema_output  # off unless the lead knows the server accepts it
    model_endpoint_update(endpoint=endpoint, model_id="other", concurrency_limit=8, json_schema_output=True)
    endpoint.refresh_from_db()
    assert (endpoint.name, endpoint.model_id, endpoint.concurrency_limit) == ("tiny", "other", 8)
    assert endpoint.json_schema_output
    with pytest.raises(ValidationFailed):
        model_endpoint_update(endpoint=endpoint, api_key_env="HOME")
    other = create(project=endpoint.project, name="second")
    with pytest.raises(Conflict):
        model_endpoint_update(endpoint=other, name="tiny")


def test_a_missing_key_is_a_clear_error_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    endpoint = create(api_key_env=KEY_ENV)
    with pytest.raises(ValidationFailed) as caught:
        model_endpoint_api_key(endpoint=endpoint)
    assert caught.value.code == ErrorCode.ENDPOINT_KEY_MISSING and KEY_ENV in caught.value.message
    with pytest.raises(ValidationFailed):
        model_endpoint_client(endpoint=endpoint)


def test_no_variable_means_no_key() -> None:
    assert model_endpoint_api_key(endpoint=create()) == ""


def test_the_client_uses_the_endpoints_url_key_and_attempts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-secret")
    endpoint = create(api_key_env=KEY_ENV, max_attempts=2)
    seen: list[httpx2.Request] = []

    def handle(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(503)

    chat = model_endpoint_client(endpoint=endpoint, transport=httpx2.MockTransport(handle), sleep=lambda s: None)
    with chat, pytest.raises(ChatError, match="503"):
        chat.complete(model=endpoint.model_id, turns=[Turn(role="user", content="Hi")])
    assert len(seen) == 2
    assert str(seen[0].url) == "http://127.0.0.1:8000/v1/chat/completions"
    assert seen[0].headers["authorization"] == "Bearer sk-secret"


def test_delete_is_refused_while_an_active_run_uses_the_endpoint() -> None:
    endpoint = ModelEndpointFactory()
    run = GenerationRun.objects.create(project=endpoint.project, status=GenerationRunStatus.RUNNING)
    run.endpoints.add(endpoint)
    with pytest.raises(Conflict) as caught:
        model_endpoint_delete(endpoint=endpoint)
    assert caught.value.code == ErrorCode.ENDPOINT_IN_USE
    GenerationRun.objects.filter(pk=run.pk).update(status=GenerationRunStatus.FINISHED)
    model_endpoint_delete(endpoint=endpoint)
    assert not ModelEndpoint.objects.filter(pk=endpoint.pk).exists()

"""Every endpoint of this module's API against every kind of caller: anonymous 401, non-member 404, annotator 403
(except where annotators belong), lead and researcher allowed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from annotator.models import Role
from annotator.services.snapshots.lifecycle import snapshot_build, snapshot_create
from annotator.tasks import snapshot_build_task
from tests.annotator.services.test_snapshots import annotate
from tests.factories import ComparisonFactory, ProjectFactory, UserFactory, member

pytestmark = pytest.mark.django_db

CALLERS = ("anonymous", "outsider", Role.ANNOTATOR, Role.LEAD, Role.RESEARCHER)
OK, DENIED = "ok", "denied"

# (name, method, path template, body factory, {caller: expected}); "ok" = any 2xx.
DATA = {"anonymous": 401, "outsider": 404, Role.ANNOTATOR: 403, Role.LEAD: OK, Role.RESEARCHER: OK}
MEMBERS = {"anonymous": 401, "outsider": 404, Role.ANNOTATOR: OK, Role.LEAD: OK, Role.RESEARCHER: OK}
ANYONE = {"anonymous": 401, "outsider": OK, Role.ANNOTATOR: OK, Role.LEAD: OK, Role.RESEARCHER: OK}


def _upload() -> dict[str, Any]:
    line = b'{"prompt": "Q?", "response": "A.", "helpfulness": 3, "correctness": 3, "coherence": 3, "complexity": 1, "verbosity": 1}\n'
    return {"file": SimpleUploadedFile("train.jsonl", line * 2), "format": "helpsteer2", "split": "train"}


ENDPOINTS: list[tuple[str, str, str, Callable[[], Any] | None, dict[str, Any]]] = [
    ("projects list", "get", "/api/v1/projects/", None, ANYONE),
    ("project detail", "get", "/api/v1/projects/{slug}/", None, MEMBERS),
    ("comparisons list", "get", "/api/v1/projects/{slug}/comparisons/", None, DATA),
    ("comparison detail", "get", "/api/v1/projects/{slug}/comparisons/{comparison}/", None, DATA),
    ("comparisons import", "post", "/api/v1/projects/{slug}/comparisons/import/", _upload, DATA),
    ("annotations list", "get", "/api/v1/projects/{slug}/annotations/", None, MEMBERS),
    ("snapshots list", "get", "/api/v1/projects/{slug}/snapshots/", None, DATA),
    ("snapshot create", "post", "/api/v1/projects/{slug}/snapshots/create/", dict, DATA),
    ("snapshot detail", "get", "/api/v1/snapshots/{snapshot}/", None, DATA),
    ("snapshot card", "get", "/api/v1/snapshots/{snapshot}/card/", None, DATA),
    ("snapshot download", "get", "/api/v1/snapshots/{snapshot}/download/?export=trl-preference", None, DATA),
    ("snapshot bundle", "get", "/api/v1/snapshots/{snapshot}/download/", None, DATA),
]


@pytest.fixture
def world() -> dict[str, Any]:
    project = ProjectFactory()
    users = {role: member(project, role) for role in (Role.ANNOTATOR, Role.LEAD, Role.RESEARCHER)}
    users["outsider"] = UserFactory()
    member(ProjectFactory(), Role.RESEARCHER, username=users["outsider"].username)  # a researcher elsewhere
    comparison = ComparisonFactory(project=project)
    annotate(comparison, users[Role.ANNOTATOR], 2, 3, 1)
    with mock.patch.object(snapshot_build_task, "delay"):
        snapshot = snapshot_create(project=project, user=users[Role.RESEARCHER])
    snapshot_build(snapshot_id=snapshot.id)
    return {"project": project, "users": users, "comparison": comparison, "snapshot": snapshot}


@pytest.mark.parametrize(("name", "method", "template", "body", "expected"), ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
@pytest.mark.parametrize("caller", CALLERS)
def test_role_matrix(
    world: dict[str, Any], caller: str, name: str, method: str, template: str, body: Any, expected: dict[str, Any]
) -> None:
    client = APIClient()
    if caller != "anonymous":
        client.force_authenticate(world["users"][caller])
    path = template.format(slug=world["project"].slug, comparison=world["comparison"].id, snapshot=world["snapshot"].id)
    with mock.patch.object(snapshot_build_task, "delay"):
        response = getattr(client, method)(
            path, body() if body else None, **({"format": "json"} if name == "snapshot create" else {})
        )
    want = expected[caller]
    if want == OK:
        assert 200 <= response.status_code < 300, (response.status_code, getattr(response, "data", None))
    else:
        assert response.status_code == want
        assert set(response.json()) == {"message", "code", "extra"}


def test_token_authentication() -> None:
    from rest_framework.authtoken.models import Token

    user = UserFactory()
    token = Token.objects.create(user=user)
    client = APIClient()
    assert client.get("/api/v1/projects/").status_code == 401
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get("/api/v1/projects/").status_code == 200
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert client.get("/api/v1/projects/").status_code == 401


def test_token_of_an_inactive_user_is_refused() -> None:
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=UserFactory(is_active=False))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = client.get("/api/v1/projects/")
    assert response.status_code == 401
    assert response.json()["message"] == "User inactive or deleted."

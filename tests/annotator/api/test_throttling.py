"""API request rates: anonymous clients by address and users one by one get a 429 in the API's error shape."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from annotator.models import Role
from tests.factories import ProjectFactory, member

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_counters() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def test_a_user_over_the_rate_gets_429_in_the_error_shape_and_other_users_do_not(settings: Any) -> None:
    settings.PREFSTACK_API_THROTTLE_RATES = {"anon": None, "user": "3/minute"}
    project = ProjectFactory()
    first, second = member(project, Role.RESEARCHER), member(project, Role.RESEARCHER)
    client = APIClient()
    client.force_authenticate(first)
    assert [client.get("/api/v1/projects/").status_code for _ in range(3)] == [200, 200, 200]
    refused = client.get("/api/v1/projects/")
    assert refused.status_code == 429
    body = refused.json()
    assert set(body) == {"message", "code", "extra"}
    assert body["code"] == "throttled"
    assert "throttled" in body["message"].lower()
    assert int(refused["Retry-After"]) > 0
    other = APIClient()
    other.force_authenticate(second)
    assert other.get("/api/v1/projects/").status_code == 200


def test_anonymous_clients_are_counted_by_address(settings: Any) -> None:
    settings.PREFSTACK_API_THROTTLE_RATES = {"anon": "2/minute", "user": None}
    settings.PREFSTACK_API_DOCS_PUBLIC = True
    client = APIClient()
    url = "/api/schema/?format=json"
    assert [client.get(url, REMOTE_ADDR="10.1.1.1").status_code for _ in range(2)] == [200, 200]
    refused = client.get(url, REMOTE_ADDR="10.1.1.1")
    assert refused.status_code == 429
    assert refused.json()["code"] == "throttled"
    assert client.get(url, REMOTE_ADDR="10.1.1.2").status_code == 200


def test_an_empty_rate_turns_the_throttle_off(settings: Any) -> None:
    settings.PREFSTACK_API_THROTTLE_RATES = {"anon": None, "user": None}
    project = ProjectFactory()
    client = APIClient()
    client.force_authenticate(member(project, Role.RESEARCHER))
    assert {client.get("/api/v1/projects/").status_code for _ in range(20)} == {200}

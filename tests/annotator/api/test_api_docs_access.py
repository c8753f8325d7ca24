"""/api/schema/ and /api/docs/ are public or need a signed-in user, as PREFSTACK_API_DOCS_PUBLIC says."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/api/schema/?format=json", "/api/docs/"])
def test_public_docs_are_readable_by_anyone(settings: Any, url: str) -> None:
    settings.PREFSTACK_API_DOCS_PUBLIC = True
    assert APIClient().get(url).status_code == 200


@pytest.mark.parametrize("url", ["/api/schema/?format=json", "/api/docs/"])
def test_private_docs_need_a_signed_in_user(settings: Any, url: str) -> None:
    settings.PREFSTACK_API_DOCS_PUBLIC = False
    refused = APIClient().get(url)
    assert refused.status_code in (401, 403), refused.content[:300]
    client = APIClient()
    client.force_authenticate(UserFactory())
    assert client.get(url).status_code == 200

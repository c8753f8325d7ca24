"""The API token page: signed-in users only; making a token shows it once; replacing it revokes the old one."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/account/token/"


def test_anonymous_users_are_sent_to_log_in() -> None:
    assert Client().get(URL).status_code == 302


def test_make_then_replace_a_token() -> None:
    user = UserFactory()
    client = Client()
    client.force_login(user)
    page = client.get(URL).content.decode()
    assert "You have no token yet" in page and "<script>" not in page

    made = client.post(URL).content.decode()
    first = Token.objects.get(user=user).key
    assert first in made and "shows it once" in made
    assert first not in client.get(URL).content.decode()  # shown once

    client.post(URL)
    second = Token.objects.get(user=user).key
    assert second != first
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {first}")
    assert api.get("/api/v1/projects/").status_code == 401
    api.credentials(HTTP_AUTHORIZATION=f"Token {second}")
    assert api.get("/api/v1/projects/").status_code == 200

"""Obtaining an API token with a password; the token then authenticates; a wrong password is a 400 with its code."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_password_gets_the_same_token_which_authenticates() -> None:
    user = UserFactory(username="ada")
    user.set_password("s3cret-pass")
    user.save()
    client = APIClient()
    first = client.post("/api/v1/auth/token/", {"username": "ada", "password": "s3cret-pass"}, format="json")
    assert first.status_code == 200, first.json()
    assert first.json()["username"] == "ada"
    again = client.post("/api/v1/auth/token/", {"username": "ada", "password": "s3cret-pass"}, format="json")
    assert again.json()["token"] == first.json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {first.json()['token']}")
    assert client.get("/api/v1/projects/").status_code == 200


@pytest.mark.parametrize(
    ("username", "password", "active"),
    [("ada", "wrong", True), ("nobody", "s3cret-pass", True), ("ada", "s3cret-pass", False)],
)
def test_wrong_credentials_are_refused(username: str, password: str, active: bool) -> None:
    user = UserFactory(username="ada", is_active=active)
    user.set_password("s3cret-pass")
    user.save()
    response = APIClient().post("/api/v1/auth/token/", {"username": username, "password": password}, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"
    assert response.json()["message"] == "Unable to log in with the given username and password."


def test_a_missing_field_is_a_validation_error() -> None:
    response = APIClient().post("/api/v1/auth/token/", {"username": "ada"}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "validation_failed")
    assert "password" in response.json()["extra"]["fields"]


def test_wrong_passwords_for_a_token_count_towards_the_login_lockout(settings: Any) -> None:
    settings.AXES_ENABLED = True  # off for the rest of the suite (config/django/test.py)
    settings.AXES_FAILURE_LIMIT = 3
    UserFactory(username="eve")
    client = APIClient()
    url = "/api/v1/auth/token/"
    for _ in range(2):
        assert client.post(url, {"username": "eve", "password": "wrong"}, format="json").status_code == 401
    locked = client.post(url, {"username": "eve", "password": "wrong"}, format="json")
    assert locked.status_code == 429
    right = client.post(url, {"username": "eve", "password": "pw-for-tests"}, format="json")
    assert right.status_code == 429  # the right password is refused while locked out
    assert right["Content-Type"] == "application/json"
    assert right.json()["code"] == "locked_out"
    assert "Too many failed logins" in right.json()["message"]
    assert "token" not in right.json()

"""Failed logins lock a username and an address out (django-axes), on the login page and on /admin/ alike."""

from __future__ import annotations

from typing import Any

import pytest
from axes.models import AccessAttempt
from django.test import Client

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LIMIT = 5


@pytest.fixture(autouse=True)
def _axes_on(settings: Any) -> None:
    settings.AXES_ENABLED = True  # off for the rest of the suite (config/django/test.py)
    settings.AXES_FAILURE_LIMIT = LIMIT


def _login(client: Client, username: str, password: str, *, url: str = "/accounts/login/", ip: str = "10.0.0.1"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_the_limit_of_wrong_passwords_locks_out_and_then_the_right_one_is_refused_with_a_clear_message() -> None:
    user = UserFactory(username="alice")
    client = Client()
    for _ in range(LIMIT - 1):
        response = _login(client, "alice", "wrong")
        assert response.status_code == 200  # the form again, with its error
    response = _login(client, "alice", "wrong")
    assert response.status_code == 429
    response = _login(client, "alice", "pw-for-tests")
    assert response.status_code == 429
    text = response.content.decode()
    assert "Too many failed logins" in text and "The right password is refused too" in text
    assert "_auth_user_id" not in client.session
    # The same password works for another user from the same address? No: the address is locked too.
    UserFactory(username="bob")
    assert _login(Client(), "bob", "pw-for-tests").status_code == 429
    assert AccessAttempt.objects.filter(username="alice").exists()
    assert user.pk  # the account itself is untouched


def test_the_username_is_locked_from_any_address() -> None:
    UserFactory(username="carol")
    for n in range(LIMIT):
        _login(Client(), "carol", "wrong", ip=f"10.0.1.{n}")
    assert _login(Client(), "carol", "pw-for-tests", ip="10.0.2.1").status_code == 429


def test_a_few_failures_then_the_right_password_logs_in_and_clears_the_count() -> None:
    UserFactory(username="dave")
    client = Client()
    for _ in range(LIMIT - 1):
        _login(client, "dave", "wrong")
    response = _login(client, "dave", "pw-for-tests")
    assert response.status_code == 302
    assert "_auth_user_id" in client.session


def test_admin_login_is_behind_the_same_lockout() -> None:
    UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    for _ in range(LIMIT):
        _login(client, "root", "wrong", url="/admin/login/")
    response = _login(client, "root", "pw-for-tests", url="/admin/login/")
    assert response.status_code == 429
    # ... and failures on the admin count for the login page too
    assert _login(Client(), "root", "pw-for-tests").status_code == 429


def test_the_limits_come_from_the_environment() -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.django.base",
        "PREFSTACK_LOGIN_FAILURE_LIMIT": "9",
        "PREFSTACK_LOGIN_COOLOFF_MINUTES": "2",
        "PREFSTACK_LOGIN_LOCKOUT_PARAMETERS": "username+ip_address",
        "PREFSTACK_API_THROTTLE_ANON": "7/minute",
        "PREFSTACK_API_THROTTLE_USER": "",
    }
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.AXES_FAILURE_LIMIT, s.AXES_COOLOFF_TIME.total_seconds(), s.AXES_LOCKOUT_PARAMETERS, "
        "s.PREFSTACK_API_THROTTLE_RATES)"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "9 120.0 [['username', 'ip_address']] {'anon': '7/minute', 'user': None}"

"""API tokens: obtaining one is idempotent; rotating replaces the old key, which then no longer authenticates."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token

from annotator.selectors.users import token_find, token_get_with_user
from annotator.services.tokens import api_token_obtain, api_token_rotate
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_obtain_makes_one_token_and_returns_it_again() -> None:
    user = UserFactory()
    assert token_find(user=user) is None
    first = api_token_obtain(user=user)
    assert api_token_obtain(user=user).key == first.key
    assert Token.objects.filter(user=user).count() == 1


def test_rotate_replaces_the_key() -> None:
    user = UserFactory()
    old = api_token_obtain(user=user).key
    new = api_token_rotate(user=user)
    assert new.key != old
    assert token_get_with_user(key=old) is None
    found = token_get_with_user(key=new.key)
    assert found is not None and found[1] == user
    assert api_token_rotate(user=UserFactory()).key  # a user without a token gets one

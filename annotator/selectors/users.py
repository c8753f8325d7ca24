"""Reads about users and their API tokens."""

from __future__ import annotations

from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token

from annotator.selectors import hot_path


def token_get_with_user(*, key: str) -> tuple[Token, User] | None:
    """The API token ``key`` with its user (``token.user`` loaded); None when there is no such token."""
    return hot_path.token_user(key)


def token_find(*, user: User) -> Token | None:
    """The user's API token, or None."""
    return Token.objects.filter(user=user).first()

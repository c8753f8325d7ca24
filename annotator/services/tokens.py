"""API tokens: the one DRF token a user holds, obtained with a password (the API) or made anew (the token page).

A token is DRF's ``authtoken`` key, sent as ``Authorization: Token <key>``; a user holds at most one. Making a new
one replaces the old, which stops working at once.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from rest_framework.authtoken.models import Token


@transaction.atomic
def api_token_obtain(*, user: User) -> Token:
    """The user's token, made when they have none (the same key on every call, so scripts can share it)."""
    token, _ = Token.objects.get_or_create(user=user)
    return token


@transaction.atomic
def api_token_rotate(*, user: User) -> Token:
    """A new token for the user; the old one, if any, is deleted and no longer authenticates."""
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)

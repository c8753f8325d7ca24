"""Token authentication for the API: DRF's, with the token and its user read in one prebuilt statement.

It runs on every API request, so it skips the ORM's per-request query compilation; behaviour and messages are
DRF's own.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from annotator.selectors.users import token_get_with_user


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key: str) -> tuple[User, Token]:
        found = token_get_with_user(key=key)
        if found is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        token, user = found
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return user, token

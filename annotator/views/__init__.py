"""The web pages (function views), and the two typing helpers every view module uses.

``HtmxHttpRequest`` is the request as django-htmx's middleware leaves it (``request.htmx``, falsy for a plain
request); views annotate their ``request`` with it. ``request_user`` is ``request.user`` narrowed to the project's
user model once ``@login_required`` has let the request through.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    """An ``HttpRequest`` that went through ``django_htmx.middleware.HtmxMiddleware`` (for typing only)."""

    htmx: HtmxDetails


def request_user(request: HttpRequest) -> User:
    """The signed-in user of a request that ``@login_required`` let through.

    Anonymous requests never get this far; should one (a view missing its decorator), it is refused rather than
    treated as a user.
    """
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied("Sign in first.")
    return user

"""The web pages (function views), and the helpers every view module uses (annotator's and rm_jobs').

``HtmxHttpRequest`` is the request as django-htmx's middleware leaves it (``request.htmx``, falsy for a plain
request); views annotate their ``request`` with it. ``request_user`` is ``request.user`` narrowed to the project's
user model once ``@login_required`` has let the request through. ``access_project`` is the one project-access check
of the pages, and ``render_page`` the one rule for full page versus htmx partial.

Views let an :class:`annotator.errors.ApplicationError` they do not handle in place propagate:
:class:`annotator.middleware.ApplicationErrorMiddleware` turns it into the page response its status says, as the
DRF exception handler does for the API.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_htmx.middleware import HtmxDetails

from annotator.models import Project
from annotator.selectors.projects import project_get_for_role


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


def access_project(request: HttpRequest, slug: str, roles: Collection[str] | None = None) -> Project:
    """The project ``slug`` if the signed-in user holds one of ``roles`` in it (any role when None).

    Raises NotFound for a non-member (404: the project's existence is not revealed) and PermissionDenied for a
    member without the role (403); the middleware renders both.
    """
    return project_get_for_role(slug=slug, user=request_user(request), roles=roles)


def render_page(
    request: HtmxHttpRequest, page: str, partial: str, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    """The full page, or for an htmx request the partial that the page includes.

    One status rule: the full page answers ``status`` (400 for a refused form); the partial always answers 200,
    because htmx swaps only 2xx responses by default and the partial shows the error in place.
    """
    if request.htmx:
        return render(request, partial, context)
    return render(request, page, context, status=status)

"""Who may read the API's own description (``/api/schema/``, ``/api/docs/``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.permissions import BasePermission
from rest_framework.request import Request


class ApiDocsAccess(BasePermission):
    """Anyone when ``PREFSTACK_API_DOCS_PUBLIC`` is true (read at each request), else a signed-in user or a token
    holder (anonymous: 401 in the API's error shape)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(settings.PREFSTACK_API_DOCS_PUBLIC or (request.user and request.user.is_authenticated))

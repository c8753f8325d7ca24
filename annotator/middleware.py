"""Pages answer an :class:`~annotator.errors.ApplicationError` the way the API does: by its status, with its message.

A view handles in place the errors a person can fix (a form's message beside the field); anything else it lets
propagate, and this middleware renders it: 404 and 403 through Django's own handlers (so ``404.html`` /
``403.html`` apply), any other status as the error page with the message. API views never get here: DRF renders
their errors itself (``annotator.api.errors.exception_handler``).
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.defaults import page_not_found, permission_denied

from annotator.errors import ApplicationError


class ApplicationErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, ApplicationError):
            return None
        if exception.status == 404:
            return page_not_found(request, Http404(exception.message))
        if exception.status == 403:
            return permission_denied(request, DjangoPermissionDenied(exception.message))
        context = {"message": exception.message, "code": exception.code, "status": exception.status}
        return render(request, "error.html", context, status=exception.status)

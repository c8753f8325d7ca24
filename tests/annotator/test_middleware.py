"""Pages answer an ApplicationError the way the API does: by its status, with its message."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.storage.fallback import FallbackStorage
from django.http import HttpResponse
from django.test import RequestFactory

from annotator.error_codes import ErrorCode
from annotator.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from annotator.middleware import ApplicationErrorMiddleware


def _middleware() -> ApplicationErrorMiddleware:
    return ApplicationErrorMiddleware(lambda request: HttpResponse())


def _request() -> object:
    request = RequestFactory().get("/somewhere/")
    request.user = AnonymousUser()
    request.session = {}  # type: ignore[attr-defined]
    request._messages = FallbackStorage(request)  # type: ignore[attr-defined]
    return request


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (NotFound("No such thing."), 404),
        (PermissionDenied("Leads only."), 403),
        (Conflict("Already done.", code=ErrorCode.ALREADY_SUBMITTED), 409),
        (ValidationFailed("Bad input."), 400),
    ],
)
def test_an_application_error_becomes_the_page_its_status_says(error: Exception, status: int) -> None:
    response = _middleware().process_exception(_request(), error)  # type: ignore[arg-type]
    assert response is not None
    assert response.status_code == status
    if status in (400, 409):
        assert error.args[0] in response.content.decode()


def test_other_exceptions_are_left_alone() -> None:
    assert _middleware().process_exception(_request(), ValueError("boom")) is None  # type: ignore[arg-type]

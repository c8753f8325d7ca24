"""DRF exception handler: every error leaves as ``{"message", "code", "extra"}`` with a 4xx status."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from annotator.error_codes import ErrorCode
from annotator.errors import ApplicationError


def _flatten(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {k: _flatten(v) for k, v in detail.items()}
    if isinstance(detail, list):
        return [_flatten(v) for v in detail]
    return str(detail)


def _first_message(detail: Any) -> str:
    if isinstance(detail, dict):
        for key, value in detail.items():
            inner = _first_message(value)
            return inner if key == "non_field_errors" else f"{key}: {inner}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApplicationError):
        return Response({"message": exc.message, "code": exc.code, "extra": exc.extra}, status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    assert isinstance(exc, exceptions.APIException)
    detail = exc.detail
    if isinstance(exc, exceptions.ValidationError):
        body = {
            "message": _first_message(detail),
            "code": ErrorCode.VALIDATION_FAILED,
            "extra": {"fields": _flatten(detail)},
        }
    else:
        codes = exc.get_codes()
        body = {
            "message": _first_message(detail),
            "code": codes if isinstance(codes, str) else ErrorCode.ERROR,
            "extra": {},
        }
    response.data = body
    if response.status_code >= 500:  # pragma: no cover - DRF maps nothing here to 5xx
        response.status_code = status.HTTP_400_BAD_REQUEST
    return response

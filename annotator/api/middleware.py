"""Every response under ``/api/`` is JSON: errors that never reach a DRF view leave in the API's error shape.

DRF's exception handler (annotator.api.errors) shapes errors raised inside an API view. Some are answered before or
outside one — a URL that matches no route (Django's HTML 404), a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` read by
Django (its HTML 400), a server error (the HTML 500 page) — and those are rewritten here as ``{"message", "code",
"extra"}`` with the same status.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from annotator.error_codes import ErrorCode

API_PREFIX = "/api/"

_CODES: dict[int, str] = {
    400: ErrorCode.BAD_REQUEST,
    404: ErrorCode.NOT_FOUND,
    405: "method_not_allowed",  # DRF's own code for it
    413: ErrorCode.REQUEST_TOO_LARGE,
    # DRF's throttle answers JSON itself; the one HTML 429 under /api/ is django-axes' lockout (the token endpoint).
    429: ErrorCode.LOCKED_OUT,
    500: ErrorCode.SERVER_ERROR,
}


def _is_json(response: HttpResponse) -> bool:
    """JSON, or a JSON-based media type (the schema's ``application/vnd.oai.openapi+json``, problem+json ...)."""
    media_type = response.get("Content-Type", "").split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def api_error_response(status: int, message: str | None = None, code: str | None = None) -> JsonResponse:
    """The API's error body for ``status``, with the standard reason phrase when no message is given."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    body = {"message": message or f"{phrase}.", "code": code or _CODES.get(status, ErrorCode.ERROR), "extra": {}}
    return JsonResponse(body, status=status)


class ApiJsonErrorsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code < 400 or not request.path_info.startswith(API_PREFIX) or _is_json(response):
            return response
        message = settings.AXES_COOLOFF_MESSAGE if response.status_code == 429 else None
        shaped = api_error_response(response.status_code, message)
        for header in ("Allow", "WWW-Authenticate", "Retry-After"):
            if header in response:
                shaped[header] = response[header]
        return shaped

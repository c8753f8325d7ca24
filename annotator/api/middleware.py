"""Every response under ``/api/`` is JSON: errors that never reach a DRF view leave in the API's error shape.

DRF's exception handler (annotator.api.errors) shapes errors raised inside an API view. Some are answered before or
outside one — a URL that matches no route (Django's HTML 404), a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` read by
Django (its HTML 400), a server error (the HTML 500 page) — and those are rewritten here as ``{"message", "code",
"extra"}`` with the same status.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus

from django.http import HttpRequest, HttpResponse, JsonResponse

API_PREFIX = "/api/"

_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    500: "server_error",
}


def _is_json(response: HttpResponse) -> bool:
    content_type = response.get("Content-Type", "")
    return content_type.split(";", 1)[0].strip().lower() in {"application/json", "application/problem+json"}


def api_error_response(status: int, message: str | None = None, code: str | None = None) -> JsonResponse:
    """The API's error body for ``status``, with the standard reason phrase when no message is given."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    body = {"message": message or f"{phrase}.", "code": code or _CODES.get(status, "error"), "extra": {}}
    return JsonResponse(body, status=status)


class ApiJsonErrorsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code < 400 or not request.path_info.startswith(API_PREFIX) or _is_json(response):
            return response
        shaped = api_error_response(response.status_code)
        for header in ("Allow", "WWW-Authenticate", "Retry-After"):
            if header in response:
                shaped[header] = response[header]
        return shaped

"""One family of application errors, each with a machine-readable code and the HTTP status it maps to.

Services raise them; the API renders ``{"message", "code", "extra"}`` and pages show the message in place.
"""

from __future__ import annotations

from typing import Any

from annotator.error_codes import ErrorCode


class ApplicationError(Exception):
    code: ErrorCode = ErrorCode.INVALID
    status = 400

    def __init__(self, message: str, *, code: ErrorCode | None = None, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.extra: dict[str, Any] = extra or {}


class ValidationFailed(ApplicationError):
    """Input breaks a rule; ``extra["fields"]`` maps field names to messages."""

    code = ErrorCode.VALIDATION_FAILED


class InvalidCombination(ValidationFailed):
    """Fields each valid alone (and so by the API's schema) that cannot go together; still a 400, told apart by its
    code. ``extra["fields"]`` names every field of the combination."""

    code = ErrorCode.INVALID_COMBINATION


class UnprocessableFile(ValidationFailed):
    """An upload whose content cannot be used (a malformed dataset file): 422 where a malformed request is a 400,
    because a request can be checked against the API's schema and a file's content cannot."""

    status = 422


class PermissionDenied(ApplicationError):
    code = ErrorCode.PERMISSION_DENIED
    status = 403


class NotFound(ApplicationError):
    code = ErrorCode.NOT_FOUND
    status = 404


class Conflict(ApplicationError):
    """The request is valid but the current state forbids it (already submitted, not ready, ...)."""

    code = ErrorCode.CONFLICT
    status = 409

"""The client's exceptions: the API's error answer, and a run that ended without success."""

from __future__ import annotations

from typing import Any


class PrefstackError(Exception):
    """An error answer of the API, carrying its ``{"message", "code", "extra"}`` and HTTP status.

    ``code`` is one of the server's error codes (``validation_failed``, ``not_found``, ``snapshot_not_ready``,
    ``webhook_url_not_allowed`` …; the table is in the server's docs/architecture.md); ``extra`` holds the details
    (``extra["fields"]`` names each refused field).
    """

    def __init__(self, message: str, *, status_code: int, code: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.extra: dict[str, Any] = extra or {}

    def __str__(self) -> str:
        return f"{self.message} ({self.status_code} {self.code})"


class RunFailed(Exception):
    """A snapshot build, training job or evaluation that a ``wait_*`` method followed ended without success.

    ``run`` is the final state as the API reported it (its ``status`` and ``error``)."""

    def __init__(self, message: str, *, run: Any) -> None:
        super().__init__(message)
        self.run = run

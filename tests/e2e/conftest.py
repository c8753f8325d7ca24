"""Every browser journey runs under the Content-Security-Policy and fails on any violation it reports.

A journey also ends only when the live server has answered every request the browser made: the database flush that
follows a test must not meet a request still in its transaction (on PostgreSQL the two can deadlock)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.signals import request_finished, request_started

REPORT_VIOLATIONS = """document.addEventListener('securitypolicyviolation', e =>
  console.error('CSP violation: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline')));"""


def _is_violation(text: str) -> bool:
    return "Content Security Policy" in text or text.startswith("CSP violation")


@pytest.fixture(autouse=True)
def csp_violations(request: pytest.FixtureRequest) -> Iterator[list[str]]:
    violations: list[str] = []
    if "page" not in request.fixturenames:
        yield violations
        return
    page = request.getfixturevalue("page")
    page.context.add_init_script(REPORT_VIOLATIONS)
    page.on("console", lambda message: violations.append(message.text) if _is_violation(message.text) else None)
    yield violations
    assert violations == [], "the page broke its Content-Security-Policy"


class _RequestsInFlight:
    """The live server's threads with a request started and not yet finished (Django's request signals). Requests of
    the test client run in the main thread and are not counted: a streamed response it never reads never finishes."""

    def __init__(self) -> None:
        self._open: dict[threading.Thread, int] = {}
        self._changed = threading.Condition()

    def started(self, **_: Any) -> None:
        thread = threading.current_thread()
        if thread is threading.main_thread():
            return
        with self._changed:
            self._open[thread] = self._open.get(thread, 0) + 1

    def finished(self, **_: Any) -> None:
        thread = threading.current_thread()
        with self._changed:
            if self._open.get(thread, 0) > 1:
                self._open[thread] -= 1
            else:
                self._open.pop(thread, None)
            self._changed.notify_all()

    def _idle(self) -> bool:
        return not any(thread.is_alive() for thread in self._open)

    def wait_until_idle(self, timeout: float) -> bool:
        """True once no live thread is inside a request (a thread that died mid-request does not count)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not self._idle():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(timeout=min(left, 0.5))  # a thread that dies sends nothing: look again
            self._open.clear()
            return True


_IN_FLIGHT = _RequestsInFlight()
request_started.connect(_IN_FLIGHT.started, dispatch_uid="e2e-requests-started")
request_finished.connect(_IN_FLIGHT.finished, dispatch_uid="e2e-requests-finished")


@pytest.fixture(autouse=True)
def _requests_settle_before_flush(request: pytest.FixtureRequest) -> Iterator[None]:
    """Closes the browser, then waits for the server's last answer, before the test database is flushed."""
    if "page" not in request.fixturenames:
        yield
        return
    page = request.getfixturevalue("page")
    yield
    page.context.close()
    assert _IN_FLIGHT.wait_until_idle(timeout=60), "a request to the live server never finished"

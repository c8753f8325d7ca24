"""Every browser journey runs under the Content-Security-Policy and fails on any violation it reports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

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

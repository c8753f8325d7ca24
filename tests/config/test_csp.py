"""Content-Security-Policy on every page, and templates that keep it: no inline script, no inline event handler, no
inline style (style-src 'self'; only the two API documentation pages allow inline styles, for Redoc and Swagger UI)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client

from tests.factories import ComparisonFactory, ProjectFactory, member

pytestmark = pytest.mark.django_db

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
# on...= handlers, and htmx's hx-on (which htmx runs through Function(), i.e. eval).
HANDLER = re.compile(r"""\s(?:on[a-z]+|hx-on[:\w-]*)\s*=\s*["']""", re.IGNORECASE)
INLINE_STYLE = re.compile(r"""<style\b|\sstyle\s*=""", re.IGNORECASE)


def _directives(header: str) -> dict[str, list[str]]:
    out = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


@pytest.mark.parametrize(
    "path",
    ["/accounts/login/", "/", "/p/csp/", "/p/csp/annotate/", "/p/csp/settings/import/", "/p/csp/lead/",
     "/p/csp/snapshots/", "/api/docs/", "/api/redoc/"],
)  # fmt: skip
def test_every_page_sends_a_policy_without_inline_script(path: str) -> None:
    project = ProjectFactory(slug="csp")
    ComparisonFactory(project=project)
    user = member(project, username="both", is_staff=True)
    project.memberships.create(user=user, role="lead")
    client = Client()
    client.force_login(user)
    response = client.get(path)
    assert response.status_code == 200, path
    policy = _directives(response["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    docs = path.startswith("/api/")
    assert policy["style-src"] == (["'self'", "'unsafe-inline'"] if docs else ["'self'"])
    # The pages themselves hold no script (nor, outside the API docs, any style) the policy would block.
    html = response.content.decode()
    for attributes in SCRIPT_TAG.findall(html):
        assert "src=" in attributes or 'type="application/json"' in attributes, attributes
    assert not HANDLER.search(html)
    if not docs:
        assert not INLINE_STYLE.search(html), INLINE_STYLE.search(html)


@pytest.mark.parametrize("template", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_templates_hold_no_inline_script_or_handler(template: Path) -> None:
    text = template.read_text()
    for attributes in SCRIPT_TAG.findall(text):
        assert "src=" in attributes or "application/json" in attributes, f"inline script in {template.name}"
    match = HANDLER.search(text)
    assert match is None, f"inline event handler in {template.name}: {match.group(0) if match else ''}"


@pytest.mark.parametrize("template", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_templates_hold_no_inline_style(template: Path) -> None:
    match = INLINE_STYLE.search(template.read_text())
    assert match is None, f"inline style in {template.name}: {match.group(0) if match else ''}"

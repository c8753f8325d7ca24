"""/api/docs/ (Swagger UI) and /api/redoc/ work offline: every asset comes from this server (drf-spectacular-sidecar's
static files), never from a CDN, and no page starts its script inline."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

pytestmark = pytest.mark.django_db

ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)


def _assets(html: str) -> list[str]:
    return ASSET.findall(html)


@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_docs_pages_reference_no_external_host(client: Client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assets = _assets(html)
    assert assets, "the page loads its UI from somewhere"
    for asset in assets:
        parts = urlsplit(asset)
        assert not parts.scheme and not parts.netloc, f"{url} loads {asset} from another host"
    assert "googleapis" not in html and "jsdelivr" not in html and "unpkg" not in html
    assert not INLINE_SCRIPT.search(html), "no inline script (the CSP forbids it)"
    # Each static asset exists in this installation.
    for asset in assets:
        if asset.startswith("/static/"):
            assert finders.find(asset.removeprefix("/static/")), asset


def test_swagger_start_up_script_is_served_as_a_file(client: Client) -> None:
    html = client.get("/api/docs/").content.decode()
    script = next(a for a in _assets(html) if "script" in a and a.startswith("/api/docs/"))
    response = client.get(script.replace("&amp;", "&"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in response.content.decode()

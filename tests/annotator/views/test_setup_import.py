"""The import page: upload a file, see the count or the error with its line and column, in place."""

from __future__ import annotations

import gzip
import html
import io
import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from annotator.models import Comparison, Project, Role
from tests.factories import ProjectFactory, member

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}

GOOD = [
    {"prompt": "What is 2+2?", "response_1": "4", "response_2": "Five.", "preference_strength": -2},
    {"prompt": "Name a colour.", "response_1": "Blue", "response_2": "Seven", "source_id": "s/2"},
]


def _jsonl(rows: list[dict], name: str = "comparisons.jsonl") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, "".join(json.dumps(r) + "\n" for r in rows).encode(), "application/x-ndjson")


@pytest.fixture
def project() -> Project:
    return ProjectFactory()


@pytest.fixture
def lead_client(project: Project) -> Client:
    client = Client()
    client.force_login(member(project, Role.LEAD))
    return client


@pytest.mark.parametrize("headers", [{}, HX])
def test_prefstack_jsonl_import(lead_client: Client, project: Project, headers: dict) -> None:
    url = reverse("annotator:setup_import", kwargs={"slug": project.slug})
    response = lead_client.post(url, {"fmt": "prefstack", "file": _jsonl(GOOD)}, **headers)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Imported 2 comparisons." in html
    assert ("<html" in html) is not bool(headers)
    assert Comparison.objects.filter(project=project).count() == 2


@pytest.mark.parametrize("headers", [{}, HX])
def test_bad_row_shows_line_and_column_and_imports_nothing(
    lead_client: Client, project: Project, headers: dict
) -> None:
    rows = [*GOOD, {"prompt": "p", "response_1": "a"}]
    url = reverse("annotator:setup_import", kwargs={"slug": project.slug})
    response = lead_client.post(url, {"fmt": "prefstack", "file": _jsonl(rows)}, **headers)
    html = response.content.decode()
    # htmx swaps only 2xx answers, so the in-place error comes with 200; a plain form post gets 400.
    assert response.status_code == (200 if headers else 400)
    assert 'id="import-error"' in html
    assert "Nothing was imported." in html
    assert "<dt>Line</dt><dd>3</dd>" in html
    assert "<code>response_2</code>" in html
    assert not Comparison.objects.filter(project=project).exists()


def test_every_bad_row_is_listed(lead_client: Client, project: Project) -> None:
    rows = [*GOOD, {"prompt": "p", "response_1": "a"}, {"prompt": "p", "response_1": 3, "response_2": "b"}]
    url = reverse("annotator:setup_import", kwargs={"slug": project.slug})
    html = lead_client.post(url, {"fmt": "prefstack", "file": _jsonl(rows)}, **HX).content.decode()
    assert "2 problems in this file" in html
    assert "line 3, column &#x27;response_2&#x27;" in html
    assert "line 4, column &#x27;response_1&#x27;" in html
    assert not Comparison.objects.filter(project=project).exists()


def test_missing_file_is_a_form_error(lead_client: Client, project: Project) -> None:
    url = reverse("annotator:setup_import", kwargs={"slug": project.slug})
    response = lead_client.post(url, {"fmt": "prefstack"}, **HX)
    assert "This field is required." in response.content.decode()


def test_import_refused_to_annotators(project: Project) -> None:
    client = Client()
    client.force_login(member(project, Role.ANNOTATOR))
    url = reverse("annotator:setup_import", kwargs={"slug": project.slug})
    assert client.post(url, {"fmt": "prefstack", "file": _jsonl(GOOD)}).status_code == 403
    assert not Comparison.objects.exists()


def _gzip_bomb(first: bytes, filler: bytes, mib: int) -> SimpleUploadedFile:
    body = io.BytesIO()
    with gzip.GzipFile(fileobj=body, mode="wb") as gz:
        gz.write(first)
        for _ in range(mib):
            gz.write(filler * (1 << 20))
    return SimpleUploadedFile("bomb.jsonl.gz", body.getvalue(), "application/gzip")


@pytest.mark.parametrize(
    ("upload", "reason"),
    [
        (lambda: _gzip_bomb(b"", b" ", 16), "line 1 is longer than 1,048,576 bytes"),
        (lambda: _gzip_bomb(json.dumps(GOOD[0]).encode() + b"\n", b"\n", 16), "after decompression"),
        (lambda: _jsonl([GOOD[0], {**GOOD[1], "response_2": "nul\x00"}]), "contains a NUL character (U+0000)"),
        (lambda: _jsonl([{**GOOD[0], "response_1": "r" * 1001}]), "1,001 characters, over the limit of 1,000"),
    ],
    ids=["spaces-bomb", "blank-lines-bomb", "nul", "over-limit"],
)
def test_hostile_files_are_refused_in_the_page_with_the_reason(
    lead_client: Client, project: Project, settings: Any, upload: Any, reason: str
) -> None:
    settings.PREFSTACK_IMPORT_MAX_BYTES = 8 << 20
    settings.PREFSTACK_IMPORT_MAX_LINE_BYTES = 1 << 20
    settings.PREFSTACK_MAX_RESPONSE_CHARS = 1000
    url = reverse("annotator:setup_import", kwargs={"slug": project.slug})
    response = lead_client.post(url, {"fmt": "prefstack", "file": upload()})
    assert response.status_code == 400
    assert reason in html.unescape(response.content.decode())
    assert not Comparison.objects.filter(project=project).exists()


def test_the_forms_domain_and_language_fill_rows_that_do_not_say(lead_client: Client, project: Project) -> None:
    url = reverse("annotator:setup_import", kwargs={"slug": project.slug})
    rows = [GOOD[0], {**GOOD[1], "domain": "general"}]
    body = {"fmt": "prefstack", "file": _jsonl(rows), "domain": "stem", "language": "english"}
    assert lead_client.post(url, body).status_code == 200
    scopes = list(
        Comparison.objects.filter(project=project).order_by("id").values_list("prompt__domain", "prompt__language")
    )
    assert scopes == [("stem", "english"), ("general", "english")]
    refused = lead_client.post(url, {"fmt": "prefstack", "file": _jsonl(GOOD), "domain": "co\x01de"}, **HX)
    assert "64 characters on one line, without control characters" in refused.content.decode()
    assert Comparison.objects.filter(project=project).count() == 2

"""The import tab of a feedback, edit or edit-quality project: a HelpSteer3 file of its task type imported in the
page (all or nothing, the refusal in place), and the links that download its task files, the API's files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotator.models import Project, Prompt, Role, TaskResult, TaskType, TaskUnit
from tests.factories import ProjectFactory, member

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "formats"


def _file(config: str, extra: bytes = b"", name: str = "") -> SimpleUploadedFile:
    body = (FIXTURES / f"helpsteer3_{config}.jsonl").read_bytes() + extra
    return SimpleUploadedFile(name or f"{config}.jsonl", body, "application/x-ndjson")


def _lead(project: Project) -> Client:
    client = Client()
    client.force_login(member(project, Role.LEAD))
    return client


def _url(project: Project) -> str:
    return reverse("annotator:setup_import", kwargs={"slug": project.slug})


def _nothing_written(project: Project) -> bool:
    return (
        not (Prompt.objects.filter(project=project).exists() or TaskUnit.objects.filter(project=project).exists())
        and not TaskResult.objects.filter(unit__project=project).exists()
    )


@pytest.mark.parametrize("headers", [{}, HX])
def test_a_good_file_is_imported_with_a_summary(headers: dict) -> None:
    project = ProjectFactory(task_type=TaskType.FEEDBACK)
    client = _lead(project)
    page = client.get(_url(project)).content.decode()
    assert 'name="file"' in page and 'name="split"' in page and 'name="fmt"' not in page  # not the comparison form

    response = client.post(_url(project), {"file": _file("feedback"), "split": "validation"}, **headers)
    html = response.content.decode()
    assert response.status_code == 200 and ("<html" in html) is not bool(headers)
    assert "Imported 2 tasks." in html and 'id="task-unit-count">2<' in html
    units = TaskUnit.objects.filter(project=project)
    assert units.count() == 2 and set(units.values_list("split", flat=True)) == {"validation"}
    assert TaskResult.objects.filter(unit__project=project, source="helpsteer3").exists()


@pytest.mark.parametrize("headers", [{}, HX])
def test_a_bad_row_is_named_in_place_and_nothing_is_written(headers: dict) -> None:
    project = ProjectFactory(task_type=TaskType.EDIT)
    bad = json.dumps({"context": [{"role": "user", "content": "q"}], "original_response": "a"}).encode() + b"\n"
    response = _lead(project).post(_url(project), {"file": _file("edit", bad)}, **headers)
    html = response.content.decode()
    # htmx swaps only 2xx answers, so the in-place error comes with 200; a plain form post gets 400.
    assert response.status_code == (200 if headers else 400)
    assert 'id="import-error"' in html and "Nothing was imported." in html
    assert "<dt>Line</dt><dd>2</dd>" in html and "<code>edited_response</code>" in html
    assert _nothing_written(project)


def test_a_file_of_another_task_type_is_refused_in_place() -> None:
    project = ProjectFactory(task_type=TaskType.EDIT)
    response = _lead(project).post(_url(project), {"file": _file("feedback")}, **HX)
    html = response.content.decode()
    assert response.status_code == 200 and 'id="import-error"' in html
    assert "HelpSteer3 feedback file, not edit" in html and "this project imports HelpSteer3 edit files" in html
    assert _nothing_written(project)


def test_a_missing_file_is_a_form_error_and_annotators_are_refused() -> None:
    project = ProjectFactory(task_type=TaskType.FEEDBACK)
    assert "This field is required." in _lead(project).post(_url(project), {"split": "train"}, **HX).content.decode()
    annotator = Client()
    annotator.force_login(member(project))
    assert annotator.post(_url(project), {"file": _file("feedback")}).status_code == 403
    assert _nothing_written(project)


def test_the_download_links_give_the_apis_files() -> None:
    project = ProjectFactory(task_type=TaskType.EDIT)
    lead = member(project, Role.LEAD)
    client = Client()
    client.force_login(lead)
    client.post(_url(project), {"file": _file("edit")})
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=lead).key}")

    html = client.get(_url(project)).content.decode()
    export = reverse("annotator:task_export", kwargs={"slug": project.slug})
    for query in ("file_type=jsonl", "file_type=parquet&amp;split=train", "file_type=jsonl&amp;edit_pairs=true"):
        assert f'href="{export}?{query}"' in html
        page_file = client.get(f"{export}?{query.replace('&amp;', '&')}")
        api_file = api.get(f"/api/v1/projects/{project.slug}/tasks/export/?{query.replace('&amp;', '&')}")
        assert page_file.status_code == api_file.status_code == 200
        assert page_file.content == api_file.content and page_file["Content-Type"] == api_file["Content-Type"]
        assert page_file["Content-Disposition"] == api_file["Content-Disposition"]
    plain = client.get(f"{export}?file_type=jsonl")
    assert plain.content == (FIXTURES / "helpsteer3_edit.jsonl").read_bytes()
    assert plain["Content-Disposition"] == f'attachment; filename="{project.slug}-edit.jsonl"'


def test_downloads_are_refused_as_the_api_refuses_them() -> None:
    project = ProjectFactory(task_type=TaskType.FEEDBACK)
    export = reverse("annotator:task_export", kwargs={"slug": project.slug})
    assert "edit_pairs" not in _lead(project).get(_url(project)).content.decode()  # only an edit project has pairs
    assert _lead(project).get(f"{export}?edit_pairs=true").status_code == 409
    assert _lead(project).get(f"{export}?file_type=xlsx").status_code == 400
    annotator = Client()
    annotator.force_login(member(project))
    assert annotator.get(export).status_code == 403
    researcher = Client()
    researcher.force_login(member(project, Role.RESEARCHER))
    assert researcher.get(export).status_code == 200
    comparison = ProjectFactory()
    assert _lead(comparison).get(reverse("annotator:task_export", kwargs={"slug": comparison.slug})).status_code == 409

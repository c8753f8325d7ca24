"""Comparisons over the API: import (all or nothing), list with filters and pagination, read."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from annotator.models import Comparison, Role
from tests.factories import ComparisonFactory, ProjectFactory, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead_client() -> tuple[APIClient, Any]:
    project = ProjectFactory()
    client = APIClient()
    client.force_authenticate(member(project, Role.LEAD))
    return client, project


def _hs2p(rows: int) -> bytes:
    return "".join(
        json.dumps(
            {
                "split": "train",
                "prompt": f"Q{i}?",
                "response_1": "a",
                "response_2": "b",
                "preference_strength": 1,
                "preference_statement": "@Response 2 is better.",
                "preference_elaboration": "",
                "three_most_similar_preferences": [],
                "all_preferences_unprocessed": [],
            }
        )
        + "\n"
        for i in range(rows)
    ).encode()


def test_import_then_list_and_read(lead_client: tuple[APIClient, Any]) -> None:
    client, project = lead_client
    upload = SimpleUploadedFile("preference.jsonl", _hs2p(3))
    response = client.post(
        f"/api/v1/projects/{project.slug}/comparisons/import/", {"file": upload, "format": "helpsteer2-preference"}
    )
    assert response.status_code == 201, response.json()
    assert response.json()["comparisons"] == 3
    page = client.get(f"/api/v1/projects/{project.slug}/comparisons/", {"limit": 2, "split": "train"}).json()
    assert page["count"] == 3
    assert len(page["results"]) == 2
    assert page["next"]
    first = page["results"][0]
    assert first["prompt"] == [{"role": "user", "content": "Q0?"}]
    assert first["response_1"] == "a"
    one = client.get(f"/api/v1/projects/{project.slug}/comparisons/{first['id']}/").json()
    assert one == first


def test_a_bad_file_imports_nothing(lead_client: tuple[APIClient, Any]) -> None:
    client, project = lead_client
    bad = _hs2p(2) + b'{"split": "train", "prompt": 3}\n'
    response = client.post(
        f"/api/v1/projects/{project.slug}/comparisons/import/",
        {"file": SimpleUploadedFile("p.jsonl", bad), "format": "helpsteer2-preference"},
    )
    assert response.status_code == 422  # the request is well formed; the file is not
    assert response.json()["code"] == "import_failed"
    assert not Comparison.objects.exists()


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        # 32 MiB of "[" and spaces in a ~32 KB .json.gz: streamed, and stopped at the decompressed cap.
        ("bomb.json.gz", gzip.compress(b"[" + b" " * (32 << 20)), "after decompression"),
        ("nul.jsonl", b'{"prompt": "p\\u0000", "response_1": "a", "response_2": "b"}\n', "contains a NUL character"),
        ("surrogate.json", b'[{"prompt": "\\ud800", "response_1": "a", "response_2": "b"}]', "lone surrogate"),
    ],
)
def test_a_hostile_file_is_a_422_with_the_reason_and_imports_nothing(
    lead_client: tuple[APIClient, Any], settings: Any, name: str, data: bytes, reason: str
) -> None:
    settings.PREFSTACK_IMPORT_MAX_BYTES = 4 << 20
    client, project = lead_client
    response = client.post(
        f"/api/v1/projects/{project.slug}/comparisons/import/",
        {"file": SimpleUploadedFile(name, data), "format": "prefstack"},
    )
    assert response.status_code == 422
    assert response.json()["code"] == "import_failed" and reason in response.json()["message"]
    assert not Comparison.objects.exists()


@pytest.mark.parametrize("body", [{}, {"format": "helpsteer2"}, {"format": "nope", "file": "x"}])
def test_malformed_import_is_a_400(lead_client: tuple[APIClient, Any], body: dict[str, Any]) -> None:
    client, project = lead_client
    response = client.post(f"/api/v1/projects/{project.slug}/comparisons/import/", body)
    assert response.status_code == 400
    assert response.json()["code"] == "validation_failed"


def test_list_filter_and_bad_parameters(lead_client: tuple[APIClient, Any]) -> None:
    client, project = lead_client
    ComparisonFactory(project=project, split="train")
    ComparisonFactory(project=project, split="validation")
    url = f"/api/v1/projects/{project.slug}/comparisons/"
    assert client.get(url, {"split": "validation"}).json()["count"] == 1
    for query in ({"split": "test"}, {"limit": "x"}, {"offset": -1}, {"limit": 0}):
        assert client.get(url, query).status_code == 400
    assert client.get(f"{url}999999/").status_code == 404


def test_list_query_count_does_not_grow_with_the_page(
    lead_client: tuple[APIClient, Any], django_assert_max_num_queries: Any
) -> None:
    client, project = lead_client
    for _ in range(20):
        ComparisonFactory(project=project)
    with django_assert_max_num_queries(8):
        assert len(client.get(f"/api/v1/projects/{project.slug}/comparisons/").json()["results"]) == 20


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"source_id": "s" * 300}, "300 characters, over the limit of 200"),
        ({"metadata": {"n": 2**64}}, "does not fit in 64 bits"),
        ({"metadata": {"n": -(2**70)}}, "does not fit in 64 bits"),
    ],
)
def test_a_field_the_database_cannot_hold_imports_nothing(
    lead_client: tuple[APIClient, Any], extra: dict[str, Any], message: str
) -> None:
    client, project = lead_client
    row = {"prompt": "Q?", "response_1": "a", "response_2": "b", **extra}
    response = client.post(
        f"/api/v1/projects/{project.slug}/comparisons/import/",
        {"file": SimpleUploadedFile("rows.jsonl", json.dumps(row).encode()), "format": "prefstack"},
    )
    assert response.status_code == 422, response.content[:300]
    assert message in response.json()["message"]
    assert not Comparison.objects.exists()


def test_the_list_reads_its_query_strictly(lead_client: tuple[APIClient, Any]) -> None:
    client, project = lead_client
    ComparisonFactory(project=project, split="train")
    ComparisonFactory(project=project, split="")
    url = f"/api/v1/projects/{project.slug}/comparisons/"
    assert client.get(url, {"split": ""}).json()["count"] == 1  # "": not yet split, as documented
    assert client.get(f"{url}?limit=1&limit=2").status_code == 400
    assert client.get(url, {"source": ""}).status_code == 400


def test_an_empty_file_is_refused_for_its_content(lead_client: tuple[APIClient, Any]) -> None:
    client, project = lead_client
    response = client.post(
        f"/api/v1/projects/{project.slug}/comparisons/import/",
        {"file": SimpleUploadedFile("rows.jsonl", b""), "format": "prefstack"},
    )
    assert (response.status_code, response.json()["code"]) == (422, "import_failed")  # not DRF's 400 "empty"
    assert "the file is empty" in response.json()["message"]


def test_an_import_fills_domain_and_language_where_rows_do_not_say_and_the_list_filters_on_them(
    lead_client: tuple[APIClient, Any],
) -> None:
    client, project = lead_client
    url = f"/api/v1/projects/{project.slug}/comparisons/"
    upload = SimpleUploadedFile("preference.jsonl", _hs2p(2))
    body = {"file": upload, "format": "helpsteer2-preference", "domain": "stem", "language": "english"}
    assert client.post(f"{url}import/", body).status_code == 201
    rows = [
        {"prompt": "SELECT?", "response_1": "a", "response_2": "b", "domain": "code", "language": "sql"},
        {"prompt": "Plain?", "response_1": "a", "response_2": "b"},
    ]
    upload = SimpleUploadedFile("mixed.jsonl", "".join(json.dumps(r) + "\n" for r in rows).encode())
    body = {"file": upload, "format": "prefstack", "domain": "general", "language": "english"}
    assert client.post(f"{url}import/", body).status_code == 201

    listed = client.get(url).json()["results"]
    assert [(c["domain"], c["language"]) for c in listed] == [
        ("stem", "english"),
        ("stem", "english"),
        ("code", "sql"),  # the row's own values win over the import's
        ("general", "english"),
    ]
    assert client.get(url, {"domain": "code"}).json()["count"] == 1
    assert client.get(url, {"language": "english"}).json()["count"] == 3
    assert client.get(url, {"domain": "stem", "language": "sql"}).json()["count"] == 0


def test_an_import_refuses_a_domain_that_is_no_name_and_imports_nothing(lead_client: tuple[APIClient, Any]) -> None:
    client, project = lead_client
    upload = SimpleUploadedFile("preference.jsonl", _hs2p(1))
    body = {"file": upload, "format": "helpsteer2-preference", "domain": "co\x07de"}
    response = client.post(f"/api/v1/projects/{project.slug}/comparisons/import/", body)
    assert response.status_code == 400
    assert response.json()["code"] == "validation_failed"
    assert "domain" in response.json()["extra"]["fields"]
    assert not Comparison.objects.filter(project=project).exists()

"""The snapshot endpoints: create (queued after commit), status, list with a status filter, card, download."""

from __future__ import annotations

import io
import zipfile
from typing import Any
from unittest import mock

import pyarrow.parquet as pq
import pytest
from rest_framework.test import APIClient

from annotator.models import Role, Snapshot, SnapshotStatus
from annotator.services.snapshots.lifecycle import snapshot_build
from annotator.tasks import snapshot_build_task
from tests.annotator.services.test_snapshots import annotate
from tests.factories import ComparisonFactory, ProjectFactory, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup() -> dict[str, Any]:
    project = ProjectFactory()
    researcher = member(project, Role.RESEARCHER)
    users = [member(project, Role.ANNOTATOR) for _ in range(3)]
    for strength in (-2, 1):
        comparison = ComparisonFactory(project=project)
        for user, value in zip(users, (2, 3, 3), strict=True):
            annotate(comparison, user, value, 3, strength)
    client = APIClient()
    client.force_authenticate(researcher)
    return {"project": project, "researcher": researcher, "client": client}


def create(setup: dict[str, Any], django_capture_on_commit_callbacks: Any, **body: Any) -> Any:
    with mock.patch.object(snapshot_build_task, "delay") as delay, django_capture_on_commit_callbacks(execute=True):
        response = setup["client"].post(
            f"/api/v1/projects/{setup['project'].slug}/snapshots/create/", body, format="json"
        )
    return response, delay


def test_create_returns_pending_snapshot_and_enqueues(
    setup: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    response, delay = create(setup, django_capture_on_commit_callbacks, name="first cut", split_seed=3)
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "pending"
    assert body["number"] == 1
    assert body["name"] == "first cut"
    assert body["created_by"] == setup["researcher"].username
    assert body["rule"]["name"] == "helpsteer2"
    delay.assert_called_once_with(body["id"])


def test_status_card_and_download_after_build(setup: dict[str, Any], django_capture_on_commit_callbacks: Any) -> None:
    response, _ = create(setup, django_capture_on_commit_callbacks)
    snapshot_id = response.json()["id"]
    client = setup["client"]
    assert client.get(f"/api/v1/snapshots/{snapshot_id}/download/").status_code == 409  # not ready yet
    assert client.get(f"/api/v1/snapshots/{snapshot_id}/card/").json()["code"] == "snapshot_not_ready"
    snapshot_build(snapshot_id=snapshot_id)
    status = client.get(f"/api/v1/snapshots/{snapshot_id}/").json()
    assert status["status"] == "ready"
    assert status["progress"] == 1.0
    assert status["counts"]["included"] == 2
    assert len(status["content_hash"]) == 64
    assert client.get(f"/api/v1/snapshots/{snapshot_id}/card/").json()["markdown"].startswith("---\nlicense: cc-by-4.0")

    download = client.get(f"/api/v1/snapshots/{snapshot_id}/download/?export=helpsteer2-preference&file_type=parquet")
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment;")
    table = pq.read_table(io.BytesIO(b"".join(download.streaming_content)))
    assert table.column("preference_strength").to_pylist() == [-2, 1]

    assert download["Content-Type"] == "application/vnd.apache.parquet"
    jsonl = client.get(f"/api/v1/snapshots/{snapshot_id}/download/?export=helpsteer2-preference&file_type=jsonl")
    assert jsonl["Content-Type"] == "application/jsonl"
    gz = client.get(f"/api/v1/snapshots/{snapshot_id}/download/?export=helpsteer2-preference&file_type=jsonl.gz")
    assert gz["Content-Type"] == "application/gzip"

    bundle = client.get(f"/api/v1/snapshots/{snapshot_id}/download/")
    assert bundle["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(b"".join(bundle.streaming_content))) as archive:
        assert {"README.md", "LICENSE", "MANIFEST"} <= set(archive.namelist())


def test_list_filters_by_status(setup: dict[str, Any], django_capture_on_commit_callbacks: Any) -> None:
    first, _ = create(setup, django_capture_on_commit_callbacks)
    create(setup, django_capture_on_commit_callbacks)
    snapshot_build(snapshot_id=first.json()["id"])
    url = f"/api/v1/projects/{setup['project'].slug}/snapshots/"
    everything = setup["client"].get(url).json()
    assert everything["count"] == 2
    assert [s["number"] for s in everything["results"]] == [2, 1]
    ready = setup["client"].get(url, {"status": "ready"}).json()
    assert [s["number"] for s in ready["results"]] == [1]
    # Read as the schema says: an empty status is not a status, and a parameter is given once.
    assert setup["client"].get(f"{url}?status=").status_code == 400
    assert setup["client"].get(f"{url}?status=ready&status=pending").status_code == 400
    assert setup["client"].get(f"{url}?limit=1&limit=2").status_code == 400


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"validation_fraction": 2}, "validation_fraction"),
        ({"split_seed": -1}, "split_seed"),
        ({"split_seed": "many"}, "split_seed"),
        ({"name": ["not", "a", "string"]}, "name"),
        ({"name": 0}, "name"),  # DRF alone would store "0"
        ({"rule": ""}, "rule"),
        ({"split_seed": "5"}, "split_seed"),  # a string where the schema says integer
        ({"split_seed": True}, "split_seed"),
        ({"validation_fraction": False}, "validation_fraction"),
    ],
)
def test_malformed_create_body_is_a_400(
    setup: dict[str, Any], django_capture_on_commit_callbacks: Any, body: dict[str, Any], field: str
) -> None:
    response, delay = create(setup, django_capture_on_commit_callbacks, **body)
    assert response.status_code == 400
    assert response.json()["code"] == "validation_failed"
    assert field in response.json()["extra"]["fields"]
    delay.assert_not_called()
    assert not Snapshot.objects.exists()


def test_unknown_rule_is_a_404(setup: dict[str, Any], django_capture_on_commit_callbacks: Any) -> None:
    response, _ = create(setup, django_capture_on_commit_callbacks, rule="no-such-rule")
    assert response.status_code == 404
    assert "no-such-rule" in response.json()["message"]


@pytest.mark.parametrize("query", ["export=csv", "file_type=xlsx&export=helpsteer2", "split=test&export=helpsteer2"])
def test_malformed_download_query_is_a_400(
    setup: dict[str, Any], django_capture_on_commit_callbacks: Any, query: str
) -> None:
    response, _ = create(setup, django_capture_on_commit_callbacks)
    snapshot_build(snapshot_id=response.json()["id"])
    assert setup["client"].get(f"/api/v1/snapshots/{response.json()['id']}/download/?{query}").status_code == 400


def test_failed_snapshot_shows_its_error(setup: dict[str, Any], django_capture_on_commit_callbacks: Any) -> None:
    response, _ = create(setup, django_capture_on_commit_callbacks)
    Snapshot.objects.filter(id=response.json()["id"]).update(status=SnapshotStatus.FAILED, error="ValueError: boom")
    body = setup["client"].get(f"/api/v1/snapshots/{response.json()['id']}/").json()
    assert (body["status"], body["error"]) == ("failed", "ValueError: boom")

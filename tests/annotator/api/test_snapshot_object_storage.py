"""Snapshots in an object store (a real S3 API: moto's server on 127.0.0.1): the build stores them under
unguessable keys, downloads answer 302 to a presigned URL, and a store that is down is a clear 503, never a 500."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.request import urlopen

import boto3
import pyarrow.parquet as pq
import pytest
from django.conf import settings
from rest_framework.test import APIClient

from annotator.models import Role, Snapshot, SnapshotStatus
from annotator.services.snapshots.lifecycle import snapshot_build, snapshot_create
from tests.annotator.services.test_snapshots import annotate
from tests.factories import ComparisonFactory, ProjectFactory, member

pytest_plugins = ["tests.s3"]  # s3_server, s3_bucket, use_s3
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


def _built(setup: dict[str, Any]) -> Snapshot:
    with mock.patch("annotator.tasks.snapshot_build_task.delay"):
        snapshot = snapshot_create(project=setup["project"], user=setup["researcher"])
    return snapshot_build(snapshot_id=snapshot.id)


def _keys(bucket: str, endpoint: str) -> set[str]:
    pages = boto3.client("s3", endpoint_url=endpoint).get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


def _dead_store(settings: Any, bucket: str) -> None:
    from tests.s3 import s3_storage_settings

    dead = s3_storage_settings(bucket=bucket, endpoint_url="http://127.0.0.1:9", max_attempts=1)
    settings.STORAGES = {**settings.STORAGES, "default": dead}


def test_a_build_stores_the_snapshot_and_downloads_redirect_to_the_store(
    setup: dict[str, Any], use_s3: str, s3_server: str
) -> None:
    snapshot = _built(setup)
    assert snapshot.status == SnapshotStatus.READY, snapshot.error
    assert {f"{snapshot.folder}/{name}" for name in ("items.parquet", "README.md", "LICENSE")} <= _keys(
        use_s3, s3_server
    )
    # Another web process: nothing of the snapshot in its local folder; it reads everything from the store.
    shutil.rmtree(Path(settings.MEDIA_ROOT))
    client = setup["client"]
    assert client.get(f"/api/v1/snapshots/{snapshot.id}/card/").json()["markdown"].startswith("---\nlicense:")

    download = client.get(f"/api/v1/snapshots/{snapshot.id}/download/?export=helpsteer2-preference&file_type=parquet")
    assert download.status_code == 302
    with urlopen(download["Location"], timeout=10) as response:
        assert response.headers["Content-Type"] == "application/vnd.apache.parquet"
        assert "attachment" in response.headers["Content-Disposition"]
        table = pq.read_table(io.BytesIO(response.read()))
    assert table.column("preference_strength").to_pylist() == [-2, 1]
    assert f"{snapshot.folder}/exports/all/helpsteer2-preference/data.parquet" in _keys(use_s3, s3_server)

    bundle = client.get(f"/api/v1/snapshots/{snapshot.id}/download/")
    assert bundle.status_code == 302
    with urlopen(bundle["Location"], timeout=10) as response, zipfile.ZipFile(io.BytesIO(response.read())) as zipped:
        assert {"README.md", "LICENSE", "MANIFEST"} <= set(zipped.namelist())


def test_a_store_that_is_down_is_a_503_with_its_code_in_the_api_and_a_message_in_the_page(
    setup: dict[str, Any], use_s3: str, settings: Any
) -> None:
    snapshot = _built(setup)
    shutil.rmtree(Path(settings.MEDIA_ROOT))
    _dead_store(settings, use_s3)
    response = setup["client"].get(f"/api/v1/snapshots/{snapshot.id}/download/?export=helpsteer2")
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "storage_unavailable"
    assert body["message"].startswith("The file store is unavailable")

    web = setup["client"]
    web.force_login(setup["researcher"])
    page = web.get(f"/p/{setup['project'].slug}/snapshots/{snapshot.number}/")
    assert page.status_code == 503
    assert "The file store is unavailable" in page.content.decode()


def test_a_build_the_store_refuses_fails_with_the_reason_and_leaves_nothing(
    setup: dict[str, Any], use_s3: str, settings: Any
) -> None:
    _dead_store(settings, use_s3)
    snapshot = _built(setup)
    assert snapshot.status == SnapshotStatus.FAILED
    assert "StorageUnavailable: The file store is unavailable" in snapshot.error
    folder = Path(settings.MEDIA_ROOT) / snapshot.folder
    assert not folder.parent.exists() or not list(folder.parent.glob(".*"))

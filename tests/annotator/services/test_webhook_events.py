"""The annotator services send their webhook events where their state changes: a snapshot build that ends
(ready or failed), an import that commits (never one that is refused)."""

from __future__ import annotations

import io
import json
from typing import Any
from unittest import mock

import pytest

from annotator.errors import ValidationFailed
from annotator.models import Project, WebhookDelivery
from annotator.services.imports import comparisons_import
from annotator.services.snapshots import build as build_pipeline
from annotator.services.webhooks import webhook_create
from tests.annotator.services.test_snapshots import build, project_with_annotations  # noqa: F401 - a fixture
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _local_receivers(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from annotator import tasks

    settings.PREFSTACK_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    monkeypatch.setattr(tasks.webhook_deliver_task, "delay", lambda delivery_id: None)


def _listen(project: Project, *events: str) -> Project:
    webhook_create(project=project, url="http://127.0.0.1:9/hook", events=events)
    return Project.objects.get(pk=project.pk)


def _sent() -> list[tuple[str, dict[str, Any]]]:
    return [(d.event, json.loads(d.body)["data"]) for d in WebhookDelivery.objects.order_by("id")]


def test_a_built_snapshot_sends_snapshot_ready(project_with_annotations: dict[str, Any]) -> None:  # noqa: F811
    project = _listen(project_with_annotations["project"], "snapshot.ready", "snapshot.failed")
    snapshot = build(project)
    ((event, data),) = _sent()
    assert event == "snapshot.ready"
    assert data["snapshot"] == {"id": snapshot.pk, "number": snapshot.number, "status": "ready"}
    assert data["content_hash"] == snapshot.content_hash and data["error"] == ""


def test_a_failed_build_sends_snapshot_failed(project_with_annotations: dict[str, Any]) -> None:  # noqa: F811
    project = _listen(project_with_annotations["project"], "snapshot.ready", "snapshot.failed")
    with mock.patch.object(build_pipeline, "annotation_frame", side_effect=RuntimeError("database went away")):
        build(project)
    ((event, data),) = _sent()
    assert event == "snapshot.failed" and data["error"] == "RuntimeError: database went away"


def test_a_snapshot_nobody_listens_to_sends_nothing(project_with_annotations: dict[str, Any]) -> None:  # noqa: F811
    project = _listen(project_with_annotations["project"], "import.finished")
    build(project)
    assert _sent() == []


def _file(rows: list[dict[str, Any]]) -> io.BytesIO:
    buffer = io.BytesIO("".join(json.dumps(r) + "\n" for r in rows).encode())
    buffer.name = "upload.jsonl"
    return buffer


ROW = {"prompt": [{"role": "user", "content": "Hi"}], "response_1": "a", "response_2": "b", "split": "train"}


def test_an_import_sends_import_finished_with_its_counts() -> None:
    project = _listen(ProjectFactory(), "import.finished")
    comparisons_import(project=project, source=_file([ROW, ROW | {"response_2": "c"}]), fmt="prefstack")
    ((event, data),) = _sent()
    assert event == "import.finished"
    assert data["counts"] == {"comparisons": 2, "annotations": 0, "source_labels": 0, "skipped_as_not_ratable": 0}


def test_a_refused_import_sends_nothing() -> None:
    project = _listen(ProjectFactory(), "import.finished")
    with pytest.raises(ValidationFailed):
        comparisons_import(project=project, source=_file([ROW, {"prompt": 3}]), fmt="prefstack")
    assert _sent() == []

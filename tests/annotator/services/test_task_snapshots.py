"""A snapshot of a feedback, edit or edit-quality project carries its HelpSteer3 files, lists the config in the
card's ``configs:``, and bundles them; a comparison project's snapshot is unchanged."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from unittest import mock

import pytest

from annotator.exports.helpsteer3_tasks import write_task_file
from annotator.imports.helpsteer3_tasks import parse_task_file
from annotator.models import AggregationKind, AggregationRule, SnapshotStatus, TaskType
from annotator.services.snapshots.files import snapshot_bundle_file, snapshot_card, snapshot_folder
from annotator.services.snapshots.lifecycle import snapshot_build, snapshot_create
from annotator.services.task_imports import task_units_import
from annotator.tasks import snapshot_build_task
from tests.factories import ComparisonFactory, ProjectFactory

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "formats"


def _build(project):
    rule = AggregationRule.objects.create(name="plain-mean", kind=AggregationKind.MEAN, params={})
    with mock.patch.object(snapshot_build_task, "delay"):
        snapshot = snapshot_create(project=project, user=None, rule=rule)
    return snapshot_build(snapshot_id=snapshot.id)


def test_a_feedback_snapshot_carries_the_feedback_config() -> None:
    project = ProjectFactory(task_type=TaskType.FEEDBACK)
    task_units_import(project=project, source=str(FIXTURES / "helpsteer3_feedback.jsonl"))
    snapshot = _build(project)
    assert snapshot.status == SnapshotStatus.READY
    assert snapshot.counts["task_rows"] == {"train": 2, "validation": 0}
    card = snapshot_card(snapshot=snapshot)
    assert '- config_name: "feedback"' in card and '"helpsteer3-tasks/feedback/train.parquet"' in card
    folder = snapshot_folder(snapshot)
    rows = list(parse_task_file(folder / "helpsteer3-tasks/feedback/train.parquet", "feedback"))
    expected = list(parse_task_file(FIXTURES / "helpsteer3_feedback.jsonl", "feedback"))
    assert write_task_file(rows, "feedback", "jsonl") == write_task_file(expected, "feedback", "jsonl")
    with zipfile.ZipFile(snapshot_bundle_file(snapshot=snapshot)) as archive:
        names = set(archive.namelist())
        assert {"helpsteer3-tasks/feedback/train.parquet", "helpsteer3-tasks/feedback/train.jsonl.gz"} <= names
        assert "helpsteer3-tasks/feedback/train.jsonl.gz" in archive.read("MANIFEST").decode()
        gz = archive.read("helpsteer3-tasks/feedback/train.jsonl.gz")
    assert len(list(parse_task_file(io.BytesIO(gz), "feedback", container="jsonl", compressed=True))) == 2


def test_a_comparison_snapshot_lists_no_task_config() -> None:
    project = ProjectFactory()
    ComparisonFactory(project=project)
    snapshot = _build(project)
    assert snapshot.counts["task_rows"] == {}
    assert "helpsteer3-tasks/" not in snapshot_card(snapshot=snapshot)

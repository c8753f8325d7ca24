"""Beyond one host: the web process (this test's client) and a real Celery worker share nothing but the database and
an S3 bucket (moto's S3 server on 127.0.0.1), each with a local folder of its own.

snapshot (built by the worker, stored) → export download (302 to a presigned URL, fetched without credentials) →
training job (the worker downloads the snapshot's trainer file to its scratch, trains, uploads the model) →
checkpoint download (302 to a presigned URL of the zip the worker uploaded).
"""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import boto3
import pyarrow.parquet as pq
import pytest
from django.conf import settings
from rest_framework.test import APIClient

from annotator.models import Role, Snapshot, SnapshotStatus
from rm_jobs.models import JobStatus, TrainingJob
from tests.annotator.services.test_snapshots import annotate
from tests.factories import ComparisonFactory, member
from tests.worker import worker_process

pytest_plugins = ["tests.s3"]  # s3_server, s3_env, use_s3
pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _wait(read: Any, done: Any, timeout: float = 180) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = read()
        if done(value):
            return value
        time.sleep(0.2)
    raise AssertionError(f"still {value!r} after {timeout} s")


def _fetch(url: str) -> bytes:
    with urlopen(url, timeout=30) as response:  # the presigned URL alone: no session, no S3 credentials
        return bytes(response.read())


def test_web_and_worker_share_only_the_bucket_and_the_database(
    project: Any, researcher: Any, tiny_base_model: str, use_s3: str, s3_env: dict[str, str], s3_server: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    annotators = [member(project, Role.ANNOTATOR) for _ in range(3)]
    for index in range(16):
        comparison = ComparisonFactory(project=project)
        strength = (-2, -1, 1, 2)[index % 4]
        for user in annotators:
            annotate(comparison, user, 3 if strength < 0 else 1, 1 if strength < 0 else 3, strength)
    client = APIClient()
    client.force_authenticate(researcher)
    worker_scratch = tmp_path / "worker-scratch"
    env = {**s3_env, "PREFSTACK_MEDIA_ROOT": str(worker_scratch), "PREFSTACK_JOB_HEARTBEAT_SECONDS": "1",
           "OMP_NUM_THREADS": "1"}  # fmt: skip

    with worker_process(queues=("default",), hostname="s3-worker", env=env):
        created = client.post(
            f"/api/v1/projects/{project.slug}/snapshots/create/", {"validation_fraction": 0.25}, format="json"
        )
        assert created.status_code == 202, created.json()
        snapshot = _wait(lambda: Snapshot.objects.get(id=created.json()["id"]), lambda s: s.status != "building"
                         and s.status != "pending")  # fmt: skip
        assert snapshot.status == SnapshotStatus.READY, snapshot.error

        # The export is written by this (web) process from the stored items and handed out as a presigned URL.
        download = client.get(f"/api/v1/snapshots/{snapshot.id}/download/?export=trl-preference&file_type=parquet")
        assert download.status_code == 302
        table = pq.read_table(io.BytesIO(_fetch(download["Location"])))
        assert table.num_rows == 16
        assert "X-Amz-Signature" in download["Location"]

        response = client.post(
            f"/api/v1/projects/{project.slug}/training-jobs/create/",
            {"snapshot": snapshot.id, "objective": "bt", "base_model": tiny_base_model,
             "hyperparameters": {"batch_size": 4, "max_length": 64, "max_steps": 4}},
            format="json",
        )  # fmt: skip
        assert response.status_code == 202, response.json()
        job = _wait(
            lambda: TrainingJob.objects.get(id=response.json()["id"]),
            lambda j: j.status in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED),
        )
        assert job.status == JobStatus.SUCCEEDED, job.error + job.log

    checkpoint = client.get(f"/api/v1/training-jobs/{job.id}/checkpoint/")
    assert checkpoint.status_code == 302
    with zipfile.ZipFile(io.BytesIO(_fetch(checkpoint["Location"]))) as archive:
        names = set(archive.namelist())
    assert {"config.json", "model.safetensors"} <= names
    assert "trainer_state.pt" not in names

    # The model and the snapshot are in the bucket under unguessable keys ...
    keys = {
        item["Key"]
        for page in boto3.client("s3", endpoint_url=s3_server).get_paginator("list_objects_v2").paginate(Bucket=use_s3)
        for item in page.get("Contents", [])
    }
    assert f"{snapshot.folder}/items.parquet" in keys
    assert f"{job.checkpoint_path}/config.json" in keys
    assert job.output_folder.startswith(f"runs/job-{job.id}-") and snapshot.folder.startswith(
        f"snapshots/{project.slug}/{snapshot.number}-"
    )
    # ... the worker trained in its own scratch, and the web process never held a run of it.
    assert (worker_scratch / job.output_folder).is_dir()
    assert not (Path(settings.MEDIA_ROOT) / "runs").exists()

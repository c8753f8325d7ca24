"""Evaluations with an object store (moto's S3 server): the uploaded benchmark file is stored before the evaluation
is recorded, the run (on a worker with its own scratch) downloads the model and the file, stores the results JSON,
and the results download answers 302 to a presigned URL."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from annotator import storage
from rm_jobs.models import TrainingJob
from rm_jobs.services.evaluations import evaluation_create, evaluation_run
from tests.rm_jobs.conftest import succeeded_job
from tests.rm_jobs.training.test_benchmarks import FIXTURES, StubScorer

pytest_plugins = ["tests.s3"]  # s3_server, s3_bucket, use_s3
pytestmark = pytest.mark.django_db


@pytest.fixture
def stored_job(snapshot: Any, tmp_path: Path, use_s3: str) -> TrainingJob:
    """A succeeded job whose (dummy) model folder is in the bucket only."""
    model = tmp_path / "final"
    model.mkdir()
    (model / "config.json").write_text("{}")
    job = succeeded_job(snapshot, model)
    job.output_folder = storage.new_folder("runs", f"job-{job.id}")
    job.checkpoint_path = storage.upload_dir(model, f"{job.output_folder}/stage-0/final")
    job.save(update_fields=["output_folder", "checkpoint_path"])
    return job


def test_a_benchmark_evaluation_runs_from_the_store_and_its_results_redirect(
    stored_job: TrainingJob, researcher: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("rm_jobs.training.evaluation.scorer", lambda *args, **kwargs: StubScorer())
    upload = SimpleUploadedFile("rm_bench.json", (FIXTURES / "rm_bench.json").read_bytes())
    evaluation = evaluation_create(job=stored_job, user=researcher, reward_bench_file=upload)
    assert evaluation.data_file.startswith(f"{stored_job.output_folder}/evaluation-files/")
    assert storage.exists(evaluation.data_file)

    shutil.rmtree(Path(settings.MEDIA_ROOT))  # the worker that runs it has a scratch of its own
    done = evaluation_run(evaluation_id=evaluation.id)
    assert done is not None and done.status == "succeeded", done and done.error
    assert (Path(settings.MEDIA_ROOT) / stored_job.checkpoint_path / "config.json").is_file()  # downloaded
    assert storage.exists(done.results_file)

    client = APIClient()
    client.force_authenticate(researcher)
    response = client.get(f"/api/v1/evaluations/{done.id}/results.json")
    assert response.status_code == 302
    with urlopen(response["Location"], timeout=10) as fetched:
        rows = json.loads(fetched.read())
    assert [row["score_rejected"] for row in rows][3] == [1.0, 1.0, 1.0]

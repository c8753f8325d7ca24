"""training_job_checkpoint_store: the model folder and its zip go to the store (moto's S3 server), without what only
a resume reads (trainer_state.pt, FSDP shards); the zip is then found there by the download."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from annotator import storage
from rm_jobs.services.jobs import job_output_dir, training_job_checkpoint_store, training_job_checkpoint_zip
from tests.rm_jobs.conftest import succeeded_job

pytest_plugins = ["tests.s3"]  # s3_server, s3_bucket, use_s3
pytestmark = pytest.mark.django_db


def test_the_model_and_its_zip_are_stored_without_resume_state(snapshot: Any, use_s3: str, tmp_path: Path) -> None:
    job = succeeded_job(snapshot, tmp_path)
    job.output_folder = storage.new_folder("runs", f"job-{job.id}")
    model = job_output_dir(job) / "stage-0" / "checkpoint-8"
    (model / "dcp").mkdir(parents=True)
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"weights")
    (model / "trainer_state.pt").write_bytes(b"optimizer")
    (model / "dcp" / "__0_0.distcp").write_bytes(b"shard")

    key = training_job_checkpoint_store(job=job, model_dir=model)
    assert key == f"{job.output_folder}/stage-0/checkpoint-8"
    assert storage.exists(f"{key}/model.safetensors")
    assert not storage.exists(f"{key}/trainer_state.pt")
    assert not storage.exists(f"{key}/dcp/__0_0.distcp")

    job.checkpoint_path = key
    shutil.rmtree(Path(settings.MEDIA_ROOT))  # the web process: nothing local
    zipped = storage.download_to_scratch(training_job_checkpoint_zip(job=job))
    with zipfile.ZipFile(io.BytesIO(zipped.read_bytes())) as archive:
        assert set(archive.namelist()) == {"config.json", "model.safetensors"}

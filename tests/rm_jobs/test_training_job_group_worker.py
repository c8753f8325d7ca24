"""Jobs that ask for several devices, on a real ``celery worker``: the worker launches a torchrun group of 2 CPU
processes (gloo) and supervises it. End to end with FSDP; cancel = SIGTERM to the group, then a checkpoint; a worker
killed with SIGKILL takes its group down (the agent dies with its parent and the ranks checkpoint), and the sweep
resumes the job from that distributed checkpoint on the next worker.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from transformers import AutoModelForSequenceClassification

from rm_jobs.models import JobMetric, JobStatus, TrainingJob
from rm_jobs.services.jobs import (
    media_path,
    stage_output_dir,
    training_job_cancel,
    training_job_create,
    training_jobs_sweep_stale,
)
from tests.rm_jobs.test_training_job_worker import FAST, WORKER_ENV, finished, wait_for
from tests.worker import worker_process

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def create(snapshot: Any, user: Any, *, gpus: int, strategy: str, **hyper: Any) -> TrainingJob:
    return training_job_create(
        snapshot=snapshot, user=user, objective="bt", gpus=gpus, strategy=strategy, hyperparameters={**FAST, **hyper}
    )


def _group_gone(job_dir: Path) -> bool:
    """No process whose command line names this job's folder is left (agent or rank)."""
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes()
                state = (proc / "stat").read_text().split()[2]
            except OSError:
                continue
            if str(job_dir).encode() in cmdline and state != "Z":
                return False
    return True


def test_a_two_process_fsdp_job_runs_end_to_end_under_the_worker(snapshot, researcher, tiny_base_model):
    with worker_process(hostname="group", env=WORKER_ENV):
        job = create(snapshot, researcher, max_steps=4, save_every_steps=2, gpus=2, strategy="fsdp")
        wait_for(job, finished, timeout=300)
    assert job.status == JobStatus.SUCCEEDED, job.error + job.log
    assert (job.gpus, job.strategy, job.step, job.total_steps) == (2, "fsdp", 4, 4)
    assert "torchrun group of 2 (fsdp)" in job.log
    # Live metrics came from rank 0, one point a step, through the worker.
    assert JobMetric.objects.filter(job=job, split="train").count() == 4
    model_dir = media_path(job.checkpoint_path)
    assert model_dir.name == "final"
    AutoModelForSequenceClassification.from_pretrained(str(model_dir))
    assert (stage_output_dir(job, 0) / "checkpoint-4" / "dcp").is_dir()
    assert job.evaluations.get().status == "succeeded"
    assert _group_gone(stage_output_dir(job, 0))


def test_cancel_stops_the_group_with_a_checkpoint(snapshot, researcher, tiny_base_model):
    with worker_process(hostname="group-cancel", env=WORKER_ENV):
        job = create(snapshot, researcher, max_steps=2000, epochs=100, save_every_steps=1000, gpus=2, strategy="fsdp")
        wait_for(job, lambda j: j.status == JobStatus.RUNNING and j.step >= 2, timeout=300)
        training_job_cancel(job=job, user=researcher)
        wait_for(job, finished, timeout=180)
    assert job.status == JobStatus.CANCELLED, job.error + job.log
    assert 2 <= job.step < 2000
    assert job.checkpoint_path.endswith(f"checkpoint-{job.step}")
    AutoModelForSequenceClassification.from_pretrained(str(media_path(job.checkpoint_path)))
    assert _group_gone(stage_output_dir(job, 0))


def test_a_killed_worker_takes_its_group_down_and_the_sweep_resumes_from_the_distributed_checkpoint(
    snapshot, researcher, tiny_base_model, settings
):
    settings.PREFSTACK_JOB_STALE_SECONDS = 3
    with worker_process(hostname="group-doomed", env=WORKER_ENV) as worker:
        job = create(snapshot, researcher, max_steps=16, epochs=2, save_every_steps=2, gpus=2, strategy="fsdp")
        wait_for(job, lambda j: j.status == JobStatus.RUNNING and j.step >= 3, timeout=300)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    folder = stage_output_dir(job, 0)
    deadline = time.monotonic() + 120
    while not _group_gone(folder):  # the agent got SIGTERM with its parent's death; the ranks stop
        assert time.monotonic() < deadline, "the torchrun group outlived its worker"
        time.sleep(0.2)
    time.sleep(settings.PREFSTACK_JOB_STALE_SECONDS + 1)
    # The rescuer is up (and answering pings) before the job reaches it: a solo worker busy training answers none.
    with worker_process(hostname="group-rescuer", env=WORKER_ENV):
        assert training_jobs_sweep_stale().requeued == [job.id]
        job.refresh_from_db()
        resumed_at = int(job.resume_from.rsplit("-", 1)[1])  # the checkpoint the ranks wrote as they stopped
        assert resumed_at >= 2
        assert (media_path(job.resume_from) / "dcp").is_dir()
        wait_for(job, finished, timeout=300)
    assert job.status == JobStatus.SUCCEEDED, job.error + job.log
    assert (job.attempt, job.step) == (2, 16)
    assert f"resuming {job.output_folder}/stage-0/checkpoint-{resumed_at}" in job.log
    AutoModelForSequenceClassification.from_pretrained(str(media_path(job.checkpoint_path)))

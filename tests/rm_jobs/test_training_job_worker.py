"""Training jobs on a real ``celery worker`` process (embedded filesystem broker locally, Redis in CI).

queued → running → succeeded with metrics and a loadable checkpoint; a GPU job is never taken by a CPU-only worker;
cancel stops the loop; a pool process killed with SIGKILL mid-job (as the OOM killer does) hands the task back and the
job resumes from its last checkpoint with no request made; a whole worker killed with SIGKILL leaves the job to the
heartbeat sweep, which re-queues it from its last checkpoint, and the next worker resumes it to the end.
"""

from __future__ import annotations

import io
import os
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from transformers import AutoModelForSequenceClassification

from rm_jobs.models import JobMetric, JobStatus, TrainingJob
from rm_jobs.services.jobs import media_path, training_job_cancel, training_job_create, training_jobs_sweep_stale
from tests.worker import pool_children, worker_process

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WORKER_ENV = {"PREFSTACK_JOB_HEARTBEAT_SECONDS": "1", "OMP_NUM_THREADS": "1"}
FAST = {"batch_size": 2, "max_length": 64}  # 32 training pairs: 16 steps an epoch


def wait_for(job: TrainingJob, done: Callable[[TrainingJob], bool], timeout: float = 180) -> list[str]:
    """Poll the job until ``done``; returns the statuses seen on the way."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if not seen or seen[-1] != job.status:
            seen.append(job.status)
        if done(job):
            return seen
        time.sleep(0.1)
    raise AssertionError(f"job {job.id} still {job.status} at step {job.step} after {timeout} s:\n{job.log}")


def finished(job: TrainingJob) -> bool:
    return job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


def create(snapshot: Any, user: Any, **hyper: Any) -> TrainingJob:
    queue = hyper.pop("queue", "default")
    return training_job_create(
        snapshot=snapshot, user=user, objective="bt", queue=queue, hyperparameters={**FAST, **hyper}
    )


def test_cpu_worker_runs_cpu_jobs_end_to_end_and_never_takes_a_gpu_job(snapshot, researcher, tiny_base_model):
    gpu_job = create(snapshot, researcher, max_steps=3, queue="gpu")
    cpu_job = create(snapshot, researcher, max_steps=12)
    assert cpu_job.status == JobStatus.QUEUED
    with worker_process(queues=("default",), hostname="cpu", env=WORKER_ENV):
        seen = wait_for(cpu_job, finished)
        assert cpu_job.status == JobStatus.SUCCEEDED, cpu_job.error + cpu_job.log
        assert set(seen) <= {JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.SUCCEEDED}
        # queued -> running (by this worker, attempt 1) -> succeeded, as the log and timestamps record it
        assert cpu_job.worker.startswith("cpu-")
        assert f"attempt 1 started on {cpu_job.worker}" in cpu_job.log
        assert cpu_job.started_at < cpu_job.finished_at
        assert JobMetric.objects.filter(job=cpu_job, split="train").count() == 12
        AutoModelForSequenceClassification.from_pretrained(media_path(cpu_job.checkpoint_path))
        assert cpu_job.evaluations.get().status == "succeeded"

        # The command line creates the same job and follows it to its end.
        out = io.StringIO()
        call_command(
            "train_reward_model", "--snapshot", str(snapshot.id), "--objective", "scaled_bt", "--base-model", "tiny",
            "--max-steps", "3", "--batch-size", "8", "--wait", "--timeout", "180", stdout=out, stderr=io.StringIO(),
        )  # fmt: skip
        lines = out.getvalue().splitlines()
        assert lines[0].startswith("job: ")
        assert "status: succeeded" in lines
        checkpoint = next(line for line in lines if line.startswith("checkpoint: ")).removeprefix("checkpoint: ")
        AutoModelForSequenceClassification.from_pretrained(checkpoint)

        gpu_job.refresh_from_db()
        assert (gpu_job.status, gpu_job.worker) == (JobStatus.QUEUED, "")
    with worker_process(queues=("gpu",), hostname="gpu", env=WORKER_ENV):
        wait_for(gpu_job, finished)
    assert gpu_job.status == JobStatus.SUCCEEDED, gpu_job.error
    assert gpu_job.worker.startswith("gpu-")


def test_cancel_stops_a_running_job_and_keeps_its_checkpoint(snapshot, researcher, tiny_base_model):
    # Jobs are created once the worker answers its ping: a solo-pool worker busy training answers none.
    with worker_process(hostname="cancel", env=WORKER_ENV):
        job = create(snapshot, researcher, max_steps=2000, epochs=100, save_every_steps=1000)
        wait_for(job, lambda j: j.status == JobStatus.RUNNING and j.step >= 2)
        training_job_cancel(job=job, user=researcher)
        wait_for(job, finished, timeout=60)
    assert job.status == JobStatus.CANCELLED
    assert 2 <= job.step < 2000
    assert job.checkpoint_path.endswith(f"checkpoint-{job.step}")
    AutoModelForSequenceClassification.from_pretrained(media_path(job.checkpoint_path))


def test_a_worker_killed_mid_job_leaves_it_to_the_sweep_which_resumes_it(
    snapshot, researcher, tiny_base_model, settings
):
    settings.PREFSTACK_JOB_STALE_SECONDS = 3
    with worker_process(hostname="doomed", env=WORKER_ENV) as worker:
        job = create(snapshot, researcher, max_steps=16, save_every_steps=2)
        wait_for(job, lambda j: j.status == JobStatus.RUNNING and j.step >= 5)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING  # nobody said otherwise: only the heartbeat tells
    time.sleep(settings.PREFSTACK_JOB_STALE_SECONDS + 1)
    result = training_jobs_sweep_stale()
    assert result.requeued == [job.id]
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert "checkpoint-" in job.resume_from
    resumed_at = int(job.resume_from.rsplit("-", 1)[1])
    assert resumed_at >= 4
    with worker_process(hostname="rescuer", env=WORKER_ENV):
        wait_for(job, finished)
    assert job.status == JobStatus.SUCCEEDED, job.error + job.log
    assert (job.attempt, job.step) == (2, 16)
    assert job.worker.startswith("rescuer-")
    assert f"resuming {job.output_folder}/stage-0/checkpoint-{resumed_at}" in job.log


def test_a_pool_process_killed_mid_job_resumes_from_its_checkpoint_with_no_request_made(
    snapshot, researcher, tiny_base_model
):
    """kill -9 of the process running the job (the OOM killer's way): Celery hands the task back (acks_late,
    reject_on_worker_lost), the new pool process sees the job still running with a silent heartbeat and resumes it
    from its last checkpoint once the heartbeat has been silent for two intervals, not after the sweep's stale
    threshold (600 s here). Nothing here reads a page, the API or sweeps."""
    heartbeat = 2
    env = {**WORKER_ENV, "PREFSTACK_JOB_HEARTBEAT_SECONDS": str(heartbeat), "PREFSTACK_JOB_STALE_SECONDS": "600"}
    with worker_process(hostname="oom", env=env, pool="prefork") as worker:
        job = create(snapshot, researcher, max_steps=8, save_every_steps=2)
        wait_for(job, lambda j: j.status == JobStatus.RUNNING and j.step >= 3)
        (child,) = pool_children(worker)
        os.kill(child, signal.SIGKILL)
        killed_at = time.monotonic()
        wait_for(job, lambda j: j.attempt == 2, timeout=60)
        taken_after = time.monotonic() - killed_at
        wait_for(job, finished)
    assert job.status == JobStatus.SUCCEEDED, job.error + job.log
    assert (job.attempt, job.step) == (2, 8)
    assert "its task came back" in job.log
    resumed = job.log.split("resuming runs/", 1)[1].split()[0]
    assert int(resumed.rsplit("checkpoint-", 1)[1].rstrip(",")) >= 2
    # Two heartbeat intervals of silence plus the time Celery takes to start a new pool process, which on a busy CI
    # machine is seconds: the bound only tells the heartbeat rule (about 4 s here) from the sweep's (600 s).
    assert "no heartbeat since" in job.log
    assert taken_after < 60, f"taken over {taken_after:.1f} s after the kill\n{job.log}"

"""training_job_create / _start / _progress / _finish / _cancel and the stale-job sweep: the state machine guards
itself (every transition conditional), and a job whose worker died never stays running."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone

from annotator.errors import Conflict, ValidationFailed
from annotator.models import Snapshot, SnapshotStatus
from rm_jobs.models import JobMetric, JobStatus, TrainingJob
from rm_jobs.services import jobs as service
from rm_jobs.services.jobs import (
    latest_checkpoint,
    training_job_cancel,
    training_job_create,
    training_job_finish,
    training_job_progress,
    training_job_start,
    training_jobs_sweep_stale,
)
from rm_jobs.training.config import DEFAULT_LORA_RANK

pytestmark = pytest.mark.django_db


def create(snapshot: Snapshot, user: Any, capture: Any, **kwargs: Any) -> TrainingJob:
    kwargs.setdefault("objective", "bt")
    with capture(execute=False) as callbacks:
        job = training_job_create(snapshot=snapshot, user=user, **kwargs)
    assert len(callbacks) == 1  # the task is sent once, after commit
    return job


def test_create_records_config_lineage_and_queue(
    snapshot, researcher, tiny_base_model, django_capture_on_commit_callbacks
):
    job = create(
        snapshot, researcher, django_capture_on_commit_callbacks, objective="regression_then_scaled_bt", queue="gpu",
        hyperparameters={"max_steps": 7, "learning_rate": 5e-5},
    )  # fmt: skip
    assert (job.status, job.queue, job.snapshot_id, job.attempt) == (JobStatus.QUEUED, "gpu", snapshot.id, 0)
    stages = job.config["stages"]
    assert [s["train"]["objective"] for s in stages] == ["regression", "scaled_bt"]
    assert stages[0]["train"]["attributes"] == ["helpfulness"]
    assert stages[1]["init_from"] == "previous"
    assert stages[0]["train"]["max_steps"] == 7
    assert stages[0]["train"]["learning_rate"] == 5e-5
    assert stages[0]["train"]["extra"] == {
        "snapshot": snapshot.id,
        "project": snapshot.project.slug,
        "stage": 0,
        "job": job.id,
    }
    # Unguessable: runs/job-<id>-<24 hex digits>, a fresh token per job.
    assert re.fullmatch(rf"runs/job-{job.id}-[0-9a-f]{{24}}", job.output_folder)


def test_expo_goes_to_the_last_stage_and_centring_to_pairwise_stages(
    snapshot, researcher, tiny_base_model, django_capture_on_commit_callbacks
):
    hyper = {"expo_alpha": 0.5, "center_rewards_coefficient": 0.01, "num_threads": 2, "margin_scale": 2.0}
    job = create(
        snapshot, researcher, django_capture_on_commit_callbacks, objective="regression_then_scaled_bt",
        hyperparameters=hyper,
    )  # fmt: skip
    regression, scaled = (s["train"] for s in job.config["stages"])
    assert (regression["expo_alpha"], scaled["expo_alpha"]) == (0.0, 0.5)
    assert (regression["center_rewards_coefficient"], scaled["center_rewards_coefficient"]) == (None, 0.01)
    assert regression["num_threads"] == scaled["num_threads"] == 2
    assert scaled["margin_scale"] == 2.0
    single = create(snapshot, researcher, django_capture_on_commit_callbacks, objective="bt", hyperparameters=hyper)
    assert single.config["stages"][0]["train"]["expo_alpha"] == 0.5


def test_the_task_goes_to_the_jobs_own_queue(snapshot, researcher, tiny_base_model, django_capture_on_commit_callbacks):
    with (
        mock.patch("rm_jobs.tasks.training_job_run_task.apply_async") as send,
        django_capture_on_commit_callbacks(execute=True),
    ):
        job = training_job_create(snapshot=snapshot, user=researcher, objective="bt", queue="gpu")
    send.assert_called_once_with(args=[job.id], queue="gpu")


def test_regression_trains_every_attribute_of_the_project(
    snapshot, researcher, tiny_base_model, django_capture_on_commit_callbacks
):
    job = create(snapshot, researcher, django_capture_on_commit_callbacks, objective="regression")
    assert job.config["stages"][0]["train"]["attributes"] == [
        "helpfulness", "correctness", "coherence", "complexity", "verbosity"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"objective": "dpo"}, "objective"),
        ({"queue": "tpu"}, "queue"),
        ({"base_model": "gpt-17"}, "base_model"),
        ({"hyperparameters": {"batch_size": 0}}, "batch_size"),
        ({"hyperparameters": {"learning_rate": 3.0}}, "learning_rate"),
        ({"hyperparameters": {"momentum": 0.9}}, "momentum"),
        ({"hyperparameters": {"expo_alpha": -1.0}}, "expo_alpha"),
        ({"hyperparameters": {"center_rewards_coefficient": 2.0}}, "center_rewards_coefficient"),
        ({"hyperparameters": {"num_threads": 0}}, "num_threads"),
        ({"hyperparameters": {"margin_scale": 0.0}}, "margin_scale"),
    ],
)
def test_bad_input_is_refused_naming_the_field(snapshot, researcher, tiny_base_model, kwargs, field):
    kwargs = {"objective": "bt", **kwargs}
    with pytest.raises(ValidationFailed) as caught:
        training_job_create(snapshot=snapshot, user=researcher, **kwargs)
    assert field in caught.value.extra["fields"]
    assert not TrainingJob.objects.exists()


def test_a_model_path_is_accepted_only_where_allowed(
    snapshot, researcher, tiny_model, django_capture_on_commit_callbacks
):
    with pytest.raises(ValidationFailed):
        training_job_create(snapshot=snapshot, user=researcher, objective="bt", base_model=str(tiny_model))
    job = create(
        snapshot, researcher, django_capture_on_commit_callbacks, base_model=str(tiny_model), allow_model_path=True
    )
    assert job.config["model_path"] == str(tiny_model.resolve())


def test_a_snapshot_that_is_not_ready_is_a_conflict(snapshot, researcher, tiny_base_model):
    Snapshot.objects.filter(id=snapshot.id).update(status=SnapshotStatus.BUILDING)
    snapshot.refresh_from_db()
    with pytest.raises(Conflict) as caught:
        training_job_create(snapshot=snapshot, user=researcher, objective="bt")
    assert caught.value.code == "snapshot_not_ready"


def test_helpfulness_objectives_need_a_helpfulness_attribute(project, researcher, tiny_base_model):
    from tests.rm_jobs.conftest import ready_snapshot

    project.attributes.filter(name="helpfulness").delete()
    snapshot = ready_snapshot(project, comparisons=5)
    with pytest.raises(ValidationFailed):
        training_job_create(snapshot=snapshot, user=researcher, objective="regression_helpfulness")


# --- transitions -------------------------------------------------------------------------------------------------


@pytest.fixture
def job(snapshot, researcher, tiny_base_model, django_capture_on_commit_callbacks) -> TrainingJob:
    return create(snapshot, researcher, django_capture_on_commit_callbacks)


def test_a_job_starts_once_however_often_it_is_delivered(job):
    first = training_job_start(job_id=job.id, worker="w1@host")
    second = training_job_start(job_id=job.id, worker="w2@host")
    assert first is not None
    assert first.attempt == 1
    assert first.worker == "w1@host"
    assert second is None
    job.refresh_from_db()
    assert (job.status, job.worker, job.attempt) == (JobStatus.RUNNING, "w1@host", 1)


def test_progress_writes_the_time_series_and_reports_a_cancel(job):
    training_job_start(job_id=job.id, worker="w")
    report = training_job_progress(
        job_id=job.id,
        attempt=1,
        stage=0,
        step=1,
        total_steps=5,
        points=[{"split": "train", "loss": 0.7, "accuracy": 0.5}],
    )
    assert report.owned
    assert not report.cancel_requested
    training_job_cancel(job=job)
    report = training_job_progress(
        job_id=job.id, attempt=1, stage=0, step=2, total_steps=5,
        points=[{"split": "train", "loss": 0.6}, {"split": "validation", "loss": 0.65, "accuracy": 0.6}],
    )  # fmt: skip
    assert report.owned
    assert report.cancel_requested
    assert list(JobMetric.objects.filter(job=job).values_list("step", "split", "loss")) == [
        (1, "train", 0.7), (2, "train", 0.6), (2, "validation", 0.65)
    ]  # fmt: skip
    job.refresh_from_db()
    assert (job.step, job.total_steps, job.status) == (2, 5, JobStatus.RUNNING)


def test_a_stale_attempt_can_neither_report_nor_finish(job):
    training_job_start(job_id=job.id, worker="w")
    TrainingJob.objects.filter(id=job.id).update(attempt=2)  # someone else runs it now
    assert not training_job_progress(job_id=job.id, attempt=1, stage=0, step=1, total_steps=5, points=[]).owned
    assert not training_job_finish(job_id=job.id, attempt=1, status=JobStatus.SUCCEEDED)
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING


def test_finish_is_conditional_on_running(job):
    training_job_start(job_id=job.id, worker="w")
    assert training_job_finish(job_id=job.id, attempt=1, status=JobStatus.SUCCEEDED, checkpoint_path="runs/x/final")
    assert not training_job_finish(job_id=job.id, attempt=1, status=JobStatus.FAILED, error="late")
    job.refresh_from_db()
    assert (job.status, job.error, job.checkpoint_path) == (JobStatus.SUCCEEDED, "", "runs/x/final")
    assert job.finished_at is not None


def test_cancel_a_queued_job_at_once_and_it_never_starts(job):
    training_job_cancel(job=job)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert training_job_start(job_id=job.id, worker="w") is None


def test_cancel_a_finished_job_is_a_conflict(job):
    training_job_start(job_id=job.id, worker="w")
    training_job_finish(job_id=job.id, attempt=1, status=JobStatus.FAILED, error="x")
    with pytest.raises(Conflict):
        training_job_cancel(job=job)


# --- dead workers ---------------------------------------------------------------------------------------------------


def _go_stale(job: TrainingJob, seconds: int = 600) -> None:
    TrainingJob.objects.filter(id=job.id).update(heartbeat_at=timezone.now() - timedelta(seconds=seconds))


def _fake_checkpoint(job: TrainingJob, step: int, *, complete: bool = True) -> Path:
    folder = service.stage_output_dir(job, 0) / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    if complete:
        (folder / "trainer_state.pt").write_bytes(b"x")
    return folder


def test_latest_checkpoint_ignores_incomplete_ones(job):
    _fake_checkpoint(job, 2)
    _fake_checkpoint(job, 4)
    _fake_checkpoint(job, 6, complete=False)
    assert latest_checkpoint(service.stage_output_dir(job, 0)).name == "checkpoint-4"


def test_a_fresh_heartbeat_is_left_alone(job):
    training_job_start(job_id=job.id, worker="w")
    assert training_jobs_sweep_stale(stale_seconds=60) == service.SweepResult([], [], [])


def test_a_stale_job_is_requeued_from_its_last_checkpoint(job, django_capture_on_commit_callbacks):
    training_job_start(job_id=job.id, worker="w")
    _fake_checkpoint(job, 4)
    _go_stale(job)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        result = training_jobs_sweep_stale(stale_seconds=60)
    assert result.requeued == [job.id]
    assert len(callbacks) == 1
    job.refresh_from_db()
    assert (job.status, job.worker, job.resume_from) == (
        JobStatus.QUEUED,
        "",
        f"{job.output_folder}/stage-0/checkpoint-4",
    )
    again = training_job_start(job_id=job.id, worker="w2")
    assert again is not None
    assert again.attempt == 2


def test_a_stale_job_without_attempts_left_fails(job, settings):
    settings.PREFSTACK_JOB_MAX_ATTEMPTS = 1
    training_job_start(job_id=job.id, worker="w@dead")
    _go_stale(job)
    assert training_jobs_sweep_stale(stale_seconds=60).failed == [job.id]
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "w@dead stopped sending heartbeats" in job.error


def test_a_stale_job_being_cancelled_ends_cancelled(job):
    training_job_start(job_id=job.id, worker="w")
    training_job_cancel(job=job)
    _go_stale(job)
    assert training_jobs_sweep_stale(stale_seconds=60).cancelled == [job.id]
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED


def test_a_restarted_worker_gives_up_its_old_jobs_at_once(job, settings):
    settings.PREFSTACK_JOB_MAX_ATTEMPTS = 1
    training_job_start(job_id=job.id, worker="w@host")
    assert training_jobs_sweep_stale(stale_seconds=3600, dead_worker="w@other").failed == []
    assert training_jobs_sweep_stale(stale_seconds=3600, dead_worker="w@host").failed == [job.id]


def test_create_records_devices_and_the_engine_strategy(
    snapshot, researcher, tiny_base_model, django_capture_on_commit_callbacks, settings
):
    settings.PREFSTACK_QUEUE_DEVICES = {"default": 2, "gpu": 8}
    job = create(snapshot, researcher, django_capture_on_commit_callbacks, queue="gpu", gpus=8, strategy="fsdp")
    assert (job.gpus, job.strategy) == (8, "fsdp")
    assert job.config["stages"][0]["train"]["strategy"] == "fsdp"
    job.refresh_from_db()
    assert "(8 × fsdp)" in job.log
    ddp = create(snapshot, researcher, django_capture_on_commit_callbacks, gpus=2, strategy="ddp")
    assert ddp.config["stages"][0]["train"]["strategy"] == "ddp"


def test_a_lora_job_gets_the_default_rank_and_lora_under_fsdp_is_refused(
    snapshot, researcher, tiny_base_model, settings, django_capture_on_commit_callbacks
):
    settings.PREFSTACK_QUEUE_DEVICES = {"default": 2, "gpu": 8}
    job = create(snapshot, researcher, django_capture_on_commit_callbacks, strategy="lora")
    assert job.config["stages"][0]["train"]["lora_r"] == DEFAULT_LORA_RANK
    with pytest.raises(ValidationFailed) as caught:
        training_job_create(
            snapshot=snapshot, user=researcher, objective="bt", gpus=2, strategy="fsdp", hyperparameters={"lora_r": 8}
        )
    assert "LoRA adapters are replicated" in caught.value.message
    assert {"strategy", "lora_r"} <= set(caught.value.extra["fields"])


@pytest.mark.parametrize(
    ("queue", "gpus", "strategy", "field", "message"),
    [
        ("gpu", 9, "fsdp", "gpus", "asks for 9 GPUs, and a worker of the 'gpu' queue has 8: ask for 1 to 8"),
        ("default", 3, "ddp", "gpus", "asks for 3 CPU processes, and a worker of the 'default' queue has 2"),
        ("default", 0, "auto", "gpus", "asks for 0 CPU processes"),
        ("default", 1, "zero3", "strategy", "Unknown strategy 'zero3'"),
    ],
)
def test_create_refuses_devices_a_worker_cannot_give_before_recording_anything(
    snapshot, researcher, tiny_base_model, settings, queue, gpus, strategy, field, message
):
    settings.PREFSTACK_QUEUE_DEVICES = {"default": 2, "gpu": 8}
    with pytest.raises(ValidationFailed) as caught:
        training_job_create(
            snapshot=snapshot, user=researcher, objective="bt", queue=queue, gpus=gpus, strategy=strategy
        )
    assert message in caught.value.message
    assert field in caught.value.extra["fields"]
    assert not TrainingJob.objects.exists()

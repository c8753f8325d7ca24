"""training_job_execute, in this process: a tiny model trains from the snapshot's trainer-ready files, writes its
metrics as a time series, saves a loadable checkpoint, is evaluated, and stops at the next step when cancelled."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from transformers import AutoModelForSequenceClassification

from rm_jobs.models import Evaluation, JobMetric, JobStatus, TrainingJob
from rm_jobs.services import runs
from rm_jobs.services.jobs import media_path, training_job_create
from rm_jobs.services.runs import training_job_execute

pytestmark = pytest.mark.django_db

FAST = {"max_steps": 4, "batch_size": 8, "max_length": 64, "save_every_steps": 2}


def queued(snapshot: Any, user: Any, capture: Any, objective: str = "bt", **hyper: Any) -> TrainingJob:
    with capture(execute=False):
        return training_job_create(snapshot=snapshot, user=user, objective=objective, hyperparameters={**FAST, **hyper})


def test_a_job_runs_to_success_with_metrics_checkpoint_and_evaluation(
    snapshot, researcher, tiny_base_model, django_capture_on_commit_callbacks
):
    job = queued(snapshot, researcher, django_capture_on_commit_callbacks, "margin_bt")
    job = training_job_execute(job_id=job.id, worker="worker@test")
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert (job.worker, job.attempt, job.step, job.total_steps) == ("worker@test", 1, 4, 4)
    steps = list(JobMetric.objects.filter(job=job, split="train").values_list("step", flat=True))
    assert steps == [1, 2, 3, 4]
    assert all(m.loss is not None and m.accuracy is not None for m in JobMetric.objects.filter(job=job))
    model_dir = media_path(job.checkpoint_path)
    assert model_dir.name == "final"
    model = AutoModelForSequenceClassification.from_pretrained(model_dir)
    assert model.config.num_labels == 1
    evaluation = Evaluation.objects.get(job=job)
    assert evaluation.status == "succeeded"
    assert evaluation.snapshot_id == snapshot.id
    assert evaluation.metrics["num_pairs"] == 8  # every fifth of 40 comparisons is validation
    assert 0.0 <= evaluation.metrics["accuracy"] <= 1.0
    low, high = evaluation.metrics["accuracy_ci"]  # the 95% bootstrap interval over the validation pairs
    assert 0.0 <= low <= evaluation.metrics["accuracy"] <= high <= 1.0
    assert job.summary["accuracy"] == evaluation.metrics["accuracy"]
    for item in evaluation.disagreements:
        assert item["model_margin"] <= 0
        assert item["human_preferred"] in (1, 2)
    assert "succeeded" in job.log


def test_regression_then_scaled_bt_runs_two_stages(
    snapshot, researcher, tiny_base_model, django_capture_on_commit_callbacks
):
    job = queued(snapshot, researcher, django_capture_on_commit_callbacks, "regression_then_scaled_bt", max_steps=2)
    job = training_job_execute(job_id=job.id, worker="w")
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert [s["objective"] for s in job.summary["stages"]] == ["regression", "scaled_bt"]
    assert job.checkpoint_path.endswith("stage-1/final")
    assert set(JobMetric.objects.filter(job=job).values_list("stage", flat=True)) == {0, 1}


def test_a_regression_model_is_evaluated_per_attribute(
    snapshot, researcher, tiny_base_model, django_capture_on_commit_callbacks
):
    job = queued(snapshot, researcher, django_capture_on_commit_callbacks, "regression", max_steps=2)
    job = training_job_execute(job_id=job.id, worker="w")
    assert job.status == JobStatus.SUCCEEDED, job.error
    metrics = Evaluation.objects.get(job=job).metrics
    assert set(metrics["rmse"]) == {"helpfulness", "correctness", "coherence", "complexity", "verbosity"}
    assert metrics["rmse_mean"] > 0
    assert "accuracy" in metrics


def test_cancel_stops_at_the_next_step_and_keeps_the_checkpoint(
    snapshot, researcher, tiny_base_model, django_capture_on_commit_callbacks
):
    job = queued(snapshot, researcher, django_capture_on_commit_callbacks, max_steps=50)
    real = runs.training_job_progress

    def cancel_after_step_two(**kwargs: Any) -> Any:
        if kwargs["step"] == 2:
            TrainingJob.objects.filter(id=job.id).update(cancel_requested=True)
        return real(**kwargs)

    with mock.patch.object(runs, "training_job_progress", side_effect=cancel_after_step_two):
        job = training_job_execute(job_id=job.id, worker="w")
    assert job.status == JobStatus.CANCELLED
    assert job.step == 2
    assert job.checkpoint_path.endswith("stage-0/checkpoint-2")
    AutoModelForSequenceClassification.from_pretrained(media_path(job.checkpoint_path))
    assert not Evaluation.objects.filter(job=job).exists()


def test_an_engine_error_fails_the_job_with_its_text(
    snapshot, researcher, tiny_base_model, django_capture_on_commit_callbacks
):
    job = queued(snapshot, researcher, django_capture_on_commit_callbacks)
    with mock.patch("rm_jobs.training.loop.train", side_effect=RuntimeError("CUDA out of memory")):
        job = training_job_execute(job_id=job.id, worker="w")
    assert job.status == JobStatus.FAILED
    assert job.error.startswith("RuntimeError: CUDA out of memory")
    assert job.finished_at is not None


def test_a_repeated_delivery_does_nothing(snapshot, researcher, tiny_base_model, django_capture_on_commit_callbacks):
    job = queued(snapshot, researcher, django_capture_on_commit_callbacks)
    TrainingJob.objects.filter(id=job.id).update(status=JobStatus.SUCCEEDED)
    with mock.patch("rm_jobs.training.loop.train") as train:
        assert training_job_execute(job_id=job.id, worker="w") is None
    train.assert_not_called()


def test_a_resumed_attempt_continues_from_its_checkpoint(
    snapshot, researcher, tiny_base_model, django_capture_on_commit_callbacks
):
    """Attempt 1 dies at step 3, after its step-2 checkpoint (as under kill -9); attempt 2 resumes there."""
    from rm_jobs.services.jobs import training_jobs_sweep_stale

    job = queued(snapshot, researcher, django_capture_on_commit_callbacks, max_steps=4)
    real = runs.training_job_progress

    def die_at_step_three(**kwargs: Any) -> Any:
        report = real(**kwargs)
        if kwargs["step"] == 3:
            raise SystemExit("killed")  # not an Exception: the job stays running, as under kill -9
        return report

    with mock.patch.object(runs, "training_job_progress", side_effect=die_at_step_three), pytest.raises(SystemExit):
        training_job_execute(job_id=job.id, worker="w1")
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING
    with django_capture_on_commit_callbacks(execute=False):
        assert training_jobs_sweep_stale(stale_seconds=0).requeued == [job.id]
    job.refresh_from_db()
    assert job.resume_from.endswith("stage-0/checkpoint-2")
    job = training_job_execute(job_id=job.id, worker="w2")
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert (job.attempt, job.worker, job.step) == (2, "w2", 4)
    assert "resuming" in job.log
    assert sorted(JobMetric.objects.filter(job=job, split="train").values_list("step", flat=True)) == [1, 2, 3, 4]


def test_a_worker_with_fewer_gpus_than_the_job_asks_for_fails_it_before_launching(
    snapshot, researcher, tiny_base_model, django_capture_on_commit_callbacks, settings
):
    settings.PREFSTACK_QUEUE_DEVICES = {"default": 2, "gpu": 4}
    with django_capture_on_commit_callbacks(execute=False):
        job = training_job_create(
            snapshot=snapshot, user=researcher, objective="bt", queue="gpu", gpus=4, strategy="fsdp"
        )
    with (
        mock.patch("torch.cuda.device_count", return_value=2),
        mock.patch("rm_jobs.training.launcher.supervise") as supervise,
    ):
        job = training_job_execute(job_id=job.id, worker="gpu@test")
    assert job.status == JobStatus.FAILED
    assert "asks for 4 devices and worker gpu@test has 2; relaunch it with gpus ≤ 2" in job.error
    supervise.assert_not_called()
    assert not JobMetric.objects.filter(job=job).exists()

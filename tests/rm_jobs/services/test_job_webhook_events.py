"""Training jobs and evaluations send their webhook events where the conditional update ends them:
``training_job.succeeded`` / ``failed`` (a cancelled job sends none, a stale job out of attempts sends ``failed``)
and ``evaluation.finished`` (succeeded or failed, by its run or by the stale-run sweep)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone

from annotator.models import Project, WebhookDelivery
from annotator.services.webhooks import webhook_create
from rm_jobs.models import Evaluation, EvaluationKind, EvaluationStatus, JobStatus, TrainingJob
from rm_jobs.services import evaluations
from rm_jobs.services.jobs import (
    training_job_create,
    training_job_finish,
    training_job_start,
    training_jobs_sweep_stale,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _local_receivers(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from annotator import tasks

    settings.PREFSTACK_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    monkeypatch.setattr(tasks.webhook_deliver_task, "delay", lambda delivery_id: None)


@pytest.fixture
def job(
    project: Project, snapshot: Any, researcher: Any, tiny_base_model: str, django_capture_on_commit_callbacks: Any
) -> TrainingJob:
    webhook_create(
        project=project,
        url="http://127.0.0.1:9/hook",
        events=["training_job.succeeded", "training_job.failed", "evaluation.finished"],
    )
    with django_capture_on_commit_callbacks(execute=False):
        return training_job_create(snapshot=snapshot, user=researcher, objective="bt")


def _sent() -> list[tuple[str, dict[str, Any]]]:
    return [(d.event, json.loads(d.body)["data"]) for d in WebhookDelivery.objects.order_by("id")]


def test_a_succeeded_job_sends_training_job_succeeded_once(job: TrainingJob) -> None:
    training_job_start(job_id=job.id, worker="w")
    assert training_job_finish(job_id=job.id, attempt=1, status=JobStatus.SUCCEEDED, summary={"accuracy": 0.75})
    assert not training_job_finish(job_id=job.id, attempt=1, status=JobStatus.FAILED, error="late")
    ((event, data),) = _sent()
    assert event == "training_job.succeeded"
    assert data["training_job"]["id"] == job.id and data["summary"] == {"accuracy": 0.75}


def test_a_failed_job_sends_training_job_failed_and_a_cancelled_one_nothing(job: TrainingJob) -> None:
    training_job_start(job_id=job.id, worker="w")
    training_job_finish(job_id=job.id, attempt=1, status=JobStatus.FAILED, error="OOM: no memory\ntrace")
    assert _sent() == [("training_job.failed", mock.ANY)]
    assert _sent()[0][1]["error"] == "OOM: no memory"
    TrainingJob.objects.filter(id=job.id).update(status=JobStatus.RUNNING)
    training_job_finish(job_id=job.id, attempt=1, status=JobStatus.CANCELLED)
    assert len(_sent()) == 1


def test_a_stale_job_out_of_attempts_sends_training_job_failed(job: TrainingJob, settings: Any) -> None:
    settings.PREFSTACK_JOB_MAX_ATTEMPTS = 1
    training_job_start(job_id=job.id, worker="w@dead")
    TrainingJob.objects.filter(id=job.id).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert training_jobs_sweep_stale(stale_seconds=60).failed == [job.id]
    assert [event for event, _ in _sent()] == ["training_job.failed"]


@pytest.mark.parametrize(
    ("outcome", "status"),
    [({"accuracy": 0.5}, EvaluationStatus.SUCCEEDED), (RuntimeError("broken model"), EvaluationStatus.FAILED)],
)
def test_an_evaluation_that_ends_sends_evaluation_finished(
    job: TrainingJob, outcome: Any, status: str, tmp_path: Path
) -> None:
    TrainingJob.objects.filter(id=job.id).update(status=JobStatus.SUCCEEDED, checkpoint_path=str(tmp_path))
    evaluation = Evaluation.objects.create(job=job, kind=EvaluationKind.VALIDATION, snapshot=job.snapshot)
    effect = outcome if isinstance(outcome, Exception) else None
    with mock.patch.object(evaluations, "_validation", side_effect=effect, return_value=(outcome, [])):
        evaluations.evaluation_run(evaluation_id=evaluation.id)
    ((event, data),) = _sent()
    assert event == "evaluation.finished"
    assert data["evaluation"]["id"] == evaluation.id and data["evaluation"]["status"] == status


def test_a_stale_evaluation_out_of_attempts_sends_evaluation_finished(job: TrainingJob, settings: Any) -> None:
    settings.PREFSTACK_JOB_MAX_ATTEMPTS = 1
    long_ago = timezone.now() - timedelta(hours=1)
    evaluation = Evaluation.objects.create(
        job=job, kind=EvaluationKind.VALIDATION, snapshot=job.snapshot, status=EvaluationStatus.RUNNING, attempt=1,
        heartbeat_at=long_ago,
    )  # fmt: skip
    assert evaluations.evaluations_sweep_stale(stale_seconds=60).failed == [evaluation.id]
    ((event, data),) = _sent()
    assert event == "evaluation.finished" and data["evaluation"]["status"] == EvaluationStatus.FAILED
    assert "stopped sending heartbeats" in data["error"]

"""The worker-start hook: sweeps at once (taking the jobs of an earlier worker of the same name, and the stale
evaluations and priority scorings) and schedules a second sweep for when the jobs of a worker that came back under
another name have gone stale."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from unittest import mock

import pytest
from django.utils import timezone

from rm_jobs import tasks
from rm_jobs.models import EvaluationStatus, JobStatus, PriorityScoring, PrioritySignal, TrainingJob

pytestmark = pytest.mark.django_db


def _running(snapshot, worker: str, seconds_ago: float) -> TrainingJob:
    beat = timezone.now() - timedelta(seconds=seconds_ago)
    return TrainingJob.objects.create(
        project=snapshot.project, snapshot=snapshot, objective="bt", base_model="tiny", status=JobStatus.RUNNING,
        attempt=1, worker=worker, heartbeat_at=beat, started_at=beat, output_folder="runs/x",
    )  # fmt: skip


def test_a_starting_worker_takes_its_namesakes_jobs_and_schedules_a_later_sweep(snapshot, settings):
    settings.PREFSTACK_JOB_STALE_SECONDS, settings.PREFSTACK_JOB_HEARTBEAT_SECONDS = 120, 10
    mine = _running(snapshot, "gpu@box", seconds_ago=5)
    other_name = _running(snapshot, "gpu@old-container", seconds_ago=5)
    with (
        mock.patch.object(tasks.training_jobs_sweep_stale_task, "apply_async") as later,
        mock.patch("rm_jobs.services.jobs.training_job_enqueue"),
    ):
        tasks._sweep_when_a_worker_starts(sender=SimpleNamespace(hostname="gpu@box"))
    later.assert_called_once_with(countdown=130)
    mine.refresh_from_db()
    other_name.refresh_from_db()
    assert mine.status == JobStatus.QUEUED  # same name: its earlier process is gone
    assert other_name.status == JobStatus.RUNNING  # another name: only once its heartbeat is stale


def test_the_worker_starts_even_when_the_sweep_fails(snapshot):
    with mock.patch.object(tasks, "training_jobs_sweep_stale", side_effect=RuntimeError("database down")):
        tasks._sweep_when_a_worker_starts(sender=SimpleNamespace(hostname="w@h"))  # logs, does not raise


def test_a_starting_worker_queues_stale_scorings_again(snapshot, django_capture_on_commit_callbacks):
    scoring = PriorityScoring.objects.create(
        project=snapshot.project, signal=PrioritySignal.HUMAN_DISAGREEMENT, status=EvaluationStatus.RUNNING,
        attempt=1, heartbeat_at=timezone.now() - timedelta(hours=1),
    )  # fmt: skip
    with (
        mock.patch.object(tasks.training_jobs_sweep_stale_task, "apply_async"),
        django_capture_on_commit_callbacks(execute=False) as callbacks,
    ):
        tasks._sweep_when_a_worker_starts(sender=SimpleNamespace(hostname="w@h"))
    scoring.refresh_from_db()
    assert (scoring.status, len(callbacks)) == (EvaluationStatus.QUEUED, 1)

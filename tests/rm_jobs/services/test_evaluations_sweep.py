"""Evaluations whose worker died: the stale-run sweep queues them again on the job's queue while they have attempts
left (they run again from the start), else fails them with the reason; a fresh one is left alone, a second sweep
does nothing, and an attempt the sweep gave up on writes nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone

from annotator.services import heartbeats
from annotator.services.heartbeats import SweepResult
from rm_jobs import tasks
from rm_jobs.models import Evaluation, EvaluationKind, EvaluationStatus, JobStatus, Queue, TrainingJob
from rm_jobs.services import evaluations
from rm_jobs.services.evaluations import evaluation_run, evaluations_sweep_stale
from tests.rm_jobs.conftest import succeeded_job

pytestmark = pytest.mark.django_db

METRICS = {"accuracy": 0.5, "num_pairs": 8}


@pytest.fixture
def done(snapshot: Any, tmp_path: Path) -> TrainingJob:
    return succeeded_job(snapshot, tmp_path)  # the validation is stubbed: no model is loaded


def _died(job: TrainingJob, *, attempt: int = 1, beat_ago: timedelta = timedelta(hours=1)) -> Evaluation:
    """What an attempt leaves when its worker dies: running, its heartbeat ``beat_ago``."""
    return Evaluation.objects.create(
        job=job, kind=EvaluationKind.VALIDATION, snapshot=job.snapshot, status=EvaluationStatus.RUNNING,
        attempt=attempt, heartbeat_at=timezone.now() - beat_ago,
    )  # fmt: skip


def _next_attempt_starts(evaluation: Evaluation) -> None:
    """The re-queued evaluation's new delivery claims it: running again, as attempt 2."""
    Evaluation.objects.filter(pk=evaluation.pk).update(
        status=EvaluationStatus.RUNNING, attempt=2, heartbeat_at=timezone.now()
    )


def test_a_stale_evaluation_is_queued_again_on_its_jobs_queue_and_runs_again(
    done: TrainingJob, django_capture_on_commit_callbacks: Any
) -> None:
    TrainingJob.objects.filter(pk=done.pk).update(queue=Queue.GPU)
    evaluation = _died(done)
    with (
        mock.patch.object(tasks.evaluation_run_task, "apply_async") as sent,
        django_capture_on_commit_callbacks(execute=True),
    ):
        result = evaluations_sweep_stale(stale_seconds=60)
    assert result == SweepResult(requeued=[evaluation.pk])
    sent.assert_called_once_with(args=[evaluation.pk], queue=Queue.GPU)
    evaluation.refresh_from_db()
    assert (evaluation.status, evaluation.heartbeat_at) == (EvaluationStatus.QUEUED, None)
    assert evaluation.requeue_reason.startswith("attempt 1: its worker stopped sending heartbeats")

    with mock.patch.object(evaluations, "_validation", return_value=(METRICS, [])):
        evaluation = evaluation_run(evaluation_id=evaluation.pk)  # type: ignore[assignment]
    assert (evaluation.status, evaluation.attempt, evaluation.metrics) == (EvaluationStatus.SUCCEEDED, 2, METRICS)
    assert evaluation.heartbeat_at is None


def test_a_second_sweep_does_nothing(done: TrainingJob, django_capture_on_commit_callbacks: Any) -> None:
    evaluation = _died(done)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert evaluations_sweep_stale(stale_seconds=60).requeued == [evaluation.pk]
        assert evaluations_sweep_stale(stale_seconds=60) == SweepResult()
    assert len(callbacks) == 1


def test_an_evaluation_that_beats_is_left_alone(done: TrainingJob) -> None:
    evaluation = _died(done, beat_ago=timedelta(seconds=5))
    assert evaluations_sweep_stale(stale_seconds=60) == SweepResult()
    assert Evaluation.objects.get(pk=evaluation.pk).status == EvaluationStatus.RUNNING


def test_an_evaluation_out_of_attempts_fails_with_the_reason(done: TrainingJob, settings: Any) -> None:
    settings.PREFSTACK_JOB_MAX_ATTEMPTS = 2
    evaluation = _died(done, attempt=2)
    assert evaluations_sweep_stale(stale_seconds=60) == SweepResult(failed=[evaluation.pk])
    evaluation.refresh_from_db()
    assert evaluation.status == EvaluationStatus.FAILED and evaluation.finished_at is not None
    assert evaluation.error.startswith("attempt 2: its worker stopped sending heartbeats")
    assert evaluation.error.endswith("no attempts left.")


def test_the_final_write_of_an_attempt_the_sweep_gave_up_is_refused(
    done: TrainingJob, django_capture_on_commit_callbacks: Any
) -> None:
    evaluation = Evaluation.objects.create(job=done, kind=EvaluationKind.VALIDATION, snapshot=done.snapshot)

    def worker_presumed_dead(*args: Any) -> tuple[dict[str, Any], list[Any]]:
        Evaluation.objects.filter(pk=evaluation.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
        assert evaluations_sweep_stale(stale_seconds=60).requeued == [evaluation.pk]
        _next_attempt_starts(evaluation)
        return METRICS, []

    with (
        django_capture_on_commit_callbacks(execute=False),
        mock.patch.object(evaluations, "_validation", side_effect=worker_presumed_dead),
    ):
        evaluation = evaluation_run(evaluation_id=evaluation.pk)  # type: ignore[assignment]
    assert (evaluation.status, evaluation.attempt, evaluation.metrics) == (EvaluationStatus.RUNNING, 2, {})
    assert evaluation.finished_at is None


def test_the_heartbeat_of_an_attempt_the_sweep_gave_up_stops_it(
    done: TrainingJob, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.PREFSTACK_JOB_STALE_SECONDS = 0  # a beat is due at every call
    evaluation = Evaluation.objects.create(job=done, kind=EvaluationKind.VALIDATION, snapshot=done.snapshot)
    scored: list[str] = []

    def scoring_loop(model_dir: Path, snapshot: Any, beat: Any) -> tuple[dict[str, Any], list[Any]]:
        beat()
        assert Evaluation.objects.get(pk=evaluation.pk).heartbeat_at is not None
        scored.append("batch 1")
        Evaluation.objects.filter(pk=evaluation.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
        assert evaluations_sweep_stale(stale_seconds=60).requeued == [evaluation.pk]
        _next_attempt_starts(evaluation)
        beat()  # the attempt no longer owns the evaluation: raises, and nothing more is scored or written
        scored.append("batch 2")
        return METRICS, []

    with (
        django_capture_on_commit_callbacks(execute=False),
        mock.patch.object(evaluations, "_validation", side_effect=scoring_loop),
    ):
        evaluation = evaluation_run(evaluation_id=evaluation.pk)  # type: ignore[assignment]
    assert scored == ["batch 1"]
    assert (evaluation.status, evaluation.attempt, evaluation.error) == (EvaluationStatus.RUNNING, 2, "")


def test_an_end_of_training_evaluation_queued_again_before_its_job_succeeded_fails_with_the_reason(
    snapshot: Any, django_capture_on_commit_callbacks: Any
) -> None:
    job = TrainingJob.objects.create(
        project=snapshot.project, snapshot=snapshot, objective="bt", base_model="tiny", status=JobStatus.RUNNING,
        attempt=2,
    )  # fmt: skip
    evaluation = _died(job)
    with django_capture_on_commit_callbacks(execute=False):
        assert evaluations_sweep_stale(stale_seconds=60).requeued == [evaluation.pk]
    evaluation = evaluation_run(evaluation_id=evaluation.pk)  # type: ignore[assignment]
    assert evaluation.status == EvaluationStatus.FAILED
    assert f"Job {job.pk} is running: it has no stored model to evaluate." in evaluation.error


def test_a_delivery_that_finds_its_evaluation_silent_takes_it_over(
    done: TrainingJob, django_capture_on_commit_callbacks: Any
) -> None:
    """The pool process died and Celery handed the task back: that delivery scores it at once, no sweep, no message."""
    evaluation = _died(done)
    with (
        django_capture_on_commit_callbacks(execute=False) as callbacks,
        mock.patch.object(evaluations, "_validation", return_value=(METRICS, [])),
    ):
        evaluation = evaluation_run(evaluation_id=evaluation.pk)  # type: ignore[assignment]
    assert callbacks == []  # no second message: this delivery ran it
    assert (evaluation.status, evaluation.attempt) == (EvaluationStatus.SUCCEEDED, 2)
    assert evaluation.requeue_reason.startswith("attempt 1: its worker stopped sending heartbeats")


def test_a_delivery_that_finds_its_evaluation_beating_leaves_it(done: TrainingJob, settings: Any) -> None:
    settings.PREFSTACK_JOB_HEARTBEAT_SECONDS = 1
    evaluation = _died(done, beat_ago=timedelta(0))

    def the_live_worker_beats(_seconds: float) -> None:
        Evaluation.objects.filter(pk=evaluation.pk).update(heartbeat_at=timezone.now())

    with mock.patch.object(heartbeats.time, "sleep", side_effect=the_live_worker_beats):
        assert evaluation_run(evaluation_id=evaluation.pk) is None
    evaluation.refresh_from_db()
    assert (evaluation.status, evaluation.attempt) == (EvaluationStatus.RUNNING, 1)


def test_evaluation_and_scoring_tasks_are_handed_back_when_their_pool_process_dies() -> None:
    for task in (tasks.evaluation_run_task, tasks.priority_scoring_run_task):
        assert (task.acks_late, task.reject_on_worker_lost) == (True, True), task.name

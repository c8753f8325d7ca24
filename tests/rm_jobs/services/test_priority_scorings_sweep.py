"""Priority scorings whose worker died: the stale-run sweep queues them again on their queue (the job's, or the
default one for a signal without a model) while they have attempts left (they run again from the start), else fails
them with the reason; a fresh one is left alone, a second sweep does nothing, and an attempt the sweep gave up on
writes nothing: the project's priorities stay as they were."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone

from annotator.models import Comparison, Project
from annotator.services.heartbeats import HeartbeatClock, ModelRunBeat, SweepResult
from rm_jobs import tasks
from rm_jobs.models import EvaluationStatus, PriorityScoring, PrioritySignal, Queue, TrainingJob
from rm_jobs.services import priorities
from rm_jobs.services.priorities import PRIORITY_SCORINGS, priority_scoring_run, priority_scorings_sweep_stale
from tests.factories import ComparisonFactory, ProjectFactory
from tests.rm_jobs.conftest import succeeded_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def project() -> Project:
    project = ProjectFactory()
    ComparisonFactory.create_batch(2, project=project)
    return project


def _died(
    project: Project,
    *,
    job: TrainingJob | None = None,
    attempt: int = 1,
    beat_ago: timedelta = timedelta(hours=1),
) -> PriorityScoring:
    """What an attempt leaves when its worker dies: running, its heartbeat ``beat_ago``."""
    signal = PrioritySignal.HUMAN_DISAGREEMENT if job is None else PrioritySignal.REWARD_UNCERTAINTY
    return PriorityScoring.objects.create(
        project=project, signal=signal, job=job, status=EvaluationStatus.RUNNING, attempt=attempt,
        heartbeat_at=timezone.now() - beat_ago,
    )  # fmt: skip


def _next_attempt_starts(scoring: PriorityScoring) -> None:
    """The re-queued scoring's new delivery claims it: running again, as attempt 2."""
    PriorityScoring.objects.filter(pk=scoring.pk).update(
        status=EvaluationStatus.RUNNING, attempt=2, heartbeat_at=timezone.now()
    )


@pytest.mark.parametrize("model", [False, True], ids=["default queue", "the job's queue"])
def test_a_stale_scoring_is_queued_again_on_its_queue(
    model: bool, snapshot: Any, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    job = None
    if model:
        job = succeeded_job(snapshot, tmp_path)
        TrainingJob.objects.filter(pk=job.pk).update(queue=Queue.GPU)
    scoring = _died(snapshot.project, job=job)
    with (
        mock.patch.object(tasks.priority_scoring_run_task, "apply_async") as sent,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert priority_scorings_sweep_stale(stale_seconds=60) == SweepResult(requeued=[scoring.pk])
    sent.assert_called_once_with(args=[scoring.pk], queue=Queue.GPU if model else Queue.DEFAULT)
    scoring.refresh_from_db()
    assert (scoring.status, scoring.heartbeat_at) == (EvaluationStatus.QUEUED, None)
    assert scoring.requeue_reason.startswith("attempt 1: its worker stopped sending heartbeats")


def test_a_scoring_queued_again_runs_again_from_the_start(
    project: Project, django_capture_on_commit_callbacks: Any
) -> None:
    scoring = _died(project)
    with django_capture_on_commit_callbacks(execute=False):
        priority_scorings_sweep_stale(stale_seconds=60)
    scoring = priority_scoring_run(scoring_id=scoring.pk)  # type: ignore[assignment]
    assert (scoring.status, scoring.attempt, scoring.scored) == (EvaluationStatus.SUCCEEDED, 2, 2)
    assert scoring.heartbeat_at is None


def test_a_second_sweep_does_nothing(project: Project, django_capture_on_commit_callbacks: Any) -> None:
    scoring = _died(project)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert priority_scorings_sweep_stale(stale_seconds=60).requeued == [scoring.pk]
        assert priority_scorings_sweep_stale(stale_seconds=60) == SweepResult()
    assert len(callbacks) == 1


def test_a_scoring_that_beats_is_left_alone(project: Project) -> None:
    scoring = _died(project, beat_ago=timedelta(seconds=5))
    assert priority_scorings_sweep_stale(stale_seconds=60) == SweepResult()
    assert PriorityScoring.objects.get(pk=scoring.pk).status == EvaluationStatus.RUNNING


def test_a_scoring_out_of_attempts_fails_with_the_reason(project: Project, settings: Any) -> None:
    settings.PREFSTACK_JOB_MAX_ATTEMPTS = 2
    scoring = _died(project, attempt=2)
    assert priority_scorings_sweep_stale(stale_seconds=60) == SweepResult(failed=[scoring.pk])
    scoring.refresh_from_db()
    assert scoring.status == EvaluationStatus.FAILED and scoring.finished_at is not None
    assert scoring.error.startswith("attempt 2: its worker stopped sending heartbeats")
    assert scoring.error.endswith("no attempts left.")


def test_the_final_write_of_an_attempt_the_sweep_gave_up_is_refused(
    project: Project, django_capture_on_commit_callbacks: Any
) -> None:
    Comparison.objects.filter(project=project).update(priority=0.5)
    scoring = PriorityScoring.objects.create(project=project, signal=PrioritySignal.HUMAN_DISAGREEMENT)

    def worker_presumed_dead(*args: Any) -> tuple[dict[int, float], list[Any]]:
        PriorityScoring.objects.filter(pk=scoring.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
        assert priority_scorings_sweep_stale(stale_seconds=60).requeued == [scoring.pk]
        _next_attempt_starts(scoring)
        return dict.fromkeys(Comparison.objects.filter(project=project).values_list("pk", flat=True), 1.0), []

    with (
        django_capture_on_commit_callbacks(execute=False),
        mock.patch.object(priorities, "_priorities", side_effect=worker_presumed_dead),
    ):
        scoring = priority_scoring_run(scoring_id=scoring.pk)  # type: ignore[assignment]
    assert (scoring.status, scoring.attempt, scoring.scored) == (EvaluationStatus.RUNNING, 2, 0)
    assert set(Comparison.objects.filter(project=project).values_list("priority", flat=True)) == {0.5}


def test_the_heartbeat_of_an_attempt_the_sweep_gave_up_stops_it(
    project: Project, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.PREFSTACK_JOB_STALE_SECONDS = 0  # a beat is due at every call
    scoring = PriorityScoring.objects.create(project=project, signal=PrioritySignal.HUMAN_DISAGREEMENT)
    scored: list[str] = []

    def scoring_loop(scoring: PriorityScoring, beat: Any) -> tuple[dict[int, float], list[Any]]:
        beat()
        assert PriorityScoring.objects.get(pk=scoring.pk).heartbeat_at is not None
        scored.append("item 1")
        PriorityScoring.objects.filter(pk=scoring.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
        assert priority_scorings_sweep_stale(stale_seconds=60).requeued == [scoring.pk]
        _next_attempt_starts(scoring)
        beat()  # the attempt no longer owns the scoring: raises, and nothing more is scored or written
        scored.append("item 2")
        return {}, []

    with (
        django_capture_on_commit_callbacks(execute=False),
        mock.patch.object(priorities, "_priorities", side_effect=scoring_loop),
    ):
        scoring = priority_scoring_run(scoring_id=scoring.pk)  # type: ignore[assignment]
    assert scored == ["item 1"]
    assert (scoring.status, scoring.attempt, scoring.error) == (EvaluationStatus.RUNNING, 2, "")


@pytest.mark.django_db(transaction=True)
def test_a_scoring_beats_from_a_thread_while_its_loop_is_silent() -> None:
    """Loading a large model has no loop to beat in: the beat's thread keeps the run fresh meanwhile, and stops with
    the block."""
    project = ProjectFactory()
    stale = timezone.now() - timedelta(hours=1)
    scoring = PriorityScoring.objects.create(
        project=project, signal=PrioritySignal.HUMAN_DISAGREEMENT, status=EvaluationStatus.RUNNING, attempt=1,
        heartbeat_at=stale,
    )  # fmt: skip

    def beat_at() -> Any:
        return PriorityScoring.objects.get(pk=scoring.pk).heartbeat_at

    with ModelRunBeat(PRIORITY_SCORINGS, run_id=scoring.pk, attempt=1, clock=HeartbeatClock(every=0.05)):
        deadline = time.monotonic() + 30
        while beat_at() == stale and time.monotonic() < deadline:
            time.sleep(0.05)  # the loop says nothing: a model loading
        assert beat_at() > stale
    last = beat_at()
    time.sleep(0.3)
    assert beat_at() == last


def test_a_delivery_that_finds_its_scoring_silent_takes_it_over(
    project: Project, django_capture_on_commit_callbacks: Any
) -> None:
    scoring = _died(project)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        scoring = priority_scoring_run(scoring_id=scoring.pk)  # type: ignore[assignment]
    assert callbacks == []  # no second message: this delivery ran it
    assert (scoring.status, scoring.attempt) == (EvaluationStatus.SUCCEEDED, 2)
    assert scoring.requeue_reason.startswith("attempt 1: its worker stopped sending heartbeats")

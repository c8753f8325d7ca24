"""training_job_recover_redelivered: a job's task delivered again while the job is running takes the job over only
when its heartbeat has been silent for two intervals; a beating attempt is left alone; no new message is sent."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone

from annotator.services import heartbeats
from rm_jobs.models import JobStatus, TrainingJob
from rm_jobs.services.jobs import stage_output_dir, training_job_create, training_job_finish, training_job_start
from rm_jobs.services.recovery import training_job_heartbeat_window, training_job_recover_redelivered

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(snapshot, researcher, tiny_base_model, django_capture_on_commit_callbacks, settings) -> TrainingJob:
    settings.PREFSTACK_JOB_HEARTBEAT_SECONDS = 1
    with django_capture_on_commit_callbacks(execute=False):
        return training_job_create(snapshot=snapshot, user=researcher, objective="bt")


def _silent_for(job: TrainingJob, seconds: float) -> None:
    TrainingJob.objects.filter(id=job.id).update(heartbeat_at=timezone.now() - timedelta(seconds=seconds))


def _checkpoint(job: TrainingJob, step: int) -> None:
    folder = stage_output_dir(job, 0) / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    (folder / "trainer_state.pt").write_bytes(b"x")


def test_the_window_is_two_heartbeat_intervals(settings: Any) -> None:
    settings.PREFSTACK_JOB_HEARTBEAT_SECONDS = 10
    assert training_job_heartbeat_window() == 20.0
    settings.PREFSTACK_JOB_HEARTBEAT_SECONDS, settings.PREFSTACK_JOB_STALE_SECONDS = 0, 120
    assert training_job_heartbeat_window() == 120.0


def test_a_silent_job_is_queued_again_for_this_delivery_from_its_checkpoint(job, django_capture_on_commit_callbacks):
    training_job_start(job_id=job.id, worker="w@host")
    _checkpoint(job, 4)
    _silent_for(job, 5)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert training_job_recover_redelivered(job_id=job.id) is True
    assert callbacks == []  # no second message: the redelivered task runs it
    job.refresh_from_db()
    assert (job.status, job.resume_from) == (JobStatus.QUEUED, f"{job.output_folder}/stage-0/checkpoint-4")
    assert "its task came back" in job.log
    assert training_job_start(job_id=job.id, worker="w@host").attempt == 2


def test_a_job_silent_for_less_than_the_window_is_taken_once_the_window_has_passed(job):
    training_job_start(job_id=job.id, worker="w@host")
    _silent_for(job, 1.5)
    with mock.patch.object(heartbeats.time, "sleep", wraps=heartbeats.time.sleep) as slept:
        assert training_job_recover_redelivered(job_id=job.id) is True
    assert 0.4 <= sum(call.args[0] for call in slept.call_args_list) <= 1.5


def test_a_beating_job_is_left_to_its_worker(job):
    training_job_start(job_id=job.id, worker="w@host")

    def beat(_seconds: float) -> None:  # the live worker's heartbeat thread, while this delivery watches
        TrainingJob.objects.filter(id=job.id).update(heartbeat_at=timezone.now())

    with mock.patch.object(heartbeats.time, "sleep", side_effect=beat):
        assert training_job_recover_redelivered(job_id=job.id) is False
    job.refresh_from_db()
    assert (job.status, job.attempt) == (JobStatus.RUNNING, 1)


def test_a_finished_or_queued_job_is_not_touched(job):
    assert training_job_recover_redelivered(job_id=job.id) is False  # queued: another delivery will run it
    started = training_job_start(job_id=job.id, worker="w@host")
    training_job_finish(job_id=job.id, attempt=started.attempt, status=JobStatus.SUCCEEDED)
    assert training_job_recover_redelivered(job_id=job.id) is False
    assert training_job_recover_redelivered(job_id=10**9) is False


def test_no_attempts_left_fails_the_job(job, settings):
    settings.PREFSTACK_JOB_MAX_ATTEMPTS = 1
    training_job_start(job_id=job.id, worker="w@host")
    _silent_for(job, 5)
    assert training_job_recover_redelivered(job_id=job.id) is False
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "no attempts left" in job.error


def test_the_task_runs_a_recovered_job_itself(job):
    from rm_jobs import tasks

    training_job_start(job_id=job.id, worker="w@host")
    _silent_for(job, 5)
    with (
        mock.patch.object(tasks, "training_job_execute", wraps=tasks.training_job_execute) as execute,
        mock.patch("rm_jobs.services.runs._run_stages", return_value=None),
    ):
        tasks.training_job_run_task.run(job.id)
    assert execute.call_count == 2  # the first finds it running; after the take-over it runs attempt 2
    job.refresh_from_db()
    assert (job.status, job.attempt) == (JobStatus.RUNNING, 2)  # _run_stages stubbed: nothing finished it

"""Celery tasks for training jobs: thin — fetch by id, call a service.

``training_job_run_task`` is sent to the job's own queue (``default`` for CPU workers, ``gpu`` for workers started
with ``-Q gpu``), so a CPU-only worker never sees a GPU job. No job stays ``running`` without a live worker, and no
page or API read is needed for that:

- the pool process dies (kill -9, OOM): ``acks_late`` + ``reject_on_worker_lost`` hand the task back at once; its
  new delivery sees the job still running, and takes it over from its last checkpoint as soon as the heartbeat has
  been silent for two intervals (:func:`rm_jobs.services.recovery.training_job_recover_redelivered`);
- the whole worker dies (the filesystem broker loses its unacknowledged task; Redis gives it back only after its
  visibility timeout): the stale-job sweep (``training_jobs_sweep_stale_task``) re-queues the job. Beat sends it
  every minute; every worker start runs it at once (taking the jobs of an earlier worker of the same name) and
  again once the heartbeats of a worker that came back under another name have gone stale.

Evaluations and priority scorings beat while they score and are swept by the same task (beat and worker start):
one whose worker died is queued again, on its job's queue, while it has attempts left, else failed with the reason
(:mod:`annotator.services.heartbeats`).

Conditional transitions make redeliveries and duplicate sweeps no-ops.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings

from rm_jobs.services.evaluations import evaluation_run, evaluations_sweep_stale
from rm_jobs.services.jobs import training_jobs_sweep_stale
from rm_jobs.services.priorities import priority_scoring_run, priority_scorings_sweep_stale
from rm_jobs.services.recovery import training_job_recover_redelivered
from rm_jobs.services.runs import training_job_execute

logger = logging.getLogger(__name__)


@shared_task(bind=True, name="rm_jobs.training_job_run", acks_late=True, reject_on_worker_lost=True)
def training_job_run_task(self: Any, job_id: int) -> str | None:
    worker = self.request.hostname or "unknown"
    job = training_job_execute(job_id=job_id, worker=worker)
    if job is None and training_job_recover_redelivered(job_id=job_id):
        job = training_job_execute(job_id=job_id, worker=worker)
    return job.status if job is not None else None


@shared_task(name="rm_jobs.evaluation_run", acks_late=True, reject_on_worker_lost=True)
def evaluation_run_task(evaluation_id: int) -> str | None:
    evaluation = evaluation_run(evaluation_id=evaluation_id)
    return evaluation.status if evaluation is not None else None


@shared_task(name="rm_jobs.priority_scoring_run", acks_late=True, reject_on_worker_lost=True)
def priority_scoring_run_task(scoring_id: int) -> str | None:
    scoring = priority_scoring_run(scoring_id=scoring_id)
    return scoring.status if scoring is not None else None


def _runs_sweep_stale() -> dict[str, dict[str, list[int]]]:
    """Sweep the evaluations and priority scorings whose worker stopped beating."""
    evaluations, scorings = evaluations_sweep_stale(), priority_scorings_sweep_stale()
    return {
        "evaluations": {"requeued": evaluations.requeued, "failed": evaluations.failed},
        "priority_scorings": {"requeued": scorings.requeued, "failed": scorings.failed},
    }


@shared_task(name="rm_jobs.training_jobs_sweep_stale")
def training_jobs_sweep_stale_task() -> dict[str, dict[str, list[int]]]:
    """Re-queue (or fail, with no attempt left) the training jobs, evaluations and priority scorings whose worker
    stopped beating; sent every minute by beat."""
    jobs = training_jobs_sweep_stale()
    return {
        "training_jobs": {"requeued": jobs.requeued, "failed": jobs.failed, "cancelled": jobs.cancelled},
        **_runs_sweep_stale(),
    }


@worker_ready.connect
def _sweep_when_a_worker_starts(sender: Any = None, **kwargs: Any) -> None:
    """A worker (re)starting under a hostname proves that hostname's earlier process is gone: its running jobs are
    taken at once; every other stale job too."""
    hostname = getattr(sender, "hostname", None)
    runs: dict[str, dict[str, list[int]]] = {}
    try:
        result = training_jobs_sweep_stale(dead_worker=hostname)
        runs = _runs_sweep_stale()
        # A worker that came back under another name (a recreated container) left jobs whose heartbeat is not
        # stale yet: sweep again once it is, whether or not a beat runs.
        later = settings.PREFSTACK_JOB_STALE_SECONDS + max(1, settings.PREFSTACK_JOB_HEARTBEAT_SECONDS)
        training_jobs_sweep_stale_task.apply_async(countdown=later)
    except Exception:  # the worker must start even when the database or the broker is briefly unavailable
        logger.exception("stale-job sweep at worker start failed")
        return
    if result.requeued or result.failed or result.cancelled:
        logger.warning("stale training jobs at start of %s: %s", hostname, result)
    if any(ids for swept in runs.values() for ids in swept.values()):
        logger.warning("stale evaluations and priority scorings at start of %s: %s", hostname, runs)

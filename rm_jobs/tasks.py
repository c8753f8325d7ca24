"""Celery tasks for training jobs: thin — fetch by id, call a service.

``training_job_run_task`` is sent to the job's own queue (``default`` for CPU workers, ``gpu`` for workers started
with ``-Q gpu``), so a CPU-only worker never sees a GPU job. With ``acks_late`` a message whose worker dies is
redelivered by Redis after its visibility timeout; the filesystem broker cannot, so the heartbeat sweep
(``training_jobs_sweep_stale_task``: at every worker start, every minute under beat, and from the jobs pages) is what
guarantees that no job stays ``running`` without a live worker. Conditional transitions make redeliveries no-ops.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.signals import worker_ready

from rm_jobs.services.evaluations import evaluation_run
from rm_jobs.services.jobs import training_jobs_sweep_stale
from rm_jobs.services.runs import training_job_execute

logger = logging.getLogger(__name__)


@shared_task(bind=True, name="rm_jobs.training_job_run", acks_late=True, reject_on_worker_lost=True)
def training_job_run_task(self: Any, job_id: int) -> str | None:
    job = training_job_execute(job_id=job_id, worker=self.request.hostname or "unknown")
    return job.status if job is not None else None


@shared_task(name="rm_jobs.evaluation_run", acks_late=True)
def evaluation_run_task(evaluation_id: int) -> str | None:
    evaluation = evaluation_run(evaluation_id=evaluation_id)
    return evaluation.status if evaluation is not None else None


@shared_task(name="rm_jobs.training_jobs_sweep_stale")
def training_jobs_sweep_stale_task() -> dict[str, list[int]]:
    result = training_jobs_sweep_stale()
    return {"requeued": result.requeued, "failed": result.failed, "cancelled": result.cancelled}


@worker_ready.connect
def _sweep_when_a_worker_starts(sender: Any = None, **kwargs: Any) -> None:
    """A worker (re)starting under a hostname proves that hostname's earlier process is gone: its running jobs are
    taken at once; every other stale job too."""
    hostname = getattr(sender, "hostname", None)
    try:
        result = training_jobs_sweep_stale(dead_worker=hostname)
    except Exception:  # the worker must start even when the database is briefly unavailable
        logger.exception("stale-job sweep at worker start failed")
        return
    if result.requeued or result.failed or result.cancelled:
        logger.warning("stale training jobs at start of %s: %s", hostname, result)

"""Celery tasks of the annotator app: thin, they fetch by id and call one service."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from celery.signals import worker_ready
from django.conf import settings

from annotator.services.agreement_intervals import agreement_intervals_compute
from annotator.services.generation import generation_run_execute, generation_runs_sweep_stale
from annotator.services.heartbeats import heartbeat_interval
from annotator.services.judge import judge_run_execute, judge_runs_sweep_stale
from annotator.services.snapshots.lifecycle import snapshot_build
from annotator.services.webhooks import WebhookRetry, webhook_delivery_attempt

logger = logging.getLogger(__name__)


@shared_task(name="annotator.snapshot_build")
def snapshot_build_task(snapshot_id: int) -> str:
    """Build snapshot ``snapshot_id``; a second delivery finds it no longer pending and does nothing."""
    return snapshot_build(snapshot_id=snapshot_id).status


@shared_task(name="annotator.agreement_intervals")
def agreement_intervals_task(project_id: int) -> str:
    """Bootstrap intervals of project ``project_id``'s agreement; a second delivery finds nothing pending."""
    row = agreement_intervals_compute(project_id=project_id)
    return "skipped" if row is None else row.status


@shared_task(bind=True, name="annotator.webhook_deliver", max_retries=None)
def webhook_deliver_task(self: Task, delivery_id: int) -> str:
    """One attempt of webhook delivery ``delivery_id``; a retryable failure comes back with exponential back-off
    (the service counts the attempts and stops retrying after the last)."""
    try:
        return webhook_delivery_attempt(delivery_id=delivery_id).status
    except WebhookRetry as retry:
        raise self.retry(countdown=retry.countdown, exc=retry) from retry


@shared_task(name="annotator.generation_run_execute", acks_late=True, reject_on_worker_lost=True)
def generation_run_execute_task(run_id: int) -> str:
    """Run generation run ``run_id`` on the default queue. When the pool process running it dies, Celery hands the
    task back at once and that delivery takes the run over once its heartbeat has been silent two intervals; any
    other second delivery finds it no longer pending."""
    return generation_run_execute(run_id=run_id).status


@shared_task(name="annotator.judge_run_execute", acks_late=True, reject_on_worker_lost=True)
def judge_run_execute_task(run_id: int) -> str | None:
    """Run judge run ``run_id`` on the default queue; taken over like a generation run when its pool process dies,
    any other second delivery finds it no longer queued."""
    run = judge_run_execute(run_id=run_id)
    return run.status if run is not None else None


@shared_task(name="annotator.model_runs_sweep_stale")
def model_runs_sweep_stale_task() -> dict[str, dict[str, list[int]]]:
    """Re-queue (or fail, with no attempt left) the generation and judge runs whose worker stopped beating; sent
    every minute by beat, beside the training jobs' sweep."""
    generation, judge = generation_runs_sweep_stale(), judge_runs_sweep_stale()
    return {
        "generation_runs": {"requeued": generation.requeued, "failed": generation.failed},
        "judge_runs": {"requeued": judge.requeued, "failed": judge.failed},
    }


@worker_ready.connect
def _sweep_runs_when_a_worker_starts(sender: Any = None, **kwargs: Any) -> None:
    """Sweep at every worker start, and again once the runs a dead worker left are surely stale, whether or not a
    beat process runs."""
    try:
        model_runs_sweep_stale_task()
        later = settings.PREFSTACK_JOB_STALE_SECONDS + heartbeat_interval()
        model_runs_sweep_stale_task.apply_async(countdown=later)
    except Exception:  # the worker must start even when the database or the broker is briefly unavailable
        logger.exception("stale-run sweep at worker start failed")

"""A training job's task delivered again while the job is marked running: is its worker dead?

With ``acks_late`` and ``reject_on_worker_lost``, Celery hands a task back to the queue when the pool process that
ran it dies (kill -9, the OOM killer) and delivers it again at once, usually to the same worker's new pool process;
Redis also redelivers an unacknowledged task after its visibility timeout, possibly while the first worker still
runs it. The job is then still ``running`` under the attempt that died (or lives). The heartbeat tells them apart:
a live attempt refreshes ``heartbeat_at`` every ``PREFSTACK_JOB_HEARTBEAT_SECONDS`` from a thread, so a heartbeat
that has not moved for two intervals means the attempt is gone, and the redelivered task takes the job over from
its last checkpoint at once instead of leaving it to the periodic sweep.
"""

from __future__ import annotations

from django.conf import settings

from annotator.services.heartbeats import heartbeat_silent
from rm_jobs.models import JobStatus, TrainingJob
from rm_jobs.services.jobs import training_job_give_up

_FIELDS = (
    "id",
    "status",
    "attempt",
    "worker",
    "heartbeat_at",
    "started_at",
    "cancel_requested",
    "stage",
    "output_folder",
)


def training_job_heartbeat_window() -> float:
    """Seconds without a heartbeat after which a redelivered task takes a running job: two heartbeat intervals
    (the sweep's PREFSTACK_JOB_STALE_SECONDS when the heartbeat only follows optimizer steps)."""
    every = settings.PREFSTACK_JOB_HEARTBEAT_SECONDS
    return 2.0 * every if every > 0 else float(settings.PREFSTACK_JOB_STALE_SECONDS)


def training_job_recover_redelivered(*, job_id: int) -> bool:
    """Called when a delivery of the job's task finds it not queued. Waits (at most one heartbeat window) to see
    whether the running attempt still beats; if not, hands the job back to the queue from its last checkpoint
    without sending a new message (``training_job_give_up(enqueue=False)``), so the caller runs it next.

    Returns True when the job is queued again for the caller; False when it is not running (finished, cancelled,
    queued for another delivery), its attempt is alive (the heartbeat moved), or it had no attempts left (failed).
    """

    def fetch() -> TrainingJob | None:
        return TrainingJob.objects.filter(id=job_id, status=JobStatus.RUNNING).only(*_FIELDS).first()

    job = heartbeat_silent(fetch, window_s=training_job_heartbeat_window())
    if job is None:
        return False
    reason = (
        f"worker {job.worker or '?'} was lost: its task came back and no heartbeat since "
        f"{job.heartbeat_at.isoformat(timespec='seconds') if job.heartbeat_at else 'the start'}"
    )
    return training_job_give_up(job=job, enqueue=False, reason=reason) == "requeued"

"""The webhook events of training jobs and evaluations (``training_job.succeeded``/``failed``,
``evaluation.finished``), sent through :mod:`annotator.services.webhooks`. Each is called once, by the service
whose conditional update made the transition."""

from __future__ import annotations

from annotator.models import WebhookEvent
from annotator.services.webhooks import webhook_event_emit
from rm_jobs.models import Evaluation, EvaluationStatus, JobStatus, TrainingJob

JOB_EVENTS = {
    JobStatus.SUCCEEDED: WebhookEvent.TRAINING_JOB_SUCCEEDED,
    JobStatus.FAILED: WebhookEvent.TRAINING_JOB_FAILED,
}


def training_job_finished_emit(*, job_id: int) -> None:
    """The job's event when it just succeeded or failed (a cancelled job sends none)."""
    job = TrainingJob.objects.select_related("project").get(id=job_id)
    event = JOB_EVENTS.get(JobStatus(job.status))
    if event is None or event not in job.project.webhook_events:
        return
    payload = {
        "training_job": {"id": job.pk, "status": job.status, "snapshot": job.snapshot_id, "attempt": job.attempt},
        "summary": job.summary,
        "error": job.error.splitlines()[0] if job.error else "",
    }
    webhook_event_emit(project=job.project, event=event, payload=payload)


def evaluation_finished_emit(*, evaluation_id: int) -> None:
    """``evaluation.finished`` for an evaluation that just succeeded or failed (its status says which)."""
    evaluation = Evaluation.objects.select_related("job__project").get(id=evaluation_id)
    project = evaluation.job.project
    finished = evaluation.status in (EvaluationStatus.SUCCEEDED, EvaluationStatus.FAILED)
    if not finished or WebhookEvent.EVALUATION_FINISHED not in project.webhook_events:
        return
    payload = {
        "evaluation": {
            "id": evaluation.pk,
            "kind": evaluation.kind,
            "status": evaluation.status,
            "training_job": evaluation.job_id,
        },
        "metrics": evaluation.metrics,
        "error": evaluation.error.splitlines()[0] if evaluation.error else "",
    }
    webhook_event_emit(project=project, event=WebhookEvent.EVALUATION_FINISHED, payload=payload)

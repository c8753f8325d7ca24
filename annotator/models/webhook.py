"""Webhooks: a project's subscriptions to its events, and the log of every delivery made to them.

The sending, signing and URL checks live in :mod:`annotator.services.webhooks`; the signature scheme in
:mod:`annotator.webhooks_signing`.
"""

from __future__ import annotations

from django.db import models

from annotator.models.project import Project


class WebhookEvent(models.TextChoices):
    SNAPSHOT_READY = "snapshot.ready", "Snapshot ready"
    SNAPSHOT_FAILED = "snapshot.failed", "Snapshot failed"
    TRAINING_JOB_SUCCEEDED = "training_job.succeeded", "Training job succeeded"
    TRAINING_JOB_FAILED = "training_job.failed", "Training job failed"
    EVALUATION_FINISHED = "evaluation.finished", "Evaluation finished"
    IMPORT_FINISHED = "import.finished", "Import finished"
    COMPARISON_COMPLETED = "comparison.completed", "Comparison completed"


# Sent by "send test" only; nobody subscribes to it.
WEBHOOK_TEST_EVENT = "webhook.test"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    RETRYING = "retrying", "Retrying"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class Webhook(models.Model):
    """A URL that receives ``events`` (values of :class:`WebhookEvent`) of ``project``, signed with ``secret``."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list, help_text="Event names this URL receives.")
    secret = models.CharField(max_length=128, help_text="Key of the HMAC-SHA256 signature.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.project_id} → {self.url}"


class WebhookDelivery(models.Model):
    """One event sent (or to be sent) to one webhook, with the outcome of its last attempt.

    ``body`` is the exact JSON sent on every attempt (each attempt signs it with a fresh timestamp). Status moves
    pending → sending → succeeded | retrying → sending … | failed by conditional updates, so a task delivered twice
    sends once. A redelivery is a new row pointing at the original.
    """

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=64)
    body = models.TextField()
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    response_code = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True, help_text="Of the last attempt.")
    error = models.TextField(blank=True)
    redelivery_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event} → {self.webhook_id} · {self.status}"

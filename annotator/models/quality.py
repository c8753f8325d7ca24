"""Agreement intervals computed in the background: bootstrap CIs are too slow for a page view, so a Celery task
computes them and keeps them here, one row per project, tagged with the fingerprint of the data they describe."""

from __future__ import annotations

from django.db import models

from annotator.models.project import Project


class IntervalsStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class AgreementIntervals(models.Model):
    """The latest bootstrap intervals of a project's agreement figures.

    ``fingerprint`` identifies the annotations and reviews they were computed on (counts and latest ids); the
    overview shows them as current only while the project's fingerprint still matches. ``results`` maps a measure
    (attribute, ``preference_strength``, ``preference_direction``) to ``{"alpha", "ci_low", "ci_high", "n_units"}``.
    Status moves pending → running → ready | failed by conditional updates, so a task delivered twice runs once.
    """

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="agreement_intervals")
    fingerprint = models.CharField(max_length=64, blank=True, help_text="Of the data the request was made on.")
    computed_fingerprint = models.CharField(max_length=64, blank=True, help_text="Of the data `results` describe.")
    status = models.CharField(max_length=16, choices=IntervalsStatus.choices, default=IntervalsStatus.PENDING)
    n_resamples = models.PositiveIntegerField(default=1000)
    confidence = models.FloatField(default=0.95)
    results = models.JSONField(default=dict, blank=True)
    n_annotations = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    requested_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    computed_at = models.DateTimeField(null=True, blank=True)
    seconds = models.FloatField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "agreement intervals"

    def __str__(self) -> str:
        return f"{self.project_id} intervals · {self.status}"

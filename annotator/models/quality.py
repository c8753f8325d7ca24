"""Agreement intervals computed in the background: bootstrap CIs are too slow for a page view, so a Celery task
computes them and keeps them here, one row per project, tagged with the fingerprint of the data they describe."""

from __future__ import annotations

from django.db import models

from annotator.models.comparison import Comparison
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


class AgreementCounts(models.Model):
    """A project's agreement kept as counts, so the overview reads a few hundred numbers instead of every rating.

    ``tallies`` holds, per measure, how many pairable units have each value-count pattern and the confusion counts of
    rater pairs (shapes in ``annotator.stats.agreement_counts``); the figures computed from them equal those computed
    from the annotations. Every service that changes which annotations count updates it in the same transaction
    (``annotator.services.agreement_counts.agreement_counts_refresh``), under this row's lock, taken last.

    ``attributes`` and ``likert_domain`` are what the tallies were counted on. ``n_current``, ``max_annotation_id``,
    ``n_reviews`` and ``max_review_id`` make the agreement fingerprint of the data the tallies describe: the overview
    trusts them only while it equals the project's fingerprint (a write that bypassed the services shows up there).
    """

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="agreement_counts")
    attributes = models.JSONField(default=list)
    likert_domain = models.JSONField(default=list)
    tallies = models.JSONField(default=dict)
    n_counted = models.PositiveIntegerField(default=0, help_text="Annotations counted (ratable, not rejected).")
    n_rejected = models.PositiveIntegerField(default=0, help_text="Ratable annotations left out as rejected.")
    n_current = models.PositiveIntegerField(default=0)
    max_annotation_id = models.BigIntegerField(default=0)
    n_reviews = models.PositiveIntegerField(default=0)
    max_review_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "agreement counts"

    def __str__(self) -> str:
        return f"{self.project_id} agreement counts"


class ComparisonAgreementCounts(models.Model):
    """One comparison's part of its project's ``AgreementCounts``: its units' value counts and its rater pairs'
    confusion counts per measure (``counts``), and its share of the fingerprint. Kept per comparison so that a
    write takes out exactly what the comparison added before, and so that sums over a subset of comparisons (a
    domain, a split) stay one query away. ``n_submitted`` and ``n_returned`` count its assignments by status,
    for the progress."""

    comparison = models.OneToOneField(
        Comparison, on_delete=models.CASCADE, primary_key=True, related_name="agreement_counts"
    )
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    counts = models.JSONField(default=dict)
    n_counted = models.PositiveIntegerField(default=0)
    n_rejected = models.PositiveIntegerField(default=0)
    n_current = models.PositiveIntegerField(default=0)
    max_annotation_id = models.BigIntegerField(default=0)
    n_reviews = models.PositiveIntegerField(default=0)
    max_review_id = models.BigIntegerField(default=0)
    # The overview's progress: assignments submitted and returned for revision (the same writes change them).
    n_submitted = models.PositiveIntegerField(default=0)
    n_returned = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["project", "n_submitted", "n_returned"], name="comparison_counts_progress"),
        ]

    def __str__(self) -> str:
        return f"{self.comparison_id} agreement counts"

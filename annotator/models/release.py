"""Aggregation rules and snapshots: what decides a release, and the frozen releases themselves."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from annotator.models.project import Project


class AggregationKind(models.TextChoices):
    HELPSTEER2 = "helpsteer2", "HelpSteer2 (three most agreeing, spread filter)"
    MEAN = "mean", "Plain mean"
    MEDIAN = "median", "Median"


class AggregationRule(models.Model):
    """A named, versioned set of aggregation parameters. Never edited in place: a change is a new version.

    ``params`` holds the rule's parameters as the pure aggregation functions take them (annotator.stats.aggregation);
    it is copied into every snapshot built with the rule.
    """

    name = models.SlugField(max_length=64)
    version = models.PositiveIntegerField(default=1)
    kind = models.CharField(max_length=16, choices=AggregationKind.choices)
    params = models.JSONField(default=dict, blank=True)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "-version"]
        constraints = [models.UniqueConstraint(fields=["name", "version"], name="aggregation_rule_unique_version")]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class SnapshotStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    BUILDING = "building", "Building"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class Snapshot(models.Model):
    """An immutable, numbered release of a project's aggregated data.

    The items themselves live as files under ``folder`` (relative to MEDIA_ROOT), written once by the build task;
    ``content_hash`` is the SHA-256 over them. Status moves pending → building → ready | failed, each step by a
    conditional update, so a task delivered twice builds once.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="snapshots")
    number = models.PositiveIntegerField()
    name = models.CharField(max_length=200, blank=True)
    rule = models.ForeignKey(AggregationRule, on_delete=models.PROTECT, related_name="snapshots")
    rule_params = models.JSONField(default=dict, blank=True, help_text="The rule as it was, copied at creation.")
    split_seed = models.PositiveIntegerField(default=0)
    validation_fraction = models.FloatField(default=0.05)
    include_judge_drafts = models.BooleanField(
        default=False,
        help_text="Add the LLM judge's latest drafts as separate, model-made columns (never mixed with human labels).",
    )
    status = models.CharField(max_length=16, choices=SnapshotStatus.choices, default=SnapshotStatus.PENDING)
    progress = models.FloatField(default=0.0)
    error = models.TextField(blank=True)
    counts = models.JSONField(default=dict, blank=True)
    agreement = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    folder = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["project_id", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="snapshot_unique_number"),
            models.CheckConstraint(
                condition=models.Q(progress__gte=0, progress__lte=1), name="snapshot_progress_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project.slug} v{self.number}"

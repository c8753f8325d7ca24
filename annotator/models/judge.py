"""The project's LLM judge and its drafts: model-made labels, kept apart from annotations and never shown to
annotators (so they cannot anchor them); leads and researchers see them and the calibration report."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from annotator.domain import PREFERENCE_STRENGTH_MAX, PREFERENCE_STRENGTH_MIN
from annotator.llm.judge import DEFAULT_TEMPLATE
from annotator.models.comparison import Comparison
from annotator.models.generation import ModelEndpoint
from annotator.models.project import Project


class Judge(models.Model):
    """A project's judge: the endpoint asked and the prompt template (:mod:`annotator.llm.judge`)."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="judge")
    endpoint = models.ForeignKey(ModelEndpoint, on_delete=models.PROTECT, related_name="+")
    template = models.TextField(default=DEFAULT_TEMPLATE)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"judge of {self.project_id}"


class JudgeRunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class JudgeRun(models.Model):
    """One pass of the judge over the project's comparisons, with a copy of the template and endpoint it used.

    Items that failed (not JSON, off the schema, a timeout …) are drafts with status ``failed`` and the reason; the
    run itself fails only when it cannot go on (its endpoint's key gone, an error of the server's own). A running run
    beats (``heartbeat_at``); the sweep queues one whose worker died again (``attempt``, ``requeue_reason``), and it
    continues with the comparisons not yet drafted, or fails it when it has no attempt left.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="judge_runs")
    endpoint = models.ForeignKey(ModelEndpoint, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    endpoint_name = models.CharField(max_length=100, blank=True)
    model_id = models.CharField(max_length=200, blank=True)
    template = models.TextField()
    status = models.CharField(max_length=16, choices=JudgeRunStatus.choices, default=JudgeRunStatus.QUEUED)
    items_total = models.PositiveIntegerField(default=0)
    items_done = models.PositiveIntegerField(default=0)
    items_failed = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    attempt = models.PositiveSmallIntegerField(default=0, help_text="Starts (a worker that died costs one).")
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last sign of life of the running task.")
    requeue_reason = models.TextField(blank=True, help_text="Why the sweep last re-queued the run.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"judge run {self.pk}"


class JudgeDraftStatus(models.TextChoices):
    OK = "ok", "Drafted"
    FAILED = "failed", "Failed"


class JudgeDraft(models.Model):
    """The judge's answer on one comparison, in response 1 / response 2 terms.

    ``ratings``: ``{"1": {attribute: value}, "2": {...}}``; ``preference_strength`` −3…+3 (negative: response 1
    better); ``confidence`` 0…1 when the judge gave one; ``reason`` its one line. A failed item has ``failure`` (why)
    and the raw answer, cut, in ``raw``.
    """

    run = models.ForeignKey(JudgeRun, on_delete=models.CASCADE, related_name="drafts")
    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="judge_drafts")
    status = models.CharField(max_length=16, choices=JudgeDraftStatus.choices)
    ratings = models.JSONField(default=dict, blank=True)
    preference_strength = models.SmallIntegerField(null=True, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    reason = models.TextField(blank=True)
    failure = models.TextField(blank=True)
    raw = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["comparison_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "comparison"], name="judge_draft_one_per_run"),
            models.CheckConstraint(
                condition=models.Q(preference_strength__isnull=True)
                | models.Q(
                    preference_strength__gte=PREFERENCE_STRENGTH_MIN, preference_strength__lte=PREFERENCE_STRENGTH_MAX
                ),
                name="judge_draft_strength_range",
            ),
            models.CheckConstraint(
                condition=models.Q(confidence__isnull=True) | models.Q(confidence__gte=0, confidence__lte=1),
                name="judge_draft_confidence_range",
            ),
        ]

    def __str__(self) -> str:
        return f"judge draft {self.pk} of comparison {self.comparison_id}"

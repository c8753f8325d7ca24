"""Models in the loop: OpenAI-compatible model endpoints, and generation runs that ask them for responses and build
comparisons from pairs of responses of different endpoints.

The rules (the key's environment variable, the run's state machine, the seeded pairs) live in
:mod:`annotator.services.model_endpoints` and :mod:`annotator.services.generation`; the HTTP client in
:mod:`annotator.llm.client`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from annotator.models.comparison import Prompt
from annotator.models.project import Project


class ModelEndpoint(models.Model):
    """An OpenAI-compatible chat-completions server and the model asked there, of one project (or of the whole site
    when ``project`` is empty). The API key is never stored: ``api_key_env`` names the environment variable of the
    workers that holds it."""

    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.CASCADE, related_name="model_endpoints",
        help_text="Empty: an endpoint of the whole site.",
    )  # fmt: skip
    name = models.CharField(max_length=100)
    base_url = models.URLField(max_length=500, help_text="Where the OpenAI paths begin, e.g. https://host/v1.")
    model_id = models.CharField(max_length=200, help_text="The model's name at the endpoint.")
    sampling = models.JSONField(default=dict, blank=True, help_text="Default sampling parameters.")
    concurrency_limit = models.PositiveSmallIntegerField(default=4, help_text="Requests in flight at most.")
    timeout_seconds = models.PositiveIntegerField(default=60, help_text="Time limit of one attempt.")
    max_attempts = models.PositiveSmallIntegerField(default=4, help_text="Attempts in all on 429, 5xx, timeouts.")
    api_key_env = models.CharField(max_length=100, blank=True, help_text="Environment variable holding the API key.")
    json_schema_output = models.BooleanField(
        default=False,
        help_text="The server accepts OpenAI's response_format json_schema: the judge's answer schema is sent there too.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "name"], condition=models.Q(project__isnull=False), name="model_endpoint_unique_name"
            ),
            models.UniqueConstraint(
                fields=["name"], condition=models.Q(project__isnull=True), name="model_endpoint_unique_site_name"
            ),
            models.CheckConstraint(condition=models.Q(concurrency_limit__gte=1), name="model_endpoint_concurrency"),
            models.CheckConstraint(condition=models.Q(timeout_seconds__gte=1), name="model_endpoint_timeout"),
            models.CheckConstraint(condition=models.Q(max_attempts__gte=1), name="model_endpoint_attempts"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.model_id})"


class GenerationRunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    FINISHED = "finished", "Finished"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class GenerationRun(models.Model):
    """Responses asked of ``endpoints`` for a selection of prompts, and comparisons built from pairs of them.

    Status moves pending → running → finished | failed, or to cancelled from pending or running, by conditional
    updates (a task delivered twice runs once). A finished, failed or cancelled run can be resumed: it goes back to
    pending and asks only for what is missing (each prompt × endpoint at most once per run). A running run beats
    (``heartbeat_at``); the sweep puts one whose worker died back to pending (``attempt``, ``requeue_reason``), or
    fails it when it has no attempt left (:mod:`annotator.services.heartbeats`).
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="generation_runs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    endpoints = models.ManyToManyField(ModelEndpoint, related_name="generation_runs")
    selection = models.JSONField(default=dict, blank=True, help_text="How the prompts were chosen.")
    seed = models.PositiveIntegerField(default=0)
    pairs_per_prompt = models.PositiveSmallIntegerField(default=1)
    continuation_turns = models.PositiveSmallIntegerField(
        default=0, help_text="Turns (assistant, then user) generated before the final pair."
    )
    status = models.CharField(max_length=16, choices=GenerationRunStatus.choices, default=GenerationRunStatus.PENDING)
    error = models.TextField(blank=True)
    items_total = models.PositiveIntegerField(default=0)
    items_done = models.PositiveIntegerField(default=0)
    items_failed = models.PositiveIntegerField(default=0)
    comparisons_created = models.PositiveIntegerField(default=0)
    attempt = models.PositiveSmallIntegerField(
        default=0, help_text="Starts since the launch or the last resume (a worker that died costs one)."
    )
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last sign of life of the running task.")
    requeue_reason = models.TextField(blank=True, help_text="Why the sweep last re-queued the run.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(pairs_per_prompt__gte=1), name="generation_run_pairs"),
        ]

    def __str__(self) -> str:
        return f"Generation run {self.pk} · {self.status}"


class GenerationItemStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class GenerationItem(models.Model):
    """One prompt of a run: pending until its responses and comparisons are written (done) or it failed, with the
    reason of each endpoint that failed."""

    run = models.ForeignKey(GenerationRun, on_delete=models.CASCADE, related_name="items")
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="+")
    context_prompt = models.ForeignKey(
        Prompt, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The prompt continued by the run's generated turns, which the final pair answers.",
    )  # fmt: skip
    status = models.CharField(max_length=16, choices=GenerationItemStatus.choices, default=GenerationItemStatus.PENDING)
    reason = models.TextField(blank=True)
    # {"context": [provenance of each generated turn], "failures": {endpoint name: {"kind", "message", "attempts"}}}
    details = models.JSONField(default=dict, blank=True)
    comparisons_created = models.PositiveSmallIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["run", "prompt"], name="generation_item_unique_prompt")]
        indexes = [models.Index(fields=["run", "status"])]

    def __str__(self) -> str:
        return f"Run {self.run_id} · prompt {self.prompt_id} · {self.status}"

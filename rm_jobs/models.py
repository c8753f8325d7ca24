"""Training jobs, their metrics over time, evaluations, and the comparisons a model sends back for review.

A :class:`TrainingJob` is a stateful record in the label-studio export sense: a status enum, timestamps, the worker
that holds it, an error text and the snapshot it was trained on (lineage). Its status moves only by conditional
updates in :mod:`rm_jobs.services.jobs`::

    queued ──start──> running ──finish──> succeeded | failed | cancelled
      │                 │ └─(heartbeat stale, checkpoint kept)──> queued (attempt + 1, resumes)
      └──cancel──> cancelled
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from annotator.models import Comparison, Project, Snapshot


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)
FINISHED_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class Objective(models.TextChoices):
    """The objectives compared in HelpSteer2-Preference (Wang et al. 2024, arXiv 2410.01257, Table 3).

    Spelled as the engine spells its objectives (``rm_jobs.training.config.Objective``, NeMo-Aligner's
    ``margin_bt``/``scaled_bt``); the recipes that are more than one engine run map to their stages in
    ``rm_jobs.services.jobs._STAGES``, the one mapping between the two.
    """

    BT = "bt", "Bradley-Terry"
    MARGIN_BT = "margin_bt", "Bradley-Terry with margin"
    SCALED_BT = "scaled_bt", "Scaled Bradley-Terry"
    REGRESSION = "regression", "Regression, every attribute"
    REGRESSION_HELPFULNESS = "regression_helpfulness", "Regression, helpfulness only"
    REGRESSION_THEN_SCALED_BT = "regression_then_scaled_bt", "Regression (helpfulness) then Scaled BT"


class Queue(models.TextChoices):
    DEFAULT = "default", "CPU (default queue)"
    GPU = "gpu", "GPU"


class Strategy(models.TextChoices):
    """How a job with several devices spreads its model (rm_jobs.training.distributed)."""

    AUTO = "auto", "Auto (DDP when several devices)"
    DDP = "ddp", "DDP: a full copy per device"
    FSDP = "fsdp", "FSDP2: weights, gradients, optimizer states sharded"
    LORA = "lora", "LoRA adapters (peft)"


class TrainingJob(models.Model):
    """One reward-model training run on a ready snapshot.

    ``config`` holds what was asked (objective, base model, hyper-parameters) and ``config["stages"]`` the engine's
    :class:`rm_jobs.training.TrainConfig` of each stage, as dicts; it never changes after creation. Paths are
    relative to MEDIA_ROOT. ``attempt`` counts starts: a job resumed after its worker died runs attempt 2 from
    ``resume_from``; every write from a worker names its attempt, so a stale worker cannot overwrite a newer one.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="training_jobs")
    snapshot = models.ForeignKey(Snapshot, on_delete=models.PROTECT, related_name="training_jobs")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    objective = models.CharField(max_length=32, choices=Objective.choices)
    base_model = models.CharField(max_length=200, help_text="Name in PREFSTACK_BASE_MODELS, or a local path.")
    queue = models.CharField(max_length=16, choices=Queue.choices, default=Queue.DEFAULT)
    gpus = models.PositiveSmallIntegerField(
        default=1, help_text="Processes of one torchrun group: GPUs on the gpu queue, CPU processes (gloo) on default."
    )
    strategy = models.CharField(max_length=8, choices=Strategy.choices, default=Strategy.AUTO)
    config = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    attempt = models.PositiveSmallIntegerField(default=0)
    worker = models.CharField(max_length=255, blank=True, help_text="Celery hostname of the worker that runs it.")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    stage = models.PositiveSmallIntegerField(default=0, help_text="Index into config['stages'] now running.")
    step = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(default=0)
    output_folder = models.CharField(max_length=255, blank=True)
    resume_from = models.CharField(max_length=500, blank=True, help_text="Checkpoint the next attempt resumes.")
    checkpoint_path = models.CharField(max_length=500, blank=True, help_text="Model directory (from_pretrained).")
    summary = models.JSONField(default=dict, blank=True, help_text="Final metrics, wall time, tokens per second.")
    log = models.TextField(blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "status"]), models.Index(fields=["status", "heartbeat_at"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=JobStatus.values), name="training_job_status_valid"),
            models.CheckConstraint(condition=models.Q(queue__in=Queue.values), name="training_job_queue_valid"),
            models.CheckConstraint(condition=models.Q(gpus__gte=1), name="training_job_gpus_positive"),
            models.CheckConstraint(
                condition=models.Q(strategy__in=Strategy.values), name="training_job_strategy_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"job {self.pk} · {self.objective} · {self.status}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class JobMetric(models.Model):
    """One point of a job's time series: a training step, or a validation pass (``split="validation"``)."""

    job = models.ForeignKey(TrainingJob, on_delete=models.CASCADE, related_name="metrics")
    stage = models.PositiveSmallIntegerField(default=0)
    step = models.PositiveIntegerField()
    split = models.CharField(max_length=16, default="train")
    epoch = models.FloatField(null=True, blank=True)
    loss = models.FloatField(null=True, blank=True)
    accuracy = models.FloatField(null=True, blank=True)
    tokens_per_s = models.FloatField(null=True, blank=True)
    learning_rate = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["job_id", "stage", "step", "id"]
        constraints = [
            models.UniqueConstraint(fields=["job", "stage", "step", "split"], name="job_metric_unique_point"),
        ]

    def __str__(self) -> str:
        return f"job {self.job_id} stage {self.stage} step {self.step} {self.split}"


class EvaluationKind(models.TextChoices):
    VALIDATION = "validation", "Snapshot validation split"
    REWARD_BENCH = "reward-bench", "RewardBench-format file"
    REWARD_BENCH_2 = "rewardbench2", "RewardBench 2 file"
    RM_BENCH = "rm-bench", "RM-Bench file"
    JUDGEBENCH = "judgebench", "JudgeBench-style pairs"


class EvaluationStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class Evaluation(models.Model):
    """A trained model measured on a snapshot's validation split, or on an uploaded RewardBench-format file.

    ``metrics``: ``accuracy``, ``num_pairs``, ``mean_margin``; ``rmse`` / ``pearson`` per attribute (when the
    model has regression outputs); for RewardBench files ``rewardbench_overall`` (RewardBench's score), ``sections``,
    ``pooled_accuracy`` (share of all pairs won) and ``per_subset`` instead of ``accuracy``; for RewardBench 2,
    RM-Bench and JudgeBench files ``benchmark``, ``overall``, ``per_subset`` (subset / domain / category) and
    ``details``. ``disagreements``: the validation comparisons where the model's reward margin contradicts the aggregated human preference most, most confident
    first (``comparison_id``, ``human_preferred`` 1|2, ``human_strength``, ``model_margin``).

    A running evaluation beats (``heartbeat_at``) while it scores; the sweep queues one whose worker died again
    (``attempt``, ``requeue_reason``), and it runs from the start, or fails it when it has no attempt left
    (:mod:`annotator.services.heartbeats`).
    """

    job = models.ForeignKey(TrainingJob, on_delete=models.CASCADE, related_name="evaluations")
    kind = models.CharField(max_length=16, choices=EvaluationKind.choices, default=EvaluationKind.VALIDATION)
    snapshot = models.ForeignKey(Snapshot, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    data_file = models.CharField(max_length=500, blank=True, help_text="Uploaded benchmark file (MEDIA_ROOT).")
    results_file = models.CharField(
        max_length=500, blank=True, help_text="The benchmark's own results JSON, as its scripts write it (MEDIA_ROOT)."
    )
    status = models.CharField(max_length=16, choices=EvaluationStatus.choices, default=EvaluationStatus.QUEUED)
    metrics = models.JSONField(default=dict, blank=True)
    disagreements = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    attempt = models.PositiveSmallIntegerField(default=0, help_text="Starts (a worker that died costs one).")
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last sign of life of the running task.")
    requeue_reason = models.TextField(blank=True, help_text="Why the sweep last re-queued the evaluation.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(kind=EvaluationKind.VALIDATION) | models.Q(snapshot__isnull=False),
                name="evaluation_validation_has_snapshot",
            ),
        ]

    def __str__(self) -> str:
        return f"evaluation {self.pk} of job {self.job_id}"


class ReviewRequest(models.Model):
    """A comparison a reward model disagrees with, sent to the project's leads for another look.

    The comparison's ``metadata["needs_review"]`` carries the same reason, so the lead's pages (in ``annotator``,
    which must not import ``rm_jobs``) can list flagged comparisons without knowing this model.
    """

    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="+")
    evaluation = models.ForeignKey(Evaluation, on_delete=models.CASCADE, related_name="review_requests")
    reason = models.TextField()
    model_margin = models.FloatField(null=True, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["comparison", "evaluation"], name="review_request_unique_comparison"),
        ]

    def __str__(self) -> str:
        return f"review of comparison {self.comparison_id} (evaluation {self.evaluation_id})"


class PrioritySignal(models.TextChoices):
    """What makes a comparison informative (:mod:`annotator.stats.informativeness`)."""

    REWARD_UNCERTAINTY = "reward_uncertainty", "Reward model least certain (|r1 − r2| smallest)"
    HUMAN_DISAGREEMENT = "human_disagreement", "Annotators disagreed most"
    JUDGE_DISAGREEMENT = "judge_disagreement", "LLM judge and reward model disagree (latest judge run)"


class PriorityScoring(models.Model):
    """One computation of claim priorities for a project's comparisons that still need annotators.

    ``job``: the succeeded training job whose reward model scores (needed by the reward-model signals).
    ``scored``: comparisons given a priority; ``failures``: ``[{"comparison_id", "reason"}]`` for items that could
    not be scored (too long for the model …), which keep priority 0; ``summary``: ``mean`` and ``max`` priority.
    A succeeded scoring has replaced the project's priorities (every comparison it did not score is back at 0).
    A running scoring beats (``heartbeat_at``) while it scores; the sweep queues one whose worker died again
    (``attempt``, ``requeue_reason``), and it runs from the start, or fails it when it has no attempt left.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="priority_scorings")
    job = models.ForeignKey(TrainingJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    signal = models.CharField(max_length=32, choices=PrioritySignal.choices)
    status = models.CharField(max_length=16, choices=EvaluationStatus.choices, default=EvaluationStatus.QUEUED)
    scored = models.PositiveIntegerField(default=0)
    failures = models.JSONField(default=list, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    attempt = models.PositiveSmallIntegerField(default=0, help_text="Starts (a worker that died costs one).")
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last sign of life of the running task.")
    requeue_reason = models.TextField(blank=True, help_text="Why the sweep last re-queued the scoring.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"priority scoring {self.pk} of {self.project_id}"

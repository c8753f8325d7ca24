from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models

from annotator.domain import (
    FEEDBACK_MAX_SENTENCES,
    FEEDBACK_MAX_WORDS,
    FEEDBACK_MIN_SENTENCES,
    FEEDBACK_MIN_WORDS,
    LIKERT_MAX,
    LIKERT_MIN,
)


class TaskType(models.TextChoices):
    """What a project collects (docs/task-types.md); the values are annotator.domain.TaskType."""

    COMPARISON = "comparison", "Compare two responses (ratings and preference)"
    FEEDBACK = "feedback", "Write feedback on each response"
    EDIT = "edit", "Edit a response to follow its feedback"
    EDIT_QUALITY = "edit_quality", "Pick the edit that follows the feedback"


# The task types whose units are TaskUnits (a comparison project's are Comparisons).
UNIT_TASK_TYPES = (TaskType.FEEDBACK, TaskType.EDIT, TaskType.EDIT_QUALITY)


class QueueOrder(models.TextChoices):
    """The order in which the claim hands out fresh comparisons (after returned and reclaimed work)."""

    COMPLETION = "completion", "Closest to completion"
    INFORMATIVE = "informative", "Most informative first (the stored priority)"


class Project(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    guidelines = models.TextField(blank=True, help_text="Markdown shown to annotators.")
    licence = models.CharField(max_length=64, default="CC-BY-4.0")
    overlap = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1)], help_text="Annotators per comparison (k)."
    )
    adaptive_overlap_threshold = models.PositiveSmallIntegerField(
        default=2, help_text="Helpfulness spread above which extra annotators are asked for."
    )
    adaptive_overlap_extra = models.PositiveSmallIntegerField(default=2, help_text="Extra annotators asked for.")
    reservation_minutes = models.PositiveIntegerField(default=30, validators=[MinValueValidator(1)])
    min_justification_length = models.PositiveIntegerField(default=20)
    task_type = models.CharField(max_length=16, choices=TaskType.choices, default=TaskType.COMPARISON)
    # HelpSteer3's feedback rules (a feedback project's; defaults from annotator.domain).
    feedback_min_sentences = models.PositiveSmallIntegerField(default=FEEDBACK_MIN_SENTENCES)
    feedback_max_sentences = models.PositiveSmallIntegerField(default=FEEDBACK_MAX_SENTENCES)
    feedback_min_words = models.PositiveSmallIntegerField(default=FEEDBACK_MIN_WORDS)
    feedback_max_words = models.PositiveSmallIntegerField(default=FEEDBACK_MAX_WORDS)
    feedback_requires_opening = models.BooleanField(
        default=True, help_text='Feedback begins "The response is {not / … / perfectly} helpful".'
    )
    queue_order = models.CharField(
        max_length=16,
        choices=QueueOrder.choices,
        default=QueueOrder.COMPLETION,
        help_text="Informative: highest priority first (set by a priority scoring), then closest to completion.",
    )
    # The events its active webhooks receive, kept by annotator.services.webhooks: lets a submission skip webhook
    # work with no query.
    webhook_events = models.JSONField(default=list, blank=True, editable=False)
    # Markdown per task type ({"preference": "..."}), shown with ``guidelines`` on that task's pages.
    task_guidelines = models.JSONField(default=dict, blank=True)
    # Whether the project has a qualification set, kept by annotator.services.qualification: lets the claim add
    # the qualification filter only where it applies, with no query.
    qualification_required = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=models.Q(overlap__gte=1), name="project_overlap_positive"),
            models.CheckConstraint(
                condition=models.Q(feedback_max_sentences__gte=models.F("feedback_min_sentences"))
                & models.Q(feedback_max_words__gte=models.F("feedback_min_words")),
                name="project_feedback_bounds_order",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Attribute(models.Model):
    """A Likert attribute rated per response, with a description per scale level."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="attributes")
    name = models.SlugField(max_length=64)
    description = models.TextField(blank=True)
    scale_min = models.SmallIntegerField(default=LIKERT_MIN)
    scale_max = models.SmallIntegerField(default=LIKERT_MAX)
    level_descriptions = models.JSONField(default=list, blank=True, help_text="One text per level, lowest first.")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["project_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="attribute_unique_name"),
            models.CheckConstraint(
                condition=models.Q(scale_max__gt=models.F("scale_min")), name="attribute_scale_order"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def levels(self) -> list[tuple[int, str]]:
        descriptions = list(self.level_descriptions or [])
        values = range(self.scale_min, self.scale_max + 1)
        return [(v, descriptions[i] if i < len(descriptions) else "") for i, v in enumerate(values)]


class Role(models.TextChoices):
    ANNOTATOR = "annotator", "Annotator"
    LEAD = "lead", "Data lead"
    RESEARCHER = "researcher", "Researcher"


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user", "role"], name="membership_unique_role")]

    def __str__(self) -> str:
        return f"{self.user} · {self.role} · {self.project}"

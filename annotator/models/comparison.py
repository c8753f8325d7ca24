from __future__ import annotations

from typing import Any

from django.db import models

from annotator.domain import PREFERENCE_STRENGTH_MAX, PREFERENCE_STRENGTH_MIN, SCOPE_MAX_LENGTH
from annotator.models.project import Project


class Split(models.TextChoices):
    TRAIN = "train", "Train"
    VALIDATION = "validation", "Validation"


class Prompt(models.Model):
    """A prompt as a list of turns ``[{"role": "user"|"assistant"|"system", "content": str}, ...]``."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="prompts")
    turns = models.JSONField()
    # HelpSteer3's domain (general, stem, code, multilingual, or a project's own) and language (natural, or the
    # programming language for code); "" when not given. Qualification scopes and the filters read them.
    domain = models.CharField(max_length=SCOPE_MAX_LENGTH, blank=True, default="")
    language = models.CharField(max_length=SCOPE_MAX_LENGTH, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["project", "domain", "language"], name="prompt_scope")]

    def __str__(self) -> str:
        first = self.turns[0]["content"] if self.turns else ""
        return first[:80]


class Response(models.Model):
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="responses")
    text = models.TextField()
    model_name = models.CharField(max_length=200, blank=True)
    # Provenance of a generated response (annotator.services.generation); empty for imported ones.
    generation_run = models.ForeignKey(
        "annotator.GenerationRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="responses"
    )
    endpoint = models.ForeignKey(
        "annotator.ModelEndpoint", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    endpoint_name = models.CharField(max_length=100, blank=True, help_text="Kept when the endpoint is deleted.")
    sampling = models.JSONField(default=dict, blank=True, help_text="The sampling parameters sent.")
    finish_reason = models.CharField(max_length=32, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            # A run asks each endpoint once per prompt, so a rerun continues where it stopped.
            models.UniqueConstraint(
                fields=["generation_run", "prompt", "endpoint"],
                condition=models.Q(generation_run__isnull=False, endpoint__isnull=False),
                name="response_one_per_run_prompt_endpoint",
            )
        ]

    def __str__(self) -> str:
        return self.text[:80]


class Comparison(models.Model):
    """A prompt and two responses: the unit annotators rate and compare."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="comparisons")
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="comparisons")
    response_1 = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="+")
    response_2 = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="+")
    split = models.CharField(max_length=16, choices=Split.choices, blank=True, help_text="Empty: decided at snapshot.")
    source = models.CharField(max_length=64, blank=True, help_text="Import format or origin.")
    source_id = models.CharField(max_length=200, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # Annotators asked for beyond the project's overlap (HelpSteer2's adaptive overlap).
    extra_annotators = models.PositiveSmallIntegerField(default=0)
    # Kept by database triggers (migration 0003) for every writer, so the claim's candidate query reads one indexed
    # column instead of counting assignments. Expired reservations still count until a claimer reclaims them.
    slots_taken = models.PositiveIntegerField(
        default=0, editable=False, help_text="Assignments holding a slot: reserved (even expired), submitted, returned."
    )
    # Kept by database triggers (migration 0008) for every writer, as slots_taken is: the assignments ever made for
    # this comparison (any status), so the overview's progress finds untouched comparisons in one index range.
    assignment_count = models.PositiveIntegerField(
        default=0, editable=False, help_text="Assignments of this comparison, whatever their status."
    )
    # How informative another label would be (higher first when the project orders its queue by informativeness);
    # written by a priority scoring (rm_jobs), 0 for comparisons it did not score.
    priority = models.FloatField(default=0.0, editable=False)
    # Gold: expected ratings {"1": {attribute: value}, "2": {...}} and optional "strength", within a tolerance.
    is_gold = models.BooleanField(default=False)
    gold_ratings = models.JSONField(default=dict, blank=True)
    gold_tolerance = models.PositiveSmallIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["project", "split"]),
            models.Index(fields=["project", "source_id"]),
            # The claim's order: fewest free slots first. Free slots are overlap + extra - taken, and the overlap is
            # the same for the whole project, so extra - taken orders them (and bounds them) through this index.
            models.Index(
                models.F("project"),
                models.F("extra_annotators") - models.F("slots_taken"),
                models.F("id"),
                name="comparison_claim_order",
            ),
            # The overview's progress: untouched comparisons (never assigned) are one range of this index, and the
            # few with extra annotators are this partial index.
            models.Index(fields=["project", "assignment_count"], name="comparison_untouched"),
            models.Index(fields=["project"], condition=models.Q(extra_annotators__gt=0), name="comparison_widened"),
            # The informative order: highest priority first, then as above.
            models.Index(
                models.F("project"),
                models.F("priority").desc(),
                models.F("extra_annotators") - models.F("slots_taken"),
                models.F("id"),
                name="comparison_claim_informative",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(response_1=models.F("response_2")), name="comparison_distinct_responses"
            )
        ]

    def __str__(self) -> str:
        return f"Comparison {self.pk}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save, but never write ``slots_taken`` or ``assignment_count`` (the triggers own them) or ``priority`` (a
        scoring owns it) back on an update: this instance's copy may be stale (an admin edit, a gold flag set while
        annotators claim)."""
        if self.pk is not None and not self._state.adding and kwargs.get("update_fields") is None:
            kept = ("slots_taken", "assignment_count", "priority")
            kwargs["update_fields"] = [
                f.attname for f in self._meta.concrete_fields if not f.primary_key and f.attname not in kept
            ]
        super().save(*args, **kwargs)


class SourceLabel(models.Model):
    """Labels released with an imported dataset, attributed to their source, not to a person.

    ``ratings`` is ``{"1": {attribute: value}, "2": {attribute: value}}`` (response 1 and 2).
    """

    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="source_labels")
    source = models.CharField(max_length=64)
    ratings = models.JSONField(default=dict, blank=True)
    preference_strength = models.SmallIntegerField(null=True, blank=True)
    justification = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(preference_strength__isnull=True)
                | models.Q(
                    preference_strength__gte=PREFERENCE_STRENGTH_MIN, preference_strength__lte=PREFERENCE_STRENGTH_MAX
                ),
                name="source_label_strength_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source} labels of comparison {self.comparison_id}"

"""Annotator pools: qualification sets per domain and/or language, their items, and annotators' attempts.

A project that has a qualification set for a scope (a domain, a language, or both; an empty field matches every
value) hands that scope's work only to annotators who passed the set. Items are the project's gold comparisons,
each with an explanation shown after the annotator answers it (practice with feedback).
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from annotator.domain import (
    PREFERENCE_STRENGTH_MAX,
    PREFERENCE_STRENGTH_MIN,
    QUALIFICATION_COOLDOWN_MINUTES_DEFAULT,
    QUALIFICATION_MAX_ATTEMPTS_DEFAULT,
    QUALIFICATION_PASS_MARK_DEFAULT,
    SCOPE_MAX_LENGTH,
)
from annotator.models.comparison import Comparison
from annotator.models.project import Project


class QualificationSet(models.Model):
    """What an annotator must pass before a scope's work reaches them.

    An answer is right when every expected rating is within ``rating_tolerance`` and the expected preference
    strength within ``strength_tolerance``; the attempt passes when the share of right answers reaches
    ``pass_mark``. A failed attempt may be followed by another after ``cooldown_minutes``, up to ``max_attempts``.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="qualification_sets")
    name = models.CharField(max_length=200)
    domain = models.CharField(max_length=SCOPE_MAX_LENGTH, blank=True, help_text="Empty: every domain.")
    language = models.CharField(max_length=SCOPE_MAX_LENGTH, blank=True, help_text="Empty: every language.")
    pass_mark = models.FloatField(
        default=QUALIFICATION_PASS_MARK_DEFAULT,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Share of items answered within tolerance, 0..1.",
    )
    rating_tolerance = models.PositiveSmallIntegerField(default=1, help_text="± per attribute rating.")
    strength_tolerance = models.PositiveSmallIntegerField(default=1, help_text="± on the preference strength.")
    max_attempts = models.PositiveSmallIntegerField(
        default=QUALIFICATION_MAX_ATTEMPTS_DEFAULT, validators=[MinValueValidator(1)]
    )
    cooldown_minutes = models.PositiveIntegerField(
        default=QUALIFICATION_COOLDOWN_MINUTES_DEFAULT, help_text="Wait after a failed attempt."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project_id", "domain", "language", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "domain", "language"], name="qualification_set_unique_scope"),
            models.CheckConstraint(
                condition=models.Q(pass_mark__gte=0.0, pass_mark__lte=1.0), name="qualification_set_pass_mark_range"
            ),
            models.CheckConstraint(condition=models.Q(max_attempts__gte=1), name="qualification_set_attempts_positive"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def scope_label(self) -> str:
        """ "code / python", "code", "any language"... as pages name the scope."""
        parts = [p for p in (self.domain, self.language) if p]
        return " / ".join(parts) if parts else "every domain and language"


class QualificationItem(models.Model):
    """A gold comparison of the project asked in a qualification set, with why its expected answer is right."""

    qualification_set = models.ForeignKey(QualificationSet, on_delete=models.CASCADE, related_name="items")
    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="qualification_items")
    explanation = models.TextField(blank=True, help_text="Markdown shown after the annotator answers.")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["qualification_set_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["qualification_set", "comparison"], name="qualification_item_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.qualification_set} · comparison {self.comparison_id}"


class AttemptStatus(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"


class QualificationAttempt(models.Model):
    """One annotator's run through a qualification set; ``passed`` ones qualify them for its scope."""

    qualification_set = models.ForeignKey(QualificationSet, on_delete=models.CASCADE, related_name="attempts")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="qualification_attempts"
    )
    number = models.PositiveSmallIntegerField(help_text="1 for the first attempt.")
    status = models.CharField(max_length=16, choices=AttemptStatus.choices, default=AttemptStatus.IN_PROGRESS)
    score = models.FloatField(null=True, blank=True, help_text="Share of items right, once finished.")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["qualification_set_id", "annotator_id", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["qualification_set", "annotator", "number"], name="qualification_attempt_unique_number"
            ),
            models.CheckConstraint(
                condition=models.Q(score__isnull=True) | models.Q(score__gte=0.0, score__lte=1.0),
                name="qualification_attempt_score_range",
            ),
        ]
        indexes = [models.Index(fields=["annotator", "qualification_set", "status"], name="qualification_passed")]

    def __str__(self) -> str:
        return f"{self.annotator} · {self.qualification_set} · attempt {self.number}"


class QualificationAnswer(models.Model):
    """An annotator's answer to one item in one attempt, in response terms, and whether it was within tolerance."""

    attempt = models.ForeignKey(QualificationAttempt, on_delete=models.CASCADE, related_name="answers")
    item = models.ForeignKey(QualificationItem, on_delete=models.CASCADE, related_name="answers")
    ratings = models.JSONField(default=dict, blank=True, help_text='{"1": {attribute: int}, "2": {...}}')
    preference_strength = models.SmallIntegerField(null=True, blank=True)
    correct = models.BooleanField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["attempt_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["attempt", "item"], name="qualification_answer_unique"),
            models.CheckConstraint(
                condition=models.Q(preference_strength__isnull=True)
                | models.Q(
                    preference_strength__gte=PREFERENCE_STRENGTH_MIN, preference_strength__lte=PREFERENCE_STRENGTH_MAX
                ),
                name="qualification_answer_strength_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.attempt} · item {self.item_id}"

from __future__ import annotations

from django.conf import settings
from django.db import models

from annotator.domain import PREFERENCE_STRENGTH_MAX, PREFERENCE_STRENGTH_MIN
from annotator.models.comparison import Comparison


class AssignmentStatus(models.TextChoices):
    RESERVED = "reserved", "Reserved"
    SUBMITTED = "submitted", "Submitted"
    SKIPPED = "skipped", "Skipped"
    EXPIRED = "expired", "Expired"
    RETURNED = "returned", "Returned for revision"


# The statuses whose assignment holds one of its comparison's slots (Comparison.slots_taken counts them).
SLOT_STATUSES = (AssignmentStatus.RESERVED, AssignmentStatus.SUBMITTED, AssignmentStatus.RETURNED)


class SkipReason(models.TextChoices):
    NEEDS_EXPERTISE = "needs_expertise", "Needs expertise I do not have"
    NOT_RATABLE = "not_ratable", "Not ratable"
    PII = "pii", "Contains personal information"
    NON_ENGLISH = "non_english", "Not in a language I read"
    OTHER = "other", "Other"


class Flag(models.TextChoices):
    UNSAFE = "unsafe", "Unsafe content"
    PII = "pii", "Personal information"
    BROKEN = "broken", "Broken or truncated"


class Assignment(models.Model):
    """A comparison reserved for (and then submitted or skipped by) one annotator."""

    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="assignments")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments")
    status = models.CharField(max_length=16, choices=AssignmentStatus.choices, default=AssignmentStatus.RESERVED)
    reserved_until = models.DateTimeField(null=True, blank=True)
    # True when response 2 was shown on the left. Stored data is always in response_1 / response_2 terms.
    swapped = models.BooleanField(default=False)
    skip_reason = models.CharField(max_length=32, choices=SkipReason.choices, blank=True)
    skip_note = models.TextField(blank=True)
    flags = models.JSONField(default=list, blank=True)
    draft = models.JSONField(default=dict, blank=True)
    review_note = models.TextField(blank=True, help_text="Why a lead sent this back.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["comparison", "annotator"], name="assignment_unique_annotator"),
        ]
        indexes = [
            models.Index(fields=["annotator", "status"]),
            models.Index(fields=["comparison", "status"]),
            # Reservations to reclaim: few rows at any time, found without touching finished work.
            models.Index(
                fields=["reserved_until"],
                condition=models.Q(status=AssignmentStatus.RESERVED),
                name="assignment_reserved_until",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.annotator} · {self.comparison_id} · {self.status}"


class Annotation(models.Model):
    """One annotator's judgement of a comparison.

    ``ratings`` is ``{"1": {attribute: int}, "2": {attribute: int}}`` for response 1 and 2, validated against the
    project's attributes by ``annotation_submit``. ``preference_strength`` runs from −3 (response 1 much better) to
    +3 (response 2 much better); null means the annotator gave none. ``not_ratable`` marks an annotation that
    judged the pair not ratable (HelpSteer2-Preference's strength -100): it has no strength, takes no part in
    aggregation or agreement, and is kept so that it is counted and exported as the release writes it.
    A rejected annotation stays, superseded (``is_current=False``) when its annotator resubmits.
    """

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="annotations")
    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="annotations")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="annotations")
    ratings = models.JSONField()
    preference_strength = models.SmallIntegerField(null=True, blank=True)
    justification = models.TextField(blank=True)
    flags = models.JSONField(default=list, blank=True)
    time_on_task_seconds = models.FloatField(null=True, blank=True)
    source = models.CharField(max_length=64, blank=True, help_text="Imported from this dataset; empty for people.")
    not_ratable = models.BooleanField(default=False, help_text="The annotator judged the pair not ratable.")
    is_current = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["assignment"], condition=models.Q(is_current=True), name="annotation_one_current_per_assignment"
            ),
            models.CheckConstraint(
                condition=models.Q(preference_strength__isnull=True)
                | models.Q(
                    preference_strength__gte=PREFERENCE_STRENGTH_MIN, preference_strength__lte=PREFERENCE_STRENGTH_MAX
                ),
                name="annotation_strength_range",
            ),
            models.CheckConstraint(
                condition=models.Q(time_on_task_seconds__isnull=True) | models.Q(time_on_task_seconds__gte=0),
                name="annotation_time_non_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(not_ratable=False) | models.Q(preference_strength__isnull=True),
                name="annotation_not_ratable_has_no_strength",
            ),
        ]
        indexes = [models.Index(fields=["comparison", "is_current"])]

    def __str__(self) -> str:
        return f"Annotation {self.pk}"


class ReviewDecision(models.TextChoices):
    ACCEPT = "accept", "Accept"
    REJECT = "reject", "Reject"


class ReviewStatus(models.TextChoices):
    """Where an annotation stands, from its latest review's decision (no review: unreviewed). Not stored."""

    UNREVIEWED = "unreviewed", "Unreviewed"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"

    @classmethod
    def of(cls, decision: str | None) -> ReviewStatus:
        """The status a latest review with ``decision`` (None: no review) gives."""
        if decision is None:
            return cls.UNREVIEWED
        return cls.ACCEPTED if decision == ReviewDecision.ACCEPT else cls.REJECTED


class Review(models.Model):
    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews")
    decision = models.CharField(max_length=8, choices=ReviewDecision.choices)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(decision="accept") | ~models.Q(reason=""), name="review_reject_needs_reason"
            )
        ]

    def __str__(self) -> str:
        return f"{self.decision} of annotation {self.annotation_id}"

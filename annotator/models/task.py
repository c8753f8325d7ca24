"""HelpSteer3's task types beyond the pairwise comparison: feedback, edit, edit quality (docs/task-types.md).

A :class:`TaskUnit` is what one annotator claims (the comparison's counterpart), a :class:`TaskAssignment` its
reservation and status (the same statuses and slot rule as :class:`annotator.models.Assignment`), a
:class:`TaskResult` what they submitted, a :class:`TaskReview` a lead's decision on it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from annotator.domain import LIKERT_MAX, LIKERT_MIN
from annotator.models.annotation import AssignmentStatus, ReviewDecision, SkipReason
from annotator.models.comparison import Prompt, Response
from annotator.models.project import Project, TaskType


class TaskUnit(models.Model):
    """What an annotator of a feedback, edit or edit-quality project claims.

    * feedback: ``prompt``, ``response_1`` and ``response_2`` (each gets a critique);
    * edit: ``prompt``, ``response_1`` (the original) and ``feedback`` (the critiques the edit must follow);
    * edit quality: as edit, plus ``edit_1`` and ``edit_2`` and, when known, ``good_edit`` (1 or 2).

    ``feedback_unit`` / ``edit_unit`` name the units the feedback and the edits were written on (empty for imports):
    their annotators never get this unit. ``slots_taken`` is kept by triggers (migration 0004), as the comparison's.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="task_units")
    task_type = models.CharField(max_length=16, choices=TaskType.choices)
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="task_units")
    response_1 = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="+")
    response_2 = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="+", null=True, blank=True)
    feedback = models.JSONField(default=list, blank=True, help_text="The feedback texts an edit must follow.")
    edit_1 = models.TextField(blank=True)
    edit_2 = models.TextField(blank=True)
    good_edit = models.PositiveSmallIntegerField(null=True, blank=True, help_text="1 or 2 when known.")
    feedback_unit = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    edit_unit = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    split = models.CharField(max_length=16, blank=True)
    source = models.CharField(max_length=64, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    extra_annotators = models.PositiveSmallIntegerField(default=0)
    slots_taken = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            # The claim's order, as Comparison's comparison_claim_order.
            models.Index(
                models.F("project"),
                models.F("extra_annotators") - models.F("slots_taken"),
                models.F("id"),
                name="task_unit_claim_order",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(good_edit__isnull=True) | models.Q(good_edit__in=(1, 2)), name="task_unit_good_edit"
            ),
            models.CheckConstraint(condition=~models.Q(task_type=TaskType.COMPARISON), name="task_unit_not_comparison"),
        ]

    def __str__(self) -> str:
        return f"{self.task_type} unit {self.pk}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Never write ``slots_taken`` back on an update: the triggers own it (as Comparison.save)."""
        if self.pk is not None and not self._state.adding and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                f.attname for f in self._meta.concrete_fields if not f.primary_key and f.attname != "slots_taken"
            ]
        super().save(*args, **kwargs)


class TaskAssignment(models.Model):
    """A unit reserved for (then submitted or skipped by) one annotator; statuses and slots as Assignment's."""

    unit = models.ForeignKey(TaskUnit, on_delete=models.CASCADE, related_name="assignments")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="task_assignments")
    status = models.CharField(max_length=16, choices=AssignmentStatus.choices, default=AssignmentStatus.RESERVED)
    reserved_until = models.DateTimeField(null=True, blank=True)
    # Edit quality: True when edit 2 is shown first. Stored choices are always in unit terms.
    swapped = models.BooleanField(default=False)
    skip_reason = models.CharField(max_length=32, choices=SkipReason.choices, blank=True)
    skip_note = models.TextField(blank=True)
    flags = models.JSONField(default=list, blank=True)
    draft = models.JSONField(default=dict, blank=True)
    review_note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["unit", "annotator"], name="task_assignment_unique_annotator")]
        indexes = [
            models.Index(fields=["annotator", "status"]),
            models.Index(fields=["unit", "status"]),
            models.Index(
                fields=["reserved_until"],
                condition=models.Q(status=AssignmentStatus.RESERVED),
                name="task_assignment_reserved_until",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.annotator} · unit {self.unit_id} · {self.status}"


class TaskResult(models.Model):
    """What an annotator submitted for a unit (or a dataset released: ``source`` set, no assignment).

    * feedback: ``feedback_1`` / ``feedback_2`` (critiques of response 1 / 2) and ``helpfulness_1`` / ``_2``, the
      level 0..4 of each one's opening word;
    * edit: ``text`` (the edited response) and ``change_summary``;
    * edit quality: ``choice``, the edit (1 or 2, unit terms) that follows the feedback.

    A rejected result stays, superseded (``is_current=False``) when its annotator resubmits.
    """

    assignment = models.ForeignKey(
        TaskAssignment, on_delete=models.CASCADE, null=True, blank=True, related_name="results"
    )
    unit = models.ForeignKey(TaskUnit, on_delete=models.CASCADE, related_name="results")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="task_results"
    )
    feedback_1 = models.TextField(blank=True)
    feedback_2 = models.TextField(blank=True)
    helpfulness_1 = models.SmallIntegerField(null=True, blank=True)
    helpfulness_2 = models.SmallIntegerField(null=True, blank=True)
    text = models.TextField(blank=True)
    change_summary = models.TextField(blank=True)
    choice = models.PositiveSmallIntegerField(null=True, blank=True)
    flags = models.JSONField(default=list, blank=True)
    time_on_task_seconds = models.FloatField(null=True, blank=True)
    source = models.CharField(max_length=64, blank=True, help_text="Imported from this dataset; empty for people.")
    is_current = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["assignment"], condition=models.Q(is_current=True), name="task_result_one_current"
            ),
            models.CheckConstraint(
                condition=~models.Q(source="") | models.Q(assignment__isnull=False), name="task_result_by_someone"
            ),
            models.CheckConstraint(
                condition=models.Q(choice__isnull=True) | models.Q(choice__in=(1, 2)), name="task_result_choice"
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(helpfulness_1__isnull=True) | models.Q(helpfulness_1__range=(LIKERT_MIN, LIKERT_MAX))
                )
                & (models.Q(helpfulness_2__isnull=True) | models.Q(helpfulness_2__range=(LIKERT_MIN, LIKERT_MAX))),
                name="task_result_helpfulness_range",
            ),
            models.CheckConstraint(
                condition=models.Q(time_on_task_seconds__isnull=True) | models.Q(time_on_task_seconds__gte=0),
                name="task_result_time_non_negative",
            ),
        ]
        indexes = [models.Index(fields=["unit", "is_current"])]

    def __str__(self) -> str:
        return f"Result {self.pk} of unit {self.unit_id}"


class TaskReview(models.Model):
    """A lead's accept / reject of a result; a rejection sends the assignment back (as Review for annotations)."""

    result = models.ForeignKey(TaskResult, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="task_reviews")
    decision = models.CharField(max_length=8, choices=ReviewDecision.choices)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(decision=ReviewDecision.ACCEPT) | ~models.Q(reason=""),
                name="task_review_reject_needs_reason",
            )
        ]

    def __str__(self) -> str:
        return f"{self.decision} of result {self.result_id}"

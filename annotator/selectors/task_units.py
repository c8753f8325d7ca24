"""Reads for the feedback, edit and edit-quality tasks: one annotator's assignment as shown, their progress, and a
lead's review list and agreement (docs/task-types.md). Never another annotator's work for an annotator.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from annotator.domain import HELPFULNESS, INT64_MAX, LIKERT_MAX, LIKERT_MIN
from annotator.errors import NotFound
from annotator.models import (
    AssignmentStatus,
    Project,
    SourceLabel,
    TaskAssignment,
    TaskResult,
    TaskReview,
    TaskType,
    TaskUnit,
)
from annotator.selectors import task_hot_path
from annotator.stats.agreement import krippendorff_alpha


def task_assignment_get_for_annotator(*, assignment_id: int, user: User | AnonymousUser) -> TaskAssignment:
    """The task assignment if ``user`` owns it (unit and project loaded); NotFound otherwise."""
    if not user.is_authenticated or not 0 < assignment_id <= INT64_MAX:
        raise NotFound("No such assignment.")
    found = task_hot_path.task_assignment_with_unit(assignment_id=assignment_id, annotator_id=user.pk)
    if found is None:
        raise NotFound("No such assignment.")
    return found


def task_assignment_unfinished_for_annotator(
    *, project: Project, annotator: User, now: datetime | None = None
) -> TaskAssignment | None:
    """The annotator's returned assignment, else their live reservation, without claiming anything."""
    now = now or timezone.now()
    mine = TaskAssignment.objects.filter(unit__project=project, annotator=annotator).select_related("unit__project")
    returned = mine.filter(status=AssignmentStatus.RETURNED).order_by("id").first()
    if returned is not None:
        return returned
    return mine.filter(status=AssignmentStatus.RESERVED, reserved_until__gte=now).order_by("id").first()


@dataclass(frozen=True)
class TaskWorkspace:
    """What a task's form shows. Edit quality: ``edits`` in shown order, ``shown_to_unit`` maps a shown position
    (1 or 2) to the unit's edit number."""

    unit: TaskUnit
    turns: list[dict[str, Any]]
    response_1: str
    response_2: str
    feedback: list[str]
    edits: tuple[str, str]
    shown_to_unit: tuple[int, int]
    values: dict[str, Any]


def task_workspace(*, assignment: TaskAssignment) -> TaskWorkspace:
    unit = task_hot_path.unit_shown(unit_id=assignment.unit_id)
    order = (2, 1) if assignment.swapped else (1, 2)
    edits = {1: unit.edit_1, 2: unit.edit_2}
    return TaskWorkspace(
        unit=unit,
        turns=list(unit.prompt.turns or []),
        response_1=unit.response_1.text,
        response_2=unit.response_2.text if unit.response_2 else "",
        feedback=[str(f) for f in unit.feedback or []],
        edits=(edits[order[0]], edits[order[1]]),
        shown_to_unit=order,
        values=dict(assignment.draft or {}),
    )


@dataclass(frozen=True)
class TaskProgress:
    submitted: int
    skipped: int
    total: int


def task_progress(*, project: Project, annotator: User) -> TaskProgress:
    """The annotator's own submitted and skipped assignments, and the project's units."""
    row = TaskAssignment.objects.filter(unit__project=project, annotator=annotator).aggregate(
        submitted=Count("pk", filter=Q(status=AssignmentStatus.SUBMITTED)),
        skipped=Count("pk", filter=Q(status=AssignmentStatus.SKIPPED)),
    )
    total = TaskUnit.objects.filter(project=project).count()
    return TaskProgress(submitted=row["submitted"], skipped=row["skipped"], total=total)


def task_results_for_review(*, project: Project, limit: int = 50) -> QuerySet[TaskResult]:
    """The project's current results by people, newest first, each with its latest review's decision
    (``latest_decision``, None when unreviewed)."""
    latest = TaskReview.objects.filter(result=OuterRef("pk")).order_by("-created_at", "-id").values("decision")[:1]
    return (
        TaskResult.objects.filter(unit__project=project, is_current=True, source="")
        .select_related("annotator", "unit__response_1", "unit__response_2", "assignment")
        .annotate(latest_decision=Subquery(latest))
        .order_by("-id")[:limit]
    )


def task_result_get_for_lead(*, project: Project, result_id: int) -> TaskResult:
    if not 0 < result_id <= INT64_MAX:
        raise NotFound("No such result.")
    found = TaskResult.objects.filter(pk=result_id, unit__project=project).select_related("unit").first()
    if found is None:
        raise NotFound("No such result.")
    return found


# --- agreement -------------------------------------------------------------------------------------------------------

RATINGS_RATER = "ratings"
"""The extra rater of the feedback agreement: the helpfulness a response got from ratings (import source labels)."""


def feedback_helpfulness_alpha(*, project: Project) -> float:
    """Krippendorff's ordinal alpha of the helpfulness levels (0..4) that a feedback project's openings give each
    response ("The response is {not … perfectly} helpful"), with the response's helpfulness ratings as one more
    rater where it has any (the mean of its source labels' helpfulness on a comparison of the same responses,
    rounded). Units are responses, raters the feedback writers; NaN when no response has two values.
    """
    if project.task_type != TaskType.FEEDBACK:
        return float("nan")
    values: dict[tuple[str, int], float] = {}  # (rater, response id) -> level
    results = TaskResult.objects.filter(unit__project=project, is_current=True).values_list(
        "annotator_id", "id", "unit__response_1_id", "unit__response_2_id", "helpfulness_1", "helpfulness_2"
    )
    for annotator_id, result_id, r1, r2, h1, h2 in results:
        rater = f"u{annotator_id}" if annotator_id is not None else f"r{result_id}"
        for response_id, level in ((r1, h1), (r2, h2)):
            if level is not None and response_id is not None:
                values[(rater, response_id)] = float(level)
    responses = {response for _, response in values}
    rated: dict[int, list[int]] = {}
    labels = SourceLabel.objects.filter(comparison__project=project).values_list(
        "comparison__response_1_id", "comparison__response_2_id", "ratings"
    )
    for r1, r2, ratings in labels:
        for response_id, key in ((r1, "1"), (r2, "2")):
            level = (ratings or {}).get(key, {}).get(HELPFULNESS)
            if response_id in responses and isinstance(level, int) and not isinstance(level, bool):
                rated.setdefault(response_id, []).append(level)
    for response_id, levels in rated.items():
        values[(RATINGS_RATER, response_id)] = float(round(sum(levels) / len(levels)))
    if not values:
        return float("nan")
    raters = sorted({rater for rater, _ in values})
    units = sorted(responses)
    matrix = np.full((len(raters), len(units)), np.nan)
    row, column = {r: i for i, r in enumerate(raters)}, {u: j for j, u in enumerate(units)}
    for (rater, response_id), value in values.items():
        matrix[row[rater], column[response_id]] = value
    return krippendorff_alpha(matrix, level="ordinal", value_domain=np.arange(LIKERT_MIN, LIKERT_MAX + 1))


def edit_choice_alpha(*, project: Project) -> float:
    """Krippendorff's nominal alpha of the edit-quality choices (1 or 2, unit terms); units are the units."""
    rows = list(
        TaskResult.objects.filter(unit__project=project, is_current=True, choice__isnull=False).values_list(
            "annotator_id", "id", "unit_id", "choice"
        )
    )
    if not rows:
        return float("nan")
    raters = sorted({f"u{a}" if a is not None else f"r{r}" for a, r, _, _ in rows})
    units = sorted({u for _, _, u, _ in rows})
    matrix = np.full((len(raters), len(units)), np.nan)
    row, column = {r: i for i, r in enumerate(raters)}, {u: j for j, u in enumerate(units)}
    for annotator_id, result_id, unit_id, choice in rows:
        rater = f"u{annotator_id}" if annotator_id is not None else f"r{result_id}"
        matrix[row[rater], column[unit_id]] = choice
    return krippendorff_alpha(matrix, level="nominal", value_domain=np.array([1.0, 2.0]))

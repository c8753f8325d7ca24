"""Annotated projects for the quality-audit tests: simulated annotators with a known truth, written to the database
with bulk inserts (the pure simulator decides the ratings; this module only stores them)."""

from __future__ import annotations

import math
from typing import Any

from annotator.models import Annotation, Assignment, AssignmentStatus, Comparison, Membership, Project, Role
from annotator.stats.simulation import SimulatedAnnotator, make_truth, simulate_annotations
from tests.factories import ComparisonFactory, UserFactory


def simulated_project(
    project: Project, *, comparisons: int, profiles: list[str], k: int = 3, seed: int = 0
) -> dict[str, Any]:
    """Annotate ``comparisons`` new comparisons of ``project`` by annotators of ``profiles`` (one user each).

    Returns ``{"users": {profile_index: user}, "frame": the simulated frame, "comparisons": [Comparison]}``.
    """
    attributes = tuple(project.attributes.order_by("position", "id").values_list("name", flat=True))
    created = [ComparisonFactory(project=project) for _ in range(comparisons)]
    truth = make_truth(comparisons, attributes, seed=seed)
    pool = [SimulatedAnnotator(p, seed=seed * 100 + i, annotator_id=i) for i, p in enumerate(profiles)]
    frame = simulate_annotations(truth, pool, per_comparison_k=k, seed=seed)
    users = {}
    for i, profile in enumerate(profiles):
        users[i] = UserFactory(username=f"{profile}-{i}-{project.slug}")
        Membership.objects.create(project=project, user=users[i], role=Role.ANNOTATOR)
    assignments = []
    for row in frame.itertuples(index=False):
        assignments.append(
            Assignment(
                comparison=created[int(row.comparison_id)],
                annotator=users[int(row.annotator_id)],
                status=AssignmentStatus.SKIPPED if row.skipped else AssignmentStatus.SUBMITTED,
                swapped=bool(row.shown_swapped),
            )
        )
    Assignment.objects.bulk_create(assignments)
    annotations = []
    for assignment, row in zip(assignments, frame.to_dict("records"), strict=True):
        if row["skipped"]:
            continue
        ratings = {side: {a: int(row[f"r{side}_{a}"]) for a in attributes} for side in ("1", "2")}
        strength = row["strength"]
        annotations.append(
            Annotation(
                assignment=assignment,
                comparison=assignment.comparison,
                annotator=assignment.annotator,
                ratings=ratings,
                preference_strength=None if math.isnan(strength) else int(strength),
                justification=row["justification"],
                time_on_task_seconds=row["time_on_task_s"],
            )
        )
    Annotation.objects.bulk_create(annotations)
    return {"users": users, "frame": frame, "comparisons": created}


def annotate(
    comparison: Comparison, annotator: Any, *, r1: dict[str, int] | int = 3, r2: dict[str, int] | int = 3,
    strength: int | None = 0, justification: str = "@Response 1 and @Response 2 are alike.", swapped: bool = False,
    time_on_task: float | None = 60.0,
) -> Annotation:  # fmt: skip
    """One submitted annotation; an int rating means that value for every attribute."""
    names = list(comparison.project.attributes.values_list("name", flat=True))
    ratings = {
        side: (dict.fromkeys(names, value) if isinstance(value, int) else {**dict.fromkeys(names, 3), **value})
        for side, value in (("1", r1), ("2", r2))
    }
    assignment = Assignment.objects.create(
        comparison=comparison, annotator=annotator, status=AssignmentStatus.SUBMITTED, swapped=swapped
    )
    return Annotation.objects.create(
        assignment=assignment, comparison=comparison, annotator=annotator, ratings=ratings,
        preference_strength=strength, justification=justification, time_on_task_seconds=time_on_task,
    )  # fmt: skip

"""Reads of comparisons and annotations for listings (the REST API)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import QuerySet

from annotator.errors import NotFound
from annotator.models import Annotation, Comparison, Project


def comparison_list(*, project: Project, split: str | None = None, source: str | None = None) -> QuerySet[Comparison]:
    """The project's comparisons in id order with prompt and responses joined (one query per page)."""
    qs = Comparison.objects.filter(project=project).select_related("prompt", "response_1", "response_2")
    if split is not None:
        qs = qs.filter(split=split)
    if source:
        qs = qs.filter(source=source)
    return qs.order_by("id")


def comparison_get(*, project: Project, comparison_id: int) -> Comparison:
    comparison = comparison_list(project=project).filter(id=comparison_id).first()
    if comparison is None:
        raise NotFound(f"Project {project.slug} has no comparison {comparison_id}.")
    return comparison


def annotation_list(
    *,
    project: Project,
    annotator: User | None = None,
    comparison_id: int | None = None,
    include_superseded: bool = False,
) -> QuerySet[Annotation]:
    """The project's annotations (current ones unless asked), optionally one annotator's or one comparison's."""
    qs = Annotation.objects.filter(comparison__project=project).select_related("annotator")
    if not include_superseded:
        qs = qs.filter(is_current=True)
    if annotator is not None:
        qs = qs.filter(annotator=annotator)
    if comparison_id is not None:
        qs = qs.filter(comparison_id=comparison_id)
    return qs.order_by("id")

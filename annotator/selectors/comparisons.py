"""Reads of comparisons and annotations for listings (the REST API)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import QuerySet

from annotator.errors import NotFound
from annotator.models import Annotation, Comparison, Project


def comparison_list(
    *,
    project: Project,
    split: str | None = None,
    source: str | None = None,
    domain: str | None = None,
    language: str | None = None,
) -> QuerySet[Comparison]:
    """The project's comparisons in id order with prompt and responses joined (one query per page); ``domain`` and
    ``language`` filter on the prompt's (empty or None: no filter)."""
    qs = Comparison.objects.filter(project=project).select_related("prompt", "response_1", "response_2")
    if split is not None:
        qs = qs.filter(split=split)
    if source:
        qs = qs.filter(source=source)
    if domain:
        qs = qs.filter(prompt__domain=domain)
    if language:
        qs = qs.filter(prompt__language=language)
    return qs.order_by("id")


def comparison_get(*, project: Project, comparison_id: int) -> Comparison:
    comparison = comparison_list(project=project).filter(id=comparison_id).first()
    if comparison is None:
        raise NotFound(f"Project {project.slug} has no comparison {comparison_id}.")
    return comparison


def comparison_gold_list(*, project: Project, only_gold: bool = False) -> QuerySet[Comparison]:
    """The project's comparisons for the gold page: gold ones first, then by id, with the prompt joined."""
    qs = Comparison.objects.filter(project=project).select_related("prompt").order_by("-is_gold", "id")
    return qs.filter(is_gold=True) if only_gold else qs


def annotation_get_in_project(*, project: Project, annotation_id: int) -> Annotation:
    """Annotation ``annotation_id`` (current or not) if it belongs to ``project``, with its annotator and assignment."""
    annotation = (
        Annotation.objects.select_related("annotator", "assignment")
        .filter(pk=annotation_id, comparison__project=project)
        .first()
    )
    if annotation is None:
        raise NotFound("No such annotation in this project.")
    return annotation


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

"""Reads about snapshots: who may see them, and the comparisons a snapshot build streams out of the database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from annotator.errors import NotFound
from annotator.models import AggregationRule, Annotation, Comparison, Project, Role, Snapshot, SourceLabel
from annotator.selectors.projects import project_get_for_role

# Researchers and leads cut and download snapshots; annotators do not (issue 8).
SNAPSHOT_ROLES: frozenset[str] = frozenset({Role.RESEARCHER, Role.LEAD})
# Anonymous source annotators made by comparisons_import are named "source.<format>.<index>".
SOURCE_ANNOTATOR_PREFIX = "source."


def snapshot_list(*, project: Project, status: str | None = None) -> QuerySet[Snapshot]:
    """The project's snapshots, newest first, with their rule and author in the same query."""
    qs = Snapshot.objects.filter(project=project).select_related("rule", "created_by", "project")
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-number")


def snapshot_get_for_role(
    *, snapshot_id: int, user: AbstractBaseUser | AnonymousUser, roles: frozenset[str] = SNAPSHOT_ROLES
) -> Snapshot:
    """The snapshot ``snapshot_id`` if ``user`` holds one of ``roles`` in its project.

    A non-member gets NotFound (as for projects: no hint that it exists); a member without the role PermissionDenied.
    """
    snapshot = Snapshot.objects.select_related("project", "rule", "created_by").filter(id=snapshot_id).first()
    if snapshot is None:
        raise NotFound("No such snapshot.")
    project_get_for_role(slug=snapshot.project.slug, user=user, roles=set(roles))
    return snapshot


def snapshot_get_in_project(*, project: Project, number: int) -> Snapshot:
    snapshot = snapshot_list(project=project).filter(number=number).first()
    if snapshot is None:
        raise NotFound(f"Project {project.slug} has no snapshot {number}.")
    return snapshot


def aggregation_rule_get(*, name: str | None) -> AggregationRule | None:
    """The newest version of the rule called ``name`` (None when there is none)."""
    if not name:
        return None
    return AggregationRule.objects.filter(name=name).order_by("-version").first()


@dataclass(frozen=True, slots=True)
class ComparisonRow:
    """What a snapshot needs of one comparison, read without model instances."""

    id: int
    prompt_id: int
    turns: list[dict[str, str]]
    response_1: str
    response_2: str
    split: str
    metadata: dict[str, Any]


def snapshot_comparison_batches(*, project: Project, batch_size: int = 5000) -> Iterator[list[ComparisonRow]]:
    """The project's comparisons in id order, ``batch_size`` at a time (keyset pagination: memory stays flat)."""
    last_id = 0
    qs = Comparison.objects.filter(project=project).order_by("id")
    while True:
        rows = list(
            qs.filter(id__gt=last_id).values_list(
                "id", "prompt_id", "prompt__turns", "response_1__text", "response_2__text", "split", "metadata"
            )[:batch_size]
        )
        if not rows:
            return
        yield [ComparisonRow(*row) for row in rows]
        last_id = rows[-1][0]


def prompt_source_splits(*, project: Project) -> dict[int, str]:
    """Prompt id -> split, for prompts whose comparisons came with a split from their source."""
    rows = Comparison.objects.filter(project=project).exclude(split="").values_list("prompt_id", "split").distinct()
    return dict(rows)


def source_labels_by_comparison(*, project: Project) -> dict[int, tuple[dict[str, Any], int | None, str]]:
    """Comparison id -> (ratings, preference strength, justification) released with an imported dataset."""
    rows = SourceLabel.objects.filter(comparison__project=project).order_by("id")
    return {
        cid: (ratings or {}, strength, justification)
        for cid, ratings, strength, justification in rows.values_list(
            "comparison_id", "ratings", "preference_strength", "justification"
        )
    }


def annotation_justifications(*, project: Project) -> pd.Series:
    """Annotation id -> justification of the project's current annotations (one query, no model instances)."""
    rows = Annotation.objects.filter(comparison__project=project, is_current=True).values_list("id", "justification")
    ids, texts = zip(*rows, strict=True) if rows else ((), ())
    return pd.Series(texts, index=pd.Index(ids, dtype="int64"), dtype=object)


def source_annotator_ids() -> set[int]:
    """User ids of the anonymous source annotators that imports create (their annotations came with a dataset)."""
    User = get_user_model()
    return set(User.objects.filter(username__startswith=SOURCE_ANNOTATOR_PREFIX).values_list("id", flat=True))

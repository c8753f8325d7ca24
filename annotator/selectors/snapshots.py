"""Reads about snapshots: who may see them, and the comparisons a snapshot build streams out of the database."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

import orjson
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, User
from django.db import connection
from django.db.models import QuerySet

from annotator.errors import NotFound
from annotator.exports.chunks import ComparisonChunk
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
    *, snapshot_id: int, user: User | AnonymousUser, roles: frozenset[str] = SNAPSHOT_ROLES
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


def snapshot_find(*, snapshot_id: int) -> Snapshot | None:
    """Snapshot ``snapshot_id`` with its project, or None; no role check (for management commands)."""
    return Snapshot.objects.select_related("project").filter(id=snapshot_id).first()


def aggregation_rule_find(*, name: str | None) -> AggregationRule | None:
    """The newest version of the rule called ``name`` (None when there is none)."""
    if not name:
        return None
    return AggregationRule.objects.filter(name=name).order_by("-version").first()


def _rows(qs: QuerySet[Any]) -> list[tuple[Any, ...]]:
    """A values_list query run on a raw cursor: no per-row conversion by the ORM (JSON stays text)."""
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def snapshot_comparison_chunks(*, project: Project, chunk_size: int = 10_000) -> Iterator[ComparisonChunk]:
    """The project's comparisons in id order, ``chunk_size`` at a time (keyset pagination: memory stays flat)."""
    last_id = 0
    qs = Comparison.objects.filter(project=project).order_by("id")
    while True:
        rows = _rows(
            qs.filter(id__gt=last_id).values_list(
                "id",
                "prompt_id",
                "prompt__turns",
                "response_1__text",
                "response_2__text",
                "split",
                "metadata",
                "prompt__domain",
                "prompt__language",
            )[:chunk_size]
        )
        if not rows:
            return
        ids, prompt_ids, turns, response_1, response_2, split, metadata, domain, language = (
            list(c) for c in zip(*rows, strict=True)
        )
        yield ComparisonChunk(
            ids=ids,
            prompt_ids=prompt_ids,
            turns=[_json(t) for t in turns],
            response_1=response_1,
            response_2=response_2,
            split=split,
            metadata=[_json(m) or {} for m in metadata],
            domain=domain,
            language=language,
        )
        last_id = ids[-1]


def prompt_source_splits(*, project: Project, prompt_ids: Collection[int]) -> dict[int, str]:
    """Prompt id -> split, for those of ``prompt_ids`` that have a comparison in the project whose source gave it
    a split."""
    if not prompt_ids:
        return {}
    rows = (
        Comparison.objects.filter(project=project, prompt_id__in=list(prompt_ids))
        .exclude(split="")
        .order_by()
        .values_list("prompt_id", "split")
        .distinct()
    )
    return dict(rows)


def source_labels_by_comparison(
    *, project: Project, first_comparison_id: int, last_comparison_id: int
) -> dict[int, tuple[dict[str, Any], int | None, str]]:
    """Comparison id -> (ratings, preference strength, justification) released with an imported dataset, for the
    comparisons whose ids lie in [``first_comparison_id``, ``last_comparison_id``]."""
    rows = SourceLabel.objects.filter(
        comparison__project=project,
        comparison_id__gte=first_comparison_id,
        comparison_id__lte=last_comparison_id,
    ).order_by("id")
    return {
        cid: (ratings or {}, strength, justification)
        for cid, ratings, strength, justification in rows.values_list(
            "comparison_id", "ratings", "preference_strength", "justification"
        )
    }


def annotator_ids_with_annotations(*, project: Project) -> list[int]:
    """Ids of the users with a current annotation in the project, ascending."""
    qs = Annotation.objects.filter(comparison__project=project, is_current=True)
    return sorted(qs.order_by().values_list("annotator_id", flat=True).distinct())


def annotation_justifications(*, project: Project, first_comparison_id: int, last_comparison_id: int) -> dict[int, str]:
    """Annotation id -> justification of the project's current annotations on the comparisons whose ids lie in
    [``first_comparison_id``, ``last_comparison_id``] (one query, no model instances)."""
    qs = Annotation.objects.filter(
        comparison__project=project,
        is_current=True,
        comparison_id__gte=first_comparison_id,
        comparison_id__lte=last_comparison_id,
    )
    return dict(_rows(qs.values_list("id", "justification")))


def not_ratable_annotations(
    *, project: Project, first_comparison_id: int, last_comparison_id: int
) -> list[tuple[int, int, int]]:
    """(comparison id, annotator id, annotation id) of the project's current not-ratable annotations on the
    comparisons whose ids lie in [``first_comparison_id``, ``last_comparison_id``]."""
    qs = Annotation.objects.filter(
        comparison__project=project,
        is_current=True,
        not_ratable=True,
        comparison_id__gte=first_comparison_id,
        comparison_id__lte=last_comparison_id,
    )
    rows = _rows(qs.order_by().values_list("comparison_id", "annotator_id", "id"))
    return [(int(c), int(a), int(i)) for c, a, i in rows]


def source_annotator_ids() -> set[int]:
    """User ids of the anonymous source annotators that imports create (their annotations came with a dataset)."""
    User = get_user_model()
    return set(User.objects.filter(username__startswith=SOURCE_ANNOTATOR_PREFIX).values_list("id", flat=True))

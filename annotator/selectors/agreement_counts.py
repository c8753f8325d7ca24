"""Reads behind the kept agreement counts: what comparisons contribute now (computed from their annotations), what
the database keeps, and whether the two agree.

The writes are in ``annotator.services.agreement_counts``; the overview's figures from the counts are read by
``annotator.selectors.quality.agreement.agreement_overview_read``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from django.db import connection
from django.db.models import Count, Max, Q

from annotator.domain import LIKERT_MAX, LIKERT_MIN
from annotator.models import (
    AgreementCounts,
    Annotation,
    Assignment,
    AssignmentStatus,
    Comparison,
    ComparisonAgreementCounts,
    Project,
    Review,
    ReviewDecision,
)
from annotator.selectors.agreement_cache import fingerprint_format
from annotator.selectors.annotations import _rating_sql, annotation_frame
from annotator.selectors.projects import project_attribute_list
from annotator.selectors.quality.common import counted_annotations
from annotator.stats.agreement_counts import (
    ComparisonJson,
    CountedAnnotation,
    MeasureSpec,
    TalliesJson,
    comparison_contribution,
    comparison_counts,
    measure_specs,
    tallies_empty,
    tallies_from_comparisons,
)


@dataclass(frozen=True)
class ComparisonState:
    """One comparison's contribution to its project's agreement counts, and its share of the fingerprint."""

    counts: ComparisonJson
    n_counted: int = 0
    n_rejected: int = 0
    n_current: int = 0
    max_annotation_id: int = 0
    n_reviews: int = 0
    max_review_id: int = 0
    n_submitted: int = 0
    n_returned: int = 0


EMPTY_STATE = ComparisonState(counts={})


@dataclass(frozen=True)
class CountsBasis:
    """What a project's counts are counted on: its attributes in order, their scale, the overview's measures."""

    attributes: list[str]
    likert_domain: list[float]
    specs: list[MeasureSpec] = field(repr=False)


def counts_basis(*, project: Project) -> CountsBasis:
    """One query: the attributes in order (``project_attribute_names``) and their widest scale
    (``project_likert_domain``)."""
    rows = [(a.name, a.scale_min, a.scale_max) for a in project_attribute_list(project=project)]
    attributes = [name for name, _, _ in rows]
    low = min((lo for _, lo, _ in rows), default=LIKERT_MIN)
    high = max((hi for _, _, hi in rows), default=LIKERT_MAX)
    likert = np.arange(low, high + 1, dtype=np.float64)
    return CountsBasis(attributes, [float(x) for x in likert], measure_specs(attributes, likert))


def counts_basis_matches(row: AgreementCounts, basis: CountsBasis) -> bool:
    """Whether ``row`` was counted on this basis (attributes and scale unchanged since)."""
    return list(row.attributes) == basis.attributes and [float(x) for x in row.likert_domain] == basis.likert_domain


def agreement_counts_fingerprint(row: AgreementCounts) -> str:
    """The agreement fingerprint of the data ``row`` describes (``agreement_fingerprint``'s format)."""
    return fingerprint_format(row.n_current, row.max_annotation_id, row.n_reviews, row.max_review_id)


def comparison_states(
    *, project: Project, basis: CountsBasis, comparison_ids: Sequence[int] | None = None
) -> tuple[dict[int, ComparisonState], TalliesJson]:
    """The contribution of each of ``comparison_ids`` (all the project's comparisons when None) computed from its
    annotations now, and the sums of those contributions. Comparisons with no current annotation, no review and
    no submitted or returned assignment have no entry.

    One frame query over the ids' range (the rows outside the set are dropped) and three grouped aggregates.
    """
    wanted: set[int] | None = None
    id_range: tuple[int, int] | None = None
    if comparison_ids is not None:
        wanted = {int(c) for c in comparison_ids}
        if not wanted:
            return {}, tallies_empty(basis.specs)
        if len(wanted) <= FEW:
            return _few_comparison_states(project=project, basis=basis, comparison_ids=sorted(wanted)), {}
        id_range = (min(wanted), max(wanted))
    frame = annotation_frame(project=project, attributes=basis.attributes, comparison_id_range=id_range)
    if wanted is not None and len(frame):
        frame = frame[frame["comparison_id"].isin(wanted)]
    counted = counted_annotations(frame)
    counts = comparison_counts(counted, basis.specs)
    tallies = tallies_from_comparisons(counts, basis.specs)
    n_counted = _sizes(counted)
    n_rejected = _sizes(frame[~frame.index.isin(counted.index)])

    annotations = Annotation.objects.filter(comparison__project=project, is_current=True)
    reviews = Review.objects.filter(annotation__comparison__project=project)
    if id_range is not None:
        annotations = annotations.filter(comparison_id__gte=id_range[0], comparison_id__lte=id_range[1])
        reviews = reviews.filter(annotation__comparison_id__gte=id_range[0], annotation__comparison_id__lte=id_range[1])
    current = {
        c: (n, m)
        for c, n, m in annotations.values("comparison_id")
        .annotate(n=Count("id"), m=Max("id"))
        .values_list("comparison_id", "n", "m")
        .order_by()
    }
    reviewed = {
        c: (n, m)
        for c, n, m in reviews.values("annotation__comparison_id")
        .annotate(n=Count("id"), m=Max("id"))
        .values_list("annotation__comparison_id", "n", "m")
        .order_by()
    }
    assignments = Assignment.objects.filter(comparison__project=project)
    if id_range is not None:
        assignments = assignments.filter(comparison_id__gte=id_range[0], comparison_id__lte=id_range[1])
    statuses = {
        c: (s, r)
        for c, s, r in assignments.filter(status__in=(AssignmentStatus.SUBMITTED, AssignmentStatus.RETURNED))
        .values("comparison_id")
        .annotate(
            s=Count("id", filter=Q(status=AssignmentStatus.SUBMITTED)),
            r=Count("id", filter=Q(status=AssignmentStatus.RETURNED)),
        )
        .values_list("comparison_id", "s", "r")
        .order_by()
    }
    row_of = {int(c): i for i, c in enumerate(counts.comparison_ids)}
    states: dict[int, ComparisonState] = {}
    for comparison_id in sorted(set(current) | set(reviewed) | set(statuses)):
        if wanted is not None and comparison_id not in wanted:
            continue
        row = row_of.get(comparison_id)
        n_cur, max_cur = current.get(comparison_id, (0, 0))
        n_rev, max_rev = reviewed.get(comparison_id, (0, 0))
        states[comparison_id] = ComparisonState(
            counts=counts.to_json(row) if row is not None else {},
            n_counted=n_counted.get(comparison_id, 0),
            n_rejected=n_rejected.get(comparison_id, 0),
            n_current=int(n_cur),
            max_annotation_id=int(max_cur or 0),
            n_reviews=int(n_rev),
            max_review_id=int(max_rev or 0),
            n_submitted=int(statuses.get(comparison_id, (0, 0))[0]),
            n_returned=int(statuses.get(comparison_id, (0, 0))[1]),
        )
    return states, tallies


FEW = 64
"""Up to this many comparisons (a submit, a review, a bulk accept) are counted in plain Python from three queries;
more (an import, a rebuild) through the annotation frame, vectorised. Both give the same JSON (tested)."""


def _few_comparison_states(
    *, project: Project, basis: CountsBasis, comparison_ids: Sequence[int]
) -> dict[int, ComparisonState]:
    """:func:`comparison_states` of a few comparisons, without DataFrames: the submit's path. The ratings are read
    with ``annotation_frame``'s SQL expressions, so both paths see the same numbers."""
    ids = ", ".join(str(int(c)) for c in comparison_ids)  # ints only
    ratings = [f"r{side}_{a}" for side in ("1", "2") for a in basis.attributes]
    columns = "".join(f", {_rating_sql(side, a)}" for side in ("1", "2") for a in basis.attributes)
    a_table, r_table = Annotation._meta.db_table, Review._meta.db_table
    s_table, c_table = Assignment._meta.db_table, Comparison._meta.db_table
    in_project = f"IN (SELECT id FROM {c_table} WHERE project_id = %s AND id IN ({ids}))"  # noqa: S608 - see below
    # Only table names from _meta, attribute names that passed _rating_sql's check and ints are put in.
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT a.id, a.comparison_id, a.annotator_id, a.not_ratable, a.preference_strength, "  # noqa: S608
            f"(SELECT r.decision FROM {r_table} r WHERE r.annotation_id = a.id "
            f"ORDER BY r.created_at DESC, r.id DESC LIMIT 1){columns} "
            f"FROM {a_table} a WHERE a.is_current AND a.comparison_id {in_project}",
            [project.pk],
        )
        annotations = cursor.fetchall()
        cursor.execute(
            f"SELECT a.comparison_id, COUNT(*), MAX(r.id) FROM {r_table} r "  # noqa: S608 - see above
            f"JOIN {a_table} a ON a.id = r.annotation_id WHERE a.comparison_id {in_project} GROUP BY a.comparison_id",
            [project.pk],
        )
        reviewed = {int(c): (int(n), int(m)) for c, n, m in cursor.fetchall()}
        cursor.execute(
            f"SELECT comparison_id, SUM(CASE WHEN status = %s THEN 1 ELSE 0 END), "  # noqa: S608 - see above
            f"SUM(CASE WHEN status = %s THEN 1 ELSE 0 END) FROM {s_table} "
            f"WHERE comparison_id {in_project} GROUP BY comparison_id",
            [AssignmentStatus.SUBMITTED, AssignmentStatus.RETURNED, project.pk],
        )
        statuses = {int(c): (int(s or 0), int(r or 0)) for c, s, r in cursor.fetchall()}
    by_comparison: dict[int, list[tuple[Any, ...]]] = {}
    for row in annotations:
        by_comparison.setdefault(int(row[1]), []).append(row)
    states: dict[int, ComparisonState] = {}
    for comparison_id in sorted(set(by_comparison) | set(reviewed) | set(statuses)):
        rows = by_comparison.get(comparison_id, [])
        ratable = [r for r in rows if not r[3]]
        counted = [r for r in ratable if r[5] != ReviewDecision.REJECT]
        n_rev, max_rev = reviewed.get(comparison_id, (0, 0))
        n_sub, n_ret = statuses.get(comparison_id, (0, 0))
        contribution = comparison_contribution(
            [
                CountedAnnotation(
                    annotator_id=int(r[2]),
                    annotation_id=int(r[0]),
                    strength=math.nan if r[4] is None else float(r[4]),
                    ratings={c: math.nan if v is None else float(v) for c, v in zip(ratings, r[6:], strict=True)},
                )
                for r in counted
            ],
            basis.specs,
        )
        states[comparison_id] = ComparisonState(
            counts=contribution if counted else {},
            n_counted=len(counted),
            n_rejected=len(ratable) - len(counted),
            n_current=len(rows),
            max_annotation_id=max((int(r[0]) for r in rows), default=0),
            n_reviews=n_rev,
            max_review_id=max_rev,
            n_submitted=n_sub,
            n_returned=n_ret,
        )
    return states


def _sizes(frame: pd.DataFrame) -> dict[int, int]:
    if not len(frame):
        return {}
    ids, sizes = np.unique(frame["comparison_id"].to_numpy(np.int64), return_counts=True)
    return {int(i): int(n) for i, n in zip(ids, sizes, strict=True)}


def comparison_counts_stored(*, comparison_ids: Sequence[int]) -> dict[int, ComparisonState]:
    """What the database keeps for these comparisons (in blocks: a large import touches many)."""
    ids = sorted({int(c) for c in comparison_ids})
    out: dict[int, ComparisonState] = {}
    for start in range(0, len(ids), 500):
        for row in ComparisonAgreementCounts.objects.filter(comparison_id__in=ids[start : start + 500]):
            out[row.comparison_id] = _state_of(row)
    return out


def _state_of(row: ComparisonAgreementCounts) -> ComparisonState:
    return ComparisonState(
        counts=row.counts,
        n_counted=row.n_counted,
        n_rejected=row.n_rejected,
        n_current=row.n_current,
        max_annotation_id=row.max_annotation_id,
        n_reviews=row.n_reviews,
        max_review_id=row.max_review_id,
        n_submitted=row.n_submitted,
        n_returned=row.n_returned,
    )


@dataclass(frozen=True)
class CountsCheck:
    """The kept counts against a fresh count from the annotations: ``problems`` lists every difference."""

    project: str
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def agreement_counts_check(*, project: Project) -> CountsCheck:
    """Count the project again from its annotations and compare with what is kept, comparison by comparison."""
    basis = counts_basis(project=project)
    row = AgreementCounts.objects.filter(project=project).first()
    if row is None:
        return CountsCheck(project.slug, ["no agreement counts are kept for this project"])
    problems: list[str] = []
    if not counts_basis_matches(row, basis):
        problems.append("the counts were made on other attributes or another scale")
    fresh, tallies = comparison_states(project=project, basis=basis)
    kept = {r.comparison_id: _state_of(r) for r in ComparisonAgreementCounts.objects.filter(project=project)}
    for comparison_id in sorted(set(fresh) | set(kept)):
        if fresh.get(comparison_id, EMPTY_STATE) != kept.get(comparison_id, EMPTY_STATE):
            problems.append(f"comparison {comparison_id}: kept counts differ from its annotations")
    if row.tallies != tallies:
        problems.append("the project's sums differ from the sums over its annotations")
    totals = {
        "n_counted": sum(s.n_counted for s in fresh.values()),
        "n_rejected": sum(s.n_rejected for s in fresh.values()),
        "n_current": sum(s.n_current for s in fresh.values()),
        "n_reviews": sum(s.n_reviews for s in fresh.values()),
        "max_annotation_id": max((s.max_annotation_id for s in fresh.values()), default=0),
        "max_review_id": max((s.max_review_id for s in fresh.values()), default=0),
    }
    for name, value in totals.items():
        if getattr(row, name) != value:
            problems.append(f"{name}: kept {getattr(row, name)}, counted {value}")
    return CountsCheck(project.slug, problems)


def agreement_counts_projects(*, slugs: Sequence[str] = ()) -> list[Project]:
    """The projects named by ``slugs`` (every project when empty), in id order; NotFound-free: unknown slugs are
    simply absent, so the caller can name them."""
    projects = Project.objects.order_by("id")
    return list(projects.filter(slug__in=slugs) if slugs else projects)

"""The annotators table (volume, agreement with the others, gold accuracy, skips, quality flags) and one annotator's
work."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from django.contrib.auth import get_user_model
from django.db.models import Count, Q

from annotator.errors import NotFound, ValidationFailed
from annotator.models import Annotation, Assignment, AssignmentStatus, Membership, Project, Review, ReviewStatus, Role
from annotator.selectors.annotations import REVIEW_REJECTED, annotation_frame
from annotator.selectors.projects import project_attribute_names
from annotator.selectors.quality.common import finite
from annotator.stats.agreement import annotator_summary
from annotator.stats.quality import QualityThresholds, annotator_quality


@dataclass(frozen=True)
class AnnotatorRow:
    """One annotator's figures. Agreement = leave-one-out Pearson r against the mean of the others on the same
    units; bias = mean (own rating - others' mean) in scale points; ``left_rate`` = share of decisive preferences
    for the response shown on the left (0.5 = none), ``left_p_value`` its two-sided binomial test against 0.5;
    gold accuracy = share within the gold tolerance; ``straight_share`` = share of annotations with one rating
    everywhere; ``flags`` = the quality flags raised (``position``, ``speed``, ``straight``, ``gold``; see
    :func:`annotator.stats.quality.annotator_quality`)."""

    user_id: int
    username: str
    n_annotations: int
    n_shared: int
    loo_agreement: float | None
    loo: dict[str, float | None]
    bias: dict[str, float | None]
    left_rate: float | None
    median_time_on_task_s: float | None
    skip_rate: float | None
    gold_accuracy: dict[str, float | None]
    gold_n: int
    robust_z: float | None
    outlier: bool
    outlier_reason: str
    n_rejected: int = 0
    left_p_value: float | None = None
    straight_share: float | None = None
    flags: tuple[str, ...] = ()


QUALITY_THRESHOLDS = QualityThresholds()
"""When a quality signal becomes a flag in the annotators table (the defaults of :mod:`annotator.domain`)."""

ANNOTATOR_SORT_KEYS = (
    "username",
    "flags",
    "n_annotations",
    "loo_agreement",
    "left_rate",
    "median_time_on_task_s",
    "skip_rate",
    "gold",
    "n_rejected",
    "left_p_value",
    "straight_share",
)


def _gold_accuracy(*, project: Project, attributes: Sequence[str]) -> dict[int, tuple[dict[str, float | None], int]]:
    """Per annotator: share of their gold-comparison ratings within ``gold_tolerance`` of ``gold_ratings``, per
    attribute (both responses pooled) and for ``strength`` where the gold gives one; and the gold comparisons seen."""
    rows = Annotation.objects.filter(
        comparison__project=project, comparison__is_gold=True, is_current=True
    ).values_list(
        "annotator_id", "ratings", "preference_strength", "comparison__gold_ratings", "comparison__gold_tolerance"
    )
    hits: dict[int, Counter[str]] = {}
    totals: dict[int, Counter[str]] = {}
    seen: Counter[int] = Counter()
    for annotator_id, ratings, strength, gold, tolerance in rows:
        seen[annotator_id] += 1
        hit, total = hits.setdefault(annotator_id, Counter()), totals.setdefault(annotator_id, Counter())
        gold = gold or {}
        for side in ("1", "2"):
            expected = gold.get(side) or {}
            given = (ratings or {}).get(side) or {}
            for attribute in attributes:
                if attribute in expected and given.get(attribute) is not None:
                    total[attribute] += 1
                    hit[attribute] += abs(int(given[attribute]) - int(expected[attribute])) <= tolerance
        if gold.get("strength") is not None and strength is not None:
            total["strength"] += 1
            hit["strength"] += abs(int(strength) - int(gold["strength"])) <= tolerance
    return {
        a: ({k: hits[a][k] / n for k, n in totals[a].items() if n}, seen[a])  # type: ignore[misc]
        for a in totals
    }


def _skip_rates(*, project: Project) -> dict[int, float]:
    counts = (
        Assignment.objects.filter(comparison__project=project)
        .values("annotator_id")
        .annotate(
            skipped=Count("id", filter=Q(status=AssignmentStatus.SKIPPED)),
            done=Count(
                "id",
                filter=Q(status__in=[AssignmentStatus.SKIPPED, AssignmentStatus.SUBMITTED, AssignmentStatus.RETURNED]),
            ),
        )
    )
    return {row["annotator_id"]: row["skipped"] / row["done"] for row in counts if row["done"]}


def annotator_table(
    *,
    project: Project,
    sort: str = "loo_agreement",
    descending: bool = False,
    frame: pd.DataFrame | None = None,
    flagged_first: bool = True,
) -> list[AnnotatorRow]:
    """The per-annotator figures, every annotator with the annotator role or an annotation, sorted by ``sort``.

    ``sort`` is one of :data:`ANNOTATOR_SORT_KEYS`, ``loo_<attribute>``, ``bias_<attribute>`` or
    ``gold_<attribute>``; missing values sort last either way. Default: lowest agreement first, the ones to look at.
    With ``flagged_first`` (the default), annotators with a quality flag come before the others, each group in
    that order, so nothing to act on is below the fold.
    """
    attributes = project_attribute_names(project=project)
    allowed = {*ANNOTATOR_SORT_KEYS, *(f"{p}_{a}" for p in ("loo", "bias", "gold") for a in attributes)}
    allowed |= {"loo_strength", "bias_strength", "gold_strength"}
    if sort not in allowed:
        raise ValidationFailed(f"Cannot sort by {sort!r}.", extra={"fields": {"sort": "Unknown column."}})
    if frame is None:
        frame = annotation_frame(project=project, attributes=attributes)
    summary = annotator_summary(frame, attributes) if len(frame) else pd.DataFrame()
    rejected = (
        frame.loc[frame["review_status"] == REVIEW_REJECTED, "annotator_id"].value_counts().to_dict()
        if len(frame)
        else {}
    )
    gold = _gold_accuracy(project=project, attributes=attributes)
    quality = (
        annotator_quality(frame, attributes, gold_accuracy=_mean_gold(gold), thresholds=QUALITY_THRESHOLDS)
        if len(frame)
        else pd.DataFrame()
    )
    skips = _skip_rates(project=project)
    members = dict(
        Membership.objects.filter(project=project, role=Role.ANNOTATOR).values_list("user_id", "user__username")
    )
    ids = set(members) | {int(i) for i in summary.index} | set(skips)
    missing = ids - set(members)
    if missing:
        members.update(get_user_model().objects.filter(pk__in=missing).values_list("pk", "username"))
    rows: list[AnnotatorRow] = []
    for user_id in ids:
        s = summary.loc[user_id] if user_id in summary.index else None

        def get(column: str, s: pd.Series | None = s) -> float | None:
            return finite(s[column]) if s is not None and column in s.index else None

        loo = {a: get(f"loo_{a}") for a in attributes}
        bias = {a: get(f"bias_{a}") for a in attributes}
        if s is not None and "loo_strength" in s.index:
            loo["strength"], bias["strength"] = get("loo_strength"), get("bias_strength")
        accuracy, gold_n = gold.get(user_id, ({}, 0))
        q = quality.loc[user_id] if user_id in quality.index else None
        rows.append(
            AnnotatorRow(
                user_id=user_id,
                username=members.get(user_id, f"#{user_id}"),
                n_annotations=int(s["n_annotations"]) if s is not None else 0,
                n_shared=int(s["n_shared"]) if s is not None else 0,
                loo_agreement=get("loo_agreement"),
                loo=loo,
                bias=bias,
                left_rate=get("left_rate"),
                median_time_on_task_s=get("median_time_on_task_s"),
                skip_rate=skips.get(user_id),
                gold_accuracy=accuracy,
                gold_n=gold_n,
                robust_z=get("robust_z"),
                outlier=bool(s["outlier"]) if s is not None else False,
                outlier_reason=str(s["outlier_reason"]) if s is not None else "",
                n_rejected=int(rejected.get(user_id, 0)),
                left_p_value=finite(q["left_p_value"]) if q is not None else None,
                straight_share=finite(q["straight_share"]) if q is not None else None,
                flags=tuple(q["flags"]) if q is not None else (),
            )
        )
    ordered = _sorted(rows, sort, descending)
    if flagged_first:
        ordered = [r for r in ordered if r.flags] + [r for r in ordered if not r.flags]
    return ordered


def _mean_gold(gold: dict[int, tuple[dict[str, float | None], int]]) -> dict[int, float]:
    out = {}
    for user_id, (accuracy, _) in gold.items():
        values = [v for v in accuracy.values() if v is not None]
        if values:
            out[user_id] = sum(values) / len(values)
    return out


def _sort_value(row: AnnotatorRow, key: str) -> Any:
    if key == "username":
        return row.username.lower()
    if key == "flags":
        return len(row.flags)
    if key == "gold":
        values = [v for v in row.gold_accuracy.values() if v is not None]
        return sum(values) / len(values) if values else None
    prefix, _, name = key.partition("_")
    if prefix in ("loo", "bias", "gold") and name and key not in ("loo_agreement",):
        source = {"loo": row.loo, "bias": row.bias, "gold": row.gold_accuracy}[prefix]
        return source.get(name)
    return getattr(row, key)


def _sorted(rows: list[AnnotatorRow], key: str, descending: bool) -> list[AnnotatorRow]:
    present = [r for r in rows if _sort_value(r, key) is not None]
    absent = [r for r in rows if _sort_value(r, key) is None]
    present.sort(key=lambda r: (_sort_value(r, key), r.username), reverse=descending)
    absent.sort(key=lambda r: r.username)
    return present + absent


@dataclass(frozen=True)
class AnnotatorAnnotation:
    annotation: Annotation
    review_status: str
    review_reason: str


def annotator_annotations(
    *, project: Project, user_id: int, limit: int = 50, offset: int = 0
) -> tuple[str, list[AnnotatorAnnotation], int]:
    """One annotator's current annotations in the project, newest first: (username, page, total)."""
    user = get_user_model().objects.filter(pk=user_id).first()
    qs = Annotation.objects.filter(comparison__project=project, annotator_id=user_id, is_current=True)
    if user is None or not (qs.exists() or Membership.objects.filter(project=project, user_id=user_id).exists()):
        raise NotFound("No such annotator in this project.")
    total = qs.count()
    page = list(
        qs.select_related("comparison__prompt", "comparison__response_1", "comparison__response_2", "assignment")
        .prefetch_related("reviews")
        .order_by("-created_at", "-id")[offset : offset + limit]
    )
    out = []
    for annotation in page:
        latest = annotation.reviews.all()[0] if annotation.reviews.all() else None  # Review orders newest first
        out.append(reviewed_annotation(annotation, latest))
    return user.get_username(), out, total


def reviewed_annotation(annotation: Annotation, latest: Review | None) -> AnnotatorAnnotation:
    if latest is None:
        return AnnotatorAnnotation(annotation, ReviewStatus.UNREVIEWED, "")
    return AnnotatorAnnotation(annotation, ReviewStatus.of(latest.decision), latest.reason)


def annotation_with_review(*, annotation: Annotation) -> AnnotatorAnnotation:
    """``annotation`` with its review status and the latest review's reason, as the review card shows it."""
    return reviewed_annotation(annotation, annotation.reviews.order_by("-created_at", "-id").first())

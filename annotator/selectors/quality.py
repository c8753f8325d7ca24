"""Reads for the data lead's quality audit: progress, agreement (now and over time), annotators, disagreements.

Every figure comes from one fast query (``annotation_frame``: the long format of ``annotator.stats``) and the pure
statistics; this module only shapes the results for pages and the API. Which annotations count:

* overview agreement and the disagreement queue: current annotations that were not rejected (a rejected one is
  back with its annotator and will be replaced);
* the annotators table: every current annotation, rejected ones included, since how an annotator worked is the
  question there;
* aggregation rules: as their ``review_filter`` parameter says.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, Q

from annotator.errors import NotFound, ValidationFailed
from annotator.models import (
    AggregationRule,
    Annotation,
    Assignment,
    AssignmentStatus,
    Comparison,
    Membership,
    Project,
    Review,
    ReviewStatus,
    Role,
)
from annotator.selectors.annotations import REVIEW_REJECTED, annotation_frame
from annotator.selectors.projects import project_attribute_names
from annotator.stats.aggregation import DROP_REASONS, aggregation_preview, rule_for_kind
from annotator.stats.agreement import (
    DIRECTION_DOMAIN,
    LIKERT_DOMAIN,
    STRENGTH_DOMAIN,
    agreement_overview,
    alpha_from_value_counts,
    annotator_summary,
    comparison_spread,
    preference_direction,
    value_counts_from_long,
)

PREFERENCE_MEASURES = ("preference_strength", "preference_direction")
MEASURE_LABELS = {"preference_strength": "preference strength", "preference_direction": "preference direction"}


def project_likert_domain(project: Project) -> np.ndarray:
    bounds = project.attributes.values_list("scale_min", "scale_max")
    lows, highs = zip(*bounds, strict=True) if bounds else ((0,), (4,))
    return np.arange(min(lows), max(highs) + 1, dtype=np.float64)


def _finite(x: Any) -> float | None:
    """A float for templates and JSON; None for NaN ("not measurable" shows as n/a, never as 0)."""
    if x is None:
        return None
    value = float(x)
    return value if math.isfinite(value) else None


# ---------------------------------------------------------------------------------------------------------------
# Progress
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectProgress:
    """How far a project is.

    ``by_k``: (number of submitted annotations, comparisons with that many), k ascending. ``complete``: comparisons
    with all the annotations they need (overlap + extra annotators); ``in_progress``: started but not complete;
    ``untouched``: never handed to anyone.
    """

    comparisons: int
    complete: int
    in_progress: int
    untouched: int
    annotations: int
    returned: int
    by_k: list[tuple[int, int]]
    overlap: int

    @property
    def complete_percent(self) -> float:
        return 100.0 * self.complete / self.comparisons if self.comparisons else 0.0


def project_progress(*, project: Project) -> ProjectProgress:
    """Progress counts in one grouped query (a few rows back, whatever the project's size)."""
    c_table = Comparison._meta.db_table
    a_table = Assignment._meta.db_table
    sql = f"""
        SELECT k, extra, has_open, has_any, returned, COUNT(*)
        FROM (
            SELECT c.id,
                   c.extra_annotators AS extra,
                   SUM(CASE WHEN a.status = %s THEN 1 ELSE 0 END) AS k,
                   SUM(CASE WHEN a.status = %s THEN 1 ELSE 0 END) AS returned,
                   MAX(CASE WHEN a.status IN (%s, %s) THEN 1 ELSE 0 END) AS has_open,
                   MAX(CASE WHEN a.id IS NULL THEN 0 ELSE 1 END) AS has_any
            FROM {c_table} c LEFT JOIN {a_table} a ON a.comparison_id = c.id
            WHERE c.project_id = %s
            GROUP BY c.id, c.extra_annotators
        ) per_comparison
        GROUP BY k, extra, has_open, has_any, returned
    """
    params: list[str | int] = [
        AssignmentStatus.SUBMITTED,
        AssignmentStatus.RETURNED,
        AssignmentStatus.RESERVED,
        AssignmentStatus.RETURNED,
        project.pk,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    by_k: Counter[int] = Counter()
    comparisons = complete = untouched = annotations = returned = 0
    for k, extra, _has_open, has_any, n_returned, count in rows:
        k, count = int(k or 0), int(count)
        comparisons += count
        annotations += k * count
        returned += int(n_returned or 0) * count
        by_k[k] += count
        if k >= project.overlap + int(extra or 0):
            complete += count
        elif not has_any:
            untouched += count
    return ProjectProgress(
        comparisons=comparisons,
        complete=complete,
        in_progress=comparisons - complete - untouched,
        untouched=untouched,
        annotations=annotations,
        returned=returned,
        by_k=sorted(by_k.items()),
        overlap=project.overlap,
    )


# ---------------------------------------------------------------------------------------------------------------
# Agreement
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgreementRow:
    """One agreement measure. ``alpha``: Krippendorff's alpha (ordinal for ratings and strength, nominal for the
    preference direction); ``kappa``: pooled pairwise quadratic-weighted Cohen's kappa (HelpSteer2 Table 1)."""

    measure: str
    label: str
    level: str
    alpha: float | None
    kappa: float | None
    n_units: int
    n_values: int


@dataclass(frozen=True)
class AgreementPoint:
    """Agreement on the annotations submitted up to ``until`` (the first ``n_annotations`` in submission order)."""

    n_annotations: int
    until: datetime | None
    alpha: dict[str, float | None]


@dataclass(frozen=True)
class AgreementOverview:
    attributes: list[str]
    rows: list[AgreementRow]
    over_time: list[AgreementPoint]
    n_annotations: int
    n_rejected_excluded: int

    def chart_data(self, intervals: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
        """What the page's charts draw (json_script): alpha per measure with its interval where known, over time."""
        intervals = intervals or {}
        return {
            "measures": [
                {
                    "measure": r.measure,
                    "label": r.label,
                    "alpha": r.alpha,
                    "kappa": r.kappa,
                    "ci_low": _finite(intervals.get(r.measure, {}).get("ci_low")),
                    "ci_high": _finite(intervals.get(r.measure, {}).get("ci_high")),
                }
                for r in self.rows
            ],
            "over_time": {
                "n_annotations": [p.n_annotations for p in self.over_time],
                "until": [p.until.isoformat() if p.until else None for p in self.over_time],
                "series": {r.measure: [p.alpha.get(r.measure) for p in self.over_time] for r in self.rows},
                "labels": {r.measure: r.label for r in self.rows},
            },
        }


def _counted(frame: pd.DataFrame) -> pd.DataFrame:
    if "review_status" not in frame:
        return frame
    return frame[frame["review_status"].to_numpy() != REVIEW_REJECTED]


def _measure_inputs(
    frame: pd.DataFrame, attributes: Sequence[str], likert: np.ndarray
) -> list[tuple[str, str, np.ndarray, np.ndarray, int, np.ndarray]]:
    """(measure, level, units, values, n_units, domain) for every alpha of the overview, rows in frame order."""
    comp = pd.factorize(frame["comparison_id"].to_numpy())[0].astype(np.int64)
    n_comp = int(comp.max(initial=-1) + 1)
    both_units = np.concatenate([comp * 2, comp * 2 + 1])
    out = []
    for attribute in attributes:
        values = np.concatenate(
            [frame[f"r1_{attribute}"].to_numpy(np.float64), frame[f"r2_{attribute}"].to_numpy(np.float64)]
        )
        out.append((attribute, "ordinal", both_units, values, 2 * n_comp, likert))
    strength = frame["strength"].to_numpy(np.float64)
    out.append(("preference_strength", "ordinal", comp, strength, n_comp, STRENGTH_DOMAIN))
    out.append(("preference_direction", "nominal", comp, preference_direction(strength), n_comp, DIRECTION_DOMAIN))
    return out


def agreement_over_time(
    frame: pd.DataFrame, attributes: Sequence[str], *, points: int = 10, likert: np.ndarray = LIKERT_DOMAIN
) -> list[AgreementPoint]:
    """Alpha of every measure on the first 1/points, 2/points, ... of the annotations in submission order.

    Value counts add up unit by unit, so each point adds one slice's counts to the previous point's: the cost is
    one pass over the annotations plus ``points`` alphas per measure, not ``points`` passes.
    """
    n = len(frame)
    if n == 0:
        return []
    # Integer time stamps: a tz-aware column's to_numpy() would box every value into a Timestamp object.
    submitted = pd.DatetimeIndex(frame["submitted_at"]).asi8
    order = np.lexsort((frame["annotation_id"].to_numpy(), submitted))
    columns = ["comparison_id", "strength", *(f"r{side}_{a}" for a in attributes for side in (1, 2))]
    ordered = frame[columns].iloc[order]  # only the columns alpha needs: justifications would triple the copy
    cuts = sorted({max(1, round(n * (i + 1) / points)) for i in range(points)})
    until = submitted[order[np.asarray(cuts) - 1]]
    alphas: dict[str, list[float | None]] = {}
    for measure, level, units, values, n_units, domain in _measure_inputs(ordered, attributes, likert):
        # Ratings of both responses are stacked (rows, then the same rows again): view them as (halves, n).
        halves = units.shape[0] // n
        units_2d, values_2d = units.reshape(halves, n), values.reshape(halves, n)
        # Counts kept as (values, units) so that counts.T, what alpha reads, is column-major: its per-unit sums
        # over the few values then run as contiguous column adds (about twice as fast as row sums).
        counts = np.zeros((len(domain), n_units))
        series: list[float | None] = []
        start = 0
        for cut in cuts:
            chunk_units, chunk_values = units_2d[:, start:cut].ravel(), values_2d[:, start:cut].ravel()
            counts += value_counts_from_long(chunk_units, chunk_values, domain, n_units=n_units).T
            series.append(_finite(alpha_from_value_counts(counts.T, level=level, value_domain=domain)))  # type: ignore[arg-type]
            start = cut
        alphas[measure] = series
    return [
        AgreementPoint(
            n_annotations=cut,
            until=pd.Timestamp(int(until[i]), unit=_time_unit(frame), tz="UTC").to_pydatetime(warn=False),
            alpha={m: alphas[m][i] for m in alphas},
        )
        for i, cut in enumerate(cuts)
    ]


def _time_unit(frame: pd.DataFrame) -> str:
    """The resolution of ``submitted_at`` (pandas 3 keeps the unit the data came in: s, ms, us or ns)."""
    return str(np.datetime_data(pd.DatetimeIndex(frame["submitted_at"]).dtype.base)[0])


def agreement_overview_get(
    *,
    project: Project,
    frame: pd.DataFrame | None = None,
    with_kappa: bool = True,
    time_points: int = 10,
) -> AgreementOverview:
    """Every agreement figure of the overview, without intervals (those come from the background task)."""
    attributes = project_attribute_names(project=project)
    if frame is None:
        frame = annotation_frame(project=project, attributes=attributes)
    counted = _counted(frame)
    likert = project_likert_domain(project)
    rows: list[AgreementRow] = []
    if len(counted):
        table = agreement_overview(counted, attributes, n_resamples=0, with_kappa=with_kappa, likert_domain=likert)
        for measure, r in table.iterrows():
            rows.append(
                AgreementRow(
                    measure=str(measure),
                    label=MEASURE_LABELS.get(str(measure), str(measure)),
                    level=str(r["level"]),
                    alpha=_finite(r["alpha"]),
                    kappa=_finite(r["kappa"]),
                    n_units=int(r["n_units"]),
                    n_values=int(r["n_values"]),
                )
            )
    over_time = agreement_over_time(counted, attributes, points=time_points, likert=likert) if len(counted) else []
    return AgreementOverview(
        attributes=attributes,
        rows=rows,
        over_time=over_time,
        n_annotations=len(counted),
        n_rejected_excluded=len(frame) - len(counted),
    )


# ---------------------------------------------------------------------------------------------------------------
# Annotators
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnnotatorRow:
    """One annotator's figures. Agreement = leave-one-out Pearson r against the mean of the others on the same
    units; bias = mean (own rating - others' mean) in scale points; ``left_rate`` = share of decisive preferences
    for the response shown on the left (0.5 = none); gold accuracy = share within the gold tolerance."""

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


ANNOTATOR_SORT_KEYS = (
    "username",
    "n_annotations",
    "loo_agreement",
    "left_rate",
    "median_time_on_task_s",
    "skip_rate",
    "gold",
    "n_rejected",
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
    *, project: Project, sort: str = "loo_agreement", descending: bool = False, frame: pd.DataFrame | None = None
) -> list[AnnotatorRow]:
    """The per-annotator figures, every annotator with the annotator role or an annotation, sorted by ``sort``.

    ``sort`` is one of :data:`ANNOTATOR_SORT_KEYS`, ``loo_<attribute>``, ``bias_<attribute>`` or
    ``gold_<attribute>``; missing values sort last either way. Default: lowest agreement first, the ones to look at.
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
            return _finite(s[column]) if s is not None and column in s.index else None

        loo = {a: get(f"loo_{a}") for a in attributes}
        bias = {a: get(f"bias_{a}") for a in attributes}
        if s is not None and "loo_strength" in s.index:
            loo["strength"], bias["strength"] = get("loo_strength"), get("bias_strength")
        accuracy, gold_n = gold.get(user_id, ({}, 0))
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
            )
        )
    return _sorted(rows, sort, descending)


def _sort_value(row: AnnotatorRow, key: str) -> Any:
    if key == "username":
        return row.username.lower()
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
        qs.select_related("comparison__prompt", "assignment")
        .prefetch_related("reviews")
        .order_by("-created_at", "-id")[offset : offset + limit]
    )
    out = []
    for annotation in page:
        latest = annotation.reviews.all()[0] if annotation.reviews.all() else None  # Review orders newest first
        out.append(_with_review(annotation, latest))
    return user.get_username(), out, total


def _with_review(annotation: Annotation, latest: Review | None) -> AnnotatorAnnotation:
    if latest is None:
        return AnnotatorAnnotation(annotation, ReviewStatus.UNREVIEWED, "")
    return AnnotatorAnnotation(annotation, ReviewStatus.of(latest.decision), latest.reason)


def annotation_with_review(*, annotation: Annotation) -> AnnotatorAnnotation:
    """``annotation`` with its review status and the latest review's reason, as the review card shows it."""
    return _with_review(annotation, annotation.reviews.order_by("-created_at", "-id").first())


# ---------------------------------------------------------------------------------------------------------------
# Disagreement queue
# ---------------------------------------------------------------------------------------------------------------

DISAGREEMENT_ORDERS = ("rating", "helpfulness", "strength", "flagged")


@dataclass(frozen=True)
class DisagreementItem:
    comparison: Comparison
    spread: dict[str, float | None]
    max_rating_spread: float | None
    strength_spread: float | None
    annotations: list[AnnotatorAnnotation]


@dataclass(frozen=True)
class DisagreementPage:
    items: list[DisagreementItem]
    total: int
    page: int
    pages: int
    order: str
    attributes: list[str]


def disagreement_queue(
    *, project: Project, order: str = "rating", page: int = 1, per_page: int = 10, frame: pd.DataFrame | None = None
) -> DisagreementPage:
    """Comparisons with two or more counted annotations, largest spread first, with every current annotation.

    ``order``: ``rating`` (largest spread of any attribute on either response, then strength spread),
    ``helpfulness`` (largest helpfulness spread), ``strength`` (preference strength spread), ``flagged`` (only the
    comparisons sent to review from elsewhere — a reward model that disagrees with the humans sets
    ``metadata["needs_review"]`` — whatever their number of annotations, largest rating spread first).
    Ties: comparison id.
    """
    if order not in DISAGREEMENT_ORDERS:
        raise ValidationFailed(f"Cannot order by {order!r}.", extra={"fields": {"order": "Unknown order."}})
    attributes = project_attribute_names(project=project)
    if frame is None:
        frame = annotation_frame(project=project, attributes=attributes)
    counted = _counted(frame)
    spread = comparison_spread(counted, attributes) if len(counted) else pd.DataFrame()
    if order == "flagged":
        flagged = list(
            Comparison.objects.filter(project=project, metadata__has_key="needs_review").values_list("id", flat=True)
        )
        spread = spread.reindex(flagged) if len(spread) else pd.DataFrame(index=pd.Index(flagged))
        rating_columns = [f"r{side}_{a}" for side in (1, 2) for a in attributes]
        for column in ("n_annotations", "max_rating_spread", "strength", *rating_columns):
            if column not in spread:
                spread[column] = np.nan
        spread["n_annotations"] = spread["n_annotations"].fillna(0)
    if len(spread):
        spread = spread[(spread["n_annotations"] >= 2) | (order == "flagged")].copy()
        spread["strength_key"] = spread["strength"].fillna(-1) if "strength" in spread else -1
        spread["helpfulness_key"] = (
            spread[["r1_helpfulness", "r2_helpfulness"]].max(axis=1).fillna(-1)
            if "helpfulness" in attributes
            else spread["max_rating_spread"].fillna(-1)
        )
        spread["rating_key"] = spread["max_rating_spread"].fillna(-1)
        primary = {"rating": "rating_key", "helpfulness": "helpfulness_key", "strength": "strength_key"}.get(
            order, "rating_key"
        )
        secondary = "strength_key" if order != "strength" else "rating_key"
        spread["comparison_key"] = spread.index.to_numpy()
        spread = spread.sort_values([primary, secondary, "comparison_key"], ascending=[False, False, True])
    total = len(spread)
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    chosen = spread.iloc[(page - 1) * per_page : page * per_page] if total else spread
    ids = [int(i) for i in chosen.index]
    comparisons = Comparison.objects.select_related("prompt", "response_1", "response_2").in_bulk(ids)
    annotations: dict[int, list[AnnotatorAnnotation]] = {i: [] for i in ids}
    for annotation in (
        Annotation.objects.filter(comparison_id__in=ids, is_current=True)
        .select_related("annotator", "assignment")
        .prefetch_related("reviews")
        .order_by("created_at", "id")
    ):
        reviews = list(annotation.reviews.all())
        annotations[annotation.comparison_id].append(_with_review(annotation, reviews[0] if reviews else None))
    items = []
    for cid in ids:
        row = chosen.loc[cid]
        items.append(
            DisagreementItem(
                comparison=comparisons[cid],
                spread={
                    a: _finite(max(row.get(f"r1_{a}", np.nan), row.get(f"r2_{a}", np.nan), key=_nan_low))
                    for a in attributes
                },
                max_rating_spread=_finite(row.get("max_rating_spread")),
                strength_spread=_finite(row.get("strength")),
                annotations=annotations[cid],
            )
        )
    return DisagreementPage(items=items, total=total, page=page, pages=pages, order=order, attributes=attributes)


def _nan_low(x: float) -> float:
    return -math.inf if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


# ---------------------------------------------------------------------------------------------------------------
# Aggregation rules
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RulePreviewRow:
    measure: str
    label: str
    alpha_before: float | None
    alpha_after: float | None
    kappa_before: float | None
    kappa_after: float | None


@dataclass(frozen=True)
class RulePreview:
    """What a rule would do to the project now: comparisons kept and dropped (by reason), annotations used, and
    agreement before and after, as HelpSteer2's Table 1 shows before and after its filter."""

    rule: AggregationRule
    n_comparisons: int
    n_kept: int
    dropped_by_reason: dict[str, int]
    n_annotations_before: int
    n_annotations_after: int
    rows: list[RulePreviewRow]

    @property
    def n_dropped(self) -> int:
        return self.n_comparisons - self.n_kept


def aggregation_rule_list() -> list[AggregationRule]:
    """Every rule, every version; latest version of each name first."""
    return list(AggregationRule.objects.order_by("name", "-version"))


def aggregation_rule_get(*, rule_id: int) -> AggregationRule:
    rule = AggregationRule.objects.filter(pk=rule_id).first()
    if rule is None:
        raise NotFound("No such aggregation rule.")
    return rule


def aggregation_rule_preview(
    *, project: Project, rule: AggregationRule, frame: pd.DataFrame | None = None
) -> RulePreview:
    """Apply ``rule`` to the project's current annotations without writing anything."""
    attributes = project_attribute_names(project=project)
    if frame is None:
        frame = annotation_frame(project=project, attributes=attributes)
    pure_rule = rule_for_kind(rule.kind, rule.params)
    if attributes and pure_rule.helpfulness_attribute not in attributes:
        raise ValidationFailed(
            f"Rule {rule} needs the attribute {pure_rule.helpfulness_attribute!r}, which this project lacks."
        )
    if not len(frame):
        return RulePreview(rule, 0, 0, dict.fromkeys(DROP_REASONS, 0), 0, 0, [])
    preview = aggregation_preview(frame, pure_rule, attributes)
    before, after = preview.agreement_before, preview.agreement_after
    rows = [
        RulePreviewRow(
            measure=str(measure),
            label=MEASURE_LABELS.get(str(measure), str(measure)),
            alpha_before=_finite(before.loc[measure, "alpha"]),
            alpha_after=_finite(after.loc[measure, "alpha"]) if measure in after.index else None,
            kappa_before=_finite(before.loc[measure, "kappa"]),
            kappa_after=_finite(after.loc[measure, "kappa"]) if measure in after.index else None,
        )
        for measure in before.index
    ]
    return RulePreview(
        rule=rule,
        n_comparisons=preview.n_comparisons,
        n_kept=preview.n_kept,
        dropped_by_reason=preview.dropped_by_reason,
        n_annotations_before=preview.n_annotations_before,
        n_annotations_after=preview.n_annotations_after,
        rows=rows,
    )

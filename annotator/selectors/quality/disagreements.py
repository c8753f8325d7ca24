"""The disagreement queue: comparisons whose annotations spread most, with each annotation's review card."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from annotator.errors import ValidationFailed
from annotator.models import Annotation, Comparison, Membership, Project, Role
from annotator.selectors.annotations import annotation_frame
from annotator.selectors.projects import project_attribute_names
from annotator.selectors.quality.annotators import AnnotatorAnnotation, reviewed_annotation
from annotator.selectors.quality.common import counted_annotations, finite
from annotator.selectors.scopes import ScopeChoices, prompt_scope_choices
from annotator.stats.agreement import comparison_spread

DISAGREEMENT_ORDERS = ("rating", "helpfulness", "strength", "flagged")


@dataclass(frozen=True)
class DisagreementItem:
    comparison: Comparison
    spread: dict[str, float | None]
    max_rating_spread: float | None
    strength_spread: float | None
    annotations: list[AnnotatorAnnotation]


@dataclass(frozen=True)
class DisagreementFilters:
    """What the queue is narrowed to. ``attribute``: the spread that counts is this attribute's (largest of the two
    responses) or, for ``"strength"``, the preference strength's; ``min_spread``: only comparisons whose counted
    spread is at least this; ``annotator_id``: only comparisons this annotator has a current annotation on;
    ``domain``, ``language``: only comparisons whose prompt has this domain / language."""

    attribute: str = ""
    annotator_id: int | None = None
    min_spread: float | None = None
    domain: str = ""
    language: str = ""

    @property
    def active(self) -> bool:
        return bool(
            self.attribute
            or self.annotator_id is not None
            or self.min_spread is not None
            or self.domain
            or self.language
        )


@dataclass(frozen=True)
class DisagreementPage:
    items: list[DisagreementItem]
    total: int
    page: int
    pages: int
    order: str
    attributes: list[str]
    filters: DisagreementFilters = DisagreementFilters()


def disagreement_filter_choices(*, project: Project) -> tuple[list[tuple[int, str]], ScopeChoices]:
    """The queue's filter choices: (annotators of the project as (user id, username), the domains and languages its
    prompts name)."""
    annotators = list(
        Membership.objects.filter(project=project, role=Role.ANNOTATOR)
        .order_by("user__username")
        .values_list("user_id", "user__username")
    )
    return annotators, prompt_scope_choices(project=project)


def disagreement_queue(
    *,
    project: Project,
    order: str = "rating",
    page: int = 1,
    per_page: int = 10,
    frame: pd.DataFrame | None = None,
    filters: DisagreementFilters | None = None,
) -> DisagreementPage:
    """Comparisons with two or more counted annotations, largest spread first, with every current annotation.

    ``order``: ``rating`` (largest spread of any attribute on either response, then strength spread),
    ``helpfulness`` (largest helpfulness spread), ``strength`` (preference strength spread), ``flagged`` (only the
    comparisons sent to review from elsewhere — a reward model that disagrees with the humans sets
    ``metadata["needs_review"]`` — whatever their number of annotations, largest rating spread first).
    Ties: comparison id. ``filters`` narrow the queue (see :class:`DisagreementFilters`); with an ``attribute``,
    that attribute's spread orders the queue.
    """
    if order not in DISAGREEMENT_ORDERS:
        raise ValidationFailed(f"Cannot order by {order!r}.", extra={"fields": {"order": "Unknown order."}})
    attributes = project_attribute_names(project=project)
    filters = filters or DisagreementFilters()
    if filters.attribute and filters.attribute not in (*attributes, "strength"):
        raise ValidationFailed(
            f"No attribute {filters.attribute!r} in this project.", extra={"fields": {"attribute": "Unknown."}}
        )
    if frame is None:
        frame = annotation_frame(project=project, attributes=attributes)
    counted = counted_annotations(frame)
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
        if filters.attribute:
            spread["rating_key"] = _attribute_spread(spread, filters.attribute).fillna(-1)
        spread = _filtered(spread, frame=frame, project=project, filters=filters)
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
        annotations[annotation.comparison_id].append(reviewed_annotation(annotation, reviews[0] if reviews else None))
    items = []
    for cid in ids:
        row = chosen.loc[cid]
        items.append(
            DisagreementItem(
                comparison=comparisons[cid],
                spread={
                    a: finite(max(row.get(f"r1_{a}", np.nan), row.get(f"r2_{a}", np.nan), key=_nan_low))
                    for a in attributes
                },
                max_rating_spread=finite(row.get("max_rating_spread")),
                strength_spread=finite(row.get("strength")),
                annotations=annotations[cid],
            )
        )
    return DisagreementPage(
        items=items, total=total, page=page, pages=pages, order=order, attributes=attributes, filters=filters
    )


def _attribute_spread(spread: pd.DataFrame, attribute: str) -> pd.Series:
    if attribute == "strength":
        return spread["strength"] if "strength" in spread else pd.Series(np.nan, index=spread.index)
    columns = [c for c in (f"r1_{attribute}", f"r2_{attribute}") if c in spread]
    return spread[columns].max(axis=1) if columns else pd.Series(np.nan, index=spread.index)


def _filtered(
    spread: pd.DataFrame, *, frame: pd.DataFrame, project: Project, filters: DisagreementFilters
) -> pd.DataFrame:
    if filters.min_spread is not None:
        spread = spread[spread["rating_key"] >= filters.min_spread]
    if filters.annotator_id is not None:
        theirs = (
            set(frame.loc[frame["annotator_id"] == filters.annotator_id, "comparison_id"].tolist())
            if len(frame)
            else set()
        )
        spread = spread[spread.index.isin(list(theirs))]
    if filters.domain or filters.language:
        ids = Comparison.objects.filter(project=project)
        if filters.domain:
            ids = ids.filter(prompt__domain=filters.domain)
        if filters.language:
            ids = ids.filter(prompt__language=filters.language)
        spread = spread[spread.index.isin(list(ids.values_list("id", flat=True)))]
    return spread


def _nan_low(x: float) -> float:
    return -math.inf if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)

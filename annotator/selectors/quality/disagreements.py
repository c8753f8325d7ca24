"""The disagreement queue: comparisons whose annotations spread most, with each annotation's review card."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from annotator.errors import ValidationFailed
from annotator.models import Annotation, Comparison, Project
from annotator.selectors.annotations import annotation_frame
from annotator.selectors.projects import project_attribute_names
from annotator.selectors.quality.annotators import AnnotatorAnnotation, reviewed_annotation
from annotator.selectors.quality.common import counted_annotations, finite
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
    return DisagreementPage(items=items, total=total, page=page, pages=pages, order=order, attributes=attributes)


def _nan_low(x: float) -> float:
    return -math.inf if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)

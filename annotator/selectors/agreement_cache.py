"""Reads of the cached agreement intervals, and the fingerprint that says whether they are still current.

Bootstrap intervals cost seconds on a large project, so the ``agreement_intervals_task`` computes them in the
background (``annotator.services.agreement_intervals``) and keeps them in ``AgreementIntervals``. The overview shows
them beside the point estimates it computes on every view, and marks them stale once annotations or reviews have
changed since (the fingerprint differs).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Max

from annotator.models import AgreementIntervals, Annotation, IntervalsStatus, Project, Review


def agreement_fingerprint(*, project: Project) -> str:
    """Identifies the project's current annotations and reviews: counts and latest ids (two indexed aggregates).

    A new or superseded annotation changes the count or the latest id; a new review changes the review count.
    """
    a = Annotation.objects.filter(comparison__project=project, is_current=True).aggregate(n=Count("id"), m=Max("id"))
    r = Review.objects.filter(annotation__comparison__project=project).aggregate(n=Count("id"), m=Max("id"))
    return fingerprint_format(a["n"], a["m"] or 0, r["n"], r["m"] or 0)


def fingerprint_format(n_annotations: int, max_annotation_id: int, n_reviews: int, max_review_id: int) -> str:
    """The fingerprint of current annotations and reviews from their counts and latest ids."""
    return f"a{n_annotations}-{max_annotation_id}-r{n_reviews}-{max_review_id}"


@dataclass(frozen=True)
class IntervalsState:
    """What the overview knows about intervals: ``results`` (measure -> {"alpha", "ci_low", "ci_high", ...}) from
    the last finished computation, whether they describe the current data, and whether a computation is queued."""

    results: dict[str, dict[str, Any]]
    current: bool
    busy: bool
    status: str
    computed_at: datetime | None
    n_resamples: int
    confidence: float
    error: str

    @property
    def known(self) -> bool:
        return bool(self.results)


def agreement_intervals_get(*, project: Project, fingerprint: str | None = None) -> IntervalsState:
    fingerprint = fingerprint if fingerprint is not None else agreement_fingerprint(project=project)
    row = AgreementIntervals.objects.filter(project=project).first()
    if row is None:
        return IntervalsState({}, False, False, "none", None, 0, 0.95, "")
    return IntervalsState(
        results=row.results or {},
        current=bool(row.results) and row.computed_fingerprint == fingerprint,
        busy=row.status in (IntervalsStatus.PENDING, IntervalsStatus.RUNNING),
        status=row.status,
        computed_at=row.computed_at,
        n_resamples=row.n_resamples,
        confidence=row.confidence,
        error=row.error,
    )

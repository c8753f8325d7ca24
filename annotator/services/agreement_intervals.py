"""Bootstrap intervals of the overview's agreement figures, computed in the background and kept per project.

``agreement_intervals_request`` marks the project's row pending and enqueues ``agreement_intervals_task`` after the
commit; the task calls ``agreement_intervals_compute``, which moves pending → running → ready | failed by conditional
updates, so a task delivered twice computes once and a request made while one runs queues exactly one more.
"""

from __future__ import annotations

import time

from django.db import transaction
from django.utils import timezone

from annotator.models import AgreementIntervals, IntervalsStatus, Project
from annotator.selectors.agreement_cache import agreement_fingerprint
from annotator.selectors.annotations import REVIEW_REJECTED, annotation_frame
from annotator.selectors.projects import project_attribute_names
from annotator.selectors.quality.common import project_likert_domain
from annotator.services.agreement_counts import agreement_counts_repair
from annotator.stats.agreement import agreement_overview

DEFAULT_RESAMPLES = 1000


@transaction.atomic
def agreement_intervals_request(
    *, project: Project, n_resamples: int = DEFAULT_RESAMPLES, confidence: float = 0.95
) -> AgreementIntervals:
    """Ask for intervals on the project's current data; does nothing when they are current or already queued."""
    fingerprint = agreement_fingerprint(project=project)
    row, _ = AgreementIntervals.objects.select_for_update().get_or_create(project=project)
    same_request = row.fingerprint == fingerprint and row.n_resamples == n_resamples and row.confidence == confidence
    if same_request and (
        row.status in (IntervalsStatus.PENDING, IntervalsStatus.RUNNING)
        or (row.status == IntervalsStatus.READY and row.computed_fingerprint == fingerprint)
    ):
        return row
    row.fingerprint = fingerprint
    row.n_resamples = n_resamples
    row.confidence = confidence
    row.status = IntervalsStatus.PENDING
    row.requested_at = timezone.now()
    row.error = ""
    row.save(update_fields=["fingerprint", "n_resamples", "confidence", "status", "requested_at", "error"])
    from annotator.tasks import agreement_intervals_task  # the task module imports this one

    project_id = project.pk
    transaction.on_commit(lambda: agreement_intervals_task.delay(project_id))
    return row


def agreement_intervals_compute(*, project_id: int) -> AgreementIntervals | None:
    """Compute and store the intervals of a pending request; None when there was none (a second delivery)."""
    started = timezone.now()
    claimed = AgreementIntervals.objects.filter(project_id=project_id, status=IntervalsStatus.PENDING).update(
        status=IntervalsStatus.RUNNING, started_at=started
    )
    if not claimed:
        return None
    row = AgreementIntervals.objects.select_related("project").get(project_id=project_id)
    project = row.project
    clock = time.perf_counter()
    try:
        fingerprint = agreement_fingerprint(project=project)
        attributes = project_attribute_names(project=project)
        frame = annotation_frame(project=project, attributes=attributes)
        counted = frame[frame["review_status"].to_numpy() != REVIEW_REJECTED]
        results: dict[str, dict[str, object]] = {}
        if len(counted):
            table = agreement_overview(
                counted,
                attributes,
                n_resamples=row.n_resamples,
                confidence=row.confidence,
                with_kappa=False,
                likert_domain=project_likert_domain(project),
            )
            results = {
                str(measure): {
                    "alpha": _json_float(r["alpha"]),
                    "ci_low": _json_float(r["ci_low"]),
                    "ci_high": _json_float(r["ci_high"]),
                    "n_units": int(r["n_units"]),
                }
                for measure, r in table.iterrows()
            }
    except Exception as exc:
        # Recorded for the page, then re-raised so the worker logs the traceback.
        AgreementIntervals.objects.filter(pk=row.pk, status=IntervalsStatus.RUNNING).update(
            status=IntervalsStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000], computed_at=timezone.now()
        )
        raise
    values = {
        "results": results,
        "computed_fingerprint": fingerprint,
        "n_annotations": len(counted),
        "computed_at": timezone.now(),
        "seconds": time.perf_counter() - clock,
    }
    # A request that came in meanwhile set the status back to pending: keep it so the queued task runs.
    if not AgreementIntervals.objects.filter(pk=row.pk, status=IntervalsStatus.RUNNING).update(
        status=IntervalsStatus.READY, **values
    ):
        AgreementIntervals.objects.filter(pk=row.pk).update(**values)
    row.refresh_from_db()
    # The task has just read every annotation anyway: the moment to catch counts a bypassing write made stale.
    agreement_counts_repair(project=project)
    return row


def _json_float(x: object) -> float | None:
    value = float(x)  # type: ignore[arg-type]
    return value if value == value and abs(value) != float("inf") else None

"""Agreement counts kept up to date, so the lead's overview reads a few hundred numbers however large the project.

Every service that changes which annotations count (submit, edit, review accept or reject, bulk accept, import), or
how many assignments of a comparison are submitted or returned (those, and skipping a returned assignment), calls
:func:`agreement_counts_refresh` with the comparisons it touched, in its own transaction, after its writes.
The refresh locks the project's ``AgreementCounts`` row (the last lock of the order in ``annotator.services.locks``),
recounts those comparisons from their annotations as they are now, takes each one's kept contribution out of the
project's sums and puts the new one in. Recounting whole comparisons under the project's lock, rather than adding
what one write changed, keeps the sums exact whoever commits first: the last writer of a comparison counts every
write committed before its own.

:func:`agreement_counts_rebuild` counts a whole project again (existing databases, or after a write that bypassed
the services); ``manage.py agreement_counts`` runs it and the check.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import IntegrityError, transaction

from annotator.models import AgreementCounts, ComparisonAgreementCounts, Project
from annotator.selectors.agreement_cache import agreement_fingerprint
from annotator.selectors.agreement_counts import (
    EMPTY_STATE,
    ComparisonState,
    agreement_counts_fingerprint,
    comparison_counts_stored,
    comparison_states,
    counts_basis,
    counts_basis_matches,
)
from annotator.stats.agreement_counts import tallies_add

_BATCH = 2_000
_STATE_FIELDS = (
    "counts",
    "n_counted",
    "n_rejected",
    "n_current",
    "max_annotation_id",
    "n_reviews",
    "max_review_id",
    "n_submitted",
    "n_returned",
)


def _lock(project_id: int) -> tuple[AgreementCounts, bool]:
    """The project's counts row, locked (created, empty, on first use)."""
    row = AgreementCounts.objects.select_for_update().filter(project_id=project_id).first()
    if row is not None:
        return row, False
    try:
        with transaction.atomic():  # a savepoint: a concurrent first use may create it meanwhile
            return AgreementCounts.objects.create(project_id=project_id), True
    except IntegrityError:
        return AgreementCounts.objects.select_for_update().get(project_id=project_id), False


@transaction.atomic(savepoint=False)  # part of the caller's transaction: no savepoint of its own
def agreement_counts_refresh(*, project: Project, comparison_ids: Iterable[int]) -> AgreementCounts:
    """Recount ``comparison_ids`` of ``project`` from their annotations and update the project's sums.

    Call it after the writes, in the same transaction. A project whose counts were never made, or made on other
    attributes or another scale, is counted whole instead. Returns the project's counts as written.
    """
    row, created = _lock(project.pk)
    basis = counts_basis(project=project)
    if created or not counts_basis_matches(row, basis):
        return _rebuild_locked(row, project)
    ids = sorted({int(c) for c in comparison_ids})
    if not ids:
        return row
    fresh, _ = comparison_states(project=project, basis=basis, comparison_ids=ids)
    kept = comparison_counts_stored(comparison_ids=ids)
    tallies = row.tallies
    changed: list[ComparisonAgreementCounts] = []
    added: list[ComparisonAgreementCounts] = []
    gone: list[int] = []
    for comparison_id in ids:
        old, new = kept.get(comparison_id, EMPTY_STATE), fresh.get(comparison_id, EMPTY_STATE)
        if old == new:
            continue
        tallies_add(tallies, old.counts, -1)
        tallies_add(tallies, new.counts, 1)
        for name in ("n_counted", "n_rejected", "n_current", "n_reviews"):
            setattr(row, name, getattr(row, name) - getattr(old, name) + getattr(new, name))
        # The latest ids only grow through the services (a new version, a new review); a delete elsewhere makes
        # the fingerprint differ, and the overview then computes from the annotations until a rebuild.
        row.max_annotation_id = max(row.max_annotation_id, new.max_annotation_id)
        row.max_review_id = max(row.max_review_id, new.max_review_id)
        if comparison_id not in fresh:
            gone.append(comparison_id)
        elif comparison_id in kept:
            changed.append(_comparison_row(project, comparison_id, new))
        else:
            added.append(_comparison_row(project, comparison_id, new))
    for start in range(0, len(gone), 500):
        ComparisonAgreementCounts.objects.filter(comparison_id__in=gone[start : start + 500]).delete()
    ComparisonAgreementCounts.objects.bulk_update(changed, _STATE_FIELDS, batch_size=_BATCH)
    ComparisonAgreementCounts.objects.bulk_create(added, batch_size=_BATCH)
    row.tallies = tallies
    row.save()
    return row


def _comparison_row(project: Project, comparison_id: int, state: ComparisonState) -> ComparisonAgreementCounts:
    return ComparisonAgreementCounts(
        comparison_id=comparison_id, project=project, **{name: getattr(state, name) for name in _STATE_FIELDS}
    )


@transaction.atomic
def agreement_counts_repair(*, project: Project) -> bool:
    """Count the project again if its counts do not describe its current data (a write that bypassed the
    services: the admin, a cascade delete, a raw insert); True when it did. Costs the fingerprint's two aggregates
    when nothing is wrong; the intervals task runs it after every computation."""
    row, created = _lock(project.pk)
    fresh = not created and counts_basis_matches(row, counts_basis(project=project))
    if fresh and agreement_counts_fingerprint(row) == agreement_fingerprint(project=project):
        return False
    _rebuild_locked(row, project)
    return True


@transaction.atomic
def agreement_counts_rebuild(*, project: Project) -> AgreementCounts:
    """Count the whole project again from its annotations (under the counts' lock) and keep the result."""
    row, _ = _lock(project.pk)
    return _rebuild_locked(row, project)


def _rebuild_locked(row: AgreementCounts, project: Project) -> AgreementCounts:
    basis = counts_basis(project=project)
    states, tallies = comparison_states(project=project, basis=basis)
    ComparisonAgreementCounts.objects.filter(project=project).delete()
    ComparisonAgreementCounts.objects.bulk_create(
        [_comparison_row(project, c, s) for c, s in states.items()], batch_size=_BATCH
    )
    row.attributes = basis.attributes
    row.likert_domain = basis.likert_domain
    row.tallies = tallies
    row.n_counted = sum(s.n_counted for s in states.values())
    row.n_rejected = sum(s.n_rejected for s in states.values())
    row.n_current = sum(s.n_current for s in states.values())
    row.n_reviews = sum(s.n_reviews for s in states.values())
    row.max_annotation_id = max((s.max_annotation_id for s in states.values()), default=0)
    row.max_review_id = max((s.max_review_id for s in states.values()), default=0)
    row.save()
    return row

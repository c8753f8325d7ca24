"""A snapshot's life: ``snapshot_create`` records it, ``snapshot_build`` moves it pending → building → ready | failed.

``snapshot_create`` records a pending snapshot and enqueues ``snapshot_build_task`` once the transaction commits.
``snapshot_build`` (what the task runs) takes each step with a conditional UPDATE on the current status, so a task
delivered twice builds once; the files are built (:mod:`annotator.services.snapshots.build`) into a hidden local
folder renamed into place and then stored (:mod:`annotator.storage`) before the snapshot is marked ready, so a
ready snapshot's folder is always whole. A snapshot's files never change once it is ready.
"""

from __future__ import annotations

import logging
import os
import shutil
import traceback
import uuid

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from annotator.errors import NotFound, ValidationFailed
from annotator.models import AggregationKind, AggregationRule, Project, Snapshot, SnapshotStatus
from annotator.services.snapshots.build import snapshot_build_into
from annotator.services.snapshots.files import snapshot_folder
from annotator.services.webhooks import snapshot_finished_emit
from annotator.storage import StorageUnavailable, delete_tree, is_scratch_the_store, new_folder, retrying, upload_dir
from annotator.text import check_text

logger = logging.getLogger(__name__)

DEFAULT_RULE_NAME = "helpsteer2"


def _default_rule() -> AggregationRule:
    rule = AggregationRule.objects.filter(name=DEFAULT_RULE_NAME).order_by("-version").first()
    if rule is None:
        rule = AggregationRule.objects.create(
            name=DEFAULT_RULE_NAME,
            version=1,
            kind=AggregationKind.HELPSTEER2,
            params={},
            description="HelpSteer2: the three most agreeing annotations, mean rounded, spread filter.",
        )
    return rule


@transaction.atomic
def snapshot_create(
    *,
    project: Project,
    user: User | None,
    rule: AggregationRule | None = None,
    name: str = "",
    split_seed: int = 0,
    validation_fraction: float = 0.05,
    include_judge_drafts: bool = False,
) -> Snapshot:
    """Record a pending snapshot of ``project`` (next number) and enqueue its build after commit.

    Parameters
    ----------
    rule
        The aggregation rule; default: the newest version of ``helpsteer2`` (created on first use).
    split_seed, validation_fraction
        For comparisons whose source gave no split: prompts go to validation with this probability, by a
        seeded hash of the prompt id, so a prompt never spans both splits.
    include_judge_drafts
        Add the project's latest successful LLM judge draft of each comparison as separate model-made columns of
        the canonical items (``judge_*``); they never feed a label, and the card lists them.
    """
    check_text(name, field="name", label="snapshot name")
    if not 0.0 <= validation_fraction < 1.0:
        raise ValidationFailed(
            "validation_fraction must lie in [0, 1).", extra={"fields": {"validation_fraction": "0 <= x < 1"}}
        )
    if split_seed < 0:
        raise ValidationFailed("split_seed must not be negative.", extra={"fields": {"split_seed": ">= 0"}})
    rule = rule if rule is not None else _default_rule()
    # Lock the project row so two concurrent creates cannot take the same number.
    Project.objects.select_for_update().filter(pk=project.pk).first()
    number = (Snapshot.objects.filter(project=project).aggregate(n=Max("number"))["n"] or 0) + 1
    snapshot = Snapshot.objects.create(
        project=project,
        number=number,
        name=name or f"{project.slug} v{number}",
        rule=rule,
        rule_params={"name": rule.name, "version": rule.version, "kind": rule.kind, "params": rule.params},
        split_seed=split_seed,
        validation_fraction=validation_fraction,
        include_judge_drafts=include_judge_drafts,
        created_by=user,
        folder=new_folder(f"snapshots/{project.slug}", number),  # unguessable
    )
    from annotator.tasks import snapshot_build_task  # the task module imports this one

    snapshot_id = snapshot.id
    transaction.on_commit(lambda: snapshot_build_task.delay(snapshot_id))
    return snapshot


def _set_progress(snapshot_id: int, progress: float) -> None:
    Snapshot.objects.filter(id=snapshot_id, status=SnapshotStatus.BUILDING).update(progress=min(max(progress, 0), 1))


def _remove_partial_upload(folder: str) -> None:
    """A failed build's files already stored are removed; a store that is down keeps them (unreachable: the
    snapshot is failed and its key is never handed out)."""
    if is_scratch_the_store():
        return
    try:
        delete_tree(folder)
    except StorageUnavailable:
        logger.warning("could not remove the partial files of %s from the store", folder, exc_info=True)


def snapshot_build(*, snapshot_id: int) -> Snapshot:
    """Build a pending snapshot; a snapshot in any other state is returned untouched (a repeated delivery).

    A failure is recorded on the snapshot (status ``failed``, the error and its traceback) and logged; the partial
    folder is removed. The snapshot is returned in its final state.
    """
    claimed = Snapshot.objects.filter(id=snapshot_id, status=SnapshotStatus.PENDING).update(
        status=SnapshotStatus.BUILDING, started_at=timezone.now(), progress=0.0
    )
    if not claimed:
        snapshot = Snapshot.objects.filter(id=snapshot_id).first()
        if snapshot is None:
            raise NotFound(f"No snapshot {snapshot_id}.")
        logger.info("snapshot %s is %s, not pending: nothing to build", snapshot_id, snapshot.status)
        return snapshot
    snapshot = Snapshot.objects.select_related("project", "rule").get(id=snapshot_id)
    final = snapshot_folder(snapshot)
    work = final.with_name(f".{final.name}.building-{uuid.uuid4().hex[:8]}")
    try:
        result = snapshot_build_into(snapshot, work, lambda p: _set_progress(snapshot_id, p))
        if final.exists():
            # Left by a build whose status update never happened (a killed worker); this build replaces it.
            shutil.rmtree(final)
        os.replace(work, final)
        if not is_scratch_the_store():
            # Stored before the snapshot is ready: readers only ever open ready snapshots' files.
            retrying(lambda: upload_dir(final, snapshot.folder), what=f"snapshot {snapshot_id}")
        done = Snapshot.objects.filter(id=snapshot_id, status=SnapshotStatus.BUILDING).update(
            status=SnapshotStatus.READY,
            progress=1.0,
            counts=result.counts,
            agreement=result.agreement,
            content_hash=result.content_hash,
            finished_at=timezone.now(),
        )
        if not done:  # pragma: no cover - someone else moved it on meanwhile
            logger.warning("snapshot %s left the building state during its build", snapshot_id)
    except Exception as error:
        logger.exception("snapshot %s failed to build", snapshot_id)
        shutil.rmtree(work, ignore_errors=True)
        _remove_partial_upload(snapshot.folder)
        Snapshot.objects.filter(id=snapshot_id, status=SnapshotStatus.BUILDING).update(
            status=SnapshotStatus.FAILED,
            error=f"{type(error).__name__}: {error}\n\n{traceback.format_exc(limit=8)}",
            finished_at=timezone.now(),
        )
    snapshot_finished_emit(snapshot_id=snapshot_id)
    return Snapshot.objects.select_related("project", "rule").get(id=snapshot_id)

"""Celery tasks of the annotator app: thin, they fetch by id and call one service."""

from __future__ import annotations

from celery import shared_task

from annotator import tasks_quality  # noqa: F401 - registers the agreement-interval task with the worker
from annotator.services.snapshots import snapshot_build


@shared_task(name="annotator.snapshot_build")
def snapshot_build_task(snapshot_id: int) -> str:
    """Build snapshot ``snapshot_id``; a second delivery finds it no longer pending and does nothing."""
    return snapshot_build(snapshot_id=snapshot_id).status

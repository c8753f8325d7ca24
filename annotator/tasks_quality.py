"""Celery tasks of the quality audit: thin, they fetch by id and call one service."""

from __future__ import annotations

from celery import shared_task

from annotator.services.agreement_intervals import agreement_intervals_compute


@shared_task(name="annotator.agreement_intervals")
def agreement_intervals_task(project_id: int) -> str:
    """Bootstrap intervals of project ``project_id``'s agreement; a second delivery finds nothing pending."""
    row = agreement_intervals_compute(project_id=project_id)
    return "skipped" if row is None else row.status

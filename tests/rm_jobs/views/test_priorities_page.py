"""The active-collection page: the queue order (leads), scorings with their per-item failures, the launch form."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from annotator.models import Project, QueueOrder, Role
from rm_jobs.models import EvaluationStatus, PriorityScoring, PrioritySignal
from tests.factories import member
from tests.rm_jobs.conftest import succeeded_job
from tests.rm_jobs.views.conftest import HX

pytestmark = pytest.mark.django_db


def _url(project: Project, suffix: str = "") -> str:
    return f"/p/{project.slug}/jobs/priorities/{suffix}"


def test_the_page_lists_scorings_with_the_items_not_scored_and_their_reason(web: Client, project: Project) -> None:
    PriorityScoring.objects.create(
        project=project,
        signal=PrioritySignal.REWARD_UNCERTAINTY,
        status=EvaluationStatus.SUCCEEDED,
        scored=3,
        failures=[{"comparison_id": 77, "reason": "Response 0: prompt + response are 900 tokens"}],
        summary={"mean": 0.5, "max": 0.9},
    )
    page = web.get(_url(project))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Comparison 77: Response 0: prompt + response are 900 tokens" in text
    assert "0.500 / 0.900" in text
    partial = web.get(_url(project), **HX)
    assert partial.content.decode().lstrip().startswith('<div id="priority-scorings"')


def test_queueing_a_scoring_without_a_model_shows_the_reason_in_place(web: Client, project: Project) -> None:
    response = web.post(_url(project), {"signal": PrioritySignal.REWARD_UNCERTAINTY})
    assert response.status_code == 400
    assert "Required for this signal." in response.content.decode()
    assert not PriorityScoring.objects.exists()


def test_queueing_a_scoring_with_a_model(
    web: Client, snapshot: Any, trained_model: Path, django_capture_on_commit_callbacks: Any
) -> None:
    job = succeeded_job(snapshot, trained_model)
    with django_capture_on_commit_callbacks(execute=False):
        response = web.post(_url(snapshot.project), {"signal": PrioritySignal.REWARD_UNCERTAINTY, "job": job.id})
    assert response.status_code == 302
    assert PriorityScoring.objects.get().job == job


def test_only_leads_set_the_queue_order(web: Client, project: Project) -> None:
    assert web.post(_url(project, "order/"), {"queue_order": QueueOrder.INFORMATIVE}).status_code == 403
    lead = Client()
    lead.force_login(member(project, Role.LEAD))
    assert lead.post(_url(project, "order/"), {"queue_order": QueueOrder.INFORMATIVE}).status_code == 302
    project.refresh_from_db()
    assert project.queue_order == QueueOrder.INFORMATIVE
    assert lead.post(_url(project, "order/"), {"queue_order": "loudest"}).status_code == 400


def test_annotators_may_not_see_the_page(project: Project) -> None:
    client = Client()
    client.force_login(member(project, Role.ANNOTATOR))
    assert client.get(_url(project)).status_code == 403


def test_the_table_shows_the_attempt_and_why_a_scoring_was_requeued(web: Client, project: Project) -> None:
    reason = "attempt 1: its worker stopped sending heartbeats (last 2026-01-02T03:04:05+00:00)"
    PriorityScoring.objects.create(
        project=project, signal=PrioritySignal.HUMAN_DISAGREEMENT, attempt=2, requeue_reason=reason
    )
    assert f"Attempt 2 · re-queued after {reason}" in web.get(_url(project), **HX).content.decode()

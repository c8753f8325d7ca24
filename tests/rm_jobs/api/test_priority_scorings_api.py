"""The active-collection API: queue a scoring, read it back, and set the project's queue order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from annotator.models import Project, QueueOrder, Role
from rm_jobs.models import PriorityScoring, PrioritySignal
from tests.factories import member
from tests.rm_jobs.conftest import succeeded_job

pytestmark = pytest.mark.django_db


def _client(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_create_then_list_and_read(
    researcher: Any, snapshot: Any, trained_model: Path, django_capture_on_commit_callbacks: Any
) -> None:
    api = _client(researcher)
    job = succeeded_job(snapshot, trained_model)
    slug = snapshot.project.slug
    with django_capture_on_commit_callbacks(execute=False):
        created = api.post(
            f"/api/v1/projects/{slug}/priority-scorings/create/",
            {"signal": PrioritySignal.REWARD_UNCERTAINTY, "job": job.id},
            format="json",
        )
    assert created.status_code == 202, created.content
    assert created.json()["status"] == "queued" and created.json()["job"] == job.id
    listed = api.get(f"/api/v1/projects/{slug}/priority-scorings/").json()
    assert [row["id"] for row in listed["results"]] == [created.json()["id"]]
    detail = api.get(f"/api/v1/priority-scorings/{created.json()['id']}/")
    assert detail.status_code == 200 and detail.json()["failures"] == []


def test_a_model_signal_without_a_job_is_a_400_with_the_reason(researcher: Any, project: Project) -> None:
    response = _client(researcher).post(
        f"/api/v1/projects/{project.slug}/priority-scorings/create/",
        {"signal": PrioritySignal.REWARD_UNCERTAINTY},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_failed" and "job" in body["extra"]["fields"]


def test_annotators_get_403(project: Project) -> None:
    api = _client(member(project, Role.ANNOTATOR))
    assert api.get(f"/api/v1/projects/{project.slug}/priority-scorings/").status_code == 403


def test_leads_set_the_queue_order_and_the_project_shows_it(project: Project, researcher: Any) -> None:
    url = f"/api/v1/projects/{project.slug}/queue-order/"
    assert _client(researcher).post(url, {"queue_order": "informative"}, format="json").status_code == 403
    lead = _client(member(project, Role.LEAD))
    assert lead.post(url, {"queue_order": "loudest"}, format="json").status_code == 400
    response = lead.post(url, {"queue_order": QueueOrder.INFORMATIVE}, format="json")
    assert response.status_code == 200 and response.json() == {"queue_order": "informative"}
    assert lead.get(f"/api/v1/projects/{project.slug}/").json()["queue_order"] == "informative"


def test_a_scoring_shows_its_attempt_and_why_it_was_requeued(researcher: Any, project: Project) -> None:
    reason = "attempt 1: its worker stopped sending heartbeats (last 2026-01-02T03:04:05+00:00)"
    scoring = PriorityScoring.objects.create(
        project=project, signal=PrioritySignal.HUMAN_DISAGREEMENT, attempt=2, requeue_reason=reason
    )
    body = _client(researcher).get(f"/api/v1/priority-scorings/{scoring.pk}/").json()
    assert (body["attempt"], body["requeue_reason"]) == (2, reason)

"""Cancelling a training job asks for confirmation; a job sent to a queue that no live worker consumes says so, at
launch and on its page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from rm_jobs.models import JobStatus, TrainingJob
from rm_jobs.selectors import workers
from tests.rm_jobs.views.conftest import HX

pytestmark = pytest.mark.django_db


@pytest.fixture
def replies(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """What Celery's inspection answers (a dict the test fills), counting the calls; the cache starts empty."""
    state: dict[str, Any] = {"answer": {}, "calls": 0}

    def inspect() -> dict[str, Any]:
        state["calls"] += 1
        if isinstance(state["answer"], Exception):
            raise state["answer"]
        return state["answer"]

    monkeypatch.setattr(workers, "_inspect_active_queues", inspect)
    cache.clear()
    yield state
    cache.clear()


def _job(project: Any, snapshot: Any, queue: str = "gpu") -> TrainingJob:
    return TrainingJob.objects.create(
        project=project, snapshot=snapshot, objective="bt", base_model="tiny", queue=queue
    )


def test_cancel_without_confirmation_changes_nothing_and_asks(
    web: Client, project: Any, snapshot: Any, replies
) -> None:
    job = _job(project, snapshot)
    page = web.get(f"/p/{project.slug}/jobs/{job.id}/").content.decode()
    assert "hx-confirm=" in page  # with htmx: the browser asks first
    asked = web.post(f"/p/{project.slug}/jobs/{job.id}/cancel/")
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert asked.status_code == 200
    assert f"Yes, cancel job {job.id}" in asked.content.decode()
    done = web.post(f"/p/{project.slug}/jobs/{job.id}/cancel/", {"confirm": "yes"})
    assert done.status_code == 302
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED


def test_htmx_cancel_sends_the_confirmation(web: Client, project: Any, snapshot: Any, replies) -> None:
    job = _job(project, snapshot)
    after = web.post(f"/p/{project.slug}/jobs/{job.id}/cancel/", {"confirm": "yes"}, **HX).content.decode()
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert 'data-status="cancelled"' in after


def test_a_job_on_a_queue_without_a_worker_warns_at_launch_and_on_its_page(
    web: Client, project: Any, snapshot: Any, tiny_base_model: Any, replies: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    replies["answer"] = {"celery@cpu": [{"name": "default"}]}  # only the default queue has a worker
    form = {"snapshot": snapshot.id, "objective": "bt", "base_model": "tiny", "queue": "gpu", "learning_rate": "0.0001",
            "batch_size": "8", "epochs": "1", "max_steps": "5", "max_length": "64"}  # fmt: skip
    with django_capture_on_commit_callbacks(execute=False):
        launched = web.post(f"/p/{project.slug}/jobs/", form, follow=True)
    html = launched.content.decode()
    assert "No worker is listening on the &#x27;gpu&#x27; queue" in html
    job = TrainingJob.objects.get()
    status = web.get(f"/p/{project.slug}/jobs/{job.id}/", **HX).content.decode()
    assert "job-no-worker" in status
    assert replies["calls"] == 1  # cached: the polling page does not ask the broker each time


def test_no_warning_when_a_worker_listens_or_the_job_is_no_longer_queued(
    web: Client, project: Any, snapshot: Any, replies: dict[str, Any]
) -> None:
    replies["answer"] = {"gpu@box": [{"name": "gpu"}]}
    job = _job(project, snapshot)
    assert "job-no-worker" not in web.get(f"/p/{project.slug}/jobs/{job.id}/").content.decode()
    cache.clear()
    replies["answer"] = {}
    TrainingJob.objects.filter(pk=job.pk).update(status=JobStatus.CANCELLED)
    assert "job-no-worker" not in web.get(f"/p/{project.slug}/jobs/{job.id}/").content.decode()


def test_an_unreachable_broker_means_no_warning_not_an_error(
    web: Client, project: Any, snapshot: Any, replies: dict[str, Any]
) -> None:
    replies["answer"] = ConnectionRefusedError("broker down")
    job = _job(project, snapshot)
    page = web.get(f"/p/{project.slug}/jobs/{job.id}/")
    assert page.status_code == 200
    assert "job-no-worker" not in page.content.decode()

"""A real worker process, on the embedded broker locally and on Redis in CI, runs a task and returns its result."""

from __future__ import annotations

import pytest
from django.db import connection
from django_celery_results.models import TaskResult

from config.tasks import worker_health_task
from tests.factories import ProjectFactory
from tests.worker import worker_process

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_real_worker_runs_a_task_against_the_same_database() -> None:
    ProjectFactory.create_batch(2)
    with worker_process():
        result = worker_health_task.delay()
        payload = result.get(timeout=60)
    assert payload["projects"] == 2
    assert payload["database"] == connection.vendor
    assert TaskResult.objects.get(task_id=result.id).status == "SUCCESS"

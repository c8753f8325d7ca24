"""Tasks that belong to no app: the worker's health check."""

from __future__ import annotations

import socket

from celery import shared_task
from django.db import connection


@shared_task(name="prefstack.worker_health")
def worker_health_task() -> dict[str, object]:
    """Proves a worker is up and reaches the same database as the web process."""
    from annotator.models import Project

    return {"hostname": socket.gethostname(), "database": connection.vendor, "projects": Project.objects.count()}

"""Reads of model endpoints: a project's own and the site's, as leads manage them and researchers read them."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from annotator.errors import NotFound
from annotator.models import ModelEndpoint, Project


def model_endpoint_list(*, project: Project) -> QuerySet[ModelEndpoint]:
    """The endpoints ``project`` may use: its own and the site's (``project`` empty), by name."""
    return ModelEndpoint.objects.filter(Q(project=project) | Q(project__isnull=True)).order_by("name", "id")


def model_endpoint_get_for_project(*, project: Project, endpoint_id: int) -> ModelEndpoint:
    """Endpoint ``endpoint_id`` if ``project`` may use it (its own or the site's); NotFound otherwise."""
    endpoint = model_endpoint_list(project=project).filter(id=endpoint_id).first()
    if endpoint is None:
        raise NotFound("No such model endpoint in this project.")
    return endpoint

"""A short property-based run over the whole API schema (schemathesis): as an authenticated researcher with real
path parameters, no generated request — valid or malformed body, query or path — may give a server error."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error

from annotator.models import Role
from annotator.services.snapshots.lifecycle import snapshot_build, snapshot_create
from annotator.tasks import snapshot_build_task
from config.wsgi import application
from tests.annotator.services.test_snapshots import annotate
from tests.factories import ComparisonFactory, ProjectFactory, member

schema = schemathesis.openapi.from_wsgi("/api/schema/", application).include(
    path_regex=r"^/api/v1/", method=["GET", "POST"]
)


@pytest.fixture
def _keep_test_connection() -> Iterator[None]:
    """As Django's test client does: the WSGI handler must not close the test transaction's connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def researcher_world(db: None, _keep_test_connection: None) -> dict[str, Any]:
    project = ProjectFactory()
    researcher = member(project, Role.RESEARCHER)
    member(project, Role.LEAD, username=researcher.username)
    annotator = member(project, Role.ANNOTATOR)
    comparison = ComparisonFactory(project=project)
    annotate(comparison, annotator, 2, 3, 1)
    with mock.patch.object(snapshot_build_task, "delay"):
        snapshot = snapshot_create(project=project, user=researcher)
    snapshot_build(snapshot_id=snapshot.id)
    return {
        "token": Token.objects.create(user=researcher).key,
        "path": {"slug": project.slug, "snapshot_id": snapshot.id, "comparison_id": comparison.id},
    }


@schema.parametrize()
@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_no_server_errors(case: Any, researcher_world: dict[str, Any]) -> None:
    # Real objects in the path half of the time, so the bodies and query strings reach the code behind them.
    if case.path_parameters and hash(str(case.query) + str(case.body)) % 2 == 0:
        for name, value in researcher_world["path"].items():
            if name in case.path_parameters:
                case.path_parameters[name] = value
    with mock.patch.object(snapshot_build_task, "delay"):
        response = case.call(headers={"Authorization": f"Token {researcher_world['token']}"})
    case.validate_response(response, checks=[not_a_server_error])

"""A short property-based run over the whole API schema (schemathesis, every check): as an authenticated researcher
with real path parameters, generated requests — valid or malformed body, query or path — must get answers the schema
documents (status, content type, body), valid ones must be accepted and malformed ones refused, never a server
error, and the same request without credentials or with a wrong token must be refused."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import positive_data_acceptance
from schemathesis.transport.serialization import serialize_binary

from annotator.error_codes import ErrorCode
from annotator.models import Role
from annotator.services.snapshots.lifecycle import snapshot_build, snapshot_create
from annotator.tasks import snapshot_build_task
from config.wsgi import application
from tests.annotator.services.test_snapshots import annotate
from tests.factories import ComparisonFactory, ProjectFactory, member

# A few examples per operation and phase keep the run fast (CI may raise it for a longer search).
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "3"))

schema = schemathesis.openapi.from_wsgi("/api/schema/", application).include(path_regex=r"^/api/v1/")
# A file's content is beyond what a schema can say: an upload the request delivers correctly but whose file cannot be
# used (a malformed dataset) is the documented 422, alongside the statuses schemathesis expects for valid requests.
acceptance = schema.config.checks.positive_data_acceptance
acceptance.expected_statuses = [*acceptance.expected_statuses, "422"]
# Fields each valid alone that cannot go together (QLoRA without a rank, more devices than the queue's workers have,
# a model too large for the queue) are a documented 400 with a code of their own: a schema cannot state such rules.
COMBINATION_CODES = {ErrorCode.INVALID_COMBINATION, ErrorCode.DOES_NOT_FIT}


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
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_the_api_conforms_to_its_schema(case: Any, researcher_world: dict[str, Any]) -> None:
    # Real objects in the path half of the time, so the bodies and query strings reach the code behind them.
    # (Never where the path itself is the malformed part: a real id would make that case valid.)
    negative_path = case.meta is not None and case.meta.is_negative_at(ParameterLocation.PATH)
    if case.path_parameters and not negative_path and hash(str(case.query) + str(case.body)) % 2 == 0:
        for name, value in researcher_world["path"].items():
            if name in case.path_parameters:
                case.path_parameters[name] = value
    # Werkzeug's multipart encoder drops the line break after an empty file part, so Django never sees the file; a
    # real client's empty file reaches the API (and is refused for its content, 422).
    if isinstance(case.body, dict) and "file" in case.body and not serialize_binary(case.body["file"]):
        case.body["file"] = b"\n"
    # Explicit credentials, so that the auth checks probe the same request without them and with a wrong token;
    # identity encoding, because the WSGI transport does not undo GZipMiddleware's compression.
    headers = {"Authorization": f"Token {researcher_world['token']}", "Accept-Encoding": "identity"}
    with mock.patch.object(snapshot_build_task, "delay"):
        response = case.call(headers=headers)
        refused_combination = response.status_code == 400 and response.json().get("code") in COMBINATION_CODES
        excluded = [positive_data_acceptance] if refused_combination else None
        case.validate_response(response, headers=headers, excluded_checks=excluded)

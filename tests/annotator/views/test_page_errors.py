"""Pages answer an ApplicationError by its status, through one middleware and one project-access helper."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.storage.fallback import FallbackStorage
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.urls import reverse

from annotator.error_codes import ErrorCode
from annotator.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from annotator.middleware import ApplicationErrorMiddleware
from annotator.models import Project, Role
from tests.factories import ProjectFactory, member

pytestmark = pytest.mark.django_db


def _middleware() -> ApplicationErrorMiddleware:
    return ApplicationErrorMiddleware(lambda request: HttpResponse())


def _request() -> object:
    request = RequestFactory().get("/somewhere/")
    request.user = AnonymousUser()
    request.session = {}  # type: ignore[attr-defined]
    request._messages = FallbackStorage(request)  # type: ignore[attr-defined]
    return request


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (NotFound("No such thing."), 404),
        (PermissionDenied("Leads only."), 403),
        (Conflict("Already done.", code=ErrorCode.ALREADY_SUBMITTED), 409),
        (ValidationFailed("Bad input."), 400),
    ],
)
def test_an_application_error_becomes_the_page_its_status_says(error: Exception, status: int) -> None:
    response = _middleware().process_exception(_request(), error)  # type: ignore[arg-type]
    assert response is not None
    assert response.status_code == status
    if status in (400, 409):
        assert error.args[0] in response.content.decode()


def test_other_exceptions_are_left_alone() -> None:
    assert _middleware().process_exception(_request(), ValueError("boom")) is None  # type: ignore[arg-type]


def _lead_client(project: Project) -> Client:
    client = Client()
    client.force_login(member(project, Role.LEAD))
    return client


@pytest.mark.parametrize(("name", "field"), [("setup_attributes", "attribute"), ("setup_members", "membership")])
@pytest.mark.parametrize("raw", ["abc", "", "99999999999999999999999"])
def test_a_malformed_posted_id_is_not_found_never_a_server_error(name: str, field: str, raw: str) -> None:
    project = ProjectFactory()
    url = reverse(f"annotator:{name}", kwargs={"slug": project.slug})
    response = _lead_client(project).post(url, {"action": "delete" if field == "attribute" else "remove", field: raw})
    assert response.status_code == 404


def test_a_review_of_another_projects_annotation_is_not_found() -> None:
    project, other = ProjectFactory(), ProjectFactory()
    url = reverse("annotator:lead_review", kwargs={"slug": project.slug, "annotation_id": 10**6})
    assert _lead_client(project).post(url, {"decision": "accept"}).status_code == 404
    assert _lead_client(other).post(url, {"decision": "accept"}).status_code == 404

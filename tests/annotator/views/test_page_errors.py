"""Pages find what they act on through selectors: a missing or malformed id is a 404, never a 500."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from annotator.models import Project, Role
from tests.factories import ProjectFactory, member

pytestmark = pytest.mark.django_db


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

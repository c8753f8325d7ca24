from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from annotator.models import Role
from tests.factories import ProjectFactory, member

pytestmark = pytest.mark.django_db


def test_projects_list_and_detail() -> None:
    project, other = ProjectFactory(), ProjectFactory()
    user = member(project, Role.RESEARCHER)
    client = APIClient()
    client.force_authenticate(user)
    listing = client.get("/api/v1/projects/").json()
    assert [p["slug"] for p in listing["results"]] == [project.slug]
    assert listing["results"][0]["roles"] == ["researcher"]
    detail = client.get(f"/api/v1/projects/{project.slug}/").json()
    assert [a["name"] for a in detail["attributes"]][:2] == ["helpfulness", "correctness"]
    assert client.get(f"/api/v1/projects/{other.slug}/").status_code == 404

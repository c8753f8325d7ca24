"""Annotations over the API: leads and researchers see all, annotators their own."""

from __future__ import annotations

from pathlib import Path

import pytest
from rest_framework.test import APIClient

from annotator.models import Role
from annotator.services.imports import comparisons_import
from tests.annotator.services.test_snapshots import annotate
from tests.factories import ComparisonFactory, ProjectFactory, member

pytestmark = pytest.mark.django_db


def test_who_sees_which_annotations() -> None:
    project = ProjectFactory()
    alice, bob = member(project, Role.ANNOTATOR), member(project, Role.ANNOTATOR)
    comparison = ComparisonFactory(project=project)
    mine = annotate(comparison, alice, 2, 3, 1)
    annotate(comparison, bob, 3, 3, 0)
    url = f"/api/v1/projects/{project.slug}/annotations/"
    client = APIClient()
    client.force_authenticate(alice)
    body = client.get(url).json()
    assert [a["id"] for a in body["results"]] == [mine.id]
    assert body["results"][0]["ratings"]["1"]["helpfulness"] == 2
    client.force_authenticate(member(project, Role.RESEARCHER))
    assert client.get(url).json()["count"] == 2
    assert client.get(url, {"comparison": comparison.id}).json()["count"] == 2
    assert client.get(url, {"comparison": "x"}).status_code == 400


def test_an_imported_not_ratable_judgement_is_listed_as_such() -> None:
    project = ProjectFactory()
    fixture = Path(__file__).resolve().parents[2] / "fixtures" / "formats" / "helpsteer2_preference.jsonl"
    comparisons_import(project=project, source=str(fixture), fmt="helpsteer2-preference")
    client = APIClient()
    client.force_authenticate(member(project, Role.RESEARCHER))
    results = client.get(f"/api/v1/projects/{project.slug}/annotations/", {"limit": 50}).json()["results"]
    flagged = [(a["preference_strength"], a["justification"]) for a in results if a["not_ratable"]]
    assert flagged == [(None, "Neither response is in English.")]

"""The claim over the API where the project has qualification sets: 400 not_qualified with the sets to take, and
nothing written; after passing, the domain's work."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from annotator.models import Assignment, AttemptStatus, QualificationAttempt
from annotator.services.projects import comparison_mark_gold
from annotator.services.qualification import qualification_set_create
from tests.factories import ComparisonFactory, ProjectFactory, member

pytestmark = pytest.mark.django_db


def test_an_unqualified_claim_is_a_400_with_the_code_and_writes_nothing_then_passing_opens_the_work() -> None:
    project = ProjectFactory(overlap=1)
    gold = ComparisonFactory(project=project, prompt__domain="code")
    comparison_mark_gold(comparison=gold, gold_ratings={"strength": -3}, tolerance=1)
    qualification_set = qualification_set_create(project=project, name="Code", domain="code", items=[(gold.pk, "")])
    work = ComparisonFactory(project=project, prompt__domain="code")
    annotator = member(project)
    client = APIClient()
    client.force_authenticate(annotator)
    url = f"/api/v1/projects/{project.slug}/assignments/next/"

    response = client.post(url)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "not_qualified" and "Code" in body["message"]
    assert body["extra"]["qualification_sets"] == [
        {"id": qualification_set.pk, "name": "Code", "domain": "code", "language": ""}
    ]
    assert not Assignment.objects.filter(annotator=annotator).exists()

    QualificationAttempt.objects.create(
        qualification_set=qualification_set, annotator=annotator, number=1, status=AttemptStatus.PASSED,
        score=1.0, started_at=gold.created_at,
    )  # fmt: skip
    claimed = client.post(url)
    assert claimed.status_code == 200
    assert claimed.json()["comparison"]["id"] == work.pk

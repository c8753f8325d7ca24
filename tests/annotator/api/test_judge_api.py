"""The judge API: runs (launch by leads, list), drafts and the calibration report; annotators get 403."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from annotator.llm.judge import DEFAULT_TEMPLATE
from annotator.models import (
    Annotation,
    Assignment,
    AssignmentStatus,
    JudgeDraft,
    JudgeDraftStatus,
    JudgeRun,
    JudgeRunStatus,
    Project,
    Role,
)
from annotator.services.judge import judge_save
from tests.factories import ComparisonFactory, ModelEndpointFactory, ProjectFactory, full_ratings, member

pytestmark = pytest.mark.django_db


def _api(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def project() -> Project:
    project = ProjectFactory()
    judge_save(project=project, endpoint=ModelEndpointFactory(project=project), template=DEFAULT_TEMPLATE)
    run = JudgeRun.objects.create(project=project, template=DEFAULT_TEMPLATE, status=JudgeRunStatus.SUCCEEDED)
    annotator = member(project, Role.ANNOTATOR)
    for index, (judged, human) in enumerate([(-2, -1), (1, 2), (2, -3), (-1, 0)]):
        comparison = ComparisonFactory(project=project)
        JudgeDraft.objects.create(run=run, comparison=comparison, status=JudgeDraftStatus.OK,
                                  ratings=full_ratings(project, 2 + index % 2), preference_strength=judged,
                                  confidence=0.75, reason=f"reason {index}")  # fmt: skip
        assignment = Assignment.objects.create(comparison=comparison, annotator=annotator,
                                               status=AssignmentStatus.SUBMITTED)  # fmt: skip
        Annotation.objects.create(assignment=assignment, comparison=comparison, annotator=annotator,
                                  ratings=full_ratings(project, 2), preference_strength=human)  # fmt: skip
    JudgeDraft.objects.create(run=run, comparison=ComparisonFactory(project=project), status=JudgeDraftStatus.FAILED,
                              failure="schema: preference_strength is missing.")  # fmt: skip
    return project


def test_the_calibration_report(project: Project) -> None:
    body = _api(member(project, Role.RESEARCHER)).get(f"/api/v1/projects/{project.slug}/judge/calibration/").json()
    preference = body["preference"]
    assert (body["comparisons"], preference["n_decided"], preference["accuracy"]) == (4, 3, pytest.approx(2 / 3))
    assert preference["direction_confusion"] == [[1, 0, 1], [1, 0, 0], [0, 0, 1]]
    assert preference["ece"] == pytest.approx(abs(2 / 3 - 0.75))
    helpfulness = next(a for a in body["attributes"] if a["name"] == "helpfulness")
    assert helpfulness["n"] == 8 and helpfulness["exact_agreement"] == 0.5
    assert set(helpfulness["alpha"]) == {"value", "low", "high"}


def test_drafts_list_with_failures(project: Project) -> None:
    body = _api(member(project, Role.LEAD)).get(f"/api/v1/projects/{project.slug}/judge/drafts/").json()
    assert body["count"] == 5
    failed = [d for d in body["results"] if d["status"] == "failed"]
    assert [d["failure"] for d in failed] == ["schema: preference_strength is missing."]


def test_annotators_get_403_and_researchers_may_not_launch(project: Project) -> None:
    annotator = _api(member(project, Role.ANNOTATOR))
    for path in ("judge/calibration/", "judge/drafts/", "judge/runs/"):
        assert annotator.get(f"/api/v1/projects/{project.slug}/{path}").status_code == 403
    researcher = _api(member(project, Role.RESEARCHER))
    assert researcher.post(f"/api/v1/projects/{project.slug}/judge/runs/create/").status_code == 403


def test_leads_launch_a_run(project: Project, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        response = _api(member(project, Role.LEAD)).post(f"/api/v1/projects/{project.slug}/judge/runs/create/")
    assert response.status_code == 202 and response.json()["status"] == "queued"
    assert response.json()["items_total"] == 5


def test_no_run_yet_is_a_404_with_the_reason() -> None:
    project = ProjectFactory()
    response = _api(member(project, Role.LEAD)).get(f"/api/v1/projects/{project.slug}/judge/calibration/")
    assert response.status_code == 404 and "no succeeded run" in response.json()["message"]

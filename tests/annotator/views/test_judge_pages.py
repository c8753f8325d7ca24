"""The judge's pages: leads attach and run it and read drafts and calibration; researchers read; annotators get 403
here, and no annotator page or API shows a draft (blind: the reason text never reaches them)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from annotator.llm.judge import DEFAULT_TEMPLATE
from annotator.models import (
    Annotation,
    Assignment,
    AssignmentStatus,
    Comparison,
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

SECRET_REASON = "Response 2 cites the 1889 tariff act verbatim."


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _drafted(project: Project, comparison: Comparison, strength: int = 2) -> JudgeDraft:
    judge_save(project=project, endpoint=ModelEndpointFactory(project=project), template=DEFAULT_TEMPLATE)
    run = JudgeRun.objects.create(project=project, template=DEFAULT_TEMPLATE, status=JudgeRunStatus.SUCCEEDED,
                                  items_total=1, items_done=1)  # fmt: skip
    return JudgeDraft.objects.create(
        run=run, comparison=comparison, status=JudgeDraftStatus.OK, ratings=full_ratings(project, 3),
        preference_strength=strength, confidence=0.9, reason=SECRET_REASON,
    )  # fmt: skip


def test_leads_see_drafts_and_the_calibration_report() -> None:
    project = ProjectFactory(overlap=1)
    comparison = ComparisonFactory(project=project)
    _drafted(project, comparison)
    annotator = member(project, Role.ANNOTATOR)
    assignment = Assignment.objects.create(
        comparison=comparison, annotator=annotator, status=AssignmentStatus.SUBMITTED
    )
    Annotation.objects.create(assignment=assignment, comparison=comparison, annotator=annotator,
                              ratings=full_ratings(project, 3), preference_strength=1)  # fmt: skip
    lead = _client(member(project, Role.LEAD))
    page = lead.get(f"/p/{project.slug}/judge/")
    assert page.status_code == 200
    text = page.content.decode()
    assert SECRET_REASON in text
    assert 'id="calibration-table"' in text and "Preference accuracy: <strong>1.000</strong>" in text
    data = lead.get(f"/p/{project.slug}/judge/calibration.json").json()
    assert data["comparisons"] == 1 and data["preference"]["accuracy"] == 1.0
    assert [a["name"] for a in data["attributes"]] == list(project.attributes.values_list("name", flat=True))
    assert _client(member(project, Role.RESEARCHER)).get(f"/p/{project.slug}/judge/").status_code == 200


def test_annotators_never_see_a_draft() -> None:
    project = ProjectFactory(overlap=1)
    comparison = ComparisonFactory(project=project)
    _drafted(project, comparison)
    annotator = member(project, Role.ANNOTATOR)
    web = _client(annotator)
    assert web.get(f"/p/{project.slug}/judge/").status_code == 403
    assert web.get(f"/p/{project.slug}/judge/calibration.json").status_code == 403
    api = APIClient()
    api.force_authenticate(annotator)
    claimed = api.post(f"/api/v1/projects/{project.slug}/assignments/next/")
    assert claimed.status_code == 200 and comparison.response_1.text in claimed.content.decode()
    assert SECRET_REASON not in claimed.content.decode()
    page = web.get(f"/p/{project.slug}/annotate/")  # the reserved comparison, as the annotator sees it
    assert page.status_code == 200 and comparison.response_1.text in page.content.decode()
    assert SECRET_REASON not in page.content.decode()
    assert SECRET_REASON not in web.post(f"/p/{project.slug}/annotate/").content.decode()
    assert SECRET_REASON not in web.get(f"/p/{project.slug}/").content.decode()


def test_only_leads_attach_a_judge_and_a_bad_template_is_refused_in_place() -> None:
    project = ProjectFactory()
    endpoint = ModelEndpointFactory(project=project)
    lead = _client(member(project, Role.LEAD))
    refused = lead.post(f"/p/{project.slug}/judge/", {"endpoint": endpoint.pk, "template": "{conversation} {oops}"})
    assert refused.status_code == 400 and "unknown placeholder {oops}" in refused.content.decode()
    saved = lead.post(f"/p/{project.slug}/judge/", {"endpoint": endpoint.pk, "template": DEFAULT_TEMPLATE})
    assert saved.status_code == 302 and project.judge.endpoint == endpoint
    researcher = _client(member(project, Role.RESEARCHER))
    assert researcher.post(f"/p/{project.slug}/judge/", {"endpoint": endpoint.pk}).status_code == 403


def test_running_without_a_judge_says_why() -> None:
    project = ProjectFactory()
    ComparisonFactory(project=project)
    lead = _client(member(project, Role.LEAD))
    response = lead.post(f"/p/{project.slug}/judge/run/", follow=True)
    assert "Attach a judge first" in response.content.decode()


def test_the_htmx_poll_answers_the_runs_table_only() -> None:
    project = ProjectFactory()
    _drafted(project, ComparisonFactory(project=project))
    response = _client(member(project, Role.LEAD)).get(f"/p/{project.slug}/judge/", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and html.lstrip().startswith('<div id="judge-runs"')
    assert "<html" not in html and SECRET_REASON not in html


def test_the_runs_table_shows_the_attempt_and_why_a_run_was_requeued() -> None:
    project = ProjectFactory()
    draft = _drafted(project, ComparisonFactory(project=project))
    reason = "attempt 1: its worker stopped sending heartbeats (last 2026-01-02T03:04:05+00:00)"
    JudgeRun.objects.filter(pk=draft.run_id).update(attempt=2, requeue_reason=reason)
    html = _client(member(project, Role.LEAD)).get(f"/p/{project.slug}/judge/", HTTP_HX_REQUEST="true").content.decode()
    assert f"Attempt 2 · re-queued after {reason}" in html

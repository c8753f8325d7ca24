"""The scoring page of a finished job: the score API's service behind a form; bad input in place, never a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.utils.html import escape

from annotator.models import Role
from rm_jobs.models import JobStatus, TrainingJob
from rm_jobs.services.scoring import reward_model_score
from tests.factories import member
from tests.rm_jobs.conftest import succeeded_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def done(snapshot: Any, trained_model: Any) -> TrainingJob:
    return succeeded_job(snapshot, trained_model)


def _url(job: TrainingJob) -> str:
    return f"/p/{job.project.slug}/jobs/{job.id}/score/"


def test_the_job_page_links_the_scoring_page_and_it_scores_like_the_api(web, done) -> None:
    assert _url(done) in web.get(f"/p/{done.project.slug}/jobs/{done.id}/").content.decode()
    assert web.get(_url(done)).status_code == 200
    turns = [{"role": "user", "content": "How?"}]
    data = {"prompt_format": "turns", "prompt": json.dumps(turns), "response_1": "clear correct", "response_3": "wrong"}
    page = web.post(_url(done), data)
    assert page.status_code == 200
    html = page.content.decode()
    expected = reward_model_score(job=done, prompt=turns, responses=["clear correct", "wrong"])
    assert 'data-response="1"' in html and 'data-response="2"' in html
    assert f'<td class="num" data-reward>{expected.rewards[1]:.4f}</td>' in html


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"prompt_format": "text", "prompt": "Q"}, 400, "Give at least one response."),
        ({"prompt_format": "turns", "prompt": "[{", "response_1": "a"}, 400, "Not valid JSON"),
        ({"prompt_format": "turns", "prompt": '[{"role": "boss", "content": "x"}]', "response_1": "a"}, 400, "role"),
        ({"prompt_format": "text", "prompt": "Q " * 200, "response_1": "a"}, 413, "this model reads at most"),
    ],
)
def test_bad_input_is_shown_in_place(web, done, data, status, message) -> None:
    page = web.post(_url(done), data)
    assert page.status_code == status
    assert message in page.content.decode()
    assert escape(data["prompt"]) in page.content.decode()  # nothing typed is lost


def test_a_job_that_has_not_succeeded_cannot_score(web, done) -> None:
    TrainingJob.objects.filter(pk=done.pk).update(status=JobStatus.FAILED)
    page = web.post(_url(done), {"prompt_format": "text", "prompt": "Q", "response_1": "a"})
    assert page.status_code == 409
    assert "only a succeeded job" in page.content.decode()


def test_annotators_may_not_score(done) -> None:
    client = Client()
    client.force_login(member(done.project, Role.ANNOTATOR))
    assert client.get(_url(done)).status_code == 403

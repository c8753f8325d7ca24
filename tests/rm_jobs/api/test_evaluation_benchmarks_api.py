"""Benchmark evaluations over the API: a JudgeBench file scored end to end by the tiny model with its results JSON
downloadable; a file in the wrong layout is a 400 with its code; the results endpoint's permissions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from annotator.models import Role
from rm_jobs.models import Evaluation, TrainingJob
from tests.factories import member
from tests.rm_jobs.conftest import succeeded_job
from tests.rm_jobs.training.test_benchmarks import FIXTURES

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(researcher: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(researcher)
    return client


@pytest.fixture
def done(snapshot: Any, trained_model: Path) -> TrainingJob:
    return succeeded_job(snapshot, trained_model)


def post_file(api: APIClient, job: TrainingJob, name: str, **extra: str) -> Any:
    upload = SimpleUploadedFile(name, (FIXTURES / name).read_bytes())
    return api.post(
        f"/api/v1/training-jobs/{job.id}/evaluations/create/", {"file": upload, **extra}, format="multipart"
    )


def test_a_judgebench_file_is_scored_by_the_model_and_its_results_download(
    api, done, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        response = post_file(api, done, "judgebench.jsonl", benchmark="judgebench")
    assert response.status_code == 202, response.json()
    assert response.json()["kind"] == "judgebench"
    assert response.json()["results_url"] is None
    from rm_jobs.services.evaluations import evaluation_run

    evaluation = evaluation_run(evaluation_id=response.json()["id"])  # what the queued task runs
    assert evaluation is not None and evaluation.status == "succeeded", evaluation and evaluation.error
    body = api.get(f"/api/v1/evaluations/{evaluation.id}/").json()
    assert body["metrics"]["benchmark"] == "judgebench"
    assert set(body["metrics"]["per_subset"]) == {"coding", "knowledge", "math"}
    assert set(body["metrics"]["details"]["per_source"]) == {
        "mmlu-pro-biology", "mmlu-pro-law", "livebench-math", "livecodebench"
    }  # fmt: skip
    assert body["metrics"]["num_rows"] == 4
    assert 0.0 <= body["metrics"]["overall"] <= 1.0
    download = api.get(body["results_url"])
    assert download.status_code == 200
    assert download["Content-Type"] == "application/json"
    assert f"evaluation-{evaluation.id}-judgebench.json" in download["Content-Disposition"]
    pairs = json.loads(b"".join(download.streaming_content))
    assert [p["pair_id"] for p in pairs] == ["p-0001", "p-0002", "p-0003", "p-0004"]
    for pair in pairs:  # JudgeBench's own output rows: a decision from the two rewards
        score_a, score_b = pair["judgments"][0]["scores"]
        expected = "A>B" if score_a > score_b else "B>A" if score_b > score_a else "A=B"
        assert pair["judgments"][0]["decision"] == expected
    correct = sum(p["judgments"][0]["decision"] == p["label"] for p in pairs)
    assert body["metrics"]["overall"] == pytest.approx(correct / 4)


def test_a_file_in_the_wrong_layout_is_a_422_with_its_code(api, done):
    before = Evaluation.objects.count()
    response = post_file(api, done, "rm_bench_two_styles.json")
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "benchmark_layout"
    assert "Row 1" in body["message"]
    assert Evaluation.objects.count() == before
    chosen_wrong = post_file(api, done, "judgebench.jsonl", benchmark="rm-bench")
    assert chosen_wrong.status_code == 422
    assert chosen_wrong.json()["code"] == "benchmark_layout"


def test_the_results_endpoint_has_nothing_for_a_validation_run_and_keeps_annotators_out(api, project, done):
    evaluation = done.evaluations.get()
    response = api.get(f"/api/v1/evaluations/{evaluation.id}/results.json")
    assert response.status_code == 404
    assert response.json()["code"] == "no_results_file"
    annotator = APIClient()
    annotator.force_authenticate(member(project, Role.ANNOTATOR))
    assert annotator.get(f"/api/v1/evaluations/{evaluation.id}/results.json").status_code == 403


def test_an_evaluation_shows_its_attempt_and_why_it_was_requeued(api, done):
    evaluation = Evaluation.objects.get(job=done)
    reason = "attempt 1: its worker stopped sending heartbeats (last 2026-01-02T03:04:05+00:00)"
    Evaluation.objects.filter(pk=evaluation.pk).update(attempt=2, requeue_reason=reason)
    body = api.get(f"/api/v1/evaluations/{evaluation.pk}/").json()
    assert (body["attempt"], body["requeue_reason"]) == (2, reason)

"""Benchmark evaluations on the job page: a wrong layout is a message in place (htmx or not), results per subset or
domain are shown, and the results JSON downloads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from rm_jobs.models import Evaluation, EvaluationKind, EvaluationStatus, TrainingJob
from rm_jobs.services.jobs import job_output_dir
from tests.rm_jobs.conftest import succeeded_job
from tests.rm_jobs.training.test_benchmarks import FIXTURES
from tests.rm_jobs.views.conftest import HX

pytestmark = pytest.mark.django_db


@pytest.fixture
def done(snapshot: Any, tmp_path: Path) -> TrainingJob:
    return succeeded_job(snapshot, tmp_path)


@pytest.mark.parametrize("headers", [HX, {}])
def test_a_file_in_the_wrong_layout_is_a_message_in_place(web, project, done, headers):
    upload = SimpleUploadedFile("rm_bench_two_styles.json", (FIXTURES / "rm_bench_two_styles.json").read_bytes())
    response = web.post(
        f"/p/{project.slug}/jobs/{done.id}/evaluations/", {"file": upload, "benchmark": "auto"}, **headers
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Row 1 is not in the rm-bench layout" in html  # on the file field, where the error is
    assert "3 responses (concise, detailed plain, detailed markdown)" in html
    assert Evaluation.objects.filter(job=done).count() == 1  # only the end-of-training one


def test_an_upload_queues_with_the_chosen_benchmark(web, project, done, django_capture_on_commit_callbacks):
    upload = SimpleUploadedFile("judgebench.jsonl", (FIXTURES / "judgebench.jsonl").read_bytes())
    with django_capture_on_commit_callbacks(execute=False):
        response = web.post(
            f"/p/{project.slug}/jobs/{done.id}/evaluations/", {"file": upload, "benchmark": "judgebench"}, **HX
        )
    assert response.status_code == 200
    assert Evaluation.objects.get(job=done, kind=EvaluationKind.JUDGEBENCH).status == EvaluationStatus.QUEUED
    assert "JudgeBench-style pairs" in response.content.decode()


def test_an_rm_bench_result_shows_domains_levels_and_the_download(web, project, done):
    folder = job_output_dir(done) / "evaluation-results"
    folder.mkdir(parents=True)
    (folder / "e.json").write_text('[{"id": "chat/1", "score_chosen": [3, 2, 1]}]')
    evaluation = Evaluation.objects.create(
        job=done,
        kind=EvaluationKind.RM_BENCH,
        status=EvaluationStatus.SUCCEEDED,
        results_file=str((folder / "e.json").relative_to(settings.MEDIA_ROOT)),
        metrics={
            "benchmark": "rm-bench",
            "overall": 0.5,
            "per_subset": {"chat": 0.667, "safety": 0.333},
            "details": {
                "easy": 0.583,
                "normal": 0.5,
                "hard": 0.417,
                "per_domain": {
                    "chat": {"easy": 0.833, "normal": 0.667, "hard": 0.5},
                    "safety": {"easy": 0.333, "normal": 0.333, "hard": 0.333},
                },
            },
            "num_rows": 4,
        },
    )
    html = web.get(f"/p/{project.slug}/jobs/{done.id}/").content.decode()
    assert "RM-Bench score" in html
    assert '<strong data-metric="overall">0.500</strong>' in html
    assert "hard 0.417" in html
    assert '<tr data-subset="chat"><td>chat</td><td class="num">0.833</td><td class="num">0.667</td>' in html
    link = f"/p/{project.slug}/jobs/{done.id}/evaluations/{evaluation.id}/results.json"
    assert f'href="{link}"' in html
    download = web.get(link)
    assert download.status_code == 200
    assert b"".join(download.streaming_content).startswith(b'[{"id": "chat/1"')


def test_no_download_for_a_validation_run(web, project, done):
    evaluation = done.evaluations.get()
    assert web.get(f"/p/{project.slug}/jobs/{done.id}/evaluations/{evaluation.id}/results.json").status_code == 404

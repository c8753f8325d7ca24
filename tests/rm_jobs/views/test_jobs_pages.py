"""The jobs pages, with and without htmx: list and launch, job page (polling only while active), cancel, checkpoint
download, evaluations and review, the comparison table; annotators 403, non-members 404."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client

from annotator.models import Role
from rm_jobs.models import Evaluation, JobMetric, JobStatus, ReviewRequest, TrainingJob
from tests.factories import UserFactory, member
from tests.rm_jobs.conftest import succeeded_job
from tests.rm_jobs.views.conftest import HX

pytestmark = pytest.mark.django_db


@pytest.fixture
def done(snapshot: Any, trained_model: Any) -> TrainingJob:
    return succeeded_job(snapshot, trained_model)


def test_list_page_shows_jobs_and_the_launch_form(web, project, done, django_assert_max_num_queries):
    TrainingJob.objects.create(project=project, snapshot=done.snapshot, objective="bt", base_model="tiny")
    with django_assert_max_num_queries(12):
        page = web.get(f"/p/{project.slug}/jobs/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Launch training" in html
    assert f"#{done.id}" in html
    assert 'hx-trigger="every 3s"' in html  # a queued job: the table polls


def test_the_table_partial_for_htmx_stops_polling_when_nothing_is_active(web, project, done):
    partial = web.get(f"/p/{project.slug}/jobs/", **HX).content.decode()
    assert partial.startswith('<div id="jobs-table"')
    assert "every 3s" not in partial
    assert "<html" not in partial


def test_launch_a_job_from_the_form(web, project, snapshot, tiny_base_model, django_capture_on_commit_callbacks):
    form = {"snapshot": snapshot.id, "objective": "scaled_bt", "base_model": "tiny", "queue": "default",
            "learning_rate": "0.0001", "batch_size": "8", "epochs": "1", "max_steps": "5", "max_length": "64"}  # fmt: skip
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = web.post(f"/p/{project.slug}/jobs/", form)
    job = TrainingJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/p/{project.slug}/jobs/{job.id}/"
    assert len(callbacks) == 1
    assert (job.objective, job.config["hyperparameters"]["max_steps"]) == ("scaled_bt", 5)
    assert job.config["hyperparameters"]["expo_alpha"] == 0.0  # left out: the default
    with django_capture_on_commit_callbacks(execute=False):
        hx = web.post(f"/p/{project.slug}/jobs/", form, **HX)
    assert hx["HX-Redirect"].startswith(f"/p/{project.slug}/jobs/")


def test_the_form_sets_expo_centring_and_threads(
    web, project, snapshot, tiny_base_model, django_capture_on_commit_callbacks
):
    form = {"snapshot": snapshot.id, "objective": "regression_then_scaled_bt", "base_model": "tiny",
            "queue": "default", "learning_rate": "0.0001", "batch_size": "8", "epochs": "1", "max_length": "64",
            "expo_alpha": "0.3", "center_rewards_coefficient": "0.01", "num_threads": "2"}  # fmt: skip
    with django_capture_on_commit_callbacks(execute=False):
        assert web.post(f"/p/{project.slug}/jobs/", form).status_code == 302
    last = TrainingJob.objects.get().config["stages"][-1]["train"]
    assert (last["expo_alpha"], last["center_rewards_coefficient"], last["num_threads"]) == (0.3, 0.01, 2)
    page = web.get(f"/p/{project.slug}/jobs/").content.decode()
    assert 'name="expo_alpha"' in page and 'name="num_threads"' in page


def test_a_bad_form_is_shown_again_with_its_errors(web, project, snapshot, tiny_base_model):
    form = {"snapshot": snapshot.id, "objective": "bt", "base_model": "tiny", "queue": "default",
            "learning_rate": "0.0001", "batch_size": "0", "epochs": "1", "max_length": "64"}  # fmt: skip
    response = web.post(f"/p/{project.slug}/jobs/", form, **HX)
    assert response.status_code == 400
    assert 'id="job-form"' in response.content.decode()
    assert "field-error" in response.content.decode()
    assert not TrainingJob.objects.exists()


def test_job_page_and_its_status_partial(web, project, done):
    page = web.get(f"/p/{project.slug}/jobs/{done.id}/").content.decode()
    assert 'data-metrics-url="/p/' in page
    assert "chart.umd.min.js" in page
    assert "js/jobs.js" in page
    assert "Download checkpoint" in page
    assert "Send to the leads" in page
    partial = web.get(f"/p/{project.slug}/jobs/{done.id}/", **HX).content.decode()
    assert partial.lstrip().startswith('<section id="job-status"')
    assert "every 2s" not in partial


def test_an_active_job_polls_and_can_be_cancelled(web, project, snapshot):
    job = TrainingJob.objects.create(project=project, snapshot=snapshot, objective="bt", base_model="tiny")
    partial = web.get(f"/p/{project.slug}/jobs/{job.id}/", **HX).content.decode()
    assert 'hx-trigger="every 2s"' in partial
    assert ">Cancel<" in partial
    after = web.post(f"/p/{project.slug}/jobs/{job.id}/cancel/", {"confirm": "yes"}, **HX).content.decode()
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert "every 2s" not in after
    assert 'data-status="cancelled"' in after
    # Already cancelled: said in place, no 500.
    plain = web.post(f"/p/{project.slug}/jobs/{job.id}/cancel/", {"confirm": "yes"})
    assert plain.status_code == 302


def test_metrics_json_and_checkpoint_download(web, project, done):
    series = web.get(f"/p/{project.slug}/jobs/{done.id}/metrics.json").json()
    assert series["status"] == "succeeded"
    assert set(series["series"]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    download = web.get(f"/p/{project.slug}/jobs/{done.id}/checkpoint.zip")
    assert download.status_code == 200
    assert download["Content-Type"] == "application/zip"


def test_send_checked_disagreements_to_review(web, project, done):
    evaluation = done.evaluations.get()
    cid = evaluation.disagreements[0]["comparison_id"]
    response = web.post(
        f"/p/{project.slug}/jobs/{done.id}/evaluations/{evaluation.id}/review/", {"comparison": [str(cid)]}, **HX
    )
    assert response.status_code == 200
    assert "1 already sent" in response.content.decode()
    assert ReviewRequest.objects.filter(comparison_id=cid).exists()


def test_evaluation_form_needs_a_snapshot_or_a_file(web, project, done):
    response = web.post(f"/p/{project.slug}/jobs/{done.id}/evaluations/", {}, **HX)
    assert response.status_code == 400
    assert "One of snapshot or file." in response.content.decode()


def test_compare_page(web, project, snapshot, trained_model, django_assert_max_num_queries):
    jobs = [
        succeeded_job(snapshot, trained_model, objective=o, accuracy=a) for o, a in (("bt", 0.6), ("scaled_bt", 0.9))
    ]
    JobMetric.objects.bulk_create(
        [JobMetric(job=jobs[0], step=s, loss=1.0 / s) for s in (1, 2)]
        + [JobMetric(job=jobs[1], step=2, split="validation", accuracy=0.8)]
    )
    with django_assert_max_num_queries(9):
        html = web.get(f"/p/{project.slug}/jobs/compare/").content.decode()
    assert html.index(f"#{jobs[1].id}") < html.index(f"#{jobs[0].id}")  # best accuracy first
    assert "Scaled Bradley-Terry" in html
    assert "0.900" in html
    # The curves of both jobs, best first, for the overlaid charts (static/js/compare.js reads this block).
    data = re.search(r'<script id="compare-curves" type="application/json">(.*?)</script>', html)
    assert data is not None
    curves = json.loads(data.group(1))
    assert [c["job"] for c in curves] == [jobs[1].id, jobs[0].id]
    assert curves[0]["val_accuracy"] == [{"x": 2, "y": 0.8}]
    assert curves[1]["loss"] == [{"x": 1, "y": 1.0}, {"x": 2, "y": 0.5}]
    assert 'id="compare-loss-chart"' in html
    assert 'id="compare-accuracy-chart"' in html
    partial = web.get(f"/p/{project.slug}/jobs/compare/?snapshot={snapshot.id}", **HX).content.decode()
    assert partial.startswith('<div id="compare-table">')


@pytest.mark.parametrize(("role", "status"), [(Role.ANNOTATOR, 403), (None, 404)])
def test_annotators_and_outsiders_are_kept_out(project, done, role, status):
    user = member(project, role) if role else UserFactory()
    client = Client()
    client.force_login(user)
    for url in (f"/p/{project.slug}/jobs/", f"/p/{project.slug}/jobs/{done.id}/", f"/p/{project.slug}/jobs/compare/"):
        assert client.get(url).status_code == status


def test_anonymous_is_sent_to_log_in(project):
    response = Client().get(f"/p/{project.slug}/jobs/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_the_form_asks_for_devices_and_refuses_too_many_in_place(
    web, project, snapshot, tiny_base_model, settings, django_capture_on_commit_callbacks
):
    settings.PREFSTACK_QUEUE_DEVICES = {"default": 2, "gpu": 1}
    form = {"snapshot": snapshot.id, "objective": "bt", "base_model": "tiny", "queue": "default",
            "learning_rate": "0.0001", "batch_size": "8", "epochs": "1", "max_length": "64", "gpus": "3",
            "strategy": "fsdp"}  # fmt: skip
    response = web.post(f"/p/{project.slug}/jobs/", form, **HX)
    assert response.status_code == 400
    assert "Between 1 and 2 on the &#x27;default&#x27; queue." in response.content.decode()
    assert not TrainingJob.objects.exists()
    with django_capture_on_commit_callbacks(execute=False):
        assert web.post(f"/p/{project.slug}/jobs/", {**form, "gpus": "2"}).status_code == 302
    assert (TrainingJob.objects.get().gpus, TrainingJob.objects.get().strategy) == (2, "fsdp")


def test_a_rewardbench_evaluation_shows_rewardbench_score_and_pooled_accuracy(web, project, done):
    from rm_jobs.models import Evaluation, EvaluationKind, EvaluationStatus

    Evaluation.objects.create(
        job=done,
        kind=EvaluationKind.REWARD_BENCH,
        status=EvaluationStatus.SUCCEEDED,
        metrics={
            "rewardbench_overall": 0.787,
            "sections": {"Chat": 0.9, "Chat Hard": 0.5, "Safety": 0.8, "Reasoning": 0.948},
            "pooled_accuracy": 0.836,
            "per_subset": {"alpacaeval-easy": 0.9},
            "num_pairs": 2985,
        },
    )
    page = web.get(f"/p/{project.slug}/jobs/{done.id}/").content.decode()
    assert "RewardBench score" in page
    assert '<strong data-metric="rewardbench_overall">0.787</strong>' in page
    assert '<span data-metric="pooled_accuracy">0.836</span>' in page
    assert "<td>Chat Hard</td>" in page


def test_reading_the_pages_of_a_job_with_a_dead_worker_writes_nothing(web, project, snapshot):
    """Recovery is the workers' and beat's business (rm_jobs.tasks): a page view is a read, whatever it shows."""
    from datetime import timedelta

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    stale = timezone.now() - timedelta(hours=1)
    job = TrainingJob.objects.create(
        project=project, snapshot=snapshot, objective="bt", base_model="tiny", status=JobStatus.RUNNING, attempt=1,
        worker="gone@host", heartbeat_at=stale, started_at=stale,
    )  # fmt: skip
    with CaptureQueriesContext(connection) as queries:
        for url in (f"/p/{project.slug}/jobs/", f"/p/{project.slug}/jobs/{job.id}/"):
            assert web.get(url).status_code == 200
            assert web.get(url, **HX).status_code == 200
    writes = [
        q["sql"]
        for q in queries
        if not q["sql"].lstrip().upper().startswith(("SELECT", "SAVEPOINT", "RELEASE", "DECLARE", "CLOSE"))
    ]
    assert writes == []
    job.refresh_from_db()
    assert (job.status, job.heartbeat_at, job.log) == (JobStatus.RUNNING, stale, "")


def test_a_run_that_does_not_fit_the_queue_is_refused_in_the_form_with_the_estimate(
    web, project, snapshot, tiny_base_model, settings, django_capture_on_commit_callbacks
):
    settings.PREFSTACK_QUEUE_GPU_MEMORY_GB = {"gpu": 1}  # less than the CUDA context alone
    form = {"snapshot": snapshot.id, "objective": "bt", "base_model": "tiny", "queue": "gpu",
            "learning_rate": "0.0001", "batch_size": "8", "epochs": "1", "max_length": "64"}  # fmt: skip
    response = web.post(f"/p/{project.slug}/jobs/", form, **HX)
    html = response.content.decode()
    assert response.status_code == 400
    assert "GiB per GPU" in html and "1 GB of the &#x27;gpu&#x27; queue" in html
    assert not TrainingJob.objects.exists()

    settings.PREFSTACK_QUEUE_GPU_MEMORY_GB = {"gpu": 80}
    with django_capture_on_commit_callbacks(execute=False):
        assert web.post(f"/p/{project.slug}/jobs/", {**form, "lora_r": "4", "precision": "bf16"}).status_code == 302
    job = TrainingJob.objects.get()
    assert job.config["stages"][0]["train"]["lora_r"] == 4
    page = web.get(f"/p/{project.slug}/jobs/{job.id}/").content.decode()
    assert "GiB per GPU (lora, bf16, queue limit" in page


def test_the_job_page_shows_the_validation_accuracy_with_its_bootstrap_interval(web, done) -> None:
    evaluation = done.evaluations.get()
    evaluation.metrics = {**evaluation.metrics, "accuracy_ci": [0.5, 0.95], "accuracy_ci_level": 0.95}
    evaluation.save(update_fields=["metrics"])
    html = web.get(f"/p/{done.project.slug}/jobs/{done.id}/").content.decode()
    assert "(95% bootstrap interval 0.500–0.950)" in html


def test_an_evaluation_shows_its_attempt_and_why_it_was_requeued(web, project, done):
    reason = "attempt 1: its worker stopped sending heartbeats (last 2026-01-02T03:04:05+00:00)"
    Evaluation.objects.filter(job=done).update(attempt=2, requeue_reason=reason)
    page = web.get(f"/p/{project.slug}/jobs/{done.id}/").content.decode()
    assert f"Attempt 2 · re-queued after {reason}" in page

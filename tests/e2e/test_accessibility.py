"""axe-core finds no serious or critical accessibility violation on the pages people spend their day on: annotate
(desktop and a 390 px phone), the lead's overview and disagreements, the jobs list and a job page.

Each test prints every blocking violation with the elements that break it. The data is the demo project's, plus
one finished job with a loss curve and an evaluation, so the charts and tables are drawn as they are in use.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import Page, expect

from annotator.models import Project
from rm_jobs.models import Evaluation, EvaluationStatus, JobMetric, JobStatus, TrainingJob
from tests.e2e.axe import axe_violations, describe
from tests.rm_jobs.conftest import ready_snapshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DEMO_PASSWORD = "prefstack-demo"  # annotator/management/commands/load_demo.py
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def demo() -> Project:
    call_command("load_demo", stdout=io.StringIO())
    return Project.objects.get(slug="demo")


@pytest.fixture
def job(demo: Project) -> TrainingJob:
    snapshot = ready_snapshot(demo, comparisons=10)
    job = TrainingJob.objects.create(
        project=demo, snapshot=snapshot, objective="bt", base_model="tiny", status=JobStatus.SUCCEEDED, attempt=1,
        config={"objective": "bt", "hyperparameters": {}, "stages": [{"train": {"max_length": 64}}]},
        step=6, total_steps=6, summary={"accuracy": 0.75, "wall_s": 1.5, "tokens_per_s": 900.0},
        finished_at=timezone.now(),
    )  # fmt: skip
    JobMetric.objects.bulk_create(
        [JobMetric(job=job, step=s, split="train", loss=1.0 / s, accuracy=0.5 + s / 20) for s in range(1, 7)]
        + [JobMetric(job=job, step=6, split="validation", loss=0.6, accuracy=0.75)]
    )
    Evaluation.objects.create(
        job=job, snapshot=snapshot, status=EvaluationStatus.SUCCEEDED, metrics={"accuracy": 0.75, "num_pairs": 2},
        finished_at=timezone.now(),
    )  # fmt: skip
    return job


def _log_in(page: Page, live_server: Any, username: str, next_url: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/?next={next_url}", timeout=60_000)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.keyboard.press("Enter")
    # The whole address: a glob like "**/p/demo/" would match the login page's own ?next=/p/demo/ at once.
    page.wait_for_url(f"{live_server.url}{next_url}", timeout=60_000)


def _assert_accessible(page: Page, csp_violations: list[str]) -> None:
    page.wait_for_load_state("networkidle")
    violations = axe_violations(page, csp_violations)
    assert violations == [], f"axe-core on {page.url}:\n{describe(violations)}"


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["desktop", "phone-390"])
def test_annotate_page(
    page: Page, csp_violations: list[str], live_server: Any, demo: Project, viewport: dict[str, int] | None
) -> None:
    if viewport:
        page.set_viewport_size(viewport)
    _log_in(page, live_server, "annotator", "/p/demo/annotate/")
    _assert_accessible(page, csp_violations)  # the start screen
    page.get_by_test_id("claim").click()
    expect(page.locator("#annotate-form")).to_be_visible()
    _assert_accessible(page, csp_violations)  # a comparison with its rating form


def test_lead_overview_page(page: Page, csp_violations: list[str], live_server: Any, demo: Project) -> None:
    _log_in(page, live_server, "lead", "/p/demo/lead/")
    page.wait_for_function("() => window.Chart && Chart.getChart('agreement-chart')")
    _assert_accessible(page, csp_violations)


def test_disagreements_page(page: Page, csp_violations: list[str], live_server: Any, demo: Project) -> None:
    _log_in(page, live_server, "lead", "/p/demo/lead/disagreements/")
    expect(page.locator("article.disagreement").first).to_be_visible()
    _assert_accessible(page, csp_violations)


def test_jobs_page(page: Page, csp_violations: list[str], live_server: Any, job: TrainingJob) -> None:
    _log_in(page, live_server, "researcher", "/p/demo/jobs/")
    expect(page.locator("table").first).to_contain_text(f"{job.id}")
    _assert_accessible(page, csp_violations)


def test_job_page(page: Page, csp_violations: list[str], live_server: Any, job: TrainingJob) -> None:
    _log_in(page, live_server, "researcher", f"/p/demo/jobs/{job.id}/")
    page.wait_for_function("() => window.Chart && Chart.getChart('job-chart')")
    _assert_accessible(page, csp_violations)

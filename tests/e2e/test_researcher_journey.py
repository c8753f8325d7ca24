"""The researcher's journey in headless Chromium against a real Celery worker: log in, cut a snapshot of the demo
project, launch a Scaled-BT job on it, watch it finish on the job page (live chart), download the checkpoint link,
and open the comparison of objectives."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from annotator.models import Project, Snapshot
from rm_jobs.models import TrainingJob
from tests.rm_jobs.conftest import build_tiny_model
from tests.worker import worker_process

pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DEMO_PASSWORD = "prefstack-demo"  # annotator/management/commands/load_demo.py


def test_researcher_cuts_a_snapshot_trains_and_compares(
    live_server: Any, page: Page, settings: Any, tmp_path: Any
) -> None:
    settings.PREFSTACK_BASE_MODELS = {"tiny": str(build_tiny_model(tmp_path / "tiny"))}
    call_command("load_demo", stdout=io.StringIO())
    project = Project.objects.get(slug="demo")
    page.set_default_timeout(120_000)

    page.goto(f"{live_server.url}/accounts/login/?next=/p/demo/snapshots/")
    page.fill('input[name="username"]', "researcher")
    page.fill('input[name="password"]', DEMO_PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Cut a snapshot")).to_be_visible()

    with worker_process(hostname="journey", env={"PREFSTACK_JOB_HEARTBEAT_SECONDS": "1", "OMP_NUM_THREADS": "1"}):
        # 1. Cut a snapshot; the list polls until the worker has built it.
        page.fill('input[name="name"]', "journey")
        page.get_by_role("button", name="Cut a snapshot").click()
        expect(page.locator("#snapshot-list .badge.ok")).to_have_text("ready", timeout=120_000)
        snapshot = Snapshot.objects.get(project=project, name="journey")

        # 2. Launch a job from the jobs page.
        page.goto(f"{live_server.url}/p/demo/")
        page.get_by_role("link", name="Training jobs").first.click()
        expect(page.get_by_role("heading", name="Launch a job")).to_be_visible()
        page.select_option("#id_snapshot", str(snapshot.id))
        page.select_option("#id_objective", "scaled_bt")
        page.locator(".jobs-hyper summary").click()
        page.fill("#id_max_steps", "6")
        page.fill("#id_batch_size", "4")
        page.fill("#id_max_length", "96")
        page.get_by_role("button", name="Launch training").click()

        # 3. The job page follows it to the end: status polled, chart filled, checkpoint offered.
        expect(page).to_have_url(re.compile(r"/p/demo/jobs/\d+/$"))
        expect(page.locator("#job-status .job-status")).to_have_text(re.compile("Succeeded"), timeout=240_000)
        expect(page.locator("#job-chart")).to_have_attribute("data-points", "6")
        expect(page.get_by_role("link", name="Download checkpoint (.zip)")).to_be_visible()
        expect(page.locator("#job-evaluations")).to_contain_text("Accuracy")
    job = TrainingJob.objects.get(project=project)
    assert (job.status, job.snapshot_id, job.objective, job.step) == ("succeeded", snapshot.id, "scaled_bt", 6)

    # 4. The comparison of objectives lists it, on the snapshot's validation data.
    page.get_by_role("link", name="Compare").click()
    expect(page.locator("table.jobs-compare")).to_contain_text(f"#{job.id}")
    expect(page.locator("table.jobs-compare")).to_contain_text("Scaled Bradley-Terry")

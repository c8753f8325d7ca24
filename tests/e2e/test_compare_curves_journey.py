"""A researcher opens the comparison of objectives and sees the two jobs' train-loss and validation-accuracy curves
overlaid (Chart.js from static/, no inline script); picking another snapshot redraws them for that snapshot's jobs."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from annotator.models import Role, Snapshot
from rm_jobs.models import Evaluation, EvaluationStatus, JobMetric, JobStatus, TrainingJob
from tests.e2e.axe import axe_violations, describe
from tests.factories import ProjectFactory, member
from tests.rm_jobs.conftest import ready_snapshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _finished_job(snapshot: Snapshot, objective: str, accuracy: float, *, evaluated_on: Snapshot) -> TrainingJob:
    job = TrainingJob.objects.create(
        project=snapshot.project, snapshot=snapshot, objective=objective, base_model="tiny",
        status=JobStatus.SUCCEEDED, attempt=1, step=8, total_steps=8, finished_at=timezone.now(),
    )  # fmt: skip
    JobMetric.objects.bulk_create(
        [JobMetric(job=job, step=s, loss=accuracy / s) for s in range(1, 9)]
        + [JobMetric(job=job, step=s, split="validation", accuracy=accuracy * s / 8) for s in (4, 8)]
    )
    Evaluation.objects.create(
        job=job, snapshot=evaluated_on, status=EvaluationStatus.SUCCEEDED, metrics={"accuracy": accuracy},
        finished_at=timezone.now(),
    )  # fmt: skip
    return job


def _series(page: Page, canvas_id: str) -> list[int]:
    """Points per dataset that Chart.js drew on the canvas."""
    return page.evaluate(f"() => Chart.getChart('{canvas_id}').data.datasets.map(d => d.data.length)")


def test_compare_page_overlays_the_jobs_curves(page: Page, csp_violations: list[str], live_server: Any) -> None:
    project = ProjectFactory(slug="cmp")
    member(project, Role.RESEARCHER, username="res")
    first, second = ready_snapshot(project, comparisons=5), ready_snapshot(project, comparisons=5)
    _finished_job(first, "bt", 0.7, evaluated_on=first)
    _finished_job(first, "scaled_bt", 0.8, evaluated_on=first)
    _finished_job(second, "margin_bt", 0.6, evaluated_on=second)

    page.goto(f"{live_server.url}/accounts/login/?next=/p/cmp/jobs/compare/", timeout=60_000)
    page.fill("input[name=username]", "res")
    page.fill("input[name=password]", "pw-for-tests")
    page.keyboard.press("Enter")

    # The newest snapshot (v2) first: one job, one curve per chart.
    expect(page.locator("table.jobs-compare tbody tr")).to_have_count(1)
    page.wait_for_function("() => window.Chart && Chart.getChart('compare-loss-chart')")
    assert _series(page, "compare-loss-chart") == [8]

    # Snapshot v1: two jobs, both overlaid on both charts (loss per step, accuracy per evaluation).
    page.get_by_label("Validation data").select_option(label="snapshot v1")
    expect(page.locator("table.jobs-compare tbody tr")).to_have_count(2)
    page.wait_for_function("() => Chart.getChart('compare-loss-chart')?.data.datasets.length === 2")
    assert _series(page, "compare-loss-chart") == [8, 8]
    assert _series(page, "compare-accuracy-chart") == [2, 2]
    labels = page.evaluate("() => Chart.getChart('compare-accuracy-chart').data.datasets.map(d => d.label)")
    assert labels[0].endswith("Scaled Bradley-Terry")  # best accuracy first, as in the table
    expect(page.locator("#compare-loss-chart")).to_have_attribute("data-series", "2")

    violations = axe_violations(page, csp_violations)
    assert violations == [], describe(violations)

"""Two short journeys: an annotator sees "x of N", opens their submissions and edits the last one (a new version, the
old one kept); a researcher's cancel asks first, and a job on a queue nobody consumes says so."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from playwright.sync_api import Dialog, Page, expect

from annotator.models import Annotation, Role
from rm_jobs.models import JobStatus, TrainingJob
from rm_jobs.selectors import workers
from tests.factories import ComparisonFactory, ProjectFactory, member
from tests.rm_jobs.conftest import ready_snapshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

FIRST = "@Response 1 answers the question directly; @Response 2 wanders."
EDITED = "On a second reading @Response 2 is better; @Response 1 is wrong."


def _log_in(page: Page, live_server: Any, username: str, next_url: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/?next={next_url}", timeout=60_000)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "pw-for-tests")
    page.locator("form button, form input[type=submit]").last.click()


def test_annotator_edits_their_last_submission(live_server: Any, page: Page) -> None:
    project = ProjectFactory(slug="hist", overlap=1, min_justification_length=20)
    ComparisonFactory.create_batch(3, project=project)
    annie = member(project, username="annie")
    _log_in(page, live_server, "annie", "/p/hist/annotate/")
    page.get_by_test_id("claim").click()
    expect(page.get_by_test_id("progress-total")).to_have_text("3")
    for n in (1, 2):
        expect(page.locator('input[name="left.helpfulness"]').first).to_be_focused()
        for _ in range(10):
            page.keyboard.press("3")
        page.keyboard.press("2")
        page.keyboard.type(FIRST)
        page.keyboard.press("Control+Enter")
        expect(page.get_by_test_id("submitted-count")).to_have_text(str(n))
    expect(page.get_by_test_id("progress-total")).to_have_text("3")

    page.get_by_role("link", name="My submissions").click()
    rows = page.locator("#history tbody tr")
    expect(rows).to_have_count(2)
    expect(page.get_by_role("link", name="Edit")).to_have_count(1)  # only the last one
    expect(rows.first.get_by_role("link", name="Edit")).to_be_visible()
    rows.first.get_by_role("link", name="Edit").click()

    expect(page.locator("#edit-note")).to_contain_text("Editing your last submission")
    expect(page.locator("#justification")).to_have_value(FIRST)
    page.locator(".strength-choice").nth(5).click()  # Response 2 is better
    page.fill("#justification", EDITED)
    page.get_by_role("button", name="Save edit").click()
    expect(page.get_by_text("Your edit was saved.")).to_be_visible()
    expect(page.locator("#history tbody tr").first).to_contain_text("Response 2 is better than Response 1")

    versions = list(Annotation.objects.filter(annotator=annie).order_by("id"))
    assert len(versions) == 3
    assert [v.is_current for v in versions] == [True, False, True]
    assert versions[1].assignment_id == versions[2].assignment_id


def test_cancel_asks_first_and_a_queue_without_a_worker_warns(
    live_server: Any, page: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workers, "_inspect_active_queues", lambda: {"celery@cpu": [{"name": "default"}]})
    cache.clear()
    project = ProjectFactory(slug="jobs")
    member(project, Role.RESEARCHER, username="rita")
    job = TrainingJob.objects.create(
        project=project, snapshot=ready_snapshot(project, comparisons=8), objective="bt", base_model="tiny", queue="gpu"
    )
    _log_in(page, live_server, "rita", f"/p/jobs/jobs/{job.id}/")
    expect(page.locator(".job-no-worker")).to_contain_text("No worker is listening on the 'gpu' queue")

    answers = iter([False, True])
    asked: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept() if next(answers) else dialog.dismiss()

    page.on("dialog", on_dialog)
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#job-status")).to_have_attribute("data-status", "queued")
    assert asked and f"Cancel job {job.id}?" in asked[0]
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#job-status")).to_have_attribute("data-status", "cancelled")
    cache.clear()

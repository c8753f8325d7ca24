"""A lead's generation journey in Chromium: add two model endpoints, launch a run on listed prompts, watch its
status (a progress bar), cancel it after the confirmation dialog, and see it offered for resume; a researcher reads
the pages without the forms."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Dialog, Page, expect

from annotator.models import GenerationRun, ModelEndpoint, Role
from tests.factories import ProjectFactory, PromptFactory, member

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _log_in(page: Page, live_server: Any, username: str, next_url: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/?next={next_url}", timeout=60_000)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "pw-for-tests")
    page.locator("form button, form input[type=submit]").last.click()


def test_a_lead_adds_endpoints_launches_and_cancels_a_run(live_server: Any, page: Page) -> None:
    project = ProjectFactory(slug="gen")
    member(project, Role.LEAD, username="lena")
    prompts = [PromptFactory(project=project) for _ in range(3)]
    _log_in(page, live_server, "lena", "/p/gen/models/")

    for name in ("alpha", "beta"):
        form = page.locator("#endpoint-add")
        form.get_by_label("Name", exact=True).fill(name)
        form.get_by_label("Base URL").fill("http://127.0.0.1:9/v1")
        form.get_by_label("Model id").fill(f"{name}-model")
        form.get_by_label("Default sampling parameters (JSON)").fill('{"temperature": 0.7}')
        form.get_by_role("button", name="Add").click()
        expect(page.get_by_text(f"Endpoint {name} added.")).to_be_visible()
    expect(page.locator("#endpoint-list tbody tr")).to_have_count(2)

    page.get_by_role("link", name="Generation runs").click()
    launch = page.locator("#run-launch")
    launch.get_by_label("alpha · alpha-model").check()
    launch.get_by_label("beta · beta-model").check()
    launch.get_by_label("…or prompt ids").fill(" ".join(str(p.pk) for p in prompts))
    launch.get_by_role("button", name="Launch").click()

    expect(page.get_by_text("launched on 3 prompts")).to_be_visible()
    expect(page.locator("#run-progress")).to_have_attribute("max", "3")
    expect(page.locator("#run-status")).to_have_attribute("data-status", "pending")
    page.once("dialog", lambda dialog: _accept(dialog))
    page.locator("#run-cancel").click()
    expect(page.locator("#run-status")).to_have_attribute("data-status", "cancelled")
    expect(page.locator("#run-resume")).to_be_visible()
    assert GenerationRun.objects.get().status == "cancelled"
    assert ModelEndpoint.objects.filter(project=project).count() == 2


def _accept(dialog: Dialog) -> None:
    assert "Cancel run" in dialog.message
    dialog.accept()


def test_a_researcher_reads_without_the_forms(live_server: Any, page: Page) -> None:
    project = ProjectFactory(slug="gen-read")
    member(project, Role.RESEARCHER, username="rosa")
    _log_in(page, live_server, "rosa", "/p/gen-read/models/")
    expect(page.get_by_role("heading", name="Model endpoints")).to_be_visible()
    expect(page.locator("#endpoint-add")).to_have_count(0)
    page.get_by_role("link", name="Generation runs").click()
    expect(page.locator("#run-launch")).to_have_count(0)

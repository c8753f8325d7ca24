"""In headless Chromium, under the CSP: a lead creates a project from the home page, invites a new member who sets a
password through the mailed one-time link, tunes an aggregation rule and finds it in the snapshot form; a
researcher scores responses on a finished job's page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from annotator.models import AggregationRule, Membership, Project, Role
from tests.factories import ComparisonFactory, ProjectFactory, UserFactory, member
from tests.rm_jobs.conftest import build_tiny_model, ready_snapshot, succeeded_job

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _log_in(page: Page, url: str, username: str, password: str = "pw-for-tests") -> None:
    page.goto(url)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.locator("form button, form input[type=submit]").last.click()


def test_lead_creates_a_project_a_member_and_a_rule(page: Page, live_server: Any) -> None:
    UserFactory(username="boss", is_staff=True)
    page.set_default_timeout(10_000)
    _log_in(page, f"{live_server.url}/accounts/login/", "boss")

    page.get_by_role("link", name="New project").click()
    page.fill("input[name=name]", "Chat ratings")
    page.fill("input[name=slug]", "chat")
    page.get_by_role("button", name="Create project").click()
    project = Project.objects.get(slug="chat")
    ComparisonFactory(project=project)

    # A member without an account: invited by e-mail, so created here, with a one-time link by e-mail.
    page.goto(f"{live_server.url}/p/chat/settings/members/")
    page.fill("input[name=new-username]", "ann")
    page.fill("input[name=new-email]", "ann@example.org")
    page.select_option("select[name=new-role]", "annotator")
    page.get_by_role("button", name="Invite").click()
    expect(page.locator("tr[data-member=ann]")).to_be_visible()
    link = re.search(r"https?://\S+/accounts/reset/\S+/", mail.outbox[-1].body)
    assert link, mail.outbox[-1].body

    # A rule tuned from the rules page: the preview of the new version is the first thing on the page.
    page.goto(f"{live_server.url}/p/chat/lead/rules/")
    page.locator("tr[data-rule=helpsteer2] [data-tune]").click()
    page.fill("#id_name", "helpsteer2-strict")
    page.fill("#id_max_strength_spread", "2")
    page.get_by_role("button", name="Save rule").click()
    expect(page.locator("#rule-preview h2")).to_have_text("helpsteer2-strict v1 on this project")
    assert AggregationRule.objects.get(name="helpsteer2-strict").params["max_strength_spread"] == 2
    page.goto(f"{live_server.url}/p/chat/snapshots/")
    page.select_option("select[name=rule]", "helpsteer2-strict")

    # The new member sets a password with the link, once, and logs in.
    other = page.context.browser.new_context()  # type: ignore[union-attr]
    newcomer = other.new_page()
    newcomer.goto(link.group(0).replace("http://testserver", live_server.url))
    newcomer.fill("input[name=new_password1]", "correct horse battery")
    newcomer.fill("input[name=new_password2]", "correct horse battery")
    newcomer.get_by_role("button", name="Set password").click()
    expect(newcomer.get_by_role("heading", name="Password set")).to_be_visible()
    _log_in(newcomer, f"{live_server.url}/accounts/login/", "ann", "correct horse battery")
    expect(newcomer.locator("[data-project=chat]")).to_be_visible()
    other.close()
    assert Membership.objects.filter(project=project, user__username="ann", role=Role.ANNOTATOR).exists()


def test_researcher_scores_responses_on_a_finished_job(page: Page, live_server: Any, tmp_path: Path) -> None:
    project = ProjectFactory()
    researcher = member(project, Role.RESEARCHER, username="res")
    assert researcher.check_password("pw-for-tests")
    model = build_tiny_model(tmp_path / "model", labels=("helpfulness", "correctness"))
    job = succeeded_job(ready_snapshot(project, comparisons=10), model, objective="regression")
    page.set_default_timeout(20_000)
    _log_in(page, f"{live_server.url}/accounts/login/?next=/p/{project.slug}/jobs/{job.id}/", "res")
    page.get_by_role("link", name="Score responses").click()
    page.get_by_label("Conversation").check()
    page.fill("#id_prompt", '[{"role": "user", "content": "How do I boil an egg?"}]')
    page.fill("#id_response_1", "Put it in boiling water for eight minutes.")
    page.fill("#id_response_2", "No idea.")
    page.get_by_role("button", name="Score").click()
    expect(page.locator("#score-results tr[data-response]")).to_have_count(2)
    expect(page.locator("#score-results [data-output=correctness]")).to_have_count(2)
    expect(page.locator("#id_response_2")).to_have_value("No idea.")

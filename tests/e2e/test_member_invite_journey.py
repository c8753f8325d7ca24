"""In headless Chromium, by keyboard: a lead invites a colleague who already has an account by her e-mail address;
she appears among the members with the chosen role and is told by e-mail; inviting her again for the same role is
refused in place; she logs in and finds the project."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from annotator.models import Membership, Role
from tests.factories import ProjectFactory, UserFactory, member

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _log_in(page: Page, url: str, username: str) -> None:
    page.goto(url, timeout=60_000)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "pw-for-tests")
    page.keyboard.press("Enter")


def test_lead_invites_an_existing_user_by_email(page: Page, live_server: Any) -> None:
    project = ProjectFactory(slug="chat", name="Chat ratings")
    member(project, Role.LEAD, username="boss")
    UserFactory(username="bea", email="bea@example.org")
    _log_in(page, f"{live_server.url}/accounts/login/?next=/p/chat/settings/members/", "boss")

    email = page.get_by_label("E-mail", exact=True)
    email.fill("Bea@Example.org")
    page.keyboard.press("Tab")
    page.locator("select[name=new-role]").select_option("researcher")
    email.focus()
    page.keyboard.press("Enter")  # submits the invite form

    row = page.locator("tr[data-member=bea]")
    expect(row).to_have_attribute("data-role", "researcher")
    expect(page.locator("#setup-members [role=status]")).to_have_text(
        "bea added as researcher; a notice went to bea@example.org."
    )
    assert Membership.objects.filter(project=project, user__username="bea", role=Role.RESEARCHER).exists()
    notice = mail.outbox[-1]
    assert notice.to == ["bea@example.org"]
    assert "boss added you to the Prefstack project 'Chat ratings' as researcher." in notice.body

    # The same invitation again: refused beside the field, nothing sent.
    sent = len(mail.outbox)
    page.get_by_label("E-mail", exact=True).fill("bea@example.org")
    page.locator("select[name=new-role]").select_option("researcher")
    page.get_by_label("E-mail", exact=True).press("Enter")
    expect(page.locator(".setup-member-invite .error").first).to_contain_text(
        "bea (bea@example.org) already holds the researcher role here."
    )
    assert len(mail.outbox) == sent

    page.context.clear_cookies()
    _log_in(page, f"{live_server.url}/accounts/login/", "bea")
    expect(page.locator("[data-project=chat]")).to_be_visible()

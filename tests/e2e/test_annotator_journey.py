"""The annotator's journey in headless Chromium, keyboard only: log in, start (the claim is a POST), annotate two
comparisons (one after a validation error shown in place), skip one with a reason, and find a draft again after a
reload."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from annotator.models import Annotation, Assignment, AssignmentStatus
from tests.factories import ComparisonFactory, ProjectFactory, UserFactory, member

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-for-tests"  # tests.factories.UserFactory's password
JUSTIFICATION = "@Response 1 answers the question directly; @Response 2 wanders."


def _rate_everything(page: Page, rating: str, strength_key: str) -> None:
    """Ten attribute rows (five per response) then the strength row, with digits only; focus moves on by itself."""
    for _ in range(10):
        page.keyboard.press(rating)
    page.keyboard.press(strength_key)
    expect(page.locator("#justification")).to_be_focused()


def _submitted(page: Page, n: int) -> None:
    """The next comparison has been swapped in and the first question has the focus."""
    expect(page.get_by_test_id("submitted-count")).to_have_text(str(n))
    expect(page.locator('input[name="left.helpfulness"]').first).to_be_focused()


def test_annotator_journey_keyboard_only(live_server, page: Page) -> None:
    project = ProjectFactory(slug="journey", overlap=1, min_justification_length=20)
    ComparisonFactory.create_batch(4, project=project)
    annotator = member(project, username="annie")
    UserFactory(username="someone-else")

    # Log in (autofocus on the username field; Tab, Enter).
    page.goto(f"{live_server.url}/accounts/login/?next=/p/{project.slug}/annotate/")
    expect(page.locator('input[name="username"]')).to_be_focused()  # autofocus, before typing
    page.keyboard.type("annie")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")

    # Opening the page claims nothing; "Start" has the focus and claims (a POST) on Enter.
    expect(page.get_by_test_id("claim")).to_be_focused()
    assert not Assignment.objects.filter(annotator=annotator).exists()
    page.keyboard.press("Enter")
    expect(page.locator("#annotate-form")).to_be_visible()
    expect(page.locator('input[name="left.helpfulness"]').first).to_be_focused()
    expect(page.get_by_text("Ctrl+Enter", exact=False).first).to_be_visible()

    # 1. A validation error first: a justification that is too short.
    first_id = page.locator("#workspace").get_attribute("data-assignment")
    _rate_everything(page, "3", "2")  # 2nd strength choice: Response 1 is better (-2)
    page.keyboard.type("Too short.")
    page.keyboard.press("Control+Enter")
    error = page.locator("#err-justification")
    expect(error).to_be_visible()
    expect(error).to_contain_text("at least 20 characters")
    expect(page.locator("#justification")).to_have_value("Too short.")  # input kept
    expect(page.locator('input[name="left.helpfulness"][value="3"]')).to_be_checked()
    expect(page.locator("#justification")).to_be_focused()  # focus went to the field in error
    page.keyboard.press("Control+A")
    page.keyboard.type(JUSTIFICATION)
    page.keyboard.press("Control+Enter")
    _submitted(page, 1)
    expect(page.locator("#workspace")).not_to_have_attribute("data-assignment", first_id or "")

    # 2. The next comparison came without a page reload; annotate it too.
    _rate_everything(page, "2", "6")  # 6th: Response 2 is better (+2)
    page.keyboard.type(JUSTIFICATION.replace("1", "X").replace("2", "1").replace("X", "2"))
    page.keyboard.press("Control+Enter")
    _submitted(page, 2)

    # 3. Skip the third with a reason, from the keyboard.
    page.keyboard.press("s")
    expect(page.locator("#skip-reason")).to_be_focused()
    page.keyboard.press("ArrowDown")  # first reason: needs expertise
    page.keyboard.press("Tab")
    page.keyboard.type("about tax law")
    page.keyboard.press("Control+Enter")
    expect(page.locator(".ws-notice").first).to_have_text("Skipped.")
    expect(page.locator('input[name="left.helpfulness"]').first).to_be_focused()

    # 4. Start the fourth, leave a draft, reload, find it again.
    fourth_id = page.locator("#workspace").get_attribute("data-assignment")
    page.keyboard.press("4")
    page.keyboard.press("1")
    page.keyboard.press("j")
    with page.expect_response(lambda r: "/draft/" in r.url and r.status == 204):
        page.keyboard.type("half a thought")
    page.reload()
    expect(page.locator("#justification")).to_have_value("half a thought")
    expect(page.locator('input[name="left.helpfulness"][value="4"]')).to_be_checked()
    expect(page.locator('input[name="left.correctness"][value="1"]')).to_be_checked()
    expect(page.locator("#workspace")).to_have_attribute("data-assignment", fourth_id or "")
    expect(page.locator("#workspace")).to_have_attribute("data-time-on-task", re.compile(r"^\d+\.\d$"))

    # What was stored, in response terms.
    annotations = list(Annotation.objects.filter(annotator=annotator).select_related("assignment").order_by("id"))
    assert len(annotations) == 2
    first, second = annotations
    assert first.preference_strength == (2 if first.assignment.swapped else -2)
    assert second.preference_strength == (-2 if second.assignment.swapped else 2)
    assert set(first.ratings["1"].values()) == {3}
    assert first.time_on_task_seconds is not None
    assert first.time_on_task_seconds > 0
    skipped = Assignment.objects.get(annotator=annotator, status=AssignmentStatus.SKIPPED)
    assert (skipped.skip_reason, skipped.skip_note) == ("needs_expertise", "about tax law")
    draft = Assignment.objects.get(pk=fourth_id).draft
    assert draft["justification"] == "half a thought"

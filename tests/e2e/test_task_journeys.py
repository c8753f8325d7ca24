"""The feedback, edit and edit-quality journeys in headless Chromium, keyboard only, under the CSP: a feedback that
breaks the word rule refused in place (checked as it is typed, then on submit, nothing lost), an unchanged edit
refused, an edit's diff, an edit-quality choice, and a claim refused in place for a qualification not yet
passed."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from annotator.models import TaskAssignment, TaskResult, TaskType
from annotator.services.projects import comparison_mark_gold
from annotator.services.qualification import qualification_set_create
from tests.factories import ComparisonFactory, ProjectFactory, TaskUnitFactory, good_feedback, member

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-for-tests"  # tests.factories.UserFactory's password


def _log_in_and_claim(page: Page, url: str, username: str, slug: str) -> None:
    page.goto(f"{url}/accounts/login/?next=/p/{slug}/annotate/")  # the annotate link leads to the task page
    expect(page.locator('input[name="username"]')).to_be_focused()  # autofocus, before typing
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("claim")).to_be_focused()
    page.keyboard.press("Enter")


def _log_in_and_start(page: Page, url: str, username: str, slug: str) -> None:
    _log_in_and_claim(page, url, username, slug)
    expect(page.locator("#annotate-form")).to_be_visible()


def test_feedback_journey_with_a_refused_feedback(live_server, page: Page) -> None:
    project = ProjectFactory(slug="feedback-journey", task_type=TaskType.FEEDBACK, overlap=1)
    TaskUnitFactory.create_batch(2, project=project)
    member(project, username="fiona")
    _log_in_and_start(page, live_server.url, "fiona", project.slug)

    # Feedback on response 1 breaks the word rule (and the opening): the check says so while typing.
    expect(page.locator("#feedback_1")).to_be_focused()
    page.keyboard.type("Too short to be useful.")
    expect(page.get_by_test_id("check-feedback_1")).to_contain_text("Write at least 50 words")
    expect(page.get_by_test_id("check-feedback_1")).to_contain_text("Begin with")
    # Esc leaves the text box, 2 goes to the feedback on response 2.
    page.keyboard.press("Escape")
    page.keyboard.press("2")
    expect(page.locator("#feedback_2")).to_be_focused()
    page.keyboard.type(good_feedback("slightly"))
    expect(page.get_by_test_id("check-feedback_2")).to_contain_text("Follows the rules.")

    # Submitting refuses it in place: the reason next to the field, both texts kept, focus on the field in error.
    page.keyboard.press("Control+Enter")
    expect(page.locator("#err-feedback_1")).to_contain_text("at least 50 words")
    expect(page.locator("#feedback_1")).to_have_value("Too short to be useful.")
    expect(page.locator("#feedback_2")).to_have_value(good_feedback("slightly"))
    expect(page.locator("#feedback_1")).to_be_focused()
    assert TaskResult.objects.count() == 0

    page.keyboard.press("Control+A")
    page.keyboard.type(good_feedback("perfectly"))
    page.keyboard.press("Control+Enter")
    expect(page.get_by_test_id("submitted-count")).to_have_text("1")
    expect(page.locator("#feedback_1")).to_be_focused()  # the next task, without a reload
    result = TaskResult.objects.get()
    assert (result.helpfulness_1, result.helpfulness_2) == (4, 1)
    assert result.time_on_task_seconds is not None and result.time_on_task_seconds > 0


def test_edit_journey_with_an_unchanged_edit_refused(live_server, page: Page) -> None:
    project = ProjectFactory(slug="edit-journey", task_type=TaskType.EDIT, overlap=1)
    TaskUnitFactory(project=project, response_2=None, feedback=["The response is partially helpful. Say why."])
    member(project, username="eddie")
    _log_in_and_start(page, live_server.url, "eddie", project.slug)

    expect(page.locator(".feedback-list")).to_contain_text("Say why.")
    expect(page.locator("#edit-text")).to_be_focused()
    page.keyboard.press("Control+Enter")  # the original, unchanged
    expect(page.locator("#err-text")).to_contain_text("identical to the original")

    page.keyboard.press("Control+A")
    page.keyboard.type("A better answer, because it says why.")
    # The diff follows the typing (server-rendered through htmx).
    expect(page.get_by_test_id("edit-diff").locator("ins").first).to_contain_text("A better")
    page.keyboard.press("Control+Enter")  # no change summary yet
    expect(page.locator("#err-change_summary")).to_contain_text("Summarise what you changed")
    expect(page.get_by_test_id("edit-diff").locator("ins").first).to_contain_text("A better")
    expect(page.get_by_test_id("edit-diff").locator("del")).not_to_have_count(0)

    expect(page.locator("#change-summary")).to_be_focused()  # the field in error has the focus
    page.keyboard.press("Escape")
    page.keyboard.press("c")
    expect(page.locator("#change-summary")).to_be_focused()
    page.keyboard.type("Explained the reason, as the feedback asked.")
    page.keyboard.press("Control+Enter")
    expect(page.get_by_test_id("submitted-count")).to_have_text("1")
    assert TaskResult.objects.get().change_summary == "Explained the reason, as the feedback asked."


def test_edit_quality_journey(live_server, page: Page) -> None:
    project = ProjectFactory(slug="quality-journey", task_type=TaskType.EDIT_QUALITY, overlap=1)
    TaskUnitFactory(
        project=project, response_2=None, feedback=["Say why."], edit_1="Good: it says why.", edit_2="Bad edit.",
        good_edit=1,
    )  # fmt: skip
    member(project, username="quinn")
    _log_in_and_start(page, live_server.url, "quinn", project.slug)

    page.keyboard.press("Control+Enter")  # nothing chosen yet
    expect(page.locator("#err-choice")).to_contain_text("Choose the edit")
    first = page.locator(".edit-option").first
    good_shown = "1" if "Good: it says why." in (first.text_content() or "") else "2"
    page.keyboard.press(good_shown)
    expect(page.locator(f'input[name="choice"][value="{good_shown}"]')).to_be_checked()
    page.keyboard.press("Control+Enter")
    expect(page.get_by_test_id("submitted-count")).to_have_text("1")
    assert TaskResult.objects.get().choice == 1  # stored in unit terms: the good edit


def test_a_claim_that_needs_a_qualification_is_refused_in_place(live_server, page: Page) -> None:
    project = ProjectFactory(slug="feedback-pools", task_type=TaskType.FEEDBACK, overlap=1)
    gold = ComparisonFactory(project=project, prompt__domain="code")
    comparison_mark_gold(comparison=gold, gold_ratings={"strength": -3}, tolerance=1)
    qualification_set_create(project=project, name="Python code", domain="code", items=[(gold.pk, "It runs.")])
    TaskUnitFactory(project=project, prompt__domain="code")
    annotator = member(project, username="petra")
    _log_in_and_claim(page, live_server.url, "petra", project.slug)

    # The reason, in place on the task page (no reload, no error page); nothing is reserved.
    expect(page.get_by_test_id("not-qualified")).to_contain_text("Python code")
    expect(page).to_have_url(re.compile(r"/p/feedback-pools/tasks/$"))
    assert not TaskAssignment.objects.filter(annotator=annotator).exists()
    # The link to the qualification has the focus; Enter follows it.
    expect(page.get_by_test_id("qualify-link")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/p/feedback-pools/qualify/$"))
    expect(page.get_by_test_id("qualify-start")).to_be_focused()

"""An annotator's qualification in headless Chromium, keyboard only: the claim is refused with the reason, the
annotator fails the qualification (seeing each expected answer and its explanation), passes on retry, then gets the
domain's work; "?" opens the guidelines."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from annotator.models import Assignment, AttemptStatus, QualificationAttempt
from annotator.services.projects import comparison_mark_gold, project_update
from annotator.services.qualification import qualification_set_create
from tests.factories import ComparisonFactory, ProjectFactory, member

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-for-tests"  # tests.factories.UserFactory's password


def _answer(page: Page, right_steps: int) -> None:
    """Choose the strength ``right_steps`` places after the first choice (-3), then Tab to the button and submit."""
    first = page.locator('input[name="preference_strength"]').first
    expect(first).to_be_focused()
    if right_steps:
        for _ in range(right_steps):
            page.keyboard.press("ArrowRight")
    else:
        page.keyboard.press("Space")
    page.keyboard.press("Tab")
    expect(page.get_by_test_id("qualify-answer")).to_be_focused()
    page.keyboard.press("Enter")


def test_a_failed_then_passed_qualification_opens_the_domains_work(live_server, page: Page) -> None:
    project = ProjectFactory(slug="pools", overlap=1)
    project_update(project=project, task_guidelines={"preference": "Prefer code that **runs**."})
    golds = []
    for text in ("Reverse a list.", "Sum a list."):
        gold = ComparisonFactory(
            project=project, prompt__domain="code", prompt__turns=[{"role": "user", "content": text}]
        )
        comparison_mark_gold(comparison=gold, gold_ratings={"strength": -3}, tolerance=1)
        golds.append(gold)
    qualification_set_create(
        project=project,
        name="Python code",
        domain="code",
        items=[(golds[0].pk, "Response 1 **runs**; Response 2 raises."), (golds[1].pk, "Only Response 1 sums.")],
        pass_mark=1.0,
        strength_tolerance=0,
        cooldown_minutes=0,
    )
    work = ComparisonFactory(project=project, prompt__domain="code")
    annotator = member(project, username="quinn")

    page.goto(f"{live_server.url}/accounts/login/?next=/p/{project.slug}/annotate/")
    expect(page.locator('input[name="username"]')).to_be_focused()  # autofocus, before typing
    page.keyboard.type("quinn")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")

    # The claim is refused with the reason, in place; nothing is reserved.
    expect(page.get_by_test_id("claim")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("not-qualified")).to_contain_text("Python code")
    assert not Assignment.objects.filter(annotator=annotator).exists()
    expect(page.get_by_test_id("qualify-link")).to_be_focused()
    page.keyboard.press("Enter")

    # First attempt: a wrong answer, then a right one; each shows the expected answer and the explanation.
    expect(page.get_by_test_id("qualify-start")).to_be_focused()
    page.keyboard.press("Enter")
    _answer(page, right_steps=6)  # +3: Response 2 much better (expected -3)
    feedback = page.get_by_test_id("qualify-feedback")
    expect(feedback).to_contain_text("Not quite")
    expect(feedback.get_by_test_id("expected")).to_contain_text("-3 — Response 1 is much better than Response 2")
    expect(feedback.get_by_test_id("explanation").locator("strong")).to_have_text("runs")
    expect(page.get_by_test_id("qualify-next")).to_be_focused()
    page.keyboard.press("Enter")
    _answer(page, right_steps=0)
    expect(page.get_by_test_id("qualify-feedback")).to_contain_text("Right")
    expect(page.get_by_test_id("explanation")).to_contain_text("Only Response 1 sums.")
    expect(page.get_by_test_id("qualify-result")).to_contain_text("Not passed with 50 %")
    assert QualificationAttempt.objects.get(annotator=annotator).status == AttemptStatus.FAILED

    # Retry: both right.
    expect(page.get_by_test_id("back-to-qualify")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("standing")).to_contain_text("failed with 50 %")
    expect(page.get_by_test_id("qualify-start")).to_have_text("Try again")
    expect(page.get_by_test_id("qualify-start")).to_be_focused()
    page.keyboard.press("Enter")
    _answer(page, right_steps=0)
    expect(page.get_by_test_id("qualify-next")).to_be_focused()
    page.keyboard.press("Enter")
    _answer(page, right_steps=0)
    expect(page.get_by_test_id("qualify-result")).to_contain_text("Passed with 100 %")

    # The domain's work now reaches the annotator (never a qualification item).
    expect(page.get_by_test_id("go-annotate")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("claim")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#annotate-form")).to_be_visible()
    assert Assignment.objects.get(annotator=annotator).comparison_id == work.pk

    # "?" opens the guidelines, the project's and the task type's.
    page.keyboard.press("Escape")
    page.locator("body").focus()
    page.keyboard.press("?")
    expect(page).to_have_url(re.compile(r"/p/pools/guidelines/$"))
    expect(page.get_by_test_id("task-guidelines").locator("strong")).to_have_text("runs")

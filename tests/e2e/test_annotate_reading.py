"""The annotate page never hides what must be read: each new comparison opens at its prompt (or at the lead's note),
the conversation at its last user turn, the level descriptions cover nothing, and the chosen strength's key stays
readable."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from annotator.models import Annotation, Assignment, AssignmentStatus
from tests.factories import ComparisonFactory, ProjectFactory, PromptFactory, member

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LONG = "This paragraph is long on purpose, so that the box has to scroll. " * 12
JUSTIFICATION = "@Response 1 answers the question directly; @Response 2 wanders."
NOTE = "Please reread the second answer before rating correctness."

# Contrast ratio (WCAG 2.x) between an element's text colour and the first opaque background behind it.
CONTRAST_JS = """el => {
  const rgb = s => s.match(/[\\d.]+/g).map(Number);
  const lum = c => { const [r, g, b] = c.slice(0, 3).map(v => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  let bg = null;
  for (let n = el; n && !bg; n = n.parentElement) {
    const c = rgb(getComputedStyle(n).backgroundColor);
    if (c.length < 4 || c[3] > 0.99) bg = c;
  }
  bg = bg || [255, 255, 255];
  const a = lum(rgb(getComputedStyle(el).color)), b = lum(bg);
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""

IN_VIEW_JS = """el => { const r = el.getBoundingClientRect();
  return r.top >= 0 && r.top < window.innerHeight && r.bottom > 0; }"""


def _conversation(n: int) -> list[dict[str, str]]:
    turns = []
    for i in range(n):
        turns += [{"role": "user", "content": f"Earlier question {i}. {LONG}"},
                  {"role": "assistant", "content": f"Earlier answer {i}. {LONG}"}]  # fmt: skip
    return [*turns, {"role": "user", "content": "THE LAST QUESTION: what should I answer?"}]


def _log_in(page: Page, live_server: Any, username: str, next_url: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/?next={next_url}", timeout=60_000)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "pw-for-tests")
    page.locator("form button, form input[type=submit]").last.click()


def _rate_and_submit(page: Page) -> None:
    for _ in range(10):
        page.keyboard.press("3")
    page.keyboard.press("4")
    page.keyboard.type(JUSTIFICATION)
    page.keyboard.press("Control+Enter")


def _opens_at_the_prompt(page: Page) -> None:
    box = page.locator(".conversation")
    expect(box).to_be_visible()
    # The page is back at the top: the prompt box is in the viewport (once htmx has settled the swap, which comes a
    # moment after the new content, and its notice, is in the page).
    page.wait_for_function("() => window.scrollY === 0", timeout=5_000)
    assert box.evaluate(IN_VIEW_JS)
    # The last user turn is scrolled into the box's visible part; earlier turns are above it.
    last = box.locator(".turn-user").last
    expect(last).to_contain_text("THE LAST QUESTION")
    visible = box.evaluate(
        """b => { const l = [...b.querySelectorAll('.turn-user')].pop().getBoundingClientRect();
                  const r = b.getBoundingClientRect(); return l.top >= r.top - 1 && l.top < r.bottom - 10; }"""
    )
    assert visible
    assert box.evaluate("b => b.scrollTop") > 0
    # The scroll region is reachable from the keyboard and named.
    expect(box).to_have_attribute("tabindex", "0")
    assert box.get_attribute("aria-label")


def test_each_comparison_opens_at_its_prompt_and_last_user_turn(live_server: Any, page: Page) -> None:
    project = ProjectFactory(slug="reading", overlap=1, min_justification_length=20)
    for _ in range(3):
        prompt = PromptFactory(project=project, turns=_conversation(3))
        ComparisonFactory(project=project, prompt=prompt)
    member(project, username="annie")
    page.set_viewport_size({"width": 1280, "height": 720})

    _log_in(page, live_server, "annie", f"/p/{project.slug}/annotate/")
    page.get_by_test_id("claim").click()
    expect(page.locator("#annotate-form")).to_be_visible()
    _opens_at_the_prompt(page)

    # Submitting happens at the bottom of the page; the next comparison opens at its prompt, focus on question 1.
    _rate_and_submit(page)
    expect(page.get_by_test_id("submitted-count")).to_have_text("1")
    expect(page.locator('input[name="left.helpfulness"]').first).to_be_focused()
    _opens_at_the_prompt(page)
    notice = page.locator(".ws-notice").first
    expect(notice).to_have_text("Submitted.")
    assert notice.evaluate(CONTRAST_JS) >= 4.5  # WCAG AA for normal text

    # So does skipping (the skip form is at the very bottom).
    page.keyboard.press("s")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Control+Enter")
    expect(page.locator(".ws-notice").first).to_have_text("Skipped.")
    _opens_at_the_prompt(page)


def test_a_returned_comparison_opens_with_the_leads_note_in_view(live_server: Any, page: Page) -> None:
    project = ProjectFactory(slug="returned", overlap=1, min_justification_length=20)
    comparisons = [
        ComparisonFactory(project=project, prompt=PromptFactory(project=project, turns=_conversation(4)))
        for _ in range(2)
    ]
    annie = member(project, username="annie")
    page.set_viewport_size({"width": 1280, "height": 600})

    _log_in(page, live_server, "annie", f"/p/{project.slug}/annotate/")
    page.get_by_test_id("claim").click()
    expect(page.locator("#annotate-form")).to_be_visible()
    # Meanwhile a lead sends an earlier annotation (of the other comparison) back with a note.
    claimed = Assignment.objects.get(annotator=annie).comparison_id
    returned_comparison = next(c for c in comparisons if c.pk != claimed)
    earlier = Assignment.objects.create(
        comparison=returned_comparison, annotator=annie, status=AssignmentStatus.RETURNED, review_note=NOTE
    )
    Annotation.objects.create(
        assignment=earlier, comparison=returned_comparison, annotator=annie, ratings={"1": {}, "2": {}},
        preference_strength=0, justification=JUSTIFICATION,
    )  # fmt: skip
    _rate_and_submit(page)
    note = page.locator(".review-note")
    expect(note).to_contain_text(NOTE)
    assert note.evaluate(IN_VIEW_JS)
    assert page.evaluate("() => window.scrollY") == 0


def test_level_descriptions_cover_nothing_and_the_chosen_key_stays_readable(live_server: Any, page: Page) -> None:
    project = ProjectFactory(slug="levels", overlap=1, min_justification_length=20)
    ComparisonFactory(project=project)
    member(project, username="annie")
    page.set_viewport_size({"width": 1280, "height": 900})
    _log_in(page, live_server, "annie", f"/p/{project.slug}/annotate/")
    page.get_by_test_id("claim").click()

    # Submit with nothing rated: every row shows its inline error.
    page.get_by_role("button", name="Submit").click()
    error = page.locator("#err-left-helpfulness")
    expect(error).to_be_visible()

    level = page.locator(".response-left fieldset[data-row]").first.locator("label.level").nth(3)
    level.hover()
    level.locator("input").focus()
    # No floating tooltip is drawn over the page...
    assert level.evaluate("l => getComputedStyle(l, '::after').content") in ("none", "normal", "")
    # ...the description is shown in its own line, and overlaps neither the next row nor the inline error.
    hint = page.locator(".response-left [data-level-hint]")
    expect(hint).to_contain_text("3")
    hint_box = hint.bounding_box()
    assert hint_box is not None and hint_box["height"] > 0
    for other in (page.locator(".response-left fieldset[data-row]").nth(1), error):
        box = other.bounding_box()
        assert box is not None
        overlap = not (hint_box["y"] >= box["y"] + box["height"] or box["y"] >= hint_box["y"] + hint_box["height"])
        assert not overlap, (hint_box, box)

    # The chosen strength's key number keeps AA contrast on the highlighted choice.
    page.locator(".strength-choice").nth(2).click()
    kbd = page.locator(".strength-choice input:checked + span kbd")
    assert kbd.evaluate(CONTRAST_JS) >= 4.5

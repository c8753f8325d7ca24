"""The annotate page on a phone and a tablet: the top bar does not overflow at 390 px, the two responses stay side
by side from 768 px, and on a touch screen every control is a tap target of at least 44 × 44 px."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.factories import ComparisonFactory, ProjectFactory, member

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
TABLET = {"width": 768, "height": 1024}
# Everything the annotator taps on the annotate page.
CONTROLS = ".topbar a, .topbar button, label.level, label.strength-choice, .actions button, summary, label.flag"


def _open_annotate(browser: Browser, live_server: Any, viewport: dict[str, int], *, touch: bool) -> Page:
    context = browser.new_context(viewport=viewport, has_touch=touch, is_mobile=touch)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{live_server.url}/accounts/login/?next=/p/a-rather-long-project-name/annotate/", timeout=60_000)
    page.fill("input[name=username]", "annie-with-a-long-name")
    page.fill("input[name=password]", "pw-for-tests")
    page.locator("form button, form input[type=submit]").last.click()
    page.get_by_test_id("claim").click()
    expect(page.locator("#annotate-form")).to_be_visible()
    return page


@pytest.fixture
def project() -> Any:
    project = ProjectFactory(slug="a-rather-long-project-name", name="A rather long project name for phones", overlap=1)
    ComparisonFactory.create_batch(2, project=project)
    member(project, username="annie-with-a-long-name")
    return project


def _no_horizontal_overflow(page: Page) -> None:
    widths = page.evaluate(
        """() => ({doc: document.documentElement.scrollWidth, view: window.innerWidth,
                  bar: document.querySelector('.topbar').scrollWidth,
                  barBox: document.querySelector('.topbar').clientWidth})"""
    )
    assert widths["bar"] <= widths["barBox"], widths
    assert widths["doc"] <= widths["view"], widths


def test_phone_top_bar_fits_and_tap_targets_are_44px(browser: Browser, live_server: Any, project: Any) -> None:
    page = _open_annotate(browser, live_server, PHONE, touch=True)
    assert page.evaluate("() => matchMedia('(pointer: coarse)').matches")
    _no_horizontal_overflow(page)
    # The phone's top bar: the navigation wraps onto a line of its own rather than squeezing the links.
    for link in page.locator(".topbar a, .topbar button").all():
        box = link.bounding_box()
        assert box is not None and box["height"] < 2 * 44, box  # one line of text (or one 44 px target), not three
    # Every link of the top bar is inside the viewport.
    for link in page.locator(".topbar a, .topbar button").all():
        box = link.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 0.5, box
    small = page.evaluate(
        """sel => [...document.querySelectorAll(sel)].filter(e => e.getClientRects().length).map(e => {
               const r = e.getBoundingClientRect();
               return {what: e.className + ' ' + e.textContent.trim().slice(0, 20), w: r.width, h: r.height};
           }).filter(r => r.w < 44 || r.h < 44)""",
        CONTROLS,
    )
    assert small == []
    # On a phone the responses are stacked.
    left, right = page.locator(".response-left").bounding_box(), page.locator(".response-right").bounding_box()
    assert left and right and right["y"] >= left["y"] + left["height"]
    # The history page has the longest annotator navigation (three links); it fits too.
    page.goto(f"{live_server.url}/p/{project.slug}/annotate/history/")
    _no_horizontal_overflow(page)
    page.context.close()


def test_tablet_keeps_the_responses_side_by_side(browser: Browser, live_server: Any, project: Any) -> None:
    page = _open_annotate(browser, live_server, TABLET, touch=True)
    _no_horizontal_overflow(page)
    left, right = page.locator(".response-left").bounding_box(), page.locator(".response-right").bounding_box()
    assert left and right
    assert abs(left["y"] - right["y"]) < 1 and right["x"] >= left["x"] + left["width"]
    # Nothing inside a response spills over into the other one.
    overflow = page.evaluate(
        """() => [...document.querySelectorAll('.response')].map(r => r.scrollWidth - r.clientWidth)"""
    )
    assert max(overflow) <= 0, overflow
    page.context.close()

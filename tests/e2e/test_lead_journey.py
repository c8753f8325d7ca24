"""A data lead audits a project in the browser: the overview with its charts, the disagreement queue, a rejection
with a reason; then the annotator opens their queue and reads the reason above the returned comparison."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from annotator.models import Annotation, Assignment, AssignmentStatus, Review, Role
from tests.annotator.selectors.quality_data import annotate, simulated_project
from tests.factories import ComparisonFactory, ProjectFactory, member

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

REASON = "Helpfulness 0 for a correct answer: please reread response 1."


def _log_in(page: Page, live_server: Any, username: str, next_url: str) -> None:
    # Generous: the live server's first request imports every URL module (seconds on a busy machine).
    page.goto(f"{live_server.url}/accounts/login/?next={next_url}", timeout=60_000)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "pw-for-tests")
    page.locator("form button, form input[type=submit]").last.click()


def test_lead_rejects_an_annotation_and_the_annotator_sees_why(page: Page, live_server: Any) -> None:
    project = ProjectFactory(slug="audit", overlap=3)
    member(project, Role.LEAD, username="lead")
    people = [member(project, username=name) for name in ("ann", "bob", "cyd")]
    torn, calm = ComparisonFactory(project=project), ComparisonFactory(project=project)
    for person, helpfulness in zip(people, [4, 4, 0], strict=True):
        annotate(torn, person, r1={"helpfulness": helpfulness}, r2=2, strength=-2 if helpfulness else 2,
                 justification=f"{person.username}: @Response 1 is the one I prefer.")  # fmt: skip
        annotate(calm, person, r1=3, r2=3, strength=0)
    outlier = torn.annotations.get(annotator__username="cyd")
    page.set_default_timeout(10_000)

    _log_in(page, live_server, "lead", "/p/audit/lead/")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.locator('[data-stat="comparisons"]')).to_have_text("2")
    expect(page.locator("#agreement-table tr[data-measure=helpfulness]")).to_be_visible()
    # Chart.js drew on both canvases (the vendored file loaded and lead.js ran).
    page.wait_for_function(
        "() => window.Chart && Chart.getChart('agreement-chart') && Chart.getChart('agreement-time-chart')"
    )

    page.get_by_role("link", name="Disagreements").click()
    first = page.locator("article.disagreement").first
    expect(first).to_have_attribute("data-comparison", str(torn.pk))
    expect(first.locator(".annotation-card")).to_have_count(3)
    expect(first.get_by_text("cyd: @Response 1 is the one I prefer.")).to_be_visible()

    card = page.locator(f"#annotation-{outlier.pk}")
    card.get_by_text("Reject…").click()
    card.get_by_label("Reason (the annotator reads it)").fill(REASON)
    card.get_by_role("button", name="Reject and send back").click()
    card = page.locator(f"#annotation-{outlier.pk}")  # swapped in place by htmx
    expect(card.locator("[data-review-status]")).to_have_text("rejected")
    expect(card.get_by_text(REASON)).to_be_visible()
    assert page.url.endswith("/p/audit/lead/disagreements/")  # no reload: the card changed in place
    assert Review.objects.get().decision == "reject"
    assert Assignment.objects.get(pk=outlier.assignment_id).status == AssignmentStatus.RETURNED

    page.context.clear_cookies()
    _log_in(page, live_server, "cyd", "/p/audit/annotate/")
    note = page.locator(".review-note")
    expect(note).to_be_visible()
    expect(note).to_contain_text(REASON)


def test_lead_sees_flags_first_picks_columns_and_reviews_by_keyboard(page: Page, live_server: Any) -> None:
    project = ProjectFactory(slug="flags", overlap=3)
    member(project, Role.LEAD, username="lead")
    data = simulated_project(
        project, comparisons=60, profiles=["careful", "careful", "careful", "position_left"], seed=4
    )
    positional = data["users"][3].username
    page.set_default_timeout(10_000)

    _log_in(page, live_server, "lead", "/p/flags/lead/annotators/?sort=username")
    first_row = page.locator("table.lead-annotators tbody tr").first
    expect(first_row).to_have_attribute("data-annotator", positional)
    expect(first_row.locator('[data-flag="position"]')).to_have_text("position bias")
    expect(page.locator('th[data-column="bias_helpfulness"]')).to_have_count(0)
    page.get_by_text("Columns", exact=True).click()
    page.get_by_label("bias per attribute").check()
    page.get_by_role("button", name="Show these columns").click()
    expect(page.locator('th[data-column="bias_helpfulness"]')).to_be_visible()
    assert "show=bias" in page.url

    page.get_by_role("link", name="Disagreements").click()
    page.locator(".lead-filters select[name=annotator]").select_option(label=positional)
    page.get_by_role("button", name="Filter", exact=True).click()
    expect(page).to_have_url(re.compile(f"annotator={data['users'][3].pk}"))  # htmx swapped the list and pushed the URL
    cards = page.locator(".annotation-card")
    expect(page.locator("article.disagreement").first).to_be_visible()
    for comparison_id in page.locator("article.disagreement").evaluate_all("els => els.map(e => e.dataset.comparison)"):
        assert Annotation.objects.filter(comparison_id=int(comparison_id), annotator=data["users"][3]).exists()
    # Keyboard: j selects the first card, a accepts it in place; j, x ticks the next one; the bulk button accepts it.
    page.locator("h1").click()
    page.keyboard.press("j")
    first_id = cards.first.get_attribute("data-annotation")
    page.keyboard.press("a")
    expect(page.locator(f"#annotation-{first_id} [data-review-status]")).to_have_text("accepted")
    page.keyboard.press("j")
    second_id = cards.nth(1).get_attribute("data-annotation")
    page.keyboard.press("x")
    expect(page.locator(f"#annotation-{second_id} .bulk-tick input")).to_be_checked()
    page.get_by_role("button", name="Accept the ticked annotations").click()
    expect(page.locator(f"#annotation-{second_id} [data-review-status]")).to_have_text("accepted")
    accepted = set(Review.objects.filter(decision="accept").values_list("annotation_id", flat=True))
    assert accepted == {int(first_id), int(second_id)}

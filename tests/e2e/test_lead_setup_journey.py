"""A data lead sets a project up in the browser: create it, preview guidelines, edit a level description, add a
member, import a small Prefstack JSONL file, and see a bad file's error in place; in an edit project, import
HelpSteer3 edit files (another config's refused in place) and download the project's file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from annotator.models import Comparison, Membership, Project, Role, TaskType, TaskUnit
from tests.e2e.axe import axe_violations, describe
from tests.factories import ProjectFactory, UserFactory, member

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "formats"

GOOD = [
    {"prompt": "What is 2+2?", "response_1": "4", "response_2": "Five.", "preference_strength": -2},
    {"prompt": "Name a colour.", "response_1": "Blue", "response_2": "Seven"},
]


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def test_lead_sets_up_a_project(page: Page, live_server: Any) -> None:
    UserFactory(username="boss", is_staff=True)
    UserFactory(username="ann")
    page.set_default_timeout(10_000)

    page.goto(f"{live_server.url}/accounts/login/?next=/projects/new/")
    page.fill("input[name=username]", "boss")
    page.fill("input[name=password]", "pw-for-tests")
    page.locator("form button, form input[type=submit]").last.click()

    # Create the project; its settings page opens.
    page.fill("input[name=name]", "Code answers")
    page.fill("input[name=slug]", "code-answers")
    page.get_by_role("button", name="Create project").click()
    expect(page).to_have_url(f"{live_server.url}/p/code-answers/settings/")
    project = Project.objects.get(slug="code-answers")
    assert Membership.objects.get(project=project).user.username == "boss"

    # Guidelines preview, rendered as Markdown while typing (once htmx has wired the page: the URL changes before
    # the new page's scripts have run, and typing before that would go unseen).
    page.wait_for_load_state("load")
    page.fill("textarea[name=guidelines]", "## Be fair\n\nRead **both** answers.")
    expect(page.locator("#guidelines-preview h2")).to_have_text("Be fair")
    expect(page.locator("#guidelines-preview strong")).to_have_text("both")

    # Edit a level description of an attribute, in place.
    page.get_by_role("link", name="Attributes").click()
    verbosity = page.locator("form[data-attribute=verbosity]")
    verbosity.get_by_label("Level 2").fill("As long as the question needs.")
    verbosity.get_by_role("button", name="Save verbosity").click()
    expect(page.get_by_text("Attribute verbosity saved.")).to_be_visible()
    assert project.attributes.get(name="verbosity").level_descriptions[2] == "As long as the question needs."

    # Add a member.
    page.get_by_role("link", name="Members").click()
    page.fill("input[name=username]", "ann")
    page.select_option("select[name=role]", "annotator")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator("tr[data-member=ann]")).to_be_visible()
    assert Membership.objects.filter(project=project, user__username="ann", role="annotator").exists()

    # Import a small Prefstack JSONL file.
    page.get_by_role("link", name="Import").click()
    page.select_option("select[name=fmt]", "prefstack")
    page.set_input_files(
        "input[name=file]", files=[{"name": "two.jsonl", "mimeType": "application/x-ndjson", "buffer": _jsonl(GOOD)}]
    )
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator("#import-result")).to_contain_text("Imported 2 comparisons.")
    expect(page.locator("#comparison-count")).to_have_text("2")

    # A bad file: the error, with its line and column, appears in the page and nothing is imported.
    bad = [GOOD[0], {"prompt": "p", "response_1": "a"}]
    page.set_input_files(
        "input[name=file]", files=[{"name": "bad.jsonl", "mimeType": "application/x-ndjson", "buffer": _jsonl(bad)}]
    )
    page.get_by_role("button", name="Import", exact=True).click()
    error = page.locator("#import-error")
    expect(error).to_contain_text("Nothing was imported.")
    expect(error).to_contain_text("response_2")
    expect(error.locator("dd").first).to_have_text("2")
    assert page.url == f"{live_server.url}/p/code-answers/settings/import/"  # swapped in place, no navigation
    assert Comparison.objects.filter(project=project).count() == 2


def test_lead_imports_and_downloads_a_task_projects_files(
    page: Page, live_server: Any, csp_violations: list[str]
) -> None:
    project = ProjectFactory(slug="edits", task_type=TaskType.EDIT)
    member(project, Role.LEAD, username="lena")
    page.set_default_timeout(10_000)
    page.goto(f"{live_server.url}/accounts/login/?next=/p/edits/settings/import/")
    expect(page.locator('input[name="username"]')).to_be_focused()  # autofocus, before typing
    page.keyboard.type("lena")
    page.keyboard.press("Tab")
    page.keyboard.type("pw-for-tests")
    page.keyboard.press("Enter")
    expect(page.locator("#task-unit-count")).to_have_text("0")
    page.wait_for_load_state("load")

    # A file of another task type: refused in place, nothing written.
    page.set_input_files("input[name=file]", str(FIXTURES / "helpsteer3_feedback.jsonl"))
    page.locator("select[name=split]").focus()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Import", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#import-error")).to_contain_text("HelpSteer3 feedback file, not edit")
    assert not TaskUnit.objects.filter(project=project).exists()

    # The project's own config, into the validation split: the summary in place.
    page.set_input_files("input[name=file]", str(FIXTURES / "helpsteer3_edit.jsonl"))
    page.locator("select[name=split]").focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator("#import-result")).to_contain_text("Imported 1 task.")
    expect(page.locator("#task-unit-count")).to_have_text("1")
    assert page.url == f"{live_server.url}/p/edits/settings/import/"  # swapped in place, no navigation
    assert TaskUnit.objects.get(project=project).split == "validation"
    violations = axe_violations(page, csp_violations)
    assert violations == [], describe(violations)

    # The download links answer the project's file.
    validation = page.locator("tr", has=page.get_by_role("rowheader", name="Validation", exact=True))
    validation.get_by_role("link", name="jsonl", exact=True).focus()
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    assert download.value.suggested_filename == "edits-edit-validation.jsonl"
    assert Path(download.value.path()).read_bytes() == (FIXTURES / "helpsteer3_edit.jsonl").read_bytes()

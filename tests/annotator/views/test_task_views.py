"""The feedback, edit and edit-quality pages: claim, a refused feedback kept in place with its reasons (htmx and
plain), the check-as-you-type endpoint, an edit's diff, and the lead's review page."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from annotator.models import AssignmentStatus, Role, TaskAssignment, TaskResult, TaskType
from annotator.services.projects import comparison_mark_gold
from annotator.services.qualification import qualification_set_create
from annotator.services.task_units import task_claim_next
from tests.factories import ComparisonFactory, ProjectFactory, TaskUnitFactory, good_feedback, member

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def _client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def project():
    project = ProjectFactory(task_type=TaskType.FEEDBACK, overlap=1)
    TaskUnitFactory.create_batch(2, project=project)
    return project


def test_the_annotate_link_of_a_feedback_project_leads_to_the_task_page(project) -> None:
    client = _client(member(project))
    response = client.get(reverse("annotator:annotate", args=[project.slug]))
    assert response.status_code == 302 and response["Location"] == reverse("annotator:task", args=[project.slug])
    page = client.get(response["Location"])
    assert page.status_code == 200 and b'data-testid="claim"' in page.content


def test_claim_then_submit_with_htmx_shows_the_next_task(project) -> None:
    user = member(project)
    client = _client(user)
    claimed = client.post(reverse("annotator:task", args=[project.slug]), **HX)
    assert b'name="feedback_1"' in claimed.content
    assignment = TaskAssignment.objects.get(annotator=user)
    data = {"feedback_1": good_feedback(), "feedback_2": good_feedback("not"), "time_on_task_seconds": "12.5"}
    response = client.post(reverse("annotator:task_submit", args=[assignment.pk]), data, **HX)
    assert response.status_code == 200 and b"Submitted." in response.content
    result = TaskResult.objects.get()
    assert (result.helpfulness_1, result.helpfulness_2, result.time_on_task_seconds) == (3, 0, 12.5)
    assert TaskAssignment.objects.filter(annotator=user, status=AssignmentStatus.RESERVED).count() == 1


@pytest.mark.parametrize("htmx", [True, False])
def test_a_feedback_that_breaks_the_rules_comes_back_with_the_text_and_the_reason(project, htmx: bool) -> None:
    user = member(project)
    assignment = task_claim_next(project=project, annotator=user)
    data = {"feedback_1": "Great answer, well done.", "feedback_2": good_feedback()}
    response = _client(user).post(reverse("annotator:task_submit", args=[assignment.pk]), data, **(HX if htmx else {}))
    assert response.status_code == (200 if htmx else 422)
    body = response.content.decode()
    assert "Great answer, well done.</textarea>" in body
    assert "Begin with “The response is not / slightly / partially / mostly / perfectly helpful”" in body
    assert 'id="err-feedback_1"' in body and 'id="err-feedback_2"' not in body
    assert TaskResult.objects.count() == 0


def test_the_check_as_you_type_endpoint_runs_the_same_rules(project) -> None:
    client = _client(member(project))
    url = reverse("annotator:task_feedback_check", args=[project.slug])
    bad = client.post(url, {"field": "feedback_2", "feedback_2": "Short."}, **HX)
    assert bad.status_code == 200 and b'id="check-feedback_2"' in bad.content and b"Begin with" in bad.content
    good = client.post(url, {"field": "feedback_1", "feedback_1": good_feedback("perfectly")}, **HX)
    assert b"Follows the rules." in good.content and b"helpfulness 4/4" in good.content
    assert client.post(url, {"field": "text"}, **HX).status_code == 400
    outsider = _client(member(ProjectFactory(task_type=TaskType.FEEDBACK)))
    assert outsider.post(url, {"field": "feedback_1"}).status_code == 404


def test_an_edit_page_shows_the_feedback_and_a_refused_unchanged_edit_in_place() -> None:
    project = ProjectFactory(task_type=TaskType.EDIT, overlap=1)
    unit = TaskUnitFactory(project=project, response_2=None, feedback=["The response is not helpful. Add <b>x</b>."])
    user = member(project)
    assignment = task_claim_next(project=project, annotator=user)
    client = _client(user)
    page = client.get(reverse("annotator:task", args=[project.slug])).content.decode()
    assert "Add &lt;b&gt;x&lt;/b&gt;." in page  # escaped like every other text
    data = {"text": unit.response_1.text, "change_summary": "None."}
    refused = client.post(reverse("annotator:task_submit", args=[assignment.pk]), data, **HX).content.decode()
    assert "identical to the original" in refused
    data = {"text": "A <script>better</script> answer.", "change_summary": ""}
    again = client.post(reverse("annotator:task_submit", args=[assignment.pk]), data, **HX).content.decode()
    assert "<ins>A &lt;script&gt;better&lt;/script&gt; answer.</ins>" in again  # the diff, escaped
    assert "Summarise what you changed" in again


def test_the_lead_rejects_a_feedback_and_it_comes_back_with_the_reason(project) -> None:
    user = member(project)
    lead = member(project, Role.LEAD)
    assignment = task_claim_next(project=project, annotator=user)
    client = _client(user)
    data = {"feedback_1": good_feedback(), "feedback_2": good_feedback("slightly")}
    client.post(reverse("annotator:task_submit", args=[assignment.pk]), data, **HX)
    result = TaskResult.objects.get()
    lead_client = _client(lead)
    page = lead_client.get(reverse("annotator:lead_task_results", args=[project.slug]))
    assert page.status_code == 200 and good_feedback("slightly").encode() in page.content
    url = reverse("annotator:lead_task_review", args=[project.slug, result.pk])
    lead_client.post(url, {"decision": "reject", "reason": "Say what is missing."})
    assert client.get(reverse("annotator:task", args=[project.slug])).status_code == 200
    back = task_claim_next(project=project, annotator=user)
    assert back.pk == assignment.pk and back.status == AssignmentStatus.RETURNED
    assert b"Say what is missing." in client.get(reverse("annotator:task", args=[project.slug])).content
    assert client.get(reverse("annotator:lead_task_results", args=[project.slug])).status_code == 403


def test_a_lead_sets_the_task_type_and_the_feedback_rules_until_the_project_has_data() -> None:
    project = ProjectFactory()
    lead = member(project, Role.LEAD)
    client = _client(lead)
    url = reverse("annotator:setup_settings", args=[project.slug])
    base = {"name": project.name, "licence": "CC-BY-4.0", "overlap": 3, "adaptive_overlap_threshold": 2,
            "adaptive_overlap_extra": 2, "reservation_minutes": 30, "min_justification_length": 20, "guidelines": ""}  # fmt: skip
    page = client.get(url).content.decode()
    assert 'name="feedback_min_words"' in page and 'value="50"' in page
    client.post(url, {**base, "task_type": "feedback", "feedback_min_words": 10, "feedback_requires_opening": "no"})
    project.refresh_from_db()
    assert (project.task_type, project.feedback_min_words, project.feedback_requires_opening) == ("feedback", 10, False)
    client.post(url, base)  # the task settings left out: unchanged
    project.refresh_from_db()
    assert (project.task_type, project.feedback_min_words, project.feedback_requires_opening) == ("feedback", 10, False)
    refused = client.post(url, {**base, "feedback_min_words": 300}, **HX).content.decode()
    assert "Each feedback maximum is at least its minimum." in refused
    TaskUnitFactory(project=project)
    refused = client.post(url, {**base, "task_type": "edit"}, **HX).content.decode()
    assert "The task type is fixed once the project has comparisons or tasks." in refused
    project.refresh_from_db()
    assert project.task_type == "feedback"


def test_a_lead_makes_edit_tasks_from_a_feedback_project(project) -> None:
    user = member(project)
    lead = member(project, Role.LEAD)
    assignment = task_claim_next(project=project, annotator=user)
    data = {"feedback_1": good_feedback(), "feedback_2": good_feedback("not")}
    _client(user).post(reverse("annotator:task_submit", args=[assignment.pk]), data, **HX)
    edits = ProjectFactory(task_type=TaskType.EDIT)
    edits.memberships.create(user=lead, role=Role.LEAD)
    client = _client(lead)
    url = reverse("annotator:lead_task_units_create", args=[edits.slug])
    assert b'name="source"' in client.get(reverse("annotator:lead_task_results", args=[edits.slug])).content
    page = client.post(url, {"source": project.slug}, follow=True).content.decode()
    assert "2 new tasks from" in page
    assert edits.task_units.count() == 2
    wrong = client.post(url, {"source": edits.slug}, follow=True).content.decode()
    assert "Edit units come from a feedback project" in wrong


def test_the_live_diff_of_an_edit_is_escaped_and_only_for_its_annotator() -> None:
    project = ProjectFactory(task_type=TaskType.EDIT, overlap=2)
    TaskUnitFactory(project=project, response_2=None, feedback=["Say more."], response_1__text="Old <i>text</i>.")
    user = member(project)
    assignment = task_claim_next(project=project, annotator=user)
    url = reverse("annotator:task_edit_diff", args=[assignment.pk])
    body = _client(user).post(url, {"text": "New <i>text</i>."}, **HX).content.decode()
    assert "<del>Old </del><ins>New </ins>" in body and "&lt;i&gt;text&lt;/i&gt;." in body
    assert _client(member(project)).post(url, {"text": "x"}, **HX).status_code == 404


def test_a_task_page_links_the_guidelines_and_shows_its_task_types_own(project) -> None:
    project.guidelines = "Project-wide rules."
    project.task_guidelines = {
        "feedback": "Quote the sentence you criticise.",
        "edit": "Edit only what the feedback asks.",
    }
    project.save(update_fields=["guidelines", "task_guidelines"])
    client = _client(member(project))
    page = client.post(reverse("annotator:task", args=[project.slug]), **HX).content.decode()
    assert reverse("annotator:guidelines", args=[project.slug]) in page and "data-guidelines-link" in page
    assert "Quote the sentence you criticise." in page and "Project-wide rules." in page
    assert "Edit only what the feedback asks." not in page  # another task type's guidelines stay on its pages
    full = client.get(reverse("annotator:guidelines", args=[project.slug])).content.decode()
    assert "Quote the sentence you criticise." in full and "Edit only what the feedback asks." in full


def test_an_unqualified_claim_on_the_task_page_shows_the_reason_in_place_and_claims_nothing() -> None:
    project = ProjectFactory(task_type=TaskType.FEEDBACK, overlap=1)
    gold = ComparisonFactory(project=project, prompt__domain="code")
    comparison_mark_gold(comparison=gold, gold_ratings={"strength": -3}, tolerance=1)
    qualification_set_create(project=project, name="Python code", domain="code", items=[(gold.pk, "It runs.")])
    TaskUnitFactory(project=project, prompt__domain="code")
    annotator = member(project)
    client = _client(annotator)
    url = reverse("annotator:task", args=[project.slug])
    qualify = reverse("annotator:qualify", args=[project.slug])

    start = client.get(url).content.decode()
    assert f'href="{qualify}"' in start  # the hint before any claim
    partial = client.post(url, **HX)
    html = partial.content.decode()
    assert partial.status_code == 200 and 'data-testid="not-qualified"' in html and "Python code" in html
    assert f'href="{qualify}" data-testid="qualify-link"' in html
    page = client.post(url)  # without JS: the page, in place, with the refusal's status (as the annotate page)
    assert page.status_code == 400 and 'data-testid="not-qualified"' in page.content.decode()
    assert "<html" in page.content.decode()
    assert not TaskAssignment.objects.filter(annotator=annotator).exists()

"""Onboarding pages: the qualification list, an attempt item by item with feedback, the refusal in place on the
annotate page, and the guidelines page."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from annotator.models import Assignment, AttemptStatus, Project, QualificationAttempt
from annotator.services.projects import comparison_mark_gold, project_update
from annotator.services.qualification import qualification_set_create
from tests.factories import ComparisonFactory, ProjectFactory, member

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def _client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def _pooled_project() -> tuple[Project, object]:
    project = ProjectFactory(overlap=1)
    gold = ComparisonFactory(project=project, prompt__domain="code")
    comparison_mark_gold(comparison=gold, gold_ratings={"1": {"helpfulness": 4}, "strength": -3}, tolerance=1)
    qualification_set = qualification_set_create(
        project=project,
        name="Code",
        domain="code",
        items=[(gold.pk, "Response 1 **runs**; Response 2 raises.")],
        cooldown_minutes=0,
    )
    ComparisonFactory(project=project, prompt__domain="code")
    return project, qualification_set


def test_an_unqualified_claim_shows_the_reason_in_place_and_writes_nothing() -> None:
    project, _ = _pooled_project()
    annotator = member(project)
    client = _client(annotator)
    url = reverse("annotator:annotate", kwargs={"slug": project.slug})
    page = client.post(url)
    assert page.status_code == 400
    assert "qualification you have not passed" in page.content.decode()
    assert reverse("annotator:qualify", kwargs={"slug": project.slug}) in page.content.decode()
    partial = client.post(url, **HX)
    assert partial.status_code == 200 and 'data-testid="not-qualified"' in partial.content.decode()
    assert not Assignment.objects.filter(annotator=annotator).exists()


def test_an_attempt_shows_the_expected_answer_and_explanation_after_each_item_then_the_result() -> None:
    project, qualification_set = _pooled_project()
    annotator = member(project)
    client = _client(annotator)
    listing = client.get(reverse("annotator:qualify", kwargs={"slug": project.slug}))
    assert listing.status_code == 200 and "Not taken yet" in listing.content.decode()
    start = client.post(
        reverse("annotator:qualify_start", kwargs={"slug": project.slug, "set_id": qualification_set.pk})
    )
    attempt = QualificationAttempt.objects.get(annotator=annotator)
    assert start.status_code == 302 and start["Location"].endswith(f"/qualify/attempts/{attempt.pk}/")
    page = client.get(start["Location"])
    item = qualification_set.items.get()
    assert f'name="item" value="{item.pk}"' in page.content.decode()
    assert 'name="r1.helpfulness"' in page.content.decode() and 'name="preference_strength"' in page.content.decode()

    incomplete = client.post(start["Location"], {"item": item.pk, "r1.helpfulness": 4}, **HX)
    assert incomplete.status_code == 200 and "preference strength" in incomplete.content.decode()
    assert not attempt.answers.exists()

    answered = client.post(start["Location"], {"item": item.pk, "r1.helpfulness": 1, "preference_strength": 3})
    html = answered.content.decode()
    assert answered.status_code == 200
    assert "Not quite" in html and "<strong>runs</strong>" in html  # the explanation, as Markdown
    assert 'data-testid="qualify-result"' in html and "Not passed with 0 %" in html
    attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.FAILED

    again = client.post(
        reverse("annotator:qualify_start", kwargs={"slug": project.slug, "set_id": qualification_set.pk})
    )
    retry = QualificationAttempt.objects.get(annotator=annotator, number=2)
    answered = client.post(again["Location"], {"item": item.pk, "r1.helpfulness": 4, "preference_strength": -2})
    assert "Passed with 100 %" in answered.content.decode()
    retry.refresh_from_db()
    assert retry.status == AttemptStatus.PASSED
    listing = client.get(reverse("annotator:qualify", kwargs={"slug": project.slug}))
    assert "Passed." in listing.content.decode()
    claimed = client.post(reverse("annotator:annotate", kwargs={"slug": project.slug}))
    assert claimed.status_code == 302
    assert Assignment.objects.filter(annotator=annotator).count() == 1


def test_a_refused_start_is_shown_on_the_list() -> None:
    project, qualification_set = _pooled_project()
    qualification_set.max_attempts = 1
    qualification_set.save()
    annotator = member(project)
    client = _client(annotator)
    start_url = reverse("annotator:qualify_start", kwargs={"slug": project.slug, "set_id": qualification_set.pk})
    location = client.post(start_url)["Location"]
    client.post(location, {"item": qualification_set.items.get().pk, "r1.helpfulness": 0, "preference_strength": 3})
    refused = client.post(start_url)
    assert refused.status_code == 409
    assert "used all 1 attempts" in refused.content.decode()


def test_someone_elses_attempt_is_not_found() -> None:
    project, qualification_set = _pooled_project()
    owner, other = member(project), member(project)
    location = _client(owner).post(
        reverse("annotator:qualify_start", kwargs={"slug": project.slug, "set_id": qualification_set.pk})
    )["Location"]
    assert _client(other).get(location).status_code == 404


def test_the_guidelines_page_shows_the_projects_and_each_task_types_guidelines() -> None:
    project = ProjectFactory(guidelines="Read **both** responses.")
    project_update(project=project, task_guidelines={"preference": "Compare, then say *why*."})
    client = _client(member(project))
    html = client.get(reverse("annotator:guidelines", kwargs={"slug": project.slug})).content.decode()
    assert "<strong>both</strong>" in html and "<em>why</em>" in html
    ComparisonFactory(project=project)
    client.post(reverse("annotator:annotate", kwargs={"slug": project.slug}))
    annotate = client.get(reverse("annotator:annotate", kwargs={"slug": project.slug})).content.decode()
    assert "data-guidelines-link" in annotate and "<em>why</em>" in annotate

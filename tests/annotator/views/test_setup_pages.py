"""The lead's set-up pages: permissions, and every form with and without htmx (``HX-Request``)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from annotator.models import Comparison, Membership, Project, QualificationAttempt, QualificationSet, Role
from tests.factories import ComparisonFactory, ProjectFactory, UserFactory, member

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
SETUP_PAGES = ["setup_settings", "setup_attributes", "setup_members", "setup_import", "setup_gold", "setup_pools"]


def _url(name: str, project: Project) -> str:
    return reverse(f"annotator:{name}", kwargs={"slug": project.slug})


@pytest.fixture
def project() -> Project:
    return ProjectFactory(guidelines="Rate **carefully**.")


@pytest.fixture
def lead_client(project: Project) -> Client:
    client = Client()
    client.force_login(member(project, Role.LEAD, username="lead"))
    return client


# --- permissions ---


@pytest.mark.parametrize("page", SETUP_PAGES)
def test_setup_pages_are_hidden_from_non_members_and_refused_to_annotators(project: Project, page: str) -> None:
    client = Client()
    client.force_login(UserFactory())
    assert client.get(_url(page, project)).status_code == 404
    assert client.post(_url(page, project), {}).status_code == 404
    client.force_login(member(project, Role.ANNOTATOR))
    assert client.get(_url(page, project)).status_code == 403
    assert client.post(_url(page, project), {}).status_code == 403
    client.logout()
    assert client.get(_url(page, project)).status_code == 302  # to the login page


@pytest.mark.parametrize("page", SETUP_PAGES)
def test_lead_sees_every_setup_page_with_tabs(lead_client: Client, project: Project, page: str) -> None:
    response = lead_client.get(_url(page, project))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'aria-current="page"' in html
    for other in SETUP_PAGES:
        assert _url(other, project) in html


def test_researcher_cannot_edit_settings(project: Project) -> None:
    client = Client()
    client.force_login(member(project, Role.RESEARCHER))
    response = client.post(_url("setup_settings", project), {"name": "Hijacked"})
    assert response.status_code == 403
    project.refresh_from_db()
    assert project.name != "Hijacked"


# --- create ---


def test_staff_creates_a_project_and_becomes_its_lead() -> None:
    client = Client()
    staff = UserFactory(is_staff=True)
    client.force_login(staff)
    assert client.get(reverse("annotator:project_new")).status_code == 200
    response = client.post(reverse("annotator:project_new"), {"name": "Code review", "slug": "code-review"})
    project = Project.objects.get(slug="code-review")
    assert response.status_code == 302
    assert response["Location"] == _url("setup_settings", project)
    assert Membership.objects.get(project=project).user == staff
    assert project.attributes.count() == 5


def test_project_new_shows_a_taken_slug_in_place(project: Project) -> None:
    client = Client()
    client.force_login(member(project, Role.LEAD))  # a lead somewhere may create projects
    response = client.post(reverse("annotator:project_new"), {"name": "Again", "slug": project.slug})
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert Project.objects.count() == 1


def test_plain_users_may_not_create_projects() -> None:
    client = Client()
    client.force_login(UserFactory())
    assert client.get(reverse("annotator:project_new")).status_code == 403
    assert client.post(reverse("annotator:project_new"), {"name": "X", "slug": "x"}).status_code == 403
    assert not Project.objects.exists()


# --- settings and guidelines ---


def _settings_data(project: Project, **changes: Any) -> dict[str, Any]:
    data = {
        "name": project.name,
        "licence": project.licence,
        "overlap": project.overlap,
        "adaptive_overlap_threshold": project.adaptive_overlap_threshold,
        "adaptive_overlap_extra": project.adaptive_overlap_extra,
        "reservation_minutes": project.reservation_minutes,
        "min_justification_length": project.min_justification_length,
        "queue_order": project.queue_order,
        "guidelines": project.guidelines,
    }
    return {**data, **changes}


def test_settings_page_renders_guidelines_with_the_markdown_renderer(lead_client: Client, project: Project) -> None:
    html = lead_client.get(_url("setup_settings", project)).content.decode()
    assert "<strong>carefully</strong>" in html


def test_settings_save_without_htmx_redirects(lead_client: Client, project: Project) -> None:
    response = lead_client.post(
        _url("setup_settings", project), _settings_data(project, overlap=5, reservation_minutes=12)
    )
    assert response.status_code == 302
    project.refresh_from_db()
    assert (project.overlap, project.reservation_minutes) == (5, 12)


def test_settings_save_with_htmx_returns_the_partial(lead_client: Client, project: Project) -> None:
    response = lead_client.post(_url("setup_settings", project), _settings_data(project, overlap=2), **HX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Settings saved." in html
    assert "<html" not in html
    assert 'id="setup-settings"' in html
    project.refresh_from_db()
    assert project.overlap == 2


@pytest.mark.parametrize("headers", [{}, HX])
def test_settings_errors_are_shown_beside_the_field(lead_client: Client, project: Project, headers: dict) -> None:
    response = lead_client.post(_url("setup_settings", project), _settings_data(project, overlap=0), **headers)
    assert response.status_code == 200
    assert "greater than or equal to 1" in response.content.decode()
    project.refresh_from_db()
    assert project.overlap == 3


def test_guidelines_preview_with_htmx_is_the_rendered_fragment(lead_client: Client, project: Project) -> None:
    url = _url("setup_guidelines_preview", project)
    response = lead_client.post(url, {"guidelines": "# Title\n\n<script>alert(1)</script> `code`"}, **HX)
    html = response.content.decode()
    assert "<h1>Title</h1>" in html
    assert "<code>code</code>" in html
    assert "<script>" not in html
    assert "<html" not in html
    project.refresh_from_db()
    assert project.guidelines == "Rate **carefully**."  # a preview saves nothing


def test_guidelines_preview_without_js_keeps_the_unsaved_form(lead_client: Client, project: Project) -> None:
    url = _url("setup_guidelines_preview", project)
    response = lead_client.post(url, _settings_data(project, name="Draft name", guidelines="*new*"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "<em>new</em>" in html
    assert 'value="Draft name"' in html
    assert "<html" in html
    project.refresh_from_db()
    assert project.name != "Draft name"


# --- attributes ---


def _attribute_data(project: Project, name: str, **changes: Any) -> dict[str, Any]:
    attribute = project.attributes.get(name=name)
    prefix = f"a{attribute.pk}-"
    data: dict[str, Any] = {
        "attribute": attribute.pk,
        "action": "save",
        f"{prefix}name": attribute.name,
        f"{prefix}description": attribute.description,
        f"{prefix}scale_min": attribute.scale_min,
        f"{prefix}scale_max": attribute.scale_max,
        f"{prefix}position": attribute.position,
    }
    for value, text in attribute.levels:
        data[f"{prefix}level_{value}"] = text
    data.update({f"{prefix}{k}": v for k, v in changes.items()})
    return data


@pytest.mark.parametrize("headers", [{}, HX])
def test_attribute_level_description_edit(lead_client: Client, project: Project, headers: dict) -> None:
    data = _attribute_data(project, "verbosity", level_2="About as long as the question needs.")
    response = lead_client.post(_url("setup_attributes", project), data, **headers)
    assert response.status_code == (200 if headers else 302)
    if headers:
        html = response.content.decode()
        assert "Attribute verbosity saved." in html
        assert "<html" not in html
    assert project.attributes.get(name="verbosity").level_descriptions[2] == "About as long as the question needs."


def test_attribute_error_is_shown_in_place(lead_client: Client, project: Project) -> None:
    data = _attribute_data(project, "verbosity", scale_min=4, scale_max=4)
    response = lead_client.post(_url("setup_attributes", project), data, **HX)
    assert response.status_code == 200
    assert "The highest level must be above the lowest." in response.content.decode()


def test_attribute_create_and_delete(lead_client: Client, project: Project) -> None:
    data = {"action": "create", "new-name": "safety", "new-scale_min": 0, "new-scale_max": 2, "new-level_0": "Unsafe"}
    response = lead_client.post(_url("setup_attributes", project), data)
    assert response.status_code == 302
    safety = project.attributes.get(name="safety")
    assert safety.level_descriptions == ["Unsafe"]
    response = lead_client.post(_url("setup_attributes", project), {"action": "delete", "attribute": safety.pk}, **HX)
    assert "Attribute safety deleted." in response.content.decode()
    assert not project.attributes.filter(name="safety").exists()


def test_attribute_of_another_project_is_not_found(lead_client: Client, project: Project) -> None:
    other = ProjectFactory().attributes.first()
    response = lead_client.post(_url("setup_attributes", project), {"action": "delete", "attribute": other.pk})
    assert response.status_code == 404


# --- members ---


@pytest.mark.parametrize("headers", [{}, HX])
def test_member_add(lead_client: Client, project: Project, headers: dict) -> None:
    UserFactory(username="newbie")
    data = {"action": "add", "username": "newbie", "role": "annotator"}
    response = lead_client.post(_url("setup_members", project), data, **headers)
    assert response.status_code == (200 if headers else 302)
    assert Membership.objects.filter(project=project, user__username="newbie", role="annotator").exists()
    if headers:
        assert 'data-member="newbie"' in response.content.decode()


def test_member_add_unknown_user_is_shown_in_place(lead_client: Client, project: Project) -> None:
    response = lead_client.post(
        _url("setup_members", project), {"action": "add", "username": "ghost", "role": "lead"}, **HX
    )
    assert "No user named &#x27;ghost&#x27;." in response.content.decode()


def test_last_lead_cannot_be_removed(lead_client: Client, project: Project) -> None:
    lead = Membership.objects.get(project=project, role=Role.LEAD)
    response = lead_client.post(_url("setup_members", project), {"action": "remove", "membership": lead.pk}, **HX)
    assert "at least one lead" in response.content.decode()
    assert Membership.objects.filter(pk=lead.pk).exists()


def test_member_remove_without_js(lead_client: Client, project: Project) -> None:
    annotator = member(project)
    membership = Membership.objects.get(project=project, user=annotator)
    response = lead_client.post(_url("setup_members", project), {"action": "remove", "membership": membership.pk})
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()


# --- gold ---


def test_gold_list_query_count_does_not_grow_with_comparisons(
    lead_client: Client, project: Project, django_assert_max_num_queries: Any
) -> None:
    ComparisonFactory.create_batch(30, project=project)
    with django_assert_max_num_queries(12):
        response = lead_client.get(_url("setup_gold", project))
    assert response.content.decode().count("?comparison=") == 30


@pytest.mark.parametrize("headers", [{}, HX])
def test_mark_gold_with_expected_ratings_and_tolerance(lead_client: Client, project: Project, headers: dict) -> None:
    comparison = ComparisonFactory(project=project)
    page = lead_client.get(_url("setup_gold", project), {"comparison": comparison.pk}).content.decode()
    assert 'name="r1_helpfulness"' in page
    assert 'name="tolerance"' in page
    assert 'value="1"' in page
    data = {
        "comparison": comparison.pk,
        "action": "mark",
        "r1_helpfulness": 4,
        "r2_helpfulness": 1,
        "strength": -2,
        "tolerance": 1,
    }
    response = lead_client.post(_url("setup_gold", project), data, **headers)
    assert response.status_code == (200 if headers else 302)
    comparison.refresh_from_db()
    assert comparison.is_gold
    assert comparison.gold_ratings == {"1": {"helpfulness": 4}, "2": {"helpfulness": 1}, "strength": -2}
    response = lead_client.post(
        _url("setup_gold", project), {"comparison": comparison.pk, "action": "unmark"}, **headers
    )
    comparison.refresh_from_db()
    assert not comparison.is_gold


def test_mark_gold_error_is_shown_in_place(lead_client: Client, project: Project) -> None:
    comparison = ComparisonFactory(project=project)
    data = {"comparison": comparison.pk, "action": "mark", "tolerance": 1}
    response = lead_client.post(_url("setup_gold", project), data, **HX)
    assert "Give at least one expected rating" in response.content.decode()
    assert not Comparison.objects.get(pk=comparison.pk).is_gold


def test_gold_comparison_of_another_project_is_not_found(lead_client: Client, project: Project) -> None:
    other = ComparisonFactory()
    assert lead_client.get(_url("setup_gold", project), {"comparison": other.pk}).status_code == 404


def test_settings_save_the_guidelines_of_each_task_type(lead_client: Client, project: Project) -> None:
    data = _settings_data(project, guidelines_preference="Say *why* in one sentence.")
    assert lead_client.post(_url("setup_settings", project), data).status_code == 302
    project.refresh_from_db()
    assert project.task_guidelines == {"preference": "Say *why* in one sentence."}
    assert "Say *why* in one sentence." in lead_client.get(_url("setup_settings", project)).content.decode()
    assert lead_client.post(_url("setup_settings", project), _settings_data(project)).status_code == 302
    project.refresh_from_db()
    assert project.task_guidelines == {}  # an emptied box removes that task type's guidelines


# --- annotator pools ---


def _pool_data(**changes: Any) -> dict[str, Any]:
    data = {
        "action": "create",
        "name": "Code",
        "domain": "code",
        "language": "",
        "pass_mark": "0.5",
        "rating_tolerance": "1",
        "strength_tolerance": "1",
        "max_attempts": "2",
        "cooldown_minutes": "10",
        "items": "",
    }
    return {**data, **changes}


@pytest.mark.parametrize("headers", [{}, HX])
def test_a_lead_creates_and_removes_a_qualification_set(lead_client: Client, project: Project, headers: dict) -> None:
    gold = ComparisonFactory(project=project, prompt__domain="code", is_gold=True, gold_ratings={"strength": 2})
    response = lead_client.post(_url("setup_pools", project), _pool_data(items=f"{gold.pk}: Runs.\n"), **headers)
    assert response.status_code == (200 if headers else 302)
    qualification_set = QualificationSet.objects.get(project=project)
    assert (qualification_set.domain, qualification_set.pass_mark, qualification_set.max_attempts) == ("code", 0.5, 2)
    assert [(i.comparison_id, i.explanation) for i in qualification_set.items.all()] == [(gold.pk, "Runs.")]
    project.refresh_from_db()
    assert project.qualification_required
    page = lead_client.get(_url("setup_pools", project)).content.decode()
    assert 'id="pools-list"' in page and ">code<" in page
    assert '<td class="num" data-testid="n-passed">0</td>' in page
    annotator = member(project)
    for number, status in ((1, "failed"), (2, "passed")):
        QualificationAttempt.objects.create(
            qualification_set=qualification_set, annotator=annotator, number=number, status=status,
            started_at=gold.created_at,
        )  # fmt: skip
    page = lead_client.get(_url("setup_pools", project)).content.decode()
    assert '<td class="num" data-testid="n-passed">1</td>' in page

    removed = lead_client.post(_url("setup_pools", project), {"action": "delete", "set": qualification_set.pk}, **HX)
    assert removed.status_code == 200 and "removed" in removed.content.decode()
    project.refresh_from_db()
    assert not project.qualification_required


@pytest.mark.parametrize("items", ["", "x: no id", "999999: not gold"])
def test_a_set_without_gold_items_is_refused_beside_the_field(
    lead_client: Client, project: Project, items: str
) -> None:
    response = lead_client.post(_url("setup_pools", project), _pool_data(items=items))
    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()
    assert not QualificationSet.objects.filter(project=project).exists()

"""Projects from the home page, and members a lead invites by e-mail: an existing account gets the role and a
notice; an unknown address gets a new account with a one-time set-password link mailed to it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from annotator.models import Membership, Project, Role
from tests.factories import ProjectFactory, UserFactory, member

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_home_offers_new_project_to_those_allowed_only() -> None:
    project = ProjectFactory()
    new_url = reverse("annotator:project_new")
    assert f'href="{new_url}"' in _client(UserFactory(is_staff=True)).get("/").content.decode()
    assert f'href="{new_url}"' in _client(member(project, Role.LEAD)).get("/").content.decode()
    assert f'href="{new_url}"' not in _client(member(project, Role.ANNOTATOR)).get("/").content.decode()


@pytest.mark.parametrize("headers", [{}, HX])
def test_a_lead_creates_a_member_who_sets_a_password_through_the_link_once(
    headers: dict[str, str], mailoutbox: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    project = ProjectFactory()
    lead = _client(member(project, Role.LEAD))
    url = reverse("annotator:setup_members", kwargs={"slug": project.slug})
    assert 'name="new-email"' in lead.get(url).content.decode()
    data = {"action": "invite", "new-username": "ann", "new-email": "ann@example.org", "new-role": "annotator"}
    with django_capture_on_commit_callbacks(execute=True):
        response = lead.post(url, data, **headers)
    assert response.status_code == (200 if headers else 302)
    assert Membership.objects.filter(project=project, user__username="ann", role=Role.ANNOTATOR).exists()
    if headers:
        assert "a set-password link went to ann@example.org" in response.content.decode()
    (mail,) = mailoutbox
    match = re.search(r"http://testserver(/accounts/reset/[^/\s]+/[^/\s]+/)", mail.body)
    assert match, mail.body
    anonymous = Client()
    form_page = anonymous.get(match.group(1), follow=True)
    assert "Choose your password" in form_page.content.decode()
    set_url = form_page.redirect_chain[-1][0]
    done = anonymous.post(set_url, {"new_password1": "correct horse battery", "new_password2": "correct horse battery"})
    assert done.status_code == 302
    assert Client().login(username="ann", password="correct horse battery")
    again = Client().get(match.group(1), follow=True).content.decode()
    assert "has been used or has expired" in again


def test_bad_member_creation_is_shown_in_place_and_sends_nothing(
    mailoutbox: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    project = ProjectFactory()
    UserFactory(username="taken")
    lead = _client(member(project, Role.LEAD))
    url = reverse("annotator:setup_members", kwargs={"slug": project.slug})
    data = {"action": "invite", "new-username": "taken", "new-email": "nope", "new-role": "annotator"}
    with django_capture_on_commit_callbacks(execute=True):
        response = lead.post(url, data)
    assert response.status_code == 400
    assert "Enter a valid email address." in response.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = lead.post(url, {**data, "new-email": "t@example.org"})
    assert response.status_code == 400
    assert "add them by username instead" in response.content.decode()
    assert mailoutbox == []
    assert not Membership.objects.filter(project=project, user__username="taken").exists()


def test_only_leads_create_members() -> None:
    project: Project = ProjectFactory()
    url = reverse("annotator:setup_members", kwargs={"slug": project.slug})
    data = {"action": "invite", "new-username": "ann", "new-email": "ann@example.org", "new-role": "lead"}
    assert _client(member(project, Role.RESEARCHER)).post(url, data).status_code == 403
    assert not User.objects.filter(username="ann").exists()


@pytest.mark.parametrize("headers", [{}, HX])
def test_a_lead_invites_an_existing_user_by_email_who_is_told(
    headers: dict[str, str], mailoutbox: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    project = ProjectFactory(name="Chat ratings")
    UserFactory(username="bea", email="Bea@Example.org")
    lead = _client(member(project, Role.LEAD, username="boss"))
    url = reverse("annotator:setup_members", kwargs={"slug": project.slug})
    data = {"action": "invite", "new-email": "bea@example.org", "new-role": "researcher"}
    with django_capture_on_commit_callbacks(execute=True):
        response = lead.post(url, data, **headers)
    assert response.status_code == (200 if headers else 302)
    if headers:
        assert "bea added as researcher; a notice went to Bea@Example.org." in response.content.decode()
    assert Membership.objects.filter(project=project, user__username="bea", role=Role.RESEARCHER).exists()
    assert User.objects.filter(email__iexact="bea@example.org").count() == 1  # no second account
    (mail,) = mailoutbox
    assert mail.to == ["Bea@Example.org"]
    assert "boss added you to the Prefstack project 'Chat ratings' as researcher." in mail.body
    assert f"http://testserver/p/{project.slug}/" in mail.body
    assert "/accounts/reset/" not in mail.body  # she has a password already


def test_inviting_a_member_again_or_a_bad_address_is_refused_in_place(
    mailoutbox: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    project = ProjectFactory()
    bea = member(project, Role.ANNOTATOR, username="bea", email="bea@example.org")
    lead = _client(member(project, Role.LEAD))
    url = reverse("annotator:setup_members", kwargs={"slug": project.slug})
    with django_capture_on_commit_callbacks(execute=True):
        again = lead.post(url, {"action": "invite", "new-email": "bea@example.org", "new-role": "annotator"})
        invalid = lead.post(url, {"action": "invite", "new-email": "bea@", "new-role": "annotator"})
    assert again.status_code == invalid.status_code == 400
    assert "bea (bea@example.org) already holds the annotator role here." in again.content.decode()
    assert "Enter a valid email address." in invalid.content.decode()
    assert mailoutbox == []
    assert Membership.objects.filter(user=bea).count() == 1

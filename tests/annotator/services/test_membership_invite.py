"""``membership_invite``: a lead invites by e-mail. An existing account (matched case-insensitively) gets the role
and a notice; an unknown address gets a new account without a usable password and a one-time set-password link;
refusals (already a member, a bad address, an ambiguous address, a bad role) write nothing and send nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator

from annotator.errors import ValidationFailed
from annotator.models import Membership, Role
from annotator.services.projects import membership_invite
from tests.factories import ProjectFactory, UserFactory, member

pytestmark = pytest.mark.django_db

SITE = "https://prefstack.example/"


@pytest.fixture
def project() -> Any:
    return ProjectFactory(name="Chat ratings", slug="chat")


@pytest.fixture
def lead(project: Any) -> User:
    return member(project, Role.LEAD, username="boss")


def _invite(project: Any, lead: User, **kwargs: Any) -> Membership:
    return membership_invite(project=project, invited_by=lead, site_url=SITE, **kwargs)


def test_an_existing_account_gets_the_role_and_a_notice(project, lead, mailoutbox, django_capture_on_commit_callbacks):
    bea = UserFactory(username="bea", email="bea@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        membership = _invite(project, lead, email="  BEA@example.org ", role=Role.ANNOTATOR)
    assert (membership.user, membership.role, membership.project) == (bea, "annotator", project)
    (mail,) = mailoutbox
    assert mail.to == ["bea@example.org"]
    assert mail.subject == "Prefstack: you were added to Chat ratings"
    assert "Sign in as bea and open it here:\nhttps://prefstack.example/p/chat/\n" in mail.body
    assert "/accounts/reset/" not in mail.body


def test_a_second_role_for_a_member_is_fine(project, lead, mailoutbox, django_capture_on_commit_callbacks):
    bea = member(project, Role.ANNOTATOR, username="bea", email="bea@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        _invite(project, lead, email="bea@example.org", role=Role.RESEARCHER)
    assert set(Membership.objects.filter(user=bea).values_list("role", flat=True)) == {"annotator", "researcher"}
    assert len(mailoutbox) == 1


def test_an_account_that_never_chose_a_password_gets_a_fresh_link(
    project, lead, mailoutbox, django_capture_on_commit_callbacks
):
    pending = User.objects.create(username="cy", email="cy@example.org")
    pending.set_unusable_password()
    pending.save()
    with django_capture_on_commit_callbacks(execute=True):
        _invite(project, lead, email="cy@example.org", role=Role.LEAD)
    link = next(w for w in mailoutbox[0].body.split() if w.startswith(f"{SITE}accounts/reset/"))
    assert default_token_generator.check_token(pending, link.rstrip("/").rsplit("/", 1)[1])


def test_an_unknown_address_gets_a_new_account_named_after_it(
    project, lead, mailoutbox, django_capture_on_commit_callbacks
):
    UserFactory(username="ann.lee")  # the name the address suggests is taken: the next free one is used
    with django_capture_on_commit_callbacks(execute=True):
        membership = _invite(project, lead, email="ann.lee@example.org", role=Role.ANNOTATOR)
    user = membership.user
    assert (user.username, user.email) == ("ann.lee2", "ann.lee@example.org")
    assert not user.has_usable_password()
    (mail,) = mailoutbox
    assert "Your username is ann.lee2." in mail.body
    link = next(w for w in mail.body.split() if w.startswith(f"{SITE}accounts/reset/"))
    assert default_token_generator.check_token(user, link.rstrip("/").rsplit("/", 1)[1])


def test_an_unknown_address_with_a_chosen_username(project, lead, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        membership = _invite(project, lead, email="dee@example.org", username="dee-r", role=Role.RESEARCHER)
    assert membership.user.username == "dee-r"


@pytest.mark.parametrize(
    ("kwargs", "fields"),
    [
        ({"email": "bea@example.org", "role": "annotator"}, {"email"}),  # already holds that role
        ({"email": "not-an-address", "role": "annotator"}, {"email"}),
        ({"email": "", "role": "boss"}, {"email", "role"}),
        ({"email": "bea@example.org", "role": "lead", "username": "someone"}, {"username"}),  # not bea's name
        ({"email": "new@example.org", "role": "annotator", "username": "bea"}, {"username"}),  # name taken
        ({"email": "twin@example.org", "role": "annotator"}, {"email"}),  # two accounts share the address
    ],
)
def test_refusals_name_the_field_and_write_and_send_nothing(
    project, lead, mailoutbox, django_capture_on_commit_callbacks, kwargs, fields
):
    member(project, Role.ANNOTATOR, username="bea", email="bea@example.org")
    UserFactory(username="twin1", email="twin@example.org")
    UserFactory(username="twin2", email="Twin@example.org")
    before = (User.objects.count(), Membership.objects.count())
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationFailed) as exc:
        _invite(project, lead, **kwargs)
    assert set(exc.value.extra["fields"]) == fields
    assert (User.objects.count(), Membership.objects.count()) == before
    assert mailoutbox == []

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator

from annotator.domain import HELPSTEER2_ATTRIBUTES
from annotator.errors import PermissionDenied, ValidationFailed
from annotator.models import Annotation, Assignment, AssignmentStatus, Attribute, Membership, Project, Role
from annotator.services.projects import (
    attribute_create,
    attribute_delete,
    attribute_update,
    comparison_mark_gold,
    comparison_unmark_gold,
    membership_add,
    membership_create_user,
    membership_remove,
    project_create,
    project_create_allowed,
    project_update,
)
from tests.factories import ComparisonFactory, ProjectFactory, UserFactory, member

pytestmark = pytest.mark.django_db


def _fields(exc: pytest.ExceptionInfo[ValidationFailed]) -> dict[str, str]:
    return exc.value.extra["fields"]


def _annotate(project: Project, value: int = 3, **ratings: Any) -> Annotation:
    comparison = ComparisonFactory(project=project)
    annotator = member(project)
    assignment = Assignment.objects.create(
        comparison=comparison, annotator=annotator, status=AssignmentStatus.SUBMITTED
    )
    names = list(project.attributes.values_list("name", flat=True))
    r = {"1": dict.fromkeys(names, value), "2": dict.fromkeys(names, value)}
    r["1"].update(ratings)
    return Annotation.objects.create(
        assignment=assignment, comparison=comparison, annotator=annotator, ratings=r, preference_strength=0
    )


# --- projects ---


def test_staff_and_leads_may_create_projects_others_not() -> None:
    assert project_create_allowed(user=UserFactory(is_staff=True))
    lead = member(ProjectFactory(), Role.LEAD)
    assert project_create_allowed(user=lead)
    annotator = member(ProjectFactory(), Role.ANNOTATOR)
    assert not project_create_allowed(user=annotator)
    with pytest.raises(PermissionDenied):
        project_create(slug="x", name="X", creator=annotator)


def test_project_create_makes_creator_lead_with_helpsteer2_attributes() -> None:
    creator = UserFactory(is_staff=True)
    project = project_create(slug="hs2", name=" HelpSteer2 redo ", creator=creator, overlap=5)
    assert project.name == "HelpSteer2 redo"
    assert project.overlap == 5
    assert list(project.attributes.values_list("name", flat=True)) == list(HELPSTEER2_ATTRIBUTES)
    assert all(len(a.level_descriptions) == 5 for a in project.attributes.all())
    assert Membership.objects.get(project=project).role == Role.LEAD
    assert Membership.objects.get(project=project).user == creator


def test_project_create_with_own_attributes() -> None:
    project = project_create(
        slug="one",
        name="One",
        creator=UserFactory(is_staff=True),
        attributes=[{"name": "safety", "scale_min": 1, "scale_max": 3, "level_descriptions": ["bad", "ok", "good"]}],
    )
    attribute = project.attributes.get()
    assert (attribute.name, attribute.scale_min, attribute.scale_max) == ("safety", 1, 3)


def test_project_create_refuses_taken_or_bad_slug_and_writes_nothing() -> None:
    staff = UserFactory(is_staff=True)
    project_create(slug="taken", name="A", creator=staff)
    with pytest.raises(ValidationFailed) as exc:
        project_create(slug="taken", name="B", creator=staff)
    assert "slug" in _fields(exc)
    with pytest.raises(ValidationFailed) as exc:
        project_create(slug="has space", name="", creator=staff)
    assert {"slug", "name"} <= set(_fields(exc))
    assert Project.objects.count() == 1


def test_project_create_is_all_or_nothing_when_an_attribute_is_bad() -> None:
    with pytest.raises(ValidationFailed):
        project_create(
            slug="p",
            name="P",
            creator=UserFactory(is_staff=True),
            attributes=[{"name": "ok"}, {"name": "bad", "scale_min": 4, "scale_max": 4}],
        )
    assert not Project.objects.exists()
    assert not Attribute.objects.exists()


def test_project_update_validates_ranges_with_field_messages() -> None:
    project = ProjectFactory()
    project_update(project=project, overlap=4, reservation_minutes=15, guidelines="# Rate well")
    project.refresh_from_db()
    assert (project.overlap, project.reservation_minutes, project.guidelines) == (4, 15, "# Rate well")
    with pytest.raises(ValidationFailed) as exc:
        project_update(project=project, overlap=0, reservation_minutes=0)
    assert {"overlap", "reservation_minutes"} <= set(_fields(exc))
    with pytest.raises(ValidationFailed) as exc:
        project_update(project=project, slug="other")
    assert "slug" in _fields(exc)
    project.refresh_from_db()
    assert project.overlap == 4


# --- attributes ---


def test_attribute_create_appends_and_checks_levels() -> None:
    project = ProjectFactory()
    attribute = attribute_create(
        project=project, name="safety", scale_min=0, scale_max=2, level_descriptions=["a", "b", ""]
    )
    assert attribute.position == project.attributes.count() - 1
    assert attribute.level_descriptions == ["a", "b"]  # trailing blanks dropped
    with pytest.raises(ValidationFailed) as exc:
        attribute_create(project=project, name="other", scale_min=0, scale_max=1, level_descriptions=["a", "b", "c"])
    assert "level_descriptions" in _fields(exc)
    with pytest.raises(ValidationFailed) as exc:
        attribute_create(project=project, name="safety")
    assert "name" in _fields(exc)
    with pytest.raises(ValidationFailed) as exc:
        attribute_create(project=project, name="flat", scale_min=2, scale_max=2)
    assert "scale_max" in _fields(exc)


def test_attribute_update_edits_level_descriptions() -> None:
    project = ProjectFactory()
    attribute = project.attributes.get(name="verbosity")
    levels = list(attribute.level_descriptions)
    levels[2] = "Just right."
    attribute_update(attribute=attribute, level_descriptions=levels, description="Length.")
    attribute.refresh_from_db()
    assert attribute.level_descriptions[2] == "Just right."
    assert attribute.description == "Length."


def test_attribute_scale_may_widen_but_not_drop_stored_ratings() -> None:
    project = ProjectFactory()
    _annotate(project, value=1, helpfulness=4)
    attribute = project.attributes.get(name="helpfulness")
    attribute_update(attribute=attribute, scale_min=0, scale_max=6)
    with pytest.raises(ValidationFailed) as exc:
        attribute_update(attribute=attribute, scale_min=0, scale_max=3)
    assert "1 to 4" in _fields(exc)["scale_max"]
    with pytest.raises(ValidationFailed) as exc:
        attribute_update(attribute=attribute, scale_min=2, scale_max=6)
    assert "scale_min" in _fields(exc)
    # Every stored coherence rating is 1, so 1..2 still holds them all.
    coherence = project.attributes.get(name="coherence")
    attribute_update(attribute=coherence, scale_min=1, scale_max=2, level_descriptions=["x", "y"])
    coherence.refresh_from_db()
    assert (coherence.scale_min, coherence.scale_max) == (1, 2)


def test_attribute_rename_and_delete_are_refused_once_annotations_exist() -> None:
    project = ProjectFactory()
    verbosity = project.attributes.get(name="verbosity")
    attribute_update(attribute=verbosity, name="length")
    _annotate(project)
    with pytest.raises(ValidationFailed) as exc:
        attribute_update(attribute=verbosity, name="size")
    assert "name" in _fields(exc)
    with pytest.raises(ValidationFailed):
        attribute_delete(attribute=verbosity)
    assert project.attributes.filter(name="length").exists()


def test_attribute_delete_keeps_the_last_one() -> None:
    project = ProjectFactory(attributes=[{"name": "a"}, {"name": "b"}])
    attribute_delete(attribute=project.attributes.get(name="a"))
    with pytest.raises(ValidationFailed):
        attribute_delete(attribute=project.attributes.get(name="b"))
    assert project.attributes.count() == 1


# --- members ---


def test_membership_add_by_username_and_role() -> None:
    project = ProjectFactory()
    UserFactory(username="ann")
    membership = membership_add(project=project, username=" ann ", role=Role.ANNOTATOR)
    assert (membership.user.username, membership.role) == ("ann", "annotator")
    membership_add(project=project, username="ann", role=Role.RESEARCHER)  # several roles are fine
    with pytest.raises(ValidationFailed) as exc:
        membership_add(project=project, username="ann", role=Role.ANNOTATOR)
    assert "username" in _fields(exc)
    with pytest.raises(ValidationFailed) as exc:
        membership_add(project=project, username="nobody", role="boss")
    assert set(_fields(exc)) == {"username", "role"}


def test_membership_remove_refuses_the_last_lead() -> None:
    project = ProjectFactory()
    first = member(project, Role.LEAD)
    second = member(project, Role.LEAD)
    membership_remove(membership=Membership.objects.get(project=project, user=second))
    with pytest.raises(ValidationFailed):
        membership_remove(membership=Membership.objects.get(project=project, user=first))
    assert Membership.objects.filter(project=project, role=Role.LEAD).count() == 1
    annotator = member(project)
    membership_remove(membership=Membership.objects.get(project=project, user=annotator))
    assert not Membership.objects.filter(user=annotator).exists()


# --- gold ---


def test_comparison_mark_and_unmark_gold() -> None:
    comparison = ComparisonFactory()
    comparison_mark_gold(
        comparison=comparison,
        gold_ratings={"1": {"helpfulness": 4}, "2": {"helpfulness": 1}, "strength": -2},
        tolerance=1,
    )
    comparison.refresh_from_db()
    assert comparison.is_gold
    assert comparison.gold_ratings == {"1": {"helpfulness": 4}, "2": {"helpfulness": 1}, "strength": -2}
    assert comparison.gold_tolerance == 1
    comparison_unmark_gold(comparison=comparison)
    comparison.refresh_from_db()
    assert (comparison.is_gold, comparison.gold_ratings) == (False, {})


@pytest.mark.parametrize(
    ("gold_ratings", "tolerance", "field"),
    [
        ({"1": {"helpfulness": 5}}, 1, "r1_helpfulness"),
        ({"2": {"kindness": 2}}, 1, "r2_kindness"),
        ({"1": {"helpfulness": True}}, 1, "r1_helpfulness"),
        ({"strength": 4}, 1, "strength"),
        ({}, 1, "gold_ratings"),
        ({"1": {"helpfulness": 2}}, -1, "tolerance"),
        ({"1": {"helpfulness": 2}}, 4, "tolerance"),
    ],
)
def test_comparison_mark_gold_refuses_bad_expectations(
    gold_ratings: dict[str, Any], tolerance: int, field: str
) -> None:
    comparison = ComparisonFactory()
    with pytest.raises(ValidationFailed) as exc:
        comparison_mark_gold(comparison=comparison, gold_ratings=gold_ratings, tolerance=tolerance)
    assert field in _fields(exc)
    comparison.refresh_from_db()
    assert not comparison.is_gold


def test_gold_ratings_count_as_stored_ratings_for_scale_changes() -> None:
    comparison = ComparisonFactory()
    comparison_mark_gold(comparison=comparison, gold_ratings={"2": {"verbosity": 4}}, tolerance=1)
    with pytest.raises(ValidationFailed):
        attribute_update(attribute=comparison.project.attributes.get(name="verbosity"), scale_max=3)


def test_membership_create_user_mails_a_one_time_set_password_link(
    mailoutbox: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    project = ProjectFactory(name="Chat ratings")
    lead = member(project, Role.LEAD, username="boss")
    with django_capture_on_commit_callbacks(execute=True):
        membership = membership_create_user(
            project=project, username="ann", email="ann@example.org", role=Role.ANNOTATOR,
            invited_by=lead, site_url="https://prefstack.example/",
        )  # fmt: skip
    user = membership.user
    assert (user.username, user.email, membership.role) == ("ann", "ann@example.org", "annotator")
    assert not user.has_usable_password()
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["ann@example.org"]
    assert "Chat ratings" in mail.subject
    link = next(word for word in mail.body.split() if word.startswith("https://prefstack.example/accounts/reset/"))
    token = link.rstrip("/").rsplit("/", 1)[1]
    assert default_token_generator.check_token(user, token)
    user.set_password("a long new password")
    user.save()
    assert not default_token_generator.check_token(User.objects.get(pk=user.pk), token)  # one time only


def test_membership_create_user_refuses_taken_names_and_bad_input_and_sends_nothing(
    mailoutbox: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    project = ProjectFactory()
    lead = member(project, Role.LEAD)
    UserFactory(username="taken", email="taken@example.org")
    cases = [
        ({"username": "Taken", "email": "x@example.org", "role": "annotator"}, {"username"}),
        ({"username": "fresh", "email": "TAKEN@example.org", "role": "annotator"}, {"email"}),
        ({"username": "no spaces", "email": "not-an-email", "role": "boss"}, {"username", "email", "role"}),
    ]
    for kwargs, bad in cases:
        with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationFailed) as exc:
            membership_create_user(project=project, invited_by=lead, site_url="http://t/", **kwargs)
        assert set(_fields(exc)) == bad
    assert mailoutbox == []
    assert not Membership.objects.filter(project=project, role=Role.ANNOTATOR).exists()

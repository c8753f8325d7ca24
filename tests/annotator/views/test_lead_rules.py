"""The rule editor on the lead's rules page: create, tune (a new version), refuse in place; the snapshot form's list."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from annotator.models import AggregationRule, Role
from annotator.services.aggregation_rules import aggregation_rules_ensure_defaults
from tests.factories import ComparisonFactory, ProjectFactory, member

pytestmark = pytest.mark.django_db

FORM = {
    "name": "strict",
    "kind": "helpsteer2",
    "description": "HelpSteer2 with a preference spread filter",
    "keep": "3",
    "max_helpfulness_spread": "2",
    "max_strength_spread": "2",
    "min_annotations": "2",
    "helpfulness_attribute": "helpfulness",
    "accepted_reviews_only": "on",
}


@pytest.fixture
def project():
    project = ProjectFactory()
    ComparisonFactory(project=project)
    return project


def _client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def _urls(project) -> tuple[str, str]:
    kwargs = {"slug": project.slug}
    return reverse("annotator:lead_rules", kwargs=kwargs), reverse("annotator:lead_rule_save", kwargs=kwargs)


def test_a_lead_creates_a_rule_and_sees_its_preview_first(project) -> None:
    page_url, save_url = _urls(project)
    client = _client(member(project, Role.LEAD))
    response = client.post(save_url, FORM)
    rule = AggregationRule.objects.get(name="strict")
    assert response.status_code == 302
    assert response["Location"] == f"{page_url}?rule={rule.pk}"
    assert (rule.version, rule.kind, rule.params["max_strength_spread"], rule.params["accepted_reviews_only"]) == (
        1, "helpsteer2", 2, True,
    )  # fmt: skip
    html = client.get(response["Location"]).content.decode()
    assert "strict v1 on this project" in html
    # The preview comes before the list and the editor, so it is in view without scrolling.
    assert html.index('id="rule-preview"') < html.index('class="data rule-list"') < html.index('id="rule-form"')


def test_new_version_starts_from_the_rule_and_keeps_the_old_one(project) -> None:
    aggregation_rules_ensure_defaults()
    page_url, save_url = _urls(project)
    client = _client(member(project, Role.LEAD))
    v1 = AggregationRule.objects.get(name="mean", version=1)
    html = client.get(f"{page_url}?from={v1.pk}").content.decode()
    assert 'name="name" value="mean"' in html
    assert '<option value="mean" selected>' in html
    response = client.post(save_url, {"name": "mean", "kind": "mean", "min_annotations": "3", "round_to_integer": "on"})
    assert response.status_code == 302
    v2 = AggregationRule.objects.get(name="mean", version=2)
    assert v2.params["min_annotations"] == 3
    assert v2.description == v1.description
    assert AggregationRule.objects.get(pk=v1.pk).params["min_annotations"] == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kind": "median", "name": "mean"}, "give a rule of another kind a new name"),
        ({"keep": "0"}, "greater than or equal to 1"),
        ({"max_strength_spread": "-1"}, "greater than or equal to 0"),
        ({"kind": "nope"}, "Select a valid choice"),
        ({"name": "not a slug"}, "Enter a valid"),
    ],
)
def test_bad_input_is_refused_in_place_and_writes_nothing(project, changes, message) -> None:
    aggregation_rules_ensure_defaults()
    _, save_url = _urls(project)
    before = AggregationRule.objects.count()
    response = _client(member(project, Role.LEAD)).post(save_url, {**FORM, **changes})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert AggregationRule.objects.count() == before


def test_only_leads_save_rules(project) -> None:
    _, save_url = _urls(project)
    assert _client(member(project, Role.RESEARCHER)).post(save_url, FORM).status_code == 403
    assert _client(member(ProjectFactory(), Role.LEAD)).post(save_url, FORM).status_code == 404
    assert _client(member(project, Role.LEAD)).get(save_url).status_code == 405
    assert not AggregationRule.objects.filter(name="strict").exists()


def test_the_snapshot_form_offers_the_newest_version_of_each_rule(project) -> None:
    aggregation_rules_ensure_defaults()
    client = _client(member(project, Role.LEAD))
    client.post(_urls(project)[1], {**FORM, "name": "helpsteer2"})
    html = client.get(reverse("annotator:snapshots", kwargs={"slug": project.slug})).content.decode()
    assert '<select name="rule">' in html
    assert '<option value="helpsteer2">helpsteer2 v2' in html
    assert "helpsteer2 v1" not in html
    assert '<option value="median-accepted">' in html

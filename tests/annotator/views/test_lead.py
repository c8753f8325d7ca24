"""The lead's pages: who gets in, full page vs htmx partial, review in place and without JavaScript, pinned queries."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from annotator.models import AggregationRule, Assignment, AssignmentStatus, Review, Role
from annotator.selectors.agreement_cache import agreement_fingerprint
from annotator.selectors.quality.agreement import agreement_overview_get, agreement_overview_read
from annotator.services.aggregation_rules import aggregation_rule_version_create
from annotator.services.agreement_counts import agreement_counts_rebuild
from annotator.services.agreement_intervals import agreement_intervals_compute, agreement_intervals_request
from annotator.tasks import agreement_intervals_task
from tests.annotator.selectors.quality_data import annotate, simulated_project
from tests.factories import ComparisonFactory, ProjectFactory, member

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
PAGES = [
    "lead_overview",
    "lead_annotators",
    "lead_disagreements",
    "lead_rules",
    "lead_intervals",
    "lead_agreement_over_time",
]


def _client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def project():
    project = ProjectFactory(overlap=3)
    simulated_project(project, comparisons=30, profiles=["careful", "careful", "lenient", "random"], seed=3)
    return project


@pytest.fixture
def lead(project):
    return member(project, Role.LEAD)


def _url(name: str, project, **kwargs) -> str:
    return reverse(f"annotator:{name}", kwargs={"slug": project.slug, **kwargs})


# --- permissions ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PAGES)
@pytest.mark.parametrize(("role", "status"), [(Role.ANNOTATOR, 403), (Role.RESEARCHER, 403), (None, 404)])
def test_only_leads_of_the_project_see_the_pages(name, role, status) -> None:
    project = ProjectFactory()
    user = member(project, role) if role else member(ProjectFactory(), Role.LEAD)  # a lead of another project
    assert _client(user).get(_url(name, project)).status_code == status


def test_anonymous_users_are_sent_to_log_in(project) -> None:
    response = Client().get(_url("lead_overview", project))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_review_and_detail_are_refused_to_non_leads_and_across_projects(project, lead) -> None:
    annotation = project.comparisons.first().annotations.first()
    annotator = member(project)
    url = _url("lead_review", project, annotation_id=annotation.pk)
    assert _client(annotator).post(url, {"decision": "reject", "reason": "x"}).status_code == 403
    other = ProjectFactory()
    other_lead = member(other, Role.LEAD)
    # A lead of another project can't reach this annotation through their own project's URL either.
    assert (
        _client(other_lead)
        .post(_url("lead_review", other, annotation_id=annotation.pk), {"decision": "accept"})
        .status_code
        == 404
    )
    assert (
        _client(annotator).get(_url("lead_annotator_detail", project, user_id=annotation.annotator_id)).status_code
        == 403
    )
    assert not Review.objects.exists()


# --- overview -------------------------------------------------------------------------------------------------


def test_overview_shows_progress_agreement_and_chart_data(project, lead, django_assert_max_num_queries) -> None:
    client = _client(lead)
    with django_assert_max_num_queries(13):  # no agreement counts kept yet: computed from the annotations
        response = client.get(_url("lead_overview", project))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-stat="comparisons">30<' in html
    assert "vendor/chart.umd.min.js" in html
    assert "js/lead.js" in html
    data = json.loads(html.split('id="lead-chart-data" type="application/json">')[1].split("</script>")[0])
    measures = [m["measure"] for m in data["measures"]]
    assert measures[:5] == ["helpfulness", "correctness", "coherence", "complexity", "verbosity"]
    assert "preference_strength" in measures
    assert all(m["ci_low"] is None for m in data["measures"])
    assert "Compute intervals" in html
    # Agreement over time reads every rating: the page loads it after its first response.
    assert data["over_time"]["n_annotations"] == []
    assert f'hx-get="{_url("lead_agreement_over_time", project)}" hx-trigger="load"' in html


def test_overview_figures_come_from_the_kept_counts_and_equal_the_computed_ones(
    project, lead, django_assert_max_num_queries
) -> None:
    agreement_counts_rebuild(project=project)
    overview = agreement_overview_read(project=project)
    assert overview.from_counts
    assert overview.fingerprint == agreement_fingerprint(project=project)
    client = _client(lead)
    with django_assert_max_num_queries(13):  # whatever the project's size
        html = client.get(_url("lead_overview", project)).content.decode()
    data = json.loads(html.split('id="lead-chart-data" type="application/json">')[1].split("</script>")[0])
    expected = agreement_overview_get(project=project, time_points=0)
    assert [(m["measure"], m["alpha"], m["kappa"]) for m in data["measures"]] == [
        (r.measure, r.alpha, r.kappa) for r in expected.rows
    ]


@pytest.mark.parametrize("headers", [{}, HX])
def test_the_over_time_panel_carries_the_series(project, lead, headers) -> None:
    response = _client(lead).get(_url("lead_agreement_over_time", project), **headers)
    assert response.status_code == 200
    html = response.content.decode()
    data = json.loads(html.split('id="lead-over-time-data" type="application/json">')[1].split("</script>")[0])
    assert len(data["n_annotations"]) == 10
    assert list(data["series"])[:5] == ["helpfulness", "correctness", "coherence", "complexity", "verbosity"]
    assert "hx-get" not in html  # loaded: nothing more to fetch


def test_overview_shows_cached_intervals_once_computed(project, lead, monkeypatch) -> None:
    monkeypatch.setattr(agreement_intervals_task, "delay", lambda project_id: None)
    agreement_intervals_request(project=project, n_resamples=100)
    busy = _client(lead).get(_url("lead_intervals", project), **HX)
    assert busy.status_code == 200
    assert 'hx-trigger="every 2s"' in busy.content.decode()
    agreement_intervals_compute(project_id=project.pk)
    done = _client(lead).get(_url("lead_intervals", project), **HX)
    assert done.status_code == 286  # htmx: stop polling
    html = _client(lead).get(_url("lead_overview", project)).content.decode()
    data = json.loads(html.split('id="lead-chart-data" type="application/json">')[1].split("</script>")[0])
    helpfulness = next(m for m in data["measures"] if m["measure"] == "helpfulness")
    assert helpfulness["ci_low"] <= helpfulness["alpha"] <= helpfulness["ci_high"]
    assert "Recompute intervals" in html


def test_asking_for_intervals_enqueues_the_task(project, lead, monkeypatch, django_capture_on_commit_callbacks) -> None:
    calls = []
    monkeypatch.setattr(agreement_intervals_task, "delay", calls.append)
    with django_capture_on_commit_callbacks(execute=True):
        response = _client(lead).post(_url("lead_intervals", project))
    assert response.status_code == 302
    assert calls == [project.pk]
    with django_capture_on_commit_callbacks(execute=True):
        response = _client(lead).post(_url("lead_intervals", project), **HX)
    assert "Computing bootstrap intervals" in response.content.decode()
    assert calls == [project.pk]


# --- annotators -----------------------------------------------------------------------------------------------


def test_annotators_table_full_page_and_sorted_partial(project, lead, django_assert_max_num_queries) -> None:
    client = _client(lead)
    with django_assert_max_num_queries(12):
        page = client.get(_url("lead_annotators", project))
    html = page.content.decode()
    assert "<h1>Annotators</h1>" in html
    assert 'id="annotator-table"' in html
    assert html.index('data-annotator="random') < html.index('data-annotator="careful')  # worst agreement first
    partial = _client(lead).get(_url("lead_annotators", project) + "?sort=bias_helpfulness&dir=desc", **HX)
    body = partial.content.decode()
    assert "<h1>" not in body
    assert body.lstrip().startswith('<div id="annotator-table"')
    assert body.index('data-annotator="lenient') < body.index('data-annotator="careful')
    assert 'aria-sort="descending"' in body
    bad = _client(lead).get(_url("lead_annotators", project) + "?sort=password")
    assert bad.status_code == 400
    assert "Cannot sort by" in bad.content.decode()


def test_annotators_table_shows_flags_first_and_the_columns_the_lead_picks() -> None:
    project = ProjectFactory(overlap=3)
    lead = member(project, Role.LEAD)
    data = simulated_project(
        project, comparisons=60, profiles=["careful", "careful", "careful", "position_left"], seed=4
    )
    client = _client(lead)
    html = client.get(_url("lead_annotators", project) + "?sort=username").content.decode()
    positional = data["users"][3].username
    assert f'data-annotator="{positional}" data-flags="position"' in html
    assert 'data-flag="position"' in html
    # Flagged first, whatever the sort: position_left sorts after careful by name.
    assert html.index(f'data-annotator="{positional}"') < html.index('data-annotator="careful')
    assert 'data-column="left_p_value"' in html and 'data-column="bias_helpfulness"' not in html
    # The column form: a plain GET, so it works without JavaScript; sorting keeps the choice.
    chosen = client.get(_url("lead_annotators", project) + "?show=bias&show=flags&sort=username", **HX)
    body = chosen.content.decode()
    assert body.lstrip().startswith('<div id="annotator-table"')
    assert 'data-column="bias_helpfulness"' in body and 'data-column="flags"' in body
    assert 'data-column="left_p_value"' not in body and 'data-column="loo_agreement"' not in body
    assert "show=bias&amp;show=flags" in body
    assert 'name="show" value="bias" checked' in body
    # Unknown groups are ignored, never an error.
    assert client.get(_url("lead_annotators", project) + "?show=password").status_code == 200


def test_clicking_through_to_an_annotators_annotations(project, lead) -> None:
    annotation = project.comparisons.first().annotations.first()
    response = _client(lead).get(_url("lead_annotator_detail", project, user_id=annotation.annotator_id))
    assert response.status_code == 200
    assert f'data-annotation="{annotation.pk}"' in response.content.decode()
    assert _client(lead).get(_url("lead_annotator_detail", project, user_id=99999)).status_code == 404


@pytest.mark.parametrize("name", ["lead_annotator_detail", "lead_disagreements"])
@pytest.mark.parametrize("page", ["99999999999999999999", "9" * 5_000, "-3", "x"])
def test_a_page_number_past_any_table_is_an_empty_page(project, lead, name, page) -> None:
    kwargs = {"user_id": project.comparisons.first().annotations.first().annotator_id} if "detail" in name else {}
    response = _client(lead).get(_url(name, project, **kwargs), {"page": page})
    assert response.status_code == 200


# --- disagreement queue and review ----------------------------------------------------------------------------


def test_disagreement_queue_page_and_partial(project, lead, django_assert_max_num_queries) -> None:
    client = _client(lead)
    with django_assert_max_num_queries(12):
        page = client.get(_url("lead_disagreements", project))
    html = page.content.decode()
    assert html.count('class="card disagreement"') == 10
    assert "page 1 of 3" in html
    partial = _client(lead).get(_url("lead_disagreements", project) + "?order=strength&page=2", **HX).content.decode()
    assert partial.lstrip().startswith('<div id="disagreement-list"')
    assert "page 2 of 3" in partial
    assert _client(lead).get(_url("lead_disagreements", project) + "?order=nonsense&page=x").status_code == 200


def test_reject_in_place_with_htmx_returns_the_card(project, lead) -> None:
    annotation = project.comparisons.first().annotations.first()
    url = _url("lead_review", project, annotation_id=annotation.pk)
    missing = _client(lead).post(url, {"decision": "reject", "reason": ""}, **HX)
    assert missing.status_code == 200
    assert "Say why you reject it" in missing.content.decode()
    response = _client(lead).post(url, {"decision": "reject", "reason": "Helpfulness 4 for a wrong answer."}, **HX)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith(f'<section class="annotation-card review-rejected" id="annotation-{annotation.pk}"')
    assert "Helpfulness 4 for a wrong answer." in html
    assignment = Assignment.objects.get(pk=annotation.assignment_id)
    assert (assignment.status, assignment.review_note) == (
        AssignmentStatus.RETURNED,
        "Helpfulness 4 for a wrong answer.",
    )


def test_review_without_javascript_redirects_back_or_explains(project, lead) -> None:
    annotation = project.comparisons.first().annotations.first()
    url = _url("lead_review", project, annotation_id=annotation.pk)
    back = _url("lead_disagreements", project) + "?page=2"
    response = _client(lead).post(url, {"decision": "accept", "next": back})
    assert response.status_code == 302
    assert response["Location"] == back
    evil = _client(lead).post(url, {"decision": "reject", "reason": "r", "next": "https://evil.example/"})
    assert evil["Location"] == _url("lead_disagreements", project)
    again = _client(lead).post(url, {"decision": "reject", "reason": "r"})
    assert again.status_code == 400
    assert "already rejected" in again.content.decode()
    assert _client(lead).get(url).status_code == 405


def test_disagreement_queue_filters_by_annotator_spread_and_domain(project, lead) -> None:
    client = _client(lead)
    base = _url("lead_disagreements", project)
    first = project.comparisons.order_by("id").first()
    first.prompt.domain = "code"
    first.prompt.save(update_fields=["domain"])
    annotator = first.annotations.first().annotator
    html = client.get(base).content.decode()
    assert 'class="lead-filters"' in html and '<option value="code">code</option>' in html
    assert f'<option value="{annotator.pk}">{annotator.username}</option>' in html
    assert '<details class="disagreement-texts" open>' in html  # both responses in view beside the annotations
    theirs = client.get(base + f"?annotator={annotator.pk}", **HX).content.decode()
    shown = {int(c) for c in re.findall(r'class="card disagreement" data-comparison="(\d+)"', theirs)}
    assert shown and shown <= set(annotator.annotations.values_list("comparison_id", flat=True))
    domain = client.get(base + "?domain=code&order=strength", **HX).content.decode()
    assert re.findall(r'class="card disagreement" data-comparison="(\d+)"', domain) in ([str(first.pk)], [])
    wide = client.get(base + "?min_spread=99", **HX).content.decode()
    assert "No comparison matches these filters." in wide
    # The filters ride along on the order and page links.
    kept = client.get(base + "?min_spread=1").content.decode()
    assert 'href="?order=strength&amp;min_spread=1"' in kept and 'page=2&amp;min_spread=1"' in kept
    for bad in ("?annotator=x", "?min_spread=abc", "?min_spread=nan", "?attribute=password", "?annotator=9" * 30):
        response = client.get(base + bad)
        assert response.status_code == 400, bad
        assert 'role="alert"' in response.content.decode()


def test_bulk_accept_without_javascript_accepts_the_ticked_and_goes_back(project, lead) -> None:
    client = _client(lead)
    comparison = project.comparisons.first()
    chosen = list(comparison.annotations.values_list("pk", flat=True)[:2])
    back = _url("lead_disagreements", project) + "?page=2"
    page = client.get(_url("lead_disagreements", project)).content.decode()
    assert 'id="bulk-accept"' in page
    assert f'name="annotation" value="{chosen[0]}" form="bulk-accept"' in page
    assert "js/review.js" in page
    url = _url("lead_review_bulk_accept", project)
    response = client.post(url, {"annotation": chosen, "next": back})
    assert (response.status_code, response["Location"]) == (302, back)
    assert set(Review.objects.filter(decision="accept").values_list("annotation_id", flat=True)) == set(chosen)
    nothing = client.post(url, {"next": back})
    assert nothing.status_code == 400
    assert "Tick the annotations to accept first." in nothing.content.decode()
    assert client.post(url, {"annotation": ["abc"]}).status_code == 400
    assert client.post(url, {"annotation": [str(10**30)]}).status_code == 400
    assert client.post(url, {"annotation": [str(2**62)]}).status_code == 404
    assert client.get(url).status_code == 405
    assert _client(member(project)).post(url, {"annotation": chosen}).status_code == 403


def test_annotator_page_shows_both_responses_beside_each_annotation(project, lead) -> None:
    annotation = project.comparisons.first().annotations.first()
    comparison = annotation.comparison
    html = _client(lead).get(_url("lead_annotator_detail", project, user_id=annotation.annotator_id)).content.decode()
    card = html.split(f'data-comparison="{comparison.pk}"')[1].split("</article>")[0]
    assert 'data-response="1"' in card and 'data-response="2"' in card
    assert comparison.response_1.text.split()[0] in card and comparison.response_2.text.split()[0] in card
    assert f'data-annotation="{annotation.pk}"' in card
    assert 'id="bulk-accept"' in html and "js/review.js" in html


# --- rules ----------------------------------------------------------------------------------------------------


def test_rules_page_lists_defaults_and_previews_one(project, lead) -> None:
    page = _client(lead).get(_url("lead_rules", project))
    html = page.content.decode()
    assert 'data-rule="helpsteer2"' in html
    assert 'data-rule="mean-accepted"' in html
    rule = AggregationRule.objects.get(name="helpsteer2", version=1)
    partial = _client(lead).get(_url("lead_rules", project) + f"?rule={rule.pk}", **HX).content.decode()
    assert partial.lstrip().startswith('<section id="rule-preview"')
    assert "of 30 comparisons kept" in partial
    assert 'data-reason="helpfulness_spread"' in partial
    assert "alpha before" in partial
    assert "Choose a rule" in _client(lead).get(_url("lead_rules", project) + "?rule=abc").content.decode()
    assert (
        "No such aggregation rule" in _client(lead).get(_url("lead_rules", project) + "?rule=999999").content.decode()
    )


def test_rules_page_shows_the_preference_spread_threshold_and_what_it_does(project, lead) -> None:
    html = _client(lead).get(_url("lead_rules", project)).content.decode()
    assert '<dt data-param="max_strength_spread"><code>max_strength_spread=None</code></dt>' in html
    assert "kept strengths [-3, 0, 3] aggregate to 0" in html
    aggregation_rule_version_create(name="helpsteer2", params={"max_strength_spread": 2})
    html = _client(lead).get(_url("lead_rules", project)).content.decode()
    assert "<code>max_strength_spread=2</code>" in html
    assert "kept preference strengths span more than 2 points" in html


def test_pages_work_on_an_empty_project(lead) -> None:
    empty = ProjectFactory()
    boss = member(empty, Role.LEAD)
    ComparisonFactory(project=empty)
    for name in ["lead_overview", "lead_annotators", "lead_disagreements", "lead_rules"]:
        assert _client(boss).get(_url(name, empty)).status_code == 200
    annotate(ComparisonFactory(project=empty), member(empty))  # one annotation: nothing measurable yet
    html = _client(boss).get(_url("lead_overview", empty)).content.decode()
    assert "n/a" in html

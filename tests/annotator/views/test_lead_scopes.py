"""The lead's pages by domain and language: agreement per scope (a lazily loaded panel), and the annotator table
narrowed to a scope."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from annotator.models import Prompt, Role
from annotator.selectors.quality.agreement import agreement_overview_get
from annotator.selectors.quality.scopes import agreement_by_scope
from tests.annotator.selectors.quality_data import simulated_project
from tests.factories import ProjectFactory, member

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def project():
    project = ProjectFactory(overlap=3)
    simulated_project(project, comparisons=24, profiles=["careful", "careful", "lenient", "random"], seed=5)
    prompts = list(Prompt.objects.filter(project=project).order_by("id"))
    for i, prompt in enumerate(prompts):
        prompt.domain = "code" if i % 2 else "general"
        prompt.language = "python" if i % 2 else ("english" if i < 20 else "")
    Prompt.objects.bulk_update(prompts, ["domain", "language"])
    return project


def _client(project) -> Client:
    client = Client()
    client.force_login(member(project, Role.LEAD))
    return client


def test_agreement_per_domain_is_the_overviews_alpha_on_each_domains_annotations(project) -> None:
    table = agreement_by_scope(project=project, by="domain")
    assert [r.scope for r in table.rows] == ["code", "general"]
    assert sum(r.n_comparisons for r in table.rows) == 24
    overall = agreement_overview_get(project=project)
    assert sum(r.n_annotations for r in table.rows) == overall.n_annotations
    # A scope holding every annotation gives the overview's own alpha.
    one = ProjectFactory(overlap=3)
    simulated_project(one, comparisons=10, profiles=["careful", "careful", "lenient"], seed=2)
    Prompt.objects.filter(project=one).update(domain="stem")
    (row,) = agreement_by_scope(project=one).rows
    expected = {r.measure: r.alpha for r in agreement_overview_get(project=one).rows}
    assert row.alpha == pytest.approx(expected)


def test_agreement_per_language_lists_prompts_without_one_last(project) -> None:
    assert [r.scope for r in agreement_by_scope(project=project, by="language").rows] == ["english", "python", ""]


def test_the_overview_loads_the_panel_lazily_and_the_panel_works_without_htmx(project) -> None:
    client = _client(project)
    url = reverse("annotator:lead_agreement_scopes", kwargs={"slug": project.slug})
    overview = client.get(reverse("annotator:lead_overview", kwargs={"slug": project.slug})).content.decode()
    assert f'hx-get="{url}" hx-trigger="load"' in overview and f'href="{url}"' in overview
    partial = client.get(url, **HX).content.decode()
    assert "<html" not in partial and re.findall(r'data-scope="([^"]*)"', partial) == ["code", "general"]
    page = client.get(url + "?by=language")
    assert page.status_code == 200 and "<html" in page.content.decode()
    assert re.findall(r'data-scope="([^"]*)"', page.content.decode()) == ["english", "python", ""]
    assert client.get(url + "?by=nonsense").status_code == 200  # an unknown grouping falls back to the domain


def test_the_annotator_table_narrows_to_a_domain_and_keeps_it_on_the_sort_links(project) -> None:
    client = _client(project)
    url = reverse("annotator:lead_annotators", kwargs={"slug": project.slug})
    every = client.get(url)
    html = every.content.decode()
    assert '<option value="code">code</option>' in html and '<option value="python">python</option>' in html
    code = client.get(url + "?domain=code", **HX)
    assert "domain=code" in code.content.decode()  # the sort links keep the scope
    total = sum(r.n_annotations for r in every.context["rows"])
    in_code = sum(r.n_annotations for r in code.context["rows"])
    in_general = sum(r.n_annotations for r in client.get(url + "?domain=general").context["rows"])
    assert 0 < in_code < total and in_code + in_general == total
    python = sum(r.n_annotations for r in client.get(url + "?domain=code&language=python").context["rows"])
    assert python == in_code
    nothing = client.get(url + "?domain=law", **HX)
    assert nothing.status_code == 200 and sum(r.n_annotations for r in nothing.context["rows"]) == 0


@pytest.mark.parametrize("page", ["lead_annotators", "lead_disagreements"])
@pytest.mark.parametrize("query", ["?domain=co%00de", "?language=" + "x" * 65])
def test_a_scope_no_prompt_can_have_is_refused_in_place(project, page: str, query: str) -> None:
    response = _client(project).get(reverse(f"annotator:{page}", kwargs={"slug": project.slug}) + query)
    assert response.status_code == 400
    assert "Choose one from the list." in response.content.decode()

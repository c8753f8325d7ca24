"""The annotator's progress ("x of N"), their submission history, and the edit of their last submission."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from annotator.models import Annotation, Role
from annotator.selectors.assignments import OPEN_COUNT_CAP, annotator_progress
from annotator.services.assignments import annotation_submit, assignment_claim_next
from tests.factories import ComparisonFactory, ProjectFactory, member

pytestmark = pytest.mark.django_db

GOOD = "@Response 1 is more complete than @Response 2."


def _client(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def _form(project: Any, left: int = 3, right: int = 1, strength: int = -2, justification: str = GOOD) -> dict:
    data: dict[str, Any] = {"preference_strength": strength, "justification": justification}
    for name in project.attributes.values_list("name", flat=True):
        data[f"left.{name}"], data[f"right.{name}"] = left, right
    return data


def _submit(project: Any, annotator: Any) -> Annotation:
    a = assignment_claim_next(project=project, annotator=annotator)
    assert a is not None
    names = list(project.attributes.values_list("name", flat=True))
    return annotation_submit(
        assignment=a,
        annotator=annotator,
        ratings_shown={"left": dict.fromkeys(names, 3), "right": dict.fromkeys(names, 1)},
        preference_strength=-2,
        justification=GOOD,
    ).annotation


def test_progress_counts_what_is_done_and_what_is_open() -> None:
    project = ProjectFactory(overlap=1)
    ComparisonFactory.create_batch(5, project=project)
    ann, bob = member(project), member(project)
    _submit(project, ann)
    _submit(project, ann)
    progress = annotator_progress(project=project, annotator=ann)
    assert (progress.submitted, progress.total, progress.total_capped) == (2, 5, False)
    # Bob annotates two of the other three: one comparison is left open for ann.
    for _ in range(2):
        _submit(project, bob)
    assert annotator_progress(project=project, annotator=ann).total == 3
    page = _client(ann).get(reverse("annotator:annotate", kwargs={"slug": project.slug})).content.decode()
    assert 'data-testid="submitted-count">2</strong> of <span data-testid="progress-total">3</span>' in page


def test_progress_stops_counting_at_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("annotator.selectors.assignments.OPEN_COUNT_CAP", 3)
    project = ProjectFactory(overlap=1)
    ComparisonFactory.create_batch(5, project=project)
    ann = member(project)
    progress = annotator_progress(project=project, annotator=ann)
    assert (progress.total, progress.total_capped) == (3, True)
    assert OPEN_COUNT_CAP >= 100


def test_history_lists_own_submissions_newest_first_and_only_the_last_is_editable() -> None:
    project = ProjectFactory(overlap=2)
    ComparisonFactory.create_batch(3, project=project)
    ann, bob = member(project), member(project)
    first, second = _submit(project, ann), _submit(project, ann)
    theirs = _submit(project, bob)
    response = _client(ann).get(reverse("annotator:annotate_history", kwargs={"slug": project.slug}))
    assert response.status_code == 200
    html = response.content.decode()
    assert html.index(f'data-annotation="{second.pk}"') < html.index(f'data-annotation="{first.pk}"')
    assert f'data-annotation="{theirs.pk}"' not in html
    assert reverse("annotator:annotate_edit", kwargs={"annotation_id": second.pk}) in html
    assert reverse("annotator:annotate_edit", kwargs={"annotation_id": first.pk}) not in html


def test_history_is_for_annotators_of_the_project() -> None:
    project = ProjectFactory()
    outsider = member(ProjectFactory())
    lead = member(project, Role.LEAD)
    url = reverse("annotator:annotate_history", kwargs={"slug": project.slug})
    assert _client(outsider).get(url).status_code in (403, 404)
    assert _client(lead).get(url).status_code == 403
    assert Client().get(url).status_code == 302  # to the login page


def test_edit_saves_a_new_version_and_goes_back_to_the_history() -> None:
    project = ProjectFactory(overlap=1)
    ComparisonFactory.create_batch(2, project=project)
    ann = member(project)
    annotation = _submit(project, ann)
    url = reverse("annotator:annotate_edit", kwargs={"annotation_id": annotation.pk})
    client = _client(ann)
    page = client.get(url)
    assert page.status_code == 200
    assert "Editing your last submission" in page.content.decode()
    assert "data-draft-url" not in page.content.decode()  # an edit keeps no draft

    bad = client.post(url, _form(project, justification="short"))
    assert bad.status_code == 422
    assert "short" in bad.content.decode()  # the input is kept, the error shown in place
    assert Annotation.objects.get().pk == annotation.pk

    done = client.post(url, _form(project, strength=2, left=1, right=4), follow=True)
    assert done.redirect_chain[-1][0] == reverse("annotator:annotate_history", kwargs={"slug": project.slug})
    assert "Your edit was saved." in done.content.decode()
    versions = list(Annotation.objects.filter(assignment=annotation.assignment).order_by("id"))
    assert [v.is_current for v in versions] == [False, True]


def test_edit_refused_is_a_message_not_an_error() -> None:
    project = ProjectFactory(overlap=1)
    ComparisonFactory.create_batch(2, project=project)
    ann, other = member(project), member(project)
    first = _submit(project, ann)
    _submit(project, ann)
    url = reverse("annotator:annotate_edit", kwargs={"annotation_id": first.pk})
    response = _client(ann).post(url, _form(project), follow=True)
    assert response.status_code == 200
    assert "Only your last submission can be edited." in response.content.decode()
    assert _client(ann).get(url).status_code == 302
    assert _client(other).get(url).status_code == 404
    huge = reverse("annotator:annotate_edit", kwargs={"annotation_id": 2**70})
    assert _client(ann).get(huge).status_code == 404

from __future__ import annotations

import gzip
import io
import json
import re
from typing import Any

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse

from annotator.models import Annotation, Assignment, AssignmentStatus, Role
from annotator.services.assignments import annotation_submit, assignment_claim_next
from annotator.services.imports import comparisons_import
from tests.factories import ComparisonFactory, ProjectFactory, PromptFactory, ResponseFactory, member

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
GOOD = "@Response 1 is more complete than @Response 2."


def _project(n: int = 2, **kwargs: Any):
    project = ProjectFactory(**kwargs)
    ComparisonFactory.create_batch(n, project=project)
    return project


def _client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def _form(project, left: int = 3, right: int = 1, strength: int = -2, justification: str = GOOD) -> dict[str, Any]:
    data: dict[str, Any] = {
        "preference_strength": strength,
        "justification": justification,
        "time_on_task_seconds": "12.5",
    }
    for name in project.attributes.values_list("name", flat=True):
        data[f"left.{name}"] = left
        data[f"right.{name}"] = right
    return data


def _url(name: str, assignment: Assignment) -> str:
    return reverse(f"annotator:{name}", kwargs={"assignment_id": assignment.pk})


def _page(project) -> str:
    return reverse("annotator:annotate", kwargs={"slug": project.slug})


def _started(c: Client, project) -> str:
    """Press "Start" (the claim is a POST), then open the page: its HTML."""
    assert c.post(_page(project)).status_code in (200, 302)
    return c.get(_page(project)).content.decode()


def test_opening_the_page_claims_nothing_and_offers_a_start_button() -> None:
    project = _project(1)
    annotator = member(project)
    r = _client(annotator).get(_page(project))
    assert r.status_code == 200
    assert not Assignment.objects.exists()
    html = r.content.decode()
    assert re.search(rf'<form method="post" action="{_page(project)}"[^>]*hx-post="{_page(project)}"', html)
    assert 'name="csrfmiddlewaretoken"' in html
    assert "data-claim" in html


def test_a_claim_from_another_site_is_refused() -> None:
    """Claiming is a POST with a CSRF token: a cross-site form (or a GET) cannot make an annotator claim."""
    project = _project(1)
    c = Client(enforce_csrf_checks=True)
    c.force_login(member(project))
    assert c.post(_page(project)).status_code == 403
    assert c.get(_page(project)).status_code == 200
    assert not Assignment.objects.exists()


def test_start_claims_and_shows_a_comparison_side_by_side() -> None:
    project = _project(1)
    annotator = member(project)
    c = _client(annotator)
    r = c.post(_page(project))
    assert r.status_code == 302
    assert r["Location"] == _page(project)
    a = Assignment.objects.get(annotator=annotator)
    r = c.get(r["Location"])
    assert r.status_code == 200
    html = r.content.decode()
    left, right = (
        (a.comparison.response_2, a.comparison.response_1)
        if a.swapped
        else (a.comparison.response_1, a.comparison.response_2)
    )
    assert html.index(left.text) < html.index(right.text)  # shown order follows the stored swap
    assert 'name="left.helpfulness"' in html
    assert 'name="right.verbosity"' in html
    assert html.count('name="preference_strength"') == 7
    assert "Response 2 is much better than Response 1" in html
    assert "Perfectly helpful" in html  # level descriptions are on the page
    assert "Ctrl</kbd>+<kbd>Enter" in html
    assert f'action="{_url("annotate_submit", a)}"' in html  # real form action beside hx-post
    assert "<html" in html


@pytest.mark.parametrize("method", ["get", "post"])
def test_annotate_page_with_htmx_is_the_partial(method: str) -> None:
    project = _project(1)
    annotator = member(project)
    r = getattr(_client(annotator), method)(_page(project), **HX)
    html = r.content.decode()
    assert r.status_code == 200
    assert html.lstrip().startswith('<div id="workspace"')
    assert "<html" not in html
    claimed = Assignment.objects.filter(annotator=annotator).first()
    if method == "post":
        assert claimed is not None
        assert f'data-assignment="{claimed.pk}"' in html
    else:
        assert claimed is None
        assert "data-claim" in html


def test_reopening_the_page_shows_the_reservation_held() -> None:
    project = _project(2)
    annotator = member(project)
    c = _client(annotator)
    c.post(_page(project))
    a = Assignment.objects.get(annotator=annotator)
    for _ in range(2):
        assert f'data-assignment="{a.pk}"' in c.get(_page(project)).content.decode()
    assert Assignment.objects.filter(annotator=annotator).count() == 1


def test_markdown_is_rendered_and_sanitised() -> None:
    project = ProjectFactory()
    prompt = PromptFactory(project=project, turns=[
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say **hi**"},
        {"role": "assistant", "content": "hi"}, {"role": "user", "content": "again <script>alert(1)</script>"},
    ])  # fmt: skip
    ComparisonFactory(
        project=project, prompt=prompt,
        response_1=ResponseFactory(prompt=prompt, text="```python\nprint(1)\n```"),
        response_2=ResponseFactory(prompt=prompt, text="<img src=x onerror=alert(1)> *ok*"),
    )  # fmt: skip
    html = _started(_client(member(project)), project)
    assert "<strong>hi</strong>" in html
    assert "<em>ok</em>" in html
    assert "<script>alert" not in html
    assert "<img" not in html  # raw HTML in model output is shown as text, never as markup
    assert '<pre><code class="language-python">' in html
    assert html.count('class="turn turn-') == 4


def test_non_members_get_404_and_other_roles_403() -> None:
    project = _project(1)
    url = reverse("annotator:annotate", kwargs={"slug": project.slug})
    for method in ("get", "post"):
        assert getattr(_client(member(ProjectFactory())), method)(url).status_code == 404
        assert getattr(_client(member(project, role=Role.LEAD)), method)(url).status_code == 403
        assert getattr(Client(), method)(url).status_code == 302  # to the login page
    assert not Assignment.objects.exists()


def test_other_annotators_assignments_are_404_and_never_data() -> None:
    project = _project(1)
    owner, other = member(project), member(project)
    a = assignment_claim_next(project=project, annotator=owner)
    assert a is not None
    c = _client(other)
    for name in ("annotate_submit", "annotate_skip", "annotate_draft"):
        r = c.post(_url(name, a), _form(project) | {"reason": "pii"}, **HX)
        assert r.status_code == 404
        assert a.comparison.response_1.text not in r.content.decode()
    a.refresh_from_db()
    assert a.status == AssignmentStatus.RESERVED
    assert a.draft == {}


def test_blind_annotation_hides_other_annotators_work() -> None:
    project = _project(1, overlap=2)
    first, second = member(project), member(project)
    a = assignment_claim_next(project=project, annotator=first)
    assert a is not None
    names = list(project.attributes.values_list("name", flat=True))
    annotation_submit(
        assignment=a, annotator=first, ratings_shown={"left": dict.fromkeys(names, 1), "right": dict.fromkeys(names, 4)},
        preference_strength=3, justification="SECRET-JUSTIFICATION of @Response 2",
    )  # fmt: skip
    html = _started(_client(second), project)
    assert a.comparison.response_1.text in html
    assert "SECRET-JUSTIFICATION" not in html
    assert first.username not in html


@pytest.mark.parametrize("headers", [HX, {}], ids=["htmx", "plain"])
def test_submit_stores_and_moves_to_the_next_comparison(headers: dict[str, str]) -> None:
    project = _project(2)
    annotator = member(project)
    c = _client(annotator)
    c.post(_page(project))
    a = Assignment.objects.get(annotator=annotator)
    r = c.post(_url("annotate_submit", a), _form(project), **headers)
    ann = Annotation.objects.get(assignment=a)
    assert ann.time_on_task_seconds == 12.5
    assert ann.preference_strength == (2 if a.swapped else -2)
    nxt = Assignment.objects.exclude(pk=a.pk).filter(annotator=annotator)
    assert nxt.count() == 1  # the submission's POST claimed the next comparison
    if headers:
        assert r.status_code == 200
        assert "Submitted." in r.content.decode()
        assert nxt.count() == 1  # the next comparison came with the response
        assert f'data-assignment="{nxt.get().pk}"' in r.content.decode()
    else:
        assert r.status_code == 302
        assert r["Location"] == reverse("annotator:annotate", kwargs={"slug": project.slug})
        follow = c.get(r["Location"]).content.decode()
        assert "Submitted." in follow
        assert f'data-assignment="{nxt.get().pk}"' in follow


@pytest.mark.parametrize(("headers", "status"), [(HX, 200), ({}, 422)], ids=["htmx", "plain"])
def test_validation_errors_appear_next_to_the_fields_with_input_kept(headers: dict[str, str], status: int) -> None:
    project = _project(1)
    annotator = member(project)
    a = assignment_claim_next(project=project, annotator=annotator)
    assert a is not None
    data = _form(project, justification="too short")
    del data["right.correctness"]
    r = _client(annotator).post(_url("annotate_submit", a), data, **headers)
    assert r.status_code == status
    html = r.content.decode()
    assert 'id="err-right-correctness"' in html
    assert 'id="err-justification"' in html
    assert ">too short</textarea>" in html  # input kept
    assert re.search(r'name="left\.helpfulness" value="3"[^>]*checked', html)
    assert re.search(r'name="preference_strength" value="-2"[^>]*checked', html)
    assert not Annotation.objects.exists()


def test_a_contradiction_warning_is_shown_after_submitting() -> None:
    project = _project(2)
    annotator = member(project)
    a = assignment_claim_next(project=project, annotator=annotator)
    assert a is not None
    r = _client(annotator).post(_url("annotate_submit", a), _form(project, left=1, right=4, strength=-3), **HX)
    assert "You preferred Response 1" in r.content.decode()
    assert Annotation.objects.count() == 1


def test_a_second_submit_shows_the_conflict_in_place() -> None:
    project = _project(1)
    annotator = member(project)
    a = assignment_claim_next(project=project, annotator=annotator)
    assert a is not None
    c = _client(annotator)
    c.post(_url("annotate_submit", a), _form(project), **HX)
    r = c.post(_url("annotate_submit", a), _form(project), **HX)
    assert r.status_code == 200
    assert "already submitted" in r.content.decode()
    assert Annotation.objects.count() == 1


@pytest.mark.parametrize("headers", [HX, {}], ids=["htmx", "plain"])
def test_skip_with_a_reason(headers: dict[str, str]) -> None:
    project = _project(2)
    annotator = member(project)
    a = assignment_claim_next(project=project, annotator=annotator)
    assert a is not None
    c = _client(annotator)
    r = c.post(_url("annotate_skip", a), {"reason": "other"}, **headers)
    assert r.status_code == (200 if headers else 422)
    assert 'id="err-note"' in r.content.decode()
    r = c.post(_url("annotate_skip", a), {"reason": "pii", "flags": ["pii"]}, **headers)
    a.refresh_from_db()
    assert (a.status, a.skip_reason, a.flags) == (AssignmentStatus.SKIPPED, "pii", ["pii"])
    assert r.status_code == (200 if headers else 302)


def test_draft_is_kept_and_shown_when_the_annotator_comes_back() -> None:
    project = _project(2)
    annotator = member(project)
    c = _client(annotator)
    c.post(_page(project))
    a = Assignment.objects.get(annotator=annotator)
    r = c.post(
        _url("annotate_draft", a),
        {"left.helpfulness": "4", "justification": "half a thought", "time_on_task_seconds": "30"},
        HTTP_X_REQUESTED_WITH="fetch",
    )
    assert r.status_code == 204
    r = c.post(
        _url("annotate_draft", a),
        {"left.helpfulness": "4", "justification": "half a thought, more", "time_on_task_seconds": "31"},
    )
    assert r.status_code == 302  # the no-JS "Save draft" button
    html = c.get(reverse("annotator:annotate", kwargs={"slug": project.slug})).content.decode()
    assert ">half a thought, more</textarea>" in html
    assert re.search(r'name="left\.helpfulness" value="4"[^>]*checked', html)
    assert 'data-time-on-task="31.0"' in html
    assert Assignment.objects.filter(annotator=annotator).count() == 1


def test_a_returned_assignment_shows_the_review_note_and_the_previous_answers() -> None:
    project = _project(2)
    annotator = member(project)
    a = assignment_claim_next(project=project, annotator=annotator)
    assert a is not None
    c = _client(annotator)
    c.post(_url("annotate_submit", a), _form(project, strength=-1))
    Assignment.objects.filter(pk=a.pk).update(status=AssignmentStatus.RETURNED, review_note="Correctness looks off.")
    html = c.get(reverse("annotator:annotate", kwargs={"slug": project.slug})).content.decode()
    assert "Correctness looks off." in html
    assert f'data-assignment="{a.pk}"' in html
    assert re.search(r'name="preference_strength" value="-1"[^>]*checked', html)  # shown terms again
    r = c.post(_url("annotate_submit", a), _form(project, strength=-3), **HX)
    assert r.status_code == 200
    assert Annotation.objects.filter(assignment=a).count() == 2
    assert Annotation.objects.get(assignment=a, is_current=True).preference_strength == (3 if a.swapped else -3)


@pytest.mark.parametrize("headers", [HX, {}], ids=["htmx", "plain"])
def test_nothing_left_is_said_plainly(headers: dict[str, str]) -> None:
    project = _project(0)
    r = _client(member(project)).post(_page(project), **headers)
    assert r.status_code == 200
    html = r.content.decode()
    assert "Nothing left for you here" in html
    assert "Check again" in html


def test_project_page_links_by_role() -> None:
    project = _project(1)
    annotator = member(project)
    from annotator.models import Membership

    Membership.objects.create(project=project, user=annotator, role=Role.RESEARCHER)
    html = _client(annotator).get(reverse("annotator:project", kwargs={"slug": project.slug})).content.decode()
    assert reverse("annotator:annotate", kwargs={"slug": project.slug}) in html
    assert f"/p/{project.slug}/snapshots/" in html
    assert f"/p/{project.slug}/jobs/" in html
    assert f"/p/{project.slug}/lead/" not in html
    lead_html = (
        _client(member(project, role=Role.LEAD))
        .get(reverse("annotator:project", kwargs={"slug": project.slug}))
        .content.decode()
    )
    assert f"/p/{project.slug}/lead/" in lead_html
    assert reverse("annotator:annotate", kwargs={"slug": project.slug}) not in lead_html
    assert (
        _client(member(ProjectFactory())).get(reverse("annotator:project", kwargs={"slug": project.slug})).status_code
        == 404
    )


def test_annotate_page_is_a_handful_of_queries(django_assert_max_num_queries) -> None:
    project = _project(5)
    c = _client(member(project))
    url = reverse("annotator:annotate", kwargs={"slug": project.slug})
    c.post(url)
    with django_assert_max_num_queries(16):
        assert c.get(url, **HX).status_code == 200


def test_the_page_stays_light() -> None:
    """Under 100 KB of JavaScript and 300 KB in all, gzip-compressed (whitenoise serves the compressed files)."""
    project = _project(1)
    html = _started(_client(member(project)), project).encode()
    assets = re.findall(rb'(?:src|href)="/static/([^"]+)"', html)
    assert any(a.endswith(b".js") for a in assets)
    assert any(a.endswith(b".css") for a in assets)
    sizes = {}
    for asset in assets:
        path = finders.find(asset.decode())
        assert path, asset
        with open(path, "rb") as fh:
            sizes[asset.decode()] = len(gzip.compress(fh.read()))
    js = sum(v for k, v in sizes.items() if k.endswith(".js"))
    assert js < 100_000, sizes
    assert js + sum(v for k, v in sizes.items() if not k.endswith(".js")) + len(gzip.compress(html)) < 300_000, sizes


# --- hostile input: the reason in the page, nothing stored -----------------------------------------------------


def _claimed(**kwargs: Any) -> tuple[Any, Any, Assignment]:
    project = _project(1, **kwargs)
    annotator = member(project)
    a = assignment_claim_next(project=project, annotator=annotator)
    assert a is not None
    return project, annotator, a


@pytest.mark.parametrize(("headers", "status"), [(HX, 200), ({}, 422)], ids=["htmx", "plain"])
@pytest.mark.parametrize(
    ("change", "shown"),
    [
        ({"justification": GOOD + "\x00"}, "contains a NUL character (U+0000)"),
        ({"justification": "\u200b" * 40}, "Write at least"),
        ({"left.bogus": "3"}, "bogus is not an attribute of this project."),
        ({"time_on_task_seconds": "1e308"}, "Time on task is a number of seconds from 0 to 86400."),
        ({"time_on_task_seconds": "nan"}, "Time on task is a number of seconds"),
        ({"time_on_task_seconds": "-3"}, "Time on task is a number of seconds"),
    ],
)
def test_hostile_submissions_are_refused_in_the_page(
    headers: dict[str, str], status: int, change: dict[str, str], shown: str
) -> None:
    project, annotator, a = _claimed(min_justification_length=10)
    r = _client(annotator).post(_url("annotate_submit", a), {**_form(project), **change}, **headers)
    assert r.status_code == status
    assert shown in r.content.decode()
    assert not Annotation.objects.exists()


@pytest.mark.parametrize(("headers", "status"), [(HX, 200), ({}, 422)], ids=["htmx", "plain"])
def test_a_skip_note_with_a_nul_is_refused_in_the_page(headers: dict[str, str], status: int) -> None:
    _, annotator, a = _claimed()
    r = _client(annotator).post(_url("annotate_skip", a), {"reason": "other", "note": "n\x00"}, **headers)
    assert r.status_code == status
    assert "The note contains a NUL character" in r.content.decode()
    a.refresh_from_db()
    assert a.status == AssignmentStatus.RESERVED and a.skip_note == ""


@pytest.mark.parametrize("headers", [{"HTTP_X_REQUESTED_WITH": "fetch"}, {}], ids=["script", "plain"])
def test_a_draft_with_a_nul_is_refused_with_the_reason(headers: dict[str, str]) -> None:
    _, annotator, a = _claimed()
    r = _client(annotator).post(_url("annotate_draft", a), {"justification": "half\x00"}, **headers)
    assert r.status_code == 400
    assert "contains a NUL character" in r.content.decode()
    a.refresh_from_db()
    assert a.draft == {}


def _fenced(chars: int) -> str:
    body = "def f(x):\n    return x + 1  # add one\n" * (chars // 38 + 1)
    return "```python\n" + body[: chars - len("```python\n\n```")] + "\n```"


def test_a_comparison_at_the_field_limits_renders_a_bounded_collapsed_page(settings: Any) -> None:
    """The largest texts the import accepts (by default 200,000 characters of prompt, 100,000 per response), all
    fenced code: highlighted, such a page was about eight times the text's size (1.8 MB of code gave 45.6 MB)."""
    project = ProjectFactory()
    line = {
        "prompt": _fenced(settings.PREFSTACK_MAX_PROMPT_CHARS),
        "response_1": _fenced(settings.PREFSTACK_MAX_RESPONSE_CHARS),
        "response_2": _fenced(settings.PREFSTACK_MAX_RESPONSE_CHARS),
    }
    upload = io.BytesIO(json.dumps(line).encode())
    upload.name = "largest.jsonl"
    assert comparisons_import(project=project, source=upload, fmt="prefstack").comparisons == 1
    text_chars = sum(map(len, line.values()))

    client = _client(member(project))
    client.post(_page(project))  # claim; the page then shows the reservation
    html = client.get(_page(project)).content.decode()

    assert len(html) < text_chars * 1.1 + 60_000, len(html)  # the text once, escaped, plus the page
    assert '<span class="k">' not in html  # no highlighting at this size
    assert html.count('class="collapsible"') == 3  # the prompt and both responses collapsed ...
    assert "Show all (100,000 characters)" in html and "Show all (200,000 characters)" in html  # ... with a toggle
    assert html.count('<pre><code class="language-python">') == 3


def test_short_texts_are_highlighted_and_not_collapsed() -> None:
    project = ProjectFactory()
    prompt = PromptFactory(project=project)
    ComparisonFactory(
        project=project,
        prompt=prompt,
        response_1=ResponseFactory(prompt=prompt, text=_fenced(2_000)),
        response_2=ResponseFactory(prompt=prompt, text="Short."),
    )
    client = _client(member(project))
    client.post(_page(project))  # claim; the page then shows the reservation
    html = client.get(_page(project)).content.decode()
    assert '<span class="k">def</span>' in html
    assert 'class="collapsible"' not in html

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotator.models import Annotation, Assignment, AssignmentStatus, Role
from tests.factories import ComparisonFactory, ProjectFactory, member

pytestmark = pytest.mark.django_db


def _client(user) -> APIClient:
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return c


def _body(project, left: int = 3, right: int = 1, strength: Any = -2, **extra: Any) -> dict[str, Any]:
    names = list(project.attributes.values_list("name", flat=True))
    return {
        "ratings": {"left": dict.fromkeys(names, left), "right": dict.fromkeys(names, right)},
        "preference_strength": strength, "justification": "@Response 1 is right; @Response 2 is not.", **extra,
    }  # fmt: skip


def _setup(n: int = 2, **kwargs: Any):
    project = ProjectFactory(**kwargs)
    ComparisonFactory.create_batch(n, project=project)
    annotator = member(project)
    return project, annotator, _client(annotator)


def test_claim_submit_and_the_next_claim() -> None:
    project, _annotator, c = _setup(2)
    r = c.post(f"/api/v1/projects/{project.slug}/assignments/next/")
    assert r.status_code == 200, r.content
    body = r.json()
    a = Assignment.objects.get(pk=body["id"])
    shown_left = a.comparison.response_2 if a.swapped else a.comparison.response_1
    assert body["comparison"]["left"]["text"] == shown_left.text
    assert [x["name"] for x in body["attributes"]][:2] == ["helpfulness", "correctness"]
    assert "swapped" not in body
    assert "response_1" not in str(body)
    # The same claim again returns the same assignment.
    assert c.post(f"/api/v1/projects/{project.slug}/assignments/next/").json()["id"] == a.pk

    r = c.post(f"/api/v1/assignments/{a.pk}/submit/", _body(project, time_on_task_seconds=9.5), format="json")
    assert r.status_code == 201, r.content
    ann = Annotation.objects.get(pk=r.json()["annotation"])
    assert ann.preference_strength == (2 if a.swapped else -2)
    assert ann.time_on_task_seconds == 9.5
    assert r.json()["warnings"] == []

    nxt = c.post(f"/api/v1/projects/{project.slug}/assignments/next/").json()
    assert nxt["id"] != a.pk
    Assignment.objects.filter(pk=nxt["id"]).update(status=AssignmentStatus.SKIPPED)
    assert c.post(f"/api/v1/projects/{project.slug}/assignments/next/").status_code == 204


def test_validation_errors_name_the_fields() -> None:
    project, _annotator, c = _setup(1)
    a = c.post(f"/api/v1/projects/{project.slug}/assignments/next/").json()
    body = _body(project, strength=7)
    del body["ratings"]["right"]["coherence"]
    r = c.post(f"/api/v1/assignments/{a['id']}/submit/", body, format="json")
    assert r.status_code == 400
    err = r.json()
    assert err["code"] == "validation_failed"
    assert set(err["extra"]["fields"]) == {"right.coherence", "preference_strength"}
    r = c.post(f"/api/v1/assignments/{a['id']}/submit/", {"ratings": "nope"}, format="json")
    assert r.status_code == 400
    assert r.json()["code"] == "validation_failed"


def test_a_second_submission_is_a_409() -> None:
    project, _annotator, c = _setup(1)
    a = c.post(f"/api/v1/projects/{project.slug}/assignments/next/").json()
    assert c.post(f"/api/v1/assignments/{a['id']}/submit/", _body(project), format="json").status_code == 201
    r = c.post(f"/api/v1/assignments/{a['id']}/submit/", _body(project), format="json")
    assert r.status_code == 409
    assert r.json()["code"] == "already_submitted"


def test_contradictions_come_back_as_warnings() -> None:
    project, _annotator, c = _setup(1)
    a = c.post(f"/api/v1/projects/{project.slug}/assignments/next/").json()
    r = c.post(f"/api/v1/assignments/{a['id']}/submit/", _body(project, left=0, right=4, strength=-3), format="json")
    assert r.status_code == 201
    assert len(r.json()["warnings"]) == 1


def test_skip_and_draft() -> None:
    project, _annotator, c = _setup(2)
    a = c.post(f"/api/v1/projects/{project.slug}/assignments/next/").json()
    r = c.put(
        f"/api/v1/assignments/{a['id']}/draft/",
        {"draft": {"justification": "so far", "left": {"helpfulness": 2}}},
        format="json",
    )
    assert r.status_code == 200
    assert c.get(f"/api/v1/assignments/{a['id']}/draft/").json()["draft"] == {
        "justification": "so far",
        "left": {"helpfulness": 2},
    }
    assert c.post(f"/api/v1/assignments/{a['id']}/skip/", {"reason": "bored"}, format="json").status_code == 400
    r = c.post(f"/api/v1/assignments/{a['id']}/skip/", {"reason": "pii", "flags": ["pii"]}, format="json")
    assert r.status_code == 200
    assert r.json() == {"assignment": a["id"], "status": "skipped", "reason": "pii", "flags": ["pii"]}
    assert c.put(f"/api/v1/assignments/{a['id']}/draft/", {"draft": {}}, format="json").status_code == 409


def test_permissions_never_leak_data() -> None:
    project, _annotator, c = _setup(1)
    a = c.post(f"/api/v1/projects/{project.slug}/assignments/next/").json()
    outsider = _client(member(ProjectFactory()))
    colleague = _client(member(project))
    lead = _client(member(project, role=Role.LEAD))
    assert outsider.post(f"/api/v1/projects/{project.slug}/assignments/next/").status_code == 404
    assert lead.post(f"/api/v1/projects/{project.slug}/assignments/next/").status_code == 403
    assert APIClient().post(f"/api/v1/projects/{project.slug}/assignments/next/").status_code in (401, 403)
    for client in (outsider, colleague, lead):
        for method, url, body in (
            ("post", f"/api/v1/assignments/{a['id']}/submit/", _body(project)),
            ("post", f"/api/v1/assignments/{a['id']}/skip/", {"reason": "pii"}),
            ("get", f"/api/v1/assignments/{a['id']}/draft/", None),
            ("put", f"/api/v1/assignments/{a['id']}/draft/", {"draft": {"justification": "x"}}),
        ):
            r = getattr(client, method)(url, body, format="json")
            assert r.status_code == 404, (method, url)
            assert set(r.json()) == {"message", "code", "extra"}
    assert not Annotation.objects.exists()
    assert Assignment.objects.get(pk=a["id"]).status == AssignmentStatus.RESERVED


def test_claim_endpoint_is_a_handful_of_queries(django_assert_max_num_queries) -> None:
    project, _annotator, c = _setup(20)
    # token, project and roles, the claim's five (+ savepoint and release), comparison to show, attributes
    with django_assert_max_num_queries(11):
        assert c.post(f"/api/v1/projects/{project.slug}/assignments/next/").status_code == 200


# --- hostile input: 400 with the reason, nothing stored --------------------------------------------------------


@pytest.mark.parametrize("escaped", ["bad\\u0000text", "\\ud800", "\\udc00x"])
def test_the_draft_api_refuses_text_no_database_can_store(escaped: str) -> None:
    project, _annotator, c = _setup(1)
    a = c.post(f"/api/v1/projects/{project.slug}/assignments/next/").json()
    body = '{"draft": {"justification": "so far ' + escaped + '"}}'
    r = c.put(f"/api/v1/assignments/{a['id']}/draft/", body, content_type="application/json")
    assert r.status_code == 400
    assert r.json()["code"] == "validation_failed" and "justification" in r.json()["extra"]["fields"]
    assert Assignment.objects.get(pk=a["id"]).draft == {}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("submit", '{"justification": "@Response 1 is right; @Response 2 is not.\\u0000"}'),
        ("submit", '{"justification": "@Response 1 is right; @Response 2 is not.\\ud800"}'),
        ("skip", '{"reason": "other", "note": "why\\u0000"}'),
        ("skip", '{"reason": "other", "note": "\\udc00x"}'),
    ],
)
def test_submit_and_skip_refuse_text_no_database_can_store(path: str, body: str) -> None:
    project, _annotator, c = _setup(1)
    a = c.post(f"/api/v1/projects/{project.slug}/assignments/next/").json()
    base = _body(project)
    merged = body[:-1] + ", " + '"ratings": ' + str(base["ratings"]).replace("'", '"') + ', "preference_strength": -2}'
    r = c.post(f"/api/v1/assignments/{a['id']}/{path}/", merged, content_type="application/json")
    assert r.status_code == 400, r.content
    assert Assignment.objects.get(pk=a["id"]).status == AssignmentStatus.RESERVED
    assert not Annotation.objects.exists()


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"justification": "\u200b" * 40}, "justification"),
        ({"time_on_task_seconds": 1e308}, "time_on_task_seconds"),
        ({"time_on_task_seconds": -1}, "time_on_task_seconds"),
        ({"time_on_task_seconds": 86_401}, "time_on_task_seconds"),
    ],
)
def test_submission_validation_refuses_hostile_values(extra: dict[str, Any], field: str) -> None:
    project, _annotator, c = _setup(1, min_justification_length=10)
    a = c.post(f"/api/v1/projects/{project.slug}/assignments/next/").json()
    r = c.post(f"/api/v1/assignments/{a['id']}/submit/", _body(project, **extra), format="json")
    assert r.status_code == 400, r.content
    assert field in r.json()["extra"]["fields"]
    assert not Annotation.objects.exists()


def test_a_nan_time_on_task_is_refused() -> None:
    project, _annotator, c = _setup(1)
    a = c.post(f"/api/v1/projects/{project.slug}/assignments/next/").json()
    body = _body(project)
    text = str(body["ratings"]).replace("'", '"')
    raw = f'{{"ratings": {text}, "preference_strength": -2, "justification": "{body["justification"]}", '
    r = c.post(
        f"/api/v1/assignments/{a['id']}/submit/", raw + '"time_on_task_seconds": NaN}', content_type="application/json"
    )
    assert r.status_code == 400
    assert not Annotation.objects.exists()


def test_an_unknown_ratings_key_is_refused_not_dropped() -> None:
    project, _annotator, c = _setup(1)
    a = c.post(f"/api/v1/projects/{project.slug}/assignments/next/").json()
    body = _body(project)
    body["ratings"]["center"] = {"helpfulness": 2}
    r = c.post(f"/api/v1/assignments/{a['id']}/submit/", body, format="json")
    assert r.status_code == 400
    assert "center" in r.json()["extra"]["fields"]["ratings"]
    assert not Annotation.objects.exists()

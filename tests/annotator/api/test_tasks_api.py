"""The tasks API: the same services as the page; broken rules answer 400 with their code, nothing written."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotator.models import Role, TaskAssignment, TaskResult, TaskType
from annotator.services.feedback import feedback_submit
from annotator.services.task_units import task_claim_next
from tests.factories import ProjectFactory, TaskUnitFactory, good_feedback, member

pytestmark = pytest.mark.django_db


def _client(user) -> APIClient:
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return c


def test_claim_then_submit_feedback_and_a_refused_one() -> None:
    project = ProjectFactory(task_type=TaskType.FEEDBACK, overlap=1)
    TaskUnitFactory.create_batch(2, project=project)
    client = _client(member(project))
    claimed = client.post(f"/api/v1/projects/{project.slug}/tasks/next/")
    assert claimed.status_code == 200, claimed.content
    body = claimed.json()
    assert body["task_type"] == "feedback" and body["feedback_rules"]["min_words"] == 50 and body["response_2"]
    url = f"/api/v1/tasks/{body['id']}/feedback/"
    refused = client.post(url, {"feedback_1": "Fine.", "feedback_2": good_feedback()}, format="json")
    assert refused.status_code == 400
    assert refused.json()["code"] == "feedback_rules_broken"
    assert set(refused.json()["extra"]["fields"]) == {"feedback_1"}
    assert TaskResult.objects.count() == 0
    draft = client.put(f"/api/v1/tasks/{body['id']}/draft/", {"draft": {"feedback_1": "The"}}, format="json")
    assert draft.status_code == 200 and draft.json()["draft"] == {"feedback_1": "The"}
    done = client.post(url, {"feedback_1": good_feedback(), "feedback_2": good_feedback("not")}, format="json")
    assert done.status_code == 201 and TaskResult.objects.get().helpfulness_2 == 0
    assert (
        client.post(url, {"feedback_1": good_feedback(), "feedback_2": good_feedback()}, format="json").status_code
        == 409
    )
    wrong = client.post(f"/api/v1/tasks/{body['id']}/edit/", {"text": "x", "change_summary": "y"}, format="json")
    assert wrong.status_code == 409 and wrong.json()["code"] == "task_type_mismatch"


def test_edit_by_the_feedback_author_and_unchanged_edits_are_refused_with_their_codes() -> None:
    feedback_project = ProjectFactory(task_type=TaskType.FEEDBACK, overlap=1)
    unit = TaskUnitFactory(project=feedback_project)
    writer = member(feedback_project)
    taken = task_claim_next(project=feedback_project, annotator=writer)
    feedback_submit(assignment=taken, annotator=writer, feedback_1=good_feedback(), feedback_2=good_feedback())
    edit_project = ProjectFactory(task_type=TaskType.EDIT, overlap=2)
    edit_unit = TaskUnitFactory(
        project=edit_project, prompt=unit.prompt, response_1=unit.response_1, response_2=None,
        feedback=[good_feedback()], feedback_unit=unit,
    )  # fmt: skip
    edit_project.memberships.create(user=writer, role=Role.ANNOTATOR)
    held = TaskAssignment.objects.create(unit=edit_unit, annotator=writer)
    by_author = _client(writer).post(
        f"/api/v1/tasks/{held.pk}/edit/", {"text": "New.", "change_summary": "s"}, format="json"
    )
    assert by_author.status_code == 400 and by_author.json()["code"] == "edit_by_feedback_author"
    editor = _client(member(edit_project))
    claimed = editor.post(f"/api/v1/projects/{edit_project.slug}/tasks/next/").json()
    assert claimed["feedback"] == [good_feedback()]
    same = {"text": unit.response_1.text, "change_summary": "none"}
    unchanged = editor.post(f"/api/v1/tasks/{claimed['id']}/edit/", same, format="json")
    assert unchanged.status_code == 400 and unchanged.json()["code"] == "edit_unchanged"
    assert TaskResult.objects.filter(unit=edit_unit).count() == 0


def test_a_comparison_project_has_no_tasks_and_skip_works() -> None:
    comparisons = ProjectFactory()
    assert _client(member(comparisons)).post(f"/api/v1/projects/{comparisons.slug}/tasks/next/").status_code == 409
    project = ProjectFactory(task_type=TaskType.EDIT_QUALITY, overlap=1)
    TaskUnitFactory(project=project, response_2=None, edit_1="a", edit_2="b", feedback=["f"])
    client = _client(member(project))
    claimed = client.post(f"/api/v1/projects/{project.slug}/tasks/next/").json()
    assert sorted(claimed["edits"]) == ["a", "b"]
    skipped = client.post(f"/api/v1/tasks/{claimed['id']}/skip/", {"reason": "not_ratable"}, format="json")
    assert skipped.status_code == 200 and skipped.json()["status"] == "skipped"
    assert client.post(f"/api/v1/projects/{project.slug}/tasks/next/").status_code == 204


FIXTURES = __import__("pathlib").Path(__file__).resolve().parents[2] / "fixtures" / "formats"


def test_import_and_export_over_the_api_and_a_mismatched_file_refused() -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    project = ProjectFactory(task_type=TaskType.EDIT)
    client = _client(member(project, Role.LEAD))
    fixture = (FIXTURES / "helpsteer3_edit.jsonl").read_bytes()
    wrong = SimpleUploadedFile("feedback.jsonl", (FIXTURES / "helpsteer3_feedback.jsonl").read_bytes())
    refused = client.post(f"/api/v1/projects/{project.slug}/tasks/import/", {"file": wrong}, format="multipart")
    assert refused.status_code == 400 and refused.json()["code"] == "task_type_mismatch"
    upload = SimpleUploadedFile("edit.jsonl", fixture)
    done = client.post(f"/api/v1/projects/{project.slug}/tasks/import/", {"file": upload}, format="multipart")
    assert done.status_code == 201 and done.json() == {"units": 1, "results": 1}
    exported = client.get(f"/api/v1/projects/{project.slug}/tasks/export/?file_type=jsonl")
    assert exported.status_code == 200 and exported.content == fixture
    parquet = client.get(f"/api/v1/projects/{project.slug}/tasks/export/?file_type=parquet&split=train")
    assert parquet.status_code == 200 and parquet.content[:4] == b"PAR1"
    assert _client(member(project)).get(f"/api/v1/projects/{project.slug}/tasks/export/").status_code == 403


def test_edit_pairs_for_the_trainer_only_when_asked() -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    project = ProjectFactory(task_type=TaskType.EDIT)
    client = _client(member(project, Role.LEAD))
    upload = SimpleUploadedFile("edit.jsonl", (FIXTURES / "helpsteer3_edit.jsonl").read_bytes())
    client.post(f"/api/v1/projects/{project.slug}/tasks/import/", {"file": upload}, format="multipart")
    plain = client.get(f"/api/v1/projects/{project.slug}/tasks/export/").content.decode()
    assert "from_edit" not in plain and "edited_response" in plain  # off by default
    pairs = client.get(f"/api/v1/projects/{project.slug}/tasks/export/?edit_pairs=true&split=train")
    (row,) = [__import__("json").loads(line) for line in pairs.content.decode().splitlines()]
    assert row == {"id": "edit-1", "split": "train", "prompt": "Name a prime number.", "chosen": "7 is prime.",
                   "rejected": "9 is prime.", "margin": None, "from_edit": True}  # fmt: skip
    feedback = ProjectFactory(task_type=TaskType.FEEDBACK)
    refused = _client(member(feedback, Role.LEAD)).get(
        f"/api/v1/projects/{feedback.slug}/tasks/export/?edit_pairs=true"
    )
    assert refused.status_code == 409 and refused.json()["code"] == "task_type_mismatch"

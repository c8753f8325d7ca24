"""HelpSteer3 task files through the database: import, export in the released shape (a round trip to the fixture),
another config's file refused with nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotator.error_codes import ErrorCode
from annotator.errors import Conflict, ValidationFailed
from annotator.exports.helpsteer3_tasks import write_task_file
from annotator.models import Prompt, Role, TaskResult, TaskType, TaskUnit
from annotator.selectors.task_exports import task_rows_for_export
from annotator.services.edits import edit_submit
from annotator.services.imports import ImportFailed
from annotator.services.task_imports import task_units_import
from annotator.services.task_reviews import task_result_review
from annotator.services.task_units import task_claim_next
from tests.factories import ProjectFactory, member

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "formats"


@pytest.mark.parametrize("config", ["feedback", "edit", "edit_quality"])
def test_import_then_export_gives_the_file_back(config: str) -> None:
    project = ProjectFactory(task_type=config)
    fixture = FIXTURES / f"helpsteer3_{config}.jsonl"
    result = task_units_import(project=project, source=str(fixture))
    lines = fixture.read_text(encoding="utf-8").splitlines()
    assert result.units == len(lines) == TaskUnit.objects.filter(project=project).count()
    written = write_task_file(task_rows_for_export(project=project), config, "jsonl")  # type: ignore[arg-type]
    assert [json.loads(x) for x in written.decode().splitlines()] == [json.loads(x) for x in lines]


def test_imported_feedback_keeps_its_opening_levels() -> None:
    project = ProjectFactory(task_type=TaskType.FEEDBACK)
    task_units_import(project=project, source=str(FIXTURES / "helpsteer3_feedback.jsonl"))
    first = TaskResult.objects.filter(unit__project=project).order_by("id").first()
    assert (first.helpfulness_1, first.helpfulness_2, first.source) == (3, 2, "helpsteer3")


@pytest.mark.parametrize(("task_type", "config"), [(TaskType.FEEDBACK, "edit"), (TaskType.COMPARISON, "feedback")])
def test_a_file_of_another_task_type_is_refused_and_nothing_written(task_type: str, config: str) -> None:
    project = ProjectFactory(task_type=task_type)
    with pytest.raises((ValidationFailed, Conflict)) as refused:  # a file (400), a comparison project (409)
        task_units_import(project=project, source=str(FIXTURES / f"helpsteer3_{config}.jsonl"))
    assert refused.value.code == ErrorCode.TASK_TYPE_MISMATCH
    assert not Prompt.objects.filter(project=project).exists()


def test_bad_content_fails_the_whole_file(tmp_path: Path) -> None:
    project = ProjectFactory(task_type=TaskType.EDIT)
    good = (FIXTURES / "helpsteer3_edit.jsonl").read_text(encoding="utf-8")
    path = tmp_path / "edit.jsonl"
    path.write_text(good + '{"context": [{"role": "user", "content": "q"}]}\n', encoding="utf-8")
    with pytest.raises(ImportFailed) as refused:
        task_units_import(project=project, source=str(path))
    assert refused.value.extra["line"] == 2
    assert not TaskUnit.objects.filter(project=project).exists()


def test_rejected_edits_are_left_out_of_the_export() -> None:
    project = ProjectFactory(task_type=TaskType.EDIT, overlap=2)
    task_units_import(project=project, source=str(FIXTURES / "helpsteer3_edit.jsonl"))
    lead, editor = member(project, Role.LEAD), member(project)
    taken = task_claim_next(project=project, annotator=editor)
    result = edit_submit(assignment=taken, annotator=editor, text="11 is prime.", change_summary="Another prime.")
    assert len(task_rows_for_export(project=project)) == 2
    task_result_review(result=result, reviewer=lead, decision="reject", reason="Keep the sentence.")
    assert [r.edited for r in task_rows_for_export(project=project)] == ["7 is prime."]

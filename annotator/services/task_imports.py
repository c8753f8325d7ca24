"""HelpSteer3 ``feedback``, ``edit`` and ``edit_quality`` files into a project of that task type, all or nothing.

* feedback: a unit per row (prompt, response1, response2); the released critiques become results by the source
  (``source="helpsteer3"``), the i-th critique of each response together, with their opening levels;
* edit: a unit per row (original response and its feedback); the released edit and change summary a source result;
* edit_quality: a unit per row (the feedback, the good edit as edit 1 and the bad as edit 2, ``good_edit=1``).

A file of another config than the project's task type is refused (``task_type_mismatch``), the database unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.db import transaction

from annotator.domain import HS3_TASK_CONFIGS, HS3TaskConfig, HS3TaskRow
from annotator.error_codes import ErrorCode
from annotator.errors import Conflict, ValidationFailed
from annotator.feedback_rules import opening_helpfulness
from annotator.imports import ImportFormatError
from annotator.imports.helpsteer3_tasks import TaskConfigMismatch, parse_task_file
from annotator.models import Project, Prompt, Response, TaskResult, TaskUnit
from annotator.services.imports import ImportFailed

SOURCE = "helpsteer3"


@dataclass(frozen=True)
class TaskImportResult:
    units: int
    results: int


def _store(project: Project, row: HS3TaskRow, split: str) -> int:
    """Write one row's unit (and source results); how many results."""
    prompt = Prompt.objects.create(project=project, turns=[{"role": t.role, "content": t.content} for t in row.turns])
    response_1 = Response.objects.create(prompt=prompt, text=row.response_1)
    response_2 = Response.objects.create(prompt=prompt, text=row.response_2) if row.config == "feedback" else None
    metadata = {k: v for k, v in (("domain", row.domain), ("language", row.language)) if v is not None}
    unit = TaskUnit.objects.create(
        project=project, task_type=row.config, prompt=prompt, response_1=response_1, response_2=response_2,
        feedback=list(row.feedback), edit_1=row.good_edit, edit_2=row.bad_edit,
        good_edit=1 if row.config == "edit_quality" else None, split=split, source=SOURCE, metadata=metadata,
    )  # fmt: skip
    results: list[TaskResult] = []
    if row.config == "feedback":
        for i in range(max(len(row.feedback_1), len(row.feedback_2))):
            f1 = row.feedback_1[i] if i < len(row.feedback_1) else ""
            f2 = row.feedback_2[i] if i < len(row.feedback_2) else ""
            results.append(TaskResult(unit=unit, source=SOURCE, feedback_1=f1, feedback_2=f2,
                                      helpfulness_1=opening_helpfulness(f1), helpfulness_2=opening_helpfulness(f2)))  # fmt: skip
    elif row.config == "edit":
        results.append(TaskResult(unit=unit, source=SOURCE, text=row.edited, change_summary=row.change_summary))
    TaskResult.objects.bulk_create(results)
    return len(results)


@transaction.atomic
def task_units_import(*, project: Project, source: str | IO[bytes], split: str = "train") -> TaskImportResult:
    """Import every row of a HelpSteer3 file of the project's task type (JSONL, JSON or Parquet, maybe gzip), or none.

    Raises Conflict ``task_type_mismatch`` (409) for a comparison project, ValidationFailed ``task_type_mismatch``
    (400) for another config's file, ImportFailed
    (400/422 ``import_failed``) naming the line or row, column and expectation for bad content.
    """
    if project.task_type not in HS3_TASK_CONFIGS:
        raise Conflict(
            "This project collects comparisons; HelpSteer3 task files go into a feedback, edit or edit-quality "
            "project (comparisons are imported in the helpsteer3 format).",
            code=ErrorCode.TASK_TYPE_MISMATCH,
        )
    if split not in ("train", "validation"):
        raise ValidationFailed("The split is train or validation.", extra={"fields": {"split": "train or validation"}})
    config: HS3TaskConfig = project.task_type  # type: ignore[assignment]  # checked above
    units = results = 0
    try:
        for row in parse_task_file(
            source, config, max_bytes=settings.PREFSTACK_IMPORT_MAX_BYTES,
            max_line_bytes=settings.PREFSTACK_IMPORT_MAX_LINE_BYTES,
        ):  # fmt: skip
            results += _store(project, row, split)
            units += 1
    except TaskConfigMismatch as error:
        raise ValidationFailed(
            f"{error} — this project imports HelpSteer3 {project.task_type} files.",
            code=ErrorCode.TASK_TYPE_MISMATCH,
            extra=error.as_dict(),
        ) from error
    except ImportFormatError as error:
        raise ImportFailed.from_format_errors(error, [error]) from error
    return TaskImportResult(units=units, results=results)

"""A feedback, edit or edit-quality project's data as HelpSteer3 rows (:class:`annotator.domain.HS3TaskRow`), for
:func:`annotator.exports.helpsteer3_tasks.write_task_file` and the trainer-ready edit pairs.

Rejected results (latest review: reject) and superseded ones are left out; imported results are kept.

* feedback: one row per unit with its results' critiques, up to :data:`FEEDBACK_PER_RESPONSE` per response;
* edit: one row per edit;
* edit quality: one row per unit whose good edit is known (``good_edit``, else the majority of the choices).

:func:`task_file_export` is the download the API and the import page both answer: those rows as a file.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from annotator.domain import FEEDBACK_PER_RESPONSE, HS3TaskRow, Turn
from annotator.error_codes import ErrorCode
from annotator.errors import Conflict
from annotator.exports.helpsteer3_tasks import TaskFileKind, edit_preference_pairs, write_edit_pairs, write_task_file
from annotator.models import Project, ReviewDecision, TaskResult, TaskReview, TaskType, TaskUnit

TASK_FILE_TYPES: dict[TaskFileKind, str] = {
    "jsonl": "application/x-ndjson",
    "jsonl.gz": "application/gzip",
    "parquet": "application/vnd.apache.parquet",
}
"""The file types a task export is downloaded as, with their media types."""
TASK_FILE_TYPE_DEFAULT: TaskFileKind = "jsonl"


def _turns(unit: TaskUnit) -> tuple[Turn, ...]:
    return tuple(Turn(t["role"], t["content"]) for t in unit.prompt.turns or [])


def _kept_results(project: Project) -> dict[int, list[TaskResult]]:
    latest: dict[int, str] = {}
    for result_id, decision in (
        TaskReview.objects.filter(result__unit__project=project)
        .order_by("result_id", "-created_at", "-id")
        .values_list("result_id", "decision")
    ):
        latest.setdefault(result_id, decision)
    by_unit: dict[int, list[TaskResult]] = defaultdict(list)
    for result in TaskResult.objects.filter(unit__project=project, is_current=True).order_by("id"):
        if latest.get(result.pk) != ReviewDecision.REJECT:
            by_unit[result.unit_id].append(result)
    return by_unit


def task_rows_for_export(*, project: Project, split: str | None = None) -> list[HS3TaskRow]:
    """The project's rows in its HelpSteer3 config, in unit order (``split`` keeps one split; None: all)."""
    if project.task_type == TaskType.COMPARISON:
        return []
    units = TaskUnit.objects.filter(project=project).select_related("prompt", "response_1", "response_2")
    if split is not None:  # units without a split are train
        units = units.filter(split__in=(split, "") if split == "train" else (split,))
    results = _kept_results(project)
    rows: list[HS3TaskRow] = []
    for unit in units.order_by("id"):
        common = {"turns": _turns(unit), "response_1": unit.response_1.text,
                  "domain": unit.metadata.get("domain"), "language": unit.metadata.get("language")}  # fmt: skip
        mine = results.get(unit.pk, [])
        if unit.task_type == TaskType.FEEDBACK:
            rows.append(HS3TaskRow(
                config="feedback", **common,  # type: ignore[arg-type]
                response_2=unit.response_2.text if unit.response_2 else "",
                feedback_1=tuple(r.feedback_1 for r in mine if r.feedback_1)[:FEEDBACK_PER_RESPONSE],
                feedback_2=tuple(r.feedback_2 for r in mine if r.feedback_2)[:FEEDBACK_PER_RESPONSE],
            ))  # fmt: skip
        elif unit.task_type == TaskType.EDIT:
            for r in mine:
                if r.text:
                    rows.append(HS3TaskRow(
                        config="edit", **common, feedback=tuple(unit.feedback),  # type: ignore[arg-type]
                        edited=r.text, change_summary=r.change_summary,
                    ))  # fmt: skip
        else:
            good = unit.good_edit
            if good is None:
                votes = Counter(r.choice for r in mine if r.choice in (1, 2)).most_common()
                if not votes or (len(votes) > 1 and votes[0][1] == votes[1][1]):
                    continue  # unknown or tied: no row
                good = votes[0][0]
            edits = {1: unit.edit_1, 2: unit.edit_2}
            rows.append(HS3TaskRow(
                config="edit_quality", **common, feedback=tuple(unit.feedback),  # type: ignore[arg-type]
                good_edit=edits[good], bad_edit=edits[3 - good],
            ))  # fmt: skip
    return rows


@dataclass(frozen=True)
class TaskFile:
    """A task export to download: its file name, media type and bytes."""

    name: str
    content_type: str
    body: bytes


def task_file_export(
    *,
    project: Project,
    file_type: TaskFileKind = TASK_FILE_TYPE_DEFAULT,
    split: str | None = None,
    edit_pairs: bool = False,
) -> TaskFile:
    """The project's HelpSteer3 file (:func:`task_rows_for_export`) of ``split`` (None: all), or with ``edit_pairs``
    an edit project's edits as trainer-ready preference pairs (edited chosen over the original).

    Raises Conflict ``task_type_mismatch`` for a comparison project (its data is downloaded from a snapshot), and
    for edit pairs of a project that is not an edit project.
    """
    if project.task_type == TaskType.COMPARISON:
        raise Conflict(
            "This project collects comparisons; download them from a snapshot.", code=ErrorCode.TASK_TYPE_MISMATCH
        )
    if edit_pairs and project.task_type != TaskType.EDIT:
        raise Conflict("Only an edit project has edit pairs.", code=ErrorCode.TASK_TYPE_MISMATCH)
    rows = task_rows_for_export(project=project, split=split)
    if edit_pairs:
        body = write_edit_pairs(edit_preference_pairs(rows), file_type, split or "")
    else:
        body = write_task_file(rows, project.task_type, file_type)  # type: ignore[arg-type]  # not comparison: checked
    kind = "edit-pairs" if edit_pairs else project.task_type
    name = f"{project.slug}-{kind}{'-' + split if split else ''}.{file_type}"
    return TaskFile(name=name, content_type=TASK_FILE_TYPES[file_type], body=body)

"""HelpSteer3 ``feedback``, ``edit`` and ``edit_quality`` files -> :class:`annotator.domain.HS3TaskRow`. Pure.

Columns (nvidia/HelpSteer3 dataset card; :data:`annotator.domain.HS3_TASK_COLUMNS`): ``domain``, ``language``,
``context`` (``[{"role", "content"}]`` ending with the user turn), then per config ``response1`` / ``response2`` /
``feedback1`` / ``feedback2`` (lists of up to three critiques), or ``original_response`` / ``edited_response`` /
``feedback`` (list) / ``change_summary``, or ``original_response`` / ``good_edited_response`` /
``bad_edited_response`` / ``feedback``. JSONL, JSON or Parquet, optionally gzip (not Parquet); one file per split.

A file whose columns are another config's is refused with :class:`TaskConfigMismatch` (the service answers
``task_type_mismatch``).
"""

from __future__ import annotations

from collections.abc import Iterator

from annotator.domain import HS3_TASK_COLUMNS, LIKERT_SCALE, HS3TaskConfig, HS3TaskRow
from annotator.imports.containers import Container, Source, check_size, detect_container, iter_rows, source_name
from annotator.imports.errors import ImportFormatError
from annotator.imports.fields import FieldReader, Row
from annotator.imports.helpsteer3 import parse_messages
from annotator.imports.parse import DEFAULT_MAX_BYTES, DEFAULT_MAX_LINE_BYTES
from annotator.text import text_problem

# The column that only this config has, to tell which config a file is.
_OWN_COLUMN: dict[HS3TaskConfig, str] = {
    "feedback": "feedback1",
    "edit": "edited_response",
    "edit_quality": "good_edited_response",
}


class TaskConfigMismatch(ImportFormatError):
    """The file is another HelpSteer3 config than the one asked for."""


def config_of_columns(columns: set[str]) -> HS3TaskConfig | None:
    """The task config whose own column is in ``columns``, if any."""
    return next((config for config, column in _OWN_COLUMN.items() if column in columns), None)


def _texts(fields: FieldReader, position: int, row: Row, column: str) -> tuple[str, ...]:
    value = fields.get(position, row, column)
    if not isinstance(value, list) or not all(type(item) is str for item in value):
        raise fields.error(position, "not a list of texts", column=column, expected="a list of strings")
    return tuple(value)


def _row(config: HS3TaskConfig, position: int, row: Row, fields: FieldReader) -> HS3TaskRow:
    own = config_of_columns(set(row))
    if own is not None and own != config:
        line, at_row = (position, None) if fields.unit == "line" else (None, position)
        raise TaskConfigMismatch(
            f"the file is a HelpSteer3 {own} file, not {config}",
            expected=f"the {config} columns",
            line=line,
            row=at_row,
        )
    common = {
        "config": config,
        "turns": parse_messages(position, fields.items(position, row, "context"), "context", fields),
        "domain": fields.optional_string(position, row, "domain"),
        "language": fields.optional_string(position, row, "language"),
        "line": position,
    }
    if config == "feedback":
        return HS3TaskRow(
            **common,  # type: ignore[arg-type]
            response_1=fields.string(position, row, "response1"),
            response_2=fields.string(position, row, "response2"),
            feedback_1=_texts(fields, position, row, "feedback1"),
            feedback_2=_texts(fields, position, row, "feedback2"),
        )
    if config == "edit":
        return HS3TaskRow(
            **common,  # type: ignore[arg-type]
            response_1=fields.string(position, row, "original_response"),
            edited=fields.string(position, row, "edited_response"),
            feedback=_texts(fields, position, row, "feedback"),
            change_summary=fields.string(position, row, "change_summary"),
        )
    return HS3TaskRow(
        **common,  # type: ignore[arg-type]
        response_1=fields.string(position, row, "original_response"),
        good_edit=fields.string(position, row, "good_edited_response"),
        bad_edit=fields.string(position, row, "bad_edited_response"),
        feedback=_texts(fields, position, row, "feedback"),
    )


def _checked(record: HS3TaskRow, fields: FieldReader) -> HS3TaskRow:
    texts = [record.response_1, record.response_2, record.edited, record.change_summary, record.good_edit,
             record.bad_edit, *record.feedback_1, *record.feedback_2, *record.feedback, *(t.content for t in record.turns)]  # fmt: skip
    for text in texts:
        problem = text_problem(text)
        if problem is not None:
            raise fields.error(record.line, f"a text {problem}", expected="text a database can store")
    return record


def parse_task_file(
    source: Source,
    config: HS3TaskConfig,
    *,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    max_line_bytes: int | None = DEFAULT_MAX_LINE_BYTES,
    container: Container | None = None,
    compressed: bool | None = None,
) -> Iterator[HS3TaskRow]:
    """Read a HelpSteer3 task file, streaming; ImportFormatError (naming line or row and column) on bad content,
    TaskConfigMismatch for another config's file, an error for an empty file."""
    if config not in HS3_TASK_COLUMNS:
        raise ImportFormatError(f"unknown HelpSteer3 config {config!r}", expected=", ".join(HS3_TASK_COLUMNS))
    kind = detect_container(source_name(source), container=container, compressed=compressed)
    if kind.container == "csv":
        raise ImportFormatError("HelpSteer3 task files have list columns", expected="JSONL, JSON or Parquet")
    check_size(source, max_bytes)
    fields = FieldReader(unit=kind.unit, fmt=f"helpsteer3 {config}", text_cells=False, scale=LIKERT_SCALE)
    empty = True
    for position, row in iter_rows(source, kind, max_bytes=max_bytes, max_line_bytes=max_line_bytes):
        empty = False
        yield _checked(_row(config, position, row, fields), fields)
    if empty:
        raise ImportFormatError("the file is empty: it has no data rows", expected="at least one row")

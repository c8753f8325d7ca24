"""HelpSteer3 feedback / edit / edit_quality files: read in the released field names, written back unchanged
(JSONL, JSONL.gz, Parquet), another config's file refused."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import pytest

from annotator.domain import HS3_TASK_COLUMNS, HS3TaskConfig
from annotator.exports.helpsteer3_tasks import TaskFileKind, write_task_file
from annotator.imports import ImportFormatError
from annotator.imports.helpsteer3_tasks import TaskConfigMismatch, parse_task_file

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "formats"
CONFIGS: tuple[HS3TaskConfig, ...] = ("feedback", "edit", "edit_quality")


def _fixture(config: str) -> Path:
    return FIXTURES / f"helpsteer3_{config}.jsonl"


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("kind", ["jsonl", "jsonl.gz", "parquet"])
def test_round_trip(config: HS3TaskConfig, kind: TaskFileKind) -> None:
    rows = list(parse_task_file(_fixture(config), config))
    written = write_task_file(rows, config, kind)
    again = list(parse_task_file(io.BytesIO(written), config, container="parquet" if kind == "parquet" else "jsonl",
                                 compressed=kind == "jsonl.gz"))  # fmt: skip
    assert [replace(r, line=0) for r in again] == [replace(r, line=0) for r in rows]
    if kind == "jsonl":
        # The bytes are the fixture's: same names, order and values.
        assert [json.loads(line) for line in written.decode().splitlines()] == [
            json.loads(line) for line in _fixture(config).read_text(encoding="utf-8").splitlines()
        ]
        assert list(json.loads(written.decode().splitlines()[0])) == list(HS3_TASK_COLUMNS[config])


def test_the_fields_map_as_the_card_says() -> None:
    feedback = next(parse_task_file(_fixture("feedback"), "feedback"))
    assert feedback.response_2 == "Use lst[::-1]." and len(feedback.feedback_2) == 3
    assert (feedback.domain, feedback.language) == ("code", "python")
    edit = next(parse_task_file(_fixture("edit"), "edit"))
    assert (edit.response_1, edit.edited, len(edit.feedback)) == ("9 is prime.", "7 is prime.", 3)
    quality = next(parse_task_file(_fixture("edit_quality"), "edit_quality"))
    assert (quality.good_edit, quality.bad_edit) == ("4", "5, roughly")


def test_another_configs_file_is_refused_with_what_it_is() -> None:
    with pytest.raises(TaskConfigMismatch) as refused:
        list(parse_task_file(_fixture("edit"), "feedback"))
    assert "a HelpSteer3 edit file, not feedback" in str(refused.value) and refused.value.line == 1


@pytest.mark.parametrize(
    ("line", "problem"),
    [('{"context": [], "response1": "a", "response2": "b", "feedback1": [], "feedback2": []}', "empty conversation"),
     ('{"context": [{"role": "user", "content": "q"}], "response1": "a", "response2": "b", "feedback1": "x", "feedback2": []}', "feedback1"),
     ('{"context": [{"role": "user", "content": "q"}], "response1": "a\\u0000", "response2": "b", "feedback1": [], "feedback2": []}', "NUL"),
     ('{"context": [{"role": "user", "content": "q"}], "response2": "b", "feedback1": [], "feedback2": []}', "response1")],
)  # fmt: skip
def test_bad_rows_are_refused_naming_the_place(line: str, problem: str) -> None:
    with pytest.raises(ImportFormatError) as refused:
        list(parse_task_file(io.BytesIO(line.encode() + b"\n"), "feedback", container="jsonl"))
    assert problem in str(refused.value) and "line 1" in str(refused.value)

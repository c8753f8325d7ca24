from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from annotator.imports import AnnotationRecord, ImportFormatError, SourceLabels, Turn, parse_file

FIXTURES = Path(__file__).parents[2] / "fixtures" / "formats"
ATTRIBUTES = ("helpfulness", "correctness", "coherence", "complexity", "verbosity")


def _jsonl(rows: list[dict[str, object]]) -> io.BytesIO:
    return io.BytesIO("".join(json.dumps(row) + "\n" for row in rows).encode())


def _row(prompt: str = "p", response: str = "r", **ratings: object) -> dict[str, object]:
    return {"prompt": prompt, "response": response, **dict.fromkeys(ATTRIBUTES, 2), **ratings}


def test_consecutive_rows_become_one_comparison_with_source_ratings() -> None:
    records = list(parse_file(FIXTURES / "helpsteer2.jsonl", "helpsteer2", split="train"))
    assert len(records) == 2
    first, second = records
    assert first.line == 1
    assert first.turns == (Turn("user", "c#"),)
    assert first.response_1.startswith("C# is a high-level")
    assert first.response_2 == "C# is a musical note."
    assert first.split == "train"
    assert first.annotations == ()
    assert first.source_labels == SourceLabels(
        ratings_1=dict(zip(ATTRIBUTES, [3, 4, 4, 2, 1], strict=True)),
        ratings_2=dict(zip(ATTRIBUTES, [1, 2, 4, 1, 0], strict=True)),
    )
    assert second.line == 3
    assert [t.role for t in second.turns] == ["user", "assistant", "user"]


def test_csv_cells_are_read_as_integers() -> None:
    (record,) = parse_file(FIXTURES / "helpsteer2.csv", "helpsteer2")
    assert record.line == 2
    assert record.response_1 == 'C# is a "high-level", general-purpose language.'
    assert record.response_2 == "Line one\nline two"
    assert record.source_labels is not None
    assert record.source_labels.ratings_2["helpfulness"] == 1


def test_an_unpaired_row_at_the_end_is_an_error_naming_its_line() -> None:
    rows = [_row("a"), _row("a"), _row("b")]
    with pytest.raises(ImportFormatError, match=r"line 3, column 'prompt': this row has no partner") as caught:
        list(parse_file(_jsonl(rows), "helpsteer2", container="jsonl"))
    assert caught.value.line == 3


def test_a_row_whose_partner_has_another_prompt_is_an_error() -> None:
    rows = [_row("a"), _row("b"), _row("b"), _row("b")]
    with pytest.raises(ImportFormatError, match=r"line 1.*different prompt") as caught:
        list(parse_file(_jsonl(rows), "helpsteer2", container="jsonl"))
    assert caught.value.column == "prompt"


@pytest.mark.parametrize("value", [5, -1])
def test_a_rating_out_of_range_names_line_column_and_scale(value: int) -> None:
    rows = [_row("a"), _row("a", helpfulness=value)]
    with pytest.raises(ImportFormatError) as caught:
        list(parse_file(_jsonl(rows), "helpsteer2", container="jsonl"))
    assert str(caught.value) == (
        f"line 2, column 'helpfulness': value {value} is out of range (expected an integer 0..4)"
    )


def test_the_scale_is_a_parameter() -> None:
    rows = [_row("a", helpfulness=7), _row("a", helpfulness=1)]
    (record,) = parse_file(_jsonl(rows), "helpsteer2", container="jsonl", scale=(1, 7))
    assert record.source_labels is not None
    assert record.source_labels.ratings_1["helpfulness"] == 7
    with pytest.raises(ImportFormatError, match="out of range"):
        list(parse_file(_jsonl([_row("a", helpfulness=0), _row("a")]), "helpsteer2", container="jsonl", scale=(1, 7)))


@pytest.mark.parametrize("value", [2.5, "2", True, None])
def test_a_rating_that_is_not_an_integer_is_refused(value: object) -> None:
    rows = [_row("a", verbosity=value), _row("a")]
    with pytest.raises(ImportFormatError, match=r"line 1, column 'verbosity': .* is not an integer"):
        list(parse_file(_jsonl(rows), "helpsteer2", container="jsonl"))


def test_a_missing_column_is_named() -> None:
    row = _row("a")
    del row["coherence"]
    with pytest.raises(ImportFormatError, match=r"line 1, column 'coherence': missing column 'coherence'"):
        list(parse_file(_jsonl([row, _row("a")]), "helpsteer2", container="jsonl"))


def test_a_helpsteer3_file_given_as_helpsteer2_says_what_it_looks_like() -> None:
    with pytest.raises(ImportFormatError) as caught:
        list(parse_file(FIXTURES / "helpsteer3.jsonl", "helpsteer2"))
    assert caught.value.column == "prompt"
    assert "missing column 'prompt'" in str(caught.value)
    assert "look like a helpsteer3 file" in str(caught.value)


def test_the_project_attributes_decide_the_rating_columns() -> None:
    rows = [{"prompt": "a", "response": "x", "helpfulness": 4}, {"prompt": "a", "response": "y", "helpfulness": 0}]
    (record,) = parse_file(_jsonl(rows), "helpsteer2", container="jsonl", attributes=["helpfulness"])
    assert record.source_labels == SourceLabels(ratings_1={"helpfulness": 4}, ratings_2={"helpfulness": 0})


def test_disagreement_lists_become_one_annotation_per_annotator_index() -> None:
    (record,) = parse_file(FIXTURES / "helpsteer2_disagreements.jsonl", "helpsteer2-disagreements")
    assert record.source_labels is None
    assert [a.annotator_index for a in record.annotations] == [1, 2, 3]
    assert record.annotations[0] == AnnotationRecord(
        annotator_index=1,
        ratings_1={"helpfulness": 3, "correctness": 4, "coherence": 4, "complexity": 2, "verbosity": 2},
        ratings_2={"helpfulness": 1, "correctness": 2, "coherence": 4, "complexity": 1, "verbosity": 0},
    )
    # Response 2 had only two annotators: the third annotation rates response 1 only.
    assert record.annotations[2].ratings_2 == {}
    assert record.annotations[2].ratings_1["verbosity"] == 1


def test_disagreement_lists_of_different_lengths_in_a_row_are_an_error() -> None:
    row = {"prompt": "a", "response": "x", **{name: [1, 2] for name in ATTRIBUTES}}
    bad = {**row, "verbosity": [1, 2, 3]}
    with pytest.raises(ImportFormatError) as caught:
        list(parse_file(_jsonl([row, bad]), "helpsteer2-disagreements", container="jsonl"))
    assert str(caught.value) == (
        "line 2, column 'verbosity': 3 ratings, but 'helpfulness' has 2 "
        "(expected the same number of annotators in every attribute list)"
    )


def test_a_disagreement_rating_out_of_range_is_an_error() -> None:
    row = {"prompt": "a", "response": "x", **{name: [1, 2] for name in ATTRIBUTES}}
    with pytest.raises(ImportFormatError, match=r"line 1, column 'correctness': value 9"):
        list(parse_file(_jsonl([{**row, "correctness": [1, 9]}, row]), "helpsteer2-disagreements", container="jsonl"))

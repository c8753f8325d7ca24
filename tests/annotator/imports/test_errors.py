from __future__ import annotations

from annotator.imports import ImportFormatError


def test_the_sentence_names_the_line_column_and_expectation() -> None:
    error = ImportFormatError("value 7 is out of range", line=3, column="helpfulness", expected="an integer 0..4")
    assert str(error) == "line 3, column 'helpfulness': value 7 is out of range (expected an integer 0..4)"
    assert error.as_dict() == {
        "message": str(error),
        "line": 3,
        "row": None,
        "column": "helpfulness",
        "expected": "an integer 0..4",
    }


def test_a_row_located_error_says_row() -> None:
    assert str(ImportFormatError("bad", row=12)) == "row 12: bad"

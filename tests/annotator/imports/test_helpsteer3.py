from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from annotator.imports import AnnotationRecord, ImportFormatError, SourceLabels, Turn, parse_file

FIXTURES = Path(__file__).parents[2] / "fixtures" / "formats"


def _first_row() -> dict[str, object]:
    return dict(json.loads((FIXTURES / "helpsteer3.jsonl").read_text(encoding="utf-8").splitlines()[0]))


def _parse(row: dict[str, object]) -> list[object]:
    return list(parse_file(io.BytesIO(json.dumps(row).encode()), "helpsteer3", container="jsonl"))


def test_context_becomes_turns_and_individual_preferences_annotations() -> None:
    first, second = parse_file(FIXTURES / "helpsteer3.jsonl", "helpsteer3", split="validation")
    assert first.turns == (
        Turn("user", "Reverse a list in Python."),
        Turn("assistant", "Use reversed()."),
        Turn("user", "In place?"),
    )
    assert (first.response_1, first.response_2) == ("Use lst.reverse().", "Use lst[::-1].")
    assert first.split == "validation"
    assert (first.domain, first.language, first.metadata) == ("code", "python", {})
    assert first.source_labels == SourceLabels(preference_strength=-2)
    assert first.annotations[1] == AnnotationRecord(
        annotator_index=2, preference_strength=-3, justification="@Response 2 copies the list."
    )
    assert second.turns == (Turn("user", "Bonjour, ça va ?"),)


def test_an_overall_preference_out_of_range_is_an_error() -> None:
    with pytest.raises(ImportFormatError, match=r"line 1, column 'overall_preference': value 5 is out of range"):
        _parse({**_first_row(), "overall_preference": 5})


def test_an_individual_score_out_of_range_is_an_error() -> None:
    row = {**_first_row(), "individual_preference": [{"score": -4, "reasoning": "x"}]}
    with pytest.raises(ImportFormatError, match=r"column 'individual_preference.score': value -4"):
        _parse(row)


def test_a_context_that_does_not_end_with_the_user_is_an_error() -> None:
    row = {**_first_row(), "context": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}
    with pytest.raises(ImportFormatError, match=r"column 'context': the last message is from 'assistant'"):
        _parse(row)


def test_an_unknown_role_is_an_error() -> None:
    row = {**_first_row(), "context": [{"role": "bot", "content": "a"}]}
    with pytest.raises(ImportFormatError, match=r"column 'context.role': unknown role 'bot'"):
        _parse(row)


def test_a_helpsteer2_preference_file_given_as_helpsteer3_is_recognised() -> None:
    with pytest.raises(ImportFormatError, match="look like a helpsteer2-preference file"):
        list(parse_file(FIXTURES / "helpsteer2_preference.jsonl", "helpsteer3"))

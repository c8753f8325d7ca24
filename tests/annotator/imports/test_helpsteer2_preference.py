from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from annotator.imports import AnnotationRecord, ImportFormatError, SourceLabels, parse_file

FIXTURES = Path(__file__).parents[2] / "fixtures" / "formats"


def _first_row() -> dict[str, object]:
    line = (FIXTURES / "helpsteer2_preference.jsonl").read_text(encoding="utf-8").splitlines()[0]
    return dict(json.loads(line))


def _parse(row: dict[str, object]) -> list[object]:
    return list(parse_file(io.BytesIO(json.dumps(row).encode()), "helpsteer2-preference", container="jsonl"))


def test_a_row_becomes_source_labels_annotations_and_metadata() -> None:
    first, second = parse_file(FIXTURES / "helpsteer2_preference.jsonl", "helpsteer2-preference")
    assert first.split == "train"
    assert second.split == "validation"  # the release writes "val"
    assert first.source_labels == SourceLabels(
        preference_strength=-2,
        justification=(
            "@Response 1 is better than @Response 2 because it is precise. "
            "It defines the term correctly. @Response 2 is vague."
        ),
    )
    assert first.metadata["preference_statement"] == "@Response 1 is better than @Response 2 because it is precise."
    kept = first.metadata["three_most_similar_preferences"]
    assert isinstance(kept, list)
    assert [k["strength"] for k in kept] == [-2, -2, -3]
    assert [a.preference_strength for a in first.annotations] == [-2, -2, -3, None]
    assert second.source_labels is not None
    assert second.source_labels.justification == "@Response 1 is about the same as @Response 2."


def test_strength_minus_100_is_not_ratable_never_a_scale_point() -> None:
    (first, _) = parse_file(FIXTURES / "helpsteer2_preference.jsonl", "helpsteer2-preference")
    assert first.annotations[3] == AnnotationRecord(
        annotator_index=4, preference_strength=None, not_ratable=True, justification="Neither response is in English."
    )


@pytest.mark.parametrize("value", [4, -4, -100])
def test_an_aggregated_strength_outside_minus3_to_3_is_an_error(value: int) -> None:
    with pytest.raises(ImportFormatError) as caught:
        _parse({**_first_row(), "preference_strength": value})
    assert str(caught.value) == (
        f"line 1, column 'preference_strength': value {value} is out of range (expected an integer -3..3)"
    )


def test_an_individual_strength_outside_the_scale_is_an_error() -> None:
    row = _first_row()
    row["all_preferences_unprocessed"] = [{"strength": 5, "justification": "x"}]
    with pytest.raises(ImportFormatError, match=r"column 'all_preferences_unprocessed.strength': value 5"):
        _parse(row)


def test_an_unknown_split_is_an_error() -> None:
    with pytest.raises(ImportFormatError, match=r"column 'split': unknown split 'test'"):
        _parse({**_first_row(), "split": "test"})


def test_a_missing_column_is_named() -> None:
    row = _first_row()
    del row["preference_elaboration"]
    with pytest.raises(ImportFormatError, match=r"missing column 'preference_elaboration'"):
        _parse(row)

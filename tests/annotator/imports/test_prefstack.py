from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from annotator.imports import ImportFormatError, SourceLabels, Turn, parse_file

FIXTURES = Path(__file__).parents[2] / "fixtures" / "formats"


def _parse(row: dict[str, object], **options: object) -> list[object]:
    data = io.BytesIO(json.dumps(row).encode())
    return list(parse_file(data, "prefstack", container="jsonl", **options))  # type: ignore[arg-type]


def test_the_documented_fields_map_onto_the_record() -> None:
    first, second = parse_file(FIXTURES / "prefstack.jsonl", "prefstack", split="validation")
    assert first.turns == (Turn("user", "What is 2+2?"),)
    assert first.split == "train"  # the row's own split wins over the default
    assert first.source_id == "demo/1"
    assert first.metadata == {"domain": "math"}
    assert first.source_labels == SourceLabels(
        ratings_1={"helpfulness": 3, "correctness": 4},
        ratings_2={"helpfulness": 4},
        preference_strength=1,
        justification="@Response 2 explains.",
    )
    assert second.turns == (Turn("system", "Be brief."), Turn("user", "Capital of France?"))
    assert second.split == "validation"
    assert second.source_labels is None


def test_an_unknown_attribute_is_an_error() -> None:
    row = {"prompt": "p", "response_1": "a", "response_2": "b", "ratings": {"response_1": {"humour": 2}}}
    with pytest.raises(ImportFormatError, match=r"column 'ratings.response_1.humour': unknown attribute 'humour'"):
        _parse(row)


def test_a_rating_off_the_project_scale_is_an_error() -> None:
    row = {"prompt": "p", "response_1": "a", "response_2": "b", "ratings": {"response_2": {"helpfulness": 6}}}
    with pytest.raises(ImportFormatError, match=r"expected an integer 1\.\.5"):
        _parse(row, scale=(1, 5))


def test_a_strength_out_of_range_is_an_error() -> None:
    with pytest.raises(ImportFormatError, match=r"column 'preference_strength': value -5"):
        _parse({"prompt": "p", "response_1": "a", "response_2": "b", "preference_strength": -5})


def test_a_missing_response_is_named() -> None:
    with pytest.raises(ImportFormatError, match=r"line 1, column 'response_2': missing column 'response_2'"):
        _parse({"prompt": "p", "response_1": "a"})


def test_flat_csv_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "pairs.csv"
    path.write_text(
        "prompt,response_1,response_2,split,preference_strength,justification\nQ,A,B,train,-2,A is right.\nR,C,D,,,\n",
        encoding="utf-8",
    )
    first, second = parse_file(path, "prefstack")
    assert first.source_labels == SourceLabels(preference_strength=-2, justification="A is right.")
    assert (second.split, second.source_labels) == (None, None)

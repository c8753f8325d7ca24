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


def test_a_source_id_longer_than_the_column_is_an_error() -> None:
    row = {"prompt": "p", "response_1": "a", "response_2": "b", "source_id": "x" * 201}
    with pytest.raises(ImportFormatError, match=r"column 'source_id': 201 characters, over the limit of 200"):
        _parse(row)
    assert _parse({**row, "source_id": "x" * 200})[0].source_id == "x" * 200  # type: ignore[attr-defined]
    assert _parse({**row, "source_id": 12})[0].source_id == "12"  # type: ignore[attr-defined]


@pytest.mark.parametrize("number", [2**63, 2**64, -(2**63) - 1, 10**100])
def test_a_metadata_integer_past_64_bits_is_an_error(number: int) -> None:
    row = {"prompt": "p", "response_1": "a", "response_2": "b", "metadata": {"ids": [1, {"n": number}]}}
    with pytest.raises(ImportFormatError, match=r"metadata holds an integer that does not fit in 64 bits"):
        _parse(row)


def test_metadata_at_the_64_bit_limits_is_kept() -> None:
    metadata = {"low": -(2**63), "high": 2**63 - 1, "flag": True}
    row = {"prompt": "p", "response_1": "a", "response_2": "b", "metadata": metadata}
    assert _parse(row)[0].metadata == metadata  # type: ignore[attr-defined]


def test_deeply_nested_metadata_is_an_error() -> None:
    nested: object = "leaf"
    for _ in range(40):
        nested = {"a": nested}
    row = {"prompt": "p", "response_1": "a", "response_2": "b", "metadata": nested}
    with pytest.raises(ImportFormatError, match=r"metadata is nested more than 32 levels deep"):
        _parse(row)


def test_domain_and_language_are_the_prompts_own_fields() -> None:
    row = {"prompt": "p", "response_1": "a", "response_2": "b", "domain": " code ", "language": "sql"}
    (record,) = _parse(row)
    assert (record.domain, record.language, record.metadata) == ("code", "sql", {})  # type: ignore[attr-defined]
    (bare,) = _parse({"prompt": "p", "response_1": "a", "response_2": "b"})
    assert (bare.domain, bare.language) == ("", "")  # type: ignore[attr-defined]


@pytest.mark.parametrize("value", ["x" * 65, "co\x00de", 3])
def test_a_domain_that_is_no_name_is_an_error(value: object) -> None:
    row = {"prompt": "p", "response_1": "a", "response_2": "b", "domain": value}
    with pytest.raises(ImportFormatError, match=r"column 'domain'"):
        _parse(row)

"""parse(write(items)) gives the items' comparisons and values back."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from annotator.exports import FileType, SnapshotItem, write_export
from annotator.imports import ComparisonRecord, parse_file


def _parse_all(paths: list[Path], fmt: str, splits: list[str]) -> list[ComparisonRecord]:
    records: list[ComparisonRecord] = []
    for path, split in zip(paths, splits, strict=True):
        records += parse_file(path, fmt, split=split)  # type: ignore[arg-type]
    return records


@pytest.mark.parametrize("file_type", ["jsonl", "jsonl.gz", "parquet"])
def test_helpsteer2_round_trip(items: list[SnapshotItem], tmp_path: Path, file_type: FileType) -> None:
    # The HelpSteer2 format has no missing ratings: fill the one gap of the sample.
    items = [replace(items[0], ratings_2={**items[0].ratings_2, "verbosity": 0}), items[1]]
    written = write_export(items, "helpsteer2", tmp_path, file_type=file_type)
    records = _parse_all([f.path for f in written], "helpsteer2", ["train", "validation"])
    assert len(records) == len(items)
    for item, record in zip(items, records, strict=True):
        assert record.turns == item.turns
        assert (record.response_1, record.response_2, record.split) == (item.response_1, item.response_2, item.split)
        assert record.source_labels is not None
        assert record.source_labels.ratings_1 == item.ratings_1
        assert record.source_labels.ratings_2 == item.ratings_2


@pytest.mark.parametrize("file_type", ["jsonl", "parquet"])
def test_helpsteer2_preference_round_trip(items: list[SnapshotItem], tmp_path: Path, file_type: FileType) -> None:
    written = write_export(items, "helpsteer2-preference", tmp_path, file_type=file_type, split_files=False)
    records = list(parse_file(written[0].path, "helpsteer2-preference"))
    assert len(records) == len(items)
    for item, record in zip(items, records, strict=True):
        assert record.turns == item.turns
        assert (record.response_1, record.response_2, record.split) == (item.response_1, item.response_2, item.split)
        assert record.source_labels is not None
        assert record.source_labels.preference_strength == item.preference_strength
        assert record.source_labels.justification == item.justification
        assert record.metadata["three_most_similar_preferences"] == [
            {"statement": k.statement, "elaboration": k.elaboration, "strength": k.strength}
            for k in item.kept_preferences
        ]
        exported = [a for a in item.annotations if a.preference_strength is not None or a.not_ratable]
        assert [(a.preference_strength, a.not_ratable, a.justification) for a in record.annotations] == [
            (a.preference_strength, a.not_ratable, a.justification) for a in exported
        ]


def test_helpsteer3_round_trip(items: list[SnapshotItem], tmp_path: Path) -> None:
    written = write_export(items, "helpsteer3", tmp_path, file_type="jsonl")
    records = _parse_all([f.path for f in written], "helpsteer3", ["train", "validation"])
    assert [r.turns for r in records] == [i.turns for i in items]
    assert [r.source_labels.preference_strength for r in records if r.source_labels] == [-2, 0]
    assert (records[0].domain, records[0].language, records[0].metadata) == ("general", "english", {})

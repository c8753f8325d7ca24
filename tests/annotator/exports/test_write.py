"""Parquet and gzip output: explicit schemas, row groups, reading back with pyarrow and ``datasets``."""

from __future__ import annotations

import gzip
import json
from dataclasses import replace
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from test_formats import EXPECTED

from annotator.exports import (
    EXPORT_FORMATS,
    FORMAT_SPECS,
    ExportFormat,
    ExportTarget,
    SnapshotItem,
    write_export,
    write_exports,
)
from annotator.exports.sinks import file_sha256

ATTRIBUTES = ("helpfulness", "correctness", "coherence", "complexity", "verbosity")


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_parquet_has_the_explicit_schema_and_the_same_rows_as_jsonl(
    fmt: ExportFormat, items: list[SnapshotItem], tmp_path: Path
) -> None:
    written = write_export(items, fmt, tmp_path, file_type="parquet")
    for f in written:
        assert f.split is not None
        table = pq.read_table(f.path)
        assert table.schema.equals(FORMAT_SPECS[fmt].schema(ATTRIBUTES, split_column=False))
        assert table.to_pylist() == EXPECTED[fmt][f.split]


def test_parquet_is_written_in_row_groups(items: list[SnapshotItem], tmp_path: Path) -> None:
    many = [replace(items[0], comparison_id=f"c{i}") for i in range(23)]
    (train, validation) = write_export(many, "helpsteer2", tmp_path, row_group_size=10)
    assert train.rows == 46
    assert train.row_groups == 5  # 10 + 10 + 10 + 10 + 6 rows: never more than 10 rows held in memory
    metadata = pq.ParquetFile(train.path).metadata
    assert metadata.num_row_groups == 5
    assert [metadata.row_group(i).num_rows for i in range(5)] == [10, 10, 10, 10, 6]
    assert (validation.rows, validation.row_groups) == (0, 0)
    assert pq.read_table(validation.path).num_rows == 0


def test_gzip_jsonl_is_reproducible_byte_for_byte(items: list[SnapshotItem], tmp_path: Path) -> None:
    first = write_export(items, "helpsteer2-preference", tmp_path / "a", file_type="jsonl.gz")
    second = write_export(items, "helpsteer2-preference", tmp_path / "b", file_type="jsonl.gz")
    assert [f.sha256 for f in first] == [f.sha256 for f in second]
    assert first[0].sha256 == file_sha256(first[0].path)
    assert first[0].relative_path == "helpsteer2-preference/train.jsonl.gz"
    lines = gzip.decompress(first[0].path.read_bytes()).decode().splitlines()
    assert [json.loads(line) for line in lines] == EXPECTED["helpsteer2-preference"]["train"]


def test_several_targets_are_written_in_one_pass(items: list[SnapshotItem], tmp_path: Path) -> None:
    consumed = iter(items)  # a one-shot iterator, as from a database cursor
    written = write_exports(
        consumed,
        tmp_path,
        targets=[ExportTarget("helpsteer2", "parquet"), ExportTarget("trl-preference", "jsonl")],
    )
    assert [(f.relative_path, f.rows) for f in written] == [
        ("helpsteer2/train.parquet", 2),
        ("helpsteer2/validation.parquet", 2),
        ("trl-preference/train.jsonl", 1),
        ("trl-preference/validation.jsonl", 0),
    ]


def test_an_item_in_an_unexpected_split_is_refused(items: list[SnapshotItem], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="c2 is in split 'validation'"):
        write_export(items, "helpsteer2", tmp_path, splits=("train",))


def test_datasets_loads_the_parquet_with_the_documented_features(items: list[SnapshotItem], tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    write_export(items, "helpsteer2-preference", tmp_path / "out")
    write_export(items, "trl-preference-conversational", tmp_path / "out")
    write_export(items, "helpsteer2", tmp_path / "out")
    cache = str(tmp_path / "cache")

    preference = datasets.load_dataset(
        "parquet", data_files=str(tmp_path / "out/helpsteer2-preference/train.parquet"), split="train", cache_dir=cache
    )
    assert preference.column_names == list(EXPECTED["helpsteer2-preference"]["train"][0])
    assert preference.features["preference_strength"].dtype == "int32"
    assert preference[0]["all_preferences_unprocessed"][2] == {"strength": -100, "justification": "Not English."}

    ratings = datasets.load_dataset(
        "parquet",
        data_files={
            "train": str(tmp_path / "out/helpsteer2/train.parquet"),
            "validation": str(tmp_path / "out/helpsteer2/validation.parquet"),
        },
        cache_dir=cache,
    )
    assert ratings.num_rows == {"train": 2, "validation": 2}
    assert ratings["train"].column_names == ["prompt", "response", *ATTRIBUTES]
    assert ratings["train"][1]["verbosity"] is None

    trl = datasets.load_dataset(
        "parquet",
        data_files=str(tmp_path / "out/trl-preference-conversational/train.parquet"),
        split="train",
        cache_dir=cache,
    )
    # TRL's conversational preference type: prompt / chosen / rejected as lists of {role, content}; margin a float.
    assert {"prompt", "chosen", "rejected", "margin"} <= set(trl.column_names)
    assert trl[0]["chosen"] == [{"role": "assistant", "content": "C# is a language."}]
    assert trl[0]["prompt"][-1] == {"role": "user", "content": "c#"}
    assert trl.features["margin"].dtype == "float64"


@pytest.mark.parametrize("batch_size", [1, 2, 1024])
def test_the_batch_size_changes_no_byte_of_any_file(
    batch_size: int, items: list[SnapshotItem], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    many = [replace(item, comparison_id=f"{item.comparison_id}-{i}") for i in range(7) for item in items]
    targets = [ExportTarget(fmt, file_type) for fmt in EXPORT_FORMATS for file_type in ("parquet", "jsonl.gz")]
    expected = write_exports(many, tmp_path / "one-pass", targets=targets, split_files=False, row_group_size=3)
    monkeypatch.setattr("annotator.exports.write.BATCH_SIZE", batch_size)
    written = write_exports(many, tmp_path / "batched", targets=targets, split_files=False, row_group_size=3)
    assert [(f.relative_path, f.rows, f.row_groups, f.sha256) for f in written] == [
        (f.relative_path, f.rows, f.row_groups, f.sha256) for f in expected
    ]
    (helpsteer2,) = (f for f in written if f.relative_path == "helpsteer2/data.parquet")
    metadata = pq.ParquetFile(helpsteer2.path).metadata
    assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [3, 3, 3, 3, 3, 3, 3, 3, 3, 1]
    # Splits interleave across batches: rows stay in item order.
    assert pq.read_table(helpsteer2.path, columns=["split"]).column(0).to_pylist() == [
        split for _ in range(7) for split in ("train", "train", "validation", "validation")
    ]

"""The canonical items file: items go in as columns and come back as the same items, in the same bytes twice."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from annotator.exports import ExportTarget, SnapshotItem
from annotator.exports.canonical import ItemsWriter, items_schema, items_to_columns, read_items
from annotator.exports.write import write_exports_from_canonical
from tests.annotator.exports.conftest import ATTRIBUTES, sample_items


def _complete(item: SnapshotItem) -> SnapshotItem:
    """The item with every attribute present in every rating dict (None where it was absent)."""

    def full(ratings: object) -> dict[str, int | None]:
        return {a: ratings.get(a) for a in ATTRIBUTES}  # type: ignore[attr-defined]

    return dataclasses.replace(
        item,
        ratings_1=full(item.ratings_1),
        ratings_2=full(item.ratings_2),
        annotations=tuple(
            dataclasses.replace(a, ratings_1=full(a.ratings_1), ratings_2=full(a.ratings_2)) for a in item.annotations
        ),
    )


def _write(path: Path, batches: list[list[SnapshotItem]]) -> str:
    writer = ItemsWriter(path, ATTRIBUTES)
    for batch in batches:
        writer.write(items_to_columns(batch, ATTRIBUTES))
    return writer.close()


def test_items_come_back_as_written(tmp_path: Path) -> None:
    items = sample_items()
    _write(tmp_path / "items.parquet", [items, items[:1], []])
    back = list(read_items(tmp_path / "items.parquet", batch_size=2))
    assert back == [_complete(i) for i in [*items, items[0]]]
    assert pq.ParquetFile(tmp_path / "items.parquet").metadata.num_row_groups == 2  # one per non-empty write


def test_same_items_same_bytes_and_hash(tmp_path: Path) -> None:
    first = _write(tmp_path / "a.parquet", [sample_items()])
    second = _write(tmp_path / "b.parquet", [sample_items()])
    assert first == second
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    changed = dataclasses.replace(sample_items()[0], justification="Other.")
    assert _write(tmp_path / "c.parquet", [[changed, sample_items()[1]]]) != first


def test_schema_keeps_attribute_order_and_nullable_int8_ratings() -> None:
    schema = items_schema(["b", "a"])
    assert schema.names[5:9] == ["r1_b", "r1_a", "r2_b", "r2_a"]
    assert schema.field("r1_b").type == pa.int8()
    assert schema.field("preference_strength").nullable


def test_other_parquet_files_are_refused(tmp_path: Path) -> None:
    pq.write_table(pa.table({"x": [1]}), tmp_path / "other.parquet")
    with pytest.raises(ValueError, match="Prefstack items"):
        list(read_items(tmp_path / "other.parquet"))


def test_out_of_range_rating_raises_instead_of_wrapping(tmp_path: Path) -> None:
    columns = items_to_columns(sample_items()[:1], ATTRIBUTES)
    columns.ratings_1["helpfulness"][:] = np.array([300.0])
    writer = ItemsWriter(tmp_path / "items.parquet", ATTRIBUTES)
    with pytest.raises(ValueError, match="int8"):
        writer.write(columns)
    writer.close()


def test_a_version_2_file_without_the_used_flags_reads_as_all_used(tmp_path: Path) -> None:
    """Snapshots built before the ``used_*`` flags still read and export: every annotation counts as used."""
    items = [
        dataclasses.replace(
            sample_items()[0], annotations=(dataclasses.replace(sample_items()[0].annotations[1], used_1=False),)
        )
    ]
    path = tmp_path / "items.parquet"
    writer = ItemsWriter(path, ATTRIBUTES)
    writer.write(items_to_columns(items, ATTRIBUTES))
    writer.close()
    table = pq.read_table(path)
    notes = table.column("annotations").combine_chunks()
    struct = notes.values
    keep = [i for i in range(struct.type.num_fields) if not struct.type.field(i).name.startswith("used_")]
    old_struct = pa.StructArray.from_arrays(
        [struct.field(i) for i in keep], fields=[struct.type.field(i) for i in keep]
    )
    old_notes = pa.ListArray.from_arrays(notes.offsets, old_struct)
    metadata = {b"prefstack": table.schema.metadata[b"prefstack"].replace(b'"version":3', b'"version":2')}
    old = table.set_column(table.schema.get_field_index("annotations"), "annotations", old_notes)
    old_path = tmp_path / "old.parquet"
    pq.write_table(old.replace_schema_metadata(metadata), old_path)

    (item,) = read_items(old_path)
    assert [(a.used_1, a.used_2, a.used_preference) for a in item.annotations] == [(True, True, True)]
    (written,) = write_exports_from_canonical(
        old_path, tmp_path / "out", targets=[ExportTarget("helpsteer2-disagreements", "parquet")], split_files=False
    )
    assert [r["helpfulness"] for r in pq.read_table(written.path).to_pylist()] == [[3], []]

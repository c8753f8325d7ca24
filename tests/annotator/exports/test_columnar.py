"""Exports from the canonical file's columns: the same files, byte for byte, as exports from SnapshotItem objects."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from annotator.exports import EXPORT_FORMATS, ExportTarget, IndividualAnnotation, SnapshotItem, write_exports
from annotator.exports.canonical import ItemsWriter, items_to_columns, read_items
from annotator.exports.columnar import helpsteer2_prompts
from annotator.exports.items import JudgeDraftValues
from annotator.exports.judge_columns import judge_pair_column_names
from annotator.exports.write import write_exports_from_canonical
from annotator.imports import Turn
from tests.annotator.exports.conftest import ATTRIBUTES, sample_items


def _items() -> list[SnapshotItem]:
    """The shared samples plus the cases the columns must handle: no label but ratings, a response-2-only rater,
    a system turn, a strength without ratings."""
    first, second = sample_items()
    return [
        first,
        second,
        dataclasses.replace(first, comparison_id="c3", preference_strength=None, justification=None),
        dataclasses.replace(
            second,
            comparison_id="c4",
            turns=(Turn("system", "Be brief."), Turn("user", "Hi")),
            ratings_1={},
            ratings_2={},
            preference_strength=3,
            annotations=(IndividualAnnotation("a2", {}, {"verbosity": 2}, 3, False, "Two. Better."),),
        ),
        dataclasses.replace(first, comparison_id="c5", split="validation", preference_strength=1, annotations=()),
        # The rule left a2 out of response 1's ratings and of the preference, a1 out of response 2's.
        dataclasses.replace(
            first,
            comparison_id="c6",
            annotations=(
                dataclasses.replace(first.annotations[0], used_2=False),
                dataclasses.replace(first.annotations[1], used_1=False, used_preference=False),
                first.annotations[2],
            ),
        ),
    ]


@pytest.fixture
def canonical(tmp_path: Path) -> Path:
    path = tmp_path / "items.parquet"
    writer = ItemsWriter(path, ATTRIBUTES)
    items = _items()
    writer.write(items_to_columns(items[:3], ATTRIBUTES))
    writer.write(items_to_columns(items[3:] * 3, ATTRIBUTES))
    writer.close()
    return path


@pytest.mark.parametrize("file_type", ["parquet", "jsonl"])
@pytest.mark.parametrize("split_files", [True, False])
def test_same_files_as_from_items(canonical: Path, tmp_path: Path, file_type: str, split_files: bool) -> None:
    targets = [ExportTarget(fmt, file_type) for fmt in EXPORT_FORMATS]  # type: ignore[arg-type]
    expected = write_exports(
        read_items(canonical), tmp_path / "items", targets=targets, split_files=split_files, attributes=ATTRIBUTES,
        row_group_size=3,
    )  # fmt: skip
    written = write_exports_from_canonical(
        canonical, tmp_path / "columns", targets=targets, split_files=split_files, row_group_size=3
    )
    assert [(f.relative_path, f.rows, f.row_groups, f.sha256) for f in written] == [
        (f.relative_path, f.rows, f.row_groups, f.sha256) for f in expected
    ]
    assert sum(f.rows for f in written) > 0


def test_formats_leave_out_what_they_should(canonical: Path, tmp_path: Path) -> None:
    targets = [ExportTarget(fmt, "parquet") for fmt in EXPORT_FORMATS]
    files = {f.fmt: f for f in write_exports_from_canonical(canonical, tmp_path, targets=targets, split_files=False)}
    trl = pq.read_table(files["trl-preference"].path).to_pylist()
    assert [r["id"] for r in trl] == ["c1", *["c4", "c5", "c6"] * 3]  # the tie c2 and c3 (none) left out
    assert trl[1]["chosen"] == "Four" and trl[1]["margin"] == 3.0  # positive strength: response 2 chosen
    assert files["helpsteer2"].rows == 2 * 9  # c1, c2, c3, c5 and c6 (three times); c4 has no aggregated rating
    used = pq.read_table(files["helpsteer2-disagreements"].path).to_pylist()
    every = pq.read_table(files["helpsteer2-disagreements-all"].path).to_pylist()
    assert [r["helpfulness"] for r in used[-2:]] == [[4], []]  # c6: a2 left out of response 1, a1 of response 2
    assert [r["helpfulness"] for r in every[-2:]] == [[4, 3], [1]]


def test_helpsteer2_prompt_renders_multi_turn_prompts(canonical: Path) -> None:
    batch = next(pq.ParquetFile(canonical).iter_batches())
    prompts = helpsteer2_prompts(batch.column("turns")).to_pylist()
    assert prompts[1] == "2+2?"
    assert prompts[0] == "Hi\n<extra_id_1>Assistant\nHello!\n<extra_id_1>User\nc#"


def test_judge_columns_are_the_same_from_columns_as_from_items(tmp_path: Path) -> None:
    """A canonical file cut with judge drafts: its judge columns come back on the items, and the trainer-ready
    formats carry them the same way from either path (undrafted items: nulls)."""
    draft = JudgeDraftValues("judge-7b", 2, 0.5, dict.fromkeys(ATTRIBUTES, 4), dict.fromkeys(ATTRIBUTES, 1))
    items = [dataclasses.replace(item, judge=draft if i % 2 else None) for i, item in enumerate(_items())]
    path = tmp_path / "items.parquet"
    writer = ItemsWriter(path, ATTRIBUTES, judge=True)
    writer.write(items_to_columns(items, ATTRIBUTES))
    writer.close()
    assert [item.judge for item in read_items(path)] == [item.judge for item in items]

    targets = [ExportTarget(fmt, "parquet") for fmt in EXPORT_FORMATS]
    expected = write_exports(read_items(path), tmp_path / "items", targets=targets, attributes=ATTRIBUTES, judge=True)
    written = write_exports_from_canonical(path, tmp_path / "columns", targets=targets)
    assert [(f.relative_path, f.sha256) for f in written] == [(f.relative_path, f.sha256) for f in expected]
    by_path = {f.relative_path: f for f in written}
    trl = pq.read_table(by_path["trl-preference/train.parquet"].path)
    assert trl.column_names[-len(judge_pair_column_names(ATTRIBUTES)) :] == judge_pair_column_names(ATTRIBUTES)
    assert set(trl.column("judge_model").to_pylist()) == {"judge-7b", None}
    plain = pq.read_table(by_path["helpsteer2/train.parquet"].path)
    assert not [name for name in plain.column_names if name.startswith("judge")]

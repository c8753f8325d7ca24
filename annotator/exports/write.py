"""Writing snapshot items to files: one pass over the items, every requested format and file type at once.

Items are read in batches; each format's columns are built once per batch and shared by every file type of that
format, and what formats share (the HelpSteer2 prompt string, message lists, rating columns) once per item."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from annotator.domain import HELPSTEER2_ATTRIBUTES, Split
from annotator.exports.canonical import items_attributes, items_from_batch, items_model_made_columns, read_item_batches
from annotator.exports.columnar import COLUMNAR_FORMATS, format_table
from annotator.exports.formats import FORMAT_SPECS, ExportFormat, ItemBatch, format_columns
from annotator.exports.items import SnapshotItem
from annotator.exports.sinks import (
    DEFAULT_ROW_GROUP_SIZE,
    BackgroundWriter,
    JsonlSink,
    ParquetSink,
    ParquetTableSink,
    Sink,
    files_sha256,
    release_freed_memory,
)

FileType = Literal["jsonl", "jsonl.gz", "parquet"]
SPLITS: tuple[Split, ...] = ("train", "validation")
ALL_SPLITS_STEM = "data"
# Items read and turned into columns at a time: big enough that per-batch costs vanish, small enough to stay flat.
BATCH_SIZE = 1024


@dataclass(frozen=True, slots=True)
class ExportTarget:
    """One file family to write: a format in a file type."""

    fmt: ExportFormat
    file_type: FileType = "parquet"


@dataclass(frozen=True, slots=True)
class WrittenFile:
    """A file an export wrote.

    Attributes
    ----------
    path
        Where it is on disk.
    relative_path
        Its POSIX path relative to the output folder (``helpsteer2/train.parquet``).
    fmt, file_type
        What it holds.
    split
        Its split, or None when all splits share the file (with a ``split`` column).
    rows
        Number of data rows.
    row_groups
        Number of Parquet row groups (None for JSONL).
    size_bytes, sha256
        Size and SHA-256 hex digest of the finished file.
    """

    path: Path
    relative_path: str
    fmt: ExportFormat
    file_type: FileType
    split: Split | None
    rows: int
    row_groups: int | None
    size_bytes: int
    sha256: str


def export_relative_path(fmt: ExportFormat, file_type: FileType, split: Split | None) -> str:
    """Where a file goes inside an export folder: ``<format>/<split>.<file type>`` (``data`` for all splits)."""
    return f"{fmt}/{split or ALL_SPLITS_STEM}.{file_type}"


def write_exports(
    items: Iterable[SnapshotItem],
    out_dir: str | os.PathLike[str],
    *,
    targets: Sequence[ExportTarget],
    split_files: bool = True,
    splits: Sequence[Split] = SPLITS,
    attributes: Sequence[str] = HELPSTEER2_ATTRIBUTES,
    row_group_size: int = DEFAULT_ROW_GROUP_SIZE,
    judge: bool = False,
) -> list[WrittenFile]:
    """Write snapshot items in several formats and file types in one pass, streaming.

    Parameters
    ----------
    items
        The snapshot's items, read once (a generator over a database cursor is fine).
    out_dir
        Output folder; files go to ``<format>/<split>.<file type>`` beneath it (see :func:`export_relative_path`).
    targets
        Which formats in which file types.
    split_files
        True: one file per split in ``splits`` (always written, possibly with no rows, so paths are predictable).
        False: one ``data`` file per target, with a ``split`` column added to formats that lack one.
    splits
        The splits to expect; an item in another split is an error.
    attributes
        Attribute columns, in order.
    row_group_size
        Rows per Parquet row group (the most rows held in memory per Parquet file).
    judge
        Add the LLM judge's model-made columns (each item's ``judge``, null where None) to the formats that carry
        them (TRL, regression): for a snapshot cut with judge drafts.

    Returns
    -------
    list of WrittenFile
        In ``targets`` order, then split order.
    """
    root = Path(out_dir)
    attributes = tuple(attributes)
    files = _ExportFiles(root, attributes, split_files, splits, row_group_size, judge)
    try:
        sinks = files.open(targets, columnar=[False] * len(targets))
        known = frozenset(splits)
        for chunk in _chunks(items, BATCH_SIZE):
            for item in chunk:
                if item.split not in known:
                    raise ValueError(f"comparison {item.comparison_id} is in split {item.split!r}, not one of {splits}")
            groups: dict[Split | None, list[SnapshotItem]] = {}
            if split_files:
                for item in chunk:
                    groups.setdefault(item.split, []).append(item)
            else:
                groups[None] = chunk
            for split, group in groups.items():
                batch = ItemBatch(group, attributes, judge=judge)
                for index, target in enumerate(targets):
                    built = format_columns(batch, target.fmt)
                    columns = built.columns
                    if split is None and not FORMAT_SPECS[target.fmt].native_split:
                        columns = {**columns, "split": [group[i].split for i in built.origins]}
                    sink = sinks[(index, split)]
                    assert not isinstance(sink, ParquetTableSink)  # items go to the row sinks
                    sink.write(columns, built.rows)
    finally:
        files.close()
    return _written_files(files.opened, root)


def write_export(
    items: Iterable[SnapshotItem],
    fmt: ExportFormat,
    out_dir: str | os.PathLike[str],
    *,
    file_type: FileType = "parquet",
    split_files: bool = True,
    splits: Sequence[Split] = SPLITS,
    attributes: Sequence[str] = HELPSTEER2_ATTRIBUTES,
    row_group_size: int = DEFAULT_ROW_GROUP_SIZE,
    judge: bool = False,
) -> list[WrittenFile]:
    """Write one format in one file type; see :func:`write_exports` for the parameters."""
    return write_exports(
        items,
        out_dir,
        targets=[ExportTarget(fmt, file_type)],
        split_files=split_files,
        splits=splits,
        attributes=attributes,
        row_group_size=row_group_size,
        judge=judge,
    )


def write_exports_from_canonical(
    items_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    targets: Sequence[ExportTarget],
    split_files: bool = True,
    splits: Sequence[Split] = SPLITS,
    row_group_size: int = DEFAULT_ROW_GROUP_SIZE,
) -> list[WrittenFile]:
    """:func:`write_exports` of a canonical items file (:mod:`annotator.exports.canonical`), the same files.

    Parquet files of the formats in :data:`~annotator.exports.columnar.COLUMNAR_FORMATS` are built from the
    file's Arrow columns (:func:`~annotator.exports.columnar.format_table`); everything else from
    :class:`SnapshotItem` objects, made only when something needs them. The attributes are the file's, and so are
    the LLM judge's columns: a file cut with judge drafts gives them to the formats that carry them.
    """
    path = Path(items_path)
    schema = pq.read_schema(path)
    attributes = items_attributes(schema)
    judge = bool(items_model_made_columns(schema))
    root = Path(out_dir)
    # JSON lines are written from Python values either way; from items that is the faster way to get them.
    columnar = [target.fmt in COLUMNAR_FORMATS and target.file_type == "parquet" for target in targets]
    files = _ExportFiles(root, attributes, split_files, splits, row_group_size, judge)
    try:
        sinks = files.open(targets, columnar=columnar)
        known = pa.array(list(splits), pa.string())
        for batch in read_item_batches(path, batch_size=row_group_size):
            outside = pc.invert(pc.is_in(batch.column("split"), value_set=known))
            if pc.any(outside).as_py():
                first = pc.filter(batch, outside).slice(0, 1).to_pylist()[0]
                raise ValueError(
                    f"comparison {first['comparison_id']} is in split {first['split']!r}, not one of {splits}"
                )
            groups: dict[Split | None, pa.RecordBatch] = {}
            if split_files:
                for name in splits:
                    groups[name] = batch.filter(pc.equal(batch.column("split"), name))
            else:
                groups[None] = batch
            for split, group in groups.items():
                if not group.num_rows:
                    continue
                for index, target in enumerate(targets):
                    if columnar[index]:
                        built = format_table(group, target.fmt, attributes, judge=judge)
                        table = built.table
                        if split is None and not FORMAT_SPECS[target.fmt].native_split:
                            table = table.append_column(
                                "split", group.column("split").take(pa.array(built.origins, pa.int64()))
                            )
                        _write_table(sinks[(index, split)], table)
                if all(columnar):
                    continue
                # The other formats, from items made a batch at a time.
                for start in range(0, group.num_rows, BATCH_SIZE):
                    items = items_from_batch(group.slice(start, BATCH_SIZE), attributes)
                    item_batch = ItemBatch(items, attributes, judge=judge)
                    for index, target in enumerate(targets):
                        if columnar[index]:
                            continue
                        built_items = format_columns(item_batch, target.fmt)
                        columns = built_items.columns
                        if split is None and not FORMAT_SPECS[target.fmt].native_split:
                            columns = {**columns, "split": [items[i].split for i in built_items.origins]}
                        sink = sinks[(index, split)]
                        assert not isinstance(sink, ParquetTableSink)  # items go to the row sinks
                        sink.write(columns, built_items.rows)
            release_freed_memory()
    finally:
        files.close()
    return _written_files(files.opened, root)


class _ExportFiles:
    """The files of one export, one per (target, split): opened together, closed together (on error too)."""

    def __init__(
        self,
        root: Path,
        attributes: Sequence[str],
        split_files: bool,
        splits: Sequence[Split],
        row_group_size: int,
        judge: bool,
    ) -> None:
        self.root = root
        self.attributes = attributes
        self.judge = judge
        self.split_files = split_files
        self.file_splits: tuple[Split | None, ...] = tuple(splits) if split_files else (None,)
        self.row_group_size = row_group_size
        self.background = BackgroundWriter()
        self.opened: list[tuple[ExportTarget, Split | None, Path, Sink | ParquetTableSink]] = []

    def open(
        self, targets: Sequence[ExportTarget], *, columnar: Sequence[bool]
    ) -> dict[tuple[int, Split | None], Sink | ParquetTableSink]:
        """A sink per (target index, split); Parquet targets marked ``columnar`` take Arrow tables."""
        sinks: dict[tuple[int, Split | None], Sink | ParquetTableSink] = {}
        for index, target in enumerate(targets):
            spec = FORMAT_SPECS[target.fmt]
            for split in self.file_splits:
                file = self.root / export_relative_path(target.fmt, target.file_type, split)
                file.parent.mkdir(parents=True, exist_ok=True)
                sink: Sink | ParquetTableSink
                if target.file_type == "parquet":
                    schema = spec.schema(self.attributes, split_column=not self.split_files, judge=self.judge)
                    kind = ParquetTableSink if columnar[index] else ParquetSink
                    sink = kind(file, schema, row_group_size=self.row_group_size, background=self.background)
                else:
                    sink = JsonlSink(file, compress=target.file_type == "jsonl.gz", background=self.background)
                sinks[(index, split)] = sink
                self.opened.append((target, split, file, sink))
        return sinks

    def close(self) -> None:
        try:
            for _, _, _, sink in self.opened:
                sink.close()
        finally:
            self.background.close()


def _written_files(
    opened: Sequence[tuple[ExportTarget, Split | None, Path, Sink | ParquetTableSink]], root: Path
) -> list[WrittenFile]:
    """Describe the closed files: counts, row groups, sizes and SHA-256 digests."""
    digests = files_sha256(file for _, _, file, _ in opened)
    return [
        WrittenFile(
            path=file,
            relative_path=file.relative_to(root).as_posix(),
            fmt=target.fmt,
            file_type=target.file_type,
            split=split,
            rows=sink.rows,
            row_groups=sink.row_groups if isinstance(sink, ParquetSink | ParquetTableSink) else None,
            size_bytes=file.stat().st_size,
            sha256=digest,
        )
        for (target, split, file, sink), digest in zip(opened, digests, strict=True)
    ]


def _write_table(sink: Sink | ParquetTableSink, table: pa.Table) -> None:
    """Columnar rows into either sink: Parquet takes the table, JSONL its columns as Python values."""
    if isinstance(sink, ParquetTableSink):
        sink.write_table(table)
    else:
        sink.write({name: table.column(name).to_pylist() for name in table.column_names}, table.num_rows)


def _chunks(items: Iterable[SnapshotItem], size: int) -> Iterator[list[SnapshotItem]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk

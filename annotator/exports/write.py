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

from annotator.exports.formats import FORMAT_SPECS, ExportFormat, ItemBatch, format_columns
from annotator.exports.items import SnapshotItem
from annotator.exports.sinks import (
    DEFAULT_ROW_GROUP_SIZE,
    BackgroundWriter,
    JsonlSink,
    ParquetSink,
    Sink,
    files_sha256,
)
from annotator.imports.records import HELPSTEER2_ATTRIBUTES, Split

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

    Returns
    -------
    list of WrittenFile
        In ``targets`` order, then split order.
    """
    root = Path(out_dir)
    attributes = tuple(attributes)
    file_splits: tuple[Split | None, ...] = tuple(splits) if split_files else (None,)
    sinks: dict[tuple[int, Split | None], Sink] = {}
    opened: list[tuple[ExportTarget, Split | None, Path, Sink]] = []
    background = BackgroundWriter()
    try:
        for index, target in enumerate(targets):
            spec = FORMAT_SPECS[target.fmt]
            for split in file_splits:
                path = root / export_relative_path(target.fmt, target.file_type, split)
                path.parent.mkdir(parents=True, exist_ok=True)
                sink: Sink
                if target.file_type == "parquet":
                    schema = spec.schema(attributes, split_column=not split_files)
                    sink = ParquetSink(path, schema, row_group_size=row_group_size, background=background)
                else:
                    sink = JsonlSink(path, compress=target.file_type == "jsonl.gz", background=background)
                sinks[(index, split)] = sink
                opened.append((target, split, path, sink))
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
                batch = ItemBatch(group, attributes)
                for index, target in enumerate(targets):
                    built = format_columns(batch, target.fmt)
                    columns = built.columns
                    if split is None and not FORMAT_SPECS[target.fmt].native_split:
                        columns = {**columns, "split": [group[i].split for i in built.origins]}
                    sinks[(index, split)].write(columns, built.rows)
    finally:
        try:
            for _, _, _, sink in opened:
                sink.close()
        finally:
            background.close()
    digests = files_sha256(path for _, _, path, _ in opened)
    return [
        WrittenFile(
            path=path,
            relative_path=path.relative_to(root).as_posix(),
            fmt=target.fmt,
            file_type=target.file_type,
            split=split,
            rows=sink.rows,
            row_groups=sink.row_groups if isinstance(sink, ParquetSink) else None,
            size_bytes=path.stat().st_size,
            sha256=digest,
        )
        for (target, split, path, sink), digest in zip(opened, digests, strict=True)
    ]


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
    )


def _chunks(items: Iterable[SnapshotItem], size: int) -> Iterator[list[SnapshotItem]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk

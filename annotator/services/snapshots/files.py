"""A ready snapshot's files: its folder layout, and the exports and bundle written from its items on first request.

A snapshot lives under ``MEDIA_ROOT/<snapshot.folder>`` (``snapshots/<project>/<number>``): ``items.parquet`` (the
canonical items, written once by the build), ``README.md`` (the dataset card) and ``LICENSE``. Exports
(``snapshot_export_file``) are written lazily from the canonical file, Parquet straight from its Arrow columns
(:mod:`annotator.exports.columnar`), each into a temporary file renamed into place, and are then served as they are.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings

from annotator.error_codes import ErrorCode
from annotator.errors import Conflict, NotFound, ValidationFailed
from annotator.exports.bundle import write_bundle
from annotator.exports.canonical import read_items
from annotator.exports.formats import EXPORT_FORMATS
from annotator.exports.helpsteer3_tasks import TASK_FILES_FOLDER
from annotator.exports.items import SnapshotItem
from annotator.exports.write import ALL_SPLITS_STEM, SPLITS, ExportTarget, FileType, write_exports_from_canonical
from annotator.models import Snapshot, SnapshotStatus
from annotator.selectors.projects import project_attribute_names

ITEMS_FILE = "items.parquet"
CARD_FILE = "README.md"
LICENSE_FILE = "LICENSE"
EXPORTS_FOLDER = "exports"
BUNDLE_FILE = "bundle.zip"
FILE_TYPES: tuple[FileType, ...] = ("parquet", "jsonl", "jsonl.gz")


class SnapshotNotReady(Conflict):
    code = ErrorCode.SNAPSHOT_NOT_READY


def snapshot_folder(snapshot: Snapshot) -> Path:
    return Path(settings.MEDIA_ROOT) / snapshot.folder


def snapshot_items(snapshot: Snapshot) -> Iterator[SnapshotItem]:
    """Stream a ready snapshot's items from its canonical file, a batch of rows at a time."""
    return read_items(snapshot_folder(snapshot) / ITEMS_FILE)


def _require_ready(snapshot: Snapshot) -> None:
    if snapshot.status != SnapshotStatus.READY:
        raise SnapshotNotReady(
            f"Snapshot {snapshot.number} is {snapshot.status}; files exist once it is ready.",
            extra={"status": snapshot.status},
        )


def snapshot_export_file(*, snapshot: Snapshot, fmt: str, file_type: str = "parquet", split: str | None = None) -> Path:
    """The file of one export format of a ready snapshot, written from its items on first request.

    ``split`` None gives one file of every split with a ``split`` column; "train" / "validation" that split's file.
    """
    _require_ready(snapshot)
    if fmt not in EXPORT_FORMATS:
        raise ValidationFailed(
            f"Unknown export format {fmt!r}.", extra={"fields": {"format": f"one of {', '.join(EXPORT_FORMATS)}"}}
        )
    if file_type not in FILE_TYPES:
        raise ValidationFailed(
            f"Unknown file type {file_type!r}.", extra={"fields": {"file_type": f"one of {', '.join(FILE_TYPES)}"}}
        )
    if split is not None and split not in SPLITS:
        raise ValidationFailed(f"Unknown split {split!r}.", extra={"fields": {"split": "train or validation"}})
    mode = "split" if split else "all"
    root = snapshot_folder(snapshot) / EXPORTS_FOLDER / mode
    target = root / fmt / f"{split or ALL_SPLITS_STEM}.{file_type}"
    if not target.exists():
        tmp = root / f".tmp-{uuid.uuid4().hex[:8]}"
        try:
            written = write_exports_from_canonical(
                snapshot_folder(snapshot) / ITEMS_FILE,
                tmp,
                targets=[ExportTarget(fmt, file_type)],  # type: ignore[arg-type]
                split_files=split is not None,
            )
            for file in written:
                destination = root / file.relative_path
                destination.parent.mkdir(parents=True, exist_ok=True)
                os.replace(file.path, destination)  # atomic: a concurrent reader sees the old or the whole file
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def snapshot_card(*, snapshot: Snapshot) -> str:
    _require_ready(snapshot)
    return (snapshot_folder(snapshot) / CARD_FILE).read_text(encoding="utf-8")


def snapshot_plain_file(*, snapshot: Snapshot, name: str) -> Path:
    """The card, the licence or the canonical items file of a ready snapshot."""
    _require_ready(snapshot)
    if name not in (CARD_FILE, LICENSE_FILE, ITEMS_FILE):
        raise NotFound(f"A snapshot has no file {name!r}.")
    return snapshot_folder(snapshot) / name


def snapshot_bundle_file(*, snapshot: Snapshot) -> Path:
    """The zip bundle of a ready snapshot (every format, card, LICENSE, MANIFEST), written on first request."""
    _require_ready(snapshot)
    folder = snapshot_folder(snapshot)
    target = folder / EXPORTS_FOLDER / BUNDLE_FILE
    if not target.exists():
        attributes = project_attribute_names(project=snapshot.project)
        # write_bundle writes a partial file and renames it into place.
        write_bundle(
            snapshot_items(snapshot),
            target,
            card=(folder / CARD_FILE).read_text(encoding="utf-8"),
            license_text=(folder / LICENSE_FILE).read_text(encoding="utf-8"),
            attributes=attributes,
            # A task project's HelpSteer3 files, written by the build beside the items.
            extra_files=[
                (path, path.relative_to(folder).as_posix())
                for path in sorted((folder / TASK_FILES_FOLDER).rglob("*"))
                if path.is_file()
            ],
        )
    return target

"""A ready snapshot's files: its folder layout, and the exports and bundle written from its items on first request.

A snapshot lives in the file store under ``<snapshot.folder>`` (``snapshots/<project>/<number>-<token>``, see
:mod:`annotator.storage`): ``items.parquet`` (the canonical items, written once by the build), ``README.md`` (the
dataset card) and ``LICENSE``. Exports (``snapshot_export_key``) are written lazily from the canonical file, Parquet
straight from its Arrow columns (:mod:`annotator.exports.columnar`), each into a temporary local file renamed into
place and then stored, and are then served as they are (a presigned URL from an object store).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

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
from annotator.storage import (
    download_dir_to_scratch,
    download_to_scratch,
    exists,
    is_scratch_the_store,
    read_text,
    scratch_path,
    upload_file,
)

ITEMS_FILE = "items.parquet"
CARD_FILE = "README.md"
LICENSE_FILE = "LICENSE"
EXPORTS_FOLDER = "exports"
BUNDLE_FILE = "bundle.zip"
FILE_TYPES: tuple[FileType, ...] = ("parquet", "jsonl", "jsonl.gz")


class SnapshotNotReady(Conflict):
    code = ErrorCode.SNAPSHOT_NOT_READY


def snapshot_folder(snapshot: Snapshot) -> Path:
    """This process's local copy of the snapshot's folder (its scratch; with the filesystem storage, the folder)."""
    return scratch_path(snapshot.folder)


def snapshot_items(snapshot: Snapshot) -> Iterator[SnapshotItem]:
    """Stream a ready snapshot's items from its canonical file, a batch of rows at a time."""
    return read_items(download_to_scratch(f"{snapshot.folder}/{ITEMS_FILE}"))


def _require_ready(snapshot: Snapshot) -> None:
    if snapshot.status != SnapshotStatus.READY:
        raise SnapshotNotReady(
            f"Snapshot {snapshot.number} is {snapshot.status}; files exist once it is ready.",
            extra={"status": snapshot.status},
        )


def _publish(local: Path, key: str) -> None:
    """Store a finished local file under ``key``, then move it to the key's scratch path (so a scratch copy always
    means a stored one; with the filesystem storage the move is the store)."""
    if not is_scratch_the_store():
        upload_file(local, key)
    destination = scratch_path(key)
    destination.parent.mkdir(parents=True, exist_ok=True)
    os.replace(local, destination)  # atomic: a concurrent reader sees the old or the whole file


def snapshot_export_key(*, snapshot: Snapshot, fmt: str, file_type: str = "parquet", split: str | None = None) -> str:
    """The storage key of one export format of a ready snapshot, written from its items on first request.

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
    root = f"{snapshot.folder}/{EXPORTS_FOLDER}/{mode}"
    key = f"{root}/{fmt}/{split or ALL_SPLITS_STEM}.{file_type}"
    if not scratch_path(key).is_file() and not exists(key):
        items = download_to_scratch(f"{snapshot.folder}/{ITEMS_FILE}")
        tmp = scratch_path(root) / f".tmp-{uuid.uuid4().hex[:8]}"
        try:
            written = write_exports_from_canonical(
                items,
                tmp,
                targets=[ExportTarget(fmt, file_type)],  # type: ignore[arg-type]
                split_files=split is not None,
            )
            for file in written:
                _publish(file.path, f"{root}/{file.relative_path}")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return key


def snapshot_export_file(*, snapshot: Snapshot, fmt: str, file_type: str = "parquet", split: str | None = None) -> Path:
    """The local copy of one export (see :func:`snapshot_export_key`): what a trainer or a command reads."""
    return download_to_scratch(snapshot_export_key(snapshot=snapshot, fmt=fmt, file_type=file_type, split=split))


def snapshot_card(*, snapshot: Snapshot) -> str:
    _require_ready(snapshot)
    return read_text(f"{snapshot.folder}/{CARD_FILE}")


def snapshot_plain_file(*, snapshot: Snapshot, name: str) -> Path:
    """The local copy of the card, the licence or the canonical items file of a ready snapshot."""
    _require_ready(snapshot)
    if name not in (CARD_FILE, LICENSE_FILE, ITEMS_FILE):
        raise NotFound(f"A snapshot has no file {name!r}.")
    return download_to_scratch(f"{snapshot.folder}/{name}")


def snapshot_bundle_key(*, snapshot: Snapshot) -> str:
    """The storage key of the zip bundle of a ready snapshot (every format, card, LICENSE, MANIFEST), written on
    first request."""
    _require_ready(snapshot)
    key = f"{snapshot.folder}/{EXPORTS_FOLDER}/{BUNDLE_FILE}"
    if not scratch_path(key).is_file() and not exists(key):
        attributes = project_attribute_names(project=snapshot.project)
        building = scratch_path(key).with_name(f".{BUNDLE_FILE}.{uuid.uuid4().hex[:8]}.building")
        try:
            write_bundle(
                snapshot_items(snapshot),
                building,
                card=snapshot_card(snapshot=snapshot),
                license_text=read_text(f"{snapshot.folder}/{LICENSE_FILE}"),
                attributes=attributes,
                extra_files=_task_files(snapshot),
                judge=snapshot.include_judge_drafts,
            )
            _publish(building, key)
        finally:
            building.unlink(missing_ok=True)
    return key


def _task_files(snapshot: Snapshot) -> list[tuple[Path, str]]:
    """A task project's HelpSteer3 files (written by the build beside the items) as local copies with their names in
    the bundle; none for a comparison project."""
    try:
        folder = download_dir_to_scratch(f"{snapshot.folder}/{TASK_FILES_FOLDER}")
    except NotFound:
        return []
    return [
        (path, f"{TASK_FILES_FOLDER}/{path.relative_to(folder).as_posix()}")
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    ]


def snapshot_bundle_file(*, snapshot: Snapshot) -> Path:
    """The local copy of the bundle (see :func:`snapshot_bundle_key`)."""
    return download_to_scratch(snapshot_bundle_key(snapshot=snapshot))

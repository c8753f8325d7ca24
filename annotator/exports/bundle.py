"""The snapshot bundle: every export format as Parquet and gzip JSONL, the dataset card, LICENSE and a MANIFEST
of SHA-256 digests, written as one zip file streaming to disk."""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from annotator.domain import HELPSTEER2_ATTRIBUTES, Split
from annotator.exports.formats import EXPORT_FORMATS, ExportFormat
from annotator.exports.items import SnapshotItem
from annotator.exports.sinks import DEFAULT_ROW_GROUP_SIZE, file_sha256
from annotator.exports.write import SPLITS, ExportTarget, FileType, WrittenFile, write_exports

MANIFEST_NAME = "MANIFEST"
# Fixed time stamp for every zip entry so the same snapshot always gives the same bytes.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class Bundle:
    """A written bundle.

    Attributes
    ----------
    path
        The zip file.
    files
        The data files inside it.
    manifest
        The MANIFEST text (``<sha256>  <path>`` lines, ``sha256sum -c`` compatible).
    sha256, size_bytes
        Digest and size of the zip itself.
    """

    path: Path
    files: tuple[WrittenFile, ...]
    manifest: str
    sha256: str
    size_bytes: int


def render_manifest(entries: Iterable[tuple[str, str]]) -> str:
    """``sha256sum``-style lines for ``(relative path, sha256)`` pairs, sorted by path."""
    return "".join(f"{digest}  {path}\n" for path, digest in sorted(entries))


def write_bundle(
    items: Iterable[SnapshotItem],
    zip_path: str | os.PathLike[str],
    *,
    card: str,
    license_text: str,
    formats: Sequence[ExportFormat] = EXPORT_FORMATS,
    splits: Sequence[Split] = SPLITS,
    attributes: Sequence[str] = HELPSTEER2_ATTRIBUTES,
    row_group_size: int = DEFAULT_ROW_GROUP_SIZE,
    extra_files: Sequence[tuple[Path, str]] = (),
    judge: bool = False,
) -> Bundle:
    """Write every format (Parquet + gzip JSONL, one file per split), README.md, LICENSE and MANIFEST into a zip.

    Parameters
    ----------
    items
        The snapshot's items, read once.
    zip_path
        Where the zip goes; data files are staged in a temporary folder beside it, then streamed into the zip.
    card
        README.md text (see :func:`render_dataset_card`, called with the same ``formats`` and ``splits``).
    license_text
        LICENSE text (see :func:`license_notice`).
    formats, splits, attributes, row_group_size
        As for :func:`write_exports`.
    extra_files
        Files written elsewhere, as (path, name in the zip): the HelpSteer3 task files of a task project.
    judge
        Add the LLM judge's model-made columns to the formats that carry them (a snapshot cut with judge drafts).

    Returns
    -------
    Bundle
    """
    target = Path(zip_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    file_types: tuple[FileType, ...] = ("parquet", "jsonl.gz")
    targets = [ExportTarget(fmt, file_type) for fmt in formats for file_type in file_types]
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".bundle-") as staging:
        root = Path(staging)
        written = write_exports(
            items,
            root,
            targets=targets,
            split_files=True,
            splits=splits,
            attributes=attributes,
            row_group_size=row_group_size,
            judge=judge,
        )
        texts = {"README.md": card, "LICENSE": license_text}
        for name, text in texts.items():
            (root / name).write_text(text, encoding="utf-8")
        entries = [(f.relative_path, f.sha256) for f in written]
        entries += [(name, file_sha256(root / name)) for name in texts]
        entries += [(name, file_sha256(path)) for path, name in extra_files]
        manifest = render_manifest(entries)
        (root / MANIFEST_NAME).write_text(manifest, encoding="utf-8")
        # Inside the staging folder, whose name is this call's own: simultaneous first requests never share a
        # partial file, and the rename into place is atomic.
        partial = root / (target.name + ".partial")
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name in (*texts, MANIFEST_NAME):
                _add(archive, root / name, name, zipfile.ZIP_DEFLATED)
            for f in written:
                # Parquet and gzip are already compressed: store them as they are.
                _add(archive, f.path, f.relative_path, zipfile.ZIP_STORED)
            for path, name in extra_files:
                _add(archive, path, name, zipfile.ZIP_STORED)
        os.chmod(partial, 0o644)
        os.replace(partial, target)
    return Bundle(
        path=target,
        files=tuple(_relocated(f, target) for f in written),
        manifest=manifest,
        sha256=file_sha256(target),
        size_bytes=target.stat().st_size,
    )


def _add(archive: zipfile.ZipFile, source: Path, name: str, compression: int) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = compression
    info.external_attr = 0o644 << 16
    with open(source, "rb") as reader, archive.open(info, "w", force_zip64=True) as writer:
        while chunk := reader.read(1 << 20):
            writer.write(chunk)


def _relocated(written: WrittenFile, zip_path: Path) -> WrittenFile:
    """The staging copy is gone; point ``path`` at the member inside the zip (``<zip>/<relative path>``)."""
    return replace(written, path=zip_path / written.relative_path)
